# SPDX-License-Identifier: Apache-2.0
"""Credibility report: every V&V 40 / FDA section present, JSON valid against the schema, HTML renders."""
import json

import pytest
from hemotwin.credibility import report as cred

CASE = """
[case]
name = "cred_test"
description = "schema test case"
[context_of_use]
question_of_interest = "Is the peak-to-peak gradient across the coarctation >= 20 mmHg at rest?"
context = "Pre-interventional planning aid; the model output is one input beside catheter data."
model_influence = "medium"
decision_consequence = "high"
"""


@pytest.fixture()
def case_file(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE, encoding="utf-8")
    return p


def _fake_evidence(out):
    (out / "validation").mkdir(parents=True)
    (out / "validation" / "validation.json").write_text(json.dumps({
        "re_throat": 500, "orientation": "sudden-expansion", "n_within": 9, "n_compared": 12,
        "global_error_Eg": 0.05, "checks": {}, "uncertainty_model": {},
        "stations": [{"z_m": 0.0, "S": 0.74, "D": 0.728, "E": 0.012, "u_val": 0.03, "within": True}]}), encoding="utf-8")
    (out / "convergence").mkdir()
    (out / "convergence" / "convergence.json").write_text(json.dumps({
        "table": {"gradient_mmhg": {"h": [1, 1.5, 2.25], "f": [10.0, 10.4, 11.3], "p": 2.0, "f_ext": 9.7,
                                    "gci_fine": 0.03, "asymptotic_ratio": 1.02, "convergence": "monotone",
                                    "safety_factor": 1.25, "qoi": True}}}), encoding="utf-8")


def test_report_sections_schema_and_html(case_file, tmp_path, monkeypatch):
    jsonschema = pytest.importorskip("jsonschema")
    # collecting the whole suite takes minutes on a shared machine; the JUnit path is tested below
    monkeypatch.setattr(cred, "test_record", lambda root, junit: {"status": "stub", "collected": 3})
    out = tmp_path / "out"
    out.mkdir()
    _fake_evidence(out)
    rep = cred.build_report(case_file, out, verification_json=None, run_verification=True, threads=1)
    data = json.loads((out / "credibility.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, cred.SCHEMA)
    assert data["model_risk"]["risk"] == "high"  # medium influence x high consequence
    assert data["code_verification"]["pass"] is True
    assert {c["case"] for c in data["code_verification"]["cases"]} >= {"poiseuille", "womersley"}
    assert data["validation"]["summary"]["n_within"] == 9
    assert data["calculation_verification"]["status"].startswith("GCI")
    assert data["sensitivity"]["status"].startswith("not available")
    assert data["test_record"]["collected"] is None or data["test_record"]["collected"] > 0
    assert sum(f["unverified"] for f in data["credibility_factors"]) == 8  # factors 6-13
    html = (out / "credibility.html").read_text(encoding="utf-8")
    for heading in ("Question of interest", "Model risk", "Credibility factors", "Code verification",
                    "Calculation verification", "Validation evidence", "Sensitivity", "Provenance",
                    "test record", "UNVERIFIED"):
        assert heading in html
    assert rep["case"]["name"] == "cred_test"


def test_schema_rejects_missing_section(case_file, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    rep = cred.build_report(case_file, tmp_path, run_verification=False)
    bad = dict(rep)
    del bad["validation"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, cred.SCHEMA)
    assert rep["code_verification"]["status"] == "not run"


def test_test_record_from_junit(tmp_path):
    x = tmp_path / "junit.xml"
    x.write_text('<testsuites><testsuite name="pytest" tests="12" failures="1" errors="0" skipped="2">'
                 '</testsuite></testsuites>', encoding="utf-8")
    r = cred.test_record(None, x)
    assert (r["collected"], r["failures"], r["skipped"]) == (12, 1, 2)
