# SPDX-License-Identifier: Apache-2.0
"""lbmpy (generated C, OpenMP) on a periodic D3Q19 BGK float32 box: a peer for `hemotwin bench`.

lbmpy is GPL-licensed: it is only ever imported here, in a separate process, when the user has
installed it (the optional `bench` extra); the hemotwin package never imports it.
Two kernels, each timed as a full step (kernel + periodic ghost-layer exchange):
  lbmpy_twobuffer  pull streaming into a second field, swap
  lbmpy_aa         AA-pattern in-place streaming (even and odd kernels alternate)
The box is the periodic ``--size`` cube (default 128^3) or, with ``--shape NX NY NZ``, a periodic
box of that shape (e.g. a vascular lattice's bounding box); ``--kernels`` picks a subset of
twobuffer,aa. MLUPS counts every cell of the box: cells * steps / seconds.
Run: OMP_NUM_THREADS=2 python benchmarks/peers/lbmpy_peer.py --size 128 --steps 20 --json
     OMP_NUM_THREADS=2 python benchmarks/peers/lbmpy_peer.py --shape 130 238 458 --kernels aa --steps 6 --json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

KERNELS = ("twobuffer", "aa")
VECTORIZE = True


def _config(ps, threads):
    # -march=native and, when pystencils manages it, explicit SIMD: lbmpy at its best on this CPU
    target = getattr(ps.Target, "CurrentCPU", ps.Target.CPU)
    cfg = ps.CreateKernelConfig(target=target, default_dtype="float32")
    cfg.cpu.openmp.enable = True
    cfg.cpu.openmp.num_threads = threads
    if VECTORIZE and target != ps.Target.CPU:
        cfg.cpu.vectorize.enable = True
        cfg.cpu.vectorize.assume_inner_stride_one = True
    return cfg


def _compile(create, ps):
    """create() with explicit SIMD, or without it when pystencils refuses this kernel."""
    global VECTORIZE
    try:
        return create()
    except Exception:  # noqa: BLE001 - any code-generation refusal: retry scalar (auto-vectorized)
        if not VECTORIZE:
            raise
        VECTORIZE = False
        return create()


def run(shape: tuple, steps: int, threads: int, kernels=KERNELS, min_time_s: float = 0.0) -> dict:
    """MLUPS of each of ``kernels`` on a periodic box of ``shape`` cells.

    ``steps`` steps are timed; with ``min_time_s`` > 0 the timing goes on, in chunks that double while
    they are short, until at least that long has passed: the protocol hemotwin's own timing follows,
    so both sides of a comparison are timed over windows of the same length (on a shared host a
    shorter window is more likely to catch a quiet moment, and its best-of-N is higher).
    """
    import pystencils as ps
    from lbmpy import LBMConfig, LBMOptimisation, Method, Stencil, LBStencil, create_lb_function
    from lbmpy.advanced_streaming import LBMPeriodicityHandling, Timestep
    from lbmpy.macroscopic_value_kernels import pdf_initialization_assignments

    stencil = LBStencil(Stencil.D3Q19)
    cells = math.prod(shape)
    omega = 1.0 / 0.6
    out, detail = {}, {}
    for kind in kernels:
        dh = ps.create_data_handling(tuple(shape), periodicity=True, default_target=ps.Target.CPU)
        src = dh.add_array("src", values_per_cell=19, dtype="float32", layout="fzyx")
        dh.fill("src", 0.0, ghost_layers=True)
        t_gen = time.perf_counter()
        if kind == "twobuffer":
            dst = dh.add_array_like("dst", "src")
            lbm = LBMConfig(stencil=stencil, method=Method.SRT, relaxation_rate=omega, streaming_pattern="pull")
            opt = LBMOptimisation(symbolic_field=src, symbolic_temporary_field=dst)
            kernels_t = [_compile(lambda: create_lb_function(lbm_config=lbm, lbm_optimisation=opt,
                                                            config=_config(ps, threads)), ps)]
            pattern = "pull"
        else:
            kernels_t = []
            for ts in (Timestep.EVEN, Timestep.ODD):
                lbm = LBMConfig(stencil=stencil, method=Method.SRT, relaxation_rate=omega,
                                streaming_pattern="aa", timestep=ts)
                opt = LBMOptimisation(symbolic_field=src)
                kernels_t.append(_compile(lambda: create_lb_function(lbm_config=lbm, lbm_optimisation=opt,
                                                                     config=_config(ps, threads)), ps))
            pattern = "aa"
        t_gen = time.perf_counter() - t_gen
        # start at rest with density 1 (equilibrium)
        init = pdf_initialization_assignments(kernels_t[0].method, 1.0, (0.0, 0.0, 0.0), src.center_vector)
        init_cfg = ps.CreateKernelConfig(target=ps.Target.CPU, default_dtype="float32")
        init_k = ps.create_kernel(init, config=init_cfg).compile()
        dh.run_kernel(init_k)
        if pattern == "aa":
            comm = {ts: LBMPeriodicityHandling(stencil, dh, "src", streaming_pattern="aa")
                    for ts in (Timestep.EVEN, Timestep.ODD)}

        def step(t):
            ts = Timestep.EVEN if t % 2 == 0 else Timestep.ODD
            dh.run_kernel(kernels_t[t % 2])
            comm[ts](ts)

        if pattern == "pull":
            sync = dh.synchronization_function(["src"])

            def step(t):  # noqa: F811 - two buffers: periodic exchange, kernel, swap
                sync()
                dh.run_kernel(kernels_t[0])
                dh.swap("src", "dst")
        step(0)
        step(1)
        done, dt, chunk = 0, 0.0, steps
        while done == 0 or dt < min_time_s:
            t0 = time.perf_counter()
            for t in range(done, done + chunk):
                step(t)
            lap = time.perf_counter() - t0
            dt += lap
            done += chunk
            if lap < 0.25 * min_time_s:
                chunk *= 2
        key = f"lbmpy_{kind}"
        out[key] = cells * done / dt / 1e6
        detail[key] = {"seconds": dt, "steps": done, "codegen_s": t_gen, "simd": VECTORIZE}
    import lbmpy

    size = shape[0] if len(set(shape)) == 1 else None  # the cube's edge, as before; None for a box
    # "steps" is the requested first chunk; with min_time_s the steps actually timed are each kernel's
    # detail[...]["steps"] (what the MLUPS figures are computed from).
    return {"size": size, "shape": list(shape), "steps": steps, "min_time_s": min_time_s, "threads": threads,
            "mlups": out, "detail": detail, "version": getattr(lbmpy, "__version__", "unknown")}


def parse_kernels(text: str) -> tuple:
    """``--kernels`` "twobuffer,aa" -> ("twobuffer", "aa"), each one of KERNELS."""
    kernels = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kernels if k not in KERNELS]
    if unknown or not kernels:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(KERNELS)}, got {text!r}")
    return tuple(dict.fromkeys(kernels))  # drop repeats, keep order


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128, help="edge of the periodic cube (default 128)")
    ap.add_argument("--shape", type=int, nargs=3, metavar=("NX", "NY", "NZ"),
                    help="a periodic box of this shape instead of the --size cube")
    ap.add_argument("--kernels", type=parse_kernels, default=KERNELS,
                    help=f"comma-separated subset of {','.join(KERNELS)} (default both)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--min-time", type=float, default=0.0, metavar="SECONDS",
                    help="time at least this long (more steps, in doubling even chunks); default: --steps once")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    shape = tuple(a.shape) if a.shape else (a.size,) * 3
    if min(shape) < 1:
        ap.error(f"box edges must be positive, got {'x'.join(map(str, shape))}")
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    if a.steps < 2 or a.steps % 2:
        ap.error(f"--steps must be a positive even number (the AA pattern alternates two kernels), got {a.steps}")
    r = run(shape, a.steps, threads, a.kernels, a.min_time)
    if a.json:
        print(json.dumps(r))
    else:
        for k, v in r["mlups"].items():
            print(f"{k} {'x'.join(map(str, shape))} ({threads} threads): {v:.1f} MLUPS")


if __name__ == "__main__":
    main()
