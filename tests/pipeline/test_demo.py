# SPDX-License-Identifier: Apache-2.0
"""The whole chain on the coarctation phantom at a very coarse lattice (the demo's code path)."""
import json

import pytest
from hemotwin.pipeline import PipelineError, demo_case_dict, run_case, run_case_summary
from hemotwin.report.results_schema import validate_results

FAST = {"numerics.cells_across": 5, "run.max_time": "0.4 s", "run.min_time": "0 s",
        "physiology.inflow.ramp": "0.03 s", "run.window": "0.02 s"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    from hemotwin.config.schema import case_from_dict

    case = case_from_dict(demo_case_dict(), None, FAST)
    res = run_case(case, out, progress=False)
    return out, res


@pytest.mark.slow
def test_demo_results_follow_schema(demo_run):
    out, res = demo_run
    on_disk = json.loads((out / "results.json").read_text(encoding="utf-8"))
    validate_results(on_disk)
    assert on_disk["lesions"], "the coarctation must be detected"
    les = on_disk["lesions"][0]
    # phantom truth 50 %DS; coarse 1.2 mm segmentation + QCA reference -> loose band
    assert 35.0 < les["percent_diameter_stenosis"] < 65.0
    assert on_disk["device"]["diameter_mm"] > 0 and on_disk["device"]["length_mm"] > 0
    # the stent opens the lumen: the post-treatment gradient is lower (issue 4 acceptance)
    assert on_disk["post"]["lesions"][0]["gradient_mmhg"] < les["gradient_mmhg"]
    # the treated lumen is re-measured: its %AS follows its own MLD, not the pre-stent one
    for row in (les, on_disk["post"]["lesions"][0]):
        assert row["percent_area_stenosis"] == pytest.approx(
            100 * (1 - (row["mld_mm"] / row["rvd_mm"]) ** 2), abs=1e-9)
    names = [p["name"] for p in on_disk["ports"]]
    assert names[0] == "inlet" and len(names) == 5
    # the port CSV gives flows in each port's own direction, as results.json does
    import csv

    rows = list(csv.DictReader((out / "pre_ports.csv").open(encoding="utf-8")))
    for port in on_disk["ports"]:
        last = float(rows[-1][f"{port['name']}_flow_ml_s"])
        assert last > 0 and last == pytest.approx(port["mean_flow_ml_s"], rel=0.05), port["name"]


@pytest.mark.slow
def test_demo_report_and_provenance(demo_run):
    out, res = demo_run
    html = (out / res["files"]["report"]).read_text(encoding="utf-8")
    assert "<img" in html and "data:image/png;base64" in html  # self-contained, figures embedded
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    lat = prov["lattice"]["pre"]
    for k in ("dx_m", "dt_s", "tau", "n_fluid_cells"):
        assert lat[k] > 0
    assert prov["versions"]["hemotwin"] and prov["run_time_s"] > 0
    # every setting as used, defaults included, not only those the case wrote
    assert prov["resolved_parameters"]["numerics"]["max_cells"] > 0
    assert "git_commit" in prov["versions"]
    # each output carries its provenance stamp inside itself, the same one
    stamp = json.loads((out / "results.json").read_text(encoding="utf-8"))["provenance"]
    assert stamp["case_sha256"] == prov["case_sha256"] and len(stamp["case_sha256"]) == 64
    assert stamp["created_utc"] == prov["created_utc"]
    assert stamp["hemotwin"] == prov["versions"]["hemotwin"] and stamp["record"] == "provenance.json"
    import pyvista as pv
    from PIL import Image

    line = pv.read(out / "centerline.vtp")  # the displayed path, with its diameter and pressure
    assert line.n_points > 10 and {"diameter_mm", "pressure_mmhg"} <= set(line.point_data.keys())
    for vtk_file in ("pre_fields.vti", "pre_wall.vtp", "lumen.vtp", "centerline.vtp"):
        assert json.loads(str(pv.read(out / vtk_file).field_data["provenance"][0])) == stamp, vtk_file
    with Image.open(out / "figures" / "wss_pre.png") as im:
        assert json.loads(im.text["hemotwin-provenance"]) == stamp
    for f in (out / "results.json", out / "provenance.json"):
        text = f.read_text(encoding="utf-8")
        for ident in ("PatientName", "PatientID", "PatientBirthDate"):
            assert ident not in text


@pytest.mark.slow
def test_demo_cache_and_no_overwrite(demo_run, tmp_path):
    out, res = demo_run
    from hemotwin.config.schema import case_from_dict

    # outputs are not part of any stage key: a rerun without figures/VTK reuses every stage
    quick = {**FAST, "outputs.figures": False, "outputs.vtk": False, "outputs.report": False}
    again = run_case(case_from_dict(demo_case_dict(), None, quick), out, progress=False)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert "flow_pre" in prov["cached_stages"] and "geometry" in prov["cached_stages"]
    assert again["lesions"][0]["gradient_mmhg"] == res["lesions"][0]["gradient_mmhg"]
    (tmp_path / "results.json").write_text("mine", encoding="utf-8")
    with pytest.raises(PipelineError, match="not written by hemotwin"):
        run_case(case_from_dict(demo_case_dict(), None, quick), tmp_path, progress=False)
    assert (tmp_path / "results.json").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("rel", ["report.html", "figures/wss_pre.png", "cache/flow_pre.pkl", "pre_ports.csv"])
def test_user_files_refused_before_any_stage(tmp_path, rel):
    # the report and figures used to be written straight into the folder, past the manifest
    mine = tmp_path / rel
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("mine", encoding="utf-8")
    with pytest.raises(PipelineError, match=f"not written by hemotwin: {rel}"):
        run_case(demo_case_dict(), tmp_path, progress=False)
    assert mine.read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / ".hemotwin_outputs.json").exists()  # a refused folder is left as it was
    assert not (tmp_path / "results.json").exists()


def test_report_and_figures_write_through_the_claim(tmp_path):
    from hemotwin.report import write_report
    from hemotwin.viz import case_figures

    claimed = []

    def claim(rel):
        claimed.append(rel)
        return tmp_path / rel.replace("/", "__")

    write_report(tmp_path, {"case": "c", "ports": []}, {}, claim=claim)
    made = case_figures(tmp_path, {"centerline": {"arclength_mm": [0, 1, 2], "diameter_mm": [5, 4, 5]}},
                        claim=claim)
    assert claimed == ["report.html", "figures/diameter_profile.png"]
    assert (tmp_path / "report.html").exists() and (tmp_path / "figures__diameter_profile.png").exists()
    assert made == {"diameter_profile": "figures__diameter_profile.png"}


def test_summary_never_raises(tmp_path):
    row = run_case_summary(tmp_path / "missing.toml", tmp_path / "o")
    assert row["status"] == "error" and "case file not found" in row["error"]
