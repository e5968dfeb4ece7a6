# SPDX-License-Identifier: Apache-2.0
"""`hemotwin run CASE.toml --out DIR [--resume] [--device auto|cpu|cuda] [--set key=value ...] [--strict]`."""
from __future__ import annotations

import sys


# `--strict` only: results written, but a flow run ended before its convergence test passed
EXIT_NOT_CONVERGED = 3


def register(sub):
    p = sub.add_parser(
        "run", help="run a case file end to end (flow, sizing, virtual stent, report)",
        epilog="exit status: 0 results written (results.json 'status' says ok or not_converged); "
               f"2 bad input or a diverged run, one line on stderr; {EXIT_NOT_CONVERGED} results written "
               "but a flow run did not pass its steadiness/periodicity test, with --strict only; "
               "130 interrupted")
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("--out", required=True, help="output folder (created; foreign files are never overwritten)")
    p.add_argument("--resume", action="store_true", help="continue interrupted flow runs from checkpoints")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--image", help="image path, overriding image.path of the case (a surface file "
                   "- .vtp .vtk .stl .ply .obj - overrides image.surface)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help='override a case setting, e.g. --set run.max_time="0.5 s"')
    p.add_argument("--no-cache", action="store_true", help="recompute every stage")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--strict", action="store_true",
                   help=f"exit with status {EXIT_NOT_CONVERGED} when the results are written but a flow "
                   "run did not converge (status not_converged), so batch scripts notice")
    p.set_defaults(func=_run)


def _run(args):
    from pathlib import Path

    from ..config.overrides import parse_set_items  # shared with convergence and sensitivity
    from ..pipeline import run_case

    overrides = parse_set_items(args.set)
    if args.image:
        from ..geometry.surface_input import SURFACE_SUFFIXES
        from ..imaging.io import is_image_file

        # one anatomy source per case: the given file replaces whichever the case names
        surface = Path(args.image).suffix.lower() in SURFACE_SUFFIXES and not is_image_file(args.image)
        key = "surface" if surface else "path"
        for k in ("path", "surface", "phantom"):
            overrides[f"image.{k}"] = None
        overrides[f"image.{key}"] = str(Path(args.image).resolve())
    from ..cli import CliError
    from ..pipeline import PipelineError
    from ..solver.simulation import SimulationDiverged

    try:
        res = run_case(args.case, args.out, resume=args.resume, device=args.device,
                       overrides=overrides or None, progress=not args.quiet,
                       use_cache=not args.no_cache)
    except (PipelineError, SimulationDiverged) as e:
        raise CliError(str(e)) from None
    print(summary_text(res, args.out))
    if args.resume and not _checkpoints_written(args.out):
        print("note: --resume had nothing to resume from: this case writes no checkpoints "
              "(run.checkpoint_interval = 0), so its flow ran from the start", file=sys.stderr)
    return EXIT_NOT_CONVERGED if args.strict and res.get("status") == "not_converged" else 0


def _checkpoints_written(out_dir) -> bool:
    import json
    from pathlib import Path

    try:
        prov = json.loads((Path(out_dir) / "provenance.json").read_text(encoding="utf-8"))
        return bool(prov["resolved_parameters"]["run"]["checkpoint_interval"])
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unknown: say nothing


def summary_text(res, out_dir) -> str:
    from pathlib import Path

    def f(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    lines = [f"case {res['case']}: status {res['status']}, run time {f(res.get('run_time_s'), '.0f')} s"]
    if not res.get("lesions"):
        lines.append("no lesion detected")
    for i, lz in enumerate(res.get("lesions") or []):
        post = ((res.get("post") or {}).get("lesions") or [])
        pg = f", after virtual stent {f(post[i]['gradient_mmhg'], '.1f')} mmHg" if i < len(post) else ""
        where = (f" ({'ostial, ' if lz.get('ostial') else ''}path to {lz['path_port']})"
                 if lz.get("path_port") else "")
        # a pulsatile run's peak-to-peak gradient is the coarctation's intervention measure
        p2p = (f", peak-to-peak {f(lz.get('gradient_peak_to_peak_mmhg'), '.1f')} mmHg"
               if (res.get("run") or {}).get("mode") == "pulsatile" else "")
        lines.append(f"lesion {i + 1}{where}: {f(lz['percent_diameter_stenosis'], '.0f')} %DS, MLD "
                     f"{f(lz['mld_mm'], '.1f')} mm, mean gradient {f(lz['gradient_mmhg'], '.1f')} "
                     f"mmHg{p2p}{pg}, Pd/Pa {f(lz['pd_pa'], '.2f')}")
    dev = res.get("device")
    if dev:
        lines.append(f"device: {dev['family']} {dev['diameter_mm']:g} x {dev['length_mm']:g} mm")
    lines.extend(f"warning: {w}" for w in res.get("warnings") or [])
    c = res.get("conservation") or {}
    if c:
        mi = c.get("mass_imbalance")
        lines.append("mass imbalance (|Q_in - sum Q_out| / Q_in): "
                     + ("n/a" if mi is None else f"{100 * mi:.2f} %"))
    rep = (res.get("files") or {}).get("report")
    out = Path(out_dir).resolve()
    lines.append(f"report: {out / rep if rep else 'not written'}")
    lines.append(f"results: {out / 'results.json'}")
    return "\n".join(lines)
