# SPDX-License-Identifier: Apache-2.0
"""XLB (Autodesk; JAX and NVIDIA Warp backends) on a periodic D3Q19 BGK float32 box: a peer for `hemotwin bench`.

XLB is Apache-2.0 but pulls in JAX and Warp: it is only imported here, in a separate process, as an
optional peer; the hemotwin package never imports it. Install it in its own environment and point
the bench at that interpreter with HEMOTWIN_XLB_PYTHON=/path/to/python.
Each backend runs XLB 0.2.0's IncompressibleNavierStokesStepper (BGK, omega = 1/0.6, no boundary
conditions: its pull streaming wraps around, so the box is periodic) with PrecisionPolicy.FP32FP32,
from rest (equilibrium, rho 1, u 0), two buffers swapped each step, on the CPU only:
  xlb_jax   XLA on the CPU (JAX_PLATFORMS=cpu). XLA sizes its CPU thread pool (the XLAEigen
            threads) from the NPROC environment variable, set here to OMP_NUM_THREADS; XLA_FLAGS'
            intra_op_parallelism_threads / xla_cpu_multi_thread_eigen leave it unchanged (jaxlib
            0.10.2). Each step allocates a new output array (XLB does not donate its buffers).
  xlb_warp  Warp's "cpu" device (kernels compiled by Warp's bundled LLVM): a CPU launch runs on one
            thread, whatever OMP_NUM_THREADS says (detail reports the threads each backend used).
Timed as full steps after two warm-up steps, which absorb JIT compilation (warmup_s); the clock stops
after block_until_ready() (JAX) or wp.synchronize() (Warp). setup_s is the fields plus equilibrium
initialisation (for Warp, the compile of that kernel). Warp caches compiled kernels on disk
(~/.cache/warp), so its warm-up is shorter after the first run. cpu_s is the process's CPU time over
the timed steps; rho_mean (mean density at the end, 1 at rest) guards against a broken run.
Run: OMP_NUM_THREADS=2 python benchmarks/peers/xlb_peer.py --size 128 --steps 10 --json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib.metadata import version

INSTALL = ("xlb not installed: pip install --no-deps xlb==0.2.0 && "
           "pip install jax warp-lang trimesh numpy-stl pydantic matplotlib pyvista")


def _stepper_run(xlb, backend, size: int, steps: int, sync) -> dict:
    import numpy as np
    from xlb.helper import create_nse_fields, initialize_eq
    from xlb.operator.stepper import IncompressibleNavierStokesStepper

    policy = xlb.PrecisionPolicy.FP32FP32
    vs = xlb.velocity_set.D3Q19(precision_policy=policy, backend=backend)
    try:
        xlb.init(velocity_set=vs, default_backend=backend, default_precision_policy=policy)
    except RuntimeError:  # xlb.init's GPU probe (jax.devices("gpu")) fails with CPU-only JAX, after the config is set
        if xlb.DefaultConfig.default_backend != backend:
            raise
    t0 = time.perf_counter()
    grid, f0, f1, missing_mask, bc_mask = create_nse_fields((size,) * 3)
    f0 = initialize_eq(f0, grid, vs, policy, backend)
    stepper = IncompressibleNavierStokesStepper(1.0 / 0.6, boundary_conditions=[], collision_type="BGK")
    sync(f0)
    t1 = time.perf_counter()
    for t in range(2 + steps):
        if t == 2:
            sync(f0)
            t2, c2 = time.perf_counter(), time.process_time()
        f0, f1 = stepper(f0, f1, bc_mask, missing_mask, t)  # returns (input, output)
        f0, f1 = f1, f0
    sync(f0)
    dt, cpu = time.perf_counter() - t2, time.process_time() - c2
    f = f0.numpy() if hasattr(f0, "numpy") else np.asarray(f0)
    return {"seconds": dt, "steps": steps, "warmup_s": t2 - t1, "setup_s": t1 - t0, "cpu_s": cpu,
            "rho_mean": float(f.sum(0, dtype=np.float64).mean()), "mlups": size ** 3 * steps / dt / 1e6}


def run(size: int, steps: int, threads: int, backends=("warp", "jax")) -> dict:
    # before jax is imported (xlb imports it): CPU only, and XLA's CPU thread pool sized by NPROC
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["NPROC"] = str(threads)
    try:
        import xlb  # imports jax and warp
    except ImportError as e:
        sys.exit(INSTALL if e.name == "xlb" else f"{INSTALL} ({e})")
    import warp as wp

    wp.config.quiet, wp.config.log_level = True, getattr(wp, "LOG_WARNING", 30)  # no init banner on stdout
    for alias, make in (("vec", wp.types.vector), ("mat", wp.types.matrix)):  # dropped by newer Warp, used by XLB 0.2.0
        if not hasattr(wp, alias):
            setattr(wp, alias, make)
    out, detail = {}, {}
    for name in backends:
        try:
            if name == "warp":
                wp.init()
                wp.set_device("cpu")
                r = _stepper_run(xlb, xlb.ComputeBackend.WARP, size, steps, lambda f: wp.synchronize())
                r["threads"] = 1
            else:
                r = _stepper_run(xlb, xlb.ComputeBackend.JAX, size, steps, lambda f: f.block_until_ready())
                r["threads"] = threads
        except Exception as e:  # noqa: BLE001 - one backend failing must not hide the other
            first = (str(e).strip().splitlines() or [""])[0]  # XLB's operator errors carry a whole traceback
            detail[f"xlb_{name}"] = {"error": f"{type(e).__name__}: {first[:300]}"}
            continue
        out[f"xlb_{name}"] = r.pop("mlups")
        detail[f"xlb_{name}"] = r
    return {"size": size, "steps": steps, "threads": threads, "mlups": out, "detail": detail,
            "version": version("xlb")}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    r = run(a.size, a.steps, threads)
    if a.json:
        print(json.dumps(r))
    else:
        for k, v in r["mlups"].items():
            print(f"{k} {a.size}^3 ({r['detail'][k]['threads']} thread(s)): {v:.1f} MLUPS")
        for k, v in r["detail"].items():
            if "error" in v:
                print(f"{k}: {v['error']}")


if __name__ == "__main__":
    main()
