# SPDX-License-Identifier: Apache-2.0
"""How far 16-bit population storage moves a flow field from float32's, on the CPU: the scale against
which tests/backends/test_parity.py's 16-bit CPU/GPU tolerances are set (benchmarks/RESULTS.md).

The case is the parity test's Poiseuille tube (Bouzidi walls, flow inlet, pressure outlet), 1000 steps.
Usage: python benchmarks/storage16_cost.py [--steps N]
"""
import argparse

import numpy as np

from hemotwin.geometry.voxelize import tube_domain
from hemotwin.solver import Numerics, Simulation


def run(precision: str, steps: int):
    d = tube_domain(radius_m=1e-3, length_m=6e-3, dx_m=1e-4, offset_cells=(0.37, 0.61))
    s = Simulation(d, u_max_m_s=0.05, numerics=Numerics(precision=precision, tau=0.7), device="cpu")
    s.set_inlet_flow("inlet", 4e-8)
    s.set_outlet_pressure("outlet", 0.0)
    s.step(steps)
    f = s.fields()
    return f["velocity_m_s"], f["pressure_pa"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    a = ap.parse_args()
    u0, p0 = run("float32", a.steps)
    for precision in ("float16", "bfloat16"):
        u, p = run(precision, a.steps)
        du = np.linalg.norm(u - u0) / np.linalg.norm(u0)
        dp = np.sqrt(np.mean((p - p0) ** 2)) / np.ptp(p0)
        print(f"{precision}: u rel L2 from float32 {du:.2e}, p rms / range {dp:.2e} after {a.steps} steps")


if __name__ == "__main__":
    main()
