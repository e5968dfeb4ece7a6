// SPDX-License-Identifier: Apache-2.0
// Host/device portability macros: kernels/ and lattice/ compile unchanged under g++ and nvcc.
#pragma once

#if defined(__CUDACC__)
#define HT_HD __host__ __device__
#define HT_INLINE __forceinline__
#else
#define HT_HD
#define HT_INLINE inline __attribute__((always_inline))
#endif

#define HT_RESTRICT __restrict__
#define HT_LIKELY(x) __builtin_expect(!!(x), 1)

// Full unrolling turns the velocity-set lookups (cx(i), w(i), ...) into constants. In a .cu file
// only nvcc's device pass needs it: its host pass runs none of these loops (and both the front end
// and the host compiler warn about the other's pragma).
#if defined(__CUDA_ARCH__)
#define HT_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define HT_UNROLL
#elif defined(__clang__)
#define HT_UNROLL _Pragma("clang loop unroll(full)")
#else
#define HT_UNROLL _Pragma("GCC unroll 32")
#endif
