# SPDX-License-Identifier: Apache-2.0
"""Conservation, determinism, divergence stop and refusals of the solver, on every backend."""
import numpy as np
import pytest

from hemotwin import _core
from hemotwin.geometry.voxelize import tube_domain
from hemotwin.lattice import C
from hemotwin.solver import Numerics, Simulation, SimulationDiverged
from hemotwin.units import StabilityError


def random_state(n, seed=1):
    rng = np.random.default_rng(seed)
    w = np.array([1 / 3] + [1 / 18] * 6 + [1 / 36] * 12)
    return w[:, None] * (1 + 0.05 * rng.standard_normal((19, n)))


def totals(f):
    return f.sum(), C.T.astype(float) @ f.sum(axis=1)


@pytest.mark.parametrize("magic", [3 / 16, 0.0])  # TRT and BGK
def test_periodic_box_conserves_mass_and_momentum(backend, magic):
    lat = _core.Lattice(np.ones((6, 7, 8), np.uint8), np.zeros((0, 4)), np.zeros(0), periodic=(True,) * 3)
    s = _core.Solver(lat, backend, tau=0.7, magic=magic, precision="float64")
    f0 = random_state(lat.n_cells)
    s.set_populations(f0)
    m0, j0 = totals(f0)
    s.step(7)
    m1, j1 = totals(s.get_populations())
    assert m1 == pytest.approx(m0, rel=1e-13)  # round-off only
    np.testing.assert_allclose(j1, j0, atol=1e-11)


@pytest.mark.parametrize("bouzidi", [False, True])
def test_closed_walls_conserve_mass(backend, bouzidi):
    ct = np.zeros((8, 8, 8), np.uint8)
    ct[1:-1, 1:-1, 1:-1] = 1
    links = np.array([[1, j, k, 2] for j in range(1, 7) for k in range(1, 7)])  # -x wall off the half-way
    lat = _core.Lattice(ct, links, np.full(len(links), 0.3))
    s = _core.Solver(lat, backend, tau=0.8, bouzidi=bouzidi, precision="float64")
    f0 = random_state(lat.n_cells, seed=2)
    s.set_populations(f0)
    s.step(25)
    assert s.get_populations().sum() == pytest.approx(f0.sum(), rel=1e-12)


def small_tube_sim(device="cpu", threads=None, precision="float64", **kw):
    d = tube_domain(radius_m=1e-3, length_m=3e-3, dx_m=2e-4, offset_cells=(0.37, 0.61))
    sim = Simulation(d, u_max_m_s=0.05, numerics=Numerics(precision=precision, **kw), device=device,
                     threads=threads)
    sim.set_inlet_flow("inlet", 2e-8)
    sim.set_outlet_pressure("outlet", 0.0)
    return sim


@pytest.mark.parametrize("precision, population_bytes", [("float32", 4), ("float16", 2)])
def test_reported_step_traffic_and_memory_cover_the_scheme(backend, precision, population_bytes):
    # what `hemotwin bench` reports per backend: a step moves the populations in and out plus what its
    # odd steps look up (never more than every neighbour address, 72 B every other step, and the
    # per-warp bases beside them); the run holds at least its populations and its address table
    sim = small_tube_sim(device=backend, precision=precision)
    n, solver = sim.n_cells, sim._solver
    scheme = 2 * 19 * population_bytes
    assert scheme < solver.sweep_bytes_per_update <= scheme + 36 + 2.5, solver.sweep_bytes_per_update
    assert solver.bytes_held >= n * (19 * population_bytes + 18 * 4), solver.bytes_held


def test_results_identical_for_any_thread_count():
    a, b = small_tube_sim(threads=1), small_tube_sim(threads=2)
    a.step(150)
    b.step(150)
    np.testing.assert_array_equal(a.state()["populations"], b.state()["populations"])
    assert a.port_flows_m3_s() == b.port_flows_m3_s()


def test_port_pressures_identical_for_any_thread_count_and_equal_to_the_populations():
    # ports of ~2 800 cells each: the CPU spreads the port cells over its threads from 2 048 on
    def run(threads):
        d = tube_domain(radius_m=3e-3, length_m=1.2e-3, dx_m=1e-4, offset_cells=(0.37, 0.61))
        sim = Simulation(d, u_max_m_s=0.05, numerics=Numerics(precision="float64"), threads=threads)
        sim.set_inlet_flow("inlet", 2e-7)
        sim.set_outlet_pressure("outlet", 0.0)
        sim.step(31)  # odd: the populations sit in their neighbours' slots
        return sim

    a, b = run(1), run(2)
    assert sum(len(a.lattice.port_cells(p)) for p in range(2)) >= 2 * 2048
    p_lu = a._solver.port_mean_pressure()
    assert list(p_lu) == list(b._solver.port_mean_pressure())
    f = a.state()["populations"]  # (19, n), f_i before the next collision
    cs2_rho_minus_1 = (f.sum(axis=0) - 1.0) / 3.0
    for p in range(2):
        expected = cs2_rho_minus_1[a.lattice.port_cells(p)].mean()
        assert p_lu[p] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert abs(p_lu[0]) > 0  # the inlet's pressure rose above the outlet's


def test_checkpoint_restore_continues_bit_for_bit(backend):
    a = small_tube_sim(device=backend)
    a.step(61)  # odd: the AA layout differs from the canonical one
    state = a.state()
    a.step(40)
    b = small_tube_sim(device=backend)
    b.restore(state)
    b.step(40)
    np.testing.assert_array_equal(a.state()["populations"], b.state()["populations"])


def test_divergence_stops_with_step_position_and_cause(backend):
    sim = small_tube_sim(device=backend, tau=0.51)
    sim.set_inlet_flow("inlet", 5e-5)  # far beyond the declared peak speed: lattice Mach >> 1
    with pytest.raises(SimulationDiverged) as err:
        sim.step(3000)
    msg = str(err.value)
    assert "diverged at step" in msg and "mm" in msg and "Likely cause" in msg
    assert err.value.step <= 3000 and np.all(np.isfinite(err.value.position_m))


def test_refuses_port_narrower_than_four_cells():
    d = tube_domain(radius_m=1e-3, length_m=3e-3, dx_m=7e-4)
    with pytest.raises(StabilityError, match="cells across"):
        Simulation(d, u_max_m_s=0.05)


def test_refuses_bad_domain_dtype():
    d = tube_domain(radius_m=1e-3, length_m=3e-3, dx_m=2e-4)
    d.cell_type = d.cell_type.astype(np.int16)
    with pytest.raises(TypeError, match="uint8"):
        Simulation(d, u_max_m_s=0.05)


def test_float32_and_float64_agree():
    a, b = small_tube_sim(precision="float32"), small_tube_sim(precision="float64")
    a.step(200)
    b.step(200)
    ua, ub = a.fields()["velocity_m_s"], b.fields()["velocity_m_s"]
    assert np.linalg.norm(ua - ub) / np.linalg.norm(ub) < 1e-4
