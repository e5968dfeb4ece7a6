// SPDX-License-Identifier: Apache-2.0
// Per-cell D3Q19 physics written once for CPU and GPU: moments, equilibrium, TRT/BGK collision
// with optional Smagorinsky LES and Carreau-Yasuda viscosity, viscous stress. No allocation, no I/O.
#pragma once
#include <math.h>

#include "hemotwin/lattice/d3q19.hpp"
#include "hemotwin/portability.hpp"

namespace hemotwin {

// Run-time physics, passed by value to every cell update (lattice units throughout).
template <class C>
struct CollisionParams {
  C tau;        // molecular relaxation time (Newtonian); nu = (tau - 1/2) / 3
  C magic;      // TRT magic parameter Lambda = (tau+ - 1/2)(tau- - 1/2); <= 0 means BGK (tau- = tau+)
  C cs2_smag;   // Smagorinsky constant squared (0: no LES)
  // Carreau-Yasuda (Cho & Kensey 1991) in lattice units: nu(g) = nu_inf + (nu0 - nu_inf)[1 + (lambda g)^a]^((n-1)/a)
  C cy_nu0, cy_nu_inf, cy_lambda, cy_n, cy_a;
  int regularized;  // 1: regularized BGK (non-equilibrium projected on second-order Hermite terms)
  int trt;          // 1: two relaxation times (magic > 0), 0: BGK; a flag so C may be a SIMD pack
};

template <class C>
HT_HD HT_INLINE void moments(const C f[19], C& rho, C& ux, C& uy, C& uz) {
  rho = C(0);
  C jx = C(0), jy = C(0), jz = C(0);
HT_UNROLL
  for (int i = 0; i < 19; ++i) {
    rho += f[i];
    jx += C(D3Q19::cx(i)) * f[i];
    jy += C(D3Q19::cy(i)) * f[i];
    jz += C(D3Q19::cz(i)) * f[i];
  }
  const C inv = C(1) / rho;
  ux = jx * inv;
  uy = jy * inv;
  uz = jz * inv;
}

// Second-order (Qian et al. 1992) equilibrium.
template <class C>
HT_HD HT_INLINE C equilibrium(int i, C rho, C ux, C uy, C uz) {
  const C cu = C(D3Q19::cx(i)) * ux + C(D3Q19::cy(i)) * uy + C(D3Q19::cz(i)) * uz;
  const C u2 = ux * ux + uy * uy + uz * uz;
  return C(D3Q19::w(i)) * rho * (C(1) + C(3) * cu + C(4.5) * cu * cu - C(1.5) * u2);
}

// Non-equilibrium momentum flux Pi_ab = sum_i c_ia c_ib (f_i - feq_i); order xx, yy, zz, xy, xz, yz.
template <class C>
HT_HD HT_INLINE void pi_neq(const C f[19], C rho, C ux, C uy, C uz, C pi[6]) {
HT_UNROLL
  for (int k = 0; k < 6; ++k) pi[k] = C(0);
HT_UNROLL
  for (int i = 1; i < 19; ++i) {
    const C fn = f[i] - equilibrium<C>(i, rho, ux, uy, uz);
    const C cx = C(D3Q19::cx(i)), cy = C(D3Q19::cy(i)), cz = C(D3Q19::cz(i));
    pi[0] += cx * cx * fn;
    pi[1] += cy * cy * fn;
    pi[2] += cz * cz * fn;
    pi[3] += cx * cy * fn;
    pi[4] += cx * cz * fn;
    pi[5] += cy * cz * fn;
  }
  // the rest population has c = 0 and adds nothing
}

template <class C>
HT_HD HT_INLINE C pi_norm(const C pi[6]) {  // sqrt(2 Pi:Pi)
  const C pp = pi[0] * pi[0] + pi[1] * pi[1] + pi[2] * pi[2] +
               C(2) * (pi[3] * pi[3] + pi[4] * pi[4] + pi[5] * pi[5]);
  return sqrt(C(2) * pp);
}

// Molecular relaxation time of a Carreau-Yasuda fluid at this cell's shear rate. The shear rate
// |S| = sqrt(2 Pi:Pi) / (2 rho cs^2 tau) depends on tau itself: a few fixed-point sweeps converge.
template <class C>
HT_HD HT_INLINE C carreau_yasuda_tau(C pin, C rho, C tau_start, const CollisionParams<C>& p) {
  C tau = tau_start;
HT_UNROLL
  for (int it = 0; it < 3; ++it) {
    const C gamma = C(1.5) * pin / (rho * tau);
    const C nu = p.cy_nu_inf + (p.cy_nu0 - p.cy_nu_inf) *
                                   pow(C(1) + pow(p.cy_lambda * gamma, p.cy_a), (p.cy_n - C(1)) / p.cy_a);
    tau = C(0.5) + C(3) * nu;
  }
  return tau;
}

// Smagorinsky (Hou et al. 1996): tau_eff solves tau^2 - tau_mol tau - 9 Cs^2 sqrt(2 Pi:Pi) / (2 rho) = 0.
template <class C>
HT_HD HT_INLINE C smagorinsky_tau(C pin, C rho, C tau_mol, C cs2) {
  return C(0.5) * (tau_mol + sqrt(tau_mol * tau_mol + C(18) * cs2 * pin / rho));
}

// Effective and molecular relaxation times of one cell (LES and/or Carreau-Yasuda aware); pi holds
// Pi_neq on return when LES, CY or need_pi asked for it.
template <class C, bool LES, bool CY>
HT_HD HT_INLINE void relaxation_times(const C f[19], C rho, C ux, C uy, C uz,
                                      const CollisionParams<C>& p, C& tau_mol, C& tau_eff, C pi[6],
                                      bool need_pi = false) {
  tau_mol = p.tau;
  tau_eff = p.tau;
  if (LES || CY || need_pi) pi_neq<C>(f, rho, ux, uy, uz, pi);
  if (LES || CY) {
    const C pin = pi_norm<C>(pi);
    if (CY) tau_mol = carreau_yasuda_tau<C>(pin, rho, p.tau, p);
    tau_eff = LES ? smagorinsky_tau<C>(pin, rho, tau_mol, p.cs2_smag) : tau_mol;
  }
}

// Two-relaxation-time collision (Ginzburg 2005) in place; BGK is the case tau- = tau+.
// Returns false when the cell is non-physical (NaN, rho <= 0, |u| too large): used to stop diverging runs.
// C may also be a SIMD pack of cells (core/cpu_aa_block.hpp); the result is then a lane mask.
template <class C, bool LES, bool CY>
HT_HD HT_INLINE auto collide(C f[19], const CollisionParams<C>& p) {
  C rho, ux, uy, uz;
  moments<C>(f, rho, ux, uy, uz);
  C tau_mol, tau_p, pi[6];
  relaxation_times<C, LES, CY>(f, rho, ux, uy, uz, p, tau_mol, tau_p, pi, p.regularized != 0);
  const C om_p = C(1) / tau_p;
  const C u2 = ux * ux + uy * uy + uz * uz;
  if (p.regularized) {
    // Regularized BGK (Latt & Chopard 2006): f_i = feq_i + (1 - w) w_i/(2 cs^4) Q_i : Pi_neq with
    // Q_i = c_i c_i - cs^2 I. Dropping the higher-order non-equilibrium (ghost) content keeps runs
    // stable at the tau -> 1/2 of coarse clinical lattices where plain BGK/TRT diverge.
    const C tr = (pi[0] + pi[1] + pi[2]) / C(3);
    const C keep = C(1) - om_p;
HT_UNROLL
    for (int i = 0; i < 19; ++i) {
      const C cx = C(D3Q19::cx(i)), cy = C(D3Q19::cy(i)), cz = C(D3Q19::cz(i));
      const C qpi = cx * cx * pi[0] + cy * cy * pi[1] + cz * cz * pi[2] +
                    C(2) * (cx * cy * pi[3] + cx * cz * pi[4] + cy * cz * pi[5]) - tr;
      f[i] = equilibrium<C>(i, rho, ux, uy, uz) + keep * C(4.5) * C(D3Q19::w(i)) * qpi;
    }
    return (rho > C(0.2)) && (rho < C(5)) && (u2 < C(0.5));
  }
  const C om_m = p.trt ? C(1) / (C(0.5) + p.magic / (tau_p - C(0.5))) : om_p;
  const C base = C(1) - C(1.5) * u2;
  f[0] -= om_p * (f[0] - C(D3Q19::w(0)) * rho * base);
HT_UNROLL
  for (int i = 1; i < 19; i += 2) {  // pairs (i, i+1) are opposite
    const C cu = C(D3Q19::cx(i)) * ux + C(D3Q19::cy(i)) * uy + C(D3Q19::cz(i)) * uz;
    const C wr = C(D3Q19::w(i)) * rho;
    const C eq_sym = wr * (base + C(4.5) * cu * cu);
    const C eq_asym = wr * C(3) * cu;
    const C d_sym = om_p * (C(0.5) * (f[i] + f[i + 1]) - eq_sym);
    const C d_asym = om_m * (C(0.5) * (f[i] - f[i + 1]) - eq_asym);
    f[i] -= d_sym + d_asym;
    f[i + 1] -= d_sym - d_asym;
  }
  return (rho > C(0.2)) && (rho < C(5)) && (u2 < C(0.5));  // false also for NaN
}

// Relaxation rates of collide()'s Newtonian TRT/BGK update without LES, in the form the pair
// update below uses: keep_p = (1 - om_p) / 2 and keep_m = (1 - om_m) / 2 (BGK: equal).
template <class T>
struct TrtRates {
  T om_p, om_m, keep_p, keep_m;
  TrtRates() = default;
  HT_HD explicit TrtRates(const CollisionParams<T>& p) {
    const T tau_p = p.tau;
    om_p = T(1) / tau_p;
    om_m = p.trt ? T(1) / (T(0.5) + p.magic / (tau_p - T(0.5))) : om_p;
    keep_p = T(0.5) * (T(1) - om_p);
    keep_m = T(0.5) * (T(1) - om_m);
  }
};

// c_i . u for the first direction of an opposite pair (lattice/d3q19.hpp lists (i, i + 1) with
// c_i having no negative first non-zero component), zero terms left out.
template <class V>
HT_HD HT_INLINE V c_dot(int i, V ux, V uy, V uz) {
  const int cx = D3Q19::cx(i), cy = D3Q19::cy(i), cz = D3Q19::cz(i);
  V s = ux;
  bool have = false;
  if (cx != 0) {
    s = cx > 0 ? ux : -ux;
    have = true;
  }
  if (cy != 0) {
    s = have ? (cy > 0 ? s + uy : s - uy) : (cy > 0 ? uy : -uy);
    have = true;
  }
  if (cz != 0) s = have ? (cz > 0 ? s + uz : s - uz) : (cz > 0 ? uz : -uz);
  return s;
}

// collide<C, false, false>()'s two-relaxation-time update (Ginzburg 2005; BGK when om_m = om_p)
// for a Newtonian fluid without LES or regularization, in pair form: for an opposite pair with
// s = f_i + f_i', d = f_i - f_i' the update is
//   f_i* = S + D, f_i'* = S - D,  S = keep_p s + om_p w rho (1 - 1.5 u^2 + 4.5 (c.u)^2),
//                                 D = keep_m d + 3 om_m w rho (c.u),
// about 8 operations a pair instead of 18. The CPU runs it on SIMD vectors of cells (V a GCC vector,
// T its element) and the GPU on one cell (V = T): the same operations in the same order, so the two
// backends differ at most by the compilers' FMA contraction. Returns the non-physical-cell test
// (a lane mask for vectors).
template <class V, class T>
HT_HD HT_INLINE auto collide_trt_pairs(V g[19], const TrtRates<T>& r) {
  static_assert(D3Q19::cx(1) == 1 && D3Q19::cy(3) == 1 && D3Q19::cz(5) == 1 && D3Q19::cx(7) == 1 &&
                    D3Q19::cy(7) == 1 && D3Q19::cx(9) == 1 && D3Q19::cy(9) == -1 && D3Q19::cx(11) == 1 &&
                    D3Q19::cz(11) == 1 && D3Q19::cx(13) == 1 && D3Q19::cz(13) == -1 && D3Q19::cy(15) == 1 &&
                    D3Q19::cz(15) == 1 && D3Q19::cy(17) == 1 && D3Q19::cz(17) == -1,
                "the moment trees and pair formulas below assume lattice/d3q19.hpp's ordering");
  static_assert(D3Q19::w(1) == D3Q19::w(6) && D3Q19::w(7) == D3Q19::w(18), "two weight classes");
  // moments: rho = sum f_i, j = sum c_i f_i (Krueger et al. 2017, eq. 3.3), summed as balanced
  // trees over the pairs (a running sum is a chain of 18 dependent additions per moment).
  V sp[9], dp[9];
HT_UNROLL
  for (int p = 0; p < 9; ++p) {
    sp[p] = g[2 * p + 1] + g[2 * p + 2];
    dp[p] = g[2 * p + 1] - g[2 * p + 2];
  }
  const V rho = (g[0] + ((sp[0] + sp[1]) + (sp[2] + sp[3]))) + (((sp[4] + sp[5]) + (sp[6] + sp[7])) + sp[8]);
  const V jx = ((dp[0] + dp[3]) + (dp[4] + dp[5])) + dp[6];
  const V jy = ((dp[1] + dp[3]) + (dp[7] + dp[8])) - dp[4];
  const V jz = ((dp[2] + dp[5]) + (dp[7] - dp[8])) - dp[6];
  const V inv = T(1) / rho;
  const V ux = jx * inv, uy = jy * inv, uz = jz * inv;
  const V ux2 = ux * ux, uy2 = uy * uy, uz2 = uz * uz;
  const V u2 = ux2 + uy2 + uz2;
  const V base = T(1) - T(1.5) * u2;
  const V rp = r.om_p * rho, rm = (T(3) * r.om_m) * rho;
  const V sym_axis = T(D3Q19::w(1)) * rp, sym_diag = T(D3Q19::w(7)) * rp;
  const V asym_axis = T(D3Q19::w(1)) * rm, asym_diag = T(D3Q19::w(7)) * rm;
  g[0] = (T(1) - r.om_p) * g[0] + (T(D3Q19::w(0)) * rp) * base;
  const V axis_sq[3] = {ux2, uy2, uz2};
HT_UNROLL
  for (int p = 0; p < 9; ++p) {
    const int i = 2 * p + 1;
    const V cu = c_dot(i, ux, uy, uz);
    const bool axis = p < 3;
    const V cu2 = axis ? axis_sq[p] : cu * cu;
    const V S = r.keep_p * sp[p] + (axis ? sym_axis : sym_diag) * (base + T(4.5) * cu2);
    const V D = r.keep_m * dp[p] + (axis ? asym_axis : asym_diag) * cu;
    g[i] = S + D;
    g[i + 1] = S - D;
  }
  return (rho > T(0.2)) & (rho < T(5)) & (u2 < T(0.5));  // false also for NaN
}

// Viscous (molecular) stress sigma = 2 rho nu_mol S with S = -Pi_neq / (2 rho cs^2 tau_eff), order
// xx, yy, zz, xy, xz, yz; plus rho and u. Computed from pre-collision populations.
template <class C, bool LES, bool CY>
HT_HD HT_INLINE void macroscopic(const C f[19], const CollisionParams<C>& p, C& rho, C& ux, C& uy,
                                 C& uz, C sigma[6]) {
  moments<C>(f, rho, ux, uy, uz);
  C pi[6];
  pi_neq<C>(f, rho, ux, uy, uz, pi);
  C tau_mol = p.tau, tau_eff = p.tau;
  const C pin = pi_norm<C>(pi);
  if (CY) tau_mol = carreau_yasuda_tau<C>(pin, rho, p.tau, p);
  tau_eff = LES ? smagorinsky_tau<C>(pin, rho, tau_mol, p.cs2_smag) : tau_mol;
  const C factor = -(tau_mol - C(0.5)) / tau_eff;
HT_UNROLL
  for (int k = 0; k < 6; ++k) sigma[k] = factor * pi[k];
}

}  // namespace hemotwin
