# SPDX-License-Identifier: Apache-2.0
"""A stenosis off the path to the largest outlet (the arch phantom's left subclavian artery) is
found, measured along its own path, sized for and treated by `run_case`."""
import pytest
from hemotwin.pipeline import PipelineError, demo_case_dict, run_case
from hemotwin.report.results_schema import validate_results

FAST = {"numerics.cells_across": 5, "run.max_time": "0.4 s", "run.min_time": "0 s",
        "physiology.inflow.ramp": "0.03 s", "run.window": "0.02 s",
        "outputs.vtk": False, "outputs.surface": False,
        "image.phantom_options": {"spacing_mm": 1.2, "coarctation": 0.0, "subclavian_stenosis": 0.6}}


@pytest.mark.slow
def test_subclavian_stenosis_found_sized_and_treated(tmp_path):
    from hemotwin.config.schema import case_from_dict

    res = run_case(case_from_dict(demo_case_dict(), None, FAST), tmp_path, progress=False)
    validate_results(res)
    assert len(res["lesions"]) == 1, "no false lesion where the paths step into the branches"
    les = res["lesions"][0]
    # truth 60 %DS; 1.2 mm voxels across a 9 mm artery -> a 10-point band
    assert 50.0 <= les["percent_diameter_stenosis"] <= 70.0
    sub = next(p for p in res["ports"] if p["role"] == "outlet" and abs(p["radius_mm"] - 4.5) < 1.0)
    assert les["path_port"] == sub["name"] == res["device"]["path_port"]
    assert res["centerline"]["port"] == les["path_port"]  # the profile shown is the lesion's path
    # sized to the ~9 mm subclavian, not the ~22 mm aorta; the stent opens it
    assert 6.0 <= res["device"]["diameter_mm"] <= 10.0
    assert any("not the aorta's path" in w for w in res["device"]["warnings"])
    assert les["pd_pa"] < 1.0
    post = res["post"]["lesions"][0]
    assert post["path_port"] == les["path_port"]
    assert post["gradient_mmhg"] < les["gradient_mmhg"]
    html = (tmp_path / res["files"]["report"]).read_text(encoding="utf-8")
    assert "Path to outlet" in html and les["path_port"] in html


def test_lesion_paths_must_name_outlets(tmp_path):
    from hemotwin.config.schema import CaseError, case_from_dict

    with pytest.raises(CaseError, match="lesions.paths.*'inlet' is not an outlet"):
        case_from_dict(demo_case_dict(), None, {"lesions.paths": ["inlet"]})
    case = case_from_dict(demo_case_dict(), None, {**FAST, "lesions.paths": ["outlet_9"]})
    with pytest.raises(PipelineError, match=r"lesions.paths: no outlet named \['outlet_9'\]"):
        run_case(case, tmp_path, progress=False)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.slow
def test_unresolved_lesion_is_flagged_and_lesion_cells_across_refines(tmp_path):
    """A 75 % subclavian stenosis (MLD ~2 mm) on a 1.5 mm lattice is flagged with the fix; with
    numerics.lesion_cells_across the spacing follows the lesion instead of the ports."""
    import json

    from hemotwin.config.schema import case_from_dict

    opts = {"spacing_mm": 1.2, "coarctation": 0.0, "subclavian_stenosis": 0.75}
    fast = {**FAST, "image.phantom_options": opts, "devices.deploy": False, "outputs.figures": False}
    res = run_case(case_from_dict(demo_case_dict(), None, fast), tmp_path / "coarse", progress=False)
    les = res["lesions"][0]
    assert les["lattice_cells_across_mld"] < 5
    (w,) = [w for w in res["warnings"] if "lattice cells" in w]
    assert "lesion 1" in w and "numerics.lesion_cells_across = 5" in w
    assert any("image voxels" in w for w in res["warnings"])  # 2 mm at 1.2 mm voxels
    html = (tmp_path / "coarse" / res["files"]["report"]).read_text(encoding="utf-8")
    assert "lattice cells" in html
    # the time step is set for the lesion's jet too: its Murray share of the peak inflow through
    # the MLD, x1.3 (the subclavian's share of the four outlets' radius^3)
    r3 = {p["name"]: p["radius_mm"] ** 3 for p in res["ports"] if p["role"] == "outlet"}
    share = r3[les["path_port"]] / sum(r3.values())
    q = 83.33e-6  # the demo's 5 L/min
    jet = 1.3 * q * share / (3.14159265 * (0.5e-3 * les["mld_mm"]) ** 2)
    assert res["run"]["expected_peak_speed_m_s"] == pytest.approx(jet, rel=0.02)
    assert res["run"]["peak_lattice_speed"] > 0
    fine = {**fast, "numerics.lesion_cells_across": 3, "run.max_time": "0.05 s"}
    res2 = run_case(case_from_dict(demo_case_dict(), None, fine), tmp_path / "fine", progress=False)
    dx_mm = json.loads((tmp_path / "fine" / "provenance.json").read_text())["lattice"]["pre"]["dx_m"] * 1e3
    assert dx_mm == pytest.approx(les["mld_mm"] / 3, rel=1e-6)
    assert res2["lesions"][0]["lattice_cells_across_mld"] == pytest.approx(3.0, rel=1e-6)


def test_speed_warning_names_the_place_and_the_fix():
    from hemotwin.pipeline import _speed_warnings

    run = {"peak_speed_m_s": 3.58, "peak_lattice_speed": 0.275, "peak_speed_at_mm": [0.1, 15.0, 108.2],
           "expected_peak_speed_m_s": 1.30}
    (w,) = _speed_warnings(run, "pre-treatment")
    assert "3.58 m/s at (0.1, 15.0, 108.2) mm" in w and "Mach 0.48" in w
    assert 'physiology.peak_velocity = "4.3 m/s"' in w
    assert _speed_warnings({**run, "peak_lattice_speed": 0.1}, "pre-treatment") == []
    assert _speed_warnings({}, "post-treatment") == []


def test_pd_pa_against_a_non_physiological_aortic_pressure_is_flagged():
    # zero-pressure outlets leave Pa near 0 mmHg gauge: a Pd/Pa of 0.40 there is no FFR-like figure
    from hemotwin.pipeline import _pd_pa_warnings

    lesion = {"id": 1, "path_port": "outlet", "pd_pa": 0.395, "pa_mmhg": 0.77}
    (w,) = _pd_pa_warnings([lesion], "pre-treatment")
    assert "0.8 mmHg" in w and "not an FFR-like ratio" in w and "rcr" in w
    assert _pd_pa_warnings([{**lesion, "pa_mmhg": 93.0, "pd_pa": 0.97}], "pre-treatment") == []
    assert _pd_pa_warnings([{**lesion, "pa_mmhg": None}], "post-treatment") == []
