# SPDX-License-Identifier: Apache-2.0
"""The stage cache follows the CONTENT of the files a case names, not only their names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("hemotwin.pipeline")
from hemotwin.pipeline import run_case  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_an_edited_device_catalog_is_not_answered_from_the_cache(tmp_path):
    catalog = (REPO / "cases" / "devices" / "generic_balloon_expandable.toml").read_text(encoding="utf-8")
    (tmp_path / "cat.toml").write_text(catalog, encoding="utf-8")
    case = (REPO / "cases" / "cohort_stenosis" / "stenosis_30.toml").read_text(encoding="utf-8")
    case = case.replace("deploy = false", 'deploy = true\ncatalog = "cat.toml"')
    (tmp_path / "case.toml").write_text(case, encoding="utf-8")
    out = tmp_path / "run"
    first = run_case(tmp_path / "case.toml", out, progress=False)["device"]
    # the same file name, one coronary size left in it
    only = catalog.replace("diameters_mm = [2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 4.5, 5.0]", "diameters_mm = [2.0]")
    only = only.replace("lengths_mm = [8.0, 12.0, 15.0, 18.0, 23.0, 28.0, 33.0, 38.0]", "lengths_mm = [40.0]")
    assert only != catalog
    (tmp_path / "cat.toml").write_text(only, encoding="utf-8")
    second = run_case(tmp_path / "case.toml", out, progress=False)["device"]
    assert (second["diameter_mm"], second["length_mm"]) == (2.0, 40.0) != (first["diameter_mm"], first["length_mm"])
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert "sizing" not in prov["cached_stages"] and "flow_pre" in prov["cached_stages"]


def _quick_case(tmp_path, name="stenosis_30"):
    return (REPO / "cases" / "cohort_stenosis" / f"{name}.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_another_case_is_refused_in_a_run_folder_and_stale_files_are_named(tmp_path):
    from hemotwin.pipeline import PipelineError

    out = tmp_path / "Doe_Jane_1970"
    (tmp_path / "a.toml").write_text(_quick_case(tmp_path), encoding="utf-8")
    run_case(tmp_path / "a.toml", out, progress=False)
    assert (out / "lumen.vtp").exists()
    before = (out / "results.json").read_bytes()
    # a different case into the same folder would replace its results and leave its other files
    (tmp_path / "b.toml").write_text(_quick_case(tmp_path, "stenosis_40"), encoding="utf-8")
    with pytest.raises(PipelineError, match="holds the run of case 'stenosis_30'"):
        run_case(tmp_path / "b.toml", out, progress=False)
    assert (out / "results.json").read_bytes() == before
    # the same case with other settings: what it no longer writes is named as an earlier run's
    again = run_case(tmp_path / "a.toml", out, progress=False, overrides={"outputs.surface": False})
    assert any("earlier run" in w and "lumen.vtp" in w for w in again["warnings"]), again["warnings"]
    assert not any(out.name in w for w in again["warnings"])  # folder names can carry a patient's


def test_an_output_folder_inside_an_input_series_folder_is_refused(tmp_path):
    from hemotwin.pipeline import PipelineError

    series = tmp_path / "series"
    series.mkdir()
    (series / "IM0001").write_bytes(b"\0" * 16)
    case = _quick_case(tmp_path).replace(
        'phantom = "coronary_stenosis"\nphantom_options = { stenosis_ds = 0.30, spacing_mm = 0.4, seed = 0 }',
        'path = "series"')
    assert 'path = "series"' in case
    (tmp_path / "c.toml").write_text(case, encoding="utf-8")
    for out in (series, series / "out"):
        with pytest.raises(PipelineError, match="inside the input folder of image.path"):
            run_case(tmp_path / "c.toml", out, progress=False)
    assert sorted(p.name for p in series.iterdir()) == ["IM0001"]  # nothing written among the slices


def test_series_uid_and_numpy_values_reach_the_provenance_safely():
    import numpy as np
    from hemotwin.config.schema import case_from_dict
    from hemotwin.pipeline import _resolved_parameters, _without_input_paths, demo_case_dict

    d = demo_case_dict()
    d["image"]["phantom_options"] = {"spacing_mm": np.float32(1.2), "seed": np.int64(1)}
    case = case_from_dict(d)
    case.raw.setdefault("image", {})["series_uid"] = "1.2.840.113619.2.55.3.1234"
    json.dumps(_resolved_parameters(case))  # numpy scalars from a Python-built case serialise
    recorded = json.dumps(_without_input_paths(case))
    assert "1.2.840.113619" not in recorded and "sha256" in recorded
