# SPDX-License-Identifier: Apache-2.0
"""ASME V&V 20 validation metrics per station: E = S - D, u_val = sqrt(u_num^2 + u_input^2 + u_D^2).

Formulas as restated in REFERENCE.md sec. 1.4 (the standard itself is paywalled); the global
error E_g of Stewart et al. (2012) is given beside them for comparison with the round robin.
"""
from __future__ import annotations

import math

import numpy as np

# Hariharan et al. 2011 [read, REFERENCE.md 3.4]: "a 10 % Re change caused < 3 % centreline-velocity
# change at Re 500, but about 55 % at Re 2000". Used as the relative input uncertainty of the
# centreline velocity, assuming the flow rate is known to ~10 % (an assumption, stated in the JSON).
INPUT_UNCERTAINTY_FRAC = {500: 0.03, 2000: 0.55}
K_COVERAGE = 2.0  # U_val = k u_val, k = 2 for about 95 %


def u_num_from_gci(gci_fine_rel: float, value: float, fs: float = 1.25) -> float:
    """Standard numerical uncertainty from a fine-grid GCI (relative): GCI |S| / 2.

    The GCI with Fs = 1.25 is read as an expanded (~95 %) uncertainty and divided by k = 2; this
    conversion is a convention of this project, [UNVERIFIED] against the text of V&V 20.
    """
    if gci_fine_rel is None or not math.isfinite(gci_fine_rel):
        return math.nan
    return abs(gci_fine_rel * value) / K_COVERAGE


def station_metrics(z_stations, s_values, d_mean, d_sd, d_n, u_num=None, u_input_frac=None) -> list:
    """Per-station V&V 20 comparison.

    Parameters
    ----------
    z_stations : sequence of float
        Station positions (m).
    s_values : sequence of float
        Simulation values S at the stations.
    d_mean, d_sd, d_n : sequences
        Experimental mean D, standard deviation across the data sets (used as u_D) and count.
    u_num : sequence of float or None
        Standard numerical uncertainty per station (nan or None: not estimated, counted as 0).
    u_input_frac : float or None
        Relative input uncertainty of S (None: not estimated, counted as 0).

    Returns
    -------
    list of dict
        ``z_m``, ``S``, ``D``, ``E``, ``E_rel``, ``u_D``, ``u_num``, ``u_input``, ``u_val``,
        ``U_val`` (= 2 u_val), ``within`` (|E| <= 2 u_val), ``n_data``, and which uncertainty
        components were ``not_estimated``.
    """
    out = []
    for k, z in enumerate(z_stations):
        S, D, sd, n = float(s_values[k]), float(d_mean[k]), d_sd[k], int(d_n[k])
        missing = []
        if n == 0 or not math.isfinite(D):
            out.append({"z_m": float(z), "S": S, "D": None, "n_data": n, "within": None,
                        "note": "no experimental value at this station"})
            continue
        u_d = float(sd) if sd is not None and math.isfinite(sd) else math.nan
        if not math.isfinite(u_d):
            missing.append("u_D")
        un = math.nan if u_num is None else float(u_num[k])
        if not math.isfinite(un):
            missing.append("u_num")
        ui = math.nan if u_input_frac is None else abs(float(u_input_frac) * S)
        if not math.isfinite(ui):
            missing.append("u_input")
        comps = [v for v in (u_d, un, ui) if math.isfinite(v)]
        u_val = math.sqrt(sum(v * v for v in comps)) if comps else math.nan
        E = S - D
        within = bool(abs(E) <= K_COVERAGE * u_val) if math.isfinite(u_val) else None
        out.append({
            "z_m": float(z), "S": S, "D": D, "E": E, "E_rel": E / D if D else None,
            "u_D": _nn(u_d), "u_num": _nn(un), "u_input": _nn(ui), "u_val": _nn(u_val),
            "U_val": _nn(K_COVERAGE * u_val), "within": within, "n_data": n,
            "not_estimated": missing,
        })
    return out


def global_error(s_values, d_values) -> float:
    """Stewart et al. (2012) style mean relative error (1/n) sum |D - S| / |D| over valid points."""
    s = np.asarray(s_values, float)
    d = np.asarray(d_values, float)
    ok = np.isfinite(s) & np.isfinite(d) & (d != 0)
    return float(np.mean(np.abs(d[ok] - s[ok]) / np.abs(d[ok]))) if ok.any() else math.nan


# points whose experimental |D| is under this fraction of the cut's peak |D| are left out of the
# radial-cut error's second figure (a project choice, not Stewart's)
SMALL_D_FRACTION = 0.05


def radial_cut_error(sim_profiles: dict, exp_profiles: dict) -> dict:
    """Stewart et al. (2012)'s E over the axial velocity of the radial cuts, as we read it:
    (1/n) sum |D - S| / |D| over every point of every station's cut where the experimental mean
    D exists and is not zero, S interpolated there from the simulated x and y diameters (their
    mean). Returns the global value, the per-station values and the point count.

    ``sim_profiles``: {station: {"r_m": [...], "u_axial_m_s": [...]}} (the x line's points then
    the y line's, each ordered, signed positions); ``exp_profiles``: {station: profile_stats(...)}.
    Stewart's own point set (the PIV points each group was scored on) is not in the data files, so
    the figure is comparable with the round robin's in kind, not to the digit.
    """
    per_station, terms, robust, n_small = {}, [], [], 0
    for key, sim in sim_profiles.items():
        exp = exp_profiles.get(key)
        if not exp:
            continue
        r = np.asarray(sim["r_m"], float)
        u = np.asarray(sim["u_axial_m_s"], float)
        # the two diameters: r increases along each, so the split is where it drops back
        cut = int(np.argmax(np.diff(r) < 0)) + 1 if np.any(np.diff(r) < 0) else len(r)
        lines = [(r[:cut], u[:cut]), (r[cut:], u[cut:])]
        lines = [ln for ln in lines if len(ln[0]) >= 2]
        r_e, d = np.asarray(exp["r_m"], float), np.asarray(exp["mean"], float)
        reach = min(min(abs(ln[0][0]), abs(ln[0][-1])) for ln in lines) if lines else 0.0
        ok = np.isfinite(d) & (d != 0) & (np.abs(r_e) <= reach)
        if not ok.any():
            continue
        s_at = np.mean([np.interp(r_e[ok], ln[0], ln[1]) for ln in lines], axis=0)
        e = np.abs(d[ok] - s_at) / np.abs(d[ok])
        per_station[key] = float(np.mean(e))
        terms.extend(e.tolist())
        # where the mean velocity crosses zero (recirculation) |D - S| / |D| has no bound: the same
        # mean without the points under SMALL_D_FRACTION of the cut's peak |D|, and how many
        large = np.abs(d[ok]) >= SMALL_D_FRACTION * np.max(np.abs(d[ok]))
        robust.extend(e[large].tolist())
        n_small += int(np.count_nonzero(~large))
    return {"value": float(np.mean(terms)) if terms else math.nan, "per_station": per_station,
            "n_points": len(terms),
            "value_without_small_d": float(np.mean(robust)) if robust else math.nan,
            "small_d_fraction": SMALL_D_FRACTION, "n_small_d_points": n_small}


def _nn(v):
    return None if v is None or not math.isfinite(v) else float(v)
