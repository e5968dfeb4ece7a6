// SPDX-License-Identifier: Apache-2.0
// The odd step's per-warp shortcuts through the neighbour table (kernels/aa_step.hpp odd_slot:
// group_base and GroupRuns), built on the host from the padded table addr (18 rows of stride N, a
// multiple of kGroupCells). Each group of kGroupCells cells gets, per row, what reproduces its 32
// slots exactly: one base, two runs plus bounce-backs, or nothing (the kernel then reads addr).
// The CPU's vector sweep has its own per-block run list (core/cpu_aa_block.hpp OddRunTable): lane
// masks for blocks of one SIMD vector of cells, where a GPU warp wants one descriptor read by all 32 lanes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hemotwin/kernels/aa_step.hpp"

namespace hemotwin {

struct WarpSlots {
  std::vector<uint32_t> group_base;  // per row and group: a base, kGroupRuns or kNoGroupBase
  std::vector<GroupRuns> runs;       // per row and group, read where group_base says kGroupRuns
  size_t one_run = 0, two_runs = 0, table = 0;  // (row, group) pairs of each kind
};

// The group's slots in row r as two runs and bounce-backs, if they are (see GroupRuns).
inline bool as_runs(const uint32_t* slots, size_t r, size_t c0, size_t N, GroupRuns& out) {
  const uint32_t bounce = uint32_t(D3Q19::opp(int(r) + 1)) * uint32_t(N);  // slot - c of a bounce-back
  out = GroupRuns{0, 0, uint32_t(kGroupCells), 0};
  bool have_first = false, have_second = false;
  for (uint32_t l = 0; l < kGroupCells; ++l) {
    const uint32_t d = slots[l] - uint32_t(c0 + l);  // slot - c, >= 0: every slot lies in row >= 1, c < N
    if (d == bounce) {
      out.bounced |= 1u << l;
    } else if (!have_first) {
      out.first = d, have_first = true;
    } else if (d != (have_second ? out.second : out.first)) {
      if (have_second) return false;  // a third run, or the first run again after the second
      out.second = d, out.split = l, have_second = true;
    }
  }
  if (!have_second) out.second = out.first;
  return true;
}

inline WarpSlots warp_slots(const std::vector<uint32_t>& addr, size_t N) {
  if (N % kGroupCells || addr.size() != 18 * N)
    throw std::invalid_argument("warp_slots: the neighbour table must be 18 rows of a stride that is a multiple of " +
                                std::to_string(kGroupCells));
  const size_t groups = N / kGroupCells;
  WarpSlots w;
  w.group_base.assign(18 * groups, kNoGroupBase);
  w.runs.assign(18 * groups, GroupRuns{0, 0, 0, 0});
  for (size_t r = 0; r < 18; ++r)
    for (size_t g = 0; g < groups; ++g) {
      const size_t c0 = g * kGroupCells, at = r * groups + g;
      const uint32_t* slots = addr.data() + r * N + c0;
      const uint32_t base = slots[0] - uint32_t(c0);
      bool same = true;
      for (size_t l = 1; l < kGroupCells && same; ++l) same = slots[l] - uint32_t(c0 + l) == base;
      if (same && base < kGroupRuns) {
        w.group_base[at] = base;
        ++w.one_run;
      } else if (as_runs(slots, r, c0, N, w.runs[at])) {
        w.group_base[at] = kGroupRuns;
        ++w.two_runs;
      } else {
        ++w.table;
      }
    }
  return w;
}

}  // namespace hemotwin
