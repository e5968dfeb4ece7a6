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
