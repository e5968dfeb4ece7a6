# SPDX-License-Identifier: Apache-2.0
"""Voxelization of a flow domain into the solver's lattice (``hemotwin.lattice.LatticeDomain``).

Two paths: an analytic implicit function (phantoms, verification; q by bisection to 1e-12) and a
closed, port-labelled triangle surface (q by exact ray/triangle intersection along each link).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..lattice import FLUID, MAX_PORTS, PORT_BASE, SOLID, C, LatticeDomain

__all__ = [
    "PortPlane",
    "choose_spacing",
    "domain_report",
    "nozzle_domain",
    "sphere_domain",
    "sphere_sdf",
    "tube_domain",
    "tube_sdf",
    "voxelize_implicit",
    "voxelize_surface",
]

# Bytes per fluid cell the solver is expected to hold: 19 float32 populations (in-place
# streaming, one buffer) + rho, u (4 float32) + neighbour index table (19 int32).
_BYTES_PER_FLUID_CELL = 19 * 4 + 4 * 4 + 19 * 4


@dataclass
class PortPlane:
    """A planar port (inlet/outlet) cutting the domain.

    Parameters
    ----------
    name : str
        Stable port name, e.g. ``"inlet"``, ``"outlet_1"``.
    role : str
        ``"inlet"`` or ``"outlet"``.
    center_m : array_like, shape (3,)
        Centre of the port disc (m).
    normal : array_like, shape (3,)
        Unit normal pointing OUT of the fluid.
    radius_m : float
        Equivalent radius of the port cross-section (m); cells within ``1.5 * radius_m`` of the
        axis through the centre and beyond the plane may become port cells.
    """

    name: str
    role: str
    center_m: np.ndarray
    normal: np.ndarray
    radius_m: float

    def __post_init__(self):
        self.center_m = np.asarray(self.center_m, float).reshape(3)
        n = np.asarray(self.normal, float).reshape(3)
        self.normal = n / np.linalg.norm(n)
        self.radius_m = float(self.radius_m)
        if self.role not in ("inlet", "outlet"):
            raise ValueError(
                f"port {self.name!r}: role must be 'inlet' or 'outlet', got {self.role!r}"
            )


# ----------------------------------------------------------------------------- analytic shapes
def tube_sdf(radius_m: float, axis: str = "z", center_m=(0.0, 0.0, 0.0)) -> Callable:
    """Signed distance (m, negative inside) of an infinite circular cylinder.

    Parameters
    ----------
    radius_m : float
        Cylinder radius (m).
    axis : {"x", "y", "z"}
        Cylinder axis direction.
    center_m : array_like, shape (3,)
        A point on the axis (m).
    """
    a = "xyz".index(axis)
    perp = [d for d in range(3) if d != a]
    c = np.asarray(center_m, float)

    def f(p):
        p = np.asarray(p, float)
        return np.hypot(p[..., perp[0]] - c[perp[0]], p[..., perp[1]] - c[perp[1]]) - radius_m

    return f


def sphere_sdf(radius_m: float, center_m=(0.0, 0.0, 0.0)) -> Callable:
    """Signed distance (m, negative inside) of a sphere of ``radius_m`` at ``center_m``."""
    c = np.asarray(center_m, float)

    def f(p):
        return np.linalg.norm(np.asarray(p, float) - c, axis=-1) - radius_m

    return f


# ----------------------------------------------------------------------------- lattice helpers
def _neighbour_slices(d: int):
    """Slices (src, dst) so that arr[dst] is the neighbour of arr[src] in direction d."""
    src, dst = [], []
    for comp in C[d]:
        if comp == 1:
            src.append(slice(0, -1))
            dst.append(slice(1, None))
        elif comp == -1:
            src.append(slice(1, None))
            dst.append(slice(0, -1))
        else:
            src.append(slice(None))
            dst.append(slice(None))
    return tuple(src), tuple(dst)


def _links_leaving(fluid: np.ndarray, target: np.ndarray):
    """(i, j, k, d) of every link from a fluid cell into a cell where ``target`` is True."""
    out = []
    for d in range(1, 19):
        src, dst = _neighbour_slices(d)
        hit = fluid[src] & target[dst]
        ijk = np.argwhere(hit)
        if ijk.size:
            # argwhere indexes the sliced view; shift back to full-array indices
            off = np.array([s.start or 0 for s in src])
            ijk = ijk + off
            out.append(np.column_stack([ijk, np.full(len(ijk), d)]))
    if not out:
        return np.zeros((0, 4), np.int64)
    return np.concatenate(out).astype(np.int64)


def _dilate_links(mask: np.ndarray) -> np.ndarray:
    """Cells reachable by one D3Q19 link from a True cell (the mask itself excluded)."""
    out = np.zeros_like(mask)
    for d in range(1, 19):
        src, dst = _neighbour_slices(d)
        out[dst] |= mask[src]
    return out & ~mask


def _grid_centers(origin_m, dx_m, shape):
    ax = [origin_m[a] + dx_m * np.arange(shape[a]) for a in range(3)]
    return ax


def _check_padding(fluid: np.ndarray):
    if (
        fluid[0].any()
        or fluid[-1].any()
        or fluid[:, 0].any()
        or fluid[:, -1].any()
        or fluid[:, :, 0].any()
        or fluid[:, :, -1].any()
    ):
        raise ValueError("fluid touches the lattice bounding box; enlarge the bounds (padding)")


def _assign_ports(fluid, inside_ext, centers, dx_m, origin_m, ports):
    """Cell-type volume with port cells: non-fluid cells one link beyond a fluid cell, inside the
    (extended) vessel and on the outer side of a port plane, near that port's disc."""
    cell = np.zeros(fluid.shape, np.uint8)
    cell[fluid] = FLUID
    if not ports:
        return cell
    if len(ports) > MAX_PORTS:
        raise ValueError(f"{len(ports)} ports; the lattice supports at most {MAX_PORTS}")
    cand = _dilate_links(fluid)
    if inside_ext is not None:
        cand &= inside_ext
    idx = np.argwhere(cand)
    if idx.size == 0:
        return cell
    pts = np.asarray(origin_m, float) + idx * dx_m
    best = np.full(len(idx), -1)
    best_d = np.full(len(idx), np.inf)
    for p, port in enumerate(ports):
        rel = pts - port.center_m
        h = rel @ port.normal
        lateral = np.linalg.norm(rel - h[:, None] * port.normal, axis=1)
        # beyond the plane by at most one diagonal link, within the port's disc (+ margin)
        ok = (
            (h >= -1e-12 * dx_m)
            & (h <= math.sqrt(3) * dx_m + 1e-12)
            & (lateral <= 1.5 * port.radius_m + 2 * dx_m)
        )
        closer = ok & (h < best_d)
        best[closer] = p
        best_d[closer] = h[closer]
    sel = best >= 0
    cell[tuple(idx[sel].T)] = (PORT_BASE + best[sel]).astype(np.uint8)
    return cell


# ----------------------------------------------------------------------------- implicit path
def voxelize_implicit(
    inside_fn: Callable,
    lower_m,
    upper_m,
    dx_m: float,
    ports: Sequence[PortPlane] = (),
    pad_cells: int = 2,
    q_tol: float = 1e-12,
    origin_m=None,
    shape=None,
) -> LatticeDomain:
    """Voxelize an analytic domain ``inside_fn(x) < 0`` clipped by port planes.

    Fluid cells are cell centres with ``inside_fn < 0`` on the inner side of every port plane.
    A link from a fluid cell to a cell with ``inside_fn >= 0`` is a wall link whose ``q`` is found
    by bisection of ``inside_fn`` along the link (first sign change, to ``q_tol``). A non-fluid
    cell one link beyond a fluid cell, with ``inside_fn < 0`` and on the outer side of port ``p``,
    becomes a port cell ``2 + p``.

    Parameters
    ----------
    inside_fn : callable
        ``f(points)`` for points of shape (..., 3) in metres, negative inside the (extended)
        vessel; vectorized. Need not be a true distance, only continuous with the right sign.
    lower_m, upper_m : array_like, shape (3,)
        Bounding box of the fluid (m); ``pad_cells`` cells are added on every side.
    dx_m : float
        Lattice spacing (m).
    ports : sequence of PortPlane
        Port planes; port ``p`` in this sequence gets cell type ``2 + p``.
    pad_cells : int
        Cells added around the box (>= 2 so port cells and wall neighbours fit).
    q_tol : float
        Bisection tolerance on q (fraction of the link).
    origin_m, shape : optional
        Give the lattice origin (m, centre of cell 0,0,0) and shape explicitly instead of
        deriving them from the box.

    Returns
    -------
    LatticeDomain

    Examples
    --------
    >>> from hemotwin.geometry.voxelize import voxelize_implicit, sphere_sdf
    >>> dom = voxelize_implicit(sphere_sdf(1e-3), [-1e-3] * 3, [1e-3] * 3, 2e-4)
    >>> dom.n_fluid > 0 and bool((dom.wall_q > 0).all() and (dom.wall_q <= 1).all())
    True
    """
    dx_m = float(dx_m)
    if origin_m is None or shape is None:
        lo = np.asarray(lower_m, float)
        hi = np.asarray(upper_m, float)
        origin_m = lo - pad_cells * dx_m
        shape = tuple(int(math.ceil((hi[a] - lo[a]) / dx_m)) + 1 + 2 * pad_cells for a in range(3))
    origin_m = np.asarray(origin_m, float)
    ax = _grid_centers(origin_m, dx_m, shape)
    X, Y, Z = np.meshgrid(*ax, indexing="ij")
    P = np.stack([X, Y, Z], axis=-1)
    inside = np.asarray(inside_fn(P)) < 0
    fluid = inside.copy()
    for port in ports:
        fluid &= ((P - port.center_m) @ port.normal) < 0
    del P, X, Y, Z
    _check_padding(fluid)
    cell = _assign_ports(fluid, inside, None, dx_m, origin_m, list(ports))
    wall_target = ~inside & (cell == SOLID)
    links = _links_leaving(fluid, wall_target)
    q = _q_bisect(inside_fn, links, origin_m, dx_m, q_tol)
    return _make_domain(cell, dx_m, origin_m, links, q, ports)


def _q_bisect(inside_fn, links, origin_m, dx_m, tol):
    if len(links) == 0:
        return np.zeros(0)
    x0 = origin_m + links[:, :3] * dx_m
    step = C[links[:, 3]] * dx_m
    # Coarse scan finds the FIRST sign change on the link (a thin wall may be crossed twice).
    n_scan = 8
    ts = np.linspace(0.0, 1.0, n_scan + 1)
    vals = np.stack([inside_fn(x0 + t * step) for t in ts], axis=1)
    first = np.argmax(vals >= 0, axis=1)
    first = np.maximum(first, 1)
    a = ts[first - 1].copy()
    b = ts[first].copy()
    n_iter = int(math.ceil(math.log2((1.0 / n_scan) / tol))) + 1
    for _ in range(n_iter):
        m = 0.5 * (a + b)
        fm = inside_fn(x0 + m[:, None] * step)
        out = fm >= 0
        b = np.where(out, m, b)
        a = np.where(out, a, m)
    q = 0.5 * (a + b)
    # A wall exactly on the fluid centre is not representable; keep q inside (0, 1].
    return np.clip(q, np.finfo(float).tiny, 1.0)


def _make_domain(cell, dx_m, origin_m, links, q, ports):
    ports = list(ports)
    return LatticeDomain(
        cell_type=cell,
        spacing_m=float(dx_m),
        origin_m=np.asarray(origin_m, float),
        wall_links=np.ascontiguousarray(links, dtype=np.int32).reshape(-1, 4),
        wall_q=np.ascontiguousarray(q, dtype=np.float64),
        port_names=[p.name for p in ports],
        port_roles=[p.role for p in ports],
        port_normals=np.array([p.normal for p in ports], float).reshape(-1, 3),
        port_centers_m=np.array([p.center_m for p in ports], float).reshape(-1, 3),
        port_radii_m=np.array([p.radius_m for p in ports], float).reshape(-1),
    )


# ----------------------------------------------------------------------------- helpers for tests/solver
def tube_domain(
    radius_m: float,
    length_m: float,
    dx_m: float,
    axis: str = "z",
    offset_cells=(0.5, 0.5),
    pad_cells: int = 2,
) -> LatticeDomain:
    """Analytic straight circular tube: ``inlet`` at the low end, ``outlet`` at the high end.

    The tube axis is parallel to ``axis`` and passes through the physical point 0 in the two
    cross-section coordinates. Along the axis the fluid fills exactly ``0 < s < length_m``: fluid
    cell centres sit at ``s = (n + 1/2) dx`` for ``n = 0 .. N-1`` with ``N = round(length_m / dx_m)``
    (the effective length is ``N * dx_m``), so both end planes lie half-way between cell centres
    (flat cut). The layer just beyond each end, inside the radius, is a port layer: cell type
    ``2 + 0`` (inlet, normal ``-axis``) below ``s = 0`` and ``2 + 1`` (outlet, normal ``+axis``)
    above ``s = N dx``. Wall links carry the exact ``q`` to the cylinder ``r = radius_m``.

    Parameters
    ----------
    radius_m : float
        Tube radius (m).
    length_m : float
        Tube length (m); rounded to a whole number of cells.
    dx_m : float
        Lattice spacing (m).
    axis : {"x", "y", "z"}
        Flow direction (inlet to outlet along +axis).
    offset_cells : tuple of 2 floats
        Position of the tube axis relative to the cell-centre grid in the two cross-section
        directions, in cells (0.5 = axis half-way between cells: symmetric; 0.0 = through cell
        centres; anything else tests off-lattice walls).
    pad_cells : int
        Solid cells around the tube cross-section (>= 1) and beyond each port layer.

    Returns
    -------
    LatticeDomain
        ``port_names == ["inlet", "outlet"]``, ``port_roles == ["inlet", "outlet"]``.

    Examples
    --------
    >>> from hemotwin.geometry.voxelize import tube_domain
    >>> dom = tube_domain(radius_m=1e-3, length_m=4e-3, dx_m=1e-4)
    >>> dom.port_names, dom.shape[2]
    (['inlet', 'outlet'], 46)
    """
    # bad input fails here, by name, instead of as an IndexError/ZeroDivisionError further down
    for name, v in (("radius_m", radius_m), ("length_m", length_m), ("dx_m", dx_m)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"tube_domain: {name} must be a number (m), got {v!r}")
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"tube_domain: {name} must be a finite number > 0 (m), got {v!r}")
    if axis not in ("x", "y", "z"):
        raise ValueError(f"tube_domain: axis must be 'x', 'y' or 'z', got {axis!r}")
    if len(offset_cells) != 2 or not all(math.isfinite(float(o)) for o in offset_cells):
        raise ValueError(f"tube_domain: offset_cells must be 2 finite numbers, got {offset_cells!r}")
    if isinstance(pad_cells, bool) or not isinstance(pad_cells, numbers.Integral) or pad_cells < 1:
        raise ValueError(f"tube_domain: pad_cells must be an integer >= 1, got {pad_cells!r}")
    a = "xyz".index(axis)
    perp = [d for d in range(3) if d != a]
    dx_m = float(dx_m)
    n_len = max(1, int(round(length_m / dx_m)))
    eff_len = n_len * dx_m
    n_r = int(math.ceil(radius_m / dx_m)) + 1 + pad_cells
    shape = [0, 0, 0]
    origin = np.zeros(3)
    # along the axis: pad solid, 1 port layer, n_len fluid layers, 1 port layer, pad solid
    shape[a] = n_len + 2 + 2 * pad_cells
    origin[a] = (0.5 - 1 - pad_cells) * dx_m
    for d, off in zip(perp, offset_cells):
        # cross-section centre of cell m is (m - n_r + off) dx: off = 0.5 puts the axis half-way
        # between cells n_r - 1 and n_r
        shape[d] = 2 * n_r + 1
        origin[d] = (float(off) - n_r) * dx_m
    axis_vec = np.zeros(3)
    axis_vec[a] = 1.0
    ports = [
        PortPlane("inlet", "inlet", np.zeros(3), -axis_vec, radius_m),
        PortPlane("outlet", "outlet", axis_vec * eff_len, axis_vec, radius_m),
    ]
    return voxelize_implicit(
        tube_sdf(radius_m, axis), None, None, dx_m, ports, origin_m=origin, shape=tuple(shape)
    )


def sphere_domain(radius_m: float, dx_m: float, center_m=(0.0, 0.0, 0.0)) -> LatticeDomain:
    """Closed sphere (no ports) with exact wall ``q``; for wall-distance verification.

    Parameters
    ----------
    radius_m : float
        Sphere radius (m).
    dx_m : float
        Lattice spacing (m).
    center_m : array_like, shape (3,)
        Sphere centre (m); off-grid centres give generic q values.
    """
    c = np.asarray(center_m, float)
    return voxelize_implicit(sphere_sdf(radius_m, c), c - radius_m, c + radius_m, dx_m)


def nozzle_domain(
    dx_m: float,
    throat_radius_m: float = 2e-3,
    inlet_radius_m: float = 6e-3,
    cone_length_m: float = 22.685e-3,
    throat_length_m: float = 40e-3,
    outlet_length_m: float = 40e-3,
    inlet_length_m: float = 20e-3,
) -> LatticeDomain:
    """FDA benchmark nozzle (conical converger, throat, sudden expansion), flow along +z.

    Default dimensions follow the FDA "critical path" nozzle (throat diameter 4 mm, inlet and
    outlet diameter 12 mm, cone half-angle ~10 deg, throat length 40 mm); the lengths of the
    straight inlet/outlet pipes are shortened for tests.

    Parameters
    ----------
    dx_m : float
        Lattice spacing (m).
    """
    z1 = inlet_length_m
    z2 = z1 + cone_length_m
    z3 = z2 + throat_length_m
    z4 = z3 + outlet_length_m

    def radius(z):
        t = np.clip((z - z1) / cone_length_m, 0.0, 1.0)
        r = inlet_radius_m + t * (throat_radius_m - inlet_radius_m)
        return np.where(z >= z3, inlet_radius_m, r)

    def f(p):
        p = np.asarray(p, float)
        return np.hypot(p[..., 0], p[..., 1]) - radius(p[..., 2])

    ez = np.array([0.0, 0.0, 1.0])
    ports = [
        PortPlane("inlet", "inlet", np.zeros(3), -ez, inlet_radius_m),
        PortPlane("outlet", "outlet", ez * z4, ez, inlet_radius_m),
    ]
    R = inlet_radius_m
    return voxelize_implicit(f, [-R, -R, 0.0], [R, R, z4], dx_m, ports)


# ----------------------------------------------------------------------------- spacing/report
def choose_spacing(port_radii_m, cells_across: float = 10.0) -> float:
    """Lattice spacing (m) giving ``cells_across`` cells over the narrowest port diameter.

    Parameters
    ----------
    port_radii_m : array_like
        Equivalent radii of the ports (m).
    cells_across : float
        Cells across the narrowest port diameter (default 10).
    """
    r = np.asarray(port_radii_m, float)
    if r.size == 0 or not np.all(r > 0):
        raise ValueError("choose_spacing needs positive port radii")
    return float(2.0 * r.min() / cells_across)


def domain_report(domain: LatticeDomain, warn_below: float = 8.0) -> dict:
    """Cell count, memory estimate and resolution per port of a lattice.

    Parameters
    ----------
    domain : LatticeDomain
    warn_below : float
        Warn (``UserWarning``) when a port has fewer cells across its diameter.

    Returns
    -------
    dict
        ``shape``, ``n_cells``, ``n_fluid``, ``n_wall_links``, ``memory_bytes_estimate``,
        ``dx_m``, ``ports``: list of {``name``, ``role``, ``radius_m``, ``cells_across``,
        ``n_port_cells``}.
    """
    cell = domain.cell_type
    n_fluid = domain.n_fluid
    rep = {
        "shape": list(domain.shape),
        "n_cells": int(cell.size),
        "n_fluid": n_fluid,
        "n_wall_links": len(domain.wall_q),
        "dx_m": float(domain.spacing_m),
        # dense cell-type volume + sparse solver state + wall link table
        "memory_bytes_estimate": int(
            cell.size + n_fluid * _BYTES_PER_FLUID_CELL + len(domain.wall_q) * (16 + 8)
        ),
        "ports": [],
    }
    for p, name in enumerate(domain.port_names):
        across = 2.0 * float(domain.port_radii_m[p]) / domain.spacing_m
        rep["ports"].append(
            {
                "name": name,
                "role": domain.port_roles[p],
                "radius_m": float(domain.port_radii_m[p]),
                "cells_across": across,
                "n_port_cells": int(np.count_nonzero(cell == PORT_BASE + p)),
            }
        )
        if across < warn_below:
            warnings.warn(
                f"port {name!r} has only {across:.1f} cells across its diameter "
                f"(< {warn_below:g}); refine dx",
                UserWarning,
                stacklevel=2,
            )
    return rep


def voxelize_surface(*args, **kwargs):  # defined below once the surface path is loaded
    from .voxelize_surface import voxelize_surface as _vs

    return _vs(*args, **kwargs)
