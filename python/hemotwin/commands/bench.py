# SPDX-License-Identifier: Apache-2.0
"""`hemotwin bench`: MLUPS of the core beside the measured memory bandwidth and peer codes."""
from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="measure solver MLUPS against memory bandwidth (roofline) and peers",
        description="In one run: STREAM triad bandwidth, then MLUPS of a dense periodic box and a "
                    "sparse vascular lattice (fp32/fp64, 1 and all threads), the in-place roofline "
                    "fraction, and peer codes on the same box where installed.")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--size", type=int, default=128, help="edge of the dense periodic box (default 128)")
    p.add_argument("--quick", action="store_true",
                   help="short timings, no 256^3 box, aorta at 1.5 mm, numpy peer only")
    p.add_argument("--threads", type=int, default=None, help="threads for the all-threads figures")
    p.add_argument("--sparse-spacing-mm", type=float, default=None,
                   help="spacing of the vascular lattice (default 0.5 mm, 1.5 with --quick)")
    p.add_argument("--peers", default=None,
                   help="comma-separated peers to run: numpy,lbmpy,xlb ('' for none; default all, numpy with --quick)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..bench import format_table, run_bench

    if args.size < 4:
        raise ValueError(f"--size {args.size} is too small: the box needs at least 4 cells per edge")
    peers = None if args.peers is None else tuple(s for s in args.peers.split(",") if s.strip())
    log = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    res = run_bench(size=args.size, quick=args.quick, threads=args.threads,
                    sparse_spacing_mm=args.sparse_spacing_mm, peers=peers, log=log)
    if args.json:
        print(json.dumps(res))
    else:
        print(format_table(res))
    return 0
