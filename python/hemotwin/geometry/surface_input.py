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

Checks, each a ``SurfaceInputError`` that names the file: points that differ only by the
rounding of a text format (ASCII STL: 6 significant digits) are merged first; a largest opening
outside ``VESSEL_RADIUS_MM`` means the unit is wrong (the message says the sizes found and which
``--unit`` / ``image.surface_unit`` fits); an open end that is far smaller than the largest
(``HOLE_RADIUS_RATIO``) or that the wall continues across (not the end of a tube,
``HOLE_TUBE_COS``) is a hole in the wall, never a port (``fill_holes`` closes such holes as wall).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.units_parse import KINDS
from .ports import Port, PortOverrideError, apply_port_overrides, order_ports
from .surface import polygon_area_centroid

__all__ = [
    "SURFACE_SUFFIXES",
    "SurfaceInputError",
    "SurfaceAnatomy",
    "clip_surface",
    "lumen_mask",
    "read_face_names",
    "read_surface",
    "simvascular_unit_warning",
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
# radius of the largest opening of a human vessel model (mm): small coronary branches have radii
# of ~0.5 mm, an aneurysmal aorta up to ~30-40 mm (common anatomical knowledge, not in
# REFERENCE.md); outside these bounds the file's unit is almost surely not the one declared
VESSEL_RADIUS_MM = (0.25, 40.0)
# an open end with an equivalent radius under this fraction of the largest one is a hole, not a
# vessel end. The real surfaces in ../shared/data have side branches of 0.41 (SimVascular demo:
# 5.0 / 12.1 mm), 0.57 (VMTK abdominal aorta: 4.4 / 7.7 mm) and 0.58 (Aneurisk C0015: 0.90 /
# 1.56 mm) of the largest; 0.15 leaves a margin of ~3 below them, and a port that small would
# set the lattice step (10 cells across it: > 300 times the cells the largest port needs)
HOLE_RADIUS_RATIO = 0.15
# an open end is the end of a tube when the wall along its rim runs across its plane (wall
# normals perpendicular to the opening's normal: mean |cos| ~0 for a square cut, <= 2/pi for any
# tilt); a hole cut out of the wall has the wall around it in its own plane (|cos| ~1)
HOLE_TUBE_COS = 0.7


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
    unit: str = "mm"
    # where the unit came from: "given" (--unit / image.surface_unit), "file" (the file states
    # it) or "default" (neither: mm)
    unit_source: str = "default"
    volume_mm3: float = float("nan")


def _pv():
    import pyvista as pv

    return pv


_UNIT_WORDS = {"mm": "mm", "millimeter": "mm", "millimetre": "mm", "cm": "cm", "centimeter": "cm",
               "centimetre": "cm", "m": "m", "meter": "m", "metre": "m"}
_UNIT_RE = re.compile(r"\bunits?\s*[:=]?\s*[\"']?"
                      r"(millimet(?:er|re)|centimet(?:er|re)|met(?:er|re)|mm|cm|m)s?\b",
                      re.IGNORECASE)
_UNIT_FIELDS = ("unit", "units", "length_unit", "lengthunit", "length_units", "lengthunits")


def declared_unit(path, mesh=None):
    """The length unit a surface file states about itself, or None.

    Looked for in a field-data string array named ``unit``/``units``/``LengthUnit`` (VTK), the
    header of a binary STL, the ``solid`` line of an ASCII STL, PLY header comments, OBJ comments
    and the title line of a legacy ``.vtk`` file (``units = cm``, ``UNITS: mm``, ...).
    """
    if mesh is not None:
        for k in mesh.field_data.keys():
            if k.lower().replace(" ", "") in _UNIT_FIELDS:
                try:
                    v = str(np.asarray(mesh.field_data[k]).ravel()[0]).strip().lower()
                except IndexError:
                    continue
                v = v[:-1] if v.endswith("s") and v[:-1] in _UNIT_WORDS else v
                if v in _UNIT_WORDS:
                    return _UNIT_WORDS[v]
    suffix = Path(path).suffix.lower()
    if suffix not in (".stl", ".ply", ".obj", ".vtk"):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if suffix == ".stl":
        text = head[:80] if not head.lstrip().lower().startswith(b"solid") else head.split(b"\n")[0]
    elif suffix == ".ply":
        text = b"\n".join(ln for ln in head.split(b"end_header")[0].split(b"\n")
                          if ln.strip().lower().startswith((b"comment", b"obj_info")))
    elif suffix == ".obj":
        text = b"\n".join(ln for ln in head.split(b"\n")[:50] if ln.strip().startswith(b"#"))
    else:
        lines = head.split(b"\n")
        text = lines[1] if len(lines) > 1 else b""
    m = _UNIT_RE.search(text.decode("latin-1"))
    return _UNIT_WORDS[m.group(1).lower()] if m else None


def read_surface(path, unit=None):
    """Read a triangle surface and scale it to mm.

    Points closer than the rounding of a text format (``_merge_tolerance``) are merged: an
    ASCII STL may write one vertex with different digits in different facets, which would leave
    slits (extra open ends) in the wall.

    Parameters
    ----------
    path : str or Path
        ``.vtp``, ``.vtk``, ``.stl``, ``.ply`` or ``.obj``.
    unit : {"mm", "cm", "m"} or None
        Length unit of the file's coordinates (SimVascular models are in cm); None: the unit the
        file states (``declared_unit``), else mm.
    """
    return _read_surface(path, unit)[0]


def _read_surface(path, unit=None):
    """``read_surface`` and the unit it used, with a note when the file's own unit was taken."""
    pv = _pv()
    path = Path(path)
    if unit is not None and unit not in UNIT_TO_MM:
        raise SurfaceInputError(f"image.surface_unit = {unit!r}: expected one of "
                                f"{list(UNIT_TO_MM)}")
    if not path.is_file():
        raise SurfaceInputError(f"image.surface {path}: no such file")
    if path.suffix.lower() not in SURFACE_SUFFIXES:
        raise SurfaceInputError(f"image.surface {path}: unsupported suffix {path.suffix!r}; "
                                f"expected one of {', '.join(SURFACE_SUFFIXES)}")
    import warnings

    try:
        with _vtk_quiet() as said, warnings.catch_warnings():
            warnings.simplefilter("error")
            # pv.read, with an observer of our own that keeps every error of the reader
            # (pv.read's keeps the last, the pipeline's generic "returned failure")
            reader = pv.get_reader(str(path))
            obs = pv.Observer(log=False, store_history=True)
            obs.observe(reader.reader)
            mesh = reader.read()
            said.extend(e.alert for e in obs.event_history if e.alert)
            if said:
                raise OSError(said[0])  # a failing VTK reader returns an empty mesh
    except Exception as e:  # VTK readers raise many kinds; the user needs the file name
        raise SurfaceInputError(f"image.surface {path}: cannot be read as a surface "
                                f"({_vtk_reason(e, said)})") from None
    if not isinstance(mesh, pv.PolyData):
        try:
            mesh = mesh.extract_surface(algorithm="dataset_surface")
        except Exception:
            raise SurfaceInputError(f"image.surface {path}: holds a {type(mesh).__name__}, "
                                    "not a surface") from None
    if mesh.n_cells == 0 or mesh.n_points < 4:
        raise SurfaceInputError(f"image.surface {path}: no surface cells in the file")
    stated = declared_unit(path, mesh)
    note = ""
    if unit is None:
        unit = stated or "mm"
        if stated:
            note = f"unit {stated} as the file states"
    elif stated and stated != unit:
        raise SurfaceInputError(
            f"image.surface {path}: the file states its unit is {stated!r} but "
            f"image.surface_unit (--unit) = {unit!r}; give the file's unit, leave the setting out "
            "to take the file's, or fix its header")
    mesh = mesh.triangulate()
    pts = np.asarray(mesh.points, float)
    if not np.isfinite(pts).all():
        raise SurfaceInputError(f"image.surface {path}: non-finite point coordinates")
    mesh = mesh.clean(tolerance=_merge_tolerance(mesh), absolute=True)
    if mesh.n_cells == 0 or mesh.faces.size == 0:
        raise SurfaceInputError(f"image.surface {path}: no triangles after triangulation "
                                "(lines or points only?)")
    mesh.points = np.asarray(mesh.points, float) * UNIT_TO_MM[unit]
    return mesh, unit, note


class _vtk_quiet:
    """Keep VTK's messages off stderr while a file is read; collect its errors instead.

    A reader failing on a damaged file prints a page: the colour log lines of ``vtkLogger``,
    the pipeline's information dump, and ``ERROR:root:`` lines that pyvista sends through the
    root logger. The read's caller reports the failure in one line of its own, so for the
    duration: VTK's output window collects (``pyvista.VtkErrorCatcher``), ``vtkLogger`` prints
    nothing, and logging is disabled (a root handler ``logging.error`` installs is removed).
    Each is restored afterwards. ``as`` gives the list of the error texts collected.
    """

    def __enter__(self):
        import logging

        import vtk

        pv = _pv()
        self._logging = (logging.root.manager.disable, list(logging.root.handlers))
        logging.disable(logging.CRITICAL)
        # vtkLogger has no getter for its stderr verbosity: the cutoff is that or higher
        self._verbosity = vtk.vtkLogger.GetCurrentVerbosityCutoff()
        vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
        self._catcher = pv.VtkErrorCatcher(raise_errors=False, send_to_logging=False)
        self._catcher.__enter__()
        self.errors = []
        return self.errors

    def __exit__(self, *exc):
        import logging

        import vtk

        try:
            self._catcher.__exit__(None, None, None)  # collects only: raises nothing
            events = getattr(self._catcher, "error_events", None)  # pyvista >= 0.47
            if events is None:  # older pyvista: one observer of errors, history kept
                events = getattr(getattr(self._catcher, "_observer", None), "event_history", [])
            self.errors[:0] = [e.alert for e in events if getattr(e, "alert", "")]
        finally:
            vtk.vtkLogger.SetStderrVerbosity(self._verbosity)
            disable, handlers = self._logging
            logging.disable(disable)
            for h in logging.root.handlers[:]:
                if h not in handlers:
                    logging.root.removeHandler(h)
        return False


_VTK_GENERIC = re.compile(r"^Algorithm \w+ \(0x[0-9a-f]+\) returned failure|^No update piece",
                          re.IGNORECASE)


def _vtk_reason(exc, errors):
    """One short line saying why VTK could not read a file: the reader's own first error (the
    one pyvista quotes from it, or the first collected), before the pipeline's generic "returned
    failure", else the exception's first line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    quoted = [ln.strip('"') for ln in lines[1:] if ln.startswith('"')]
    specific = [e for e in errors if not _VTK_GENERIC.search(e.strip())]
    why = next(iter(specific + quoted + list(errors) + lines[:1]), type(exc).__name__)
    return " ".join(why.split())[:200]  # VTK appends a page of pipeline state


def _merge_tolerance(mesh):
    """Distance (file units) under which two points of a triangle mesh are one: what ~6
    significant digits (ASCII STL, ``%g``) lose, 1e-5 of the largest coordinate, but at most 5 %
    of the median edge, so no real edge is collapsed."""
    p = np.asarray(mesh.points, float)
    tol = 1e-5 * float(np.abs(p).max())
    faces = mesh.faces.reshape(-1, 4)[:, 1:] if mesh.is_all_triangles else None
    if faces is not None and len(faces):
        e = np.linalg.norm(p[faces] - p[np.roll(faces, 1, axis=1)], axis=2).ravel()
        e = e[e > 0]
        if e.size:
            tol = min(tol, 0.05 * float(np.median(e)))
    return float(tol)


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


@dataclass
class _Loop:
    """An open end measured before it is judged: plane fit, polygon area, wall across it."""

    loop: np.ndarray
    mean: np.ndarray
    normal: np.ndarray  # fitted plane normal, sign arbitrary
    area_signed: float
    center: np.ndarray
    radius: float
    flatness: float  # largest distance of a loop point from the plane (mm)
    wall_cos: float  # area-weighted mean |cos| between the rim triangles and the plane normal


def _measure_loop(pts, faces, loop, tri_normals):
    lp = pts[loop]
    mean = lp.mean(axis=0)
    _, _, vt = np.linalg.svd(lp - mean)
    n0 = vt[2] / np.linalg.norm(vt[2])
    area_signed, cen = polygon_area_centroid(lp, n0)
    cen = cen - ((cen - mean) @ n0) * n0
    r = float(np.sqrt(abs(area_signed) / np.pi))
    dev = float(np.abs((lp - cen) @ n0).max())
    on_loop = np.zeros(len(pts), bool)
    on_loop[loop] = True
    rim = np.nonzero(on_loop[faces].any(axis=1))[0]  # the triangles touching the loop
    nrm, ar = tri_normals[rim], np.linalg.norm(tri_normals[rim], axis=1)
    ok = ar > 0
    wall_cos = (float((np.abs(nrm[ok] @ n0)).sum() / ar[ok].sum()) if ok.any() else 0.0)
    return _Loop(np.asarray(loop), mean, n0, area_signed, cen, r, dev, wall_cos)


def _loop_cap(pts, faces, m, path):
    """Port of an open end: plane fitted to the loop, polygon area and centroid in that plane."""
    loop, n0 = m.loop, m.normal
    if m.area_signed == 0:
        raise SurfaceInputError(f"image.surface {path}: an open end of {len(loop)} points "
                                f"near {np.round(m.mean, 2).tolist()} mm encloses no area")
    if m.flatness > 0.35 * m.radius:
        raise SurfaceInputError(
            f"image.surface {path}: the open end near {np.round(m.center, 2).tolist()} mm is not "
            f"flat (points up to {m.flatness:.2f} mm off its plane, radius {m.radius:.2f} mm); cut "
            "it with a plane across the vessel (segmentation.clip_planes, normal out of the "
            "vessel) or clip the ends first (e.g. VMTK vmtksurfaceclipper)")
    n = _outward_of_loop(n0, pts, faces, loop)
    if m.area_signed * float(n @ n0) < 0:
        loop = loop[::-1]  # the cap polygon faces along the outward normal
    return _Cap(m.center, n, abs(m.area_signed), None, np.asarray(loop), "")


def _holes(measured, path, fill_holes):
    """Split open ends into vessel ends and holes in the wall; refuse holes unless filling."""
    r_max = max(m.radius for m in measured)
    ends, holes, why = [], [], []
    for m in measured:
        reasons = []
        if m.wall_cos > HOLE_TUBE_COS:
            reasons.append(f"the wall continues across it (mean |cos| {m.wall_cos:.2f} between the "
                           f"wall along its rim and its plane > {HOLE_TUBE_COS}: not the end of a "
                           "tube)")
        if m.radius < HOLE_RADIUS_RATIO * r_max:
            reasons.append(f"it is far smaller than the largest opening (radius {m.radius:.3g} "
                           f"vs {r_max:.3g} mm, under {HOLE_RADIUS_RATIO:g} of it)")
        (holes if reasons else ends).append(m)
        if reasons:
            why.append(f"near {np.round(m.center, 2).tolist()} mm, radius {m.radius:.3g} mm "
                       f"({len(m.loop)} edges): {' and '.join(reasons)}")
    if holes and not fill_holes:
        more = f" (and {len(why) - 3} more)" if len(why) > 3 else ""
        raise SurfaceInputError(
            f"image.surface {path}: {len(holes)} opening(s) are holes in the vessel wall, not "
            f"vessel ends: {'; '.join(why[:3])}{more}. A hole would become a port (and a small "
            "port sets the lattice step). Repair the surface first (e.g. MeshLab 'Close Holes' "
            "with a small maximum size, or vmtksurfacecapper on the holes only), or call "
            "surface_anatomy(..., fill_holes=True) to close such holes as wall")
    return ends, holes


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


def _check_vessel_size(r_max, pts, path, unit):
    """Refuse a surface whose largest opening no human vessel has: the unit is wrong."""
    lo, hi = VESSEL_RADIUS_MM
    if lo <= r_max <= hi:
        return
    box = np.ptp(np.asarray(pts, float), axis=0)
    raw = r_max / UNIT_TO_MM[unit]  # in the file's own numbers
    fits = [(u, raw * f) for u, f in UNIT_TO_MM.items() if u != unit and lo <= raw * f <= hi]
    if fits:
        alt = " or ".join(f"{u} (largest opening radius {r:.3g} mm)" for u, r in fits)
        u0 = fits[0][0]
        hint = (f"the file's coordinates are probably in {alt}, not {unit}: set the unit with "
                f"image.surface_unit = \"{u0}\" in the case file's [image] section, or "
                f"--unit {u0} to hemotwin segment")
    else:
        hint = ("no unit among mm, cm, m gives a vessel size: check that the file is a vessel "
                "lumen, and its scale")
    what = "small" if r_max < lo else "large"
    raise SurfaceInputError(
        f"image.surface {path}: implausibly {what} for a vessel read in {unit} (--unit / "
        f"image.surface_unit = \"{unit}\"): the largest opening has a radius of {r_max:.3g} mm and "
        f"the bounding box is {' x '.join(f'{v:.3g}' for v in box)} mm, where the largest "
        f"opening of a human vessel model has a radius between {lo:g} mm (small coronary "
        f"branches) and {hi:g} mm (aneurysmal aorta); {hint}")


def surface_ports(surface, path="surface", face_names=None, overrides=None, inlet_plane=None,
                  fill_holes=False, unit=None):
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
    fill_holes : bool
        Close open ends that are holes in the wall (far smaller than the largest, or not the end
        of a tube: ``HOLE_RADIUS_RATIO``, ``HOLE_TUBE_COS``) as wall; default: refuse them.
    unit : str, optional
        The unit the file was read in: check that the largest opening is a human vessel's
        (``VESSEL_RADIUS_MM``) and name the unit that fits if not.

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
    caps, filled = [], []
    if (cnt == 1).any():
        kind = "open"
        loops = _boundary_loops(faces)
        _, tri_n, _ = _tri_geometry(pts, faces)
        measured = [_measure_loop(pts, faces, loop, tri_n) for loop in loops]
        if unit is not None and measured:
            _check_vessel_size(max(m.radius for m in measured), pts, path, unit)
        ends, holes = _holes(measured, path, fill_holes) if measured else ([], [])
        filled = [h.loop for h in holes]
        for m in ends:
            cap = _loop_cap(pts, faces, m, path)
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
        if unit is not None and caps:
            _check_vessel_size(max(np.sqrt(c.area / np.pi) for c in caps), pts, path, unit)
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
        try:
            ports = apply_port_overrides(ports, overrides)
        except PortOverrideError as e:
            raise SurfaceInputError(f"image.surface {path}: {e}") from None
    final = {raw_index[id(p)]: k for k, p in enumerate(ports)}
    labels = np.full(len(faces), -1, np.int32)
    polys, poly_labels = [], []
    for i, c in enumerate(caps):
        if c.cells is not None:
            labels[c.cells] = final[i]
        else:
            polys.append(c.loop)
            poly_labels.append(final[i])
    for loop in filled:  # holes closed as wall (fill_holes)
        polys.append(loop)
        poly_labels.append(-1)
    all_labels = np.concatenate([labels, np.asarray(poly_labels, np.int32)])
    capped = _mesh_with_polygons(pts, faces, polys, all_labels)
    capped = capped.compute_normals(cell_normals=True, point_normals=False,
                                    auto_orient_normals=True, consistent_normals=True,
                                    split_vertices=False)
    capped.field_data["port_names"] = np.array([p.name for p in ports])
    if filled:
        capped.field_data["filled_holes"] = np.array([len(filled)])
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


def surface_anatomy(path, unit=None, faces_file=None, overrides=None, spacing_mm=None,
                    clip_planes=(), clip_radius_mm=None, fill_holes=False):
    """Read a lumen surface and return the capped surface, its ports and its mask.

    ``unit``: the file's length unit (``"mm"``, ``"cm"``, ``"m"``; None: the unit the file
    states, else mm; a given unit that contradicts the file's is refused). A largest opening
    outside ``VESSEL_RADIUS_MM`` is refused with the unit that would fit.
    ``faces_file``: a SimVascular ``.mdl`` naming the faces of a surface with face ids.
    ``clip_planes``: ``[(point, normal), ...]`` mm, cut first (a closed surface without caps,
    e.g. from Slicer or ITK-SNAP, or ragged ends); the first plane's cut is the inlet.
    ``fill_holes``: close holes in the wall (open ends that are not vessel ends) as wall instead
    of refusing the surface.
    """
    from .surface import check_surface

    path = Path(path)
    unit_arg = unit
    surf, unit, unit_note = _read_surface(path, unit)
    names = read_face_names(faces_file) if faces_file else None
    inlet_plane = None
    if len(clip_planes):
        if any(k in surf.cell_data for k in FACE_ID_ARRAYS) or names:
            raise SurfaceInputError(
                f"image.surface {path}: has capped faces (face ids); clip planes are for surfaces "
                "without caps (drop segmentation.clip_planes, or the caps)")
        surf = clip_surface(surf, clip_planes, clip_radius_mm, str(path))
        inlet_plane = clip_planes[0]
    capped, ports, kind = surface_ports(surf, str(path), names, overrides, inlet_plane,
                                        fill_holes=fill_holes, unit=unit)
    chk = check_surface(capped, self_intersections=False)
    if not chk["watertight"]:
        raise SurfaceInputError(
            f"image.surface {path}: not closed after capping its {len(ports)} ends "
            f"({chk['boundary_edges']} open edges, {chk['non_manifold_edges']} non-manifold); "
            "holes other than the vessel ends must be repaired first")
    mask, h, origin = lumen_mask(capped, ports, spacing_mm)
    if not mask.any():
        raise SurfaceInputError(f"image.surface {path}: encloses no voxel at {h[0]:.3g} mm")
    n_filled = int(capped.field_data["filled_holes"][0]) if "filled_holes" in capped.field_data \
        else 0
    extra = "".join(f", {t}" for t in (unit_note, n_filled and f"{n_filled} hole(s) closed as wall")
                    if t)
    desc = (f"surface ({kind}, {len(ports)} ports, {chk['n_triangles']} triangles, "
            f"{chk['volume_mm3'] / 1e3:.2f} mL{extra})")
    given = unit_arg is not None
    return SurfaceAnatomy(capped, ports, mask, h, origin, kind, desc, unit,
                          "given" if given else "file" if unit_note else "default",
                          float(chk["volume_mm3"]))


# SimVascular's demo projects model in cm; read in mm (the default) such a model is 10 times too
# small, yet its largest cap can still be within VESSEL_RADIUS_MM (the Demo Project aorta: inlet
# 12.1 mm in cm, 1.21 mm read as mm). A SimVascular model (a .mdl names its faces) read in mm by
# default whose largest port is narrower than this gets a warning that names --unit cm. Narrow on
# purpose: no vessel model starting at the aorta, a carotid or a coronary ostium (r ~2 mm) is this
# small; a cerebral model without a .mdl (Aneurisk C0015, inlet r 1.56 mm) is never warned about
SIMVASCULAR_SMALL_RADIUS_MM = 1.5


def simvascular_unit_warning(anat, faces_file):
    """A warning when a SimVascular model read in mm by default looks like one given in cm.

    Returns None, or one line without file names (it goes into segmentation.json): the largest
    port radius and the volume in mm, what they would be in cm, and the options that settle it.
    """
    if faces_file is None or anat.unit_source != "default" or anat.unit != "mm":
        return None
    r = max(p.radius_mm for p in anat.ports)
    if r >= SIMVASCULAR_SMALL_RADIUS_MM:
        return None
    vol = anat.volume_mm3 / 1e3
    return (f"read in mm (the default: neither --unit nor the file gives a unit), this "
            f"SimVascular model (a .mdl names its faces) is tiny for a vessel: largest port "
            f"radius {r:.2f} mm, volume {vol:.3g} mL. SimVascular models are often in cm; in cm "
            f"they would be {10 * r:.1f} mm and {1e3 * vol:.3g} mL: if so, rerun with --unit cm "
            "(case files: image.surface_unit = \"cm\"); --unit mm confirms mm and drops this "
            "warning")
