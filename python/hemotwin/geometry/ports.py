# SPDX-License-Identifier: Apache-2.0
"""Inlet/outlet ports of a lumen mask: where the vessel is cut by the image box or a clip plane.

Naming rule (stable, documented): the inlet is the port on the FIRST user clip plane if clip
planes were given, else the port with the largest area (areas within 10 % count as equal and the
tie goes to the lowest (z, y, x) centre). Outlets are ``outlet_1, outlet_2, ...`` in order of
decreasing area, ties (within 10 %) by lowest (z, y, x). Case files may override: a mapping
``{new_name: point_mm}`` renames the port nearest each point (and may pin the inlet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .grid import grid_of

__all__ = [
    "Port",
    "apply_port_overrides",
    "detect_ports",
    "order_ports",
    "ports_to_planes",
    "read_ports_json",
    "write_ports_json",
]


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
    """

    name: str
    role: str
    center_mm: np.ndarray
    normal: np.ndarray
    area_mm2: float
    radius_mm: float
    source: str = "boundary"

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
    c = [np.asarray(x, float) for x in centers_mm]
    n = len(r)
    if n == 0:
        return [], [], []
    area = np.pi * r * r

    def key(i):
        # areas within 10 % of each other compare equal -> geometric tie-break on (z, y, x)
        return (-float(area[i]), c[i][2], c[i][1], c[i][0])

    def sort_with_ties(idx):
        idx = sorted(idx, key=key)
        out = []
        while idx:
            lead = idx[0]
            group = [i for i in idx if area[i] >= area[lead] / 1.1]
            group.sort(key=lambda i: (c[i][2], c[i][1], c[i][0]))
            out.append(group[0])
            idx.remove(group[0])
        return out

    if inlet_index is None:
        inlet_index = sort_with_ties(list(range(n)))[0]
    rest = sort_with_ties([i for i in range(n) if i != inlet_index])
    order = [inlet_index] + rest
    names = ["inlet"] + [f"outlet_{k + 1}" for k in range(len(rest))]
    roles = ["inlet"] + ["outlet"] * len(rest)
    return order, names, roles


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
            slab = (m.reshape(-1) & (sd >= -h) & (sd < 0)).reshape(m.shape)
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
        )
        for i, nm, ro in zip(order, names, roles)
    ]
    if overrides:
        ports = apply_port_overrides(ports, overrides)
    return ports


def apply_port_overrides(ports, overrides):
    """Rename ports from a case file: ``{new_name: point_mm}`` picks the port nearest each point.

    A new name ``"inlet"`` (or one starting with ``"inlet"``) makes that port the inlet; the
    previous inlet becomes an outlet. Unnamed ports keep their names.
    """
    ports = list(ports)
    used = set()
    for new, pt in overrides.items():
        pt = np.asarray(pt, float)
        d = [
            np.linalg.norm(p.center_mm - pt) if i not in used else np.inf
            for i, p in enumerate(ports)
        ]
        i = int(np.argmin(d))
        if not np.isfinite(d[i]):
            raise ValueError(f"port override {new!r}: no port left to rename")
        used.add(i)
        if new.startswith("inlet"):
            for p in ports:
                if p.role == "inlet":
                    p.role = "outlet"
            ports[i].role = "inlet"
        elif ports[i].role == "inlet":
            ports[i].role = "outlet"
        ports[i].name = new
    names = [p.name for p in ports]
    if len(set(names)) != len(names):
        raise ValueError(f"port overrides give duplicate names: {names}")
    ports.sort(key=lambda p: (p.role != "inlet",))
    return ports


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
