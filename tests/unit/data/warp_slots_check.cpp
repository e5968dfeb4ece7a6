// SPDX-License-Identifier: Apache-2.0
// Driver for tests/unit/test_warp_slots.py. Reads "nx ny nz px py pz morton" and then nx*ny*nz cell
// types (0 solid, 1 fluid, 2 + p beyond port p) from stdin, builds the lattice as the core does
// (build_sparse_lattice), pads its neighbour table to the CUDA backend's stride (whole warps), builds
// the odd step's per-warp shortcuts (core/warp_slots.hpp) and reads every slot back through the
// kernel's own odd_slot (kernels/aa_step.hpp). Prints the counts of each kind of (row, group) pair and
// how many slots came back different from the table (must be 0).
#include <cstdio>
#include <exception>
#include <vector>

#include "hemotwin/core/sparse_lattice.hpp"
#include "hemotwin/core/warp_slots.hpp"

int main() {
  long long nx = 0, ny = 0, nz = 0;
  int px = 0, py = 0, pz = 0, morton = 0;
  if (std::scanf("%lld %lld %lld %d %d %d %d", &nx, &ny, &nz, &px, &py, &pz, &morton) != 7) return 2;
  std::vector<uint8_t> cell_type(size_t(nx * ny * nz));
  for (auto& t : cell_type) {
    unsigned v = 0;
    if (std::scanf("%u", &v) != 1) return 2;
    t = uint8_t(v);
  }
  try {
    const bool periodic[3] = {px != 0, py != 0, pz != 0};
    const hemotwin::SparseLattice L = hemotwin::build_sparse_lattice(cell_type.data(), nx, ny, nz, {}, periodic,
                                                                     morton != 0);
    const size_t n = L.n, N = (n + hemotwin::kGroupCells - 1) / hemotwin::kGroupCells * hemotwin::kGroupCells;
    std::vector<uint32_t> addr(18 * N);
    for (size_t r = 0; r < 18; ++r)
      for (size_t c = 0; c < N; ++c) addr[r * N + c] = hemotwin::padded_address(L.addr.data(), n, N, r, c);
    const hemotwin::WarpSlots w = hemotwin::warp_slots(addr, N);
    size_t mismatches = 0;
    for (int r = 0; r < 18; ++r)
      for (size_t c = 0; c < N; ++c)
        mismatches += hemotwin::odd_slot(r, c, addr.data(), N, w.group_base.data(), w.runs.data(),
                                         N / hemotwin::kGroupCells) != addr[size_t(r) * N + c];
    std::printf("cells %zu\none_run %zu\ntwo_runs %zu\ntable %zu\nmismatches %zu\n", n, w.one_run, w.two_runs,
                w.table, mismatches);
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
  }
  return 0;
}
