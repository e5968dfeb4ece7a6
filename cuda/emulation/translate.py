# SPDX-License-Identifier: Apache-2.0
"""Turn a .cu file into C++ for the CUDA emulation (HEMOTWIN_CUDA=EMULATE).

The only CUDA syntax plain C++ cannot take is the launch, ``kernel<T...><<<grid, block>>>(args)``; it
becomes ``::hemotwin_emu::launch(kernel<T...>, "kernel<T...>", grid, block)(args)`` on the same line,
so compiler messages keep the .cu file's line numbers. Everything else (``__global__``,
``__shared__``, the runtime API) is cuda_runtime.h's business.

Usage: python translate.py input.cu output.cpp
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

# a kernel name with optional template arguments (no nested <>), then <<<config>>>(
LAUNCH = re.compile(r"\b([A-Za-z_]\w*(?:<[^<>;(){}]*>)?)\s*<<<(.*?)>>>\s*\(")


def translate(source: str, name: str) -> str:
    def launch(m: re.Match) -> str:
        kernel, config = m.group(1), m.group(2)
        return f'::hemotwin_emu::launch({kernel}, "{kernel}", {config})('

    out, n = LAUNCH.subn(launch, source)
    leftover = out.count("<<<")
    if leftover:
        raise SystemExit(f"{name}: {leftover} kernel launch(es) translate.py could not parse "
                         "(expected kernel<T...><<<grid, block>>>(args) on one line)")
    if not n:
        print(f"translate.py: no kernel launches in {name}", file=sys.stderr)
    return f'#line 1 "{name}"\n{out}'


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    src, dst = Path(argv[1]), Path(argv[2])
    text = translate(src.read_text(), src.as_posix())
    dst.parent.mkdir(parents=True, exist_ok=True)
    # rewrite only on change, so a configure does not force a rebuild
    if not dst.exists() or dst.read_text() != text:
        dst.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
