# SPDX-License-Identifier: Apache-2.0
"""How coalesced the GPU's odd AA step is on a given lattice, counted without a GPU.

On the odd step each cell reads and writes its 18 moving populations in its neighbours' slots,
f[q * n + nb(c, q)]. A warp of 32 consecutive cells issues one request per population; in FP32 the
ideal is 4 sectors of 32 B (5 when the run is not 8-aligned). This counts, per warp and population,
the distinct sectors those 32 accesses touch, for the natural (k fastest) and the Morton cell order.
It models L1 -> L2 requests, not DRAM bytes (L2 may absorb sectors that neighbouring warps share),
so it says which order is better and by how much the odd step's requests grow, not a bandwidth.
Bytes per update below use the factor on both the read and the write of the 18 populations:
even step 152 B; odd step 8 B (rest) + 144 B x factor + 72 B neighbour addresses.

It models an address table read per lane, as the kernel was until 2026-12-07; the kernel now reads
one base per warp where the warp's neighbours are contiguous, and one 16-byte GroupRuns where they
are two runs plus bounce-backs (kernels/aa_step.hpp odd_slot); the shares of both are printed. The CUDA emulation's memory checker
counts the real kernels' own sectors (cuda/emulation/memcheck_cases.py, benchmarks/RESULTS.md); this
is the quick estimate that needs no emulated build.

Usage: python benchmarks/gpu_sector_model.py .devicedata/aorta_domain.npz [--json]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from hemotwin import _core
from hemotwin.lattice import C

WARP = 32
VALUES_PER_SECTOR = 8  # 32 B sectors of FP32 values


def _fluid_runs(offset: np.ndarray) -> np.ndarray:
    """Per warp: how many runs of lanes its fluid neighbours form (a run: consecutive lanes, bounced
    lanes skipped, with one slot - cell offset), as core/warp_slots.hpp counts them."""
    bounced = offset == np.iinfo(np.int64).min
    runs = np.zeros(len(offset), np.int64)
    prev = np.full(len(offset), np.iinfo(np.int64).min)
    for lane in range(offset.shape[1]):
        new = ~bounced[:, lane] & (offset[:, lane] != prev)
        runs += new
        prev = np.where(bounced[:, lane], prev, offset[:, lane])
    return runs


def odd_step_sector_factor(cell_type: np.ndarray, wall_links, wall_q, morton: bool) -> dict:
    lat = _core.Lattice(cell_type, wall_links, wall_q, morton=morton)
    ijk = lat.cell_ijk().astype(np.int64)
    n = len(ijk)
    index = -np.ones(cell_type.shape, np.int64)
    index[tuple(ijk.T)] = np.arange(n)
    warps = n // WARP
    upper = np.array(cell_type.shape) - 1
    sectors = 0
    one_base = 0  # (warp, direction) pairs whose 32 slots are base + c: the kernel reads one base
    two_runs = 0  # the others whose fluid neighbours are two runs of lanes (bounce-backs aside): GroupRuns
    for q in range(1, 19):
        src = ijk - C[q]
        inside = np.all((src >= 0) & (src <= upper), axis=1)
        nb = np.where(inside, index[tuple(np.clip(src, 0, upper).T)], -1)
        # slot minus cell, per row: a neighbour's in row q, a bounce-back's (all the same) in row opp(q)
        offset = np.where(nb >= 0, nb - np.arange(n), np.iinfo(np.int64).min)[: warps * WARP].reshape(warps, WARP)
        same = (offset == offset[:, :1]).all(axis=1)
        one_base += int(same.sum())
        two_runs += int((~same & (_fluid_runs(offset) <= 2)).sum())
        nb = np.where(nb < 0, np.arange(n), nb)  # a wall: bounce-back stays in the cell's own slot
        sec = np.sort((nb[: warps * WARP] // VALUES_PER_SECTOR).reshape(warps, WARP), axis=1)
        sectors += int((1 + (np.diff(sec, axis=1) != 0).sum(axis=1)).sum())
    factor = sectors / (warps * 18 * WARP // VALUES_PER_SECTOR)
    odd_bytes = 8 + 144 * factor + 72
    return {"cells": n, "sectors_per_warp_population": sectors / (warps * 18), "odd_step_factor": factor,
            "warp_direction_pairs_with_one_base": one_base / (warps * 18),
            "warp_direction_pairs_with_two_runs": two_runs / (warps * 18),
            "modelled_bytes_per_update": (152 + odd_bytes) / 2}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("domain", help="a LatticeDomain .npz (benchmarks/make_device_inputs.py writes them)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    d = np.load(a.domain)
    res = {order: odd_step_sector_factor(d["cell_type"], d["wall_links"], d["wall_q"], order == "morton")
           for order in ("natural", "morton")}
    if a.json:
        print(json.dumps(res, indent=1))
        return
    for order, r in res.items():
        print(f"{order:<8} {r['cells']} cells: {r['sectors_per_warp_population']:.2f} sectors per warp and population "
              f"(ideal 4), odd-step requests x{r['odd_step_factor']:.2f}, modelled {r['modelled_bytes_per_update']:.0f} B/update "
              f"(addresses read per lane); one base serves {r['warp_direction_pairs_with_one_base']:.1%} of the "
              f"warp-direction pairs, two runs {r['warp_direction_pairs_with_two_runs']:.1%}")


if __name__ == "__main__":
    main()
