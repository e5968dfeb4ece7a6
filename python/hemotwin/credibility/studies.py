# SPDX-License-Identifier: Apache-2.0
"""Calculation verification (three lattice spacings) and input sensitivity of a case, via the pipeline.

Both drive ``hemotwin.pipeline.run_case(case_path, out_dir, overrides=...)`` (read-only use) and
take every numeric scalar of its results dict as a candidate output; quantities of interest are
the ones whose flattened name matches ``QOI_PATTERNS``.
"""
from __future__ import annotations

import inspect
import json
import math
import re
import time
from pathlib import Path

from ..analysis.gci import gci
from ..report.provenance import file_sha256

QOI_PATTERNS = (r"gradient", r"pd_?pa", r"flow", r"wss", r"pressure_drop", r"ffr")
# inputs that match a pattern but are prescribed, not computed: the inflow, the target split, and
# settings echoed into the results (run.convergence.flow_tolerance_ml_s, wss.low_threshold_pa)
NOT_QOI_PATTERNS = (r"inflow", r"^ports\.inlet\.", r"target_", r"tolerance", r"threshold")

# Declared inputs: case-file key (config.schema) and how to write a value (SI float) back with its
# unit. The RCR outlets take R_total = MAP / CO (REFERENCE.md 5), so the outlet resistance is
# perturbed through the target mean pressure; the segmentation threshold is the seeded/threshold
# methods' lower HU bound.
SENSITIVITY_INPUTS = {
    "viscosity": ("physiology.blood.viscosity", lambda x: f"{x * 1e3:.8g} mPa*s"),
    "inlet_flow": ("physiology.inflow.mean", lambda x: f"{x * 1e6:.8g} mL/s"),
    "outlet_resistance": ("physiology.target_mean_pressure", lambda x: f"{x / 133.322387415:.8g} mmHg"),
    "segmentation_threshold": ("segmentation.lower_hu", lambda x: float(x)),
}


def flatten_numbers(d, prefix="") -> dict:
    """{dotted.name: float} for every finite int/float leaf of nested dicts.

    Lists of dicts are keyed by each item's ``name`` (ports) or ``id`` (lesions), else its index;
    short lists of scalars are indexed; long arrays (profiles) are left out.
    """
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten_numbers(v, f"{prefix}{k}."))
    elif isinstance(d, (list, tuple)) and d and all(isinstance(v, dict) for v in d):
        for i, v in enumerate(d):
            key = v.get("name", v.get("id", i))
            out.update(flatten_numbers(v, f"{prefix}{key}."))
    elif isinstance(d, (list, tuple)) and len(d) <= 16 and all(isinstance(v, (int, float)) for v in d):
        for i, v in enumerate(d):
            out.update(flatten_numbers(v, f"{prefix}{i}."))
    elif isinstance(d, (int, float)) and not isinstance(d, bool) and math.isfinite(d):
        out[prefix.rstrip(".")] = float(d)
    return out


def is_qoi(name: str) -> bool:
    if any(re.search(p, name, re.IGNORECASE) for p in NOT_QOI_PATTERNS):
        return False
    return any(re.search(p, name, re.IGNORECASE) for p in QOI_PATTERNS)


def _run_case():
    try:
        from ..pipeline import run_case
    except ImportError as exc:
        raise RuntimeError("hemotwin.pipeline.run_case is not available in this build "
                           f"({exc}); the study needs the pipeline") from None
    if "overrides" not in inspect.signature(run_case).parameters:
        raise RuntimeError("hemotwin.pipeline.run_case has no 'overrides' parameter: the study needs "
                           "run_case(case_path, out_dir, overrides={'numerics.cells_across': n, ...})")

    def runner(case_path, out_dir, overrides):
        return run_case(case_path, out_dir, overrides=overrides, progress=False)

    return runner


def case_identity(case_path, case=None) -> dict:
    """What a study JSON records of the case it is of: the path as given, the case name and the
    file's sha256, so a report can tell another case's evidence from this case's."""
    p = Path(case_path)
    # the path as given, not resolved: a resolved path can bring in folder names (a patient's);
    # the sha256 identifies the case
    out = {"case": str(case_path), "case_name": case.case.name if case is not None else p.stem}
    try:
        out["case_sha256"] = file_sha256(p)
    except OSError:
        out["case_sha256"] = None
    return out


def study_provenance() -> dict:
    """What made a study's JSON: software versions (with the git commit) and when."""
    from ..report.provenance import software_versions, utc_now

    return {"versions": software_versions(), "created_utc": utc_now()}


def run_convergence(res: dict) -> dict:
    """``{"status", "converged"}`` of one pipeline run: the results' ``status`` ("ok" /
    "not_converged") where given, else ``run.converged`` (and ``post.run.converged``); ``converged``
    is None when the results say neither."""
    status = res.get("status")
    if status in ("ok", "not_converged", "error"):
        return {"status": status, "converged": status == "ok"}
    flags = [(r or {}).get("converged") for r in (res.get("run"), (res.get("post") or {}).get("run"))
             if isinstance(r, dict) and "converged" in r]
    return {"status": status, "converged": all(bool(f) for f in flags) if flags else None}


def _p_range():
    return inspect.signature(gci).parameters["p_range"].default


def p_choice(row: dict, p_theory: float = 2.0) -> str:
    """Which order the extrapolation (``f_ext``) and GCI of a table row use, and why."""
    p, p_used, fs, kind = row.get("p"), row.get("p_used"), row.get("safety_factor"), row.get("convergence")
    lo, hi = _p_range()
    fs_txt = f"Fs = {fs:g}" if fs is not None else "Fs n/a"
    if not row.get("fallback"):
        return f"observed p used ({kind}, within {lo:g}-{hi:g}), {fs_txt}"
    if kind == "converged":
        why = "the grids agree, no observed order"
    elif kind != "monotone":
        why = f"{kind} convergence"
    elif p is None:
        why = "observed p undefined"
    else:
        why = f"observed p {p:.3g} outside {lo:g}-{hi:g}"
    used = f"p_theory = {p_used:g} used" if p_used is not None else "no usable order"
    return f"{used} ({why}), {fs_txt}"


def _cached_or_run(runner, case_path, run_dir: Path, overrides, reuse):
    cached = run_dir / "results.json"
    if reuse and cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    return runner(case_path, run_dir, overrides)


def convergence_study(case_path, out_dir, ratio: float = 1.5, base_cells: float | None = None,
                      runner=None, progress=print, overrides: dict | None = None,
                      reuse: bool = False) -> dict:
    """Run the case at three spacings h, r h, r^2 h and tabulate GCI for every output.

    Parameters
    ----------
    case_path : path
    out_dir : path
        Gets ``run_<n>/`` per resolution, ``convergence.json`` and ``convergence.png``.
    ratio : float
        Refinement ratio r in [1.3, 2] (Celik et al. 2008 recommend >= 1.3).
    base_cells : float, optional
        Cells across the reference port on the FINEST grid (default: the case's
        ``numerics.cells_across``). A case's ``numerics.spacing`` and
        ``numerics.lesion_cells_across`` are scaled with it, so the three grids differ by ``ratio``.
    runner : callable, optional
        ``runner(case_path, out_dir, overrides) -> results dict`` (default: pipeline.run_case).
    overrides : dict, optional
        Extra case overrides for every run (e.g. ``{"devices.deploy": False}``).
    reuse : bool
        Take ``run_<n>/results.json`` already in ``out_dir`` instead of rerunning (same case and
        overrides assumed: the caller's responsibility).
    """
    if not 1.3 <= ratio <= 2.0:
        raise ValueError(f"--ratio must be between 1.3 and 2, got {ratio}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from ..config import load_case

    case = load_case(case_path, overrides, check_files=False)
    num = case.numerics
    if base_cells is None:
        base_cells = float(num.cells_across)
    cells = [base_cells / ratio**2, base_cells / ratio, base_cells]

    def grid(n):  # every setting that fixes the spacing scales with it, or the grids would not differ
        o = {"numerics.cells_across": n}
        if num.spacing:
            o["numerics.spacing"] = f"{num.spacing * 1e3 * base_cells / n:.6g} mm"
        if num.lesion_cells_across:
            o["numerics.lesion_cells_across"] = num.lesion_cells_across * n / base_cells
        return o

    cached = reuse and all((out_dir / f"run_{n:.3g}" / "results.json").is_file() for n in cells)
    if runner is None and not cached:
        runner = _run_case()
    results, times, runs = [], [], []
    for n in cells:
        t0 = time.perf_counter()
        if progress:
            progress(f"convergence: {n:.3g} cells across")
        res = _cached_or_run(runner, case_path, out_dir / f"run_{n:.3g}",
                             {**(overrides or {}), **grid(n)}, reuse)
        times.append(time.perf_counter() - t0)
        results.append(flatten_numbers(res))
        runs.append({"cells_across": n, **run_convergence(res)})
    # a GCI from runs stopped before their steadiness test passed mixes iteration error into the
    # discretization error: said in the JSON and by the CLI, not left to be noticed
    all_converged = all(r["converged"] is True for r in runs)
    warning = None
    if not all_converged:
        bad = [f"{r['cells_across']:.3g} cells across ({r['status'] or 'status not recorded'})"
               for r in runs if r["converged"] is not True]
        warning = (f"not every run converged: {'; '.join(bad)}; the GCI then includes iteration error "
                   "and may be wrong (raise run.max_time and rerun)")
    h = [1.0 / n for n in cells]  # spacing relative to the port diameter
    common = sorted(set(results[0]) & set(results[1]) & set(results[2]))
    table = {}
    for name in common:
        f = [r[name] for r in results]
        if max(abs(v) for v in f) == 0.0:
            continue
        try:
            table[name] = gci(h, f, p_theory=2.0).as_dict()
        except (ValueError, ZeroDivisionError) as exc:
            table[name] = {"error": str(exc), "f": f}
        table[name]["qoi"] = is_qoi(name)
        if "p_used" in table[name]:
            table[name]["p_choice"] = p_choice(table[name], 2.0)
    out = {**case_identity(case_path, case), "ratio": ratio, "cells_across": cells,
           "overrides": overrides or {}, "h_relative": h,
           "seconds": times, "p_theory": 2.0,
           "method": "Celik et al. 2008 / Roache GCI, Fs = 1.25 (3.0 on fallback), REFERENCE.md 1.5",
           "runs": runs, "all_runs_converged": all_converged, "warning": warning,
           "table": table, "provenance": study_provenance()}
    (out_dir / "convergence.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    try:
        from ..viz.validation_plots import plot_gci

        qoi = {k: v for k, v in table.items() if v.get("qoi") and "h" in v}
        plot_gci(out_dir / "convergence.png", dict(list(qoi.items())[:8]), f"GCI study, r = {ratio:g}")
    except Exception as exc:  # noqa: BLE001 - a figure must not lose the numbers
        out["plot_error"] = str(exc)
    return out


def sensitivity_study(case_path, out_dir, percent: float = 10.0, inputs=None, runner=None,
                      progress=print, overrides: dict | None = None, reuse: bool = False) -> dict:
    """Perturb declared inputs by +/- ``percent`` and report normalised sensitivities.

    S = (dY / Y0) / (dX / X0) from the central difference (Y+ - Y-) / (2 Y0 (percent/100)).
    An input whose key is not in the case (or which the pipeline rejects) is reported as skipped.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if runner is None and not (reuse and (out_dir / "base" / "results.json").is_file()):
        runner = _run_case()
    inputs = inputs or SENSITIVITY_INPUTS
    from ..config import load_case

    extra = dict(overrides or {})
    case = load_case(case_path, extra or None)  # x0 of each input as the runs see it (with --set)
    base_results = _cached_or_run(runner, case_path, out_dir / "base", extra, reuse)
    base = flatten_numbers(base_results)
    held = _held_numerics(base_results, out_dir / "base", extra)
    rows, skipped = {}, {}
    frac = percent / 100.0
    for label, (key, fmt) in inputs.items():
        x0 = _get(case, key)
        if x0 is None:
            skipped[label] = f"{key} not set in the case (or not a number)"
            continue
        res = {}
        try:
            for sign in (+1, -1):
                if progress:
                    progress(f"sensitivity: {label} {sign * percent:+g} %")
                run_dir = out_dir / f"{label}_{'p' if sign > 0 else 'm'}"
                perturbed = {**extra, **held, key: fmt(x0 * (1 + sign * frac))}
                perturbed.update(_resistance_kept(case, key, sign * frac, extra))
                res[sign] = flatten_numbers(_cached_or_run(runner, case_path, run_dir, perturbed, reuse))
        except Exception as exc:  # noqa: BLE001 - report, keep the other inputs
            skipped[label] = f"run failed: {exc}"
            continue
        sens = {}
        for name, y0 in base.items():
            if name in res[1] and name in res[-1] and y0 != 0.0:
                sens[name] = (res[1][name] - res[-1][name]) / (2 * y0 * frac)
        rows[label] = {"key": key, "x0": x0, "percent": percent, "sensitivity": sens}
    out = {**case_identity(case_path, case), "percent": percent, "overrides": extra, "base": base,
           "inputs": rows, "skipped": skipped,
           "definition": "S = (dY/Y0)/(dX/X0), central difference over +/- percent",
           "held_fixed": {**held, "outlet resistances": "kept when the inflow is perturbed (the target "
                                                       "mean pressure scaled with it)"},
           "qoi": sorted(n for n in base if is_qoi(n)), "provenance": study_provenance()}
    (out_dir / "sensitivity.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


def _held_numerics(base_results: dict, base_dir: Path, extra: dict) -> dict:
    """Overrides that give every perturbed run the base run's time step and LES switch: the
    time step follows the expected peak speed (from the inflow) and LES ``auto`` follows tau, so
    without them a +/-10 % inflow or viscosity also changed the discretisation (audit 2026-12-07)."""
    held = {}
    u_max = (base_results.get("run") or {}).get("expected_peak_speed_m_s")
    if u_max and "physiology.peak_velocity" not in extra:
        held["physiology.peak_velocity"] = f"{float(u_max):.10g} m/s"
    try:
        prov = json.loads((base_dir / "provenance.json").read_text(encoding="utf-8"))
        les = prov["lattice"]["pre"]["les"]
    except (OSError, ValueError, KeyError, TypeError):
        les = None  # a runner without provenance (tests): the switch stays as the case says
    if isinstance(les, bool) and "numerics.les" not in extra:
        held["numerics.les"] = "on" if les else "off"
    return held


def _resistance_kept(case, key: str, delta: float, extra: dict) -> dict:
    """The outlet resistances are set as (MAP - P_distal) / Q: perturbing the inflow alone would
    move them too. Scaling the target mean pressure's excess over P_distal with Q keeps them."""
    if key != "physiology.inflow.mean" or "physiology.target_mean_pressure" in extra:
        return {}
    ph = case.physiology
    p_d = float(ph.outlets.distal_pressure or 0.0)
    target = p_d + (float(ph.target_mean_pressure) - p_d) * (1.0 + delta)
    return {"physiology.target_mean_pressure": f"{target / 133.322387415:.10g} mmHg"}


def _get(case, dotted):
    obj = case
    for part in dotted.split("."):
        obj = getattr(obj, part, None) if not isinstance(obj, dict) else obj.get(part)
        if obj is None:
            return None
    return float(obj) if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def parse_sets(items) -> dict:
    """CLI ``--set key=value`` pairs to an overrides dict: the parser of ``hemotwin run``
    (``hemotwin.config.overrides.parse_set_items``; values read as TOML)."""
    from ..config.overrides import parse_set_items

    return parse_set_items(items)
