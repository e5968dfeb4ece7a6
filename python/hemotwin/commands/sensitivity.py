# SPDX-License-Identifier: Apache-2.0
"""`hemotwin sensitivity CASE.toml`: normalised sensitivities of the outputs to declared inputs."""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("sensitivity", help="perturb viscosity, inflow, outlet resistance, segmentation threshold")
    p.add_argument("case", help="case TOML")
    p.add_argument("--percent", type=float, default=10.0, help="relative perturbation (+/-)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="case override for every run, e.g. devices.deploy=false")
    p.add_argument("--reuse", action="store_true", help="reuse OUT/<run>/results.json of an earlier call")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..credibility.studies import parse_sets, sensitivity_study

    r = sensitivity_study(args.case, args.out, percent=args.percent, overrides=parse_sets(args.set),
                          reuse=args.reuse)
    for label, row in r["inputs"].items():
        qoi = {k: v for k, v in row["sensitivity"].items() if k in r["qoi"]}
        print(label, {k: round(v, 3) for k, v in list(qoi.items())[:6]})
    for label, why in r["skipped"].items():
        print(f"{label}: skipped ({why})")
    print(f"wrote {args.out}/sensitivity.json")
    return 0
