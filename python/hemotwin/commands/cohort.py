# SPDX-License-Identifier: Apache-2.0
"""`hemotwin cohort`: run many cases on Dask and write summary.csv / summary.parquet."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "cohort",
        help="run many cases on Dask (local cluster or a scheduler) and write a summary table",
        description="Run cases through the pipeline in parallel. Each case writes into "
        "OUT/cases/<name>/; completed cases are skipped on a re-run; a failing case becomes an "
        "error row. Writes OUT/summary.csv (columns case, status, gradient_mmhg, error, ...) and "
        "OUT/summary.parquet. Exit status 1 when any case failed.",
    )
    p.add_argument("cases", nargs="+", metavar="CASE.toml", help="case files")
    p.add_argument("--out", required=True, metavar="DIR", help="cohort output folder")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="existing dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 "
                        "(default: an embedded LocalCluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per core); each case "
                        "gets cores // N OpenMP threads")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_main)


def _main(args) -> int:
    from ..cohort import run_cohort

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler and args.workers is not None:
        raise ValueError("--workers applies to the local cluster only; not with --scheduler")
    df = run_cohort(args.cases, args.out, workers=args.workers, scheduler=args.scheduler,
                    progress=not args.quiet)
    bad = df[df["status"] != "ok"]
    for _, row in bad.iterrows():
        print(f"hemotwin cohort: {row['case']}: {row['error']}")
    print(f"{len(df) - len(bad)}/{len(df)} cases ok; summary: {args.out}/summary.csv")
    return 1 if len(bad) else 0
