# SPDX-License-Identifier: Apache-2.0
"""Parse "value unit" strings from case files ("80 mmHg", "5 L/min", "3.5 mPa*s") into SI floats.

Every dimensional value in a case file carries its unit; this module is the only place those
strings are read. Conversion constants come from hemotwin.units.
"""
from __future__ import annotations

import math
import re

from ..units import ML_M3, MMHG_PA

__all__ = ["KINDS", "UnitError", "format_units", "parse_quantity"]


class UnitError(ValueError):
    """A value with a missing, unknown or wrong-kind unit; the message says what is allowed."""


_DYN_CM2 = 0.1  # 1 dyn/cm^2 = 0.1 Pa
_DYN_S_CM5 = 1e5  # 1 dyn s/cm^5 = 1e5 Pa s/m^3

# kind -> {normalized unit: factor to SI}
KINDS: dict[str, dict[str, float]] = {
    "length": {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "µm": 1e-6},
    "area": {"m2": 1.0, "cm2": 1e-4, "mm2": 1e-6},
    "time": {"s": 1.0, "ms": 1e-3, "min": 60.0},
    "frequency": {"hz": 1.0, "1/s": 1.0, "bpm": 1.0 / 60.0, "/min": 1.0 / 60.0},
    "pressure": {"pa": 1.0, "kpa": 1e3, "mmhg": MMHG_PA, "dyn/cm2": _DYN_CM2},
    "stress": {"pa": 1.0, "dyn/cm2": _DYN_CM2},
    "flow": {"m3/s": 1.0, "ml/s": ML_M3, "ml/min": ML_M3 / 60.0, "l/min": 1e-3 / 60.0,
             "l/s": 1e-3, "cm3/s": ML_M3, "mm3/s": 1e-9},
    "velocity": {"m/s": 1.0, "cm/s": 1e-2, "mm/s": 1e-3},
    "density": {"kg/m3": 1.0, "g/cm3": 1e3, "g/ml": 1e3},
    "viscosity": {"pa*s": 1.0, "mpa*s": 1e-3, "cp": 1e-3, "p": 0.1, "poise": 0.1},
    "resistance": {"pa*s/m3": 1.0, "mmhg*s/ml": MMHG_PA / ML_M3, "dyn*s/cm5": _DYN_S_CM5,
                   "kpa*s/ml": 1e3 / ML_M3},
    "compliance": {"m3/pa": 1.0, "ml/mmhg": ML_M3 / MMHG_PA, "cm5/dyn": 1.0 / _DYN_S_CM5,
                   "ml/pa": ML_M3},
}

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RE = re.compile(rf"^\s*({_NUM})\s*(.*?)\s*$")


def _normalize(unit: str) -> str:
    u = unit.strip().lower().replace(" ", "").replace("·", "*").replace("⋅", "*")
    u = u.replace("^", "").replace("³", "3").replace("²", "2").replace("μ", "µ")
    u = u.replace(".s", "*s") if re.search(r"[a-z]\.s", u) else u
    for a, b in (("mpas", "mpa*s"), ("pas", "pa*s"), ("mmhgs/ml", "mmhg*s/ml"),
                 ("dyns/cm5", "dyn*s/cm5"), ("/mmhg", "/mmhg"), ("lpm", "l/min"),
                 ("cc/s", "ml/s"), ("beats/min", "bpm"), ("sec", "s")):
        if u == a or (a.startswith("/") and u.endswith(a)):
            u = u if a.startswith("/") else b
    return u


def format_units(kind: str) -> str:
    """Human list of accepted units of a kind, for error messages."""
    pretty = {"pa*s": "Pa*s", "mpa*s": "mPa*s", "mmhg": "mmHg", "ml/s": "mL/s", "l/min": "L/min",
              "ml/min": "mL/min", "l/s": "L/s", "mmhg*s/ml": "mmHg*s/mL", "ml/mmhg": "mL/mmHg",
              "hz": "Hz", "cp": "cP", "kpa": "kPa", "pa": "Pa", "g/ml": "g/mL", "ml/pa": "mL/Pa",
              "kpa*s/ml": "kPa*s/mL", "cm3/s": "cm3/s", "pa*s/m3": "Pa*s/m3"}
    return ", ".join(pretty.get(u, u) for u in KINDS[kind])


def parse_quantity(text, kind: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Parse ``"<number> <unit>"`` of a given physical kind into SI.

    Parameters
    ----------
    text : str
        E.g. ``"80 mmHg"``, ``"5 L/min"``, ``"3.5 mPa*s"``, ``"0.4 mm"``.
    kind : str
        One of ``KINDS`` (length, time, frequency, pressure, flow, velocity, density, viscosity,
        resistance, compliance, stress, area).
    positive, nonnegative : bool
        Reject values <= 0 (or < 0).

    Returns
    -------
    float
        The value in SI (m, s, Hz, Pa, m^3/s, m/s, kg/m^3, Pa*s, Pa*s/m^3, m^3/Pa).

    Raises
    ------
    UnitError
        One line naming the value and the units allowed.

    Examples
    --------
    >>> round(parse_quantity("80 mmHg", "pressure"), 3)
    10665.791
    >>> parse_quantity("5 L/min", "flow") * 6e4
    5.0
    """
    if kind not in KINDS:
        raise ValueError(f"unknown quantity kind {kind!r}; choose one of {sorted(KINDS)}")
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise UnitError(f"expected a string like '1.0 {next(iter(KINDS[kind]))}', got {text!r}")
    if isinstance(text, (int, float)):
        raise UnitError(f"{text!r} has no unit; write it as a string with one of: {format_units(kind)}")
    m = _RE.match(text)
    if not m:
        raise UnitError(f"{text!r} is not '<number> <unit>'; units allowed: {format_units(kind)}")
    value, unit = float(m.group(1)), m.group(2)
    if not unit:
        raise UnitError(f"{text!r} has no unit; units allowed: {format_units(kind)}")
    u = _normalize(unit)
    if u not in KINDS[kind]:
        other = [k for k, tab in KINDS.items() if u in tab and k != kind]
        hint = f" ({unit!r} is a {other[0]} unit)" if other else ""
        raise UnitError(f"{text!r}: unit {unit!r} is not a {kind} unit{hint}; units allowed: "
                        f"{format_units(kind)}")
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite number")
    if positive and not value > 0:
        raise UnitError(f"{text!r} must be > 0")
    if nonnegative and value < 0:
        raise UnitError(f"{text!r} must be >= 0")
    return value * KINDS[kind][u]
