// SPDX-License-Identifier: Apache-2.0
// Fused stream-collide with the AA in-place pattern (Bailey et al. 2009) on the sparse lattice, and
// the boundary-link fix-up pass, written once for the CPU loops and the CUDA kernels.
//
// Layout: f[q * n + cell] (structure of arrays). addr[(i - 1) * n + c] = i * n + neighbour(c, i) when
// that neighbour is fluid, else opp(i) * n + c (so a missing neighbour is a half-way bounce-back).
// Even steps read and write a cell's own slots (swapped); odd steps gather from and scatter to
// neighbours through addr. Port/wall links are then corrected on the boundary cells only.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hemotwin/kernels/boundary.hpp"
#include "hemotwin/kernels/collision.hpp"
#include "hemotwin/kernels/storage.hpp"

namespace hemotwin {

// Where f_k*(c), the post-collision population of cell c in direction k, lies after a step.
HT_HD HT_INLINE size_t post_slot(int k, size_t c, bool odd_done, const uint32_t* addr, size_t n) {
  if (k == 0) return c;
  return odd_done ? size_t(addr[size_t(k - 1) * n + c]) : size_t(D3Q19::opp(k)) * n + c;
}

// Where f_k(c), the population the next step will collide, lies before a step at parity odd_next.
HT_HD HT_INLINE size_t pre_slot(int k, size_t c, bool odd_next, const uint32_t* addr, size_t n) {
  if (k == 0) return c;
  return odd_next ? size_t(addr[size_t(D3Q19::opp(k) - 1) * n + c]) : size_t(k) * n + c;
}

// Lattice pressure cs^2 (rho - 1) of cell c before a step at parity odd_next: rho summed in double
// in direction order, so both backends' port pressures (Backend::port_mean_pressure) add alike.
template <class S, class C>
HT_HD HT_INLINE double cell_pressure_lu(const S* f, size_t c, bool odd_next, const uint32_t* addr, size_t n) {
  double rho = 0;
  for (int k = 0; k < 19; ++k) rho += double(Codec<S, C>::decode(f[pre_slot(k, c, odd_next, addr, n)], k));
  return (rho - 1.0) / 3.0;
}

// Entry (r, c) of the neighbour table addr (stride n) re-based on a padded stride N >= n, as the
// backends store it (whole pages on the CPU, whole warps on the GPU). Padding columns c >= n point
// at their own slot; no sweep reads them (every sweep stops at cell n).
HT_INLINE uint32_t padded_address(const uint32_t* addr, size_t n, size_t N, size_t r, size_t c) {
  if (c >= n) return uint32_t((r + 1) * N + c);
  const uint32_t a = addr[r * n + c];
  return uint32_t((a / n) * N + a % n);
}

// Optional shortcut through the neighbour table for runs of kGroupCells cells (a GPU warp), per
// address row r and group w, in group_base[r * groups + w]:
// - a base, where every cell c of the group has addr[r * n + c] = base + c (neighbours in one
//   contiguous run, or all bounced back): one value read by the whole warp replaces 32 addresses;
// - kGroupRuns, where the slots are two runs and bounce-backs (runs[r * groups + w], GroupRuns): a
//   warp at a wall, or crossing from one column of cells into the next;
// - kNoGroupBase otherwise: each cell reads addr.
// On the aorta lattice in natural order 67 % of (group, row) pairs have a base, 32 % runs and 1 %
// neither (benchmarks/RESULTS.md). The branch is the same for the whole warp. Needs n, the stride, to be
// a multiple of kGroupCells; core/warp_slots.hpp builds both arrays.
constexpr size_t kGroupCells = 32;
constexpr uint32_t kNoGroupBase = 0xFFFFFFFFu;
constexpr uint32_t kGroupRuns = 0xFFFFFFFEu;

// A group's slots in one row as two runs: lane l (= c % kGroupCells) with bit l of `bounced` set
// bounces back (slot opp(r + 1) * n + c, as addr says for a missing neighbour); the others are
// first + c below lane `split` and second + c from it on. 16 B, read by a warp as one broadcast.
struct alignas(16) GroupRuns {
  uint32_t first, second, split, bounced;
};

// The slot addr[r * n + c] names, read through group_base (and runs) when the cell's group has one. As
// 32 bits: 19 n < 2^32 (the backends check), and 18 of them stay in registers across the collision.
HT_HD HT_INLINE uint32_t odd_slot(int r, size_t c, const uint32_t* HT_RESTRICT addr, size_t n,
                                  const uint32_t* HT_RESTRICT group_base, const GroupRuns* HT_RESTRICT runs,
                                  size_t groups) {
  if (group_base) {
    const size_t g = size_t(r) * groups + c / kGroupCells;
    const uint32_t base = group_base[g];
    if (base < kGroupRuns) return base + uint32_t(c);
    if (base == kGroupRuns) {
      const GroupRuns run = runs[g];
      const uint32_t lane = uint32_t(c % kGroupCells);
      if ((run.bounced >> lane) & 1u) return uint32_t(D3Q19::opp(r + 1)) * uint32_t(n) + uint32_t(c);
      return (lane < run.split ? run.first : run.second) + uint32_t(c);
    }
  }
  return addr[size_t(r) * n + c];
}

// rates: TrtRates<C>(p), computed once by the caller (two divisions per cell otherwise).
// group_base/runs/groups: see odd_slot (null: every odd-step slot from addr).
// S, the storage, goes through Codec<S, C> (kernels/storage.hpp): a cast, or a shifted 16-bit format
// decoded as the CPU's sweep does (slot k or opp(k) of a cell holds a population of weight w_k).
template <class S, class C, bool LES, bool CY, bool ODD>
HT_HD HT_INLINE bool aa_update(S* HT_RESTRICT f, const uint32_t* HT_RESTRICT addr, size_t n, size_t c,
                               const CollisionParams<C>& p, const TrtRates<C>& rates,
                               const uint32_t* HT_RESTRICT group_base = nullptr,
                               const GroupRuns* HT_RESTRICT runs = nullptr, size_t groups = 0) {
  C g[19];
  // odd steps: slot[i] is where f_i of this cell goes, and where f_opp(i) comes from; each address
  // row is read once per cell
  uint32_t slot[19];
  if (ODD) {
HT_UNROLL
    for (int i = 1; i < 19; ++i) slot[i] = odd_slot(i - 1, c, addr, n, group_base, runs, groups);
  }
  typedef Codec<S, C> K;
  g[0] = K::decode(f[c], 0);
HT_UNROLL
  for (int i = 1; i < 19; ++i) g[i] = K::decode(f[ODD ? size_t(slot[D3Q19::opp(i)]) : size_t(i) * n + c], i);
  // the Newtonian TRT/BGK case in the pair form the CPU's vector sweep uses, so both backends run
  // the same operations (collision.hpp, collide_trt_pairs)
  const bool ok = (!LES && !CY && !p.regularized) ? bool(collide_trt_pairs<C, C>(g, rates))
                                                  : bool(collide<C, LES, CY>(g, p));
  if (ODD) {
    f[c] = K::encode(g[0], 0);
HT_UNROLL
    for (int i = 1; i < 19; ++i) f[slot[i]] = K::encode(g[i], i);
  } else {
HT_UNROLL
    for (int i = 0; i < 19; ++i) f[size_t(D3Q19::opp(i)) * n + c] = K::encode(g[i], i);
  }
  return ok;
}

// Boundary links grouped by cell, plus per-port values of the current step. Two layouts of the link
// arrays, chosen by link_count:
// - null: CSR (the CPU's). Cell b's links are link_begin[b] ... link_begin[b + 1] - 1.
// - set: sliced by kGroupCells cells (the GPU's; core/sliced_links.hpp builds it). Link j of cell b is
//   entry link_begin[b / kGroupCells] + j * kGroupCells + b % kGroupCells, for j < link_count[b]. The
//   j-th links of a warp's 32 cells are then 32 adjacent entries, one request per array, where CSR
//   has each thread read its own run (the link arrays were ~7 sectors per warp request).
template <class C>
struct BoundaryView {
  const uint32_t* cells;       // boundary cells
  const uint32_t* link_begin;  // CSR: n_cells + 1 offsets; sliced: the first entry of each slice
  const uint8_t* link_dir;     // i: direction from the fluid cell towards the wall / port
  const uint8_t* link_kind;    // LinkKind
  const int16_t* link_port;    // port id, -1 for walls
  const float* link_q;         // wall fraction q in (0, 1]
  const float* link_u;         // 3 per link: inlet velocity (lattice units) before the port scale
  C* link_flux;                // out: mass leaving through each port link this step
  const C* port_scale;         // per port: time factor of the inlet velocity
  const C* port_rho;           // per port: density imposed by a pressure port
  int bouzidi;                 // 0: half-way bounce-back on every wall link
  const uint8_t* link_count = nullptr;  // sliced layout: links of each cell (null: CSR)
};

// Where cell b's links lie in the link arrays: link j at first + j * step, for j < count. Read once
// per cell, so the loops over its links read no offsets.
struct LinkRange {
  size_t first, step;
  uint32_t count;
  HT_HD HT_INLINE size_t operator[](uint32_t j) const { return first + size_t(j) * step; }
};

template <class C>
HT_HD HT_INLINE LinkRange links_of(const BoundaryView<C>& bv, size_t b) {
  if (!bv.link_count) return {bv.link_begin[b], 1, bv.link_begin[b + 1] - bv.link_begin[b]};
  return {size_t(bv.link_begin[b / kGroupCells]) + b % kGroupCells, kGroupCells, bv.link_count[b]};
}

// Rewrites the populations that re-enter boundary cell b after a step. Everything this cell needs is
// read before anything is written, and no other cell writes what it reads, so cells run in parallel.
// P is S* or, for a coded storage (CPU 16-bit formats), a pointer-like view whose elements convert
// to and from C.
template <class S, class C, class P = S*>
HT_HD HT_INLINE void correct_boundary_cell(P f, const uint32_t* addr, size_t n, bool odd_done,
                                           const BoundaryView<C>& bv, size_t b) {
  const size_t c = bv.cells[b];
  const LinkRange links = links_of(bv, b);
  bool need_u = false;
  for (uint32_t j = 0; j < links.count; ++j) need_u |= (bv.link_kind[links[j]] == LINK_PRESSURE);
  C rho = C(1), ux = C(0), uy = C(0), uz = C(0);
  if (need_u) {  // collision conserves rho and j, so post-collision moments equal pre-collision ones
    C g[19];
HT_UNROLL
    for (int k = 0; k < 19; ++k) g[k] = C(f[post_slot(k, c, odd_done, addr, n)]);
    moments<C>(g, rho, ux, uy, uz);
  }
  C out[18];
  C wall_mass = C(0);  // mass the interpolated walls add to this cell
  for (uint32_t j = 0; j < links.count; ++j) {
    const size_t l = links[j];
    const int i = bv.link_dir[l];
    const int ib = D3Q19::opp(i);
    const C fi_x = C(f[size_t(ib) * n + c]);  // the half-way bounce-back already put f_i*(x) here
    C v = fi_x;
    const unsigned char kind = bv.link_kind[l];
    if (kind == LINK_WALL) {
      const C q = C(bv.link_q[l]);
      if (bv.bouzidi && q != C(0.5)) {
        const C fib_x = C(f[post_slot(ib, c, odd_done, addr, n)]);
        const uint32_t a = addr[size_t(ib - 1) * n + c];  // decodes the neighbour at x - c_i
        const bool has_xb = (size_t(a) / n) == size_t(ib);
        C fi_xb = C(0);
        if (has_xb) fi_xb = C(f[post_slot(i, size_t(a) - size_t(ib) * n, odd_done, addr, n)]);
        v = bouzidi<C>(q, fi_x, fib_x, fi_xb, has_xb);
        wall_mass += v - fi_x;
      }
    } else if (kind == LINK_VELOCITY) {
      const C s = bv.port_scale[bv.link_port[l]];
      v = velocity_bounce_back<C>(i, fi_x, s * C(bv.link_u[3 * l]), s * C(bv.link_u[3 * l + 1]),
                                  s * C(bv.link_u[3 * l + 2]));
    } else {
      v = pressure_anti_bounce_back<C>(i, fi_x, bv.port_rho[bv.link_port[l]], ux, uy, uz);
    }
    out[j] = v;
    if (kind != LINK_WALL) bv.link_flux[l] = fi_x - v;
  }
  for (uint32_t j = 0; j < links.count; ++j) f[size_t(D3Q19::opp(bv.link_dir[links[j]])) * n + c] = S(out[j]);
  // BFL interpolation does not conserve mass; returning the excess through the rest population
  // (which carries no momentum) makes the walls exactly mass-conserving, as half-way bounce-back is.
  if (wall_mass != C(0)) f[c] = S(C(f[c]) - wall_mass);
}

}  // namespace hemotwin
