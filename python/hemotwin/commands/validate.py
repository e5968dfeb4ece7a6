# SPDX-License-Identifier: Apache-2.0
"""`hemotwin validate fda-nozzle`: the FDA benchmark nozzle against its PIV data (see docs/validation.md)."""
from __future__ import annotations

import json


def register(sub):
    p = sub.add_parser("validate", help="validation against experimental benchmarks (FDA nozzle)",
                       description="Run a validation benchmark and compare with its experimental data.")
    p.add_argument("benchmark", choices=["fda-nozzle"])
    p.add_argument("--re", type=int, default=500, choices=[500, 2000, 3500, 5000, 6500],
                   help="throat Reynolds number")
    p.add_argument("--orientation", default="sudden-expansion", choices=["sudden-expansion", "conical-diffuser"])
    p.add_argument("--resolution", default="16",
                   help="cells across the 4 mm throat; two or three comma-separated values (e.g. "
                        "12,16,21.3) also give the GCI per station and u_num")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--t-end", type=float, default=None, help="simulated time in s (default 0.6 at Re 500, else 0.5)")
    p.add_argument("--z-outlet", type=float, default=0.11, help="outlet plane in m (data frame)")
    p.add_argument("--les", choices=["auto", "on", "off"], default="auto", help="Smagorinsky LES (auto: on; see docs/validation.md)")
    p.add_argument("--u-lu", type=float, default=0.1, help="lattice speed of the expected peak velocity")
    p.add_argument("--data-root", default=None, help="folder holding fda_nozzle_sudden_expansion/")
    p.add_argument("--no-reuse", action="store_true", help="rerun even if run_N*.json exist in --out")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_run)


def _check_options(args) -> list:
    """Refuse option values that cannot make a run, before any simulation starts; returns the
    resolutions (cells across the throat)."""
    from pathlib import Path

    from ..cli import CliError
    from ..validation.fda_data import ORIENTATION_DIRS, find_files

    try:
        res = [float(v) for v in str(args.resolution).split(",") if v.strip()]
    except ValueError:
        raise CliError(f"--resolution {args.resolution!r}: expected numbers of cells across the "
                       "throat, e.g. 16 or 12,16,21.3") from None
    if len(res) not in (1, 2, 3):
        raise CliError("--resolution takes one, two or three comma-separated values")
    if not all(4.0 <= r <= 200.0 for r in res):
        raise CliError(f"--resolution {args.resolution}: each value must lie in [4, 200] cells "
                       "across the 4 mm throat (fewer cannot resolve the jet)")
    if args.t_end is not None and not args.t_end > 0:
        raise CliError(f"--t-end {args.t_end}: expected a simulated time > 0 s")
    if not 0.0 < args.u_lu <= 0.3:
        raise CliError(f"--u-lu {args.u_lu}: expected a lattice speed in (0, 0.3]")
    if not args.z_outlet > 0:
        raise CliError(f"--z-outlet {args.z_outlet}: expected a positive outlet position in m")
    if args.threads is not None and args.threads < 1:
        raise CliError(f"--threads {args.threads}: expected at least 1")
    if args.data_root is not None:
        root = Path(args.data_root)
        if not root.is_dir():
            raise CliError(f"--data-root {root}: no such folder (it must hold "
                           f"{ORIENTATION_DIRS[args.orientation]}/)")
        if not find_files(args.re, args.orientation, root):
            raise CliError(f"--data-root {root}: no PIV files for Re {args.re} ({args.orientation}) "
                           f"under {root / ORIENTATION_DIRS[args.orientation]}")
    return res


def _run(args) -> int:
    import time

    from ..solver.simulation import resolve_device
    from ..validation.nozzle_validation import validate_fda_nozzle

    resolve_device(args.device)  # a device that cannot run here: one line before any work
    res = _check_options(args)
    les = {"auto": None, "on": True, "off": False}[args.les]
    t0 = time.time()
    last = [0.0]

    def progress(t, t_end, u_axis):
        if time.time() - last[0] > 10:
            last[0] = time.time()
            print(f"  t = {t:.3f} / {t_end:.3f} s, peak centreline {u_axis.max():.3f} m/s "
                  f"({time.time() - t0:.0f} s wall)", flush=True)

    r = validate_fda_nozzle(args.out, re=args.re, orientation=args.orientation, resolutions=res,
                            device=args.device, threads=args.threads, t_end_s=args.t_end,
                            z_outlet_m=args.z_outlet, les=les, u_lu_max=args.u_lu,
                            data_root=args.data_root, reuse=not args.no_reuse, progress=progress)
    print(json.dumps({"checks": r["checks"], "n_within": r["n_within"], "n_compared": r["n_compared"],
                      "global_error_Eg": r["global_error_Eg"]}, indent=1))
    print(f"wrote {args.out}/centerline_velocity.csv, validation.json and plots")
    return 0
