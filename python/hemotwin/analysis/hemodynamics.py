# SPDX-License-Identifier: Apache-2.0
"""Hemodynamic metrics from solver fields: wall shear stress on the lumen surface, cycle metrics
(TAWSS, OSI, RRT, ECAP), pressure along the centerline, translesional gradients, Pd/Pa, flow splits.

Geometry in mm (surfaces, centerlines), physics in SI (Pa, m, m^3/s, s); mmHg only in the keys that
say so. Definitions and sources: docs/metrics.md.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from .wss import stress_tensor

__all__ = [
    "PA_PER_MMHG",
    "MIN_AORTIC_PRESSURE_MMHG",
    "nonphysiological_pa",
    "WallStressOperator",
    "surface_wss",
    "surface_pressure",
    "surface_wss_operator",
    "point_areas",
    "cycle_metrics",
    "CycleAccumulator",
    "wss_statistics",
    "centerline_pressure",
    "pressure_at",
    "translesional_gradient",
    "pd_pa",
    "flow_splits",
]

PA_PER_MMHG = 133.322387415  # 1 mmHg = 101325/760 Pa
# a mean aortic pressure below this is no living patient's (a MAP under 60 mmHg is shock)
MIN_AORTIC_PRESSURE_MMHG = 50.0
LOW_WSS_PA = 0.4  # "atheroprone" TAWSS below 0.4 Pa (Malek, Alper, Izumo, JAMA 1999; REFERENCE.md sec. 4)


# ----------------------------------------------------------------------------- wall shear stress
class WallStressOperator:
    """Linear map from cell stresses to the stress extrapolated at fixed wall points.

    The same weighted least-squares linear fit as ``analysis.wss.extrapolate_to_points``
    (neighbourhood of ``radius_cells`` cells, weights 1/(0.5 + d/dx)), but its coefficients are
    computed once as a sparse matrix so that a time series of stress fields costs one sparse
    product per sample.

    Parameters
    ----------
    points_m : (p, 3) array
        Wall points (m).
    normals : (p, 3) array
        Unit normals pointing OUT of the fluid (into the wall).
    cell_centers_m : (n, 3) array
        Fluid cell centres (m).
    dx_m : float
        Lattice spacing (m).
    radius_cells : float
        Fit neighbourhood radius in cells.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.stack(np.meshgrid(*[np.arange(-3, 4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    >>> op = WallStressOperator([[0.0, 0.0, 3.5]], [[0.0, 0.0, 1.0]], g, 1.0)
    >>> sig = np.zeros((len(g), 6)); sig[:, 4] = 2.0 * g[:, 0] + 1.0   # sigma_xz linear in x
    >>> (np.round(op.wss(sig), 6) + 0.0).tolist()   # -(sigma n)_t on the wall: -sigma_xz at x = 0
    [[-1.0, 0.0, 0.0]]
    """

    def __init__(self, points_m, normals, cell_centers_m, dx_m, radius_cells=2.6, tree=None):
        pts = np.atleast_2d(np.asarray(points_m, float))
        centers = np.asarray(cell_centers_m, float)
        n = np.atleast_2d(np.asarray(normals, float))
        self.normals = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
        tree = tree or cKDTree(centers)
        neigh = tree.query_ball_point(pts, r=radius_cells * dx_m)
        rows, cols, vals = [], [], []
        for p, idx in enumerate(neigh):
            if len(idx) < 4:
                _, idx = tree.query(pts[p], k=min(8, len(centers)))
            idx = np.atleast_1d(np.asarray(idx, int))
            d = (centers[idx] - pts[p]) / dx_m
            a = np.hstack([np.ones((len(idx), 1)), d])
            w = 1.0 / (0.5 + np.linalg.norm(d, axis=1))
            # value at the wall = first row of the weighted pseudo-inverse applied to the values
            coef = np.linalg.pinv(a * w[:, None])[0] * w
            rows.append(np.full(len(idx), p))
            cols.append(idx)
            vals.append(coef)
        self.n_points = len(pts)
        self.matrix = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(pts), len(centers)))

    def wall_stress(self, stress6) -> np.ndarray:
        """Extrapolated (p, 6) stress (xx yy zz xy xz yz) at the wall points."""
        return np.asarray(self.matrix @ np.asarray(stress6, float))

    def wss(self, stress6) -> np.ndarray:
        """WSS vectors (p, 3), same unit as the stress: the tangential traction on the wall.

        Sign convention: the force per area the fluid exerts on the wall, -(sigma n) with n out of
        the fluid, minus its normal part, so WSS points along the near-wall flow.
        """
        n = self.normals
        t = -np.einsum("pab,pb->pa", stress_tensor(self.wall_stress(stress6)), n)
        return t - np.sum(t * n, axis=1, keepdims=True) * n


def _wall_point_mask(surface) -> np.ndarray:
    """Points that belong to at least one wall cell (``port_id < 0`` or no ``port_id`` array)."""
    if "port_id" not in surface.cell_data:
        return np.ones(surface.n_points, bool)
    pid = np.asarray(surface.cell_data["port_id"])
    faces = _triangles(surface)
    on_wall = np.zeros(surface.n_points, bool)
    on_wall[faces[pid < 0].ravel()] = True
    return on_wall


def _triangles(surface) -> np.ndarray:
    tri = surface if surface.is_all_triangles else surface.triangulate()
    return np.asarray(tri.faces).reshape(-1, 4)[:, 1:]


def _outward_normals(surface, cell_centers_m, mm_to_m) -> np.ndarray:
    """Point normals oriented out of the fluid, checked against the nearest fluid cells."""
    s = surface.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=False,
                                consistent_normals=True, split_vertices=False)
    n = np.asarray(s.point_data["Normals"], float)
    pts = np.asarray(surface.points, float) * mm_to_m
    tree = cKDTree(cell_centers_m)
    _, idx = tree.query(pts, k=1)
    into_fluid = np.asarray(cell_centers_m)[idx] - pts
    # a closed, consistently oriented surface has one global orientation: vote on it
    if np.sum(np.einsum("pa,pa->p", n, into_fluid)) > 0:
        n = -n
    return n


def surface_wss(surface, fields, cell_centers_m, dx_m, *, mm_to_m=1e-3, operator=None,
                return_operator=False):
    """Wall shear stress on a lumen surface from the solver's cell stress tensors.

    Parameters
    ----------
    surface : pyvista.PolyData
        Lumen surface in mm. If it has the cell array ``port_id`` (caps >= 0, wall -1), points that
        touch only caps get NaN.
    fields : dict
        ``Simulation.fields()``; uses ``stress_pa`` (n, 6: xx yy zz xy xz yz).
    cell_centers_m : (n, 3) array
        Fluid cell centres (m), same order as the fields.
    dx_m : float
        Lattice spacing (m).
    mm_to_m : float
        Scale from surface units to metres.
    operator : WallStressOperator, optional
        Reuse a precomputed operator (time series on the same surface).
    return_operator : bool
        Also return the operator, as ``(surface, operator)``.

    Returns
    -------
    pyvista.PolyData
        A copy of the surface with point arrays ``wss_pa`` (p, 3) and ``wss_magnitude_pa`` (p,),
        plus ``wss_magnitude_dyn_cm2`` (1 Pa = 10 dyn/cm^2).
    """
    out = surface.copy()
    wall = _wall_point_mask(surface)
    if operator is None:
        normals = _outward_normals(surface, cell_centers_m, mm_to_m)
        pts = np.asarray(surface.points, float)[wall] * mm_to_m
        operator = WallStressOperator(pts, normals[wall], cell_centers_m, dx_m)
    w = np.full((surface.n_points, 3), np.nan)
    w[wall] = operator.wss(fields["stress_pa"])
    mag = np.linalg.norm(w, axis=1)
    out.point_data["wss_pa"] = w
    out.point_data["wss_magnitude_pa"] = mag
    out.point_data["wss_magnitude_dyn_cm2"] = 10.0 * mag
    return (out, operator) if return_operator else out


def surface_wss_operator(surface, cell_centers_m, dx_m, *, mm_to_m=1e-3) -> WallStressOperator:
    """The WallStressOperator for the wall points of ``surface`` (see ``surface_wss``)."""
    wall = _wall_point_mask(surface)
    normals = _outward_normals(surface, cell_centers_m, mm_to_m)
    return WallStressOperator(np.asarray(surface.points, float)[wall] * mm_to_m, normals[wall],
                              cell_centers_m, dx_m)


def surface_pressure(surface, fields, cell_centers_m, *, mm_to_m=1e-3, k=4):
    """Pressure on the wall points: inverse-distance mean of the ``k`` nearest fluid cells.

    Returns a copy of the surface with point arrays ``pressure_pa`` and ``pressure_mmhg``
    (gauge, as the solver's pressure).
    """
    out = surface.copy()
    tree = cKDTree(cell_centers_m)
    d, idx = tree.query(np.asarray(surface.points, float) * mm_to_m, k=k)
    w = 1.0 / np.maximum(d, 1e-12)
    p = np.sum(np.asarray(fields["pressure_pa"], float)[idx] * w, axis=1) / np.sum(w, axis=1)
    out.point_data["pressure_pa"] = p
    out.point_data["pressure_mmhg"] = p / PA_PER_MMHG
    return out


# ----------------------------------------------------------------------------- cycle metrics
def cycle_metrics(wss_series, dt_s, *, periodic=True, _integrals=None) -> dict:
    """TAWSS, OSI, RRT and ECAP from a WSS vector time series over one cardiac cycle.

    Parameters
    ----------
    wss_series : (T, P, 3) array
        WSS vectors (Pa) at P wall points at T instants, ``dt_s`` apart.
    dt_s : float
        Sampling interval (s).
    periodic : bool
        True: the T samples cover one period T*dt without repeating the first instant
        (rectangle rule, spectrally accurate for periodic data). False: the samples include both
        ends of the interval (T-1)*dt (trapezoidal rule).

    Returns
    -------
    dict of (P,) arrays
        ``tawss_pa`` = (1/T) int |tau| dt; ``osi`` = 1/2 (1 - |int tau dt| / int |tau| dt), 0..0.5;
        ``rrt_1_pa`` = 1 / ((1 - 2 OSI) TAWSS) = T / |int tau dt| (1/Pa; formula UNVERIFIED, see
        docs/metrics.md); ``ecap_1_pa`` = OSI / TAWSS (1/Pa); ``tawss_vector_pa`` (P, 3), the
        time-averaged WSS vector; ``period_s``.
        Points with zero TAWSS get OSI 0 and infinite RRT/ECAP.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(100) / 100.0
    >>> tau = np.zeros((100, 1, 3)); tau[:, 0, 0] = 1.0 + 2.0 * np.cos(2 * np.pi * t)
    >>> m = cycle_metrics(tau, 0.01)
    >>> round(float(m["osi"][0]), 4), round(float(m["rrt_1_pa"][0]), 4)
    (0.1518, 1.0)
    """
    w = np.asarray(wss_series, float)
    if w.ndim != 3 or w.shape[-1] != 3:
        raise ValueError(f"wss_series must have shape (T, P, 3), got {w.shape}")
    if not dt_s > 0:
        raise ValueError(f"dt_s must be > 0, got {dt_s}")
    if _integrals is not None:  # CycleAccumulator: dt_s is the whole period
        int_mag, int_vec = _integrals
        period = float(dt_s)
    else:
        n_t = w.shape[0]
        weights = np.full(n_t, dt_s)
        if not periodic:
            if n_t < 2:
                raise ValueError("periodic=False needs at least 2 samples")
            weights[[0, -1]] = 0.5 * dt_s
        period = float(np.sum(weights))
        int_mag = np.einsum("t,tp->p", weights, np.linalg.norm(w, axis=2))
        int_vec = np.einsum("t,tpa->pa", weights, w)
    tawss = int_mag / period
    mean_vec = int_vec / period
    mean_vec_mag = np.linalg.norm(mean_vec, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        osi = np.where(int_mag > 0, 0.5 * (1.0 - np.linalg.norm(int_vec, axis=1) / int_mag), 0.0)
        osi = np.clip(osi, 0.0, 0.5)
        rrt = np.where(mean_vec_mag > 0, 1.0 / mean_vec_mag, np.inf)
        ecap = np.where(tawss > 0, osi / tawss, np.inf)
    return {"tawss_pa": tawss, "osi": osi, "rrt_1_pa": rrt, "ecap_1_pa": ecap,
            "tawss_vector_pa": mean_vec, "period_s": period}


class CycleAccumulator:
    """Running TAWSS/OSI/RRT/ECAP over a cycle without storing the WSS series.

    ``add(wss (P, 3) in Pa, dt_s)`` once per sample (rectangle rule: each sample stands for
    ``dt_s`` of the cycle); ``result()`` returns the same dict as ``cycle_metrics``.

    Examples
    --------
    >>> import numpy as np
    >>> acc = CycleAccumulator()
    >>> for t in np.arange(100) / 100.0:
    ...     acc.add(np.array([[1.0 + 2.0 * np.cos(2 * np.pi * t), 0.0, 0.0]]), 0.01)
    >>> round(float(acc.result()["osi"][0]), 4)
    0.1518
    """

    def __init__(self):
        self._mag = None
        self._vec = None
        self._t = 0.0

    def add(self, wss_pa, dt_s: float) -> None:
        w = np.asarray(wss_pa, float)
        if w.ndim != 2 or w.shape[1] != 3:
            raise ValueError(f"wss_pa must have shape (P, 3), got {w.shape}")
        if self._mag is None:
            self._mag = np.zeros(len(w))
            self._vec = np.zeros((len(w), 3))
        self._mag += dt_s * np.linalg.norm(w, axis=1)
        self._vec += dt_s * w
        self._t += dt_s

    def result(self) -> dict:
        if self._mag is None or self._t <= 0:
            raise ValueError("no samples added")
        return cycle_metrics(np.stack([self._vec / self._t]), self._t, _integrals=(self._mag, self._vec))


def wss_statistics(values_pa, area_weights=None, *, low_threshold_pa=LOW_WSS_PA) -> dict:
    """Area-weighted summary of a wall scalar (WSS magnitude or TAWSS, Pa).

    Returns ``mean_pa``, ``median_pa``, ``p05_pa``, ``p95_pa``, ``max_pa``, ``min_pa`` and
    ``low_area_fraction`` (fraction of wall area below ``low_threshold_pa``, default 0.4 Pa after
    Malek 1999), ignoring NaN points.
    """
    v = np.asarray(values_pa, float).ravel()
    a = np.ones_like(v) if area_weights is None else np.asarray(area_weights, float).ravel()
    ok = np.isfinite(v) & np.isfinite(a)
    v, a = v[ok], a[ok]
    if v.size == 0 or a.sum() <= 0:
        return {k: float("nan") for k in ("mean_pa", "median_pa", "p05_pa", "p95_pa", "max_pa",
                                          "min_pa", "low_area_fraction")} | {
            "low_threshold_pa": low_threshold_pa}
    order = np.argsort(v)
    cum = np.cumsum(a[order]) / a.sum()

    def q(f):
        return float(v[order][min(np.searchsorted(cum, f), len(v) - 1)])

    return {"mean_pa": float(np.sum(v * a) / a.sum()), "median_pa": q(0.5), "p05_pa": q(0.05),
            "p95_pa": q(0.95), "max_pa": float(v.max()), "min_pa": float(v.min()),
            "low_area_fraction": float(a[v < low_threshold_pa].sum() / a.sum()),
            "low_threshold_pa": float(low_threshold_pa)}


def point_areas(surface) -> np.ndarray:
    """Area (surface units^2) attributed to each point: a third of each adjacent triangle."""
    tri = surface if surface.is_all_triangles else surface.triangulate()
    faces = _triangles(tri)
    p = np.asarray(tri.points, float)
    area = 0.5 * np.linalg.norm(np.cross(p[faces[:, 1]] - p[faces[:, 0]], p[faces[:, 2]] - p[faces[:, 0]]),
                                axis=1)
    out = np.zeros(tri.n_points)
    for k in range(3):
        np.add.at(out, faces[:, k], area / 3.0)
    return out


# ----------------------------------------------------------------------------- pressures
def _arclength(points_mm) -> np.ndarray:
    p = np.asarray(points_mm, float)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])


def _tangents(points_mm) -> np.ndarray:
    p = np.asarray(points_mm, float)
    t = np.gradient(p, axis=0) if len(p) > 1 else np.array([[0.0, 0.0, 1.0]])
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-300)


def cell_tree(cell_centers_m) -> cKDTree:
    """Search tree over the fluid cell centres, built once for every path of a centerline tree."""
    return cKDTree(np.asarray(cell_centers_m, float))


def centerline_pressure_cells(centerline_points_mm, cell_centers_m, *, radius_mm=None, dx_m=None,
                              mm_to_m=1e-3, tree=None) -> list:
    """The fluid cells whose mean is the cross-sectional pressure at each centerline point: a slab
    one cell thick normal to the local tangent, within ``1.2 * radius_mm`` of the point (without
    ``radius_mm``, the cells within 2 cells); the 4 nearest cells where the slab holds none.
    Returns one index array per point (``centerline_pressure``; reused over a cycle's samples).
    ``tree``: ``cell_tree(cell_centers_m)``, when several paths are measured on the same cells."""
    pts = np.asarray(centerline_points_mm, float) * mm_to_m
    centers = np.asarray(cell_centers_m, float)
    tree = tree if tree is not None else cell_tree(centers)
    if dx_m is None:
        d, _ = tree.query(centers[: min(len(centers), 2000)], k=2)
        dx_m = float(np.median(d[:, 1]))
    tang = _tangents(centerline_points_mm)
    if radius_mm is None:
        radii = np.full(len(pts), 2.0 * dx_m)
        slab = np.inf
    else:
        radii = np.broadcast_to(np.asarray(radius_mm, float) * mm_to_m * 1.2, (len(pts),))
        radii = np.maximum(radii, 1.5 * dx_m)
        slab = 0.75 * dx_m
    cells = []
    for c, t, r in zip(pts, tang, radii):
        idx = np.asarray(tree.query_ball_point(c, r=r), int)
        if idx.size and np.isfinite(slab):
            idx = idx[np.abs((centers[idx] - c) @ t) <= slab]
        if idx.size == 0:
            _, idx = tree.query(c, k=min(4, len(centers)))
            idx = np.atleast_1d(idx)
        cells.append(idx)
    return cells


def mean_over_cells(cells, pressure_pa) -> np.ndarray:
    """(..., n) means of ``pressure_pa`` (..., m) over each point's cells."""
    p = np.asarray(pressure_pa, float)
    out = np.full(p.shape[:-1] + (len(cells),), np.nan)
    for i, idx in enumerate(cells):
        out[..., i] = p[..., idx].mean(axis=-1)
    return out


def centerline_pressure(centerline_points_mm, fields, cell_centers_m, *, radius_mm=None, dx_m=None,
                        mm_to_m=1e-3, pressure_pa=None, tree=None) -> np.ndarray:
    """Cross-sectional mean pressure (Pa) at each centerline point.

    For each point, the fluid cells in a slab one cell thick normal to the local centerline
    tangent and within ``1.2 * radius_mm`` of the point are averaged (the cross-section mean the
    pressure drop is defined on). Without ``radius_mm``, the cells within 2 cells of the point.

    Parameters
    ----------
    centerline_points_mm : (n, 3) array
        Ordered centerline points (mm), inlet first.
    fields : dict
        ``Simulation.fields()``; uses ``pressure_pa``.
    cell_centers_m : (m, 3) array
    radius_mm : float or (n,) array, optional
        Local lumen radius (e.g. the centerline's ``radius_mm`` array).
    dx_m : float, optional
        Lattice spacing (m); estimated from the cell centres if omitted.
    pressure_pa : (m,) or (T, m) array, optional
        Use these cell pressures instead of ``fields["pressure_pa"]`` (a time series gives (T, n)).
    tree : cKDTree, optional
        ``cell_tree(cell_centers_m)``, reused over several paths.

    Returns
    -------
    (n,) or (T, n) array of Pa.
    """
    cells = centerline_pressure_cells(centerline_points_mm, cell_centers_m, radius_mm=radius_mm,
                                      dx_m=dx_m, mm_to_m=mm_to_m, tree=tree)
    return mean_over_cells(cells, fields["pressure_pa"] if pressure_pa is None else pressure_pa)


def pressure_at(arclength_mm, pressure_pa, position_mm, *, window_mm=0.0) -> np.ndarray:
    """Pressure at an arclength position: linear interpolation, optionally averaged over a window.

    ``pressure_pa`` is (n,) or (T, n); returns a scalar or (T,).
    """
    s = np.asarray(arclength_mm, float)
    p = np.atleast_2d(np.asarray(pressure_pa, float))
    pos = float(np.clip(position_mm, s[0], s[-1]))
    if window_mm > 0:
        sel = np.abs(s - pos) <= window_mm / 2
        if sel.sum() >= 1:
            vals = np.nanmean(p[:, sel], axis=1)
            return vals[0] if np.ndim(pressure_pa) == 1 else vals
    ok = np.all(np.isfinite(p), axis=0)
    vals = np.array([np.interp(pos, s[ok], row[ok]) for row in p])
    return vals[0] if np.ndim(pressure_pa) == 1 else vals


def _span(lesion, start_mm, end_mm):
    if lesion is not None:
        if hasattr(lesion, "start_mm"):
            return float(lesion.start_mm), float(lesion.end_mm)
        if isinstance(lesion, dict):
            return float(lesion["start_mm"]), float(lesion["end_mm"])
        a, b = lesion
        return float(a), float(b)
    if start_mm is None or end_mm is None:
        raise ValueError("give a lesion (Lesion, dict or (start_mm, end_mm)) or start_mm and end_mm")
    return float(start_mm), float(end_mm)


@dataclass
class _Stations:
    proximal_mm: float
    distal_mm: float


def _stations(arclength_mm, lesion, start_mm, end_mm, margin_mm):
    """Proximal/distal stations, the margins clipped to the centerline (a lesion near an end is
    legitimate); input that cannot give a gradient is refused instead of returning 0 or < 0."""
    a, b = _span(lesion, start_mm, end_mm)
    s = np.asarray(arclength_mm, float)
    if s.ndim != 1 or len(s) < 2 or not np.all(np.isfinite(s)) or np.any(np.diff(s) < 0) or s[-1] <= s[0]:
        raise ValueError("arclength_mm must be a finite, increasing 1-D array of at least 2 points "
                         "(inlet first)")
    if not (math.isfinite(a) and math.isfinite(b) and a <= b):
        raise ValueError(f"lesion span must have finite start_mm <= end_mm, got ({a:g}, {b:g})")
    if margin_mm is None:
        margin_mm = 0.25 * (b - a) + 1.0
    if not (math.isfinite(margin_mm) and margin_mm >= 0):
        raise ValueError(f"margin_mm must be a finite number >= 0, got {margin_mm!r}")
    prox, dist = max(s[0], a - margin_mm), min(s[-1], b + margin_mm)
    # clipping keeps both stations on the centerline unless the lesion lies beyond it
    if prox > s[-1] or dist < s[0]:
        raise ValueError(f"lesion span ({a:g}, {b:g}) mm lies outside the centerline's arclength "
                         f"range [{s[0]:g}, {s[-1]:g}] mm: its stations would fall off the centerline")
    return _Stations(float(prox), float(dist))


def translesional_gradient(arclength_mm, pressure_pa, lesion=None, *, start_mm=None, end_mm=None,
                           margin_mm=None, window_mm=1.0) -> dict:
    """Pressure drop across a lesion, proximal station minus distal station (mmHg).

    The proximal station is ``margin_mm`` before the lesion start, the distal one ``margin_mm``
    after its end (clipped to the centerline), default margin a quarter of the lesion length plus
    1 mm, so that the distal station lies past the jet's vena contracta but before full recovery.

    Parameters
    ----------
    arclength_mm : (n,) array
        Arclength of the centerline points (mm), inlet first.
    pressure_pa : (n,) or (T, n) array
        Centerline pressure (Pa): one steady profile or a time series over one cycle.
    lesion : Lesion, dict or (start_mm, end_mm), optional
        The lesion span; or give ``start_mm`` and ``end_mm``.
    margin_mm : float, optional
    window_mm : float
        Pressures are averaged over this arclength window at each station.

    Returns
    -------
    dict
        ``mean_mmhg`` (time-mean of P_prox - P_dist), ``peak_to_peak_mmhg`` (max P_prox - max
        P_dist, the catheter pull-back measure), ``peak_instantaneous_mmhg`` (max over time of
        P_prox - P_dist), ``proximal_mm`` and ``distal_mm`` (station arclengths). For a steady
        profile all three gradients are equal.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.linspace(0, 40, 81); p = np.where(s < 20, 2000.0, 0.0)
    >>> round(translesional_gradient(s, p, (18.0, 22.0))["mean_mmhg"], 2)
    15.0
    """
    st = _stations(arclength_mm, lesion, start_mm, end_mm, margin_mm)
    pp = np.atleast_1d(pressure_at(arclength_mm, pressure_pa, st.proximal_mm, window_mm=window_mm))
    pd = np.atleast_1d(pressure_at(arclength_mm, pressure_pa, st.distal_mm, window_mm=window_mm))
    dp = pp - pd
    return {"mean_mmhg": float(np.mean(dp) / PA_PER_MMHG),
            "peak_to_peak_mmhg": float((np.max(pp) - np.max(pd)) / PA_PER_MMHG),
            "peak_instantaneous_mmhg": float(np.max(dp) / PA_PER_MMHG),
            "proximal_mm": st.proximal_mm, "distal_mm": st.distal_mm}


def pd_pa(arclength_mm, pressure_pa, lesion=None, *, start_mm=None, end_mm=None, margin_mm=None,
          pa_position_mm=None, offset_pa=0.0, window_mm=1.0, strict=False) -> dict:
    """Pd/Pa: time-mean distal pressure over time-mean aortic (proximal) pressure.

    FFR is Pd/Pa at maximal hyperemia, ischemic at <= 0.80 (REFERENCE.md sec. 4); computed at rest
    or on an arbitrary inflow this is only an FFR-like ratio. It needs ABSOLUTE pressures: the
    solver's pressure is gauge relative to the outlet condition, so pass ``offset_pa`` (the
    pressure that gauge zero stands for) unless the outlets already carry physiological
    pressures (RCR outlets tuned to a mean pressure).

    Parameters
    ----------
    arclength_mm, pressure_pa, lesion, start_mm, end_mm, margin_mm, window_mm
        As in ``translesional_gradient``; Pd is taken at its distal station.
    pa_position_mm : float, optional
        Where Pa is taken; default the first centerline point (the inlet, i.e. the ostium of a
        coronary model).
    offset_pa : float
        Added to every pressure before the ratio (Pa).
    strict : bool
        Raise ValueError when Pa is not positive; default: warn and return ``pd_pa`` NaN with an
        ``error`` message (a pipeline keeps going).

    Returns
    -------
    dict
        ``pd_pa`` (ratio), ``pa_mmhg``, ``pd_mmhg`` (absolute, time-mean), ``pa_mm``, ``pd_mm``;
        ``warning`` when Pa is no physiological aortic pressure (``nonphysiological_pa``).
    """
    s = np.asarray(arclength_mm, float)
    st = _stations(s, lesion, start_mm, end_mm, margin_mm)
    pa_pos = float(s[0]) if pa_position_mm is None else float(pa_position_mm)
    pa = float(np.mean(pressure_at(s, pressure_pa, pa_pos, window_mm=window_mm))) + offset_pa
    pd = float(np.mean(pressure_at(s, pressure_pa, st.distal_mm, window_mm=window_mm))) + offset_pa
    if pa <= 0:
        if strict:
            raise ValueError(f"Pa = {pa:.4g} Pa is not positive: Pd/Pa needs absolute pressures; "
                             "pass offset_pa (e.g. the mean aortic pressure imposed at the outlets)")
        msg = (f"Pd/Pa undefined: Pa = {pa:.4g} Pa is not positive (gauge pressures from "
               "zero-pressure outlets?); pass offset_pa")
        warnings.warn(msg, stacklevel=2)
        return {"pd_pa": float("nan"), "pa_mmhg": pa / PA_PER_MMHG, "pd_mmhg": pd / PA_PER_MMHG,
                "pa_mm": pa_pos, "pd_mm": st.distal_mm, "error": msg}
    out = {"pd_pa": pd / pa, "pa_mmhg": pa / PA_PER_MMHG, "pd_mmhg": pd / PA_PER_MMHG,
           "pa_mm": pa_pos, "pd_mm": st.distal_mm}
    why = nonphysiological_pa(out["pa_mmhg"])
    if why:
        out["warning"] = why
    return out


def nonphysiological_pa(pa_mmhg) -> str | None:
    """Why a Pd/Pa against this proximal pressure (mmHg) is no FFR-like ratio, or None: under
    ``MIN_AORTIC_PRESSURE_MMHG`` the outlets' pressure level (zero-pressure outlets, a low distal
    pressure), not a patient's aortic pressure, sets Pa."""
    if pa_mmhg is None or not np.isfinite(pa_mmhg) or pa_mmhg >= MIN_AORTIC_PRESSURE_MMHG:
        return None
    return (f"it is taken against a proximal pressure of {pa_mmhg:.1f} mmHg, not a physiological "
            "aortic pressure (the outlets' pressure level sets it): it is not an FFR-like ratio")


# ----------------------------------------------------------------------------- flows
def flow_splits(port_flows, *, roles=None) -> dict:
    """Flow splits from port flows (m^3/s, positive OUT of the fluid, as the solver reports).

    Parameters
    ----------
    port_flows : dict name -> float or array
        Flow at each port; arrays (time series) are averaged.
    roles : dict name -> "inlet" | "outlet", optional
        Port roles; default: a negative mean flow is an inlet.

    Returns
    -------
    dict
        ``inflow_ml_s`` (total in), ``outflow_ml_s`` (total out), ``imbalance`` (|in - out| / in),
        ``ports``: {name: {"flow_ml_s": signed (out positive), "fraction": share of the total
        outflow for outlets / of the total inflow for inlets}}.

    Examples
    --------
    >>> r = flow_splits({"inlet": -10e-6, "a": 6e-6, "b": 4e-6})
    >>> r["ports"]["a"]["fraction"], round(r["imbalance"], 12)
    (0.6, 0.0)
    """
    mean = {k: float(np.mean(v)) for k, v in port_flows.items()}
    roles = roles or {k: ("inlet" if q < 0 else "outlet") for k, q in mean.items()}
    q_in = sum(-q for k, q in mean.items() if roles[k] == "inlet")
    q_out = sum(q for k, q in mean.items() if roles[k] == "outlet")
    ports = {}
    for k, q in mean.items():
        total = q_in if roles[k] == "inlet" else q_out
        frac = (-q if roles[k] == "inlet" else q) / total if total else float("nan")
        ports[k] = {"role": roles[k], "flow_ml_s": q * 1e6, "fraction": round(frac, 12)}
    return {"inflow_ml_s": q_in * 1e6, "outflow_ml_s": q_out * 1e6,
            "imbalance": abs(q_in - q_out) / q_in if q_in else float("nan"), "ports": ports}

