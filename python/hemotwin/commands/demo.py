# SPDX-License-Identifier: Apache-2.0
"""`hemotwin demo [--out DIR]`: the built-in coarctation phantom through the whole chain."""
from __future__ import annotations


def register(sub):
    p = sub.add_parser("demo", help="coarctation phantom -> flow -> stent sizing -> virtual stent -> report")
    p.add_argument("--out", default="hemotwin_demo", help="output folder (default ./hemotwin_demo)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_demo)


def _demo(args):
    import time

    from ..pipeline import demo_case_dict, run_case
    from .run import summary_text

    t0 = time.perf_counter()
    print("hemotwin demo: aortic arch phantom with a 50 % coarctation, coarse steady flow "
          "(about a minute on 2 idle CPU cores)")
    from ..cli import CliError
    from ..pipeline import PipelineError

    try:
        res = run_case(demo_case_dict(), args.out, device=args.device, progress=not args.quiet)
    except PipelineError as e:
        raise CliError(str(e)) from None
    lz = (res.get("lesions") or [None])[0]
    post = ((res.get("post") or {}).get("lesions") or [None])[0]
    print(summary_text(res, args.out))
    if lz and post:
        print(f"pre-stent gradient {lz['gradient_mmhg']:.2f} mmHg -> post-stent "
              f"{post['gradient_mmhg']:.2f} mmHg")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0
