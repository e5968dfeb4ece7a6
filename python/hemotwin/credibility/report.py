# SPDX-License-Identifier: Apache-2.0
"""Credibility report of one case in the structure of ASME V&V 40-2018 and the FDA 2023 guidance.

Sections: question of interest and context of use, model risk, credibility factors, code
verification, calculation verification (GCI), validation, sensitivity, provenance, test record,
and the [UNVERIFIED] reference items relied on. Writes ``credibility.json`` (checked against
``SCHEMA``) and ``credibility.html``.

Each evidence section's ``status`` (and ``outcome``: present / warning / failed / empty / partial /
unknown / missing) comes from the evidence's own result: a failed verification, a validation with
fewer than half of its stations within 2 u_val or with nothing compared, or a test record that was
only collected is never reported as plain "evidence present" / "provided".
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import platform
import subprocess
import sys
from pathlib import Path

SCHEMA_VERSION = "1.0"

# ASME V&V 40-2018 Table 5-1 (REFERENCE.md 1.2): factors 1-5 read in a secondary quote, 6-13 [UNVERIFIED].
FACTORS = [
    (1, "Software quality assurance", "code verification", "test_record", True),
    (2, "Numerical code verification", "code verification", "code_verification", True),
    (3, "Discretization error", "calculation verification", "calculation_verification", True),
    (4, "Numerical solver error", "calculation verification", "calculation_verification", True),
    (5, "Use error", "calculation verification", "provenance", True),
    (6, "Model form", "validation: computational model", "validation", False),
    (7, "Model inputs", "validation: computational model", "sensitivity", False),
    (8, "Test samples", "validation: comparator", "validation", False),
    (9, "Test conditions", "validation: comparator", "validation", False),
    (10, "Equivalency of input parameters", "validation: assessment", "validation", False),
    (11, "Output comparison", "validation: assessment", "validation", False),
    (12, "Relevance of the quantities of interest", "applicability", "context_of_use", False),
    (13, "Relevance of the validation activities to the COU", "applicability", "validation", False),
]
# FDA 2023 guidance, eight categories of credibility evidence (REFERENCE.md 1.1, secondary summary).
FDA_CATEGORIES = [
    ("code verification results", "code_verification"),
    ("model calibration evidence", None),
    ("bench test validation", "validation"),
    ("in vivo validation", None),
    ("population-based validation", None),
    ("emergent model behavior", None),
    ("model plausibility", "sensitivity"),
    ("calculation verification / UQ using COU simulations", "calculation_verification"),
]
UNVERIFIED_RELIED_ON = [
    "FDA 2023 guidance workflow (QOI -> COU -> risk -> goals -> evidence -> adequacy): guidance body text not read (REFERENCE.md 1.1)",
    "FDA 2023 eight evidence categories: from a secondary summary (REFERENCE.md 1.1)",
    "ASME V&V 40 Table 5-1 credibility factors 6-13 (REFERENCE.md 1.2)",
    "u_num = GCI |S| / 2 (GCI read as a ~95 % expanded uncertainty): project convention, not checked against V&V 20",
    "Conical-diffuser data frame of the FDA CD files (files not at hand; REFERENCE.md 3.1)",
    "Lattice Mach bound u_lu <= 0.15 used by the solver (REFERENCE.md 2.3 / 5: a convention)",
    ("Nozzle validation u_input = 3 % of S at Re 500 and 55 % at Re 2000 (validation.metrics."
     "INPUT_UNCERTAINTY_FRAC): Hariharan 2011's centreline change for a 10 % Re change, read as the "
     "effect of an assumed ~10 % flow uncertainty; that flow uncertainty is not sourced "
     "(REFERENCE.md sec. 3.4) [UNVERIFIED]"),
    ("Validation pass rule of this report (at least half of the compared nozzle stations within "
     "2 u_val, every acceptance check passing): this project's convention, not from V&V 20 / V&V 40 "
     "[UNVERIFIED]"),
]
# Items relied on only when the case uses the feature (see ``unverified_relied_on``).
UNVERIFIED_TRT_MAGIC = ("TRT magic parameter Lambda = 3/16 (numerics.magic default) puts bounce-back walls "
                        "half-way whatever the viscosity: only the Lambda definition was read, not the 3/16 "
                        "result (REFERENCE.md sec. 2.3) [UNVERIFIED]; relied on when the solver runs TRT "
                        "(numerics.collision auto/trt)")
UNVERIFIED_SIZING_RULE = {
    "coarctation": ("Coarctation stent-sizing rule (largest catalog diameter not above the smaller adjacent "
                    "reference aorta, analysis.sizing.RULES['coarctation']): not found as a quoted rule "
                    "(REFERENCE.md sec. 4) [UNVERIFIED rule]; relied on when a device is sized "
                    "(devices.deploy, no devices.pinned)"),
    "coronary": ("Coronary stent-sizing rule (1:1 stent : distal reference diameter and the landing margin, "
                 "analysis.sizing.RULES['coronary']): not found in a source read (REFERENCE.md sec. 4) "
                 "[UNVERIFIED]; relied on when a device is sized (devices.deploy, no devices.pinned)"),
}
UNVERIFIED_CATALOG = ("Generic device catalog cases/devices/generic_balloon_expandable.toml (the default "
                      "devices.catalog): round values that match no real product, no instructions for use "
                      "read (the file's header; REFERENCE.md sec. 4 has no such catalog) [UNVERIFIED as a "
                      "match to any device]; relied on when a device is sized or pinned")
UNVERIFIED_RP_FRACTION = ("Outlet proximal fraction Rp / R = 0.09 (physiology.outlets.proximal_fraction "
                          "default, RCR outlets): 'usually 5-10 %' (REFERENCE.md sec. 5) [UNVERIFIED number]")
UNVERIFIED_HEART_RATE = ("Heart rate default 70 bpm (physiology.heart_rate, sets the period of pulsatile runs): "
                         "typical resting 60-75 bpm, not sourced (REFERENCE.md sec. 5) [UNVERIFIED]")
UNVERIFIED_WAVEFORM = ("Built-in inflow waveform shapes (physiology.inflow.waveform = builtin:*): synthetic "
                       "typical shapes, not measured data (solver/waveforms.py; not in REFERENCE.md) "
                       "[UNVERIFIED]")
UNVERIFIED_RRT = ("RRT = 1 / ((1 - 2 OSI) TAWSS) reported by pulsatile runs: formula not confirmed "
                  "(REFERENCE.md sec. 4, WSS metric definitions) [UNVERIFIED]")


def unverified_relied_on(data: dict) -> list:
    """The [UNVERIFIED] reference items this report relies on, for the case TOML ``data`` (a dict).

    Always the general ones (``UNVERIFIED_RELIED_ON``); the device, outlet, waveform and solver items
    only where the case uses the feature (with the pipeline's defaults where the case is silent).
    """
    out = list(UNVERIFIED_RELIED_ON)
    num = data.get("numerics") or {}
    if str(num.get("collision", "auto")) in ("auto", "trt"):
        out.append(UNVERIFIED_TRT_MAGIC)
    dev = data.get("devices") or {}
    pinned = bool(dev.get("pinned"))
    deploy = bool(dev.get("deploy", True))
    if deploy and not pinned:
        ind = str(dev.get("indication", "generic"))
        out.append(UNVERIFIED_SIZING_RULE["coarctation" if ind == "coarctation" else "coronary"])
    if (deploy or pinned) and not dev.get("catalog"):
        out.append(UNVERIFIED_CATALOG)
    phys = data.get("physiology") or {}
    outl = phys.get("outlets") or {}
    ports = outl.get("ports") or {}
    rcr = str(outl.get("model", "rcr")) == "rcr" or any(
        isinstance(v, dict) and v.get("model") == "rcr" for v in ports.values())
    if rcr and "proximal_fraction" not in outl:
        out.append(UNVERIFIED_RP_FRACTION)
    if str((data.get("run") or {}).get("mode", "steady")) == "pulsatile":
        if "heart_rate" not in phys:
            out.append(UNVERIFIED_HEART_RATE)
        if str((phys.get("inflow") or {}).get("waveform", "constant")).startswith("builtin:"):
            out.append(UNVERIFIED_WAVEFORM)
        out.append(UNVERIFIED_RRT)
    return out


RISK_MATRIX = {  # V&V 40 style: influence x consequence -> model risk
    ("low", "low"): "low", ("low", "medium"): "low", ("low", "high"): "medium",
    ("medium", "low"): "low", ("medium", "medium"): "medium", ("medium", "high"): "high",
    ("high", "low"): "medium", ("high", "medium"): "high", ("high", "high"): "high",
}

_SECTION = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hemotwin credibility report",
    "type": "object",
    "required": ["schema_version", "generated_utc", "case", "context_of_use", "model_risk",
                 "credibility_factors", "fda_evidence_categories", "code_verification",
                 "calculation_verification", "validation", "sensitivity", "provenance", "test_record",
                 "unverified_references"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "generated_utc": {"type": "string"},
        "case": {"type": "object", "required": ["path", "name", "sha256"]},
        "context_of_use": {"type": "object", "required": ["question_of_interest", "context", "status"]},
        "model_risk": {"type": "object", "required": ["model_influence", "decision_consequence", "risk"],
                       "properties": {"risk": {"enum": ["low", "medium", "high"]}}},
        "credibility_factors": {"type": "array", "minItems": 13, "maxItems": 13,
                                "items": {"type": "object",
                                          "required": ["id", "factor", "category", "evidence", "status",
                                                       "unverified"]}},
        "fda_evidence_categories": {"type": "array", "minItems": 8, "maxItems": 8},
        "code_verification": {**_SECTION, "properties": {"status": {"type": "string"},
                                                         "cases": {"type": "array"}}},
        "calculation_verification": _SECTION,
        "validation": _SECTION,
        "sensitivity": _SECTION,
        "provenance": {"type": "object", "required": ["hemotwin_version", "git_commit", "python", "platform"]},
        "test_record": {**_SECTION, "properties": {"status": {"type": "string"},
                                                   "collected": {"type": ["integer", "null"]}}},
        "unverified_references": {"type": "array", "items": {"type": "string"}},
    },
}


def _load_json(path):
    p = Path(path) if path else None
    if p and p.is_file():
        return json.loads(p.read_text(encoding="utf-8"))
    return None


def study_case(study: dict, case_path: Path, sha256: str, name: str) -> dict:
    """Whether a study JSON (convergence, sensitivity) is of this case.

    By the case file's sha256 where the study recorded it (``hemotwin convergence`` and
    ``hemotwin sensitivity`` do), else by the resolved path, else by the case name. Returns
    ``{"match": True | False | None, "name", "path", "sha256", "note"}``; None: the study records
    no case, so nothing could be checked.
    """
    rec_sha = study.get("case_sha256")
    rec_path = study.get("case_path_resolved") or study.get("case")
    rec_name = study.get("case_name")
    if rec_name is None and rec_path and Path(rec_path).is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            rec_name = tomllib.loads(Path(rec_path).read_text(encoding="utf-8")).get("case", {}).get("name")
        except (OSError, ValueError, AttributeError):
            rec_name = None
    shown = rec_name or (Path(rec_path).stem if rec_path else "an unrecorded case")
    out = {"name": shown, "path": rec_path, "sha256": rec_sha, "match": None, "note": ""}
    if rec_sha:
        out["match"] = rec_sha == sha256
        if not out["match"]:
            out["note"] = (f"another version of {name} (case file sha256 {rec_sha[:12]}... at the study, "
                           f"{sha256[:12]}... now)" if rec_name == name else
                           f"{shown}{f' ({rec_path})' if rec_path else ''}")
    elif rec_path:
        same_path = Path(rec_path).resolve() == case_path.resolve()
        out["match"] = same_path or (rec_name == name if rec_name else None)
        if out["match"] is False:
            out["note"] = f"{shown} ({rec_path})"
        elif out["match"] is None:
            out["note"] = f"the study names {rec_path}, not found here: could not check which case it is of"
    else:
        out["note"] = "the study records no case: could not check which case it is of"
    return out


def code_verification_quick(threads=None) -> dict:
    """Low-resolution code verification (seconds): Poiseuille, Womersley (the time-dependent
    case a pulsatile run rests on), mass conservation, rotation."""
    from .. import verification, verification_extra

    cases = []
    r = verification.poiseuille(8, threads=threads)
    cases.append({"case": "poiseuille", "resolution": 8, "errors": r.errors,
                  "pass": bool(r.errors["velocity_l2"] < 0.1 and r.errors["mass_imbalance"] < 1e-3),
                  "criterion": "velocity L2 < 10 % at 8 cells across, mass imbalance < 1e-3"})
    w = verification.womersley(14, threads=threads)  # 7.2 % at 14 cells, second order (docs/validation.md 1)
    cases.append({"case": "womersley", "resolution": 14, "errors": w.errors,
                  "pass": bool(w.errors["velocity_l2"] < 0.1),
                  "criterion": "velocity L2 < 10 % at 14 cells across (alpha 5, Re 24)"})
    cases.append(verification_extra.mass_conservation(8, threads=threads))
    cases.append(verification_extra.rotation_invariance(6, threads=threads))
    return {"status": "run (quick, low resolution)", "source": "hemotwin.verification(_extra)",
            "cases": cases, "pass": all(c["pass"] for c in cases)}


def test_record(repo_root=None, junit=None) -> dict:
    """The software's own tests: a JUnit XML if given, else ``pytest --collect-only -q`` counts.

    Only a JUnit XML of a test run (pass/fail counts) is evidence for factor 1; collected counts
    are "partial" (``outcome``: present / failed / empty / partial / missing).
    """
    root = Path(repo_root) if repo_root else None
    junit = Path(junit) if junit else None
    if junit and junit.is_file():
        import xml.etree.ElementTree as ET

        t = ET.parse(junit).getroot()
        suites = [t] if t.tag == "testsuite" else list(t.iter("testsuite"))
        if not suites:
            suites = [t]  # a bare <testsuites> carrying the totals
        n = {k: sum(int(float(x.attrib.get(k, 0) or 0)) for x in suites)
             for k in ("tests", "failures", "errors", "skipped")}
        rec = {"status": "junit", "source": str(junit), "collected": n["tests"], "failures": n["failures"],
               "errors": n["errors"], "skipped": n["skipped"]}
        return assess_test_record(rec)
    note = f" (the JUnit file {junit} was not found)" if junit else ""
    if root is None or not (root / "tests").is_dir():
        return {"status": "not available (no tests folder beside the package)" + note, "collected": None,
                "outcome": "missing"}
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "tests"], cwd=root,
                             capture_output=True, text=True, timeout=300, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"status": f"not available: collection failed: {exc}" + note, "collected": None,
                "outcome": "missing"}
    ids = [ln for ln in out.splitlines() if "::" in ln]
    per_tier = {}
    for ln in ids:
        parts = ln.split("/")
        tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
        per_tier[tier] = per_tier.get(tier, 0) + 1
    rec = assess_test_record({"status": "collected (not run by this report)", "source": "pytest --collect-only -q",
                              "collected": len(ids), "per_tier": per_tier})
    rec["status"] += note
    return rec


def assess_test_record(rec: dict) -> dict:
    """Set ``status``/``outcome``/``outcome_detail`` of a test record from its content (in place).

    With JUnit counts (``failures``/``errors`` present): "present, all N pass" or "present, N failed".
    With collected counts only: "partial" (the report did not run them). Else "missing".
    """
    if rec.get("outcome"):
        return rec
    if "failures" in rec or "errors" in rec:
        n = int(rec.get("collected") or 0)
        bad = int(rec.get("failures") or 0) + int(rec.get("errors") or 0)
        skipped = int(rec.get("skipped") or 0)
        src = f"JUnit {rec['source']}" if rec.get("source") else "JUnit"
        if bad:
            rec["outcome"], rec["outcome_detail"] = "failed", f"{bad} of {n} tests failed"
            rec["status"] = (f"present, {bad} failed ({rec.get('failures') or 0} failures, "
                             f"{rec.get('errors') or 0} errors of {n} tests, {skipped} skipped; {src})")
        elif n - skipped <= 0:
            rec["outcome"], rec["outcome_detail"] = "empty", "no test run in the JUnit file"
            rec["status"] = f"present, nothing run ({n} tests, {skipped} skipped; {src})"
        else:
            rec["outcome"], rec["outcome_detail"] = "present", f"all {n - skipped} run tests pass"
            rec["status"] = f"present, all {n - skipped} run tests pass ({skipped} skipped; {src})"
    elif isinstance(rec.get("collected"), int) and rec["collected"] > 0:
        detail = (f"{rec['collected']} tests collected, not run by this report; give a JUnit XML of a test "
                  "run (`pytest --junitxml FILE`, then `hemotwin credibility ... --junit FILE`)")
        rec["outcome"], rec["outcome_detail"], rec["status"] = "partial", detail, "partial: " + detail
    else:
        rec.setdefault("outcome", "missing")
    return rec


# Flow regime of the FDA nozzle by throat Reynolds number (Hariharan 2011, REFERENCE.md sec. 3.4).
def flow_regime(re_throat) -> str:
    """The nozzle's flow regime at ``re_throat`` in the words of REFERENCE.md sec. 3.4."""
    try:
        re = float(re_throat)
    except (TypeError, ValueError):
        return "flow regime not recorded (no re_throat)"
    if re <= 500:
        return "laminar throughout, including the jet"
    if re < 3500:
        return "transitional"
    if re >= 6500:
        return "turbulent downstream of the expansion, transitional inlet"
    return "turbulent downstream of the expansion"


VALIDATION_CRITERION = ("station within if |E| <= 2 u_val (ASME V&V 20, k = 2); the evidence counts as "
                        "passed when at least half of the compared stations are within and every acceptance "
                        "check in 'checks' passes (this report's convention)")


def validation_section(val) -> dict:
    """The validation section from a nozzle ``validation.json`` (a dict, or None: not available).

    ``outcome``: "present" (N of M stations within, at least half, checks pass), "failed" (fewer than
    half within, or an acceptance check failed), "empty" (nothing compared: no experimental data for
    the orientation, ``n_compared = 0``), "missing".
    """
    if not val:
        return {"status": "not available: run `hemotwin validate fda-nozzle --out OUT/validation`",
                "outcome": "missing"}
    stations = val.get("stations") or []
    n_cmp = val.get("n_compared")
    if n_cmp is None:
        n_cmp = sum(1 for st in stations if isinstance(st, dict) and st.get("within") is not None)
    n_in = val.get("n_within")
    if n_in is None:
        n_in = sum(1 for st in stations if isinstance(st, dict) and st.get("within"))
    re, orient = val.get("re_throat"), val.get("orientation")
    regime = flow_regime(re)
    what = (f"FDA nozzle benchmark (bench test, Re {re if re is not None else '?'} "
            f"{orient or 'orientation not recorded'}, {regime})")
    failed_checks = sorted(k for k, c in (val.get("checks") or {}).items()
                           if isinstance(c, dict) and c.get("pass") is False)
    no_unum = any("u_num" in (st.get("not_estimated") or []) for st in stations if isinstance(st, dict))
    caveat = "; u_val without u_num (one resolution run)" if no_unum else ""
    if not n_cmp:
        why = (val.get("data") or {}).get("note") if isinstance(val.get("data"), dict) else None
        outcome, detail = "empty", "nothing compared (no experimental data for this orientation)"
        status = f"present, {detail}: {what} claims nothing" + (f"; {why}" if why else "")
    else:
        counts = f"{n_in} of {n_cmp} stations within 2 u_val"
        bad = []
        if 2 * n_in < n_cmp:
            bad.append(f"{counts} (fewer than half)")
        if failed_checks:
            bad.append("failed checks: " + ", ".join(failed_checks))
        if bad:
            outcome, detail = "failed", "; ".join(bad)
            status = f"present, FAILED: {detail}{caveat}: {what}"
        else:
            outcome, detail = "present", counts
            status = f"present: {counts}{caveat}: {what}"
    return {"status": status, "outcome": outcome, "outcome_detail": detail, "flow_regime": regime,
            "criterion": VALIDATION_CRITERION,
            "applicability": "generic code validation of jet/recirculation flow through a "
                             "stenosis-like nozzle; not patient-specific",
            "summary": {k: val.get(k) for k in ("re_throat", "orientation", "n_within", "n_compared",
                                                "global_error_Eg", "checks", "uncertainty_model")},
            "stations": val.get("stations")}


def verification_section(ver) -> dict:
    """The code-verification section from its result (a dict, or None: not run), status from its content.

    ``outcome``: "present" (every case passes), "failed" (a case or the overall result fails),
    "unknown" (no pass/fail recorded), "missing".
    """
    if not ver:
        return {"status": "not run", "cases": [], "outcome": "missing"}
    sec = dict(ver)
    cases = [c for c in (sec.get("cases") or []) if isinstance(c, dict)]
    sec.setdefault("cases", [])
    run = str(sec.get("status") or "")
    sec["run_status"] = run
    how = f"; {run}" if run else ""
    failing = [str(c.get("case", f"case {i + 1}")) for i, c in enumerate(cases) if c.get("pass") is False]
    if failing or sec.get("pass") is False:
        detail = ", ".join(failing) if failing else "overall pass is false"
        sec.update(outcome="failed", outcome_detail=detail, status=f"present, FAILED: {detail}{how}")
    elif (cases and all(c.get("pass") is True for c in cases)) or (not cases and sec.get("pass") is True):
        names = ", ".join(str(c.get("case")) for c in cases)
        detail = f"all {len(cases)} cases pass" + (f" ({names})" if names else "")
        sec.update(outcome="present", outcome_detail=detail, status=f"present, all pass ({names or 'overall'}{how})")
    else:
        sec.update(outcome="unknown", outcome_detail="no pass/fail recorded",
                   status=f"present, outcome not recorded (no pass/fail in the verification result{how})")
    return sec


def _outcome(s) -> str:
    """present / warning / failed / empty / partial / unknown / missing / other_case of a report section."""
    if not isinstance(s, dict):
        return "missing"
    if (s.get("study_case") or {}).get("match") is False:
        return "other_case"
    if s.get("outcome"):
        return str(s["outcome"])
    status = str(s.get("status") or "")
    if not status or status.startswith(("not", "INCOMPLETE")):
        return "missing"
    return "warning" if "WARNING" in status else "present"


def _status_words(s, fda: bool) -> str:
    """A section's status in the words of a credibility factor (``fda`` False) or an FDA evidence
    category (True): never plain "evidence present" / "provided" unless the evidence holds."""
    o = _outcome(s)
    d = (s.get("outcome_detail") if isinstance(s, dict) else None)
    if o == "other_case":
        other = s.get("study_case") or {}
        who = other.get("note") or other.get("name")
        return f"not provided (the study is of {who})" if fda else f"not applicable: the study is of {who}"
    words = {  # outcome: (credibility factor, FDA category)
        "present": ("evidence present", "provided"),
        "warning": ("evidence present, with a warning (see the section)",
                    "provided, with a warning (see the section)"),
        "failed": (f"present, FAILED: {d or 'see the section'}", f"present, failed: {d or 'see the section'}"),
        "empty": (f"no evidence: {d or 'nothing compared'}", "not provided (nothing compared)"),
        "partial": (f"partial: {d or 'see the section'}",) * 2,
        "unknown": ("present, outcome not recorded (see the section)", "present, outcome not recorded"),
    }
    default = ("no evidence yet", "not provided")
    return words.get(o, default)[1 if fda else 0]


def factor_status(s) -> str:
    """The credibility-factor status of a section."""
    return _status_words(s, fda=False)


def fda_status(s) -> str:
    """The FDA evidence-category status of a section."""
    return _status_words(s, fda=True)


def build_report(case_path, out_dir, convergence_json=None, validation_json=None, sensitivity_json=None,
                 verification_json=None, run_verification: bool = True, junit=None, threads=None) -> dict:
    """Assemble the credibility report of one case and write JSON + HTML into ``out_dir``.

    Evidence files not given are looked for in ``out_dir`` (``convergence/convergence.json``,
    ``sensitivity/sensitivity.json``, ``validation/validation.json``); missing evidence is
    reported as such, never invented.
    """
    from .. import __version__
    from ..report.provenance import source_revision

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    case_path = Path(case_path)
    raw = case_path.read_bytes()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    data = tomllib.loads(raw.decode())
    cou = data.get("context_of_use", {})
    name = data.get("case", {}).get("name", case_path.stem)
    qoi, ctx = cou.get("question_of_interest", ""), cou.get("context", "")
    infl = cou.get("model_influence", "medium")
    cons = cou.get("decision_consequence", "medium")

    def find(given, default):
        return _load_json(given) if given else _load_json(out_dir / default)

    conv = find(convergence_json, "convergence/convergence.json")
    val = find(validation_json, "validation/validation.json")
    sens = find(sensitivity_json, "sensitivity/sensitivity.json")
    ver = find(verification_json, "verification.json")
    if ver is None and run_verification:
        ver = code_verification_quick(threads)
    sha = hashlib.sha256(raw).hexdigest()
    # evidence of another case (or of another version of this case file) is not this case's
    calc_sec = _study_section(conv, "GCI study present", case_path, sha, name,
                              "not available: run `hemotwin convergence CASE.toml --out OUT/convergence`")[0]
    if conv and calc_sec["study_case"]["match"] is not False and conv.get("all_runs_converged") is False:
        calc_sec["status"] = ("GCI study present, WARNING: not every run converged; "
                              + (conv.get("warning") or "the GCI includes iteration error"))
    sens_sec = _study_section(sens, "sensitivity study present", case_path, sha, name,
                              "not available: run `hemotwin sensitivity CASE.toml --out OUT/sensitivity`")[0]
    repo_root = Path(__file__).resolve().parents[3]
    report = {
        "schema_version": SCHEMA_VERSION,
        "generated_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "case": {"path": str(case_path), "name": name, "sha256": sha,
                 "description": data.get("case", {}).get("description", "")},
        "context_of_use": {"question_of_interest": qoi, "context": ctx,
                           "status": "declared in the case file" if (qoi and ctx) else
                           "INCOMPLETE: set [context_of_use] question_of_interest and context in the case file"},
        "model_risk": {"model_influence": infl, "decision_consequence": cons,
                       "risk": RISK_MATRIX.get((infl, cons), "high"),
                       "method": "influence x consequence (the V&V 40 / FDA model-risk construct, REFERENCE.md 1.1); "
                                 "the matrix entries are this project's choice"},
        "credibility_factors": [],
        "fda_evidence_categories": [],
        "code_verification": verification_section(ver),
        "calculation_verification": calc_sec,
        "validation": validation_section(val),
        "sensitivity": sens_sec,
        "provenance": {"hemotwin_version": __version__, **source_revision(),
                       "python": sys.version.split()[0], "platform": platform.platform(),
                       "numpy": __import__("numpy").__version__,
                       "command": " ".join(sys.argv)},
        "test_record": assess_test_record(dict(test_record(repo_root, junit))),
        "unverified_references": unverified_relied_on(data),
    }
    for fid, fname, cat, sec, read in FACTORS:
        report["credibility_factors"].append({
            "id": fid, "factor": fname, "category": cat, "evidence": sec,
            "status": factor_status(report.get(sec, {})), "unverified": not read})
    for cat, sec in FDA_CATEGORIES:
        report["fda_evidence_categories"].append({
            "category": cat, "section": sec, "status": fda_status(report.get(sec, {})) if sec else "not provided"})
    (out_dir / "credibility.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    (out_dir / "credibility.html").write_text(render_html(report, out_dir), encoding="utf-8")
    return report


def _study_section(study, present: str, case_path: Path, sha: str, name: str, missing: str):
    """The report section of a study JSON: its content with ``study_case`` (which case it is of);
    a study of another case is marked "not applicable", never "present"."""
    if not study:
        return {"status": missing}, None
    who = study_case(study, case_path, sha, name)
    if who["match"] is False:
        status = f"not applicable: the study is of {who['note']}, not of this case ({name})"
    elif who["match"] is None:
        status = f"{present} ({who['note']})"
    else:
        status = present
    return {**study, "status": status, "study_case": who}, who


def _study_of(sec: dict) -> str:
    """One HTML paragraph naming the case a study came from."""
    e = html.escape
    who = sec.get("study_case")
    if not who:
        return ""
    sha = f", sha256 {e(who['sha256'][:16])}…" if who.get("sha256") else ""
    path = f" (<code>{e(str(who['path']))}</code>{sha})" if who.get("path") else ""
    cls = " class='warn'" if who.get("match") is not True else ""
    over = sec.get("overrides")
    over = f"; overrides {e(json.dumps(over, default=str))}" if over else ""
    return f"<p{cls}>Study of case <b>{e(str(who.get('name')))}</b>{path}{over}.</p>"


def _table(rows, cols):
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)[:200]
    return "" if v is None else str(v)


def _warn(sec) -> str:
    """`` class='warn'`` for a section whose evidence is not plainly present."""
    return "" if _outcome(sec) == "present" else " class='warn'"


def render_html(rep: dict, out_dir: Path) -> str:
    """Static HTML (no scripts) of the report; figures linked when present in ``out_dir``."""
    e = html.escape
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>Credibility report: {e(rep['case']['name'])}"
             "</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
             "collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}h2{border-bottom:1px solid #888}"
             ".warn{color:#a40}</style></head><body>"),
             f"<h1>Credibility report: {e(rep['case']['name'])}</h1>",
             ("<p>Structure after ASME V&amp;V 40-2018 and the FDA guidance “Assessing the Credibility of "
             "Computational Modeling and Simulation in Medical Device Submissions” (2023). Research software, "
             "not a medical device.</p>"),
             (f"<p>Generated {e(rep['generated_utc'])}; case <code>{e(rep['case']['path'])}</code> "
             f"(sha256 {e(rep['case']['sha256'][:16])}…)</p>")]
    c = rep["context_of_use"]
    parts += ["<h2>1. Question of interest and context of use</h2>",
              f"<p><b>Question of interest:</b> {e(c['question_of_interest'] or '—')}</p>",
              f"<p><b>Context of use:</b> {e(c['context'] or '—')}</p><p>{e(c['status'])}</p>"]
    m = rep["model_risk"]
    parts += ["<h2>2. Model risk</h2>",
              (f"<p>Model influence <b>{e(m['model_influence'])}</b> × decision consequence "
              f"<b>{e(m['decision_consequence'])}</b> → model risk <b>{e(m['risk'])}</b>. {e(m['method'])}</p>"),
              "<h2>3. Credibility factors (V&amp;V 40 Table 5-1)</h2>",
              _table(rep["credibility_factors"], ["id", "factor", "category", "evidence", "status", "unverified"]),
              "<h3>FDA 2023 categories of credibility evidence</h3>",
              _table(rep["fda_evidence_categories"], ["category", "section", "status"])]
    cv = rep["code_verification"]
    parts += ["<h2>4. Code verification</h2>", f"<p{_warn(cv)}>{e(str(cv.get('status')))}</p>",
              _table(cv.get("cases", []), ["case", "resolution", "pass", "errors", "mass_imbalance",
                                           "max_rel_spread"])]
    calc = rep["calculation_verification"]
    warn = " class='warn'" if "WARNING" in str(calc.get("status")) or str(calc.get("status")).startswith(
        "not applicable") else ""
    parts += ["<h2>5. Calculation verification (GCI)</h2>", f"<p{warn}>{e(str(calc.get('status')))}</p>",
              _study_of(calc)]
    if calc.get("runs"):
        parts.append(_table(calc["runs"], ["cells_across", "status", "converged"]))
    if "table" in calc:
        rows = [{"quantity": k, **v} for k, v in calc["table"].items() if v.get("qoi")]
        parts.append(_table(rows, ["quantity", "f", "p", "p_used", "safety_factor", "f_ext", "gci_fine",
                                   "asymptotic_ratio", "convergence", "p_choice"]))
        if (out_dir / "convergence" / "convergence.png").is_file():
            parts.append("<img src='convergence/convergence.png' width='900'>")
    v = rep["validation"]
    parts += ["<h2>6. Validation evidence</h2>", f"<p{_warn(v)}>{e(str(v.get('status')))}</p>"]
    if "summary" in v:
        parts.append(f"<p>Applicability: {e(v['applicability'])}</p>")
        parts.append(f"<p>Flow regime: {e(str(v.get('flow_regime')))}. Criterion: {e(str(v.get('criterion')))}</p>")
        parts.append(f"<pre>{e(json.dumps(v['summary'], indent=1, default=str))}</pre>")
        parts.append(_table(v.get("stations") or [], ["z_m", "S", "D", "E", "u_D", "u_num", "u_input",
                                                      "u_val", "within"]))
        for fig in ("centerline_velocity.png", "radial_profiles.png", "pressure.png"):
            if (out_dir / "validation" / fig).is_file():
                parts.append(f"<img src='validation/{fig}' width='900'>")
    s = rep["sensitivity"]
    warn = " class='warn'" if str(s.get("status")).startswith("not applicable") else ""
    parts += ["<h2>7. Sensitivity</h2>", f"<p{warn}>{e(str(s.get('status')))}</p>", _study_of(s)]
    if "inputs" in s:
        rows = []
        for label, row in s["inputs"].items():
            for q, val in row["sensitivity"].items():
                if q in s.get("qoi", []):
                    rows.append({"input": label, "output": q, "normalised sensitivity": val})
        parts.append(_table(rows, ["input", "output", "normalised sensitivity"]))
        if s.get("skipped"):
            parts.append(f"<p class='warn'>Skipped: {e(json.dumps(s['skipped']))}</p>")
    p = rep["provenance"]
    parts += ["<h2>8. Provenance</h2>", _table([p], list(p.keys()))]
    t = rep["test_record"]
    parts += ["<h2>9. Software test record</h2>", f"<p{_warn(t)}>{e(str(t.get('status')))}</p>",
              _table([t], list(t.keys()))]
    parts += ["<h2>10. Reference items marked [UNVERIFIED] that this report relies on</h2><ul>"]
    parts += [f"<li class='warn'>{e(u)}</li>" for u in rep["unverified_references"]]
    parts += ["</ul></body></html>"]
    return "\n".join(parts)
