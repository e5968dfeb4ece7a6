# SPDX-License-Identifier: Apache-2.0
"""Voxelize a closed, port-capped triangle surface into a LatticeDomain with exact link q.

Inside test: parity of ray crossings along x for every (j, k) row of cell centres. Walls: every
link from a fluid cell to a solid cell is intersected exactly with the triangles (Moller-Trumbore,
triangles binned in a uniform grid) and ``q`` is the first hit's fraction of the link. Port
cells: non-fluid cells one link beyond the fluid whose centre lies beyond a cap, over the cap.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..lattice import FLUID, MAX_PORTS, PORT_BASE, SOLID, C
from .raytri import TriangleGrid, first_hits, row_crossings
from .voxelize import PortPlane, _dilate_links, _links_leaving, _make_domain, choose_spacing

__all__ = ["voxelize_surface", "voxelize_triangles"]


def voxelize_surface(
    surface, ports, dx_m=None, cells_across=10.0, scale_to_m=1e-3, pad_cells=2, warn_below=8.0
):
    """Voxelize a capped lumen surface (from ``geometry.surface.extract_surface``).

    Parameters
    ----------
    surface : pyvista.PolyData
        Closed triangle surface in mm with cell array ``port_id`` (-1 wall, p cap of port p).
    ports : sequence of Port (or PortPlane)
        Ports in the order of ``port_id``; Port geometry in mm, PortPlane in m.
    dx_m : float, optional
        Lattice spacing (m); default from ``cells_across`` over the narrowest port diameter.
    cells_across : float
        Cells across the narrowest port diameter when ``dx_m`` is not given (default 10).
    scale_to_m : float
        Factor from surface units to metres (1e-3 for mm).
    pad_cells : int
        Solid cells around the bounding box.
    warn_below : float
        Warn when a port has fewer cells across its diameter.

    Returns
    -------
    LatticeDomain
    """
    faces = surface.faces.reshape(-1, 4)
    if not np.all(faces[:, 0] == 3):
        raise ValueError("voxelize_surface needs a triangle surface (triangulate() it first)")
    tri = faces[:, 1:]
    labels = (
        np.asarray(surface.cell_data["port_id"])
        if "port_id" in surface.cell_data
        else np.full(len(tri), -1)
    )
    planes = []
    for p in ports:
        if isinstance(p, PortPlane):
            planes.append(p)
        else:
            planes.append(
                PortPlane(
                    p.name,
                    p.role,
                    np.asarray(p.center_mm) * scale_to_m,
                    p.normal,
                    float(p.radius_mm) * scale_to_m,
                )
            )
    verts = np.asarray(surface.points, float) * scale_to_m
    if dx_m is None:
        dx_m = choose_spacing([p.radius_m for p in planes], cells_across)
    dom = voxelize_triangles(verts, tri, labels, planes, dx_m, pad_cells)
    for p in planes:
        across = 2 * p.radius_m / dx_m
        if across < warn_below:
            warnings.warn(
                f"port {p.name!r}: only {across:.1f} cells across (< {warn_below:g}); "
                "use a smaller dx",
                UserWarning,
                stacklevel=2,
            )
    return dom


def voxelize_triangles(verts_m, tri, labels, planes, dx_m, pad_cells=2, origin_m=None, shape=None):
    """Core of ``voxelize_surface`` on raw arrays (vertices in m, triangles, per-triangle port id)."""
    if len(planes) > MAX_PORTS:
        raise ValueError(f"{len(planes)} ports; the lattice supports at most {MAX_PORTS}")
    dx = float(dx_m)
    v = np.asarray(verts_m, float)
    tri = np.asarray(tri, np.int64)
    labels = np.asarray(labels, np.int64)
    if origin_m is None or shape is None:
        lo = v.min(0)
        hi = v.max(0)
        # half a cell off the surface's extreme vertices so centres do not sit on them
        origin_m = lo - (pad_cells + 0.5) * dx
        shape = tuple(int(math.ceil((hi[a] - lo[a]) / dx)) + 1 + 2 * pad_cells for a in range(3))
    origin_m = np.asarray(origin_m, float)
    fluid = inside_cells(v, tri, dx, origin_m, shape)
    cell = np.zeros(shape, np.uint8)
    cell[fluid] = FLUID
    # port cells
    if planes:
        cap = labels >= 0
        cand = np.argwhere(_dilate_links(fluid))
        x = origin_m + cand * dx
        if cap.any():
            cgrid = TriangleGrid(v, tri[cap], bin_size=4 * dx, margin=2 * dx)
            cap_lab = labels[cap]
            best = np.full(len(cand), -1)
            best_h = np.full(len(cand), np.inf)
            for p, pl in enumerate(planes):
                h = (x - pl.center_m) @ pl.normal
                sel = np.nonzero((h >= 0) & (h <= math.sqrt(3) * dx + 1e-12) & (h < best_h))[0]
                if not len(sel):
                    continue
                # the cell is over the cap if the segment back to the plane hits cap p
                d = -(h[sel, None] + 1e-6 * dx) * pl.normal[None, :]
                t, ti = first_hits(cgrid, x[sel], d)
                ok = np.isfinite(t) & (cap_lab[np.maximum(ti, 0)] == p)
                best[sel[ok]] = p
                best_h[sel[ok]] = h[sel[ok]]
            m = best >= 0
            cell[tuple(cand[m].T)] = (PORT_BASE + best[m]).astype(np.uint8)
    links = _links_leaving(fluid, cell == SOLID)
    # bins of one cell; a link (<= sqrt(2) dx) is within 0.71 dx of its midpoint
    grid = TriangleGrid(v, tri, bin_size=dx, margin=0.75 * dx)
    p0 = origin_m + links[:, :3] * dx
    d = C[links[:, 3]] * dx
    t, _ = first_hits(grid, p0, d)
    miss = ~np.isfinite(t)
    if miss.any():
        # a cell centre within round-off of the surface: parity and link test disagree
        if miss.mean() > 1e-3:
            warnings.warn(
                f"{int(miss.sum())} of {len(t)} wall links found no wall; q = 0.5 used",
                UserWarning,
                stacklevel=2,
            )
        t[miss] = 0.5
    q = np.clip(t, np.finfo(float).tiny, 1.0)
    return _make_domain(cell, dx, origin_m, links, q, planes)


def inside_cells(verts, tri, dx, origin, shape):
    """Cells of the grid ``origin + dx * ijk`` whose centre lies inside the closed surface.

    Any consistent length unit (verts, dx and origin alike). Parity of the crossings along +x.
    """
    v = np.asarray(verts, float)
    tri = np.asarray(tri, np.int64)
    origin_m = np.asarray(origin, float)
    nx, ny, nz = shape
    # inside by crossing parity along +x: a crossing at x toggles all cells with centre > x
    # rows nudged by an irrational 1e-7 dx so they never pass exactly through mesh edges or
    # vertices (marching-cubes meshes have vertices on grid lines); only cells within 1e-7 dx
    # of the wall can change side
    ys = origin_m[1] + dx * (np.arange(ny) + 1.0e-7 * math.sqrt(2.0))
    zs = origin_m[2] + dx * (np.arange(nz) + 1.0e-7 * math.sqrt(3.0))
    jj, kk, xx = row_crossings(v, tri, ys, zs)
    i0 = np.clip(np.ceil((xx - origin_m[0]) / dx).astype(np.int64), 0, nx)
    toggles = np.zeros((nx + 1, ny, nz), np.int8)
    np.add.at(toggles, (i0, jj, kk), 1)
    fluid = (np.cumsum(toggles, axis=0, dtype=np.int16)[:nx] % 2).astype(bool)
    del toggles
    return fluid
