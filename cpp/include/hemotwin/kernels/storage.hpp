// SPDX-License-Identifier: Apache-2.0
// Population storage formats, shared by the CPU backend and the CUDA kernels: the compute type
// itself (float, double), or a 16-bit format (IEEE binary16, bfloat16) with float32 arithmetic,
// FluidX3D-style (Lehmann et al. 2022, "Accuracy and performance of the lattice Boltzmann method
// with 64-bit, 32-bit, and customized 16-bit number formats", Phys. Rev. E 106:015308). A 16-bit
// value holds the shifted, scaled population (f_k - w_k) * SCALE: the deviation from the rest state
// keeps all 11 (8) bits of the format for the part of f that carries the flow, and SCALE lifts the
// small deviations of slow regions out of binary16's subnormal range. The arithmetic is float32 throughout; only the
// bytes moved per update halve (76 instead of 152 per D3Q19 update).
//
// Conversions come in two kinds: raw (the stored number as float: (f - w) * SCALE) and decoded
// (f itself). Linear operations whose weights sum to one, such as the Bouzidi interpolation, can
// work on raw values directly: the shift and scale cancel.
#pragma once
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "hemotwin/lattice/d3q19.hpp"
#include "hemotwin/portability.hpp"
// The host passes of a .cu file take the portable conversions (nvcc's front end and the x86
// intrinsics headers do not mix); device code uses the GPU's conversion instructions.
#if defined(__F16C__) && !defined(__CUDACC__)
#include <immintrin.h>
#define HT_HOST_F16C 1
#endif

namespace hemotwin {

HT_HD HT_INLINE uint32_t float_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
HT_HD HT_INLINE float bits_float(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

// binary16 <-> binary32, round to nearest even (the F16C instructions where the compiler has them,
// cvt on a GPU: the same IEEE rounding, so both backends store the same bits).
HT_HD HT_INLINE uint16_t float_to_half(float x) {
#if defined(__CUDA_ARCH__)
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
#elif defined(HT_HOST_F16C)
  return uint16_t(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
  const uint32_t u = float_bits(x);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u));  // inf, nan
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                                        // overflow
  if (a < 0x38800000u) {  // subnormal or zero in binary16: add 0.5 and let the FPU round
    const float r = bits_float(a) + 0.5f;
    return uint16_t(sign | uint16_t(float_bits(r) - 0x3f000000u));
  }
  const uint32_t odd = (a >> 13) & 1u;
  return uint16_t(sign | uint16_t((a + 0xc8000fffu + odd) >> 13));  // re-bias exponent, round
#endif
}

HT_HD HT_INLINE float half_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
  float x;
  asm("cvt.f32.f16 %0, %1;" : "=f"(x) : "h"((unsigned short)h));
  return x;
#elif defined(HT_HOST_F16C)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {  // zero or subnormal: m * 2^-24
    const float v = float(m) * 5.9604644775390625e-8f;
    return bits_float(float_bits(v) | sign);
  }
  if (e == 31) return bits_float(sign | 0x7f800000u | (m << 13));
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

HT_HD HT_INLINE uint16_t float_to_bf16(float x) {
  const uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet nan
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                    // round to nearest even
}
HT_HD HT_INLINE float bf16_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

struct half16 {  // IEEE 754 binary16 bits
  uint16_t bits;
  static HT_HD HT_INLINE float to_float(uint16_t b) { return half_to_float(b); }
  static HT_HD HT_INLINE uint16_t from_float(float x) { return float_to_half(x); }
};
struct bfloat16 {  // the upper 16 bits of an IEEE 754 binary32 (bit-twiddled on a GPU too: the
                   // same nan as the CPU's vector narrowing)
  uint16_t bits;
  static HT_HD HT_INLINE float to_float(uint16_t b) { return bf16_to_float(b); }
  static HT_HD HT_INLINE uint16_t from_float(float x) { return float_to_bf16(x); }
};

// Codec<S, C>: scalar conversions between a stored S and the compute type C (k: the population's
// direction, or its opposite: both have the same weight w_k).
template <class S, class C>
struct Codec {  // a plain number type: a cast
  static_assert(std::is_arithmetic<S>::value, "no codec for this storage type");
  static constexpr bool SHIFTED = false;
  static HT_HD HT_INLINE C raw(S s) { return C(s); }
  static HT_HD HT_INLINE S from_raw(C v) { return S(v); }
  static HT_HD HT_INLINE C decode(S s, int) { return C(s); }
  static HT_HD HT_INLINE S encode(C v, int) { return S(v); }
};

template <class Bits, int LOG2_SCALE>
struct Codec16 {
  static constexpr bool SHIFTED = true;
  static constexpr float SCALE = float(1u << LOG2_SCALE), INV_SCALE = 1.0f / float(1u << LOG2_SCALE);
  static HT_HD HT_INLINE float raw(Bits s) { return Bits::to_float(s.bits); }
  static HT_HD HT_INLINE Bits from_raw(float v) { return Bits{Bits::from_float(v)}; }
  // SCALE is a power of two: raw * INV_SCALE is exact, so a fused multiply-add rounds as the
  // separate operations do
  static HT_HD HT_INLINE float decode(Bits s, int k) { return raw(s) * INV_SCALE + float(D3Q19::w(k)); }
  static HT_HD HT_INLINE Bits encode(float v, int k) { return from_raw((v - float(D3Q19::w(k))) * SCALE); }
};

// binary16: |f - w| up to 2 fits under the format's maximum (65504) after the scale of 2^15, and
// deviations down to 1e-8 stay normal numbers. bfloat16 has float's range: no scale.
template <>
struct Codec<half16, float> : Codec16<half16, 15> {};
template <>
struct Codec<bfloat16, float> : Codec16<bfloat16, 0> {};

// A pointer over stored populations that reads and writes decoded values, for the general
// boundary pass (kernels/aa_step.hpp's correct_boundary_cell() indexes f[k * n + c]): the
// direction k of a slot, needed for the shift, is the slot divided by the stride.
template <class S>
struct DecodedRef {
  S* p;
  size_t slot, n;
  HT_HD HT_INLINE operator float() const { return Codec<S, float>::decode(p[slot], int(slot / n)); }
  HT_HD HT_INLINE DecodedRef& operator=(float v) {
    p[slot] = Codec<S, float>::encode(v, int(slot / n));
    return *this;
  }
};
template <class S>
struct DecodedPtr {
  S* p;
  size_t n;
  HT_HD HT_INLINE DecodedRef<S> operator[](size_t slot) const { return DecodedRef<S>{p, slot, n}; }
};

// The same over the raw stored numbers, (f - w) * SCALE, for wall links only: a BFL interpolation
// and its mass excess are the same in raw numbers (see above), and the CPU's wall table
// (core/cpu_walls.hpp) computes them so; the CUDA boundary pass reads walls this way to round as
// it does.
template <class S>
struct RawRef {
  S* p;
  HT_HD HT_INLINE operator float() const { return Codec<S, float>::raw(*p); }
  HT_HD HT_INLINE RawRef& operator=(float v) {
    *p = Codec<S, float>::from_raw(v);
    return *this;
  }
};
template <class S>
struct RawPtr {
  S* p;
  HT_HD HT_INLINE RawRef<S> operator[](size_t slot) const { return RawRef<S>{p + slot}; }
};

}  // namespace hemotwin
