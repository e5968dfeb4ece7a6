# SPDX-License-Identifier: Apache-2.0
"""Wall shear stress from the solver's cell stress tensors, evaluated on wall points.

The stress field is linear across a thin near-wall layer, so at each wall point a linear model
sigma(x) = s0 + G (x - x_w) is fitted by least squares to the fluid cells within a few cells and
evaluated at the wall (second-order extrapolation; exact for Poiseuille flow).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

_VOIGT = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]


def stress_tensor(sigma6: np.ndarray) -> np.ndarray:
    """(n, 6) xx yy zz xy xz yz -> (n, 3, 3) symmetric tensors."""
    s = np.asarray(sigma6, float)
    t = np.empty(s.shape[:-1] + (3, 3))
    for k, (a, b) in enumerate(_VOIGT):
        t[..., a, b] = s[..., k]
        t[..., b, a] = s[..., k]
    return t


def extrapolate_to_points(points_m, cell_centers_m, values, dx_m, radius_cells=2.6, tree=None):
    """Linear least-squares extrapolation of cell values to arbitrary points.

    Parameters
    ----------
    points_m : (p, 3) array
        Where to evaluate (m), usually on the wall.
    cell_centers_m : (n, 3) array
        Fluid cell centres (m).
    values : (n, k) array
        Cell values (any unit).
    dx_m : float
        Lattice spacing (m).
    radius_cells : float
        Neighbourhood radius in cells.

    Returns
    -------
    (p, k) array
    """
    pts = np.atleast_2d(np.asarray(points_m, float))
    vals = np.asarray(values, float).reshape(len(cell_centers_m), -1)
    tree = tree or cKDTree(cell_centers_m)
    out = np.full((len(pts), vals.shape[1]), np.nan)
    neigh = tree.query_ball_point(pts, r=radius_cells * dx_m)
    for p, idx in enumerate(neigh):
        if len(idx) < 4:
            _, idx = tree.query(pts[p], k=8)
        d = (cell_centers_m[idx] - pts[p]) / dx_m
        a = np.hstack([np.ones((len(idx), 1)), d])
        w = 1.0 / (0.5 + np.linalg.norm(d, axis=1))  # nearer cells weigh more
        coef, *_ = np.linalg.lstsq(a * w[:, None], vals[idx] * w[:, None], rcond=None)
        out[p] = coef[0]
    return out


def wall_shear_stress(points_m, normals, cell_centers_m, sigma6, dx_m, tree=None):
    """WSS vectors (same unit as sigma6) that the fluid exerts on the wall.

    ``normals`` are unit normals pointing OUT of the fluid (into the wall), as PyVista orients
    a closed lumen surface. The fluid's traction on the wall is t = -sigma n; WSS is its
    tangential part, so it points along the near-wall flow.
    """
    n = np.asarray(normals, float)
    n = n / np.linalg.norm(n, axis=1, keepdims=True)
    s0 = extrapolate_to_points(points_m, cell_centers_m, sigma6, dx_m, tree=tree)
    t = -np.einsum("pab,pb->pa", stress_tensor(s0), n)
    return t - np.sum(t * n, axis=1, keepdims=True) * n
