# SPDX-License-Identifier: Apache-2.0
"""Plain-numpy D3Q19 BGK on a periodic box: the "research script" baseline for `hemotwin bench`.

Two buffers, collide then stream with np.roll, float32: what a careful numpy user writes.
Run: python benchmarks/peers/numpy_d3q19.py --size 64 --steps 10 --json
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

C = np.array([(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1),
              (1, 1, 0), (-1, -1, 0), (1, -1, 0), (-1, 1, 0), (1, 0, 1), (-1, 0, -1), (1, 0, -1),
              (-1, 0, 1), (0, 1, 1), (0, -1, -1), (0, 1, -1), (0, -1, 1)])
W = np.array([1 / 3] + [1 / 18] * 6 + [1 / 36] * 12)


def equilibrium(rho, u, dtype):
    cu = np.tensordot(C.astype(dtype), u, axes=(1, 0))  # (19, nx, ny, nz)
    u2 = (u * u).sum(0)
    return W.astype(dtype)[:, None, None, None] * rho * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * u2)


def step(f, g, omega):
    rho = f.sum(0)
    u = np.tensordot(C.T.astype(f.dtype), f, axes=(1, 0)) / rho
    f += omega * (equilibrium(rho, u, f.dtype) - f)
    for i in range(19):  # pull-free push: post-collision f_i moves by c_i into the second buffer
        g[i] = np.roll(f[i], shift=tuple(C[i]), axis=(0, 1, 2))
    return g, f


def run(size: int, steps: int, tau: float = 0.6, dtype=np.float32) -> dict:
    shape = (size, size, size)
    x = np.arange(size) * 2 * np.pi / size
    u = np.zeros((3,) + shape, dtype)
    u[0] = 0.02 * np.sin(x)[None, :, None]  # a shear wave, so the flow is not trivially at rest
    f = equilibrium(np.ones(shape, dtype), u, dtype).astype(dtype)
    g = np.empty_like(f)
    omega = dtype(1.0 / tau)
    f, g = step(f, g, omega)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        f, g = step(f, g, omega)
    dt = time.perf_counter() - t0
    return {"size": size, "steps": steps, "seconds": dt, "mlups": {"numpy": size ** 3 * steps / dt / 1e6},
            "mass": float(f.sum(dtype=np.float64))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    r = run(a.size, a.steps)
    print(json.dumps(r) if a.json else f"numpy D3Q19 {a.size}^3: {r['mlups']['numpy']:.1f} MLUPS")


if __name__ == "__main__":
    main()
