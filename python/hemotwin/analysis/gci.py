# SPDX-License-Identifier: Apache-2.0
"""Calculation verification: observed order, Richardson extrapolation and Roache's Grid Convergence Index.

Follows Celik et al. (2008), "Procedure for estimation and reporting of uncertainty due to
discretization in CFD applications", ASME J Fluids Eng 130(7):078001, and Roache (1994, 2011);
formulas as restated in REFERENCE.md sec. 1.5. Grid 1 is the finest (h1 < h2 < h3).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

FS_THREE_GRIDS = 1.25  # Roache: observed p from >= 3 grids
FS_FALLBACK = 3.0  # Roache: two grids, or p not trustworthy (p_theory used instead)


@dataclass
class GCIResult:
    """Outcome of a three-grid study for one quantity (grid 1 finest).

    ``p`` is the observed order, ``p_used`` the order the GCI is computed with (``p`` or, on
    fallback, the theoretical order), ``gci_fine`` = GCI_21 (relative to ``f[0]``), ``gci_coarse``
    = GCI_32 (relative to ``f[1]``), ``asymptotic_ratio`` = GCI_32 / (r21^p GCI_21) (about 1 in the
    asymptotic range), ``R`` = e21/e32 the convergence ratio and ``convergence`` its reading.
    """

    h: list
    f: list
    r21: float
    r32: float
    p: float
    p_used: float
    safety_factor: float
    f_ext: float
    e_a21: float
    e_ext21: float
    gci_fine: float
    gci_coarse: float
    asymptotic_ratio: float
    R: float
    convergence: str
    fallback: bool
    note: str

    @property
    def uncertainty(self) -> float:
        """Absolute numerical uncertainty of the fine-grid value, GCI_fine * |f1|."""
        return self.gci_fine * abs(self.f[0])

    def as_dict(self) -> dict:
        d = asdict(self)
        d["uncertainty"] = self.uncertainty
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def refinement_ratio(n_fine: float, n_coarse: float, dim: int = 3) -> float:
    """r = (N_fine / N_coarse)^(1/D) for cell counts N (Celik et al. 2008, eq. 1)."""
    return (float(n_fine) / float(n_coarse)) ** (1.0 / dim)


def convergence_type(f) -> tuple[float, str]:
    """R = e21 / e32 (e21 = f2 - f1, e32 = f3 - f2) and its reading.

    0 < R < 1 monotone, -1 < R < 0 oscillatory, |R| >= 1 divergent; e32 = 0 gives 'undetermined'.
    """
    f1, f2, f3 = (float(v) for v in f)
    e21, e32 = f2 - f1, f3 - f2
    if e32 == 0.0:
        return (0.0 if e21 == 0.0 else math.inf), ("converged" if e21 == 0.0 else "undetermined")
    R = e21 / e32
    if 0.0 < R < 1.0:
        return R, "monotone"
    if -1.0 < R < 0.0:
        return R, "oscillatory"
    if R == 0.0:
        return R, "converged"
    return R, "divergent"


def observed_order(h, f, max_iter: int = 200, tol: float = 1e-12) -> float:
    """Apparent order p from three grids (Celik et al. 2008, eqs. 3a-3c).

    For a constant ratio r this is p = ln[(f3 - f2)/(f2 - f1)] / ln r; for r21 != r32 the
    fixed-point iteration p = |ln|e32/e21| + q(p)| / ln r21, q(p) = ln[(r21^p - s)/(r32^p - s)],
    s = sign(e32/e21). Returns nan when the differences vanish.
    """
    h1, h2, h3 = (float(v) for v in h)
    f1, f2, f3 = (float(v) for v in f)
    r21, r32 = h2 / h1, h3 / h2
    e21, e32 = f2 - f1, f3 - f2
    if e21 == 0.0 or e32 == 0.0:
        return math.nan
    s = math.copysign(1.0, e32 / e21)
    base = math.log(abs(e32 / e21))
    if abs(r21 - r32) < 1e-12:
        return abs(base) / math.log(r21)
    p = abs(base) / math.log(r21)
    for _ in range(max_iter):
        num, den = r21**p - s, r32**p - s
        if num <= 0 or den <= 0:
            return math.nan
        p_new = abs(base + math.log(num / den)) / math.log(r21)
        if abs(p_new - p) < tol:
            return p_new
        p = p_new
    return p


def gci(h, f, p_theory: float | None = None, p_range=(0.5, 4.0), safety_factor: float | None = None) -> GCIResult:
    """Three-grid Grid Convergence Index of one quantity.

    Parameters
    ----------
    h : sequence of 3 floats
        Representative spacings (m, or any consistent unit); any order, sorted finest first.
    f : sequence of 3 floats
        The quantity on the grids given in ``h``.
    p_theory : float, optional
        Formal order of the scheme; used with Fs = 3.0 when the observed order is not
        trustworthy (oscillatory or divergent convergence, or p outside ``p_range``).
    p_range : (float, float)
        Observed orders accepted with Fs = 1.25.
    safety_factor : float, optional
        Override Fs.

    Returns
    -------
    GCIResult

    Examples
    --------
    >>> r = gci([1.0, 2.0, 4.0], [1.01, 1.04, 1.16])
    >>> round(r.p, 6), round(r.f_ext, 6)
    (2.0, 1.0)
    """
    h = np.asarray(h, float)
    f = np.asarray(f, float)
    if h.shape != (3,) or f.shape != (3,):
        raise ValueError("gci needs exactly three spacings and three values")
    if not np.all(h > 0):
        raise ValueError(f"spacings must be > 0, got {h.tolist()}")
    order = np.argsort(h)
    h, f = h[order], f[order]
    if len(set(h.tolist())) < 3:
        raise ValueError(f"the three spacings must differ, got {h.tolist()}")
    h1, h2, h3 = (float(v) for v in h)
    f1, f2, f3 = (float(v) for v in f)
    r21, r32 = h2 / h1, h3 / h2
    R, kind = convergence_type(f)
    p = observed_order(h, f)
    notes = []
    if min(r21, r32) < 1.3:
        notes.append(f"refinement ratio {min(r21, r32):.3g} < 1.3 (Celik et al. 2008 recommend >= 1.3)")
    trustworthy = kind == "monotone" and math.isfinite(p) and p_range[0] <= p <= p_range[1]
    fallback = not trustworthy
    if trustworthy:
        p_used, fs = p, FS_THREE_GRIDS
    elif p_theory is not None:
        p_used, fs = float(p_theory), FS_FALLBACK
        notes.append(f"observed order {p:.3g} ({kind}) not trusted: GCI with p_theory = {p_theory:g} and Fs = 3")
    else:
        p_used, fs = (p if math.isfinite(p) else math.nan), FS_FALLBACK
        notes.append(f"observed order {p:.3g} ({kind}) not trusted and no p_theory given: Fs = 3")
    if safety_factor is not None:
        fs = float(safety_factor)
    rp21 = r21**p_used if math.isfinite(p_used) else math.nan
    rp32 = r32**p_used if math.isfinite(p_used) else math.nan
    e_a21 = abs((f1 - f2) / f1) if f1 != 0 else math.inf
    e_a32 = abs((f2 - f3) / f2) if f2 != 0 else math.inf
    f_ext = (rp21 * f1 - f2) / (rp21 - 1.0) if math.isfinite(rp21) and rp21 != 1 else math.nan
    e_ext21 = abs((f_ext - f1) / f_ext) if math.isfinite(f_ext) and f_ext != 0 else math.nan
    gci21 = fs * e_a21 / (rp21 - 1.0) if math.isfinite(rp21) and rp21 != 1 else math.nan
    gci32 = fs * e_a32 / (rp32 - 1.0) if math.isfinite(rp32) and rp32 != 1 else math.nan
    ratio = gci32 / (rp21 * gci21) if math.isfinite(gci21) and gci21 > 0 else math.nan
    if f1 == f2 == f3:
        gci21 = gci32 = 0.0
        f_ext, e_ext21, ratio = f1, 0.0, 1.0
    return GCIResult(h=h.tolist(), f=f.tolist(), r21=r21, r32=r32, p=p, p_used=p_used, safety_factor=fs,
                     f_ext=f_ext, e_a21=e_a21, e_ext21=e_ext21, gci_fine=gci21, gci_coarse=gci32,
                     asymptotic_ratio=ratio, R=R, convergence=kind, fallback=fallback,
                     note="; ".join(notes))


def gci_two_grids(h, f, p_theory: float) -> dict:
    """Two-grid GCI with the formal order and Fs = 3.0 (Roache 2011)."""
    h = np.asarray(h, float)
    f = np.asarray(f, float)
    order = np.argsort(h)
    h, f = h[order], f[order]
    r = float(h[1] / h[0])
    rp = r**p_theory
    e = float(abs((f[0] - f[1]) / f[0]))
    return {"h": h.tolist(), "f": f.tolist(), "r21": r, "p_used": p_theory, "safety_factor": FS_FALLBACK,
            "f_ext": float((rp * f[0] - f[1]) / (rp - 1)), "gci_fine": FS_FALLBACK * e / (rp - 1)}


def gci_table(h, values: dict, p_theory: float | None = None) -> dict:
    """GCI of several quantities on the same three grids: {name: GCIResult.as_dict()}."""
    out = {}
    for name, f in values.items():
        try:
            out[name] = gci(h, f, p_theory=p_theory).as_dict()
        except (ValueError, ZeroDivisionError) as exc:
            out[name] = {"error": str(exc), "f": [float(v) for v in f]}
    return out
