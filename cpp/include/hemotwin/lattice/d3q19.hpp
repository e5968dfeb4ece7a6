// SPDX-License-Identifier: Apache-2.0
// D3Q19 velocity set as constexpr data; must match python/hemotwin/lattice.py (checked by a test).
#pragma once
#include "hemotwin/portability.hpp"

namespace hemotwin {

struct D3Q19 {
  static constexpr int Q = 19;
  // Opposite directions are adjacent (1<->2, 3<->4, ...), so opp(i) is arithmetic.
  HT_HD HT_INLINE static constexpr int cx(int i) {
    constexpr int v[19] = {0, 1, -1, 0, 0, 0, 0, 1, -1, 1, -1, 1, -1, 1, -1, 0, 0, 0, 0};
    return v[i];
  }
  HT_HD HT_INLINE static constexpr int cy(int i) {
    constexpr int v[19] = {0, 0, 0, 1, -1, 0, 0, 1, -1, -1, 1, 0, 0, 0, 0, 1, -1, 1, -1};
    return v[i];
  }
  HT_HD HT_INLINE static constexpr int cz(int i) {
    constexpr int v[19] = {0, 0, 0, 0, 0, 1, -1, 0, 0, 0, 0, 1, -1, -1, 1, 1, -1, -1, 1};
    return v[i];
  }
  HT_HD HT_INLINE static constexpr double w(int i) {
    return i == 0 ? 1.0 / 3.0 : (i <= 6 ? 1.0 / 18.0 : 1.0 / 36.0);
  }
  HT_HD HT_INLINE static constexpr int opp(int i) { return i == 0 ? 0 : ((i & 1) ? i + 1 : i - 1); }
};

}  // namespace hemotwin
