// SPDX-License-Identifier: Apache-2.0
// The sliced layout of the boundary-link arrays (kernels/aa_step.hpp, BoundaryView) built from the
// lattice's CSR one, on the host. Per slice of `width` boundary cells (a warp), as many rows of `width`
// entries as the slice's busiest cell has links; entries past a cell's own links are padding that no
// kernel reads. Within each window of `window` cells (a thread block) the cells go busiest first, so a
// warp's cells have similar link counts: on the aorta lattice that cuts the padding from 45 % to 11 %
// of the entries, and the warps' loop iterations (the busiest cell's count) by 38 %, while each
// block keeps the same cells, so what its warps share in L1 stays.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace hemotwin {

struct SlicedLinks {
  std::vector<uint32_t> cell;         // per sliced boundary cell k: the CSR boundary cell it is
  std::vector<uint32_t> slice_begin;  // per slice: its first entry
  std::vector<uint8_t> count;         // per sliced boundary cell: its links
  std::vector<uint32_t> position;     // per CSR link: its entry in the sliced arrays
  size_t entries = 0;                 // length of a sliced array (one value per link), padding included

  // per_cell: one value per CSR boundary cell, in the sliced cells' order
  template <class T>
  std::vector<T> gather_cells(const std::vector<T>& per_cell) const {
    std::vector<T> out(cell.size());
    for (size_t k = 0; k < cell.size(); ++k) out[k] = per_cell[cell[k]];
    return out;
  }
  // csr: one value (or `per_link` values) per CSR link, moved to their entries; pad elsewhere
  template <class T>
  std::vector<T> scatter(const std::vector<T>& csr, T pad, size_t per_link = 1) const {
    if (csr.size() != position.size() * per_link)
      throw std::invalid_argument("sliced links: a per-link array does not match the link count");
    std::vector<T> out(entries * per_link, pad);
    for (size_t l = 0; l < position.size(); ++l)
      for (size_t d = 0; d < per_link; ++d) out[size_t(position[l]) * per_link + d] = csr[l * per_link + d];
    return out;
  }
};

// link_begin: the CSR offsets (boundary cells + 1). window: a multiple of width.
inline SlicedLinks slice_links(const std::vector<uint32_t>& link_begin, size_t width, size_t window) {
  if (width == 0 || window % width) throw std::invalid_argument("sliced links: window must hold whole slices");
  SlicedLinks s;
  const size_t nb = link_begin.empty() ? 0 : link_begin.size() - 1;
  const auto links = [&](size_t b) { return link_begin[b + 1] - link_begin[b]; };
  s.cell.resize(nb);
  std::iota(s.cell.begin(), s.cell.end(), uint32_t(0));
  for (size_t w = 0; w < nb; w += window)  // stable: equal counts keep the lattice's order
    std::stable_sort(s.cell.begin() + w, s.cell.begin() + std::min(w + window, nb),
                     [&](uint32_t a, uint32_t b) { return links(a) > links(b); });
  s.count.resize(nb);
  s.position.resize(nb ? link_begin[nb] : 0);
  for (size_t first = 0; first < nb; first += width) {
    const size_t last = std::min(first + width, nb);
    uint32_t rows = 0;
    for (size_t k = first; k < last; ++k) {
      const uint32_t m = links(s.cell[k]);
      if (m > 255) throw std::invalid_argument("sliced links: more than 255 links on one cell");
      s.count[k] = uint8_t(m);
      rows = std::max(rows, m);
    }
    if (s.entries + size_t(rows) * width >= size_t(UINT32_MAX))
      throw std::invalid_argument("sliced links: more entries than 32-bit indices reach");
    s.slice_begin.push_back(uint32_t(s.entries));
    for (size_t k = first; k < last; ++k)
      for (uint32_t j = 0; j < s.count[k]; ++j)
        s.position[link_begin[s.cell[k]] + j] = uint32_t(s.entries + size_t(j) * width + (k - first));
    s.entries += size_t(rows) * width;
  }
  return s;
}

}  // namespace hemotwin
