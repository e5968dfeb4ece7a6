# SPDX-License-Identifier: Apache-2.0
"""Credibility report of one case in the structure of ASME V&V 40-2018 and the FDA 2023 guidance.

Sections: question of interest and context of use, model risk, credibility factors, code
verification, calculation verification (GCI), validation, sensitivity, provenance, test record,
and the [UNVERIFIED] reference items relied on. Writes ``credibility.json`` (checked against
``SCHEMA``) and ``credibility.html``.
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
]
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


def _git(*args, cwd=None):
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def code_verification_quick(threads=None) -> dict:
    """Low-resolution code verification (seconds): Poiseuille, mass conservation, rotation."""
    from .. import verification, verification_extra

    cases = []
    r = verification.poiseuille(8, threads=threads)
    cases.append({"case": "poiseuille", "resolution": 8, "errors": r.errors,
                  "pass": bool(r.errors["velocity_l2"] < 0.1 and r.errors["mass_imbalance"] < 1e-3),
                  "criterion": "velocity L2 < 10 % at 8 cells across, mass imbalance < 1e-3"})
    cases.append(verification_extra.mass_conservation(8, threads=threads))
    cases.append(verification_extra.rotation_invariance(6, threads=threads))
    return {"status": "run (quick, low resolution)", "source": "hemotwin.verification(_extra)",
            "cases": cases, "pass": all(c["pass"] for c in cases)}


def test_record(repo_root=None, junit=None) -> dict:
    """The software's own tests: a JUnit XML if given/found, else ``pytest --collect-only -q`` counts."""
    root = Path(repo_root) if repo_root else None
    junit = Path(junit) if junit else None
    if junit and junit.is_file():
        import xml.etree.ElementTree as ET

        t = ET.parse(junit).getroot()
        suite = t if t.tag == "testsuite" else t.find("testsuite")
        a = suite.attrib if suite is not None else {}
        return {"status": "junit", "source": str(junit), "collected": int(a.get("tests", 0)),
                "failures": int(a.get("failures", 0)), "errors": int(a.get("errors", 0)),
                "skipped": int(a.get("skipped", 0))}
    if root is None or not (root / "tests").is_dir():
        return {"status": "not available (no tests folder beside the package)", "collected": None}
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "tests"], cwd=root,
                             capture_output=True, text=True, timeout=300, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"status": f"collection failed: {exc}", "collected": None}
    ids = [ln for ln in out.splitlines() if "::" in ln]
    per_tier = {}
    for ln in ids:
        parts = ln.split("/")
        tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
        per_tier[tier] = per_tier.get(tier, 0) + 1
    return {"status": "collected (not run by this report)", "source": "pytest --collect-only -q",
            "collected": len(ids), "per_tier": per_tier}


def build_report(case_path, out_dir, convergence_json=None, validation_json=None, sensitivity_json=None,
                 verification_json=None, run_verification: bool = True, junit=None, threads=None) -> dict:
    """Assemble the credibility report of one case and write JSON + HTML into ``out_dir``.

    Evidence files not given are looked for in ``out_dir`` (``convergence/convergence.json``,
    ``sensitivity/sensitivity.json``, ``validation/validation.json``); missing evidence is
    reported as such, never invented.
    """
    from .. import __version__

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
        "code_verification": ver or {"status": "not run", "cases": []},
        "calculation_verification": calc_sec,
        "validation": ({"status": "FDA nozzle benchmark (bench test, laminar/transitional jet)",
                        "applicability": "generic code validation of jet/recirculation flow through a "
                                         "stenosis-like nozzle; not patient-specific",
                        "summary": {k: val.get(k) for k in ("re_throat", "orientation", "n_within",
                                                            "n_compared", "global_error_Eg", "checks",
                                                            "uncertainty_model")},
                        "stations": val.get("stations")} if val else
                       {"status": "not available: run `hemotwin validate fda-nozzle --out OUT/validation`"}),
        "sensitivity": sens_sec,
        "provenance": {"hemotwin_version": __version__, "git_commit": _git("rev-parse", "HEAD", cwd=repo_root),
                       "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo_root)),
                       "python": sys.version.split()[0], "platform": platform.platform(),
                       "numpy": __import__("numpy").__version__,
                       "command": " ".join(sys.argv)},
        "test_record": test_record(repo_root, junit),
        "unverified_references": UNVERIFIED_RELIED_ON,
    }
    for fid, fname, cat, sec, read in FACTORS:
        s = report.get(sec, {})
        status = s.get("status", "") if isinstance(s, dict) else ""
        have = bool(status) and not status.startswith(("not", "INCOMPLETE"))
        other = (s.get("study_case") or {}) if isinstance(s, dict) else {}
        if other.get("match") is False:
            fstatus = f"not applicable: the study is of {other.get('note') or other.get('name')}"
        elif have and "WARNING" in status:
            fstatus = "evidence present, with a warning (see the section)"
        else:
            fstatus = "evidence present" if have else "no evidence yet"
        report["credibility_factors"].append({
            "id": fid, "factor": fname, "category": cat, "evidence": sec,
            "status": fstatus, "unverified": not read})
    for cat, sec in FDA_CATEGORIES:
        s = report.get(sec, {}) if sec else {}
        have = bool(sec) and not str(s.get("status", "not")).startswith(("not", "INCOMPLETE"))
        other = s.get("study_case") or {}
        report["fda_evidence_categories"].append({
            "category": cat, "section": sec,
            "status": "provided" if have else
            (f"not provided (the study is of {other.get('note') or other.get('name')})"
             if other.get("match") is False else "not provided")})
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
    parts += ["<h2>4. Code verification</h2>", f"<p>{e(str(cv.get('status')))}</p>",
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
    parts += ["<h2>6. Validation evidence</h2>", f"<p>{e(str(v.get('status')))}</p>"]
    if "summary" in v:
        parts.append(f"<p>Applicability: {e(v['applicability'])}</p>")
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
    parts += ["<h2>9. Software test record</h2>", _table([t], list(t.keys()))]
    parts += ["<h2>10. Reference items marked [UNVERIFIED] that this report relies on</h2><ul>"]
    parts += [f"<li class='warn'>{e(u)}</li>" for u in rep["unverified_references"]]
    parts += ["</ul></body></html>"]
    return "\n".join(parts)
