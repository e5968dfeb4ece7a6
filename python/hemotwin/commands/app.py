# SPDX-License-Identifier: Apache-2.0
"""`hemotwin app`: the planning workstation in the browser (trame + PyVista)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "app", help="serve the planning workstation (browser) for a case or a finished run",
        description="Serve a trame + PyVista web app on 127.0.0.1 (by default). Prints one line "
        "with the URL, which carries a random access token; requests without it get 403.")
    p.add_argument("source", nargs="?", metavar="CASE.toml | RESULTS_DIR",
                   help="a case file (run first, in the background) or a finished run folder")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; another one only if you ask)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for runs started from the app (each Simulate writes a new "
                   "app-sim-NN/ there; default: beside a run folder RUN, in RUN-app/, never "
                   "inside it; for a case file ./hemotwin-out/<case>/)")
    p.add_argument("--case", metavar="CASE.toml",
                   help="with a run folder: the case file it was run from, for Simulate (a run "
                   "folder records its case by hash only)")
    p.set_defaults(func=_main)


def _main(args) -> int:
    import sys

    from pathlib import Path

    if args.source and not Path(args.source).exists():
        raise FileNotFoundError(f"{args.source}: no such case file or run folder")
    if args.case is not None:
        if not (args.source and Path(args.source).is_dir()):
            raise ValueError("--case: only with a finished run folder as the source")
        if not Path(args.case).is_file():
            raise FileNotFoundError(f"--case {args.case}: no such case file")
        _warn_if_other_case(Path(args.source), Path(args.case))
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: allowed 0-65535")
    from ..app.server import serve

    def ready(url):
        print(f"hemotwin app: serving {args.source or '(no case)'} at {url}", flush=True)

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"hemotwin app: warning: listening on {args.host}, reachable from other machines "
              "(the access token still applies)", file=sys.stderr, flush=True)
    serve(args.source, host=args.host, port=args.port, out_dir=args.out, on_ready=ready,
          case_path=args.case)
    return 0


def _warn_if_other_case(run_dir, case_file) -> None:
    """Say so when the run's provenance records another case file (by SHA-256)."""
    import json
    import sys

    from ..report.provenance import file_sha256

    try:
        recorded = json.loads((run_dir / "provenance.json").read_text(encoding="utf-8"))["case_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if recorded and recorded != file_sha256(case_file):
        print(f"hemotwin app: warning: --case {case_file.name} is not the case file this run was "
              "made from (its SHA-256 differs); Simulate runs the given one", file=sys.stderr, flush=True)
