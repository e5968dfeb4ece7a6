# SPDX-License-Identifier: Apache-2.0
"""`hemotwin credibility CASE.toml`: V&V 40 / FDA 2023-structured credibility report (HTML + JSON)."""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("credibility", help="credibility report of a case (V&V 40 / FDA 2023 structure)")
    p.add_argument("case", help="case TOML")
    p.add_argument("--out", required=True, help="folder; evidence already in OUT/convergence, OUT/validation, "
                                                "OUT/sensitivity is picked up")
    p.add_argument("--convergence", default=None, help="convergence.json (default OUT/convergence/)")
    p.add_argument("--validation", default=None, help="validation.json of the nozzle (default OUT/validation/)")
    p.add_argument("--sensitivity", default=None, help="sensitivity.json (default OUT/sensitivity/)")
    p.add_argument("--verification", default=None, help="cached code-verification JSON")
    p.add_argument("--no-verify", action="store_true", help="do not run the quick code verification")
    p.add_argument("--junit", default=None, help="a pytest JUnit XML for the test record")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..credibility.report import build_report

    r = build_report(args.case, args.out, args.convergence, args.validation, args.sensitivity,
                     args.verification, run_verification=not args.no_verify, junit=args.junit)
    for sec in ("context_of_use", "code_verification", "calculation_verification", "validation", "sensitivity",
                "test_record"):
        print(f"{sec:26s} {r[sec].get('status')}")
    print(f"wrote {args.out}/credibility.html and credibility.json")
    return 0
