# SPDX-License-Identifier: Apache-2.0
"""What the Python loop around the core costs per time step, CPU or GPU.

A clinical run couples its outlets' 0D models to the lattice every ``coupling_interval`` steps
(default 1): each coupling step the runner reads the port flows and pressures back from the core,
updates the 0D models and sets the new port values. On a GPU a 2M-cell step takes ~0.1-0.2 ms, so
a fixed cost of tens of microseconds per coupling step is a large share. This times, on one lattice:

- ``sim.step(n)`` alone (the core's own cost per step),
- ``FlowRunner`` in steady mode with RCR outlets, coupling every 1 and every 10 steps,

and prints the runner's cost per step beside the core's and the share of a run spent outside the
core. Timing only: the flow is slow and short (physics irrelevant here).

Usage: python benchmarks/coupling_overhead.py [--domain .devicedata/demo_domain.npz]
       [--device cpu|cuda] [--steps 2000] [--tube-cells 2e6] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _domain(path, tube_cells):
    """The lattice at ``path`` if it has an inlet and an outlet, else a straight tube of about
    ``tube_cells`` cells (r 40 cells: a clinical port size)."""
    from hemotwin.lattice import LatticeDomain

    if path and Path(path).exists():
        d = LatticeDomain.load_npz(path)
        if "inlet" in d.port_roles and "outlet" in d.port_roles:
            return d, str(path)
        print(f"{path}: needs an inlet and an outlet port; timing a tube instead")
    from hemotwin.geometry.voxelize import tube_domain

    dx, r_cells = 0.125e-3, 40
    n_len = max(16, int(tube_cells / (math.pi * r_cells**2)))
    return (tube_domain(r_cells * dx, n_len * dx, dx),
            f"tube r {r_cells} cells, {n_len} cells long")


def _simulation(dom, device, precision):
    from hemotwin.solver.simulation import Numerics, Simulation

    # tau 0.6 and a slow flow: stable on any lattice for a few thousand steps
    r_in = float(dom.port_radii_m[list(dom.port_roles).index("inlet")])
    u = 0.05 * dom.spacing_m / ((0.1 / 3.0) * dom.spacing_m**2 / 3.3e-6)
    sim = Simulation(dom, u_max_m_s=u, numerics=Numerics(precision=precision, tau=0.6),
                     device=device)
    return sim, 0.4 * u * math.pi * r_in**2


def _runner(sim, q, end_step, k):
    from hemotwin.solver.outlets import default_outlets
    from hemotwin.solver.runner import FlowRunner, FlowSetup
    from hemotwin.solver.waveforms import Waveform
    from hemotwin.units import MMHG_PA

    dom = sim.domain
    radii = {n: float(r) for n, r, role in zip(dom.port_names, dom.port_radii_m, dom.port_roles)
             if role == "outlet"}
    inlet = dom.port_names[list(dom.port_roles).index("inlet")]
    p = 93 * MMHG_PA
    setup = FlowSetup(inlet, Waveform.constant(q), "parabolic", default_outlets(radii, q, p, "rcr"),
                      pressure_offset_pa=p, ramp_s=0.0)
    dt = sim.units.dt_s
    # an averaging window longer than the run: no convergence test and no field averaging (a
    # steady run averages the fields of its last whole window), only the per-step loop is timed
    return FlowRunner(sim, setup, "steady", tolerance=1e-12, max_time_s=end_step * dt,
                      window_s=2 * end_step * dt, progress=False, coupling_interval=k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default=None, help="a LatticeDomain .npz; default a tube")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="float32")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--tube-cells", type=float, default=2e6,
                    help="size of the tube timed when --domain has no inlet and outlet")
    ap.add_argument("--json")
    a = ap.parse_args()
    dom, source = _domain(a.domain, a.tube_cells)
    res = {"domain": source, "device": a.device, "precision": a.precision, "steps": a.steps}
    sim, q = _simulation(dom, a.device, a.precision)
    res["cells"] = sim.n_cells
    # one simulation throughout: its memory is touched and its caches warm before any timing
    sim.step(50)
    t0 = time.perf_counter()
    sim.step(a.steps)
    _ = sim.port_flows_m3_s()  # waits for the device
    res["core_us_per_step"] = (time.perf_counter() - t0) / a.steps * 1e6
    # untimed: a runner's first run imports its progress bar (tqdm, asyncio: ~0.1 s, which would
    # have been charged to the coupling-every-step figure as ~50-100 us per step)
    _runner(sim, q, sim.time_step + 10, 1).run()
    for k in (1, 10):
        start = sim.time_step
        runner = _runner(sim, q, start + a.steps, k)
        t0 = time.perf_counter()
        runner.run()
        per = (time.perf_counter() - t0) / (sim.time_step - start) * 1e6
        res[f"runner_k{k}_us_per_step"] = per
        res[f"runner_k{k}_share_outside_core"] = max(0.0, 1.0 - res["core_us_per_step"] / per)
    print(json.dumps(res, indent=1))
    print(f"\n{res['cells']} cells on {a.device}: core {res['core_us_per_step']:.1f} us/step; runner "
          f"(RCR, steady) coupling every step {res['runner_k1_us_per_step']:.1f} us/step "
          f"({100 * res['runner_k1_share_outside_core']:.0f} % outside the core), every 10 steps "
          f"{res['runner_k10_us_per_step']:.1f} ({100 * res['runner_k10_share_outside_core']:.0f} %)")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
