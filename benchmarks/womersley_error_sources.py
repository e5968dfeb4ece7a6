# SPDX-License-Identifier: Apache-2.0
"""Where the Womersley case's error comes from: its parts, with the lattice speed held or not.

Runs hemotwin.verification.womersley's set-up (alpha 5, tau 0.55, Bouzidi walls, float64, pipe of
two diameters) and splits the mid-pipe velocity over one period into its mean (a steady flow the
incompressible solution does not have) and its part at omega, and fits the gradient's amplitude
at both ends of the pipe. Two scalings per resolution: the physical problem held (the Reynolds
number of verification.womersley; lattice speed ~ 1/N, as the case now runs) and the lattice
speed held at 0.02 (the case before 2026-12-08). The period is rounded down to a whole number of
steps per sample (an exact period for the split), so omega is up to 5 % above
verification.womersley's at 10 cells (acoustic length 0.605 here, 0.577 there), less when finer.

Usage: python benchmarks/womersley_error_sources.py 10 14 20 28   (cells per diameter)
"""
import math
import sys

import numpy as np

from hemotwin.analysis import analytic
from hemotwin.solver.simulation import Numerics, Simulation
from hemotwin.verification import MU, NU, RADIUS, RHO, WOMERSLEY_REYNOLDS, _radial, _tube

TAU, ALPHA, LENGTH_D, CYCLES, SAMPLES = 0.55, 5.0, 2.0, 3, 24


def parts(resolution: int, u_peak_m_s: float) -> dict:
    domain, dx = _tube(resolution, LENGTH_D)
    sim = Simulation(domain, density_kg_m3=RHO, viscosity_pa_s=MU, u_max_m_s=u_peak_m_s,
                     numerics=Numerics(wall="bouzidi", precision="float64", tau=TAU))
    steps = int(round(2 * math.pi / (ALPHA**2 * NU / RADIUS**2) / sim.units.dt_s)) // SAMPLES * SAMPLES
    omega = 2 * math.pi / (steps * sim.units.dt_s)  # whole steps per sample: an exact period
    length = float(np.max(sim.cell_centers_m[:, 2]) + dx / 2)
    grad = u_peak_m_s * RHO * omega
    sim.set_outlet_pressure("outlet", 0.0)
    sim.set_outlet_pressure("inlet", grad * length)
    tw = np.arange(64) * (2 * math.pi / omega) / 64
    sim.set_port_waveform("inlet", tw, np.cos(omega * tw), 2 * math.pi / omega)
    sim.step(CYCLES * steps)
    along, r = _radial(sim.cell_centers_m, np.array([0.0, 0.0, 1.0]))
    ts, u, p = [], [], []
    for _ in range(SAMPLES):
        f = sim.fields()
        ts.append(sim.time_s)
        u.append(f["velocity_m_s"][:, 2].copy())
        p.append(f["pressure_pa"].copy())
        sim.step(steps // SAMPLES)
    ts, u, p = np.array(ts), np.array(u), np.array(p)
    rot = np.exp(-1j * omega * ts)[:, None]
    u_mean, u_omega, p_omega = u.mean(axis=0), 2 * (u * rot).mean(axis=0), 2 * (p * rot).mean(axis=0)
    # the exact solution's complex amplitude at omega: Re(U e^{i w t}) from two instants
    exact = (analytic.womersley_velocity(r, 0.0, RADIUS, grad, omega, RHO, NU)
             - 1j * analytic.womersley_velocity(r, math.pi / 2 / omega, RADIUS, grad, omega, RHO, NU))
    mid = (along > 0.3 * length) & (along < 0.7 * length)
    scale = np.sqrt(np.mean(np.abs(exact[mid]) ** 2))

    def end_gradient(lo, hi):
        m = (along > lo * length) & (along < hi * length)
        return abs(np.polyfit(along[m], p_omega[m], 1)[0]) / grad

    return {"u_lu": u_peak_m_s / sim.units.c_m_s,
            "acoustic_length": sim.units.acoustic_length(length, 2 * math.pi / omega),
            "mean_flow": float(np.mean(u_mean[mid]) / scale),
            "omega_part_error": float(np.sqrt(np.mean(np.abs(u_omega[mid] - exact[mid]) ** 2)) / scale),
            "gradient_inlet_end": end_gradient(0.05, 0.15), "gradient_outlet_end": end_gradient(0.85, 0.95)}


if __name__ == "__main__":
    print("N   scaling        u_lu    wL/c_s  mean flow  error at w  |G| inlet end  outlet end")
    for n in [int(x) for x in sys.argv[1:]] or [10, 14, 20, 28]:
        physical = WOMERSLEY_REYNOLDS * NU / (2 * RADIUS)
        held_lattice = 0.02 * 3 * NU / ((TAU - 0.5) * (2 * RADIUS / n))  # 0.02 dx/dt, dt = (tau-1/2) dx^2/(3 nu)
        for name, u in (("physics held", physical), ("u_lu held", held_lattice)):
            r = parts(n, u)
            print(f"{n:<3} {name:<13} {r['u_lu']:.4f}  {r['acoustic_length']:.3f}   {r['mean_flow']:+.4f}   "
                  f"{r['omega_part_error']:.4f}      {r['gradient_inlet_end']:.4f}       "
                  f"{r['gradient_outlet_end']:.4f}", flush=True)
