# SPDX-License-Identifier: Apache-2.0
"""``--set KEY=VALUE`` case overrides, parsed the same way by every command that takes them.

The value is read as a TOML value, so it means what it would in the case file: ``1.5`` a number,
``false`` a boolean, ``"0.3 s"`` a string, ``{spacing_mm = 1.2}`` an inline table, ``[1, 2, 3]``
an array. A value that is not valid TOML is kept as the text given (``run.max_time=0.3 s``).
"""
from __future__ import annotations

import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["parse_set_items"]

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_set_items(items) -> dict:
    """``["run.max_time=\\"0.3 s\\"", ...]`` -> ``{"run.max_time": "0.3 s", ...}``.

    Raises
    ------
    ValueError
        One line naming the item: no ``=``, or a key that is not a dotted case-file key.

    Examples
    --------
    >>> parse_set_items(['run.max_time="0.3 s"', "devices.deploy=false", "image.phantom_options={seed=1}"])
    {'run.max_time': '0.3 s', 'devices.deploy': False, 'image.phantom_options': {'seed': 1}}
    """
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ValueError(f"--set {it!r}: expected KEY=VALUE, e.g. --set run.max_time=\"0.5 s\"")
        k, v = it.split("=", 1)
        k = k.strip()
        if not _KEY_RE.match(k):
            raise ValueError(f"--set {it!r}: {k!r} is not a case-file key; expected a dotted key "
                             "such as run.max_time or physiology.outlets.ports.outlet_1.model")
        try:
            out[k] = tomllib.loads(f"x = {v}")["x"]
        except tomllib.TOMLDecodeError:
            out[k] = v.strip()
    return out
