# SPDX-License-Identifier: Apache-2.0
"""Surface extraction, caps, checks, flow extensions, and the centerline of a tube."""

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.geometry.centerlines import centerline_topology, compute_centerlines
from hemotwin.geometry.grid import VoxelGrid
from hemotwin.geometry.ports import detect_ports
from hemotwin.geometry.surface import (
    add_flow_extensions,
    check_surface,
    extract_surface,
    write_surface,
)


@pytest.fixture(scope="module")
def tube():
    shape, sp, R = (32, 32, 60), 0.5, 5.0
    ijk = np.indices(shape).astype(float)
    c = (np.array(shape[:2]) - 1) / 2
    m = np.hypot(ijk[0] - c[0], ijk[1] - c[1]) * sp < R
    g = VoxelGrid([sp] * 3, (1.0, 2.0, 3.0), np.eye(3), shape)
    ports = detect_ports(m, g)
    surf = extract_surface(m, g, ports)
    return m, g, ports, surf, R


def test_tube_surface_closed_and_capped(tube):
    m, g, ports, surf, R = tube
    chk = check_surface(surf)
    assert chk["watertight"] and chk["self_intersections"] == 0
    L = (m.shape[2] - 1) * 0.5  # cut at the outermost voxel-centre planes
    # volume-preserving smoothing: within 3 % of the analytic cylinder
    np.testing.assert_allclose(chk["volume_mm3"], np.pi * R * R * L, rtol=0.03)
    ids = np.asarray(surf.cell_data["port_id"])
    assert set(np.unique(ids)) == {-1, 0, 1}
    # caps are flat, in their port planes
    for p, port in enumerate(ports):
        cap = surf.extract_cells(np.nonzero(ids == p)[0])
        h = (np.asarray(cap.points) - port.center_mm) @ port.normal
        np.testing.assert_allclose(h, 0.0, atol=1e-6)
        np.testing.assert_allclose(port.radius_mm, R, rtol=0.03)
    # cap normals point out of the fluid
    n = np.asarray(surf.cell_data["Normals"])[ids == 1].mean(0)
    assert n @ ports[1].normal > 0.99


def test_self_intersection_detected():
    a = pv.Sphere(radius=1.0, center=(0, 0, 0)).triangulate()
    b = pv.Sphere(radius=1.0, center=(1.0, 0, 0)).triangulate()
    both = a.merge(b).extract_surface(algorithm="dataset_surface")
    both.cell_data["port_id"] = np.full(both.n_cells, -1)
    chk = check_surface(both)
    assert chk["self_intersections"] > 0
    assert check_surface(a)["self_intersections"] == 0


def test_flow_extensions(tube, tmp_path):
    m, g, ports, surf, R = tube
    import copy

    ports2 = copy.deepcopy(ports)
    ext = add_flow_extensions(surf, ports2, length_diameters=2.0)
    chk = check_surface(ext, self_intersections=False)
    assert chk["watertight"]
    np.testing.assert_allclose(
        ports2[1].center_mm - ports[1].center_mm, [0, 0, 4 * ports[1].radius_mm], atol=1e-9
    )
    L = (m.shape[2] - 1) * 0.5 + 8 * ports[0].radius_mm
    np.testing.assert_allclose(chk["volume_mm3"], np.pi * R * R * L, rtol=0.03)
    write_surface(ext, tmp_path / "s.stl")
    write_surface(ext, tmp_path / "s.vtp")
    with pytest.raises(FileExistsError):
        write_surface(ext, tmp_path / "s.vtp")


def test_tube_centerline(tube):
    m, g, ports, surf, R = tube
    cl = compute_centerlines(m, g, ports, surface=surf)
    topo = centerline_topology(cl)
    assert len(topo["branches"]) == 1 and topo["branches"][0]["port"] == "outlet_1"
    P = np.asarray(cl.points)
    np.testing.assert_allclose(P[:, :2], np.tile([1 + 7.75, 2 + 7.75], (len(P), 1)), atol=0.25)
    np.testing.assert_allclose(np.median(cl.point_data["equivalent_radius_mm"]), R, rtol=0.03)
    np.testing.assert_allclose(np.median(cl.point_data["radius_mm"]), R, rtol=0.05)
    s = np.asarray(cl.point_data["abscissa_mm"])
    assert np.all(np.diff(s) > 0)


def test_oblique_exit_is_cut_perpendicular():
    from hemotwin.geometry.model import build_vessel_model

    shape, sp, r = (60, 40, 60), 0.5, 3.0
    axis = np.array([np.sin(np.radians(30)), 0, np.cos(np.radians(30))])
    p = np.stack(np.indices(shape).astype(float) * sp, -1) - np.array([10.0, 10.0, 0])
    m = np.linalg.norm(p - (p @ axis)[..., None] * axis, axis=-1) < r
    model = build_vessel_model(m, VoxelGrid([sp] * 3, (0, 0, 0), np.eye(3), shape))
    assert model.surface_check["watertight"]
    out = model.ports[1]
    # the port turns to the vessel axis (within 5 degrees) and its section is the circle, not
    # the 1/cos(30 deg) ellipse the image face cuts
    assert abs(out.normal @ axis) > np.cos(np.radians(5))
    np.testing.assert_allclose(out.area_mm2, np.pi * r * r, rtol=0.08)
