// SPDX-License-Identifier: Apache-2.0
// STREAM-style triad a = b + s c on the CPU: the memory bandwidth the LBM roofline is measured against.
#pragma once
#include <cstddef>

namespace hemotwin {

// Best-of-`repeats` triad bandwidth in GB/s (1e9 B/s), counted as STREAM does: 24 B per double
// element (two loads, one store; the write-allocate read of `a` is not counted). `n_bytes` is the
// size of the three arrays together; threads <= 0 uses every OpenMP thread.
double stream_triad_gbps(size_t n_bytes, int threads, int repeats = 10);

}  // namespace hemotwin
