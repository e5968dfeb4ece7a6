# SPDX-License-Identifier: Apache-2.0
"""Outlet flow fractions and per-port values, --set parsing, phantom options, and the bookkeeping
of the convergence / sensitivity studies and the credibility report (fake runs; fast)."""
import json
import math

import pytest
from hemotwin.cli import main as cli_main
from hemotwin.config import CaseError, case_from_dict
from hemotwin.config.overrides import parse_set_items
from hemotwin.credibility import report as cred
from hemotwin.credibility import studies
from hemotwin.solver.outlets import default_outlets, target_flow_split

BASE = {"image": {"phantom": "aortic_arch"}, "physiology": {"cardiac_output": "5 L/min"}}
PORT = "physiology.outlets.ports.outlet_1"


def _one_line_case_error(overrides, data=None):
    with pytest.raises(CaseError) as e:
        case_from_dict(data or BASE, "case.toml", overrides)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------- 1. flow fractions
def test_fraction_one_leaving_other_outlets_without_flow_is_refused():
    radii = {"outlet_1": 1e-3, "outlet_2": 1e-3}
    with pytest.raises(ValueError) as e:
        target_flow_split(radii, 3.0, {"outlet_1": 1.0})
    msg = str(e.value)
    assert "physiology.outlets.ports.outlet_1.flow_fraction = 1" in msg
    assert "no flow for outlet_2" in msg and "\n" not in msg
    # the same through default_outlets (the pipeline's call): an error, not an inf resistance and a NaN
    with pytest.raises(ValueError, match="no flow for outlet_2"):
        default_outlets(radii, 1e-4, 12000.0, flow_fractions={"outlet_1": 1.0})
    # within 1e-9 of 1 counts as 1
    with pytest.raises(ValueError, match="no flow"):
        target_flow_split({"a": 1e-3, "b": 1e-3, "c": 1e-3}, 3.0, {"a": 0.6, "b": 0.4 - 1e-12})


def test_fractions_over_one_or_not_summing_to_one_are_refused():
    radii = {"outlet_1": 1e-3, "outlet_2": 1e-3, "outlet_3": 1e-3}
    with pytest.raises(ValueError, match=r"sum to 1\.3; expected a total of at most 1"):
        target_flow_split(radii, 3.0, {"outlet_1": 0.7, "outlet_2": 0.6})
    with pytest.raises(ValueError, match="every outlet has a prescribed flow fraction"):
        target_flow_split({"outlet_1": 1e-3, "outlet_2": 1e-3}, 3.0, {"outlet_1": 0.5, "outlet_2": 0.3})
    # what stays valid: a partial prescription, and a complete one summing to 1
    f = target_flow_split(radii, 3.0, {"outlet_1": 0.5})
    assert f["outlet_1"] == 0.5 and math.isclose(f["outlet_2"], 0.25) and math.isclose(sum(f.values()), 1.0)
    f = target_flow_split({"outlet_1": 1e-3, "outlet_2": 2e-3}, 3.0, {"outlet_1": 0.4, "outlet_2": 0.6})
    assert f == {"outlet_1": 0.4, "outlet_2": 0.6}
    models = default_outlets({"outlet_1": 1e-3, "outlet_2": 1e-3}, 1e-4, 12000.0,
                             flow_fractions={"outlet_1": 0.9})
    assert all(math.isfinite(m.steady_pressure(m.target_flow_m3_s)) for m in models.values())


def test_fractions_over_one_refused_when_the_case_is_loaded():
    msg = _one_line_case_error({f"{PORT}.flow_fraction": 0.7,
                                "physiology.outlets.ports.outlet_2.flow_fraction": 0.6})
    assert "physiology.outlets.ports.outlet_1.flow_fraction = 0.7" in msg and "at most 1" in msg


# --------------------------------------------------------------------------- 2. per-port values
@pytest.mark.parametrize("overrides,needles", [
    ({f"{PORT}.pressure": "20 mmHg"},  # default model rcr
     [f"{PORT}.pressure", 'model = "rcr"', "physiology.outlets.model", "'pressure'"]),
    ({"physiology.outlets.model": "resistance", f"{PORT}.pressure": "20 mmHg"},
     [f"{PORT}.pressure", 'model = "resistance"']),
    ({"physiology.outlets.model": "zero_pressure", f"{PORT}.resistance": "1 mmHg*s/mL"},
     [f"{PORT}.resistance", 'model = "zero_pressure"', "which takes pressure"]),
    ({f"{PORT}.model": "resistance", f"{PORT}.rp": "1 mmHg*s/mL"}, [f"{PORT}.rp", "'rcr'"]),
    ({f"{PORT}.model": "resistance", f"{PORT}.c": "1 mL/mmHg"}, [f"{PORT}.c"]),
    ({f"{PORT}.model": "pressure", f"{PORT}.rd": "1 mmHg*s/mL", f"{PORT}.pressure": "5 mmHg"}, [f"{PORT}.rd"]),
    ({f"{PORT}.model": "pressure"}, [PORT, 'model = "pressure" needs', f"{PORT}.pressure"]),
    ({f"{PORT}.resistance": "1 mmHg*s/mL", f"{PORT}.rp": "0.1 mmHg*s/mL", f"{PORT}.rd": "0.9 mmHg*s/mL"},
     [f"{PORT}.resistance", "rp and rd"]),
    ({f"{PORT}.resistance": "1 mmHg*s/mL", f"{PORT}.rp": "2 mmHg*s/mL"}, [f"{PORT}.rp", "exceeds resistance"]),
])
def test_unused_or_missing_port_values_are_refused(overrides, needles):
    msg = _one_line_case_error(overrides)
    for n in needles:
        assert n in msg, msg


def test_a_zero_pressure_outlet_takes_a_pressure():
    # default_outlets treats zero_pressure as "pressure" (0 Pa unless given): as before the check
    case = case_from_dict(BASE, None, {f"{PORT}.model": "zero_pressure", f"{PORT}.pressure": "5 mmHg"})
    assert case.physiology.outlets.ports["outlet_1"].pressure == pytest.approx(5 * 133.322387415)


def test_port_values_the_model_uses_stay_valid():
    ports = case_from_dict(BASE, None, {
        f"{PORT}.model": "pressure", f"{PORT}.pressure": "10 mmHg",
        "physiology.outlets.ports.outlet_2.model": "resistance",
        "physiology.outlets.ports.outlet_2.resistance": "1 mmHg*s/mL",
        "physiology.outlets.ports.outlet_3.rp": "0.1 mmHg*s/mL",  # rcr by the section default
        "physiology.outlets.ports.outlet_3.c": "0.1 mL/mmHg",
        "physiology.outlets.ports.outlet_4.model": "zero_pressure",
        "physiology.outlets.ports.outlet_4.flow_fraction": 0.1,
    }).physiology.outlets.ports
    assert math.isclose(ports["outlet_1"].pressure, 10 * 133.322387415)
    ok = case_from_dict(BASE, None, {"physiology.outlets.model": "resistance",
                                     f"{PORT}.resistance": "2 mmHg*s/mL"})
    assert ok.physiology.outlets.ports["outlet_1"].resistance > 0


# --------------------------------------------------------------------------- 3. --set parsing
def test_one_set_parser_for_run_and_the_studies():
    items = ['run.max_time="0.3 s"', "run.max_time2=0.3 s", "devices.deploy=false", "numerics.cells_across=8",
             "numerics.u_lu_max=0.04", "image.phantom_options={spacing_mm = 1.2, coarctation = 0.5}",
             "segmentation.seeds_mm=[[0, 1, 2]]"]
    want = {"run.max_time": "0.3 s", "run.max_time2": "0.3 s", "devices.deploy": False,
            "numerics.cells_across": 8, "numerics.u_lu_max": 0.04,
            "image.phantom_options": {"spacing_mm": 1.2, "coarctation": 0.5},
            "segmentation.seeds_mm": [[0, 1, 2]]}
    assert parse_set_items(items) == want
    assert studies.parse_sets(items) == want
    for bad in ("run.max_time", "=3", "run..x=1"):
        with pytest.raises(ValueError, match="--set"):
            studies.parse_sets([bad])
    # the quoted value and the inline table validate as the case file would take them
    c = case_from_dict(BASE, None, studies.parse_sets(['run.max_time="0.3 s"',
                                                       "image.phantom_options={spacing_mm = 1.2}"]))
    assert c.run.max_time == 0.3 and c.image.phantom_options == {"spacing_mm": 1.2}


# --------------------------------------------------------------------------- 4. --set through a value
def test_set_below_a_value_is_a_case_error():
    data = {**BASE, "run": {"max_time": "2 s"}}
    msg = _one_line_case_error({"run.max_time.x": 1}, data)
    assert "--set run.max_time.x: run.max_time is a value, not a section" in msg


# --------------------------------------------------------------------------- 5. phantom options
@pytest.mark.parametrize("phantom,options,needles", [
    ("aortic_arch", {"bogus": 3}, ["image.phantom_options.bogus", "aortic_arch", "spacing_mm"]),
    ("aortic_arch", {"spacing_mm": 0}, ["image.phantom_options.spacing_mm", "> 0"]),
    ("aortic_arch", {"spacing_mm": -1.0}, ["image.phantom_options.spacing_mm", "> 0"]),
    ("aortic_arch", {"spacing_mm": "0.4 mm"}, ["image.phantom_options.spacing_mm", "'0.4 mm'", "number"]),
    ("aortic_arch", {"spacing_mm": [1.0, 1.0]}, ["image.phantom_options.spacing_mm", "[x, y, z]"]),
    ("aortic_arch", {"spacing_mm": float("inf")}, ["image.phantom_options.spacing_mm", "finite"]),
    ("aortic_arch", {"coarctation": 1.2}, ["image.phantom_options.coarctation", "< 1"]),
    ("aortic_arch", {"seed": 1.5}, ["image.phantom_options.seed", "whole number"]),
    ("straight_tube", {"stenosis_ds": 0.5}, ["image.phantom_options.stenosis_ds", "straight_tube"]),
    ("coronary_stenosis", {"radius_mm": True}, ["image.phantom_options.radius_mm", "number"]),
])
def test_phantom_options_checked(phantom, options, needles):
    msg = _one_line_case_error({"image.phantom": phantom, "image.phantom_options": options})
    for n in needles:
        assert n in msg, msg


def test_phantom_option_table_matches_the_phantom_functions():
    """config may not import geometry (tests/unit/test_layering.py): its copy of each phantom's
    keyword arguments must be the functions' own, and name every phantom the schema allows."""
    import inspect
    import typing

    from hemotwin.config.schema import PHANTOM_OPTIONS, ImageSection
    from hemotwin.geometry.phantoms import PHANTOMS

    assert {k: tuple(inspect.signature(f).parameters) for k, f in PHANTOMS.items()} == PHANTOM_OPTIONS
    allowed = typing.get_args(typing.get_args(ImageSection.model_fields["phantom"].annotation)[0])
    assert set(allowed) == set(PHANTOMS)


def test_phantom_options_of_the_shipped_cases_stay_valid():
    for phantom, options in (("aortic_arch", {"spacing_mm": 1.2, "coarctation": 0.5}),
                             ("coronary_stenosis", {"spacing_mm": 0.25, "stenosis_ds": 0.5,
                                                    "stenosis_length_mm": 8.0, "seed": 0}),
                             ("straight_tube", {"spacing_mm": [1.0, 1.0, 0.5], "tilt_deg": 45.0}),
                             ("aortic_arch", {"spacing_mm": 1.2, "subclavian_stenosis": 0.6})):
        c = case_from_dict(BASE, None, {"image.phantom": phantom, "image.phantom_options": options})
        assert c.image.phantom_options == options
    # options beside a file source (hemotwin run --image replaces the phantom) are not checked
    case_from_dict(BASE, None, {"image.phantom": None, "image.path": "ct.nii.gz",
                                "image.phantom_options": {"spacing_mm": 1.2}})


# --------------------------------------------------------------------------- 6. convergence bookkeeping
CASE = """
[case]
name = "{name}"
[image]
phantom = "straight_tube"
[physiology]
cardiac_output = "5 L/min"
[numerics]
cells_across = 12
"""


def _case(tmp_path, name="study", sub="."):
    d = tmp_path / sub
    d.mkdir(parents=True, exist_ok=True)
    p = d / "case.toml"
    p.write_text(CASE.format(name=name), encoding="utf-8")
    return p


def _runner(order=2.0, unconverged=(), log=None):
    def run(case_path, out_dir, overrides):
        if log is not None:
            log.append(overrides)
        n = float(overrides.get("numerics.cells_across", 12))
        status = "not_converged" if any(abs(n - u) < 1e-9 for u in unconverged) else "ok"
        return {"status": status, "gradient_mmhg": 20.0 + 300.0 * (1.0 / n) ** order,
                "run": {"converged": status == "ok",
                        "convergence": {"flow_tolerance_ml_s": 0.01 + 1e-3 / n}},
                "wss": {"low_threshold_pa": 0.4 + 1e-3 / n, "mean_pa": 2.0 + 1.0 / n}}
    return run


def test_thresholds_and_tolerances_are_not_quantities_of_interest():
    assert not studies.is_qoi("run.convergence.flow_tolerance_ml_s")
    assert not studies.is_qoi("wss.low_threshold_pa")
    assert studies.is_qoi("wss.mean_pa") and studies.is_qoi("gradient_mmhg")


def test_convergence_records_run_status_and_the_order_used(tmp_path, monkeypatch, capsys):
    case = _case(tmp_path)
    # the finest grid (12 cells) stopped unconverged; observed p = 5 is outside 0.5-4
    monkeypatch.setattr(studies, "_run_case", lambda: _runner(order=5.0, unconverged=(12.0,)))
    out = tmp_path / "conv"
    rc = cli_main(["convergence", str(case), "--out", str(out), "--set", 'run.max_time="0.3 s"',
                   "--set", "image.phantom_options={spacing_mm = 1.0}"])
    assert rc == 0
    saved = json.loads((out / "convergence.json").read_text(encoding="utf-8"))
    assert saved["overrides"] == {"run.max_time": "0.3 s", "image.phantom_options": {"spacing_mm": 1.0}}
    assert saved["all_runs_converged"] is False and "12 cells across (not_converged)" in saved["warning"]
    assert [r["converged"] for r in saved["runs"]] == [True, True, False]
    assert [r["status"] for r in saved["runs"]] == ["ok", "ok", "not_converged"]
    row = saved["table"]["gradient_mmhg"]
    assert row["p"] == pytest.approx(5.0) and row["p_used"] == 2.0 and row["safety_factor"] == 3.0
    assert "p_theory = 2 used" in row["p_choice"] and "outside 0.5-4" in row["p_choice"]
    assert not saved["table"]["wss.low_threshold_pa"]["qoi"]
    assert not saved["table"]["run.convergence.flow_tolerance_ml_s"]["qoi"]
    assert saved["case_name"] == "study" and len(saved["case_sha256"]) == 64
    printed = capsys.readouterr().out
    assert "p_used" in printed and "Fs" in printed and "p_theory = 2 used (observed p 5 outside" in printed
    assert "WARNING: not every run converged" in printed


def test_convergence_all_converged_uses_the_observed_order(tmp_path):
    r = studies.convergence_study(_case(tmp_path), tmp_path / "conv", runner=_runner(order=2.0), progress=None)
    assert r["all_runs_converged"] is True and r["warning"] is None
    row = r["table"]["gradient_mmhg"]
    assert row["p_used"] == pytest.approx(2.0) and row["safety_factor"] == 1.25
    assert row["p_choice"].startswith("observed p used (monotone")
    # results without a status: read from run.converged, unknown counts as not converged
    assert studies.run_convergence({"run": {"converged": True}}) == {"status": None, "converged": True}
    assert studies.run_convergence({"run": {"converged": True}, "post": {"run": {"converged": False}}})[
        "converged"] is False
    assert studies.run_convergence({})["converged"] is None


def test_convergence_cli_bad_set_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(studies, "_run_case", lambda: pytest.fail("no run expected"))
    rc = cli_main(["convergence", str(_case(tmp_path)), "--out", str(tmp_path / "c"),
                   "--set", "image.phantom_options.bogus=3"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "image.phantom_options.bogus" in err


def test_sensitivity_records_the_case_and_applies_overrides_to_x0(tmp_path):
    case = _case(tmp_path)

    def run(case_path, out_dir, overrides):
        return {"status": "ok", "gradient_mmhg": 20.0}

    r = studies.sensitivity_study(case, tmp_path / "sens", runner=run, progress=None,
                                  overrides={"physiology.blood.viscosity": "4 mPa*s"})
    assert r["inputs"]["viscosity"]["x0"] == pytest.approx(4e-3)
    saved = json.loads((tmp_path / "sens" / "sensitivity.json").read_text(encoding="utf-8"))
    assert saved["case_name"] == "study" and len(saved["case_sha256"]) == 64


# --------------------------------------------------------------------------- 7. whose evidence
def _report(case, out, monkeypatch, **kw):
    monkeypatch.setattr(cred, "test_record", lambda root, junit: {"status": "stub", "collected": 1})
    return cred.build_report(case, out, run_verification=False, **kw)


def test_credibility_refuses_another_cases_convergence(tmp_path, monkeypatch):
    mine, other = _case(tmp_path, "mine", "a"), _case(tmp_path, "other_case", "b")
    studies.convergence_study(other, tmp_path / "conv_other", runner=_runner(), progress=None)
    studies.sensitivity_study(other, tmp_path / "sens_other", runner=_runner(), progress=None)
    rep = _report(mine, tmp_path / "out", monkeypatch,
                  convergence_json=tmp_path / "conv_other" / "convergence.json",
                  sensitivity_json=tmp_path / "sens_other" / "sensitivity.json")
    f = {x["id"]: x["status"] for x in rep["credibility_factors"]}
    assert f[3].startswith("not applicable: the study is of other_case") and f[4] == f[3]
    assert f[7].startswith("not applicable: the study is of other_case")
    assert rep["calculation_verification"]["status"].startswith("not applicable")
    fda = {x["category"]: x["status"] for x in rep["fda_evidence_categories"]}
    assert fda["calculation verification / UQ using COU simulations"].startswith("not provided")
    html = (tmp_path / "out" / "credibility.html").read_text(encoding="utf-8")
    assert "Study of case <b>other_case</b>" in html

    # this case's own study: evidence present, and the HTML says which case it is of
    studies.convergence_study(mine, tmp_path / "conv_mine", runner=_runner(), progress=None)
    rep = _report(mine, tmp_path / "out2", monkeypatch,
                  convergence_json=tmp_path / "conv_mine" / "convergence.json")
    f = {x["id"]: x["status"] for x in rep["credibility_factors"]}
    assert f[3] == "evidence present" and rep["calculation_verification"]["status"] == "GCI study present"
    assert "Study of case <b>mine</b>" in (tmp_path / "out2" / "credibility.html").read_text(encoding="utf-8")


def test_credibility_edited_case_and_old_evidence_without_hash(tmp_path, monkeypatch):
    mine = _case(tmp_path, "mine", "a")
    studies.convergence_study(mine, tmp_path / "conv", runner=_runner(unconverged=(12.0,)), progress=None)
    rep = _report(mine, tmp_path / "o1", monkeypatch, convergence_json=tmp_path / "conv" / "convergence.json")
    # unconverged runs: present, with the warning carried into the report
    assert "WARNING: not every run converged" in rep["calculation_verification"]["status"]
    assert rep["credibility_factors"][2]["status"].startswith("evidence present, with a warning")
    # the case file changed since the study: another version of the same case
    mine.write_text(CASE.format(name="mine") + '\n[run]\nmax_time = "1 s"\n', encoding="utf-8")
    rep = _report(mine, tmp_path / "o2", monkeypatch, convergence_json=tmp_path / "conv" / "convergence.json")
    assert rep["credibility_factors"][2]["status"].startswith("not applicable: the study is of another version of mine")
    # an older study JSON without the hash: compared by path
    conv = json.loads((tmp_path / "conv" / "convergence.json").read_text(encoding="utf-8"))
    assert "case_path_resolved" not in conv  # a resolved path could bring in a patient's folder name
    for k in ("case_sha256", "case_name"):
        conv.pop(k)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(conv), encoding="utf-8")
    rep = _report(mine, tmp_path / "o3", monkeypatch, convergence_json=old)
    assert rep["credibility_factors"][2]["status"].startswith("evidence present")
    other = _case(tmp_path, "other_case", "b")
    rep = _report(other, tmp_path / "o4", monkeypatch, convergence_json=old)
    assert rep["credibility_factors"][2]["status"] == f"not applicable: the study is of mine ({mine})"
