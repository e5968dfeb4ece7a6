# SPDX-License-Identifier: Apache-2.0
"""A pulsatile run's per-sample records: centerline pressures by path (peak-to-peak gradients),
the fastest cell (systole's Mach check), and the warnings that read them."""
import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.analysis import hemodynamics as hd  # noqa: E402
from hemotwin.analysis.cycle_probes import CycleProbes  # noqa: E402


def _tube_cells(dx=0.5e-3, radius=2e-3, length=20e-3):
    g = np.arange(-radius, radius + dx / 2, dx)
    z = np.arange(dx / 2, length, dx)
    x, y, zz = np.meshgrid(g, g, z, indexing="ij")
    c = np.stack([x.ravel(), y.ravel(), zz.ravel()], 1)
    return c[np.hypot(c[:, 0], c[:, 1]) < radius]


def _centerline(length_mm=20.0):
    pts = np.array([[0.0, 0.0, z] for z in np.linspace(0.5, length_mm - 0.5, 20)])
    cl = pv.PolyData(pts)
    cl.point_data["branch_id"] = np.zeros(len(pts), int)
    cl.point_data["radius_mm"] = np.full(len(pts), 2.0)
    cl.field_data["branch_parent"] = np.array([-1])
    cl.field_data["branch_port"] = np.array(["outlet"])
    return cl


class _Sim:
    """Simulation.fields() of a pressure wave and a jet whose speed changes per sample."""

    def __init__(self, centers):
        self.c, self.k = centers, 0

    def fields(self):
        z = self.c[:, 2]
        phase = 2 * np.pi * self.k / 8
        p = 1000.0 * np.cos(phase) * (1 - z / 0.02)  # gauge Pa, falling along the tube
        u = np.zeros((len(z), 3))
        u[:, 2] = 1.0 + 0.5 * np.sin(phase)
        u[7, 2] = 3.0 if self.k == 2 else 1.0  # one cell's systolic jet at sample 2
        self.k += 1
        return {"pressure_pa": p, "velocity_m_s": u, "stress_pa": np.zeros((len(z), 6))}


def test_probes_record_each_sample_centerline_pressure_and_fastest_cell():
    centers = _tube_cells()
    cl = _centerline()
    probes = CycleProbes(centers, 0.5e-3, pressure_offset_pa=12000.0, centerline=cl)
    sim = _Sim(centers)
    rec = probes.split(np.stack([probes.record(sim) for _ in range(8)]))
    assert rec["wss"] is None and list(rec["centerline_pressure_pa"]) == ["outlet"]
    p_t = rec["centerline_pressure_pa"]["outlet"]
    assert p_t.shape == (8, 20)
    # each sample equals the mean-field routine applied to that sample's field (offset added)
    ref = _Sim(centers)
    for k in range(8):
        f = ref.fields()
        expect = hd.centerline_pressure(np.asarray(cl.points), f, centers, radius_mm=2.0, dx_m=0.5e-3)
        np.testing.assert_allclose(p_t[k], expect + 12000.0, rtol=1e-12)
    assert rec["peak_speed_m_s"][2] == 3.0 and rec["peak_cell"][2] == 7
    # the gradient over time: peak-to-peak exceeds the mean (the mean field alone gives the mean)
    s = np.linspace(0.5, 19.5, 20)
    g = hd.translesional_gradient(s, p_t, (8.0, 12.0))
    assert g["peak_to_peak_mmhg"] > 5 * abs(g["mean_mmhg"])
    assert g["mean_mmhg"] == pytest.approx(hd.translesional_gradient(s, p_t.mean(0), (8.0, 12.0))["mean_mmhg"])
    with pytest.raises(ValueError, match="--resume"):
        probes.split(np.zeros((3, probes.width + 1)))


def test_peak_speed_is_the_cycle_samples_not_the_mean_field():
    from hemotwin.pipeline import _peak_speed

    centers = _tube_cells()
    flow = {"fields": {"velocity_m_s": np.tile([0.0, 0.0, 0.5], (len(centers), 1))},
            "spacing_m": 0.5e-3, "describe": {"dt_s": 1e-4, "u_max_m_s": 2.0}, "cell_centers_m": centers,
            "sample_peak_speed": {"m_s": np.array([1.0, 3.0, 2.0]), "cell": np.array([0, 7, 3])}}
    got = _peak_speed(flow)
    assert got["peak_speed_m_s"] == 3.0 and got["peak_lattice_speed"] == pytest.approx(3.0 * 1e-4 / 0.5e-3)
    assert got["peak_speed_at_mm"] == pytest.approx((centers[7] * 1e3).tolist())
    assert _peak_speed({**flow, "sample_peak_speed": None})["peak_speed_m_s"] == 0.5


def test_periodicity_and_resistance_outlet_warnings():
    from hemotwin.pipeline import _periodicity_warnings, _resistance_outlet_warnings

    rcr = {"outlet_1": {"model": "rcr", "time_constant_s": 1.5}}
    (w,) = _periodicity_warnings({"mode": "pulsatile", "converged": False, "status": "not_periodic",
                                  "cycles": 2, "periodicity_error": 0.044, "periodicity_tolerance": 0.02},
                                 "pre-treatment", rcr, 0.857)
    assert "4.4 %" in w and "tolerance 2 %" in w and "run.cycles (e.g. 7)" in w
    (w,) = _periodicity_warnings({"mode": "pulsatile", "converged": False,
                                  "status": "periodicity_not_checked", "cycles": 1},
                                 "pre-treatment", {}, 0.857)
    assert "not checked" in w and "run.cycles = 2" in w
    assert _periodicity_warnings({"mode": "pulsatile", "converged": True}, "x", rcr, 1.0) == []
    assert _periodicity_warnings({"mode": "steady", "converged": False}, "x", rcr, 1.0) == []
    rows = [{"name": "outlet_1", "max_pressure_mmhg": 226.0, "min_pressure_mmhg": 49.0}]
    (w,) = _resistance_outlet_warnings({"mode": "pulsatile"}, "pre-treatment",
                                       {"outlet_1": {"model": "resistance"}}, rows)
    assert "outlet_1" in w and "177 mmHg" in w and '"rcr"' in w
    assert _resistance_outlet_warnings({"mode": "steady"}, "x", {"outlet_1": {"model": "resistance"}}, rows) == []
    assert _resistance_outlet_warnings({"mode": "pulsatile"}, "x", rcr, rows) == []


def test_sparse_cycle_sampling_is_warned():
    from hemotwin.pipeline import _sampling_warnings

    (w,) = _sampling_warnings({"mode": "pulsatile", "samples": 8}, "pre-treatment")
    assert "sampled 8 times" in w and "run.samples_per_cycle = 20" in w
    assert _sampling_warnings({"mode": "pulsatile", "samples": 20}, "pre-treatment") == []
    assert _sampling_warnings({"mode": "steady"}, "pre-treatment") == []
