// SPDX-License-Identifier: Apache-2.0
// Builds the sparse lattice (cells, AA address table, boundary links, ports) from a dense volume.
#include "hemotwin/core/sparse_lattice.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "hemotwin/kernels/boundary.hpp"
#include "hemotwin/lattice/d3q19.hpp"

namespace hemotwin {

namespace {

uint64_t spread_bits(uint64_t v) {  // 21-bit value to every third bit
  v &= 0x1fffff;
  v = (v | v << 32) & 0x1f00000000ffffULL;
  v = (v | v << 16) & 0x1f0000ff0000ffULL;
  v = (v | v << 8) & 0x100f00f00f00f00fULL;
  v = (v | v << 4) & 0x10c30c30c30c30c3ULL;
  v = (v | v << 2) & 0x1249249249249249ULL;
  return v;
}

uint64_t morton(int64_t i, int64_t j, int64_t k) {
  return spread_bits(uint64_t(i)) | (spread_bits(uint64_t(j)) << 1) | (spread_bits(uint64_t(k)) << 2);
}

}  // namespace

size_t SparseLattice::bytes_per_cell(size_t bytes_per_population) const {
  // populations + address table + coordinates, plus the boundary links spread over all cells
  const double links = n ? double(n_links()) / double(n) : 0.0;
  return size_t(19 * bytes_per_population + 18 * sizeof(uint32_t) + 3 * sizeof(int32_t) +
                links * (1 + 1 + 2 + 4 + 12 + 4 + 4) + 0.5);
}

SparseLattice build_sparse_lattice(const uint8_t* ct, int64_t nx, int64_t ny, int64_t nz,
                                   const std::vector<WallLinkInput>& walls, const bool periodic[3],
                                   bool morton_order) {
  if (nx < 1 || ny < 1 || nz < 1) throw std::invalid_argument("cell_type must have three non-zero dimensions");
  const int64_t total = nx * ny * nz;
  auto lin = [&](int64_t i, int64_t j, int64_t k) { return (i * ny + j) * nz + k; };

  SparseLattice L;
  L.nx = nx;
  L.ny = ny;
  L.nz = nz;
  for (int a = 0; a < 3; ++a) L.periodic[a] = periodic[a];

  int max_port = -1;
  size_t n = 0;
  for (int64_t x = 0; x < total; ++x) {
    const uint8_t v = ct[x];
    if (v == 1) ++n;
    else if (v >= 2) max_port = std::max(max_port, int(v) - 2);
  }
  if (n == 0) throw std::invalid_argument("cell_type has no fluid cell (value 1): nothing to simulate");
  if (n * 19 >= size_t(std::numeric_limits<uint32_t>::max()))
    throw std::invalid_argument("too many fluid cells for 32-bit addressing (" + std::to_string(n) +
                                "); use a coarser spacing or a smaller region");
  L.n = n;
  L.n_ports = max_port + 1;
  L.dense_box = (size_t(total) == n) && periodic[0] && periodic[1] && periodic[2];

  // Cell order: Morton for locality on sparse vessels; natural order for the dense periodic box.
  std::vector<int64_t> fluid;
  fluid.reserve(n);
  for (int64_t x = 0; x < total; ++x)
    if (ct[x] == 1) fluid.push_back(x);
  if (morton_order && !L.dense_box) {
    std::vector<uint64_t> code(n);
    for (size_t c = 0; c < n; ++c) {
      const int64_t x = fluid[c];
      code[c] = morton(x / (ny * nz), (x / nz) % ny, x % nz);
    }
    std::vector<size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return code[a] < code[b]; });
    std::vector<int64_t> sorted(n);
    for (size_t c = 0; c < n; ++c) sorted[c] = fluid[perm[c]];
    fluid.swap(sorted);
  }
  std::vector<int32_t> id(size_t(total), -1);
  L.ijk.resize(3 * n);
  for (size_t c = 0; c < n; ++c) {
    const int64_t x = fluid[c];
    id[size_t(x)] = int32_t(c);
    L.ijk[3 * c] = int32_t(x / (ny * nz));
    L.ijk[3 * c + 1] = int32_t((x / nz) % ny);
    L.ijk[3 * c + 2] = int32_t(x % nz);
  }

  // Wall distances supplied by the geometry, keyed by (cell, direction).
  std::map<std::pair<uint32_t, int>, float> qmap;
  for (size_t w = 0; w < walls.size(); ++w) {
    const auto& e = walls[w];
    std::ostringstream where;
    where << "wall link " << w << " (i=" << e.i << ", j=" << e.j << ", k=" << e.k << ", dir=" << e.dir << ")";
    if (e.dir < 1 || e.dir > 18) throw std::invalid_argument(where.str() + ": direction must be 1..18");
    if (e.i < 0 || e.j < 0 || e.k < 0 || e.i >= nx || e.j >= ny || e.k >= nz)
      throw std::invalid_argument(where.str() + ": cell outside the volume");
    if (!(e.q > 0.0 && e.q <= 1.0))
      throw std::invalid_argument(where.str() + ": q = " + std::to_string(e.q) + " is outside (0, 1]");
    const int32_t c = id[size_t(lin(e.i, e.j, e.k))];
    if (c < 0) throw std::invalid_argument(where.str() + ": the cell is not fluid");
    qmap[{uint32_t(c), e.dir}] = float(e.q);
  }

  // Neighbours, address table and boundary links.
  L.addr.resize(18 * n);
  std::vector<std::vector<uint32_t>> port_links(size_t(std::max(0, L.n_ports)));
  std::vector<std::vector<uint32_t>> port_cells(size_t(std::max(0, L.n_ports)));
  std::vector<int> cell_seen_port(size_t(std::max(0, L.n_ports)), -1);
  L.link_begin.push_back(0);
  for (size_t c = 0; c < n; ++c) {
    const int64_t ci = L.ijk[3 * c], cj = L.ijk[3 * c + 1], ck = L.ijk[3 * c + 2];
    bool boundary = false;
    for (int i = 1; i < 19; ++i) {
      int64_t a = ci + D3Q19::cx(i), b = cj + D3Q19::cy(i), d = ck + D3Q19::cz(i);
      if (periodic[0]) a = (a + nx) % nx;
      if (periodic[1]) b = (b + ny) % ny;
      if (periodic[2]) d = (d + nz) % nz;
      int value = 0;  // outside the volume counts as solid
      int32_t nb = -1;
      if (a >= 0 && b >= 0 && d >= 0 && a < nx && b < ny && d < nz) {
        const int64_t x = lin(a, b, d);
        value = ct[x];
        nb = id[size_t(x)];
      }
      if (nb >= 0) {
        L.addr[size_t(i - 1) * n + c] = uint32_t(size_t(i) * n + size_t(nb));
        continue;
      }
      L.addr[size_t(i - 1) * n + c] = uint32_t(size_t(D3Q19::opp(i)) * n + c);
      boundary = true;
      const uint32_t l = uint32_t(L.link_dir.size());
      L.link_dir.push_back(uint8_t(i));
      if (value >= 2) {
        const int p = value - 2;
        L.link_kind.push_back(LINK_PRESSURE);  // until the caller says otherwise
        L.link_port.push_back(int16_t(p));
        L.link_q.push_back(0.5f);
        port_links[size_t(p)].push_back(l);
        if (cell_seen_port[size_t(p)] != int(c)) {
          cell_seen_port[size_t(p)] = int(c);
          port_cells[size_t(p)].push_back(uint32_t(c));
        }
        L.link_port_cell.push_back(uint32_t(port_cells[size_t(p)].size() - 1));
      } else {
        auto it = qmap.find({uint32_t(c), i});
        L.link_kind.push_back(LINK_WALL);
        L.link_port.push_back(-1);
        L.link_q.push_back(it == qmap.end() ? 0.5f : it->second);
        L.link_port_cell.push_back(std::numeric_limits<uint32_t>::max());
      }
    }
    if (boundary) {
      L.bcells.push_back(uint32_t(c));
      L.link_begin.push_back(uint32_t(L.link_dir.size()));
    }
  }
  // A q given for a link whose neighbour is fluid contradicts the cell types.
  for (const auto& kv : qmap) {
    const uint32_t c = kv.first.first;
    const int i = kv.first.second;
    if (L.addr[size_t(i - 1) * n + c] / n == uint32_t(i)) {
      std::ostringstream msg;
      msg << "wall link at cell (" << L.ijk[3 * c] << ", " << L.ijk[3 * c + 1] << ", " << L.ijk[3 * c + 2]
          << ") direction " << i << " has q but its neighbour is fluid";
      throw std::invalid_argument(msg.str());
    }
  }
  L.port_link_begin.push_back(0);
  L.port_cell_begin.push_back(0);
  for (int p = 0; p < L.n_ports; ++p) {
    if (port_links[size_t(p)].empty()) {
      bool present = false;
      for (int64_t x = 0; x < total && !present; ++x) present = (ct[x] == p + 2);
      if (present)
        throw std::invalid_argument("port " + std::to_string(p) + " (cell value " + std::to_string(p + 2) +
                                    ") touches no fluid cell: it cannot carry an inlet or outlet");
    }
    L.port_links.insert(L.port_links.end(), port_links[size_t(p)].begin(), port_links[size_t(p)].end());
    L.port_cells.insert(L.port_cells.end(), port_cells[size_t(p)].begin(), port_cells[size_t(p)].end());
    L.port_link_begin.push_back(uint32_t(L.port_links.size()));
    L.port_cell_begin.push_back(uint32_t(L.port_cells.size()));
  }
  return L;
}

std::vector<uint8_t> SparseLattice::boundary_cells_with_port_link() const {
  std::vector<uint8_t> has_port(bcells.size(), 0);
  for (size_t b = 0; b < bcells.size(); ++b)
    for (uint32_t l = link_begin[b]; l < link_begin[b + 1]; ++l)
      if (link_port[l] >= 0) has_port[b] = 1;
  return has_port;
}

}  // namespace hemotwin
