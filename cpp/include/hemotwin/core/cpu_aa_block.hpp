// SPDX-License-Identifier: Apache-2.0
// CPU fast path of the AA-pattern sweep: cells in blocks of one SIMD register (16 float / 8 double
// lanes), populations loaded as whole vectors, the TRT/BGK formulas of kernels/collision.hpp applied
// lane-wise; regularized, LES and Carreau-Yasuda blocks run kernels/collision.hpp's collide() on
// Pack<T> (W lanes as one value). Storage may be narrower than the registers (kernels/storage.hpp).
//
// Layout as kernels/aa_step.hpp but with a padded stride N >= n for both the populations
// (f[q * N + c]) and the address table (addr[(i - 1) * N + c] = i * N + neighbour(c, i)), so the 19
// arrays start on staggered cache lines. Blocks start at multiples of W whatever the thread count,
// so every cell always takes the same code path: results are bit-identical for any thread count.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

#include "hemotwin/kernels/storage.hpp"
#include "hemotwin/kernels/collision.hpp"
#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace hemotwin {
namespace cpu {

template <class T>
struct Simd;

template <>
struct Simd<float> {
  static constexpr int W = 16;
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));  // indices, and masks of V comparisons
};

template <>
struct Simd<double> {
  static constexpr int W = 8;
  typedef double V __attribute__((vector_size(64)));
  typedef int64_t M __attribute__((vector_size(64)));  // masks of V comparisons
  typedef int32_t I __attribute__((vector_size(32)));  // indices
};

// Lane-wise memory access. AVX-512 gathers take signed 32-bit indices: the caller guarantees
// 19 * N < 2^31 before taking the BIG = false instantiation.
template <class T, bool BIG>
struct MemSame {
  typedef typename Simd<T>::V V;
  typedef typename Simd<T>::I I;
  static constexpr int W = Simd<T>::W;

  static HT_INLINE V load(const T* p) {
    V v;
    memcpy(&v, p, sizeof(V));
    return v;
  }
  static HT_INLINE void store(T* p, V v) { memcpy(p, &v, sizeof(V)); }
  static HT_INLINE I load_idx(const uint32_t* p) {
    I v;
    memcpy(&v, p, sizeof(I));
    return v;
  }
  static HT_INLINE V gather(const T* base, I idx) {
#ifdef __AVX512F__
    if (!BIG) {
      if constexpr (W == 16) return (V)_mm512_i32gather_ps((__m512i)idx, base, 4);
      else return (V)_mm512_i32gather_pd((__m256i)idx, base, 8);
    }
#endif
    V v;
    for (int j = 0; j < W; ++j) v[j] = base[uint32_t(idx[j])];
    return v;
  }
  static HT_INLINE void scatter(T* base, I idx, V v) {
#ifdef __AVX512F__
    if (!BIG) {
      if constexpr (W == 16) _mm512_i32scatter_ps(base, (__m512i)idx, (__m512)v, 4);
      else _mm512_i32scatter_pd(base, (__m256i)idx, (__m512d)v, 8);
      return;
    }
#endif
    for (int j = 0; j < W; ++j) base[uint32_t(idx[j])] = v[j];
  }
  static constexpr uint32_t FULL = (1u << W) - 1;

  // Lanes j with idx[j] == idx[j0] + (j - j0), as a bit mask.
  static HT_INLINE uint32_t run_mask(I idx, int j0) {
    I iota;
    for (int j = 0; j < W; ++j) iota[j] = j - j0;
    const I d = idx - iota - idx[j0];
#ifdef __AVX512F__
    if constexpr (W == 16) return _mm512_testn_epi32_mask((__m512i)d, (__m512i)d);
    else return _mm256_testn_epi32_mask((__m256i)d, (__m256i)d);
#else
    uint32_t m = 0;
    for (int j = 0; j < W; ++j) m |= uint32_t(d[j] == 0) << j;
    return m;
#endif
  }

  // Vector load from base + j for the lanes in mask, keeping src elsewhere (masked lanes never fault).
  static HT_INLINE V load_lanes(V src, uint32_t mask, const T* base) {
#ifdef __AVX512F__
    if constexpr (W == 16) return (V)_mm512_mask_loadu_ps((__m512)src, __mmask16(mask), base);
    else return (V)_mm512_mask_loadu_pd((__m512d)src, __mmask8(mask), base);
#else
    for (int j = 0; j < W; ++j)
      if (mask >> j & 1) src[j] = base[j];
    return src;
#endif
  }
  static HT_INLINE void store_lanes(T* base, uint32_t mask, V v) {
#ifdef __AVX512F__
    if constexpr (W == 16) _mm512_mask_storeu_ps(base, __mmask16(mask), (__m512)v);
    else _mm512_mask_storeu_pd(base, __mmask8(mask), (__m512d)v);
#else
    for (int j = 0; j < W; ++j)
      if (mask >> j & 1) base[j] = v[j];
#endif
  }

  // Lanes p[dz], ..., p[dz + W - 1] of a periodic dense row for a vector-aligned p and dz = +-1,
  // from p's vector and the aligned vector adj next to it on the dz side (p + W or p - W, or the
  // other end of the row across its periodic wrap; adj == p for a row of one vector). An
  // unaligned vector splits two cache lines: those split accesses were ~1/4 of the dense odd step.
  static HT_INLINE V load_shifted(const T* p, const T* adj, int dz) {
#ifdef __AVX512F__
    if (dz > 0) return (V)alignr((__m512i)load(adj), (__m512i)load(p), 1);
    return (V)alignr((__m512i)load(p), (__m512i)load(adj), W - 1);
#else
    V v;
    for (int j = 0; j < W; ++j) {
      const int k = j + dz;
      v[j] = k < 0 ? adj[W - 1] : (k >= W ? adj[0] : p[k]);
    }
    return v;
#endif
  }
  // The matching store: the vector rotated by one lane, written as two masked aligned stores.
  static HT_INLINE void store_shifted(T* p, T* adj, int dz, V v) {
#ifdef __AVX512F__
    const __m512i x = (__m512i)v;
    if (dz > 0) {
      const V rot = (V)alignr(x, x, W - 1);  // rot[j] = v[j - 1], rot[0] = v[W - 1]
      store_lanes(p, FULL & ~1u, rot);
      store_lanes(adj, 1u, rot);
    } else {
      const V rot = (V)alignr(x, x, 1);  // rot[j] = v[j + 1], rot[W - 1] = v[0]
      store_lanes(p, FULL >> 1, rot);
      store_lanes(adj, 1u << (W - 1), rot);
    }
#else
    for (int j = 0; j < W; ++j) {
      const int k = j + dz;
      (k < 0 ? adj[W - 1] : (k >= W ? adj[0] : p[k])) = v[j];
    }
#endif
  }

 private:
#ifdef __AVX512F__
  // (hi:lo) shifted right by `lanes` elements of T.
  static HT_INLINE __m512i alignr(__m512i hi, __m512i lo, int lanes) {
    if constexpr (W == 16) {
      return lanes == 1 ? _mm512_alignr_epi32(hi, lo, 1) : _mm512_alignr_epi32(hi, lo, 15);
    } else {
      return lanes == 1 ? _mm512_alignr_epi64(hi, lo, 1) : _mm512_alignr_epi64(hi, lo, 7);
    }
  }
#endif
};

// The same operations on 16-bit storage (kernels/storage.hpp) with float registers: values come in and
// go out raw, (f - w) * SCALE, and the sweep applies the shift. Gathers and scatters (rare: lanes
// in more than OddRunTable::MAX_RUNS runs) go lane by lane.
template <class S, bool BIG>
struct Mem16 {
  typedef Codec<S, float> K;
  typedef Simd<float>::V V;
  typedef Simd<float>::I I;
  static constexpr int W = 16;
  static constexpr bool HALF = std::is_same<S, half16>::value;
  static constexpr uint32_t FULL = 0xffffu;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  static HT_INLINE V widen(__m256i h) {
    if constexpr (HALF) return (V)_mm512_cvtph_ps(h);
    else return (V)_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
  }
  static HT_INLINE __m256i narrow(V v) {
    if constexpr (HALF) {
      return _mm512_cvtps_ph((__m512)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {  // round to nearest even, as float_to_bf16 (nan stays nan, inf stays inf)
      const __m512i u = (__m512i)v;
      const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
      const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
      return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
    }
  }
  static HT_INLINE V load(const S* p) { return widen(_mm256_loadu_si256((const __m256i*)p)); }
  static HT_INLINE void store(S* p, V v) { _mm256_storeu_si256((__m256i*)p, narrow(v)); }
  static HT_INLINE V load_lanes(V src, uint32_t mask, const S* base) {
    return (V)_mm512_mask_mov_ps((__m512)src, __mmask16(mask),
                                 (__m512)widen(_mm256_maskz_loadu_epi16(__mmask16(mask), base)));
  }
  static HT_INLINE void store_lanes(S* base, uint32_t mask, V v) {
    _mm256_mask_storeu_epi16(base, __mmask16(mask), narrow(v));
  }
#else
  static HT_INLINE V load(const S* p) {
    V v;
    for (int j = 0; j < W; ++j) v[j] = K::raw(p[j]);
    return v;
  }
  static HT_INLINE void store(S* p, V v) {
    for (int j = 0; j < W; ++j) p[j] = K::from_raw(v[j]);
  }
  static HT_INLINE V load_lanes(V src, uint32_t mask, const S* base) {
    for (int j = 0; j < W; ++j)
      if (mask >> j & 1) src[j] = K::raw(base[j]);
    return src;
  }
  static HT_INLINE void store_lanes(S* base, uint32_t mask, V v) {
    for (int j = 0; j < W; ++j)
      if (mask >> j & 1) base[j] = K::from_raw(v[j]);
  }
#endif
  static HT_INLINE I load_idx(const uint32_t* p) { return MemSame<float, BIG>::load_idx(p); }
  static HT_INLINE uint32_t run_mask(I idx, int j0) { return MemSame<float, BIG>::run_mask(idx, j0); }
  static HT_INLINE V gather(const S* base, I idx) {
    V v;
    for (int j = 0; j < W; ++j) v[j] = K::raw(base[uint32_t(idx[j])]);
    return v;
  }
  static HT_INLINE void scatter(S* base, I idx, V v) {
    for (int j = 0; j < W; ++j) base[uint32_t(idx[j])] = K::from_raw(v[j]);
  }
};

// Memory access for storage S and compute type C.
template <class S, class C, bool BIG>
using Mem = typename std::conditional<std::is_same<S, C>::value, MemSame<C, BIG>, Mem16<S, BIG>>::type;

// Where the W lanes of one direction live in the odd step: one run of consecutive addresses
// (a plain vector access), two runs (two masked accesses: a block across the end of a row, or the
// periodic wrap of a dense row), or anything else (gather/scatter through idx).
template <class S, class T, bool BIG>
struct Lanes {
  typedef Mem<S, T, BIG> M;
  typedef typename Simd<T>::V V;
  typedef typename Simd<T>::I I;
  int runs = 0;  // 1, 2, or 0 for gather/scatter
  long long b1 = 0, b2 = 0;  // first element of each run, shifted so lane j sits at b + j
  uint32_t m2 = 0;           // lanes of the second run (the first run has the others)
  I idx;

  HT_INLINE void from_index(I a) {
    idx = a;
    const uint32_t m1 = M::run_mask(a, 0);
    if (m1 == M::FULL) {
      runs = 1;
      b1 = (long long)uint32_t(a[0]);
      return;
    }
    const int j2 = __builtin_ctz(~m1 & M::FULL);
    const uint32_t r2 = M::run_mask(a, j2);
    if ((m1 | r2) == M::FULL) {
      runs = 2;
      b1 = (long long)uint32_t(a[0]);
      b2 = (long long)uint32_t(a[j2]) - j2;
      m2 = r2 & ~m1;
      return;
    }
    runs = 0;
  }
  HT_INLINE V load(const S* f) const {
    if (runs == 1) return M::load(f + b1);
    if (runs == 2) {
      const V v = M::load_lanes(V{}, M::FULL & ~m2, f + b1);
      return M::load_lanes(v, m2, f + b2);
    }
    return M::gather(f, idx);
  }
  HT_INLINE void store(S* f, V v) const {
    if (runs == 1) {
      M::store(f + b1, v);
    } else if (runs == 2) {
      M::store_lanes(f + b1, M::FULL & ~m2, v);
      M::store_lanes(f + b2, m2, v);
    } else {
      M::scatter(f, idx, v);
    }
  }
};

// The odd step's slots of one block in one direction, as runs of lanes whose slots are consecutive:
// lane j of the run lies at base + j (a neighbour row, or the cell's own opposite slot where the
// neighbour is solid: half-way bounce-back). A block's runs are listed by direction; the lanes of
// one direction that form more than MAX_RUNS runs go through one gather (base: offset into the
// gather index list). Per cell this is ~12 B instead of the address table's 72 B, and the sweep
// no longer works out where the runs are (issue 5: the sparse odd step ran at 1/4 of the dense one).
struct OddRun {
  uint32_t base;
  uint16_t lanes;  // bit j: lane j belongs to this run
  uint8_t dir;     // 1..18; 0 marks the end of the list
  uint8_t gather;  // 1: lanes are gathered through gather_idx[base .. base + W)
};

// Odd-step runs of every full block of W cells, built from the padded address table
// (addr[(i - 1) * N + c]). Blocks are filled in parallel with the sweeps' static schedule so each
// thread first touches the runs it will read.
struct OddRunTable {
  static constexpr int MAX_RUNS = 4;
  std::vector<uint32_t> begin;      // n_full_blocks + 1 offsets into runs
  OddRun* runs = nullptr;           // + one end marker
  std::vector<uint32_t> gather_idx;
  size_t n_runs = 0;

  OddRunTable() = default;
  OddRunTable(const OddRunTable&) = delete;
  OddRunTable& operator=(const OddRunTable&) = delete;
  ~OddRunTable() { std::free(runs); }

  template <int W>
  void build(const uint32_t* addr, size_t N, size_t n_full_blocks, int threads) {
    // Runs of block b, direction i: lanes grouped by addr - j (equal for consecutive slots).
    auto runs_of = [&](size_t b, int i, uint32_t key[W], uint16_t lanes[W]) {
      int nr = 0;
      for (int j = 0; j < W; ++j) {
        const uint32_t k = addr[size_t(i - 1) * N + b * W + size_t(j)] - uint32_t(j);
        int r = 0;
        while (r < nr && key[r] != k) ++r;
        if (r == nr) {
          key[nr] = k;
          lanes[nr++] = 0;
        }
        lanes[r] = uint16_t(lanes[r] | (1u << j));
      }
      return nr;
    };
    const long long nb = (long long)n_full_blocks;
    std::vector<uint32_t> count(n_full_blocks + 1, 0), gathers(n_full_blocks + 1, 0);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long long b = 0; b < nb; ++b) {
      uint32_t key[W];
      uint16_t lanes[W];
      for (int i = 1; i < 19; ++i) {
        const int nr = runs_of(size_t(b), i, key, lanes);
        count[size_t(b)] += nr <= MAX_RUNS ? uint32_t(nr) : 1u;
        gathers[size_t(b)] += nr <= MAX_RUNS ? 0u : 1u;
      }
    }
    begin.assign(n_full_blocks + 1, 0);
    std::vector<uint32_t> gbegin(n_full_blocks + 1, 0);
    for (size_t b = 0; b < n_full_blocks; ++b) {
      begin[b + 1] = begin[b] + count[b];
      gbegin[b + 1] = gbegin[b] + gathers[b] * uint32_t(W);
    }
    n_runs = begin[n_full_blocks];
    std::free(runs);
    runs = static_cast<OddRun*>(std::malloc((n_runs + 1) * sizeof(OddRun)));
    if (!runs) throw std::bad_alloc();
    gather_idx.assign(gbegin[n_full_blocks], 0);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long long b = 0; b < nb; ++b) {
      uint32_t key[W];
      uint16_t lanes[W];
      OddRun* out = runs + begin[size_t(b)];
      uint32_t g = gbegin[size_t(b)];
      for (int i = 1; i < 19; ++i) {
        const int nr = runs_of(size_t(b), i, key, lanes);
        if (nr <= MAX_RUNS) {
          for (int r = 0; r < nr; ++r) *out++ = OddRun{key[r], lanes[r], uint8_t(i), 0};
        } else {
          for (int j = 0; j < W; ++j) gather_idx[g + uint32_t(j)] = addr[size_t(i - 1) * N + size_t(b) * W + size_t(j)];
          *out++ = OddRun{g, uint16_t((1u << W) - 1), uint8_t(i), 1};
          g += uint32_t(W);
        }
      }
    }
    runs[n_runs] = OddRun{0, 0, 0, 0};
  }

  // Asks for the lines of block b's odd-step slots (both lines of a run that straddles two).
  // The odd step walks 19 x 3 neighbour planes at once, more streams than the hardware prefetcher
  // follows: prefetching a few blocks ahead took the aorta's odd step from ~140 to ~180 MLUPS
  // (2 threads, fp32; issue 5). Gathered directions are left to the hardware.
  template <int W, class S>
  HT_INLINE void prefetch(const S* f, size_t b) const {
    if (b + 1 >= begin.size()) return;
    for (const OddRun* q = runs + begin[b]; q < runs + begin[b + 1]; ++q)
      if (!q->gather) {
        __builtin_prefetch(f + q->base, 1, 3);
        __builtin_prefetch(f + q->base + (W - 1), 1, 3);
      }
  }
};

// Loads (STORE = false) or stores direction i of a block through its runs, advancing r past them.
template <class S, class T, bool BIG, bool STORE>
HT_INLINE void odd_runs(S* f, const OddRun*& r, const uint32_t* gather_idx, int i, typename Simd<T>::V& v) {
  typedef Mem<S, T, BIG> M;
  if (HT_LIKELY(r->lanes == M::FULL && !r->gather)) {  // one neighbour row: a plain vector
    if (STORE) M::store(f + r->base, v);
    else v = M::load(f + r->base);
    ++r;
    return;
  }
  if (r->gather) {
    const typename Simd<T>::I idx = M::load_idx(gather_idx + r->base);
    if (STORE) M::scatter(f, idx, v);
    else v = M::gather(f, idx);
    ++r;
    return;
  }
  if (!STORE) v = typename Simd<T>::V{};
  do {
    if (STORE) M::store_lanes(f + r->base, r->lanes, v);
    else v = M::load_lanes(v, r->lanes, f + r->base);
    ++r;
  } while (r->dir == i);
}

// W lanes behaving as one scalar, so kernels/collision.hpp's collide<Pack<T>, LES, CY>() runs the
// regularized, LES and Carreau-Yasuda collisions on a whole block with the scalar code's formulas
// and order of operations (lane results equal the per-cell collide<T>() bit for bit).
template <class T>
struct PackMask {
  typedef decltype(typename Simd<T>::V{} > typename Simd<T>::V{}) B;
  B m;
  HT_INLINE PackMask operator&&(PackMask o) const { return {m & o.m}; }
};

template <class T>
struct Pack {
  typedef typename Simd<T>::V V;
  V v;
  Pack() = default;
  HT_INLINE Pack(V x) : v(x) {}
  template <class S, class = typename std::enable_if<std::is_arithmetic<S>::value>::type>
  HT_INLINE explicit Pack(S s) : v(V{} + T(s)) {}
  HT_INLINE Pack operator-() const { return Pack(-v); }
  HT_INLINE Pack& operator+=(Pack o) { v += o.v; return *this; }
  HT_INLINE Pack& operator-=(Pack o) { v -= o.v; return *this; }
  HT_INLINE Pack& operator*=(Pack o) { v *= o.v; return *this; }
  friend HT_INLINE Pack operator+(Pack a, Pack b) { return Pack(a.v + b.v); }
  friend HT_INLINE Pack operator-(Pack a, Pack b) { return Pack(a.v - b.v); }
  friend HT_INLINE Pack operator*(Pack a, Pack b) { return Pack(a.v * b.v); }
  friend HT_INLINE Pack operator/(Pack a, Pack b) { return Pack(a.v / b.v); }
  friend HT_INLINE PackMask<T> operator<(Pack a, Pack b) { return {a.v < b.v}; }
  friend HT_INLINE PackMask<T> operator>(Pack a, Pack b) { return {a.v > b.v}; }
  friend HT_INLINE Pack sqrt(Pack a) {
    Pack r;
HT_UNROLL
    for (int j = 0; j < Simd<T>::W; ++j) r.v[j] = std::sqrt(a.v[j]);  // vsqrtps/pd after vectorization
    return r;
  }
  friend HT_INLINE Pack pow(Pack a, Pack b) {  // Carreau-Yasuda only: no vector pow in libm
    Pack r;
    for (int j = 0; j < Simd<T>::W; ++j) r.v[j] = std::pow(a.v[j], b.v[j]);
    return r;
  }
};

// Field by field (not positional), so a new member of CollisionParams cannot land in the wrong slot.
template <class T>
HT_INLINE CollisionParams<Pack<T>> broadcast(const CollisionParams<T>& p) {
  typedef Pack<T> P;
  CollisionParams<P> b;
  b.tau = P(p.tau);
  b.magic = P(p.magic);
  b.cs2_smag = P(p.cs2_smag);
  b.cy_nu0 = P(p.cy_nu0);
  b.cy_nu_inf = P(p.cy_nu_inf);
  b.cy_lambda = P(p.cy_lambda);
  b.cy_n = P(p.cy_n);
  b.cy_a = P(p.cy_a);
  b.regularized = p.regularized;
  b.trt = p.trt;
  return b;
}

}  // namespace cpu
}  // namespace hemotwin
