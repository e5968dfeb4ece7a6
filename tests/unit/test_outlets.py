# SPDX-License-Identifier: Apache-2.0
"""0D outlet models on their own: steady limits, implicit stability under backflow, defaults."""
import math

import numpy as np
import pytest
from hemotwin.solver.outlets import (
    PressureOutlet,
    RCROutlet,
    ResistanceOutlet,
    default_outlets,
    murray_split,
)
from hemotwin.solver.waveforms import Waveform, load_waveform, womersley_profile
from hemotwin.units import MMHG_PA


def test_rcr_relaxes_to_total_resistance():
    m = RCROutlet("o", rp_pa_s_m3=1e7, c_m3_pa=1e-9, rd_pa_s_m3=1e8, p_distal_pa=500.0)
    q = 2e-6
    for _ in range(2000):  # 20 time constants (RC = 0.1 s, dt = 1 ms)
        p = m.pressure(q, 1e-3)
    # exact steady limit p = p_d + (Rp + Rd) q
    assert math.isclose(p, 500.0 + 1.1e8 * q, rel_tol=1e-8)


def test_rcr_implicit_update_stable_with_huge_step_and_backflow():
    m = RCROutlet("o", rp_pa_s_m3=1e7, c_m3_pa=1e-12, rd_pa_s_m3=1e8)
    rng = np.random.default_rng(0)
    ps = [m.pressure(q, 1.0) for q in rng.normal(0.0, 1e-6, 200)]  # dt / RC = 1e4, q < 0 half the time
    assert np.all(np.isfinite(ps))
    # backward Euler with dt >> RC: p_c follows Rd q, so |p| <= (Rp + Rd) |q|max
    assert np.max(np.abs(ps)) <= 1.1e8 * 4e-6


def test_rcr_analytic_step_response():
    rp, c, rd = 1e7, 1e-9, 1e8
    m = RCROutlet("o", rp, c, rd)
    q, dt = 1e-6, 1e-5
    t = 0.0
    for _ in range(10000):
        p = m.pressure(q, dt)
        t += dt
    exact = rp * q + rd * q * (1.0 - math.exp(-t / (rd * c)))
    # backward Euler is first order: error ~ dt / (2 RC) of the transient part
    assert abs(p - exact) / exact < 1e-3


def test_murray_split():
    f = murray_split([1.0, 2.0], 3.0)
    np.testing.assert_allclose(f, [1 / 9, 8 / 9])
    with pytest.raises(ValueError):
        murray_split([1.0, 0.0])


def test_default_outlets_give_target_pressure_and_total_resistance():
    q, p = 5e-3 / 60, 93 * MMHG_PA
    radii = {"a": 10e-3, "b": 6e-3, "c": 4e-3}
    models = default_outlets(radii, q, p, "rcr", proximal_fraction=0.09)
    assert math.isclose(sum(m.flow_fraction for m in models.values()), 1.0)
    for m in models.values():
        assert math.isclose(m.steady_pressure(m.target_flow_m3_s), p, rel_tol=1e-12)
        assert math.isclose(m.rp_pa_s_m3 / (m.rp_pa_s_m3 + m.rd_pa_s_m3), 0.09)
    r_parallel = 1.0 / sum(1.0 / (m.rp_pa_s_m3 + m.rd_pa_s_m3) for m in models.values())
    assert math.isclose(r_parallel, p / q, rel_tol=1e-12)  # R_T = MAP / CO (Westerhof 2009)
    c_total = sum(m.c_m3_pa for m in models.values())
    assert math.isclose(c_total, 1.5e-6 / MMHG_PA, rel_tol=1e-12)


def test_default_outlets_overrides_and_fractions():
    models = default_outlets({"a": 1e-3, "b": 1e-3}, 1e-6, 1e4, "rcr",
                             flow_fractions={"a": 0.7},
                             overrides={"b": {"model": "zero_pressure"}})
    assert math.isclose(models["a"].flow_fraction, 0.7)
    assert isinstance(models["b"], PressureOutlet) and models["b"].pressure(1.0, 1.0) == 0.0
    r = default_outlets({"a": 1e-3}, 1e-6, 1e4, "resistance")["a"]
    assert isinstance(r, ResistanceOutlet) and math.isclose(r.steady_pressure(1e-6), 1e4)


def test_state_roundtrip():
    m = RCROutlet("o", 1e7, 1e-9, 1e8)
    m.initialize(1e-6)
    m.pressure(2e-6, 1e-3)
    s = m.get_state()
    m2 = RCROutlet("o", 1e7, 1e-9, 1e8)
    m2.set_state(s)
    assert m2.pressure(3e-6, 1e-3) == m.pressure(3e-6, 1e-3)


def test_waveforms():
    w = load_waveform("builtin:aortic", 8e-5, 0.8)
    assert math.isclose(w.mean_m3_s, 8e-5, rel_tol=1e-9)
    assert w.peak_m3_s > 3 * 8e-5  # systolic peak well above the mean
    assert math.isclose(Waveform.constant(2.0).mean_m3_s, 2.0)
    # Womersley profile integrates to the waveform's flow (10 harmonics of a smooth shape)
    r = np.linspace(0, 1, 400)
    R, nu = 1e-2, 3.3e-6
    for t in (0.1, 0.35, 0.6):
        u = womersley_profile(r, t, w, R, nu, n_harmonics=30)
        q = np.trapezoid(u * 2 * np.pi * r * R * R, r)
        assert abs(q - w(t)) < 0.02 * w.peak_m3_s


def test_waveform_csv(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("# t (s), q (mL/s)\n0.0,1\n0.5,3\n", encoding="utf-8")
    w = load_waveform(str(p), 2e-6, 1.0)
    assert math.isclose(w.mean_m3_s, 2e-6)
    bad = tmp_path / "bad.csv"
    bad.write_text("0,1\n0,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="increase"):
        load_waveform(str(bad), 1e-6, 1.0)
