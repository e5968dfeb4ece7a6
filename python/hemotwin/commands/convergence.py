# SPDX-License-Identifier: Apache-2.0
"""`hemotwin convergence CASE.toml`: three-spacing calculation verification (GCI) of a case."""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("convergence", help="grid convergence (GCI) of a case at three lattice spacings")
    p.add_argument("case", help="case TOML")
    p.add_argument("--ratio", type=float, default=1.5, help="refinement ratio r (1.3..2)")
    p.add_argument("--cells", type=float, default=None, help="cells across the reference port, finest grid")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="case override for every run, e.g. devices.deploy=false")
    p.add_argument("--reuse", action="store_true", help="reuse OUT/run_<n>/results.json of an earlier call")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..credibility.studies import convergence_study, parse_sets

    r = convergence_study(args.case, args.out, ratio=args.ratio, base_cells=args.cells,
                           overrides=parse_sets(args.set), reuse=args.reuse)
    print(f"{'quantity':50s} {'p':>6s} {'f_ext':>12s} {'GCI_fine':>9s} {'ratio':>6s}  type")
    for name, row in r["table"].items():
        if row.get("qoi") and "p" in row:
            p = row["p"]
            print(f"{name[:50]:50s} {p if p is not None else float('nan'):6.2f} "
                  f"{row['f_ext'] if row['f_ext'] is not None else float('nan'):12.5g} "
                  f"{100 * (row['gci_fine'] or 0):8.2f}% "
                  f"{row['asymptotic_ratio'] if row['asymptotic_ratio'] is not None else float('nan'):6.3f}  "
                  f"{row['convergence']}")
    print(f"wrote {args.out}/convergence.json")
    return 0
