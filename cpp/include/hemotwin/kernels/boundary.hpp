// SPDX-License-Identifier: Apache-2.0
// Link boundary rules applied after the collision to the population that re-enters a fluid cell:
// Bouzidi-Firdaouss-Lallemand walls, velocity (moving-wall) inlets, anti-bounce-back pressure outlets.
#pragma once
#include "hemotwin/lattice/d3q19.hpp"
#include "hemotwin/portability.hpp"

namespace hemotwin {

enum LinkKind : unsigned char { LINK_WALL = 0, LINK_VELOCITY = 1, LINK_PRESSURE = 2 };

// BFL linear interpolated bounce-back (Bouzidi et al. 2001, Phys. Fluids 13:3452).
// fi_x = f_i*(x) (towards the wall), fib_x = f_ibar*(x), fi_xb = f_i*(x - c_i) when that cell is fluid.
// As weights: f_ibar(x) = alpha f_i*(x) + beta g, where g is f_i*(x - c_i) when uses_xb, else
// f_ibar*(x). A link whose wall is half-way (q = 1/2) or without the cell behind gets (1, 0).
template <class C>
HT_HD HT_INLINE void bouzidi_weights(C q, bool has_xb, C& alpha, C& beta, bool& uses_xb) {
  uses_xb = q < C(0.5);
  if (uses_xb) {
    alpha = has_xb ? C(2) * q : C(1);  // no fluid cell behind: fall back to half-way
    beta = has_xb ? C(1) - C(2) * q : C(0);
    return;
  }
  alpha = C(0.5) / q;
  beta = C(1) - alpha;
}

template <class C>
HT_HD HT_INLINE C bouzidi(C q, C fi_x, C fib_x, C fi_xb, bool has_xb) {
  C alpha, beta;
  bool uses_xb;
  bouzidi_weights<C>(q, has_xb, alpha, beta, uses_xb);
  if (uses_xb && !has_xb) return fi_x;
  return alpha * fi_x + beta * (uses_xb ? fi_xb : fib_x);
}

// Half-way bounce-back off a wall moving with u_w (Ladd 1994), reference density 1 so the mass flux
// through the link is exactly 6 w_i (c_i . u_w).
template <class C>
HT_HD HT_INLINE C velocity_bounce_back(int i, C fi_x, C uwx, C uwy, C uwz) {
  const C cu = C(D3Q19::cx(i)) * uwx + C(D3Q19::cy(i)) * uwy + C(D3Q19::cz(i)) * uwz;
  return fi_x - C(6) * C(D3Q19::w(i)) * cu;
}

// Anti-bounce-back pressure condition (Ginzburg et al. 2008; Krueger et al. 2017, sec. 5.3.4):
// f_ibar = -f_i* + 2 w_i rho_w [1 + 4.5 (c_i.u)^2 - 1.5 u^2], u taken from the boundary cell.
template <class C>
HT_HD HT_INLINE C pressure_anti_bounce_back(int i, C fi_x, C rho_w, C ux, C uy, C uz) {
  const C cu = C(D3Q19::cx(i)) * ux + C(D3Q19::cy(i)) * uy + C(D3Q19::cz(i)) * uz;
  const C u2 = ux * ux + uy * uy + uz * uz;
  return -fi_x + C(2) * C(D3Q19::w(i)) * rho_w * (C(1) + C(4.5) * cu * cu - C(1.5) * u2);
}

}  // namespace hemotwin
