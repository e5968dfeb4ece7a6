// SPDX-License-Identifier: Apache-2.0
// The sparse lattice: fluid cells only, in Morton order, with the AA-pattern address table and the
// boundary links (walls with q, inlet/outlet port links) grouped by cell.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hemotwin {

struct WallLinkInput {  // one entry of the geometry's wall-distance list
  int32_t i, j, k, dir;
  double q;
};

struct SparseLattice {
  int64_t nx = 0, ny = 0, nz = 0;       // bounding box of the dense input
  bool periodic[3] = {false, false, false};
  bool dense_box = false;               // every cell fluid and periodic: natural order, no table needed
  size_t n = 0;                         // fluid cells
  std::vector<int32_t> ijk;             // 3 per cell
  std::vector<uint32_t> addr;           // 18 * n (see kernels/aa_step.hpp)
  // boundary links (CSR by boundary cell)
  std::vector<uint32_t> bcells, link_begin;
  std::vector<uint8_t> link_dir, link_kind;
  std::vector<int16_t> link_port;
  std::vector<float> link_q;
  // ports
  int n_ports = 0;
  std::vector<uint32_t> port_link_begin, port_links;  // links of each port, fixed order (for sums)
  std::vector<uint32_t> port_cell_begin, port_cells;  // fluid cells touching each port
  std::vector<uint32_t> link_port_cell;               // per link: index into port_cells (or max)

  size_t n_links() const { return link_dir.size(); }
  // per boundary cell: 1 where it has a link to a port (inlet or outlet), 0 where it has walls only
  std::vector<uint8_t> boundary_cells_with_port_link() const;
  size_t bytes_per_cell(size_t bytes_per_population) const;
};

// Builds the lattice from a dense cell-type volume (C order, shape nx, ny, nz, k fastest):
// 0 solid, 1 fluid, 2 + p non-fluid cell beyond port p. Throws std::invalid_argument on bad input.
SparseLattice build_sparse_lattice(const uint8_t* cell_type, int64_t nx, int64_t ny, int64_t nz,
                                   const std::vector<WallLinkInput>& walls, const bool periodic[3],
                                   bool morton_order);

}  // namespace hemotwin
