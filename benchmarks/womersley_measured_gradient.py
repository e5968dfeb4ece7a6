# SPDX-License-Identifier: Apache-2.0
"""Womersley verification against the gradient MEASURED mid-pipe, beside the imposed one.

Diagnostic of the first-order Womersley error (docs/validation.md 1): fits -dp/dz over the
mid-pipe cells at each sample, takes its amplitude and phase at omega over the period, and
compares the velocity with the Womersley solution for that gradient.

Usage: python benchmarks/womersley_measured_gradient.py 10 14 20   (cells per diameter)
"""
import math
import sys

import numpy as np

from hemotwin.analysis import analytic
from hemotwin.solver.simulation import Numerics, Simulation
from hemotwin.units import choose_lattice_units
from hemotwin.verification import MU, NU, RADIUS, RHO, _radial, _tube  # the case's own set-up

def _rel_l2(a, b) -> float:
    return float(np.sqrt(np.sum((a - b) ** 2) / np.sum(b ** 2)))


def run(resolution, length_d=2.0, alpha=5.0, tau=0.55, cycles=3, samples=24, u_lu_peak=0.02):
    """hemotwin.verification.womersley's set-up; returns (L2 vs imposed gradient, L2 vs measured
    gradient, |G_measured| / G_imposed, phase of G_measured in rad)."""
    domain, dx = _tube(resolution, length_d)
    units = choose_lattice_units(dx, NU, RHO, 1.0, tau=tau)
    sim = Simulation(domain, density_kg_m3=RHO, viscosity_pa_s=MU, u_max_m_s=u_lu_peak * units.c_m_s,
                     numerics=Numerics(wall="bouzidi", precision="float64", tau=tau))
    omega = alpha**2 * NU / RADIUS**2
    ps = int(round(2 * math.pi / omega / sim.units.dt_s))
    omega = 2 * math.pi / (ps * sim.units.dt_s)
    length = float(np.max(sim.cell_centers_m[:, 2]) + dx / 2)
    grad = u_lu_peak * sim.units.c_m_s * RHO * omega
    sim.set_outlet_pressure("outlet", 0.0)
    sim.set_outlet_pressure("inlet", grad * length)
    tw = np.arange(64) * (2 * math.pi / omega) / 64
    sim.set_port_waveform("inlet", tw, np.cos(omega * tw), 2 * math.pi / omega)
    sim.step(cycles * ps)
    along, r = _radial(sim.cell_centers_m, np.array([0, 0, 1.0]))
    mid = (along > 0.3 * length) & (along < 0.7 * length)
    ts, us, gs = [], [], []
    for s in range(samples):
        f = sim.fields()
        ts.append(sim.time_s)
        us.append(f["velocity_m_s"][mid, 2])
        gs.append(-np.polyfit(along[mid], f["pressure_pa"][mid], 1)[0])  # -dp/dz, least squares
        sim.step(ps // samples)
    ts, us, gs = np.array(ts), np.array(us), np.array(gs)
    # complex amplitude of the measured gradient at omega: g(t) = Re(G e^{i w t})
    G = 2 * np.mean(gs * np.exp(-1j * omega * ts))
    def womersley(amplitude, phase):  # velocity for -dp/dz = amplitude cos(w t + phase)
        return np.array([analytic.womersley_velocity(r[mid], t + phase / omega, RADIUS, amplitude, omega,
                                                     RHO, NU) for t in ts])

    ref_imposed, ref_measured = womersley(grad, 0.0), womersley(abs(G), float(np.angle(G)))
    return _rel_l2(us, ref_imposed), _rel_l2(us, ref_measured), abs(G) / grad, float(np.angle(G))


if __name__ == "__main__":
    for n in [int(x) for x in sys.argv[1:]] or [10, 14, 20]:
        imposed, measured, amp, phase = run(n)
        print(f"{n} cells: velocity L2 vs imposed gradient {imposed:.4f}, vs measured gradient "
              f"{measured:.4f}; measured |G|/G0 {amp:.4f}, phase {phase:.4f} rad", flush=True)
