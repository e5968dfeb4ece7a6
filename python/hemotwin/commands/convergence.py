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
    print(table_text(r))
    print(f"wrote {args.out}/convergence.json")
    return 0


def table_text(r: dict) -> str:
    """The quantities of interest of a convergence study: observed p beside the p and safety factor
    Fs the extrapolation f_ext and GCI used (and why), then the unconverged-runs warning if any."""
    from ..credibility.studies import p_choice

    def num(v, fmt):
        return format(v if v is not None else float("nan"), fmt)

    lines = [f"{'quantity':44s} {'p_obs':>6s} {'p_used':>6s} {'Fs':>5s} {'f_ext':>12s} {'GCI_fine':>9s} "
             f"{'ratio':>6s}  type; order used for f_ext and GCI"]
    for name, row in r["table"].items():
        if row.get("qoi") and "p" in row:
            gci = row.get("gci_fine")
            lines.append(f"{name[:44]:44s} {num(row.get('p'), '6.2f')} {num(row.get('p_used'), '6.2f')} "
                         f"{num(row.get('safety_factor'), '5.2f')} {num(row.get('f_ext'), '12.5g')} "
                         f"{'nan' if gci is None else format(100 * gci, '.2f'):>8s}% "
                         f"{num(row.get('asymptotic_ratio'), '6.3f')}  {row.get('convergence')}; "
                         f"{row.get('p_choice') or p_choice(row, r.get('p_theory', 2.0))}")
    if r.get("all_runs_converged") is False:
        lines.append(f"WARNING: {r.get('warning') or 'not every run converged'}")
    return "\n".join(lines)
