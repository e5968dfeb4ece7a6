# SPDX-License-Identifier: Apache-2.0
"""From a lumen mask to a vessel model: ports -> capped surface -> centerlines, with checks."""

from __future__ import annotations

import copy

from dataclasses import dataclass, field

import numpy as np

__all__ = ["NoPortsError", "VesselModel", "build_vessel_model"]


class NoPortsError(ValueError):
    """The lumen touches neither the image boundary nor a clip plane: nothing to cut as a port."""


@dataclass
class VesselModel:
    """Everything the solver and the sizing step need from the lumen geometry (mm).

    Attributes
    ----------
    surface : pyvista.PolyData
        Closed, capped surface; cell array ``port_id``.
    centerlines : pyvista.PolyData
        Centerline tree (see ``geometry.centerlines.compute_centerlines``).
    ports : list of Port
    surface_check : dict
        ``geometry.surface.check_surface`` result.
    topology : dict
        ``geometry.centerlines.centerline_topology`` result.
    """

    surface: object
    centerlines: object
    ports: list
    surface_check: dict = field(default_factory=dict)
    topology: dict = field(default_factory=dict)

    def to_lattice(self, dx_m=None, cells_across=10.0, warn_below=8.0):
        """Voxelize the capped surface into the solver's lattice.

        Parameters
        ----------
        dx_m : float, optional
            Lattice spacing (m); default: ``cells_across`` cells over the narrowest port.
        cells_across : float
            Cells across the narrowest port diameter when ``dx_m`` is not given.
        warn_below : float
            Warn when a port has fewer cells across its diameter.

        Returns
        -------
        domain : hemotwin.lattice.LatticeDomain
        report : dict
            ``geometry.voxelize.domain_report``: cell count, memory estimate, cells per port.
        """
        from .voxelize import domain_report
        from .voxelize_surface import voxelize_surface

        dom = voxelize_surface(
            self.surface, self.ports, dx_m=dx_m, cells_across=cells_across, warn_below=warn_below
        )
        return dom, domain_report(dom, warn_below=warn_below)


def build_vessel_model(
    mask,
    geom,
    clip_planes=(),
    levelset=None,
    port_overrides=None,
    target_edge_mm=None,
    flow_extensions=0.0,
    self_intersections=True,
    perpendicular_ports=True,
    max_port_tilt_deg=60.0,
):
    """Ports, capped surface, centerlines of a lumen mask.

    Parameters
    ----------
    mask : ndarray (nx, ny, nz)
        Binary lumen mask indexed [i, j, k].
    geom : object
        ``spacing_mm``, ``origin_mm``, ``direction`` of the mask.
    clip_planes : sequence of 6-tuples
        User clip planes (mm) that cut the vessel (their cuts become ports).
    levelset : ndarray, optional
        Smooth level set, negative inside, on the mask grid.
    port_overrides : dict, optional
        ``{name: point_mm}`` renames (see ``geometry.ports.apply_port_overrides``).
    target_edge_mm : float, optional
        Decimate the surface towards this edge length.
    flow_extensions : float
        Length of cylindrical flow extensions in port diameters (0 = none).
    self_intersections : bool
        Run the self-intersection check (seconds on large meshes).
    perpendicular_ports : bool
        Re-cut every port perpendicular to its centerline when the vessel leaves the image or
        the clip plane obliquely (tilt > 10 degrees): the new cut lies inside by
        ``r tan(tilt) + 1.5 voxels`` so its whole section is lumen. Tilts above
        ``max_port_tilt_deg`` keep the original cut (moving it would eat too much vessel).

    Returns
    -------
    VesselModel
    """
    from .centerlines import centerline_topology, compute_centerlines
    from .ports import detect_ports
    from .surface import add_flow_extensions, check_surface, extract_surface

    planes = [
        np.r_[np.asarray(p[0], float), np.asarray(p[1], float)]
        if len(p) == 2
        else np.asarray(p, float)
        for p in clip_planes
    ]
    ports = detect_ports(mask, geom, planes, overrides=port_overrides)
    if not ports:
        raise NoPortsError(
            "no ports: the lumen touches neither the image boundary nor a clip plane; "
            "crop the image or add a clip plane across each vessel end"
        )
    # clip-plane ports: cut one voxel inside the plane, where the lumen section is complete
    h = float(np.cbrt(np.prod(np.asarray(geom.spacing_mm, float))))
    for p in ports:
        if p.source == "clip":
            p.center_mm = np.asarray(p.center_mm) - 1.0 * h * np.asarray(p.normal)
    from .surface import cap_ports

    open_surf = extract_surface(
        mask, geom, ports, levelset=levelset, target_edge_mm=target_edge_mm, cap=False
    )
    surf = _capped(cap_ports, open_surf, ports, h)
    cl = compute_centerlines(mask, geom, ports, surface=surf, levelset=levelset)
    first_cut = copy.deepcopy(ports)
    if perpendicular_ports and _perpendicular_ports(cl, ports, h, max_port_tilt_deg):
        planned = copy.deepcopy(ports)
        recut = _capped(cap_ports, open_surf, ports, h)
        if _caps_where_planned(recut, planned, h, check_surface(surf, False)["volume_mm3"]):
            surf = recut
            cl = compute_centerlines(mask, geom, ports, surface=surf, levelset=levelset)
        else:
            # a vessel grazing the image face: the perpendicular cut split the lumen and
            # capped the wrong openings; the first (image-face) cuts stand
            ports[:] = first_cut
    if flow_extensions:
        surf = add_flow_extensions(surf, ports, flow_extensions)
    chk = check_surface(surf, self_intersections=self_intersections)
    return VesselModel(surf, cl, ports, chk, centerline_topology(cl))


def _caps_where_planned(surf, planned, h, volume_before_mm3):
    """Each port's cap lies in its planned plane near its planned centre, and the cut kept the
    lumen (at least 70 % of the volume of the first cut)."""
    from .surface import check_surface

    pid = np.asarray(surf.cell_data["port_id"])
    pts = np.asarray(surf.points)
    faces = surf.faces.reshape(-1, 4)[:, 1:]
    for k, port in enumerate(planned):
        cells = np.nonzero(pid == k)[0]
        if len(cells) == 0:
            return False
        cen = pts[np.unique(faces[cells])].mean(axis=0)
        c, n = np.asarray(port.center_mm, float), np.asarray(port.normal, float)
        far = np.linalg.norm(cen - c) > 2.0 * float(port.radius_mm) + 3.0 * h
        if abs((cen - c) @ n) > h or far:
            return False
    chk = check_surface(surf, self_intersections=False)
    return chk["watertight"] and chk["volume_mm3"] >= 0.7 * volume_before_mm3


def _capped(cap_ports, open_surf, ports, h):
    surf = cap_ports(open_surf, ports, h)
    return surf.compute_normals(
        cell_normals=True,
        point_normals=False,
        auto_orient_normals=True,
        consistent_normals=True,
        split_vertices=False,
    )


def _perpendicular_ports(cl, ports, h, max_tilt_deg):
    """Move oblique ports inward along the centerline and turn them perpendicular to it."""
    P = np.asarray(cl.points)
    bid = np.asarray(cl.point_data["branch_id"])
    ends = [str(e) for e in cl.field_data["branch_port"]]
    changed = False
    for port in ports:
        if port.role == "inlet":
            pts = P[bid == 0][::-1]  # ordered towards the inlet end
        elif port.name in ends:
            pts = P[bid == ends.index(port.name)]
        else:
            continue
        if len(pts) < 3:
            continue
        s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(pts[::-1], axis=0), axis=1))])
        rev = pts[::-1]  # from the port end inwards
        r = float(port.radius_mm)
        k = int(np.searchsorted(s, min(2.0 * r, s[-1])))
        t = rev[0] - rev[min(k, len(rev) - 1)]
        if np.linalg.norm(t) == 0:
            continue
        t /= np.linalg.norm(t)
        tilt = np.degrees(np.arccos(np.clip(t @ np.asarray(port.normal), -1, 1)))
        if tilt <= 10.0 or tilt > max_tilt_deg:
            continue
        d = r * np.tan(np.radians(tilt)) + 1.5 * h
        if d >= 0.5 * s[-1]:
            continue
        j = int(np.searchsorted(s, d))
        c = rev[j]
        # tangent at the new cut
        j2 = min(int(np.searchsorted(s, d + r)), len(rev) - 1)
        tn = rev[max(j - 1, 0)] - rev[j2]
        tn /= np.linalg.norm(tn)
        port.center_mm = c
        port.normal = tn
        changed = True
    return changed
