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

#if defined(__CUDA_ARCH__)
#define HT_RESTRICT __restrict__
#else
#define HT_RESTRICT __restrict__
#endif
