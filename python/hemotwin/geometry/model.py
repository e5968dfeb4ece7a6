# SPDX-License-Identifier: Apache-2.0
"""From a lumen mask to a vessel model: ports -> capped surface -> centerlines, with checks."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["VesselModel", "build_vessel_model"]


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


def build_vessel_model(mask, geom, clip_planes=(), levelset=None, port_overrides=None,
                       target_edge_mm=None, flow_extensions=0.0, self_intersections=True):
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

    Returns
    -------
    VesselModel
    """
    from .centerlines import centerline_topology, compute_centerlines
    from .ports import detect_ports
    from .surface import add_flow_extensions, check_surface, extract_surface

    planes = [np.r_[np.asarray(p[0], float), np.asarray(p[1], float)] if len(p) == 2 else np.asarray(p, float)
              for p in clip_planes]
    ports = detect_ports(mask, geom, planes, overrides=port_overrides)
    if not ports:
        raise ValueError("no ports: the lumen touches neither the image boundary nor a clip plane; "
                         "crop the image or add a clip plane across each vessel end")
    # clip-plane ports: cut one voxel inside the plane, where the lumen section is complete
    h = float(np.cbrt(np.prod(np.asarray(geom.spacing_mm, float))))
    for p in ports:
        if p.source == "clip":
            p.center_mm = np.asarray(p.center_mm) - 1.0 * h * np.asarray(p.normal)
    surf = extract_surface(mask, geom, ports, levelset=levelset, target_edge_mm=target_edge_mm)
    cl = compute_centerlines(mask, geom, ports, surface=surf, levelset=levelset)
    if flow_extensions:
        surf = add_flow_extensions(surf, ports, flow_extensions)
    chk = check_surface(surf, self_intersections=self_intersections)
    return VesselModel(surf, cl, ports, chk, centerline_topology(cl))
