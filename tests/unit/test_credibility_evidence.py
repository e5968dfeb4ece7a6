# SPDX-License-Identifier: Apache-2.0
"""Credibility report: section statuses come from the evidence's own outcome (failed validation,
nothing compared, failed verification, collected-only tests), the flow-regime wording follows
Re_throat, and the [UNVERIFIED] items follow what the case relies on (fake evidence; fast)."""
import json

import pytest
from hemotwin.credibility import report as cred

CASE = """
[case]
name = "cred_evidence"
[context_of_use]
question_of_interest = "Is the gradient >= 20 mmHg?"
context = "Planning aid beside catheter data."
"""
VALIDATION_FACTORS = (6, 8, 9, 10, 11, 13)


def _case(tmp_path, extra=""):
    p = tmp_path / "case.toml"
    p.write_text(CASE + extra, encoding="utf-8")
    return p


def _validation(tmp_path, n_within, n_compared, re=500, orientation="sudden-expansion", checks=None,
                name="validation.json"):
    stations = [{"z_m": 0.01 * k, "S": 0.7, "D": 0.7 if n_compared else None,
                 "within": (k < n_within) if k < n_compared else None, "not_estimated": []}
                for k in range(max(n_compared, 3))]
    p = tmp_path / name
    p.write_text(json.dumps({"re_throat": re, "orientation": orientation, "n_within": n_within,
                             "n_compared": n_compared, "global_error_Eg": None, "checks": checks or {},
                             "uncertainty_model": {}, "stations": stations,
                             "data": {"note": None if n_compared else "no conical-diffuser data files found"}}),
                 encoding="utf-8")
    return p


def _verification(tmp_path, passes):
    p = tmp_path / "verification.json"
    cases = [{"case": n, "pass": ok} for n, ok in passes.items()]
    p.write_text(json.dumps({"status": "cached", "cases": cases, "pass": all(passes.values())}), encoding="utf-8")
    return p


def _report(tmp_path, monkeypatch, record=None, case_extra="", **kw):
    monkeypatch.setattr(cred, "test_record", lambda root, junit: dict(
        record or {"status": "not available (stub)", "collected": None}))
    out = tmp_path / "out"
    rep = cred.build_report(_case(tmp_path, case_extra), out, run_verification=False, **kw)
    saved = json.loads((out / "credibility.json").read_text(encoding="utf-8"))
    html = (out / "credibility.html").read_text(encoding="utf-8")
    assert saved["validation"]["status"] == rep["validation"]["status"]
    return rep, html


def _factors(rep):
    return {f["id"]: f["status"] for f in rep["credibility_factors"]}


def _fda(rep):
    return {c["category"]: c["status"] for c in rep["fda_evidence_categories"]}


def test_validation_zero_of_twelve_is_failed_not_present(tmp_path, monkeypatch):
    rep, html = _report(tmp_path, monkeypatch, validation_json=_validation(tmp_path, 0, 12))
    v = rep["validation"]
    assert v["outcome"] == "failed" and v["status"].startswith("present, FAILED: 0 of 12 stations")
    f = _factors(rep)
    for fid in VALIDATION_FACTORS:
        assert f[fid].startswith("present, FAILED") and not f[fid].startswith("evidence present")
    assert _fda(rep)["bench test validation"].startswith("present, failed")
    assert "present, FAILED: 0 of 12" in html
    # the old keys stay
    assert v["summary"]["n_within"] == 0 and v["applicability"] and len(v["stations"]) == 12


def test_validation_failed_check_is_failed(tmp_path, monkeypatch):
    checks = {"jet_intact_at_last_station": {"pass": False}, "mass_error": {"pass": True}}
    rep, _ = _report(tmp_path, monkeypatch, validation_json=_validation(tmp_path, 10, 12, checks=checks))
    assert rep["validation"]["outcome"] == "failed"
    assert "failed checks: jet_intact_at_last_station" in rep["validation"]["status"]


def test_validation_nothing_compared_claims_nothing(tmp_path, monkeypatch):
    rep, html = _report(tmp_path, monkeypatch,
                        validation_json=_validation(tmp_path, 0, 0, orientation="conical-diffuser"))
    v = rep["validation"]
    assert v["outcome"] == "empty"
    assert v["status"].startswith("present, nothing compared (no experimental data for this orientation)")
    f = _factors(rep)
    for fid in VALIDATION_FACTORS:
        assert f[fid].startswith("no evidence: nothing compared")
    assert _fda(rep)["bench test validation"] == "not provided (nothing compared)"
    assert "nothing compared" in html


def test_validation_passing_and_regime_from_re(tmp_path, monkeypatch):
    rep, _ = _report(tmp_path, monkeypatch, validation_json=_validation(tmp_path, 10, 12, re=500))
    v = rep["validation"]
    assert v["outcome"] == "present" and v["status"].startswith("present: 10 of 12 stations within 2 u_val")
    assert "laminar throughout" in v["status"] and "transitional" not in v["status"]
    assert all(_factors(rep)[fid] == "evidence present" for fid in VALIDATION_FACTORS)
    assert _fda(rep)["bench test validation"] == "provided"
    assert "transitional" in cred.validation_section(json.loads(
        _validation(tmp_path, 10, 12, re=2000, name="v2.json").read_text()))["status"]
    s35 = cred.validation_section(json.loads(_validation(tmp_path, 10, 12, re=3500, name="v3.json").read_text()))
    assert "turbulent downstream of the expansion" in s35["status"] and "laminar" not in s35["status"]


def test_verification_failure_is_reported(tmp_path, monkeypatch):
    rep, html = _report(tmp_path, monkeypatch,
                        verification_json=_verification(tmp_path, {"poiseuille": True, "mass_conservation": False}))
    cv = rep["code_verification"]
    assert cv["status"].startswith("present, FAILED: mass_conservation") and cv["outcome"] == "failed"
    assert cv["pass"] is False and len(cv["cases"]) == 2
    assert _factors(rep)[2].startswith("present, FAILED")
    assert _fda(rep)["code verification results"].startswith("present, failed")
    assert "present, FAILED: mass_conservation" in html

    (tmp_path / "out").rename(tmp_path / "out_failed")
    rep, _ = _report(tmp_path, monkeypatch,
                     verification_json=_verification(tmp_path, {"poiseuille": True, "rotation": True}))
    assert rep["code_verification"]["status"].startswith("present, all pass")
    assert _factors(rep)[2] == "evidence present"
    assert _fda(rep)["code verification results"] == "provided"


def test_collected_tests_are_partial(tmp_path, monkeypatch):
    rep, _ = _report(tmp_path, monkeypatch, record={"status": "collected (not run by this report)",
                                                    "collected": 42})
    assert rep["test_record"]["status"].startswith("partial: 42 tests collected, not run by this report")
    assert _factors(rep)[1].startswith("partial: 42 tests collected") and "JUnit" in _factors(rep)[1]


@pytest.mark.parametrize("xml,counts,status,factor", [
    # every suite of the file is summed, not only the first
    ('<testsuites><testsuite tests="10" failures="2" errors="1" skipped="1"/>'
     '<testsuite tests="5" failures="0" errors="0" skipped="0"/></testsuites>',
     (15, 2, 1), "present, 3 failed", "present, FAILED"),
    ('<testsuite tests="7" failures="0" errors="0" skipped="2"/>',
     (7, 0, 0), "present, all 5 run tests pass", "evidence present"),
])
def test_junit_counts_decide_factor_1(tmp_path, xml, counts, status, factor):
    (tmp_path / "run.xml").write_text(xml, encoding="utf-8")
    rec = cred.test_record(None, tmp_path / "run.xml")
    assert (rec["collected"], rec["failures"], rec["errors"]) == counts
    assert rec["status"].startswith(status) and cred.factor_status(rec).startswith(factor)


def test_test_record_collects_without_junit(tmp_path):
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_tiny.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n",
                                                 encoding="utf-8")
    r = cred.test_record(root, tmp_path / "missing.xml")
    assert r["collected"] == 2 and r["outcome"] == "partial"
    assert r["status"].startswith("partial: 2 tests collected") and "missing.xml was not found" in r["status"]


def test_unverified_items_follow_the_case():
    base = cred.unverified_relied_on({})
    joined = "\n".join(base)
    # defaults: a device is sized (deploy), the generic catalog, RCR outlets with Rp/R 0.09, TRT
    assert "[UNVERIFIED]" in joined and "u_input" in joined and "~10 % flow uncertainty" in joined
    assert "Generic device catalog" in joined and "0.09" in joined and "3/16" in joined
    assert "Coronary stent-sizing rule" in joined  # indication generic -> the coronary rule
    coa = "\n".join(cred.unverified_relied_on({"devices": {"indication": "coarctation"}}))
    assert "Coarctation stent-sizing rule" in coa and "[UNVERIFIED rule]" in coa and "REFERENCE.md sec. 4" in coa
    none = "\n".join(cred.unverified_relied_on({
        "devices": {"deploy": False}, "numerics": {"collision": "regularized"},
        "physiology": {"outlets": {"model": "resistance"}}}))
    assert "sizing rule" not in none and "device catalog" not in none and "0.09" not in none and "3/16" not in none
    pinned = "\n".join(cred.unverified_relied_on({"devices": {"deploy": False, "pinned": {"diameter": "12 mm"}}}))
    assert "sizing rule" not in pinned and "Generic device catalog" in pinned
    puls = "\n".join(cred.unverified_relied_on({"run": {"mode": "pulsatile"},
                                                 "physiology": {"inflow": {"waveform": "builtin:aortic"}}}))
    assert "70 bpm" in puls and "Built-in inflow waveform" in puls and "RRT" in puls
    assert all(u in base for u in cred.UNVERIFIED_RELIED_ON)


def test_report_lists_case_dependent_unverified_items(tmp_path, monkeypatch):
    rep, html = _report(tmp_path, monkeypatch, case_extra='[devices]\nindication = "coarctation"\n')
    assert any("Coarctation stent-sizing rule" in u for u in rep["unverified_references"])
    assert "Coarctation stent-sizing rule" in html
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads((tmp_path / "out" / "credibility.json").read_text(encoding="utf-8")), cred.SCHEMA)
