# SPDX-License-Identifier: Apache-2.0
"""TAWSS and OSI of a simulated pulsatile pipe flow (Poiseuille mean + Womersley oscillation)
against the analytic WSS waveform (Womersley 1955, analysis/analytic.py)."""
from __future__ import annotations

import math

import numpy as np

from hemotwin.analysis import analytic
from hemotwin.analysis import hemodynamics as hd

RHO, MU, R = 1060.0, 3.5e-3, 1.0e-3
NU = MU / RHO


def test_tawss_osi_simulated_womersley():
    from hemotwin.geometry.voxelize import tube_domain
    from hemotwin.solver import Numerics, Simulation

    res, alpha, tau = 20, 4.0, 0.6
    dx = 2 * R / res
    dom = tube_domain(radius_m=R, length_m=4 * R, dx_m=dx, offset_cells=(0.37, 0.61))
    sim = Simulation(dom, density_kg_m3=RHO, viscosity_pa_s=MU, u_max_m_s=0.05,
                     numerics=Numerics(precision="float64", tau=tau), device="cpu", threads=1)
    omega = alpha**2 * NU / R**2
    period_steps = int(round(2 * math.pi / omega / sim.units.dt_s))
    omega = 2 * math.pi / (period_steps * sim.units.dt_s)  # whole number of steps per period
    period = 2 * math.pi / omega
    length = float(np.max(sim.cell_centers_m[:, 2]) + dx / 2)
    # oscillating gradient for a peak lattice speed ~0.02; a mean a quarter of it: WSS reverses
    g1 = 0.02 * sim.units.c_m_s * RHO * omega
    g0 = 0.25 * g1
    sim.set_outlet_pressure("outlet", 0.0)
    sim.set_outlet_pressure("inlet", (g0 + g1) * length)
    tw = np.arange(64) * period / 64
    sim.set_port_waveform("inlet", tw, (g0 + g1 * np.cos(omega * tw)) / (g0 + g1), period)
    sim.step(3 * period_steps)  # the slowest (steady) mode decays in ~0.4 period at alpha 4

    samples = next(k for k in range(24, 80) if period_steps % k == 0)
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    pts = np.array([[R * math.cos(a), R * math.sin(a), z * length] for z in (0.4, 0.5, 0.6) for a in ang])
    nrm = pts * np.array([1.0, 1.0, 0.0]) / R
    op = hd.WallStressOperator(pts, nrm, sim.cell_centers_m, dx)
    series, t0 = [], sim.time_s
    for _ in range(samples):
        series.append(op.wss(sim.fields()["stress_pa"]))
        sim.step(period_steps // samples)
    m = hd.cycle_metrics(np.array(series), period / samples)

    tf = t0 + np.linspace(0, period, 100001)
    tau_f = g0 * R / 2 + analytic.womersley_wss(tf, R, g1, omega, NU)
    tawss = np.trapezoid(np.abs(tau_f), tf) / period
    osi = 0.5 * (1 - abs(np.trapezoid(tau_f, tf)) / np.trapezoid(np.abs(tau_f), tf))
    print(f"TAWSS {m['tawss_pa'].mean():.4f} vs {tawss:.4f} Pa; OSI {m['osi'].mean():.4f} vs {osi:.4f}")
    # issue 4 acceptance: within 10 % (measured ~0.5 % and ~4 % at 20 cells per diameter)
    np.testing.assert_allclose(m["tawss_pa"], tawss, rtol=0.10)
    np.testing.assert_allclose(m["osi"], osi, rtol=0.10)
