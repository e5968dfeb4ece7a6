# SPDX-License-Identifier: Apache-2.0
"""Inlet/outlet ports of a lumen mask: where the vessel is cut by the image box or a clip plane.

Naming rule (stable, documented): the inlet is the port on the FIRST user clip plane if clip
planes were given, else the port with the largest area (areas within 10 % count as equal and the
tie goes to the lowest (z, y, x) centre). Outlets are ``outlet_1, outlet_2, ...`` in order of
decreasing area, ties (within 10 %) by lowest (z, y, x). The area is that of the flat cut that
caps the port (``surface.cap_ports`` measures it and applies the rule again): the voxel footprint
``detect_ports`` starts from can be far larger for a vessel that grazes the image face.
Case files may override: a mapping ``{new_name: point_mm}`` names the port whose centre lies
within ``override_tolerance_mm`` of each point; a name starting with ``inlet`` makes that port the
inlet, any other name keeps the port's role (a renamed inlet stays the inlet).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .grid import grid_of

__all__ = [
    "Port",
    "PortOverrideError",
    "apply_port_overrides",
    "detect_ports",
    "order_ports",
    "override_tolerance_mm",
    "ports_to_planes",
    "rank_ports",
    "read_ports_json",
    "write_ports_json",
]

_AUTO_OUTLET = re.compile(r"^outlet_(\d+)$")


class PortOverrideError(ValueError):
    """A port name from ``--port-name`` / ``[ports.names]`` that cannot be applied."""


@dataclass
class Port:
    """An inlet or outlet of the fluid domain (geometry in mm, physical LPS).

    Attributes
    ----------
    name : str
    role : str
        ``"inlet"`` or ``"outlet"``.
    center_mm : ndarray (3,)
    normal : ndarray (3,)
        Unit normal pointing OUT of the fluid.
    area_mm2 : float
        Cross-section area of the cut (mm^2).
    radius_mm : float
        Equivalent radius sqrt(area / pi) (mm).
    source : str
        ``"boundary"`` (image/crop face) or ``"clip"`` (user clip plane).
    provisional : bool
        The name and role come from an estimated area (``detect_ports``: the voxel footprint);
        ``surface.cap_ports`` measures the cut and applies the naming rule again. False once
        measured, for a name the user gave and for the inlet of the first clip plane.
    """

    name: str
    role: str
    center_mm: np.ndarray
    normal: np.ndarray
    area_mm2: float
    radius_mm: float
    source: str = "boundary"
    provisional: bool = False

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "center_mm": [float(v) for v in self.center_mm],
            "normal": [float(v) for v in self.normal],
            "area_mm2": float(self.area_mm2),
            "radius_mm": float(self.radius_mm),
        }


def order_ports(radii_mm, centers_mm, inlet_index=None):
    """Order ports by the documented naming rule.

    Parameters
    ----------
    radii_mm : sequence of float
        Equivalent radius of each port (mm).
    centers_mm : sequence of array (3,)
        Port centres (mm).
    inlet_index : int or None
        Force this port to be the inlet (e.g. the one on the first clip plane).

    Returns
    -------
    order : list of int
        Indices into the inputs, inlet first.
    names, roles : list of str
    """
    r = np.asarray(radii_mm, float)
    n = len(r)
    if n == 0:
        return [], [], []
    area = np.pi * r * r
    if inlet_index is None:
        inlet_index = _sort_with_ties(list(range(n)), area, centers_mm)[0]
    rest = _sort_with_ties([i for i in range(n) if i != inlet_index], area, centers_mm)
    order = [inlet_index] + rest
    names = ["inlet"] + [f"outlet_{k + 1}" for k in range(len(rest))]
    roles = ["inlet"] + ["outlet"] * len(rest)
    return order, names, roles


def _sort_with_ties(idx, area, centers_mm):
    """Indices by decreasing area; areas within 10 % compare equal, lowest (z, y, x) first.

    Centres compare at 1 mm: two ends at the same height measured 0.01 mm apart must not swap
    on that noise (the y then x order decides)."""
    c = [np.round(np.asarray(x, float)) for x in centers_mm]
    idx = sorted(idx, key=lambda i: (-float(area[i]), c[i][2], c[i][1], c[i][0]))
    out = []
    while idx:
        lead = idx[0]
        group = [i for i in idx if area[i] >= area[lead] / 1.1]
        group.sort(key=lambda i: (c[i][2], c[i][1], c[i][0]))
        out.append(group[0])
        idx.remove(group[0])
    return out


def rank_ports(ports):
    """Apply the naming rule again to the ``provisional`` ports, by their (measured) areas.

    The provisional ports share out the names they hold among themselves: ``inlet`` (when one of
    them holds it) to the largest, the ``outlet_k`` names in order of decreasing area (ties as in
    ``order_ports``); a port named by the user or pinned as inlet by the first clip plane keeps
    its name and role. Every port is marked measured (``provisional = False``).

    Returns
    -------
    list of Port
        The same objects, inlet first, then the outlets in name order.
    """
    ports = list(ports)
    pool = [p for p in ports if p.provisional]
    if pool:
        area = np.array([p.area_mm2 for p in ports], float)
        idx = [i for i, p in enumerate(ports) if p.provisional]
        names = [p.name for p in pool]
        outlet_names = sorted((nm for nm in names if _AUTO_OUTLET.match(nm)),
                              key=lambda nm: int(_AUTO_OUTLET.match(nm).group(1)))
        others = [nm for nm in names if nm != "inlet" and not _AUTO_OUTLET.match(nm)]
        ranked = _sort_with_ties(idx, area, [p.center_mm for p in ports])
        if "inlet" in names:
            ports[ranked[0]].name, ports[ranked[0]].role = "inlet", "inlet"
            ranked = ranked[1:]
        for i, nm in zip(ranked, outlet_names + others):
            ports[i].name, ports[i].role = nm, "outlet"
    for p in ports:
        p.provisional = False
    return sorted(ports, key=_list_order)


def _list_order(p):
    m = _AUTO_OUTLET.match(p.name)
    return (p.role != "inlet", m is None, int(m.group(1)) if m else 0)


def _plane_tuple(plane):
    p = np.asarray(plane, float).reshape(-1)
    if p.size != 6:
        raise ValueError(f"clip plane needs 6 numbers PX,PY,PZ,NX,NY,NZ, got {p.size}")
    n = p[3:] / np.linalg.norm(p[3:])
    return p[:3], n


def detect_ports(mask, geom, clip_planes=(), min_area_voxels=4, overrides=None):
    """Find the ports of a binary lumen mask.

    A port is a connected patch of lumen voxels on the outermost layer of the image (the vessel
    leaves the image or crop box), or a connected patch of lumen voxels within one voxel of a
    user clip plane (the plane removed everything on its normal side).

    Parameters
    ----------
    mask : ndarray (nx, ny, nz)
        Binary lumen mask indexed [i, j, k].
    geom : object
        Anything with ``spacing_mm``, ``origin_mm``, ``direction`` (e.g. ``ImageVolume``,
        ``Phantom``, ``VoxelGrid``).
    clip_planes : sequence of 6-tuples
        (px, py, pz, nx, ny, nz) in mm, normal pointing away from the kept region.
    min_area_voxels : int
        Smaller patches are ignored (noise touching the boundary).
    overrides : dict, optional
        ``{name: point_mm}``, see ``apply_port_overrides``.

    Returns
    -------
    list of Port
        Named by the module's rule: ``inlet`` first, then ``outlet_1``, ...
    """
    m = np.asarray(mask) > 0
    g = grid_of(geom, m.shape)
    found = []  # (center, normal, area, source, plane_index)
    normals = g.face_normals()
    # face patches: label lumen on the whole boundary shell so a vessel leaving through an edge
    # of the box stays one port
    shell = np.zeros_like(m)
    shell[[0, -1]] = True
    shell[:, [0, -1]] = True
    shell[:, :, [0, -1]] = True
    lab, n = ndimage.label(m & shell, structure=np.ones((3, 3, 3)))
    for lbl in range(1, n + 1):
        ijk = np.argwhere(lab == lbl)
        if len(ijk) < min_area_voxels:
            continue
        # dominant face decides the normal; area from that face's voxel footprint
        faces = []
        for a in range(3):
            for side, val in ((0, 0), (1, m.shape[a] - 1)):
                sel = ijk[:, a] == val
                faces.append((int(sel.sum()), a, side, sel))
        cnt, a, side, sel = max(faces, key=lambda t: t[0])
        pix = ijk[sel]
        if len(pix) < min_area_voxels:
            continue
        sp = np.delete(g.spacing_mm, a)
        area = len(pix) * float(sp[0] * sp[1])
        center = g.index_to_world(pix.mean(axis=0))
        found.append((center, normals[2 * a + side], area, "boundary", None))
    if clip_planes:
        idx = np.indices(m.shape).reshape(3, -1).T
        world = g.index_to_world(idx)
        h = float(np.cbrt(g.voxel_volume_mm3))
        for pi, plane in enumerate(clip_planes):
            p0, nrm = _plane_tuple(plane)
            sd = (world - p0) @ nrm  # < 0 on the kept side
            # the slab is one voxel thick; 1e-9 h of slack: cbrt(0.125) is 0.49999999999999994
            slab = (m.reshape(-1) & (sd >= -h * (1 + 1e-9)) & (sd < 0)).reshape(m.shape)
            lab, n = ndimage.label(slab, structure=np.ones((3, 3, 3)))
            for lbl in range(1, n + 1):
                sel = (lab == lbl).reshape(-1)
                if sel.sum() < min_area_voxels:
                    continue
                pts = world[sel]
                # voxels in a slab of thickness h sample the cut: area = volume / thickness
                area = sel.sum() * g.voxel_volume_mm3 / h
                c = pts.mean(axis=0)
                c = c - ((c - p0) @ nrm) * nrm  # onto the plane
                found.append((c, nrm, area, "clip", pi))
    radii = [np.sqrt(f[2] / np.pi) for f in found]
    centers = [f[0] for f in found]
    inlet_index = None
    first_clip = [i for i, f in enumerate(found) if f[4] == 0]
    if first_clip:
        inlet_index = max(first_clip, key=lambda i: found[i][2])
    order, names, roles = order_ports(radii, centers, inlet_index)
    ports = [
        Port(
            nm,
            ro,
            np.asarray(found[i][0]),
            np.asarray(found[i][1]),
            float(found[i][2]),
            float(radii[i]),
            found[i][3],
            # areas are voxel estimates until the cut; the first clip plane pins the inlet
            provisional=not (first_clip and i == inlet_index),
        )
        for i, nm, ro in zip(order, names, roles)
    ]
    if overrides:
        ports = apply_port_overrides(ports, overrides)
    return ports


# a point names a port when it lies this close to the port centre: two port radii (a point
# picked anywhere on the cap, or on the centerline a little inside), at least 2 mm (small ports,
# centres that move by a voxel or two when the port is re-cut perpendicular to the vessel)
OVERRIDE_RADII = 2.0
OVERRIDE_MIN_MM = 2.0


def override_tolerance_mm(port) -> float:
    """How far (mm) from ``port``'s centre a point may lie and still name it."""
    return max(OVERRIDE_RADII * float(port.radius_mm), OVERRIDE_MIN_MM)


def _fmt(v):
    return "[" + ", ".join(f"{float(x):.1f}" for x in v) + "]"


def apply_port_overrides(ports, overrides):
    """Name ports from a case file or the command line: ``{new_name: point_mm}``.

    Each point must lie within ``override_tolerance_mm`` (two port radii, at least 2 mm) of the
    centre of the port it names, and no two names may pick the same port. A name starting with
    ``"inlet"`` makes that port the inlet; the previous inlet becomes an outlet and takes the
    renamed port's old name (``outlet_k``). Any other name keeps the port's role: a renamed inlet
    stays the inlet. Unnamed ports keep their names.

    Raises
    ------
    PortOverrideError
        A point far from every port, two names on one port, two inlets, or a duplicate name; the
        message names the NAME, the point, the nearest port and its distance.

    Examples
    --------
    >>> import numpy as np
    >>> a = Port("inlet", "inlet", np.zeros(3), np.array([0, 0, -1.0]), 28.3, 3.0)
    >>> b = Port("outlet_1", "outlet", np.array([0, 0, 50.0]), np.array([0, 0, 1.0]), 12.6, 2.0)
    >>> [(p.name, p.role) for p in apply_port_overrides([a, b], {"ica": [0, 0, 1.0]})]
    [('ica', 'inlet'), ('outlet_1', 'outlet')]
    """
    ports = list(ports)
    if not ports:
        raise PortOverrideError("port names given, but the anatomy has no ports")
    where = "(--port-name / [ports.names])"
    picks = {}  # port index -> name
    for new, pt in overrides.items():
        new = str(new)
        pt = np.asarray(pt, float).reshape(-1)
        if not new or pt.size != 3 or not np.isfinite(pt).all():
            raise PortOverrideError(f"port name {new!r} {where}: needs a name and a point of 3 "
                                    f"finite numbers (mm), got {pt.tolist()}")
        d = np.array([np.linalg.norm(np.asarray(p.center_mm, float) - pt) for p in ports])
        i = int(np.argmin(d))
        tol = override_tolerance_mm(ports[i])
        if d[i] > tol:
            listing = ", ".join(f"{p.name} {_fmt(p.center_mm)} r={p.radius_mm:.2f}" for p in ports)
            raise PortOverrideError(
                f"port name {new!r} {where}: the point {_fmt(pt)} mm is {d[i]:.1f} mm from the "
                f"nearest port, {ports[i].name} (centre {_fmt(ports[i].center_mm)} mm, radius "
                f"{ports[i].radius_mm:.2f} mm); it must lie within {tol:.1f} mm of a port centre "
                f"({OVERRIDE_RADII:g} port radii, at least {OVERRIDE_MIN_MM:g} mm). Ports (centre "
                f"mm, radius mm): {listing}")
        if i in picks:
            raise PortOverrideError(
                f"port names {picks[i]!r} and {new!r} {where} both pick port {ports[i].name} "
                f"(centre {_fmt(ports[i].center_mm)} mm, radius {ports[i].radius_mm:.2f} mm): "
                "give each name a point near a different port")
        picks[i] = new
    inlets = [nm for nm in picks.values() if nm.startswith("inlet")]
    if len(inlets) > 1:
        raise PortOverrideError(f"port names {inlets} {where}: a name starting with 'inlet' makes "
                                "that port the inlet, and there is one inlet")
    for i, new in picks.items():
        p = ports[i]
        if p.role == "inlet" and not new.startswith("inlet") and _AUTO_OUTLET.match(new):
            raise PortOverrideError(f"port name {new!r} {where}: the point picks the inlet "
                                    f"({p.name}); an outlet name would hide its role")
    for i, new in picks.items():
        p = ports[i]
        if new.startswith("inlet") and p.role != "inlet":
            for k, q in enumerate(ports):
                if q.role == "inlet":
                    q.role = "outlet"
                    if k not in picks:  # the old inlet takes the vacated outlet name
                        q.name = p.name if _AUTO_OUTLET.match(p.name) else _free_outlet_name(
                            ports, picks)
            p.role = "inlet"
        p.name = new
        p.provisional = False
    names = [p.name for p in ports]
    dup = sorted({nm for nm in names if names.count(nm) > 1})
    if dup:
        raise PortOverrideError(f"port names {where}: {dup} would name two ports ({names}); "
                                "choose names no other port has")
    ports.sort(key=lambda p: (p.role != "inlet",))
    return ports


def _free_outlet_name(ports, picks):
    taken = {p.name for p in ports} | set(picks.values())
    k = 1
    while f"outlet_{k}" in taken:
        k += 1
    return f"outlet_{k}"


def write_ports_json(ports, path, overwrite=False) -> Path:
    """Write ``{"ports": [{"name","role","center_mm","normal","area_mm2","radius_mm"}, ...]}``.

    Normals point out of the fluid; lengths in mm, areas in mm^2. Refuses to replace an existing
    file unless ``overwrite``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite")
    path.write_text(json.dumps({"ports": [p.to_dict() for p in ports]}, indent=2) + "\n")
    return path


def read_ports_json(path) -> list:
    """Read ports written by ``write_ports_json``."""
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        Port(
            p["name"],
            p["role"],
            np.asarray(p["center_mm"], float),
            np.asarray(p["normal"], float),
            float(p["area_mm2"]),
            float(p["radius_mm"]),
        )
        for p in d["ports"]
    ]


def ports_to_planes(ports, scale=1e-3):
    """Convert ports (mm) to ``voxelize.PortPlane`` objects (default in metres)."""
    from .voxelize import PortPlane

    return [
        PortPlane(p.name, p.role, np.asarray(p.center_mm) * scale, p.normal, p.radius_mm * scale)
        for p in ports
    ]
