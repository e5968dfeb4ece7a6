# SPDX-License-Identifier: Apache-2.0
"""The 0D outlet coupling re-asserts each outlet's "pressure" kind every coupling step; that must not
re-send every link's kind and velocity to the backend (on a GPU a host-to-device copy of the whole
link list per step, larger than the step itself on a clinical lattice). Same flow either way."""
import math

import numpy as np
import pytest

from hemotwin.geometry.voxelize import tube_domain
from hemotwin.solver.outlets import default_outlets
from hemotwin.solver.runner import FlowRunner, FlowSetup
from hemotwin.solver.simulation import Numerics, Simulation
from hemotwin.solver.waveforms import Waveform
from hemotwin.units import MMHG_PA


def _coupled_run(device, steps=300):
    dom = tube_domain(1.0e-3, 6e-3, 0.25e-3)
    q = 0.02e-6
    sim = Simulation(dom, u_max_m_s=2.5 * q / (math.pi * 1e-6), numerics=Numerics(
        u_lu_max=0.08, precision="float64", tau=0.7), device=device, threads=1)
    p = 93 * MMHG_PA
    setup = FlowSetup("inlet", Waveform.constant(q), "parabolic",
                      default_outlets({"outlet": 1.0e-3}, q, p, "rcr"), pressure_offset_pa=p,
                      ramp_s=20 * sim.units.dt_s)
    FlowRunner(sim, setup, "steady", tolerance=1e-12, max_time_s=steps * sim.units.dt_s,
               window_s=2 * steps * sim.units.dt_s, progress=False).run()
    return sim


def test_outlet_coupling_does_not_resend_links_every_step(backend):
    sim = _coupled_run(backend)
    uploads = sim._solver.link_uploads
    # the inlet profile is set during its 20-step ramp; the 280 coupled steps after it add none
    assert sim.time_step == 300 and 1 <= uploads <= 22, uploads
    # a real change still reaches the backend: the outlet turned into a velocity port and back
    before = sim._solver.link_uploads
    sim._solver.set_port_kind(1, "velocity")
    sim._solver.set_port_kind(1, "pressure")
    sim.step(1)
    assert sim._solver.link_uploads == before + 1
    sim.set_outlet_pressure("outlet", 93 * MMHG_PA)
    sim.step(1)
    assert sim._solver.link_uploads == before + 1
    assert np.isfinite(sim.fields()["pressure_pa"]).all()


def _tube_with_free_inlet(device, precision):
    """A short tube, outlet at 0 Pa, and what setting inlet speeds takes: (sim, inward unit vector,
    inlet cells)."""
    dom = tube_domain(1.0e-3, 4e-3, 0.25e-3)
    sim = Simulation(dom, u_max_m_s=0.02, numerics=Numerics(precision=precision, tau=0.7), device=device,
                     threads=1)
    sim.set_outlet_pressure("outlet", 0.0)
    inward = -np.asarray(dom.port_normals[dom.port_names.index("inlet")], float)
    return sim, inward, len(sim.port_cell_centers_m("inlet"))


def _inlet_set_every_step(device, steps=60):
    """A Womersley-like inlet: new velocities on the inlet's cells before every step."""
    sim, inward, n_cells = _tube_with_free_inlet(device, "float64")
    for k in range(steps):
        speed = 0.01 * (1.0 + math.sin(2 * math.pi * k / 20))
        sim.set_inlet_velocity("inlet", np.outer(np.full(n_cells, speed), inward))
        sim.step(1)
    return sim


def test_an_inlet_set_every_step_sends_only_its_own_velocities(backend):
    sim = _inlet_set_every_step(backend)
    # the first step sends every link (the kinds changed); the 59 after it only the inlet's velocities
    assert sim._solver.link_uploads == 1
    assert sim._solver.port_velocity_uploads == 59
    if backend == "cuda":  # what reached the GPU is what the CPU used, step by step
        ref = _inlet_set_every_step("cpu")
        u, u_ref = sim.fields()["velocity_m_s"], ref.fields()["velocity_m_s"]
        assert np.linalg.norm(u - u_ref) < 1e-10 * np.linalg.norm(u_ref)
        q, q_ref = sim.port_flows_m3_s(), ref.port_flows_m3_s()
        assert q["inlet"] == pytest.approx(q_ref["inlet"], rel=1e-10)


def _coupled_steps(device, waits=lambda: 0):
    """Ten coupling steps as the runner makes them (a new outlet pressure and inlet profile, one step,
    flows and pressures read back), then 64 steps under an inlet waveform that moves every step.
    Returns the port values read and the host waits (``waits()``) of each part."""
    sim, inward, n_cells = _tube_with_free_inlet(device, "float32")
    sim.set_inlet_velocity("inlet", np.outer(np.full(n_cells, 0.01), inward))
    sim.step(2)  # the first upload of every link
    values, w0 = [], waits()
    for k in range(10):
        sim.set_outlet_pressure("outlet", 2.0 * k)
        sim.set_inlet_velocity("inlet", np.outer(np.full(n_cells, 0.01 + 0.001 * k), inward))
        sim.step(1)
        values.append([*sim.port_flows_m3_s().values(), *sim.port_pressures_pa().values()])
    coupled = waits() - w0
    dt = sim.units.dt_s
    sim.set_port_waveform("inlet", [0.0, 32 * dt], [1.0, 0.5], 64 * dt)
    w0 = waits()
    sim.step(64)
    values.append([*sim.port_flows_m3_s().values(), *sim.port_pressures_pa().values()])
    return np.array(values), coupled, waits() - w0


def test_cuda_coupling_step_waits_for_the_gpu_once():
    """On a GPU every copy to or from pageable host memory waits for all queued work. A coupling
    step used to wait about six times (inlet velocities and port values up; the divergence flag, two
    flux sums and the port pressures down: 59 for these 10 steps, and 70 for the 64 waveform steps,
    one upload per step). Now the step's one read-back carries all of it, and uploads are queued."""
    import hemotwin
    if not hemotwin.build_info().get("cuda_emulated"):
        pytest.skip("host waits are counted by the CUDA emulation only (HEMOTWIN_CUDA=EMULATE, "
                    "benchmarks/cuda_emulation_check.sh); a GPU build runs this code uncounted")
    from hemotwin import _core
    got, coupled, waveform = _coupled_steps("cuda", _core.emulation_host_waits)
    assert coupled == 10  # one per coupling step
    # steps 12 to 76: the divergence checks at steps 32 and 64 and the call's one read-back at its end,
    # not a wait per step for the inlet's new scale
    assert waveform == 3
    ref, _, _ = _coupled_steps("cpu")
    assert np.all(np.isfinite(got)) and np.abs(got).max() > 0
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
