# SPDX-License-Identifier: Apache-2.0
"""Surface voxelizer: exact ray/triangle q, inside test, port cells, agreement with the analytic path."""

import time

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.geometry.ports import Port
from hemotwin.geometry.surface import cap_ports
from hemotwin.geometry.voxelize import sphere_domain, tube_domain
from hemotwin.geometry.voxelize_surface import voxelize_surface, voxelize_triangles
from hemotwin.lattice import FLUID, PORT_BASE, SOLID, C


def _links(dom):
    lk = dom.wall_links.astype(np.int64)
    p0 = dom.origin_m + lk[:, :3] * dom.spacing_m
    return lk, p0, C[lk[:, 3]] * dom.spacing_m


def test_sphere_mesh_q_matches_analytic():
    R, c = 1.0, np.array([0.013, -0.021, 0.037])  # mm
    s = pv.Sphere(radius=R, center=c, theta_resolution=180, phi_resolution=180).triangulate()
    s.cell_data["port_id"] = np.full(s.n_cells, -1)
    dom = voxelize_surface(s, [], dx_m=1e-4)
    lk, p0, d = _links(dom)
    assert (dom.cell_type[tuple(lk[:, :3].T)] == FLUID).all()
    assert (dom.cell_type[tuple((lk[:, :3] + C[lk[:, 3]]).T)] == SOLID).all()
    cm = c * 1e-3
    a = (d * d).sum(1)
    b = 2 * (d * (p0 - cm)).sum(1)
    cc = ((p0 - cm) ** 2).sum(1) - (R * 1e-3) ** 2
    q_ref = (-b + np.sqrt(b * b - 4 * a * cc)) / (2 * a)
    # the hit points lie on the polygonal sphere: within its chord error R (1 - cos(pi / 180))
    # = 1.5e-4 mm of the true sphere (q itself can differ more on grazing links)
    hit = p0 + dom.wall_q[:, None] * d
    np.testing.assert_allclose(np.linalg.norm(hit - cm, axis=1), R * 1e-3, atol=2e-4 * 1e-3)
    # facets lie inside the sphere by up to the chord error, 1.5e-3 of a 0.1 mm link
    assert np.median(np.abs(dom.wall_q - q_ref)) < 3e-3
    # on the analytic voxelizer's lattice: the same fluid cells, except cells within the chord
    # error of the wall
    ana = sphere_domain(R * 1e-3, 1e-4, cm)
    tri = s.faces.reshape(-1, 4)[:, 1:]
    same = voxelize_triangles(
        np.asarray(s.points) * 1e-3,
        tri,
        np.full(len(tri), -1),
        [],
        1e-4,
        origin_m=ana.origin_m,
        shape=ana.shape,
    )
    diff = np.argwhere(same.cell_type != ana.cell_type)
    r = np.linalg.norm(ana.origin_m + diff * 1e-4 - cm, axis=1)
    assert np.all(np.abs(r - R * 1e-3) < 2e-7)


def test_capped_tube_matches_tube_domain():
    R, L = 1.0, 4.0  # mm
    ports = [
        Port("inlet", "inlet", np.zeros(3), np.array([0, 0, -1.0]), np.pi, R),
        Port("outlet", "outlet", np.array([0, 0, L]), np.array([0, 0, 1.0]), np.pi, R),
    ]
    cyl = (
        pv.Cylinder(
            center=(0, 0, L / 2),
            direction=(0, 0, 1),
            radius=R,
            height=L + 3,
            resolution=720,
            capping=True,
        )
        .triangulate()
        .subdivide(2, "linear")
        .clean()
    )
    surf = cap_ports(cyl, ports, 0.1)
    # shift off the lattice so no cell centre lies on a mesh vertex
    off = np.array([0.0123, -0.0317, 0.0])
    surf.points = surf.points + off
    for p in ports:
        p.center_mm = p.center_mm + off
    dom = voxelize_surface(surf, ports, dx_m=1e-4)
    ref = tube_domain(R * 1e-3, L * 1e-3, 1e-4)
    np.testing.assert_allclose(dom.n_fluid * 1e-12, np.pi * 1e-6 * 4e-3, rtol=0.02)
    n_in = np.count_nonzero(dom.cell_type == PORT_BASE)
    n_out = np.count_nonzero(dom.cell_type == PORT_BASE + 1)
    assert n_in == n_out and abs(n_in - np.count_nonzero(ref.cell_type == PORT_BASE)) <= 8
    # wall links that hit the cylinder (not a cap) have the analytic q
    lk, p0, d = _links(dom)
    pc = p0[:, :2] - off[:2] * 1e-3
    a = (d[:, :2] ** 2).sum(1)
    b = 2 * (d[:, :2] * pc).sum(1)
    cc = (pc**2).sum(1) - 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        q_ref = (-b + np.sqrt(b * b - 4 * a * cc)) / (2 * a)
    z_end = p0[:, 2] + q_ref * d[:, 2]
    side = np.isfinite(q_ref) & (q_ref <= 1) & (z_end > 1e-5) & (z_end < L * 1e-3 - 1e-5)
    assert side.mean() > 0.8
    hit = p0[side] + dom.wall_q[side, None] * d[side]
    np.testing.assert_allclose(np.hypot(*(hit[:, :2] - off[:2] * 1e-3).T), 1e-3, atol=1e-4 * 1e-3)
    assert dom.port_names == ["inlet", "outlet"]


def test_speed_on_phantom_surface():
    from hemotwin.geometry import phantoms
    from hemotwin.geometry.ports import detect_ports
    from hemotwin.geometry.surface import extract_surface

    ph = phantoms.aortic_arch(spacing_mm=1.5)
    ports = detect_ports(ph.mask, ph)
    surf = extract_surface(ph.mask, ph, ports)
    t = time.perf_counter()
    dom = voxelize_surface(surf, ports, dx_m=0.8e-3)
    dt = time.perf_counter() - t
    print(f"arch phantom: {dom.n_fluid} fluid cells, {len(dom.wall_q)} wall links in {dt:.1f} s")
    assert dom.n_fluid > 1e5 and dt < 30.0
    vol = dom.n_fluid * dom.spacing_m**3 * 1e9
    np.testing.assert_allclose(vol, ph.mask.sum() * np.prod(ph.spacing_mm), rtol=0.05)
    for p in range(len(ports)):
        assert np.count_nonzero(dom.cell_type == PORT_BASE + p) > 10
