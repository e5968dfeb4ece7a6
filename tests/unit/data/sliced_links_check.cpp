// SPDX-License-Identifier: Apache-2.0
// Driver for tests/unit/test_sliced_links.py: reads "width window" and then one link count per
// boundary cell from stdin, builds the CSR offsets, slices them (core/sliced_links.hpp) and prints
// the result, plus each sliced cell's links read back as the CUDA boundary kernel reads them
// (kernels/aa_step.hpp links_of) from an array scattered with the CSR link numbers.
#include <cstdio>
#include <exception>
#include <vector>

#include "hemotwin/core/sliced_links.hpp"
#include "hemotwin/kernels/aa_step.hpp"

int main() {
  size_t width = 0, window = 0;
  if (std::scanf("%zu %zu", &width, &window) != 2) return 2;
  std::vector<uint32_t> begin{0};
  unsigned m = 0;
  while (std::scanf("%u", &m) == 1) begin.push_back(begin.back() + m);
  try {
    const hemotwin::SlicedLinks s = hemotwin::slice_links(begin, width, window);
    std::vector<uint32_t> csr_ids(begin.back());
    for (uint32_t l = 0; l < csr_ids.size(); ++l) csr_ids[l] = l;
    const std::vector<uint32_t> sliced_ids = s.scatter(csr_ids, uint32_t(0xFFFFFFFFu));
    std::printf("entries %zu\ncell", s.entries);
    for (uint32_t c : s.cell) std::printf(" %u", c);
    std::printf("\nslice_begin");
    for (uint32_t b : s.slice_begin) std::printf(" %u", b);
    std::printf("\nposition");
    for (uint32_t p : s.position) std::printf(" %u", p);
    std::printf("\n");
    hemotwin::BoundaryView<float> bv{};
    bv.link_begin = s.slice_begin.data();
    bv.link_count = s.count.data();
    if (hemotwin::kGroupCells != width) return 0;  // links_of slices by kGroupCells cells
    for (size_t k = 0; k < s.cell.size(); ++k) {
      const hemotwin::LinkRange r = hemotwin::links_of(bv, k);
      std::printf("links %zu", k);
      for (uint32_t j = 0; j < r.count; ++j) std::printf(" %u", sliced_ids[r[j]]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
  }
  return 0;
}
