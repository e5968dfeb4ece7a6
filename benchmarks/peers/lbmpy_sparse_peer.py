# SPDX-License-Identifier: Apache-2.0
"""lbmpy's list-based sparse kernel (generated C, OpenMP) on a vascular mask: a peer for `hemotwin bench`.

lbmpy is GPL-licensed: it is only ever imported here, in a separate process, when the user has
installed it (the optional `bench` extra); the hemotwin package never imports it.

The geometry is a 3-D boolean mask (True = fluid) read from ``--mask PATH.npy``; everything outside
it is solid. lbmpy.sparse stores the populations of the fluid cells only, as a list (structure of
arrays: population q of cell i at ``q * n_cells + i``), and streams through an index list that
names, for every cell and direction, the list entry to pull from. Where that upstream neighbour is
solid the entry points back at the cell's own opposite population: half-way bounce-back, for free.

Kernel timed: lbmpy_sparse, D3Q19 SRT (omega = 1/0.6), float32, stream-pull-collide from one list
into a second one (two buffers, swapped every step). lbmpy.sparse offers no in-place (AA) list
kernel (its kernel types are stream_pull_collide, collide_only and stream_pull_only, all src -> dst),
so the two-buffer pull kernel is the only one timed.

Physics check: the run starts at rest from a small deterministic density perturbation; the total
mass (sum of the cells' densities, in float64) must stay constant to float32 rounding. The relative
drift is reported and the script exits non-zero when it exceeds 1e-4.

Run: OMP_NUM_THREADS=2 python benchmarks/peers/lbmpy_sparse_peer.py --mask tube.npy --steps 20 --json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

OMEGA = 1.0 / 0.6
MAX_MASS_DRIFT = 1e-4
PERTURBATION = 1e-3  # amplitude of the initial density wave: small, so the flow stays at low Mach


class PeerError(Exception):
    """A problem with the input or the run, reported as one line and a non-zero exit."""


def load_mask(path: Path) -> np.ndarray:
    """The fluid mask in ``path`` as a 3-D bool array with at least one fluid cell."""
    if not path.exists():
        raise PeerError(f"--mask {path}: no such file (expected a .npy file holding a 3-D bool array)")
    try:
        mask = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise PeerError(f"--mask {path}: cannot be read as a .npy array ({e})") from e
    if mask.ndim != 3:
        raise PeerError(f"--mask {path}: expected a 3-D array, got shape {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise PeerError(f"--mask {path}: expected bool (or 0/1) values, got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if not mask.any():
        raise PeerError(f"--mask {path}: the mask has no fluid (True) cell")
    return mask


def pull_index_list(mask: np.ndarray, offsets: np.ndarray, opposite: np.ndarray) -> np.ndarray:
    """lbmpy.sparse's streaming index list for the fluid cells of ``mask``, vectorized.

    Cells are numbered in the mask's row-major order (z fastest). Column d - 1 holds, for each
    cell, the list position of population d to pull: ``neighbour + d * n`` where the upstream cell
    (cell - c_d) is fluid, else ``cell + opposite[d] * n`` (half-way bounce-back). Returned in
    Fortran order, the structure-of-arrays layout the kernel's index field is declared with.
    """
    n, q = int(mask.sum()), len(offsets)
    if q * n >= 2 ** 32:
        raise PeerError(f"{n} fluid cells x {q} populations overflow lbmpy.sparse's uint32 index list")
    padded = np.pad(mask, 1)  # solid frame: every upstream lookup stays in bounds
    cell_of = np.full(padded.shape, -1, np.int64)
    cell_of[padded] = np.arange(n)
    x, y, z = np.nonzero(padded)
    own = np.arange(n, dtype=np.int64)
    index = np.empty((n, q - 1), np.uint32, order="F")
    for d in range(1, q):
        cx, cy, cz = offsets[d]
        upstream = cell_of[x - cx, y - cy, z - cz]
        index[:, d - 1] = np.where(upstream >= 0, upstream + d * n, own + opposite[d] * n)
    return index


def initial_density(mask: np.ndarray) -> np.ndarray:
    """Density 1 plus a small smooth wave over the fluid cells (float32, in list order)."""
    x, y, z = np.nonzero(mask)
    shape = np.array(mask.shape, float)
    wave = np.sin(2 * np.pi * x / shape[0]) * np.cos(2 * np.pi * y / shape[1]) * np.sin(np.pi * z / shape[2])
    return (1.0 + PERTURBATION * wave).astype(np.float32)


def _kernel_config(ps, threads: int, explicit_simd: bool):
    # CurrentCPU compiles with -march=native: lbmpy at its best on this CPU
    cfg = ps.CreateKernelConfig(target=ps.Target.CurrentCPU, default_dtype="float32", ghost_layers=0)
    cfg.cpu.openmp.enable = True
    cfg.cpu.openmp.num_threads = threads
    cfg.cpu.vectorize.enable = explicit_simd
    return cfg


def _compile_fastest(ps, assignments, threads: int) -> tuple:
    """The kernel with pystencils' explicit SIMD, or without (left to the C compiler) when it refuses.

    pystencils 2.0 refuses to vectorize the list kernel's indirect (gather) reads, so in practice
    the second form is built; gcc may still auto-vectorize it with -march=native.
    """
    try:
        return ps.create_kernel(assignments, config=_kernel_config(ps, threads, True)).compile(), True
    except Exception:  # noqa: BLE001 - any code-generation refusal: retry without explicit SIMD
        return ps.create_kernel(assignments, config=_kernel_config(ps, threads, False)).compile(), False


class SparseLbm:
    """lbmpy.sparse's D3Q19 SRT float32 kernels for one mask: initialise, step, per-cell density.

    lbmpy stores populations zero-centred (f - w); its density getter adds the rest density back,
    so the sum of the densities is the sum of the populations.
    """

    def __init__(self, mask: np.ndarray, threads: int):
        import pystencils as ps
        from lbmpy import LBMConfig, LBStencil, Method, Stencil
        from lbmpy.creationfunctions import create_lb_collision_rule
        from lbmpy.sparse import (
            create_lb_update_rule_sparse,
            create_macroscopic_value_getter_sparse,
            create_macroscopic_value_setter_sparse,
            create_symbolic_list,
        )

        stencil = LBStencil(Stencil.D3Q19)
        q = stencil.Q
        offsets = np.array(stencil, dtype=np.int64)
        opposite = np.array([stencil.index(tuple(-c for c in direction)) for direction in stencil])

        t0 = time.perf_counter()
        self.index = pull_index_list(mask, offsets, opposite)
        self.index_build_s = time.perf_counter() - t0
        self.n = n = self.index.shape[0]

        t0 = time.perf_counter()
        rule = create_lb_collision_rule(lbm_config=LBMConfig(stencil=stencil, method=Method.SRT,
                                                             relaxation_rate=OMEGA))
        method = rule.method
        src = create_symbolic_list("src", n, q, "float32", "SoA")
        dst = create_symbolic_list("dst", n, q, "float32", "SoA")
        idx = create_symbolic_list("idx", n, q - 1, np.uint32, "SoA")
        rho = create_symbolic_list("rho", n, 1, "float32")
        self._step, self.simd = _compile_fastest(ps, create_lb_update_rule_sparse(rule, src, dst, idx), threads)
        scalar = _kernel_config(ps, threads, False)
        setter = create_macroscopic_value_setter_sparse(method, src, rho.center, (0.0, 0.0, 0.0))
        self._set = ps.create_kernel(setter, config=scalar).compile()
        getter = create_macroscopic_value_getter_sparse(method, src, {"density": rho})
        self._get = ps.create_kernel(getter, config=scalar).compile()
        self.codegen_s = time.perf_counter() - t0

        self.src = np.zeros((n, q), np.float32, order="F")
        self.dst = np.zeros_like(self.src)
        self._rho = np.zeros(n, np.float32)

    def initialise(self, density: np.ndarray) -> None:
        """Equilibrium at rest with the given per-cell density."""
        self._rho[:] = density
        self._set(src=self.src, rho=self._rho)

    def step(self) -> None:
        self._step(src=self.src, dst=self.dst, idx=self.index)
        self.src, self.dst = self.dst, self.src

    def density(self) -> np.ndarray:
        self._get(src=self.src, rho=self._rho)
        return self._rho.copy()


def run(mask: np.ndarray, steps: int, threads: int) -> dict:
    """Time ``steps`` list-based steps on ``mask`` (after two warm-up steps); the peer's JSON record."""
    import lbmpy

    lbm = SparseLbm(mask, threads)
    lbm.initialise(initial_density(mask))
    rho0 = lbm.density()
    mass0 = float(rho0.sum(dtype=np.float64))
    lbm.step()  # warm-up: first touch of both lists
    lbm.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        lbm.step()
    seconds = time.perf_counter() - t0
    rho1 = lbm.density()
    mass_drift = abs(float(rho1.sum(dtype=np.float64)) - mass0) / mass0
    detail = {"seconds": seconds, "steps": steps, "codegen_s": lbm.codegen_s, "index_build_s": lbm.index_build_s,
              "simd": lbm.simd, "streaming": "pull, two buffers (lbmpy.sparse has no in-place list kernel)",
              "walls": "half-way bounce-back through the index list; solid outside the mask", "collision": "SRT omega=1/0.6",
              "precision": "float32", "mass_drift": mass_drift,
              # the initial wave must have moved: a kernel that did nothing would conserve mass too
              "max_density_change": float(np.abs(rho1 - rho0).max())}
    return {"mlups": {"lbmpy_sparse": lbm.n * steps / seconds / 1e6}, "cells": lbm.n, "shape": list(mask.shape),
            "steps": steps, "threads": threads, "detail": {"lbmpy_sparse": detail},
            "version": getattr(lbmpy, "__version__", "unknown")}


def check_physics(result: dict) -> None:
    detail = result["detail"]["lbmpy_sparse"]
    if not detail["mass_drift"] <= MAX_MASS_DRIFT:
        raise PeerError(f"mass not conserved: relative drift {detail['mass_drift']:.3g} over "
                        f"{detail['steps'] + 2} steps exceeds {MAX_MASS_DRIFT:g}")
    if not detail["max_density_change"] > 0:
        raise PeerError("the density field did not change over the run: the kernel did not update the lattice")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mask", type=Path, required=True, help="3-D bool .npy, True = fluid")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.steps < 1:
        ap.error(f"--steps must be at least 1, got {a.steps}")
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    try:
        r = run(load_mask(a.mask), a.steps, threads)
        check_physics(r)
    except PeerError as e:
        print(f"lbmpy_sparse_peer: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(r))
    else:
        d = r["detail"]["lbmpy_sparse"]
        print(f"lbmpy_sparse {'x'.join(map(str, r['shape']))} ({r['cells']} fluid cells, {threads} threads): "
              f"{r['mlups']['lbmpy_sparse']:.1f} MLUPS, mass drift {d['mass_drift']:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
