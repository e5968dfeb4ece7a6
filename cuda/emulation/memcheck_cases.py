# SPDX-License-Identifier: Apache-2.0
"""Every kernel of the CUDA backend under the emulation's memory checker, then how coalesced they are.

Run against the emulated build with the checker on (benchmarks/cuda_emulation_check.sh does):

    HEMOTWIN_EMULATION_CHECK=1 HEMOTWIN_EMULATION_PACKAGE=/tmp/hemotwin-emulation-build/package \\
        python cuda/emulation/run.py cuda/emulation/memcheck_cases.py [--domain demo_domain.npz] [--json OUT]

1. Cases: a few steps each of small simulations on device="cuda" that between them launch every
   kernel and template variant (FP32/FP64, TRT/BGK/regularized, LES, Carreau-Yasuda, Bouzidi and
   half-way walls, velocity and pressure ports, a per-step inlet, field output, save and restore, a
   diverging cell). A data race, an index past an allocation or a read of memory nothing wrote fails
   the launch, and the case stops with the kernel, the .cu line and the threads involved.
On a real GPU (no emulated build) it runs the cases alone, for NVIDIA's compute-sanitizer to watch
(benchmarks/gpu_check.sh: `compute-sanitizer --tool memcheck python cuda/emulation/memcheck_cases.py`).

2. Coalescing: one even and one odd step of FP32 on a sparse lattice (the given domain, else a tube)
   in natural and Morton cell order. Per kernel: the 32-byte sectors each warp-wide access touches
   and the bytes per cell update that makes, from the real kernels' own addresses, beside
   benchmarks/gpu_sector_model.py's estimate of the odd step.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

import hemotwin
from hemotwin import _core
from hemotwin.geometry.voxelize import tube_domain
from hemotwin.solver import Numerics, Simulation
from hemotwin.solver.simulation import POPULATION_BYTES, CarreauYasuda, SimulationDiverged

IDEAL_FP32_BYTES = 152  # 19 populations read and written, 4 B each: the AA scheme's minimum


EMULATED = bool(hemotwin.build_info().get("cuda_emulated"))


def report(reset=True) -> dict:
    """The emulation's memory checker counts (on a real GPU: none, compute-sanitizer watches instead)."""
    if not EMULATED:
        return {"errors": 0, "kernels": {}}
    return json.loads(_core.emulation_memcheck_report(reset))


def tube(precision="float32", collision="auto", wall="bouzidi", les=False, carreau=None, tau=0.7):
    d = tube_domain(radius_m=1e-3, length_m=2e-3, dx_m=1e-4, offset_cells=(0.37, 0.61))
    s = Simulation(d, u_max_m_s=0.05, numerics=Numerics(precision=precision, collision=collision, wall=wall,
                                                       les=les, tau=tau), carreau_yasuda=carreau, device="cuda")
    s.set_inlet_flow("inlet", 4e-8)
    s.set_outlet_pressure("outlet", 0.0)
    return s


def exercise(sim: Simulation, steps=4) -> None:
    sim.step(steps)  # even and odd steps, boundaries, port fluxes
    f = sim.fields()
    sim.port_pressures_pa()
    sim.port_flows_m3_s()
    state = sim.state()
    sim.restore(state)
    sim.step(1)
    assert all(np.isfinite(v).all() for v in f.values()), "non-finite fields"


def per_step_inlet(sim: Simulation, steps=4) -> None:
    inward = -np.asarray(sim.domain.port_normals[sim.domain.port_names.index("inlet")], float)
    n = len(sim.port_cell_centers_m("inlet"))
    for k in range(steps):
        sim.set_inlet_velocity("inlet", np.outer(np.full(n, 0.01 * (1 + math.sin(k))), inward))
        sim.step(1)
        sim.port_pressures_pa()  # what the 0D outlet coupling asks every coupling step


def diverging_cell(sim: Simulation) -> None:
    """NaN in a few cells: many threads raise the divergence flag in one launch (an atomic, not a race)."""
    sim.step(2)
    state = sim.state()
    pops = np.array(state["populations"], float).reshape(19, -1)
    pops[:, : 40] = np.nan
    sim.restore({**state, "populations": pops.reshape(state["populations"].shape)})
    try:
        sim.step(64)
    except SimulationDiverged:
        return
    raise AssertionError("NaN populations were not reported as a divergence")


CASES = {
    "fp32 TRT, Bouzidi walls, flow inlet, pressure outlet": lambda: exercise(tube()),
    "fp64 BGK, half-way walls": lambda: exercise(tube("float64", "bgk", "halfway")),
    "fp32 regularized BGK with LES": lambda: exercise(tube(collision="regularized", les=True, tau=0.52)),
    "fp64 Carreau-Yasuda blood with LES": lambda: exercise(tube("float64", les=True, carreau=CarreauYasuda())),
    "fp32 Carreau-Yasuda blood": lambda: exercise(tube(carreau=CarreauYasuda())),
    "fp32 new inlet velocities every step": lambda: per_step_inlet(tube()),
    "fp32 diverging cells": lambda: diverging_cell(tube()),
    # 16-bit storage: the boundary pass splits port cells (decoded) from wall-only cells (raw numbers)
    "float16 storage TRT, Bouzidi walls, flow inlet, pressure outlet": lambda: exercise(tube("float16")),
    "bfloat16 storage with LES": lambda: exercise(tube("bfloat16", les=True, tau=0.52)),
}


def run_cases() -> list[dict]:
    out = []
    for name, case in CASES.items():
        try:
            case()
            err = None
        except Exception as exc:  # the checker's finding (or any failure): reported, then the next case
            err = f"{type(exc).__name__}: {exc}"
        r = report()
        out.append({"case": name, "ok": err is None and r["errors"] == 0, "error": err,
                    "kernels": sorted(r["kernels"])})
        print(f"{'ok  ' if out[-1]['ok'] else 'FAIL'} {name}" + (f": {len(r['kernels'])} kernels" if EMULATED else "")
              + (f"\n     {err}" if err else ""), flush=True)
    return out


def step_traffic(solver, n_cells: int) -> dict:
    """Per kernel of one step: sectors per warp request and bytes per cell update: requested; as 32-byte
    sectors leaving L1 per request; the same with L1 keeping what a block's warps share; and the
    distinct sectors DRAM must move at least."""
    report()
    solver.step(1)
    r = report()
    assert r["errors"] == 0, r
    rows = {}
    for name, c in r["kernels"].items():
        reqs = c["load_requests"] + c["store_requests"]
        rows[name] = {
            "sectors_per_request": (c["load_sectors"] + c["store_sectors"]) / reqs if reqs else 0.0,
            "requested_bytes_per_update": (c["load_bytes"] + c["store_bytes"]) / n_cells,
            "sector_bytes_per_update": 32 * (c["load_sectors"] + c["store_sectors"]) / n_cells,
            # the same where L1 keeps the sectors a block's warps share (loads; stores write through)
            "l1_block_sector_bytes_per_update": 32 * (c["block_load_sectors"] + c["store_sectors"]) / n_cells,
            "dram_floor_bytes_per_update": 32 * (c["footprint_read_sectors"] + c["footprint_write_sectors"]) / n_cells,
            # "#k (size bytes)": the k-th cudaMalloc of the run (its size tells which array it is)
            "sector_bytes_by_allocation": {a: 32 * v / n_cells for a, v in c["sectors_by_allocation"].items()},
        }
    rows["all kernels"] = {k: sum(v[k] for v in rows.values()) for k in next(iter(rows.values()))
                           if k not in ("sectors_per_request", "sector_bytes_by_allocation")}
    return rows


def coalescing(domain_path: str | None, precision: str = "float32") -> dict:
    if domain_path:
        from hemotwin.lattice import LatticeDomain

        d = LatticeDomain.load_npz(domain_path)
        cell_type, links, q, label = d.cell_type, d.wall_links, d.wall_q, Path(domain_path).name
    else:
        d = tube_domain(radius_m=1.5e-3, length_m=6e-3, dx_m=1e-4)
        cell_type, links, q, label = d.cell_type, d.wall_links, d.wall_q, "tube r 1.5 mm at 0.1 mm"
    res = {"lattice": label, "precision": precision}
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from gpu_sector_model import odd_step_sector_factor

    for order in ("natural", "morton"):
        lat = _core.Lattice(cell_type, links, q, morton=order == "morton")
        solver = _core.Solver(lat, "cuda", 0, 0.8, 0.0, 0.0, True, precision, None, 1000000)
        even = step_traffic(solver, lat.n_cells)
        odd = step_traffic(solver, lat.n_cells)
        model = odd_step_sector_factor(cell_type, links, q, order == "morton")
        res[order] = {"cells": int(lat.n_cells), "even": even, "odd": odd,
                      "model_odd_stream_collide_bytes": 8 + 144 * model["odd_step_factor"] + 72}
    return res


def print_coalescing(res: dict) -> None:
    ideal = IDEAL_FP32_BYTES * POPULATION_BYTES[res["precision"]] // 4
    print(f"\ncoalescing on {res['lattice']} ({res['precision']} storage; bytes per cell update; ideal {ideal} B "
          "per step for the stream-collide kernel; the address model assumes FP32):")
    print(f"{'order':<8}{'step':<6}{'kernel':<48}{'sect/req':>9}{'requested':>11}{'sectors':>9}"
          f"{'L1 per block':>13}{'DRAM floor':>11}")
    for order in ("natural", "morton"):
        for step in ("even", "odd"):
            for name, row in res[order][step].items():
                spr = f"{row['sectors_per_request']:.2f}" if "sectors_per_request" in row else ""
                print(f"{order:<8}{step:<6}{name[:47]:<48}{spr:>9}{row['requested_bytes_per_update']:>11.1f}"
                      f"{row['sector_bytes_per_update']:>9.1f}{row['l1_block_sector_bytes_per_update']:>13.1f}"
                      f"{row['dram_floor_bytes_per_update']:>11.1f}")
        print(f"{order:<8}odd   gpu_sector_model.py (an address per lane){'':>25}"
              f"{res[order]['model_odd_stream_collide_bytes']:>9.1f}")
    print("\nnatural order, odd step: sector bytes per update by device allocation (cudaMalloc number and size)")
    for name, row in res["natural"]["odd"].items():
        parts = sorted(row.get("sector_bytes_by_allocation", {}).items(), key=lambda kv: -kv[1])
        if parts:
            print(f"  {name[:47]:<48}" + ", ".join(f"{a}: {b:.1f}" for a, b in parts[:6]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", help="a LatticeDomain .npz for the coalescing counts (default: a tube)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--skip-cases", action="store_true", help="only the coalescing counts")
    ap.add_argument("--precision", default="float32", choices=sorted(POPULATION_BYTES),
                    help="population storage of the coalescing counts")
    a = ap.parse_args()
    if not EMULATED:
        if not hemotwin.cuda_available():
            print("needs a usable CUDA GPU, or the emulated build (cuda/emulation/run.py)", file=sys.stderr)
            return 2
        out = {"cases": run_cases()}  # for compute-sanitizer: the cases only
    elif os.environ.get("HEMOTWIN_EMULATION_CHECK", "0") in ("", "0"):
        print("the emulated build checks memory only with HEMOTWIN_EMULATION_CHECK=1", file=sys.stderr)
        return 2
    else:
        out = {"cases": [] if a.skip_cases else run_cases()}
        out["coalescing"] = coalescing(a.domain, a.precision)
        print_coalescing(out["coalescing"])
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    failed = [c["case"] for c in out["cases"] if not c["ok"]]
    print(f"\nmemory check: {len(out['cases']) - len(failed)} of {len(out['cases'])} cases clean"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
