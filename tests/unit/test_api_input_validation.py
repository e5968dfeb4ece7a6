# SPDX-License-Identifier: Apache-2.0
"""Bad input to the Python API fails at once with a ValueError/TypeError naming the argument,
never as a later crash, a bare ZeroDivisionError/IndexError or a silent NaN/zero."""
import math

import numpy as np
import pytest

from hemotwin.analysis import hemodynamics as hd
from hemotwin.cli import main
from hemotwin.geometry.voxelize import tube_domain
from hemotwin.solver.simulation import CarreauYasuda, Numerics, Simulation
from hemotwin.units import StabilityError

NAN, INF = float("nan"), float("inf")


def _dom():
    return tube_domain(radius_m=1e-3, length_m=4e-3, dx_m=2e-4)


@pytest.fixture(scope="module")
def sim():
    return Simulation(_dom(), u_max_m_s=0.05, device="cpu", threads=1)


# -- 1. setters and Carreau-Yasuda ------------------------------------------------------------
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_setters_refuse_non_finite_values(sim, value):
    with pytest.raises(ValueError, match=r"flow for port 'inlet' must be finite, got (nan|-?inf)"):
        sim.set_inlet_flow("inlet", value)
    with pytest.raises(ValueError, match=r"pressure for port 'outlet' must be finite"):
        sim.set_outlet_pressure("outlet", value)
    u = np.zeros((len(sim.port_cell_centers_m("inlet")), 3))
    u[3, 2] = value
    with pytest.raises(ValueError, match=r"velocities for port 'inlet' must be finite: 1 of"):
        sim.set_inlet_velocity("inlet", u)


def test_waveform_refuses_non_finite_or_zero_period(sim):
    with pytest.raises(ValueError, match="waveform for port 'inlet'"):
        sim.set_port_waveform("inlet", [0.0, 0.5], [1.0, NAN], 1.0)
    with pytest.raises(ValueError, match="period_s"):
        sim.set_port_waveform("inlet", [0.0, 0.5], [1.0, 1.0], 0.0)


@pytest.mark.parametrize("kw, field", [
    (dict(mu0_pa_s=NAN), "mu0_pa_s"), (dict(mu0_pa_s=-1.0), "mu0_pa_s"),
    (dict(mu_inf_pa_s=0.0), "mu_inf_pa_s"), (dict(mu_inf_pa_s=0.1), "mu_inf_pa_s"),  # above mu0
    (dict(lambda_s=INF), "lambda_s"), (dict(lambda_s=0.0), "lambda_s"),
    (dict(n=-2.0), "n"), (dict(n=0.0), "n"), (dict(n=1.5), "n"),
    (dict(a=0.0), "a"), (dict(a=NAN), "a"),
])
def test_carreau_yasuda_refuses_unphysical_parameters(kw, field):
    with pytest.raises(ValueError, match=rf"carreau_yasuda\.{field} must be"):
        CarreauYasuda(**kw)


def test_carreau_yasuda_keeps_shear_thinning_values():
    CarreauYasuda()  # Cho & Kensey defaults
    CarreauYasuda(mu0_pa_s=0.056, mu_inf_pa_s=0.00345, lambda_s=3.313, n=0.2128, a=2)
    CarreauYasuda(mu0_pa_s=0.0035, mu_inf_pa_s=0.0035, n=1.0)  # Newtonian limit
    with pytest.raises(TypeError, match="carreau_yasuda.n"):
        CarreauYasuda(n="0.3")


# -- 2. Numerics and Simulation arguments -------------------------------------------------------
@pytest.mark.parametrize("kw, exc, match", [
    (dict(smagorinsky=-0.1, les=True), ValueError, "numerics.smagorinsky"),
    (dict(smagorinsky=NAN, les=True), ValueError, "numerics.smagorinsky"),
    (dict(smagorinsky=0.0, les=True), ValueError, "numerics.smagorinsky"),
    (dict(magic=-1.0), ValueError, "numerics.magic"),
    (dict(magic=NAN), ValueError, "numerics.magic"),
    (dict(check_interval=0), ValueError, "numerics.check_interval"),
    (dict(check_interval=-1), ValueError, "numerics.check_interval"),
    (dict(check_interval=2.5), TypeError, "numerics.check_interval"),
    (dict(les="yes"), TypeError, "numerics.les"),
    (dict(u_lu_max=0.0), ValueError, "numerics.u_lu_max"),
    (dict(u_lu_max=NAN), ValueError, "numerics.u_lu_max"),
    (dict(tau=INF), ValueError, "numerics.tau"),
    (dict(tau=NAN), ValueError, "numerics.tau"),
])
def test_numerics_refuses_bad_values(kw, exc, match):
    with pytest.raises(exc, match=match):
        Numerics(**kw).validate()
    with pytest.raises(exc, match=match):
        Simulation(_dom(), u_max_m_s=0.05, numerics=Numerics(**kw), device="cpu")


@pytest.mark.parametrize("kw, match", [
    (dict(u_max_m_s=INF), "u_max_m_s"), (dict(u_max_m_s=0.0), "u_max_m_s"),
    (dict(viscosity_pa_s=INF), "viscosity_pa_s"), (dict(density_kg_m3=NAN), "density_kg_m3"),
    (dict(threads=-3), "threads"),
])
def test_simulation_refuses_bad_physics_and_threads(kw, match):
    with pytest.raises(ValueError, match=match):
        Simulation(_dom(), **{"u_max_m_s": 0.05, **kw}, device="cpu")


def test_valid_numerics_still_run():
    Numerics().validate()
    Numerics(les=np.bool_(True), smagorinsky=0.17, u_lu_max=0.1, check_interval=np.int64(32)).validate()
    Numerics(les=False, smagorinsky=0.0, tau=0.7).validate()  # Cs unused without LES
    for threads in (None, 0, 1):  # None / 0: all threads
        Simulation(_dom(), u_max_m_s=0.05, device="cpu", threads=threads)


def test_float32_refuses_what_it_cannot_resolve():
    # tau a hair above 1/2: float32 rounds the viscosity away and u_lu ~ 2e-6 (MPa noise pressures)
    with pytest.raises(StabilityError, match=r"tau - 1/2 = 1e-07 .*float32"):
        Simulation(_dom(), numerics=Numerics(tau=0.5000001, les=True), device="cpu")
    with pytest.raises(StabilityError, match=r"peak lattice speed 0\.000202 .*float16"):
        Simulation(_dom(), numerics=Numerics(tau=0.50001, les=True, precision="float16"), device="cpu")
    with pytest.raises(StabilityError, match=r"raise numerics.u_lu_max"):
        Simulation(_dom(), u_max_m_s=1.0, numerics=Numerics(u_lu_max=5e-4, les=True), device="cpu")
    # float64 resolves them; clinical-like tau ~ 0.501 with LES in float32 is kept
    Simulation(_dom(), numerics=Numerics(tau=0.50001, les=True, precision="float64"), device="cpu")
    s = Simulation(_dom(), u_max_m_s=2.5, numerics=Numerics(u_lu_max=0.05, les=True), device="cpu")
    assert 0.5005 < s.tau < 0.5011


# -- 3. port arguments ---------------------------------------------------------------------------
def test_port_accepts_integers_and_refuses_bools(sim):
    sim.set_outlet_pressure(np.int64(1), 0.0)
    sim.set_outlet_pressure(1, 0.0)
    with pytest.raises(TypeError, match="port must be a name"):
        sim.set_outlet_pressure(True, 0.0)
    with pytest.raises(TypeError, match="port must be a name"):
        sim.set_outlet_pressure(1.0, 0.0)
    with pytest.raises(ValueError, match="port index 5 is out of range"):
        sim.set_outlet_pressure(5, 0.0)
    with pytest.raises(KeyError, match="unknown port 'nope'"):
        sim.set_outlet_pressure("nope", 0.0)


def test_zero_port_radius_is_named():
    dom = _dom()
    dom.port_radii_m[0] = 0.0
    s = Simulation(dom, u_max_m_s=0.05, device="cpu", threads=1)
    with pytest.raises(ValueError, match=r"port 'inlet': its radius .* zero port radius"):
        s.set_inlet_flow("inlet", 1e-8)


# -- 4. tube_domain ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(radius_m=-1e-3), "radius_m"), (dict(length_m=-4e-3), "length_m"), (dict(dx_m=0.0), "dx_m"),
    (dict(radius_m=NAN), "radius_m"), (dict(dx_m=INF), "dx_m"), (dict(axis="w"), "axis"),
    (dict(pad_cells=0), "pad_cells"), (dict(offset_cells=(0.5, NAN)), "offset_cells"),
])
def test_tube_domain_refuses_bad_input(kw, match):
    args = {"radius_m": 1e-3, "length_m": 4e-3, "dx_m": 2e-4, **kw}
    with pytest.raises(ValueError, match=f"tube_domain: {match}"):
        tube_domain(**args)
    with pytest.raises(TypeError, match="tube_domain: radius_m"):
        tube_domain(radius_m="1e-3", length_m=4e-3, dx_m=2e-4)


# -- 5. translesional gradient ------------------------------------------------------------------
S = np.linspace(0, 40, 81)
P = np.where(S < 20, 2000.0, 0.0)


def test_gradient_refuses_invalid_spans_and_arclength():
    with pytest.raises(ValueError, match=r"lesion span \(100, 120\) mm lies outside .*\[0, 40\]"):
        hd.translesional_gradient(S, P, (100.0, 120.0))
    with pytest.raises(ValueError, match="arclength_mm must be a finite, increasing"):
        hd.translesional_gradient(S[::-1], P[::-1], (18.0, 22.0))
    with pytest.raises(ValueError, match=r"start_mm <= end_mm, got \(22, 18\)"):
        hd.translesional_gradient(S, P, (22.0, 18.0))
    with pytest.raises(ValueError, match="margin_mm"):
        hd.translesional_gradient(S, P, (18.0, 22.0), margin_mm=-1.0)
    with pytest.raises(ValueError, match="lies outside"):
        hd.pd_pa(S, P, (-30.0, -20.0), offset_pa=1e4)


def test_gradient_keeps_clipping_stations_near_the_ends():
    assert hd.translesional_gradient(S, P, (18.0, 22.0))["mean_mmhg"] == pytest.approx(15.0, abs=0.01)
    g = hd.translesional_gradient(S, P, (1.0, 39.0))  # margins clipped to the centerline, as before
    assert (g["proximal_mm"], g["distal_mm"]) == (0.0, 40.0)
    assert math.isclose(g["mean_mmhg"], 2000.0 / hd.PA_PER_MMHG, rel_tol=1e-9)


# -- 6. verify CLI -------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["--resolution", "0"], ["--resolution", "-4"], ["--resolutions", "10,0"]])
def test_verify_refuses_zero_resolution(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(["verify", "poiseuille", *argv])
    assert e.value.code == 2
    assert "whole number of cells >= 1" in capsys.readouterr().err
