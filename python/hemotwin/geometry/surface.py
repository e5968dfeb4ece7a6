# SPDX-License-Identifier: Apache-2.0
"""Lumen surface from a mask or level set: marching cubes, windowed-sinc smoothing, decimation,
flat cuts at the ports with port-labelled caps, watertightness and self-intersection checks.

Cell array ``port_id`` on the surface: -1 for the vessel wall, p for the cap of port p.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from .grid import grid_of
from .ports import Port

__all__ = [
    "add_flow_extensions",
    "cap_ports",
    "check_surface",
    "extract_surface",
    "wall_of",
    "write_surface",
]


# a second opening cut by a port's plane near the port (a twig of the vessel, a sliver) stays open
# as part of the port only from this share of the port's main opening; smaller ones are wall
SECONDARY_OPENING_SHARE = 0.05


def _pv():
    import pyvista as pv

    return pv


def extract_surface(
    mask,
    geom,
    ports=(),
    levelset=None,
    smooth_iterations=40,
    pass_band=0.02,
    target_edge_mm=None,
    pad_voxels=4,
    cap=True,
):
    """Closed lumen surface (mm, physical LPS) with flat, labelled caps at the ports.

    Parameters
    ----------
    mask : ndarray (nx, ny, nz)
        Binary lumen mask indexed [i, j, k].
    geom : object
        ``spacing_mm``, ``origin_mm``, ``direction`` of the mask grid.
    ports : sequence of Port
        Ports (``detect_ports``); the surface is cut flat in each port's plane and capped.
        Boundary ports are cut exactly at the port plane; the mask is first extended beyond
        the image by ``pad_voxels`` replicated layers so the cut is clean.
    levelset : ndarray, optional
        Smooth level set on the same grid, negative inside (e.g. the anti-aliased level set from
        ``imaging.segment_lumen``); default: a Gaussian-smoothed mask (sigma 0.6 voxel).
    smooth_iterations, pass_band : int, float
        Windowed-sinc smoothing (volume preserving; Taubin 1996); 0 iterations to skip.
    target_edge_mm : float, optional
        Decimate (topology preserving) towards this mean edge length.
    pad_voxels : int
        Replicated layers beyond the image faces.
    cap : bool
        Cut and cap at the ports (else an open-ended smoothed marching-cubes surface).

    Returns
    -------
    pyvista.PolyData
        Triangles; cell array ``port_id``; field ``port_names``.
    """
    pv = _pv()
    m = np.asarray(mask) > 0
    if not m.any():
        raise ValueError("extract_surface: empty mask")
    g = grid_of(geom, m.shape)
    if levelset is None:
        f = 0.5 - ndimage.gaussian_filter(m.astype(np.float32), 0.6)
    else:
        f = np.asarray(levelset, np.float32)
        f = np.where(np.isfinite(f), f, 1.0)
    # crop to the mask's bounding box (speed), replicate at image faces, then close with 'outside'
    nz = np.argwhere(m)
    lo = np.maximum(nz.min(0) - 3, 0)
    hi = np.minimum(nz.max(0) + 4, np.array(m.shape))
    f = f[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    pads = []
    for a in range(3):
        pads.append((pad_voxels if lo[a] == 0 else 0, pad_voxels if hi[a] == m.shape[a] else 0))
    f = np.pad(f, pads, mode="edge")
    fmax = float(np.abs(f).max()) + 1.0
    f = np.pad(f, 1, mode="constant", constant_values=fmax)
    start = lo - np.array([p[0] for p in pads]) - 1
    img = pv.ImageData(
        dimensions=f.shape, spacing=(1.0, 1.0, 1.0), origin=tuple(float(s) for s in start)
    )
    img.point_data["f"] = f.ravel(order="F")
    surf = img.contour([0.0], scalars="f", method="flying_edges")
    surf = surf.extract_largest() if surf.n_points else surf
    surf = surf.triangulate().clean()
    surf.points = g.index_to_world(np.asarray(surf.points))
    if np.linalg.det(g.direction) < 0:
        surf = surf.flip_faces() if hasattr(surf, "flip_faces") else surf
    if smooth_iterations:
        surf = surf.smooth_taubin(
            n_iter=int(smooth_iterations),
            pass_band=float(pass_band),
            normalize_coordinates=True,
            boundary_smoothing=False,
        )
    if target_edge_mm:
        e = _mean_edge(surf)
        if target_edge_mm > e:
            red = float(np.clip(1.0 - (e / target_edge_mm) ** 2, 0.0, 0.95))
            surf = surf.decimate_pro(red, preserve_topology=True)
    surf = (
        surf.extract_surface(algorithm="dataset_surface")
        if not isinstance(surf, pv.PolyData)
        else surf
    )
    if cap and ports:
        surf = cap_ports(surf, ports, float(np.cbrt(g.voxel_volume_mm3)))
    else:
        surf.cell_data["port_id"] = np.full(surf.n_cells, -1, np.int32)
    surf = surf.compute_normals(
        cell_normals=True,
        point_normals=False,
        auto_orient_normals=True,
        consistent_normals=True,
        split_vertices=False,
    )
    return surf


def _mean_edge(surf):
    faces = surf.faces.reshape(-1, 4)[:, 1:]
    p = np.asarray(surf.points)
    e = np.linalg.norm(p[faces[:, [1, 2, 0]]] - p[faces], axis=2)
    return float(e.mean())


def cap_ports(surf, ports, voxel_mm):
    """Cut the surface flat in each port plane (locally, within ~2 port radii) and close each
    opening with triangles labelled ``port_id = p``.

    Updates each Port's centre, area and radius from its cap polygon (the flat cut is the port's
    cross-section; when a plane cuts several openings near a port, the largest is the port, and
    the others stay open as part of it only from ``SECONDARY_OPENING_SHARE`` of its area).
    An opening smaller than 4 voxel faces (``detect_ports``' ``min_area_voxels``: a sliver where
    the plane grazes the wall) is closed as wall, never as a port. Provisional ports (names from
    ``detect_ports``' voxel-footprint areas) that get no opening of their own or only such a
    sliver are dropped from ``ports``; the naming rule is then applied again with the measured
    areas (``ports.rank_ports``), so the inlet is the largest cut. ``ports`` (a list) is updated
    in place and the cap labels follow its final order.
    """
    orig = list(ports)
    p_all = np.asarray(surf.points)
    s = np.full(len(p_all), -np.inf)
    for port in ports:
        c, n = np.asarray(port.center_mm, float), np.asarray(port.normal, float)
        R = 2.0 * float(port.radius_mm) + 3.0 * voxel_mm
        beyond = (p_all - c) @ n
        # the plane value itself (linear, so the cut is exactly in the plane) near the port;
        # "keep" far away so the plane does not cut other parts of the vessel
        near = np.linalg.norm(p_all - c, axis=1) <= 2.0 * R
        s = np.maximum(s, np.where(near, beyond, -np.inf))
    keep = np.where(np.isfinite(s), s, -1.0)
    surf = surf.copy()
    surf.point_data["_cut"] = keep
    cut = surf.clip_scalar(scalars="_cut", value=0.0, invert=True)
    cut = cut.extract_surface(algorithm="dataset_surface").triangulate().clean()
    cut = cut.connectivity("largest").extract_surface(algorithm="dataset_surface").clean()
    pts = np.asarray(cut.points)
    faces = cut.faces.reshape(-1, 4)[:, 1:]
    loops = _boundary_loops(faces)
    min_area = 4.0 * float(voxel_mm) ** 2
    owner, areas, cents = [], [], []
    for k, loop in enumerate(loops):
        lp = pts[loop]
        cen = lp.mean(axis=0)
        # which port: nearest centre, must be (nearly) in its plane
        dists = [
            np.linalg.norm(cen - np.asarray(p.center_mm)) + 10 * abs((cen - p.center_mm) @ p.normal)
            for p in ports
        ]
        pi = int(np.argmin(dists)) if len(ports) else -1
        area_signed, cen_area = (polygon_area_centroid(lp, np.asarray(ports[pi].normal, float))
                                 if pi >= 0 else (0.0, cen))
        if area_signed < 0:  # orient the cap polygon to face along the outward port normal
            loops[k] = loop[::-1]
        owner.append(pi)
        areas.append(abs(area_signed))
        cents.append(cen_area)
    main = {}  # port index -> its largest opening
    for k, pi in enumerate(owner):
        if pi >= 0 and (pi not in main or areas[k] > areas[main[pi]]):
            main[pi] = k
    dropped = [pi for pi, port in enumerate(ports) if getattr(port, "provisional", False)
               and (pi not in main or areas[main[pi]] < min_area)]
    for pi, k in main.items():
        port = ports[pi]
        if isinstance(port, Port) and pi not in dropped:
            nrm = np.asarray(port.normal, float)
            port.center_mm = cents[k] - ((cents[k] - port.center_mm) @ nrm) * nrm
            port.area_mm2 = areas[k]
            port.radius_mm = float(np.sqrt(areas[k] / np.pi))
    final = list(ports)
    if isinstance(ports, list) and all(isinstance(p, Port) for p in ports):
        from .ports import rank_ports

        kept = [p for i, p in enumerate(ports) if i not in dropped]
        final = rank_ports(kept) if any(p.provisional for p in kept) else kept
        ports[:] = final
    new_index = {id(p): j for j, p in enumerate(final)}
    labels = [np.full(len(faces), -1, np.int32)]
    for k, pi in enumerate(owner):
        # a sliver (the plane grazing the wall), a twig under 5 % of the port's own opening
        # (a stub off the vessel: a dead end) or the opening of a dropped port is wall
        is_port = (pi >= 0 and pi not in dropped and areas[k] >= min_area
                   and areas[k] >= SECONDARY_OPENING_SHARE * areas[main[pi]])
        labels.append(np.full(1, new_index[id(orig[pi])] if is_port else -1, np.int32))
    out = _mesh_with_polygons(pts, faces, loops, np.concatenate(labels))
    out.field_data["port_names"] = np.array([p.name for p in final] or [""])
    return out


def polygon_area_centroid(loop_points, normal):
    """Signed area (positive when the loop turns counter-clockwise about ``normal``) and centroid
    of a closed polygon, projected on the plane of ``normal``.

    Signed areas of the triangles (mean, a_i, a_i+1): exact for any simple polygon, convex or not
    (a flap or crescent-shaped lumen).
    """
    lp = np.asarray(loop_points, float)
    cen = lp.mean(axis=0)
    a = lp - cen
    b = np.roll(lp, -1, axis=0) - cen
    sa = 0.5 * (np.cross(a, b) @ np.asarray(normal, float))
    area_signed = float(sa.sum())
    return area_signed, cen + (sa[:, None] * (a + b) / 3.0).sum(0) / (area_signed or 1e-30)


def _mesh_with_polygons(points, tris, polys, labels):
    """Triangles + polygon caps (one label each, after the triangle labels) -> triangle mesh.

    Each cap polygon is triangulated by VTK without new points, so a concave (crescent, flap)
    cap cannot fold over the wall; a polygon VTK cannot split into n - 2 triangles (self-touching
    loop) falls back to a fan around its centroid, which always closes the surface.
    """
    pv = _pv()
    points = np.asarray(points, float)
    labels = np.asarray(labels, np.int32)
    n_tri = len(tris)
    extra_pts, all_tris, all_lab = [], [np.asarray(tris)], [labels[:n_tri]]
    n_pts = len(points)
    for k, loop in enumerate(polys):
        loop = np.asarray(loop)
        lab = labels[n_tri + k]
        poly = pv.PolyData(points[loop], np.r_[len(loop), np.arange(len(loop))]).triangulate()
        f = poly.faces.reshape(-1, 4)[:, 1:] if poly.n_cells else np.zeros((0, 3), int)
        if len(f) == len(loop) - 2:
            t = loop[f]
        else:
            t = np.column_stack([np.full(len(loop), n_pts), loop, np.roll(loop, -1)])
            extra_pts.append(points[loop].mean(0)[None])
            n_pts += 1
        all_tris.append(t)
        all_lab.append(np.full(len(t), lab, np.int32))
    P = np.vstack([points] + extra_pts)
    F = np.vstack(all_tris)
    mesh = pv.PolyData(P, np.column_stack([np.full(len(F), 3), F]).ravel())
    mesh.cell_data["port_id"] = np.concatenate(all_lab)
    return mesh


def _boundary_loops(faces):
    """Ordered vertex loops of the boundary edges of a triangle mesh."""
    e = np.vstack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    bnd = e[cnt[inv.ravel()] == 1]
    if len(bnd) == 0:
        return []
    nxt = {}
    for a, b in bnd:
        nxt.setdefault(int(a), []).append(int(b))
    loops, seen = [], set()
    for start in list(nxt):
        if start in seen:
            continue
        loop = [start]
        seen.add(start)
        cur = start
        while True:
            cand = [v for v in nxt.get(cur, []) if v not in seen]
            if not cand:
                break
            cur = cand[0]
            seen.add(cur)
            loop.append(cur)
        if len(loop) >= 3:
            loops.append(np.array(loop))
    return loops


def wall_of(surf):
    """The wall part of a capped surface (cells with ``port_id == -1``)."""
    if "port_id" not in surf.cell_data:
        return surf
    return surf.extract_cells(
        np.nonzero(np.asarray(surf.cell_data["port_id"]) < 0)[0]
    ).extract_surface(algorithm="dataset_surface")


def check_surface(surf, self_intersections=True) -> dict:
    """Watertightness and self-intersection checks of a triangle surface.

    Returns
    -------
    dict
        ``n_points``, ``n_triangles``, ``boundary_edges``, ``non_manifold_edges``,
        ``watertight`` (no boundary and no non-manifold edges), ``self_intersections`` (number
        of edge/triangle crossings between triangles that share no vertex), ``volume_mm3``,
        ``area_mm2``.
    """
    faces = surf.faces.reshape(-1, 4)[:, 1:]
    e = np.sort(np.vstack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, cnt = np.unique(e, axis=0, return_counts=True)
    rep = {
        "n_points": int(surf.n_points),
        "n_triangles": len(faces),
        "boundary_edges": int((cnt == 1).sum()),
        "non_manifold_edges": int((cnt > 2).sum()),
    }
    rep["watertight"] = rep["boundary_edges"] == 0 and rep["non_manifold_edges"] == 0
    p = np.asarray(surf.points)
    v0, v1, v2 = p[faces[:, 0]], p[faces[:, 1]], p[faces[:, 2]]
    rep["volume_mm3"] = float(abs(np.einsum("ij,ij->i", v0, np.cross(v1, v2)).sum() / 6.0))
    rep["area_mm2"] = float(0.5 * np.linalg.norm(np.cross(v1 - v0, v2 - v0), axis=1).sum())
    if self_intersections:
        rep["self_intersections"] = _count_self_intersections(p, faces)
    return rep


def _count_self_intersections(p, faces, wall=None):
    from .raytri import TriangleGrid, first_hits

    edges = np.unique(
        np.sort(np.vstack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0
    )
    d = p[edges[:, 1]] - p[edges[:, 0]]
    le = np.linalg.norm(d, axis=1)
    # long cap-fan spokes are tested in a second pass so the bins stay small for the wall
    h = 2.0 * float(np.median(le))
    short = le <= h
    total = 0
    for sel, size in ((short, h), (~short, float(le.max()) if (~short).any() else h)):
        if not sel.any():
            continue
        L = float(le[sel].max())
        grid = TriangleGrid(p, faces, bin_size=max(size, 1e-9), margin=0.5 * L + 1e-9)
        es = edges[sel]
        ds = d[sel]

        def shares(ei, ti, es=es):
            f = faces[ti]
            a = es[ei, 0][:, None]
            b = es[ei, 1][:, None]
            return ((f == a) | (f == b)).any(axis=1)

        # shrink each edge slightly so neighbours touching at a shared vertex do not count
        eps = 1e-6
        t, _ = first_hits(grid, p[es[:, 0]] + eps * ds, (1 - 2 * eps) * ds, exclude_shared=shares)
        total += int(np.isfinite(t).sum())
    return total


def write_surface(surf, path, overwrite=False) -> Path:
    """Write .vtp (with arrays) or .stl; refuses to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite")
    if path.suffix.lower() == ".stl":
        surf.extract_surface(algorithm="dataset_surface").triangulate().save(str(path), binary=True)
    else:
        surf.save(str(path))
    return path


def add_flow_extensions(surf, ports, length_diameters=5.0, n_rings=None, which="all"):
    """Straight cylindrical flow extensions of ``length_diameters`` port diameters at the ports.

    Each extension continues the cut section shape along the port normal (shape preserving:
    the cap loop is extruded), so inlet profiles can develop and outlets do not reflect. Ports
    move to the end of their extension; the surface stays closed and capped.

    Parameters
    ----------
    surf : pyvista.PolyData
        Capped surface from ``extract_surface`` (``port_id`` cell array).
    ports : list of Port
        Updated in place (centres moved).
    length_diameters : float
        Extension length in port diameters.
    which : "all", "inlet" or "outlets"
    """
    pts = np.asarray(surf.points).copy()
    faces = surf.faces.reshape(-1, 4)[:, 1:].copy()
    pid = np.asarray(surf.cell_data["port_id"]).copy()
    out_pts = [pts]
    out_faces = [faces[pid < 0]]
    out_lab = [pid[pid < 0]]
    end_polys, end_lab = [], []
    n = len(pts)
    for p, port in enumerate(ports):
        capf = faces[pid == p]
        if (
            which == "inlet"
            and port.role != "inlet"
            or which == "outlets"
            and port.role == "inlet"
            or len(capf) == 0
        ):
            out_faces.append(capf)
            out_lab.append(np.full(len(capf), p, np.int32))
            continue
        nrm = np.asarray(port.normal, float)
        L = length_diameters * 2.0 * port.radius_mm
        loop = _boundary_loops(capf)[0]
        rings = n_rings or max(2, int(np.ceil(L / max(_mean_edge(surf), 1e-9))))
        prev = loop
        for r in range(1, rings + 1):
            ring = pts[loop] + (L * r / rings) * nrm
            ids = np.arange(n, n + len(loop))
            out_pts.append(ring)
            n += len(loop)
            a, b = prev, np.roll(prev, -1)
            c, d = ids, np.roll(ids, -1)
            # the loop runs in the cap's winding (cap faces out along +n), so the wall
            # quads (b, a, c) / (b, c, d) keep the surface consistently oriented
            out_faces.append(np.column_stack([b, a, c]))
            out_faces.append(np.column_stack([b, c, d]))
            out_lab.append(np.full(2 * len(loop), -1, np.int32))
            prev = ids
        # the end cap: the same (possibly concave) polygon as the original cap, moved by L
        end_polys.append(prev)
        end_lab.append(p)
        port.center_mm = np.asarray(port.center_mm) + L * nrm
    P = np.vstack(out_pts)
    F = np.vstack(out_faces)
    labels = np.concatenate(out_lab + [np.asarray(end_lab, np.int32)]).astype(np.int32)
    res = _mesh_with_polygons(P, F, end_polys, labels)
    res = res.compute_normals(
        cell_normals=True,
        point_normals=False,
        auto_orient_normals=True,
        consistent_normals=True,
        split_vertices=False,
    )
    return res
