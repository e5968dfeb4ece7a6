# SPDX-License-Identifier: Apache-2.0
"""The `hemotwin` command line: one sub-command per module in hemotwin.commands.

Each module in ``hemotwin/commands`` defines ``register(subparsers)`` that adds its parser and
sets ``func``; the heavy imports happen inside ``func`` so `hemotwin --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hemotwin",
        description="Patient-specific hemodynamics: image -> lumen -> lattice-Boltzmann flow -> device sizing.",
    )
    parser.add_argument("--version", action="version", version=f"hemotwin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        try:
            module = importlib.import_module(f"{commands.__name__}.{info.name}")
        except ImportError as exc:  # one command's missing optional dependency must not hide the rest
            print(f"hemotwin: command {info.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        rc = args.func(args)
    except (CliError, FileNotFoundError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"hemotwin {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        # e.g. an output folder given where a file is: name the path, not a traceback
        print(f"hemotwin {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hemotwin {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    # `python -m hemotwin.cli` runs this file as __main__: call the imported module's main, whose
    # CliError is the class the commands raise (this copy's would not catch it)
    from hemotwin.cli import main as _main

    sys.exit(_main())
