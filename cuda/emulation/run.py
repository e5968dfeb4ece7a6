# SPDX-License-Identifier: Apache-2.0
"""Run Python against the emulated build in $HEMOTWIN_EMULATION_PACKAGE, not the installed hemotwin.

Usage: python run.py -m MODULE [ARGS]   or   python run.py SCRIPT.py [ARGS]

An editable install puts its own import hook ahead of sys.path; it is taken out for this process, so
`import hemotwin` finds the package folder that cuda_emulation_check.sh staged with the emulated core.
"""
import os
import runpy
import sys

package_root = os.environ["HEMOTWIN_EMULATION_PACKAGE"]
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ScikitBuildRedirectingFinder"]
sys.path.insert(0, package_root)

import hemotwin  # noqa: E402

if not hemotwin.build_info().get("cuda_emulated"):
    sys.exit(f"{hemotwin.__file__} is not the emulated build (build_info: {hemotwin.build_info()})")
args = sys.argv[1:]
if len(args) >= 2 and args[0] == "-m":
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
elif args:
    sys.argv = args
    sys.path.insert(1, os.path.dirname(os.path.abspath(args[0])))  # as `python SCRIPT` would
    runpy.run_path(args[0], run_name="__main__")
else:
    sys.exit(__doc__)
