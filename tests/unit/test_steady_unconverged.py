# SPDX-License-Identifier: Apache-2.0
"""A steady run that ends unconverged says why, in clinical units, and reports the mean of its
last window for the fields as well as for the port values (not a snapshot)."""
import math

import numpy as np
import pytest

from hemotwin.geometry.voxelize import tube_domain
from hemotwin.pipeline import _convergence_warnings
from hemotwin.solver.outlets import default_outlets
from hemotwin.solver.runner import FlowRunner, FlowSetup
from hemotwin.solver.simulation import Numerics, Simulation
from hemotwin.solver.waveforms import Waveform
from hemotwin.units import MMHG_PA

P_MEAN = 93.0 * MMHG_PA


class _Recording(FlowRunner):
    """Records the step and pressure field of every field accumulation."""

    def _accumulate_fields(self):
        f = self.sim.fields()
        self.sampled.append((self.sim.time_step, f["pressure_pa"] + self.setup.pressure_offset_pa))
        super()._accumulate_fields()


def test_unconverged_steady_run_averages_its_last_window_and_diagnoses():
    dom = tube_domain(1.0e-3, 8e-3, 0.25e-3)
    q = 0.02e-6
    sim = Simulation(dom, u_max_m_s=2.5 * q / (math.pi * 1e-6), numerics=Numerics(
        u_lu_max=0.08, precision="float64", tau=0.7), device="cpu", threads=1)
    outs = default_outlets({"outlet": 1.0e-3}, q, P_MEAN, "rcr")
    setup = FlowSetup("inlet", Waveform.constant(q), "parabolic", outs, pressure_offset_pa=P_MEAN,
                      ramp_s=0.02)
    # a 1e-6 tolerance: it cannot converge; windows of 100 steps (the least), 5 whole ones
    r = _Recording(sim, setup, "steady", tolerance=1e-6, max_time_s=0.7, window_s=0.01,
                   progress=False)
    r.sampled = []
    res = r.run()
    assert not res.converged and res.status == "max_time"
    w = res.info["window_steps"]
    total = math.ceil(0.7 / r.dt)
    assert total % w  # max_time is not a whole number of windows
    # the run stops at the end of the last whole window and averaged that window's fields
    assert res.steps == total // w * w
    steps = [s for s, _ in r.sampled]
    assert len(steps) >= 5 and min(steps) > res.steps - w and max(steps) == res.steps
    np.testing.assert_allclose(res.mean_fields["pressure_pa"],
                               np.mean([p for _, p in r.sampled], axis=0), rtol=1e-12)
    c = res.info["convergence"]
    assert c["failed"] and set(c["failed"]) <= {"flow", "pressure", "mass", "min_time"}
    assert c["flow_tolerance_ml_s"] == pytest.approx(1e-6 * q * 1e6)
    assert c["window_s"] == pytest.approx(w * r.dt)
    assert c["pressure_behaviour"] in ("fluctuating", "drifting")
    text = _convergence_warnings(res.summary(), "pre-treatment")[0]
    assert text.startswith(f"pre-treatment flow did not reach a steady state in {res.time_s:.2f} s: ")
    assert "mean of the last window" in text


def _run(c):
    return {"mode": "steady", "converged": False, "time_s": 2.0, "convergence": {
        "tolerance": 0.01, "window_s": 0.05, "failed": ["pressure"], "mass_imbalance": 0.001,
        "flow_change_ml_s": 0.1, "flow_tolerance_ml_s": 0.83,
        "pressure_difference_change_mmhg": 0.16, "pressure_difference_tolerance_mmhg": 0.01,
        "pressure_level_change_mmhg": 0.008, "pressure_level_tolerance_mmhg": 0.93,
        "over_s": 0.35, "pressure_swing_mmhg": 0.69, **c}}


def test_convergence_warning_tells_unsteady_flow_from_a_slow_drift():
    swing = _convergence_warnings(_run({"pressure_behaviour": "fluctuating",
                                        "pressure_net_change_mmhg": 0.05}), "pre-treatment")[0]
    assert "port pressure differences by 0.16 mmHg (tolerance 0.01)" in swing
    assert "swing by 0.69 mmHg" in swing and "unsteady" in swing and "pulsatile" in swing
    assert "max_time" not in swing and "port flows" not in swing
    drift = _convergence_warnings(_run({"pressure_behaviour": "drifting",
                                        "pressure_net_change_mmhg": 0.6}), "post-treatment")[0]
    assert drift.startswith("post-treatment") and "drift by 0.6 mmHg" in drift
    assert drift.endswith("raise run.max_time") and "unsteady" not in drift
    assert _convergence_warnings({"mode": "steady", "converged": True}, "pre") == []
    assert _convergence_warnings({"mode": "pulsatile", "converged": False}, "pre") == []


def test_a_runner_on_a_simulation_already_past_its_end_says_so():
    dom = tube_domain(1.0e-3, 4e-3, 0.25e-3)
    q = 0.02e-6
    sim = Simulation(dom, u_max_m_s=2.5 * q / (math.pi * 1e-6), numerics=Numerics(
        u_lu_max=0.08, precision="float64", tau=0.7), device="cpu", threads=1)
    sim.step(50)
    setup = FlowSetup("inlet", Waveform.constant(q), "parabolic",
                      default_outlets({"outlet": 1.0e-3}, q, P_MEAN, "rcr"), pressure_offset_pa=P_MEAN)
    r = FlowRunner(sim, setup, "steady", max_time_s=40 * sim.units.dt_s, progress=False)
    with pytest.raises(ValueError, match="already at step 50, at or past this run's end"):
        r.run()


def test_steady_run_shorter_than_one_record_interval_reports_its_last_step():
    # a window of 2 000 steps records port values every 100; a 10-step run records none and used to
    # fail with an IndexError instead of reporting the values of its last step
    dom = tube_domain(1.0e-3, 4e-3, 0.25e-3)
    q = 0.02e-6
    sim = Simulation(dom, u_max_m_s=2.5 * q / (math.pi * 1e-6), numerics=Numerics(
        u_lu_max=0.08, precision="float64", tau=0.7), device="cpu", threads=1)
    setup = FlowSetup("inlet", Waveform.constant(q), "parabolic",
                      default_outlets({"outlet": 1.0e-3}, q, P_MEAN, "rcr"), pressure_offset_pa=P_MEAN,
                      ramp_s=0.0)
    dt = sim.units.dt_s
    res = FlowRunner(sim, setup, "steady", tolerance=1e-12, max_time_s=10 * dt, window_s=2000 * dt,
                     progress=False).run()
    assert res.steps == 10 and not res.converged
    flows = res.mean_flows_m3_s
    assert set(flows) == {"inlet", "outlet"} and all(np.isfinite(v) for v in flows.values())
    assert flows["inlet"] == pytest.approx(sim.port_flows_m3_s()["inlet"], rel=1e-12)
