# SPDX-License-Identifier: Apache-2.0
"""Hemodynamic metrics: WSS on a lumen surface vs Poiseuille, cycle-metric arithmetic vs closed
forms, pressures, gradients, Pd/Pa and flow splits."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hemotwin.analysis import analytic
from hemotwin.analysis import hemodynamics as hd

RHO, MU = 1060.0, 3.5e-3
RADIUS = 1.0e-3


def _steady_tube(resolution=20, length_d=3.0, reynolds=5.0):
    from hemotwin.geometry.voxelize import tube_domain
    from hemotwin.solver import Numerics, Simulation

    dx = 2 * RADIUS / resolution
    dom = tube_domain(radius_m=RADIUS, length_m=length_d * 2 * RADIUS, dx_m=dx, offset_cells=(0.37, 0.61))
    u_mean = reynolds * (MU / RHO) / (2 * RADIUS)
    flow = u_mean * math.pi * RADIUS**2
    sim = Simulation(dom, density_kg_m3=RHO, viscosity_pa_s=MU, u_max_m_s=2 * u_mean,
                     numerics=Numerics(precision="float64", tau=0.7), device="cpu", threads=1)
    sim.set_inlet_flow("inlet", flow, profile="parabolic")
    sim.set_outlet_pressure("outlet", 0.0)
    # slowest viscous mode relaxes in ~R^2/(5.78 nu): 14 of them leave < 1e-6 of the transient
    t_relax = (resolution / 2) ** 2 / (5.78 * sim.units.viscosity_to_lu(MU / RHO))
    sim.step(int(14 * t_relax))
    return sim, flow, dx, length_d * 2 * RADIUS


@pytest.fixture(scope="module")
def steady_tube():
    return _steady_tube()


def _cylinder_mm(radius_mm, z0, z1, n_theta=48, n_z=16):
    pv = pytest.importorskip("pyvista")
    th = np.linspace(0, 2 * np.pi, n_theta, endpoint=False)
    z = np.linspace(z0, z1, n_z)
    pts = np.array([[radius_mm * np.cos(a), radius_mm * np.sin(a), zz] for zz in z for a in th])
    faces = []
    for k in range(n_z - 1):
        for j in range(n_theta):
            a, b = k * n_theta + j, k * n_theta + (j + 1) % n_theta
            c, d = a + n_theta, b + n_theta
            faces += [3, a, b, c, 3, b, d, c]
    return pv.PolyData(pts, np.array(faces))


def test_surface_wss_matches_poiseuille(steady_tube):
    sim, flow, dx, length = steady_tube
    fields = sim.fields()
    surf = _cylinder_mm(RADIUS * 1e3, 0.3 * length * 1e3, 0.7 * length * 1e3)
    out = hd.surface_wss(surf, fields, sim.cell_centers_m, dx)
    exact = analytic.poiseuille_wss(RADIUS, flow, MU)
    mag = out.point_data["wss_magnitude_pa"]
    # issue 4 acceptance: Poiseuille WSS within 5 % at 20 cells per diameter (RMS over the points)
    rms = np.sqrt(np.mean((mag - exact) ** 2)) / exact
    print(f"Poiseuille WSS RMS error {rms:.4f}")
    assert rms < 0.05, rms
    # WSS points along the flow (+z) and lies in the wall's tangent plane
    w = out.point_data["wss_pa"]
    assert np.all(w[:, 2] > 0.9 * exact)
    radial = np.asarray(surf.points)[:, :2] / np.linalg.norm(np.asarray(surf.points)[:, :2], axis=1)[:, None]
    # point normals of a faceted cylinder are radial to ~1e-4
    assert np.max(np.abs(np.sum(w[:, :2] * radial, axis=1))) < 1e-3 * exact
    stats = hd.wss_statistics(mag, hd.point_areas(out))
    np.testing.assert_allclose(stats["mean_pa"], exact, rtol=0.05)
    assert stats["low_area_fraction"] == (1.0 if exact < 0.4 else 0.0)


def test_centerline_pressure_and_gradient_match_poiseuille(steady_tube):
    sim, flow, dx, length = steady_tube
    fields = sim.fields()
    s_mm = np.linspace(0.2, 0.8, 25) * length * 1e3
    pts = np.column_stack([np.zeros_like(s_mm), np.zeros_like(s_mm), s_mm])
    p = hd.centerline_pressure(pts, fields, sim.cell_centers_m, radius_mm=RADIUS * 1e3, dx_m=dx)
    slope = np.polyfit(s_mm * 1e-3, p, 1)[0]
    exact = analytic.poiseuille_pressure_drop(1.0, RADIUS, flow, MU)
    # linear pressure drop of the verification case: 1 % (pressure_drop error is ~0.2 %)
    np.testing.assert_allclose(-slope, exact, rtol=0.01)
    a, b = s_mm[8], s_mm[16]
    g = hd.translesional_gradient(s_mm, p, (a, b), margin_mm=0.0, window_mm=0.0)
    np.testing.assert_allclose(g["mean_mmhg"] * hd.PA_PER_MMHG, exact * (b - a) * 1e-3, rtol=0.02)
    assert g["mean_mmhg"] == g["peak_to_peak_mmhg"]
    r = hd.pd_pa(s_mm, p, (a, b), margin_mm=0.0, window_mm=0.0, offset_pa=1000.0)
    assert 0 < r["pd_pa"] < 1


def _closed_form(a, b):
    """tau(t) = a + b cos(wt), b > a > 0: TAWSS and OSI in closed form."""
    th0 = math.acos(-a / b)
    int_abs = (4 * a * th0 - 2 * math.pi * a + 4 * b * math.sin(th0)) / (2 * math.pi)
    return int_abs, 0.5 * (1 - a / int_abs)


def test_cycle_metrics_closed_form():
    t = np.arange(200) / 200.0
    a, b = 0.3, 1.1
    w = np.zeros((200, 2, 3))
    w[:, 0, 0] = a + b * np.cos(2 * np.pi * t)     # partly reversing
    w[:, 1, 1] = -0.5                               # steady, along -y
    m = hd.cycle_metrics(w, 0.005)
    tawss, osi = _closed_form(a, b)
    np.testing.assert_allclose(m["tawss_pa"][0], tawss, rtol=1e-3)
    np.testing.assert_allclose(m["osi"][0], osi, rtol=1e-3)
    np.testing.assert_allclose(m["rrt_1_pa"][0], 1 / ((1 - 2 * osi) * tawss), rtol=1e-3)
    np.testing.assert_allclose(m["ecap_1_pa"][0], osi / tawss, rtol=1e-3)
    assert m["osi"][1] == 0 and m["tawss_pa"][1] == pytest.approx(0.5)
    np.testing.assert_allclose(m["period_s"], 1.0)
    # trapezoid with both ends included gives the same on a periodic signal
    w2 = np.concatenate([w, w[:1]])
    m2 = hd.cycle_metrics(w2, 0.005, periodic=False)
    np.testing.assert_allclose(m2["tawss_pa"], m["tawss_pa"], rtol=1e-6)


def test_cycle_metrics_on_analytic_womersley():
    """Womersley WSS (Re{G R/Lambda J1/J0 e^iwt}) plus a Poiseuille mean: metrics vs quadrature."""
    nu = MU / RHO
    alpha = 4.0
    omega = alpha**2 * nu / RADIUS**2
    period = 2 * math.pi / omega
    g0, g1 = 200.0, 1500.0  # Pa/m mean and oscillating gradient: the WSS reverses in part
    t = np.arange(48) * period / 48
    tau = g0 * RADIUS / 2 + analytic.womersley_wss(t, RADIUS, g1, omega, nu)
    w = np.zeros((48, 1, 3))
    w[:, 0, 2] = tau
    m = hd.cycle_metrics(w, period / 48)
    tf = np.linspace(0, period, 200001)
    tau_f = g0 * RADIUS / 2 + analytic.womersley_wss(tf, RADIUS, g1, omega, nu)
    tawss = np.trapezoid(np.abs(tau_f), tf) / period
    osi = 0.5 * (1 - abs(np.trapezoid(tau_f, tf)) / np.trapezoid(np.abs(tau_f), tf))
    assert 0.05 < osi < 0.45
    np.testing.assert_allclose(m["tawss_pa"][0], tawss, rtol=0.01)
    np.testing.assert_allclose(m["osi"][0], osi, rtol=0.02)


def test_cycle_metrics_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        hd.cycle_metrics(np.zeros((4, 3)), 0.1)
    with pytest.raises(ValueError, match="dt_s"):
        hd.cycle_metrics(np.zeros((4, 1, 3)), 0.0)


def test_flow_splits_and_pd_pa_errors():
    r = hd.flow_splits({"inlet": -10e-6, "a": 6.05e-6, "b": 3.95e-6})
    assert r["ports"]["inlet"]["role"] == "inlet"
    np.testing.assert_allclose(r["ports"]["b"]["fraction"], 0.395)
    np.testing.assert_allclose(r["inflow_ml_s"], 10.0)
    s = np.linspace(0, 10, 11)
    with pytest.raises(ValueError, match="absolute"):
        hd.pd_pa(s, np.zeros(11), (4, 6), strict=True)
    with pytest.warns(UserWarning, match="undefined"):
        r = hd.pd_pa(s, np.zeros(11), (4, 6))
    assert np.isnan(r["pd_pa"]) and "offset_pa" in r["error"]


def test_cycle_accumulator_equals_cycle_metrics():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((30, 5, 3)) + np.array([0.5, 0.0, 0.0])
    ref = hd.cycle_metrics(w, 0.02)
    acc = hd.CycleAccumulator()
    for k in range(30):
        acc.add(w[k], 0.02)
    got = acc.result()
    for key in ("tawss_pa", "osi", "rrt_1_pa", "ecap_1_pa", "tawss_vector_pa", "period_s"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12)
    with pytest.raises(ValueError, match="no samples"):
        hd.CycleAccumulator().result()


def test_surface_wss_on_image_derived_tube():
    """Through the geometry stage: phantom mask -> capped surface (port_id) -> voxelize_surface ->
    flow -> surface_wss. Caps are NaN, WSS points downstream, |WSS| matches Poiseuille at the
    surface's own radius (20 cells per diameter)."""
    from hemotwin.geometry import phantoms
    from hemotwin.geometry import ports as ports_mod
    from hemotwin.geometry import surface as surface_mod
    from hemotwin.geometry.voxelize_surface import voxelize_surface
    from hemotwin.solver import Numerics, Simulation

    ph = phantoms.straight_tube(spacing_mm=0.5, radius_mm=2.0, length_mm=24.0)

    class Geom:
        spacing_mm, origin_mm, direction = ph.spacing_mm, ph.origin_mm, ph.direction

    prt = ports_mod.detect_ports(ph.mask, Geom)
    surf = surface_mod.extract_surface(ph.mask, Geom, prt)
    dom = voxelize_surface(surf, prt, cells_across=20)
    radius = prt[0].radius_mm * 1e-3
    u_mean = 5 * MU / RHO / (2 * radius)
    flow = u_mean * math.pi * radius**2
    sim = Simulation(dom, u_max_m_s=2 * u_mean, numerics=Numerics(precision="float64", tau=0.8),
                     device="cpu", threads=1)
    sim.set_inlet_flow(next(p.name for p in prt if p.role == "inlet"), flow)
    sim.set_outlet_pressure(next(p.name for p in prt if p.role == "outlet"), 0.0)
    sim.step(int(14 * 10**2 / (5.78 * sim.units.viscosity_to_lu(MU / RHO))))
    out = hd.surface_wss(surf, sim.fields(), sim.cell_centers_m, dom.spacing_m)
    pts = np.asarray(out.points)
    mag = np.asarray(out.point_data["wss_magnitude_pa"])
    assert "port_id" in surf.cell_data
    assert np.count_nonzero(np.isnan(mag)) < 10  # at most the points on the caps alone
    mid = (pts[:, 2] > 8) & (pts[:, 2] < 16)
    r_surf = np.mean(np.hypot(pts[mid, 0] - 0.3, pts[mid, 1] + 0.2)) * 1e-3  # phantom axis (0.3, -0.2)
    exact = analytic.poiseuille_wss(r_surf, flow, MU)
    # measured: mean +0.5 %, RMS 2.5 % (the smoothed marching-cubes wall is not a perfect cylinder)
    np.testing.assert_allclose(np.mean(mag[mid]), exact, rtol=0.05)
    assert np.sqrt(np.mean((mag[mid] - exact) ** 2)) / exact < 0.05
    assert np.all(np.asarray(out.point_data["wss_pa"])[mid, 2] > 0)


def test_cap_only_points_get_nan(steady_tube):
    pv = pytest.importorskip("pyvista")
    sim, flow, dx, length = steady_tube
    wall = _cylinder_mm(RADIUS * 1e3, 0.3 * length * 1e3, 0.7 * length * 1e3, n_theta=24, n_z=4)
    n = wall.n_points
    centre = np.array([[0.0, 0.0, 0.7 * length * 1e3]])
    ring = np.arange(n - 24, n)
    cap_faces = np.concatenate([[3, n, ring[j], ring[(j + 1) % 24]] for j in range(24)])
    surf = pv.PolyData(np.vstack([wall.points, centre]),
                       np.concatenate([np.asarray(wall.faces), cap_faces]))
    surf.cell_data["port_id"] = np.r_[np.full(wall.n_cells, -1), np.ones(24, int)]
    out = hd.surface_wss(surf, sim.fields(), sim.cell_centers_m, dx)
    mag = np.asarray(out.point_data["wss_magnitude_pa"])
    assert np.isnan(mag[n]) and np.all(np.isfinite(mag[:n]))
