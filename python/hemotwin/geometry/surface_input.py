# SPDX-License-Identifier: Apache-2.0
"""A lumen surface given by the user (VMTK/VaMPy, SimVascular, any STL/VTP) as the anatomy.

Three kinds of surface are accepted, each turned into the closed, capped surface with a
``port_id`` cell array that the rest of ``geometry`` works with:

* **open** — the vessel ends are holes (VMTK/VaMPy clipped models): each boundary loop is a port;
  its plane is fitted to the loop and the hole is closed by a flat cap.
* **closed with face ids** — an integer cell array (``ModelFaceID`` from SimVascular, ``face_id``,
  ``CapID``): faces named ``cap`` in a SimVascular ``.mdl`` beside the surface are the ports;
  without one, every flat face is.
* **closed, no face ids** — cells are grouped into smooth patches (neighbours bent by less than
  30 degrees); flat patches are the caps.

Ports are named by the same rule as image ports (``geometry.ports``: the largest is the inlet,
``outlet_1, ...`` by decreasing area), unless a face name says ``inlet``/``inflow``; case files
rename them by points as usual. The mask that centerlines and virtual deployment need is the
surface rasterised (``lumen_mask``), with the ends carried a few voxels past each cap so a later
flat cut there is clean.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.units_parse import KINDS
from .ports import Port, apply_port_overrides, order_ports
from .surface import polygon_area_centroid

__all__ = [
    "SURFACE_SUFFIXES",
    "SurfaceInputError",
    "SurfaceAnatomy",
    "clip_surface",
    "lumen_mask",
    "read_face_names",
    "read_surface",
    "surface_anatomy",
    "surface_ports",
]

SURFACE_SUFFIXES = (".vtp", ".vtk", ".stl", ".ply", ".obj")
UNIT_TO_MM = {u: KINDS["length"][u] / KINDS["length"]["mm"] for u in ("mm", "cm", "m")}
FACE_ID_ARRAYS = ("ModelFaceID", "face_id", "FaceID", "CapID", "ModelFaceId")
# a cap is flat: every point within this fraction of its equivalent radius of the fitted plane
CAP_FLATNESS = 0.05
# neighbouring cells bent by more than this belong to different patches (cap rims are ~90 deg)
PATCH_ANGLE_DEG = 30.0


class SurfaceInputError(ValueError):
    """A surface that cannot be used as the lumen; the message names the file and the problem."""


@dataclass
class SurfaceAnatomy:
    """A capped lumen surface (mm, ``port_id`` cells), its ports, and its rasterised mask."""

    surface: object
    ports: list
    mask: np.ndarray
    spacing_mm: np.ndarray
    origin_mm: np.ndarray
    kind: str
    description: str


def _pv():
    import pyvista as pv

    return pv


def read_surface(path, unit="mm"):
    """Read a triangle surface and scale it to mm.

    Parameters
    ----------
    path : str or Path
        ``.vtp``, ``.vtk``, ``.stl``, ``.ply`` or ``.obj``.
    unit : {"mm", "cm", "m"}
        Length unit of the file's coordinates (SimVascular models are in cm).
    """
    pv = _pv()
    path = Path(path)
    if unit not in UNIT_TO_MM:
        raise SurfaceInputError(f"image.surface_unit = {unit!r}: expected one of "
                                f"{list(UNIT_TO_MM)}")
    if not path.is_file():
        raise SurfaceInputError(f"image.surface {path}: no such file")
    if path.suffix.lower() not in SURFACE_SUFFIXES:
        raise SurfaceInputError(f"image.surface {path}: unsupported suffix {path.suffix!r}; "
                                f"expected one of {', '.join(SURFACE_SUFFIXES)}")
    import warnings

    try:
        with warnings.catch_warnings():
            # pyvista turns a VTK reader failure into a warning and returns an empty mesh
            warnings.simplefilter("error")
            mesh = pv.read(str(path))
    except Exception as e:  # VTK readers raise many kinds; the user needs the file name
        first = (str(e).strip().splitlines() or [""])[0][:200]  # VTK appends a page of state
        raise SurfaceInputError(f"image.surface {path}: cannot be read as a surface "
                                f"({type(e).__name__}: {first})") from None
    if not isinstance(mesh, pv.PolyData):
        try:
            mesh = mesh.extract_surface(algorithm="dataset_surface")
        except Exception:
            raise SurfaceInputError(f"image.surface {path}: holds a {type(mesh).__name__}, "
                                    "not a surface") from None
    if mesh.n_cells == 0 or mesh.n_points < 4:
        raise SurfaceInputError(f"image.surface {path}: no surface cells in the file")
    mesh = mesh.triangulate().clean()
    if mesh.n_cells == 0 or mesh.faces.size == 0:
        raise SurfaceInputError(f"image.surface {path}: no triangles after triangulation "
                                "(lines or points only?)")
    pts = np.asarray(mesh.points, float)
    if not np.isfinite(pts).all():
        raise SurfaceInputError(f"image.surface {path}: non-finite point coordinates")
    mesh.points = pts * UNIT_TO_MM[unit]
    return mesh


def read_face_names(mdl_path) -> dict:
    """``{face_id: (name, type)}`` from a SimVascular model file (``.mdl``, XML)."""
    try:
        text = Path(mdl_path).read_text(encoding="utf-8", errors="replace")
        # SimVascular writes two top-level elements (<format/> and <model>): wrap them
        root = ET.fromstring("<mdl>" + re.sub(r"^\s*<\?xml[^>]*\?>", "", text) + "</mdl>")
    except (ET.ParseError, OSError) as e:
        raise SurfaceInputError(f"image.surface_faces {mdl_path}: not a readable SimVascular "
                                f".mdl file ({e})") from None
    out = {}
    for f in root.iter("face"):
        try:
            out[int(f.get("id"))] = (str(f.get("name", "")), str(f.get("type", "")))
        except (TypeError, ValueError):
            continue
    if not out:
        raise SurfaceInputError(f"image.surface_faces {mdl_path}: no <face id=... name=... "
                                "type=...> entries")
    return out


# ----------------------------------------------------------------------------- caps
@dataclass
class _Cap:
    center: np.ndarray
    normal: np.ndarray  # out of the fluid
    area: float
    cells: np.ndarray | None  # existing cap cells (closed surfaces)
    loop: np.ndarray | None  # boundary loop to close (open surfaces)
    label: str = ""


def _edges(faces):
    e = np.vstack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.sort(e, axis=1)


def _tri_geometry(pts, faces):
    v0, v1, v2 = pts[faces[:, 0]], pts[faces[:, 1]], pts[faces[:, 2]]
    cr = np.cross(v1 - v0, v2 - v0)
    area = 0.5 * np.linalg.norm(cr, axis=1)
    return (v0 + v1 + v2) / 3.0, cr, area


def _outward_of_loop(normal, pts, faces, loop):
    """Flip ``normal`` so it points away from the wall triangles along the open end.

    Each boundary edge belongs to one triangle whose third vertex lies on the vessel side; the
    most local test there is (a distant bend of the vessel may come back near the opening).
    """
    on_loop = np.zeros(len(pts), bool)
    on_loop[loop] = True
    edge_tris = faces[on_loop[faces].sum(axis=1) >= 2]
    inward = []
    for tri in edge_tris:
        off = tri[~on_loop[tri]]
        if len(off):
            inward.append(pts[off].mean(0) - pts[tri[on_loop[tri]]].mean(0))
    if not inward:
        return normal
    return -normal if float((np.asarray(inward) @ normal).sum()) > 0 else normal


def _loop_cap(pts, faces, loop, path):
    """Port of an open end: plane fitted to the loop, polygon area and centroid in that plane."""
    lp = pts[loop]
    mean = lp.mean(axis=0)
    _, _, vt = np.linalg.svd(lp - mean)
    n0 = vt[2] / np.linalg.norm(vt[2])
    area_signed, cen = polygon_area_centroid(lp, n0)
    area = abs(area_signed)
    if area <= 0:
        raise SurfaceInputError(f"image.surface {path}: an open end of {len(loop)} points "
                                f"near {np.round(mean, 2).tolist()} mm encloses no area")
    n = n0
    cen = cen - ((cen - mean) @ n) * n
    r = float(np.sqrt(area / np.pi))
    dev = float(np.abs((lp - cen) @ n).max())
    if dev > 0.35 * r:
        raise SurfaceInputError(
            f"image.surface {path}: the open end near {np.round(cen, 2).tolist()} mm is not "
            f"flat (points up to {dev:.2f} mm off its plane, radius {r:.2f} mm); cut it with a "
            "plane across the vessel (segmentation.clip_planes, normal out of the vessel) or "
            "clip the ends first (e.g. VMTK vmtksurfaceclipper)")
    n = _outward_of_loop(n, pts, faces, loop)
    if area_signed * float(n @ n0) < 0:
        loop = loop[::-1]  # the cap polygon faces along the outward normal
    return _Cap(cen, n, area, None, np.asarray(loop), "")


def _cells_cap(pts, faces, cells, cell_normals):
    """Port of an existing flat face: area-weighted centroid and normal of its triangles."""
    cen_t, _, area_t = _tri_geometry(pts, faces[cells])
    area = float(area_t.sum())
    cen = (cen_t * area_t[:, None]).sum(0) / area
    n = (cell_normals[cells] * area_t[:, None]).sum(0)
    n /= np.linalg.norm(n)
    return _Cap(cen, n, area, np.asarray(cells), None, "")


def _is_flat(pts, faces, cells):
    ids = np.unique(faces[cells])
    p = pts[ids]
    m = p.mean(0)
    _, _, vt = np.linalg.svd(p - m)
    _, _, area_t = _tri_geometry(pts, faces[cells])
    r = np.sqrt(area_t.sum() / np.pi)
    return float(np.abs((p - m) @ vt[2]).max()) <= CAP_FLATNESS * r


def _smooth_patches(faces, cell_normals):
    """Connected patches of cells whose shared edges bend by less than PATCH_ANGLE_DEG."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nf = len(faces)
    e = _edges(faces)
    owner = np.tile(np.arange(nf), 3)
    order = np.lexsort((e[:, 1], e[:, 0]))
    es, os_ = e[order], owner[order]
    same = np.all(es[1:] == es[:-1], axis=1)
    a, b = os_[:-1][same], os_[1:][same]
    bend_ok = np.cos(np.radians(PATCH_ANGLE_DEG))
    keep = np.einsum("ij,ij->i", cell_normals[a], cell_normals[b]) > bend_ok
    a, b = a[keep], b[keep]
    g = coo_matrix((np.ones(len(a)), (a, b)), shape=(nf, nf))
    return connected_components(g, directed=False)[1]


def surface_ports(surface, path="surface", face_names=None, overrides=None, inlet_plane=None):
    """Close and label a lumen surface; find and name its ports.

    Parameters
    ----------
    surface : pyvista.PolyData
        Triangle surface in mm (``read_surface``).
    path : str
        Where it came from (for messages).
    face_names : dict, optional
        ``{face_id: (name, type)}`` (``read_face_names``): faces of type ``cap`` are the ports.
    overrides : dict, optional
        ``{name: point_mm}`` renames (``geometry.ports.apply_port_overrides``).
    inlet_plane : (point, normal), optional
        The open end lying in this plane (the first clip plane) is the inlet.

    Returns
    -------
    capped : pyvista.PolyData
        Closed surface, cell array ``port_id`` (-1 wall, p the cap of ``ports[p]``).
    ports : list of Port
        Inlet first. ``Port.source`` says how the port was found (``open end``, ``face NAME``,
        ``flat patch``).
    kind : str
        ``"open"``, ``"faces"`` or ``"flat patches"``.
    """
    from .surface import _boundary_loops, _mesh_with_polygons

    pts = np.asarray(surface.points, float)
    faces = surface.faces.reshape(-1, 4)[:, 1:]
    cnt = np.unique(_edges(faces), axis=0, return_counts=True)[1]
    if (cnt > 2).any():
        raise SurfaceInputError(f"image.surface {path}: {int((cnt > 2).sum())} edges are shared "
                                "by more than two triangles (not a manifold surface); repair it "
                                "first (e.g. MeshLab, vmtksurfacecleaner)")
    caps = []
    if (cnt == 1).any():
        kind = "open"
        loops = _boundary_loops(faces)
        for loop in loops:
            cap = _loop_cap(pts, faces, loop, path)
            cap.label = "open end"
            caps.append(cap)
    else:
        oriented = surface.compute_normals(cell_normals=True, point_normals=False,
                                           auto_orient_normals=True, consistent_normals=True,
                                           split_vertices=False)
        # compute_normals may reorder nothing but re-winds triangles: use its faces from here
        faces = oriented.faces.reshape(-1, 4)[:, 1:]
        cn = np.asarray(oriented.cell_data["Normals"], float)
        fid_name = next((k for k in FACE_ID_ARRAYS if k in surface.cell_data), None)
        if fid_name is not None:
            kind = "faces"
            fid = np.asarray(surface.cell_data[fid_name]).astype(np.int64)
            for f in np.unique(fid):
                cells = np.nonzero(fid == f)[0]
                name, ftype = (face_names or {}).get(int(f), ("", ""))
                if face_names is not None:
                    is_cap = ftype.lower() in ("cap", "inlet", "outlet")
                else:
                    is_cap = _is_flat(pts, faces, cells)
                if is_cap:
                    cap = _cells_cap(pts, faces, cells, cn)
                    cap.label = f"face {name or f}"
                    caps.append(cap)
        else:
            kind = "flat patches"
            patch = _smooth_patches(faces, cn)
            _, _, area_t = _tri_geometry(pts, faces)
            total = float(area_t.sum())
            for pid in np.unique(patch):
                cells = np.nonzero(patch == pid)[0]
                small = area_t[cells].sum() < 0.5 * total and len(cells) >= 3
                if small and _is_flat(pts, faces, cells):
                    cap = _cells_cap(pts, faces, cells, cn)
                    cap.label = "flat patch"
                    caps.append(cap)
            # a few coplanar wall triangles in a crease are not a vessel end: drop patches
            # under 2 % of the largest cap's area
            big = max((c.area for c in caps), default=0.0)
            caps = [c for c in caps if c.area >= 0.02 * big]
        # outward normals of closed surfaces come from the orientation already
    if len(caps) < 2:
        hint = {"open": "it has fewer than two open ends",
                "faces": "fewer than two of its faces are caps (flat faces, or type 'cap' in "
                         "the .mdl)",
                "flat patches": "fewer than two flat cap patches were found"}[kind]
        raise SurfaceInputError(f"image.surface {path}: need an inlet and at least one outlet, "
                                f"but {hint}; give an open surface (vessel ends clipped), a "
                                "capped one with flat caps, or cut its ends with "
                                "segmentation.clip_planes (the first is the inlet)")
    # names: a face called inlet/inflow is the inlet; otherwise the documented area rule
    inlet_idx = next((i for i, c in enumerate(caps)
                      if re.search(r"inlet|inflow", c.label, re.IGNORECASE)), None)
    if inlet_plane is not None:
        c0, n0 = (np.asarray(v, float) for v in inlet_plane)
        off = [abs((c.center - c0) @ n0) + 1e-3 * np.linalg.norm(c.center - c0) for c in caps]
        inlet_idx = int(np.argmin(off))
    radii = [float(np.sqrt(c.area / np.pi)) for c in caps]
    order, names, roles = order_ports(radii, [c.center for c in caps], inlet_idx)
    ports = [Port(nm, ro, caps[i].center, caps[i].normal, caps[i].area, radii[i], caps[i].label)
             for i, nm, ro in zip(order, names, roles)]
    raw_index = {id(p): i for p, i in zip(ports, order)}
    if overrides:
        ports = apply_port_overrides(ports, overrides)
    final = {raw_index[id(p)]: k for k, p in enumerate(ports)}
    labels = np.full(len(faces), -1, np.int32)
    polys, poly_labels = [], []
    for i, c in enumerate(caps):
        if c.cells is not None:
            labels[c.cells] = final[i]
        else:
            polys.append(c.loop)
            poly_labels.append(final[i])
    all_labels = np.concatenate([labels, np.asarray(poly_labels, np.int32)])
    capped = _mesh_with_polygons(pts, faces, polys, all_labels)
    capped = capped.compute_normals(cell_normals=True, point_normals=False,
                                    auto_orient_normals=True, consistent_normals=True,
                                    split_vertices=False)
    capped.field_data["port_names"] = np.array([p.name for p in ports])
    return capped, ports, kind


def lumen_mask(capped, ports, spacing_mm=None, max_voxels=8_000_000, ext_voxels=4):
    """The capped surface rasterised on a grid (mm), ends carried ``ext_voxels`` past each cap.

    Returns ``(mask, spacing_mm, origin_mm)``; voxel ``ijk`` is centred at ``origin + h * ijk``.
    The default spacing puts 12 voxels across the narrowest port, coarsened to stay under
    ``max_voxels`` in the bounding box.
    """
    import copy

    from .surface import add_flow_extensions
    from .voxelize_surface import inside_cells

    r_min = min(p.radius_mm for p in ports)
    pts = np.asarray(capped.points, float)
    lo, hi = pts.min(0), pts.max(0)
    h = float(spacing_mm) if spacing_mm else r_min / 6.0
    h = max(h, float(np.cbrt(np.prod(hi - lo + 2 * (ext_voxels + 3) * h) / max_voxels)))
    ports_ext = copy.deepcopy(ports)
    ext = add_flow_extensions(capped, ports_ext, length_diameters=ext_voxels * h / (2.0 * r_min),
                              n_rings=2)
    P = np.asarray(ext.points, float)
    tri = ext.faces.reshape(-1, 4)[:, 1:]
    lo, hi = P.min(0), P.max(0)
    origin = lo - 2.5 * h
    shape = tuple(int(np.ceil((hi[a] - lo[a]) / h)) + 6 for a in range(3))
    mask = inside_cells(P, tri, h, origin, shape)
    return mask.astype(np.uint8), np.full(3, h), origin


def clip_surface(surface, planes, radius_mm=None, path="surface"):
    """Cut a surface with planes (point, normal out of the kept part); keep the largest piece.

    Each plane removes what lies on its normal side, only within ``radius_mm`` of its point when
    given (so a plane across one vessel end does not also cut a vessel elsewhere). The planes cut
    one after another (a plane's signed distance is linear, so even a triangle spanning two
    planes is cut exactly); the cuts are planar loops: open ends for ``surface_ports``.
    """
    cut = surface.copy()
    for i, (c, n) in enumerate(planes):
        c = np.asarray(c, float)
        n = np.asarray(n, float) / np.linalg.norm(n)
        pts = np.asarray(cut.points, float)
        d = (pts - c) @ n
        if radius_mm:
            d = np.where(np.linalg.norm(pts - c, axis=1) <= radius_mm, d, -1.0)
        if not ((d > 0).any() and (d < 0).any()):
            raise SurfaceInputError(
                f"image.surface {path}: segmentation.clip_planes[{i}] does not cut the surface"
                + (f" within clip_radius = {radius_mm:g} mm" if radius_mm else ""))
        cut.point_data["_cut"] = d
        cut = cut.clip_scalar(scalars="_cut", value=0.0, invert=True)
        cut = cut.extract_surface(algorithm="dataset_surface").triangulate().clean()
    if cut.n_cells == 0 or cut.faces.size == 0:
        raise SurfaceInputError(f"image.surface {path}: nothing is left after the clip planes")
    cut = cut.connectivity("largest").extract_surface(algorithm="dataset_surface").clean()
    for k in list(cut.point_data.keys()) + list(cut.cell_data.keys()):
        if k != "Normals":
            cut.point_data.pop(k, None)
            cut.cell_data.pop(k, None)
    return cut


def surface_anatomy(path, unit="mm", faces_file=None, overrides=None, spacing_mm=None,
                    clip_planes=(), clip_radius_mm=None):
    """Read a lumen surface and return the capped surface, its ports and its mask.

    ``faces_file``: a SimVascular ``.mdl`` naming the faces of a surface with face ids.
    ``clip_planes``: ``[(point, normal), ...]`` mm, cut first (a closed surface without caps,
    e.g. from Slicer or ITK-SNAP, or ragged ends); the first plane's cut is the inlet.
    """
    from .surface import check_surface

    path = Path(path)
    surf = read_surface(path, unit)
    names = read_face_names(faces_file) if faces_file else None
    inlet_plane = None
    if len(clip_planes):
        if any(k in surf.cell_data for k in FACE_ID_ARRAYS) or names:
            raise SurfaceInputError(
                f"image.surface {path}: has capped faces (face ids); clip planes are for surfaces "
                "without caps (drop segmentation.clip_planes, or the caps)")
        surf = clip_surface(surf, clip_planes, clip_radius_mm, str(path))
        inlet_plane = clip_planes[0]
    capped, ports, kind = surface_ports(surf, str(path), names, overrides, inlet_plane)
    chk = check_surface(capped, self_intersections=False)
    if not chk["watertight"]:
        raise SurfaceInputError(
            f"image.surface {path}: not closed after capping its {len(ports)} ends "
            f"({chk['boundary_edges']} open edges, {chk['non_manifold_edges']} non-manifold); "
            "holes other than the vessel ends must be repaired first")
    r_max = max(p.radius_mm for p in ports)
    if not 0.25 <= r_max <= 25.0:
        import warnings

        # no human vessel port is under 0.25 mm or over 25 mm in radius: likely a unit slip
        warnings.warn(f"image.surface {path}: the largest port has a radius of {r_max:.3g} mm "
                      f"with image.surface_unit = {unit!r}; is that the file's unit?",
                      UserWarning, stacklevel=2)
    mask, h, origin = lumen_mask(capped, ports, spacing_mm)
    if not mask.any():
        raise SurfaceInputError(f"image.surface {path}: encloses no voxel at {h[0]:.3g} mm")
    desc = (f"surface ({kind}, {len(ports)} ports, {chk['n_triangles']} triangles, "
            f"{chk['volume_mm3'] / 1e3:.2f} mL)")
    return SurfaceAnatomy(capped, ports, mask, h, origin, kind, desc)
