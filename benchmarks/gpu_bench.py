# SPDX-License-Identifier: Apache-2.0
"""GPU benchmark: MLUPS of the CUDA backend on a dense periodic box and a real sparse aorta lattice,
beside the device-to-device copy bandwidth measured in the same run.

Bytes per update: the AA pattern moves 19 populations in and out (2 x 19 x 4 B = 152 B in FP32); odd
steps also read 18 32-bit neighbour addresses (72 B), i.e. +36 B averaged over two steps.
Usage: python benchmarks/gpu_bench.py [--aorta PATH.npz] [--size 256] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hemotwin import _core


def copy_bandwidth_gbps(nbytes: int) -> float:
    """Device-to-device copy, counting bytes read plus written (the METHOD.md convention): the core's
    own cudaMemcpy timing (no torch needed on the GPU image)."""
    try:
        return float(_core.cuda_copy_bandwidth_gbps(nbytes, 20))
    except Exception as exc:  # report nothing rather than a guess
        print("copy bandwidth not measured:", exc)
        return float("nan")


def torch_copy_bandwidth_gbps(nbytes: int) -> float | None:
    """The same copy through torch where it is installed: a cross-check of the core's figure."""
    try:
        import torch

        x = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
        y = torch.empty_like(x)
        for _ in range(3):
            y.copy_(x)
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(20):
            y.copy_(x)
        b.record()
        torch.cuda.synchronize()
        return 2 * x.numel() * 4 * 20 / (a.elapsed_time(b) / 1e3) / 1e9
    except Exception:
        return None


# The published record to compare with on the same card kind (FluidX3D's README, as issue 6 quotes it):
# MLUPS of its D3Q19 dense box, FP32 arithmetic with FP32 / FP16S storage. "fp16" is their FP16S, the
# shifted, scaled binary16 hemotwin's float16 storage also uses.
FLUIDX3D_MLUPS = {"H100": {"fp32": 17602, "fp16": 29561}, "H200": {"fp32": 23056}}


def mlups(lattice, precision: str, steps: int) -> float:
    s = _core.Solver(lattice, "cuda", 0, 0.8, 0.0, 0.0, True, precision, None, 1000000)
    s.step(20)  # warm-up; step() returns after the device finished (flag read)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        s.step(steps)
        dt = time.perf_counter() - t
        best = max(best, lattice.n_cells * steps / dt / 1e6)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--aorta", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--copy-bytes", type=int, default=2 * 1024**3,
                    help="buffer size of the copy-bandwidth measurement (default 2 GiB, past every cache)")
    a = ap.parse_args()
    res = {"device": _core.cuda_device_name(), "copy_gbps": copy_bandwidth_gbps(a.copy_bytes),
           "copy_gbps_torch": torch_copy_bandwidth_gbps(a.copy_bytes)}

    def save():  # after every case: a later failure (memory, a missing file) keeps what was measured
        if a.json:
            with open(a.json, "w", encoding="utf-8") as fh:
                json.dump(res, fh, indent=1)

    save()
    n = a.size
    box = _core.Lattice(np.ones((n, n, n), np.uint8), np.zeros((0, 4)), np.zeros(0), periodic=(True,) * 3)
    res["dense_size"] = n
    res["dense_fp32_mlups"] = mlups(box, "float32", 200)
    save()
    res["dense_fp64_mlups"] = mlups(box, "float64", 100)
    save()
    res["dense_fp16_mlups"] = mlups(box, "float16", 200)  # float16 storage, float32 arithmetic
    save()
    del box
    if a.aorta:
        from hemotwin.lattice import LatticeDomain

        d = LatticeDomain.load_npz(a.aorta)
        # natural order (k fastest), as Simulation builds it; Morton order timed beside it
        lat = _core.Lattice(d.cell_type, d.wall_links, d.wall_q, morton=False)
        res["sparse_cells"] = int(lat.n_cells)
        res["sparse_bbox"] = list(d.cell_type.shape)
        res["sparse_fp32_mlups"] = mlups(lat, "float32", 400)
        save()
        res["sparse_fp16_mlups"] = mlups(lat, "float16", 400)
        save()
        del lat
        lat = _core.Lattice(d.cell_type, d.wall_links, d.wall_q, morton=True)
        res["sparse_fp32_morton_mlups"] = mlups(lat, "float32", 400)
    cases = (("dense_fp32", 4), ("dense_fp64", 8), ("dense_fp16", 2), ("sparse_fp32", 4), ("sparse_fp16", 2))
    for key, bytes_pop in cases:
        if key + "_mlups" not in res:
            continue
        scheme = 2 * 19 * bytes_pop
        implemented = scheme + 36
        bw = res["copy_gbps"]
        res[key + "_roofline_fraction_scheme"] = res[key + "_mlups"] * 1e6 * scheme / (bw * 1e9)
        res[key + "_roofline_fraction_implemented"] = res[key + "_mlups"] * 1e6 * implemented / (bw * 1e9)
    print(json.dumps(res, indent=1))
    print(f"\n{'case':<14}{'MLUPS':>10}{'% of copy BW (76/152/304 B)':>31}{'% incl. addresses':>20}")
    for key, _ in cases:
        if key + "_mlups" in res:
            print(f"{key:<14}{res[key + '_mlups']:>10.0f}{100 * res[key + '_roofline_fraction_scheme']:>30.1f}%"
                  f"{100 * res[key + '_roofline_fraction_implemented']:>19.1f}%")
    print(f"copy bandwidth {res['copy_gbps']:.0f} GB/s on {res['device']}")
    card = next((k for k in FLUIDX3D_MLUPS if k in str(res["device"])), None)
    for tag, theirs in (FLUIDX3D_MLUPS.get(card) or {}).items():
        ours = res.get(f"dense_{tag}_mlups")
        if ours:
            res[f"dense_{tag}_vs_fluidx3d"] = ours / theirs
            print(f"dense {tag} storage: {ours:.0f} MLUPS = {100 * ours / theirs:.0f} % of FluidX3D's published "
                  f"{theirs} on an {card} (same card kind; SXM5 or not: see the device name)")
    save()


if __name__ == "__main__":
    main()
