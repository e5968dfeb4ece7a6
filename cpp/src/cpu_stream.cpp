// SPDX-License-Identifier: Apache-2.0
// STREAM triad (McCalpin): three double arrays, first touched by the threads that use them.
#include "hemotwin/core/cpu_stream.hpp"

#include <chrono>
#include <cstdlib>
#include <new>
#include <stdexcept>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace hemotwin {

double stream_triad_gbps(size_t n_bytes, int threads, int repeats) {
#ifdef _OPENMP
  const int nt = threads > 0 ? threads : omp_get_max_threads();
#else
  const int nt = 1;
  (void)threads;
#endif
  const size_t n = n_bytes / (3 * sizeof(double));
  if (n < 1024) throw std::invalid_argument("stream triad needs at least 24 KiB of arrays");
  if (repeats < 1) repeats = 1;
  // Each array starts a few cache lines after a page boundary, a different number for each, so the
  // three streams never share cache sets (the same habit as the population arrays).
  const size_t stride = ((n * sizeof(double) + 4095) / 4096) * 4096 + 64 * 3;
  void* raw = nullptr;
  if (posix_memalign(&raw, 4096, 3 * stride + 4096) != 0) throw std::bad_alloc();
  char* base = static_cast<char*>(raw);
  double* a = reinterpret_cast<double*>(base);
  double* b = reinterpret_cast<double*>(base + stride);
  double* c = reinterpret_cast<double*>(base + 2 * stride);
  const long long nn = (long long)n;
#pragma omp parallel for schedule(static) num_threads(nt)
  for (long long i = 0; i < nn; ++i) {
    a[i] = 1.0;
    b[i] = 2.0;
    c[i] = 0.5;
  }
  const double s = 3.0;
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long i = 0; i < nn; ++i) a[i] = b[i] + s * c[i];
    const auto t1 = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    if (dt < best) best = dt;
  }
  volatile double sink = a[n / 2];  // keep the stores observable
  (void)sink;
  std::free(raw);
  return 3.0 * sizeof(double) * double(n) / best * 1e-9;
}

}  // namespace hemotwin

// C entry point for callers that reach the library without its Python binding (ctypes); returns a
// negative value instead of throwing.
extern "C" __attribute__((visibility("default"))) double hemotwin_stream_triad_gbps(size_t n_bytes, int threads,
                                                                                   int repeats) {
  try {
    return hemotwin::stream_triad_gbps(n_bytes, threads, repeats);
  } catch (...) {
    return -1.0;
  }
}
