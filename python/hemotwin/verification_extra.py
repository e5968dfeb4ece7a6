# SPDX-License-Identifier: Apache-2.0
"""More code-verification cases: mass conservation and lattice-orientation (rotation) invariance.

Both reuse the Poiseuille case of hemotwin.verification; they return plain dicts with a ``pass``
flag and the tolerance that decided it, so `hemotwin verify` can print and store them.
"""
from __future__ import annotations

import time

from . import verification

# D3Q19 is invariant under permutations of the axes, so the same pipe along x, y or z is the same
# discrete problem; differences can only come from floating-point summation order.
ROTATION_RTOL = 1e-6
# Mass: the velocity inlet and pressure outlet must pass the same flow at steady state; the
# mass-conserving BFL wall (commit b6c5789) leaves only the steadiness tolerance.
MASS_TOL = 1e-3


def mass_conservation(resolution: int = 10, wall: str = "bouzidi", precision: str = "float64",
                      device: str = "cpu", threads=None, **kwargs) -> dict:
    """Steady Poiseuille pipe: relative imbalance |Q_in - Q_out| / Q_in at the two ports.

    Returns
    -------
    dict
        ``case``, ``resolution``, ``mass_imbalance``, ``tolerance``, ``pass``, ``seconds``.
    """
    t0 = time.perf_counter()
    r = verification.poiseuille(resolution, wall=wall, precision=precision, device=device,
                                threads=threads, **kwargs)
    imb = r.errors["mass_imbalance"]
    return {"case": "mass_conservation", "resolution": resolution, "wall": wall,
            "mass_imbalance": imb, "tolerance": MASS_TOL, "pass": bool(imb < MASS_TOL),
            "steps": r.info.get("steps"), "seconds": round(time.perf_counter() - t0, 2)}


def rotation_invariance(resolution: int = 8, wall: str = "bouzidi", precision: str = "float64",
                        device: str = "cpu", threads=None, **kwargs) -> dict:
    """The same Poiseuille pipe along x, y and z must give the same errors.

    Returns
    -------
    dict
        ``errors`` per axis (velocity_l2, pressure_drop, wss, mass_imbalance), ``max_rel_spread``
        per error (max - min over axes, relative to the mean), ``tolerance``, ``pass``.
    """
    t0 = time.perf_counter()
    per_axis = {}
    for axis in ("x", "y", "z"):
        r = verification.poiseuille(resolution, wall=wall, precision=precision, device=device,
                                    axis=axis, threads=threads, **kwargs)
        per_axis[axis] = r.errors
    spread = {}
    for key in ("velocity_l2", "pressure_drop", "wss"):
        vals = [per_axis[a][key] for a in per_axis]
        mean = sum(vals) / len(vals)
        spread[key] = (max(vals) - min(vals)) / mean if mean else 0.0
    ok = all(v <= ROTATION_RTOL for v in spread.values())
    return {"case": "rotation_invariance", "resolution": resolution, "wall": wall,
            "errors": per_axis, "max_rel_spread": spread, "tolerance": ROTATION_RTOL, "pass": bool(ok),
            "seconds": round(time.perf_counter() - t0, 2)}


def run_all(quick: bool = True, **kwargs) -> list:
    """Both cases at the suite's (quick) or a finer resolution."""
    return [mass_conservation(8 if quick else 16, **kwargs), rotation_invariance(6 if quick else 12, **kwargs)]
