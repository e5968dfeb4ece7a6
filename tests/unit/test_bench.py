# SPDX-License-Identifier: Apache-2.0
"""`hemotwin bench --json --quick` prints one JSON object with the keys the performance issue names."""
import json
from pathlib import Path

import numpy as np
import pytest

from hemotwin import bench
from hemotwin.cli import main
from hemotwin.solver.simulation import POPULATION_BYTES


def test_bench_json_quick_has_required_keys(capsys):
    rc = main(["bench", "--json", "--quick", "--size", "8", "--sparse-spacing-mm", "4", "--peers", "numpy"])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # one JSON object, nothing else on stdout
    res = json.loads(out[0])
    for key in ("stream_triad_gbps", "dense_fp32_mlups", "roofline_fraction", "sparse_fp32_mlups", "peers",
                "dense_fp64_mlups", "sparse_fp64_mlups", "runs", "aorta_1000_steps_s", "commit", "date"):
        assert key in res, key
    assert isinstance(res["peers"], dict)
    if "error" not in res["peer_details"].get("numpy", {"error": ""}):
        assert res["peers"]["numpy"] > 0
    assert res["stream_triad_gbps"] > 0 and res["dense_fp32_mlups"] > 0 and res["sparse_fp32_mlups"] > 0
    assert {(r["case"], r["precision"]) for r in res["runs"]} == {
        (c, p) for c in ("dense", "sparse") for p in ("float32", "float64", "float16", "bfloat16")}
    for r in res["runs"]:  # bytes come from the solver: populations in and out at least
        assert r["bytes_per_update"] >= 2 * 19 * POPULATION_BYTES[r["precision"]]
        assert r["bytes_per_cell"] >= 19 * POPULATION_BYTES[r["precision"]]
    assert res["dense_fp16_mlups"] > 0 and res["sparse_fp16_mlups"] > 0


def test_inplace_roofline_matches_issue_anchor():
    # issue 5: triad 72.8 GB/s -> about 640 MLUPS (x 4/3 / 152 B)
    assert bench.inplace_roofline_mlups(72.8, 4) == pytest.approx(72.8e9 * 4 / 3 / 152 / 1e6)


def test_synthetic_tube_is_a_thin_fraction_of_its_box():
    m = bench.curved_tube_mask(2.0)
    assert 0.02 < m.mean() < 0.5


def test_wall_links_from_field_put_the_wall_where_the_label_crosses_half():
    # a slab: field 1 inside, falling linearly to 0 across two cells; the 0.5 level sits 0.25 cell
    # beyond the last fluid cell along +x
    field = np.zeros((6, 4, 4))
    field[:3] = 1.0
    field[3] = 0.75 - 0.5  # 0.25: the 0.5 crossing is at 1/3 of the link from x=2 (1.0 -> 0.25)
    mask = field > 0.5
    links, q = bench.wall_links_from_field(mask, field)
    plus_x = links[:, 3] == 1
    assert plus_x.any()
    np.testing.assert_allclose(q[plus_x], (1.0 - 0.5) / (1.0 - 0.25))
    assert np.all((q > 0) & (q <= 1))


def test_run_peer_passes_extra_args_and_reports_a_peer_error_without_raising(tmp_path, monkeypatch):
    # no --size for the sparse peer; its clear one-line error comes back in "error". The peers live
    # in the source tree (an installed, non-editable package does not carry them).
    monkeypatch.setattr(bench, "PEERS_DIR", Path(__file__).resolve().parents[2] / "benchmarks" / "peers")
    missing = tmp_path / "missing.npy"
    r = bench._run_peer("lbmpy_sparse", None, 2, 1, timeout_s=60, extra_args=["--mask", missing])
    assert "error" in r
    assert "exit 1" in r["error"] and str(missing) in r["error"]


def _aorta_result(**peers):
    return {"sparse_cells": 2_000_000, "sparse_bounding_box": [130, 238, 458], "sparse_fp32_mlups": 400.0,
            "sparse_fluid_fraction": 2_000_000 / (130 * 238 * 458), "notes": [], "peers": dict(peers),
            "peer_details": {"lbmpy_sparse": {"cells": 2_000_000}} if "lbmpy_sparse" in peers else {}}


def test_aorta_speedup_prefers_the_measured_bounding_box_time():
    dense = {"lbmpy_aa": 250.0, "lbmpy_twobuffer": 200.0}
    res = _aorta_result(**dense, lbmpy_aa_aorta_box=125.0, lbmpy_sparse=100.0)
    bench._aorta_1000_steps(res, dense, 128)
    wall, bbox = res["aorta_1000_steps_s"], 130 * 238 * 458
    assert wall["lbmpy_aa_bounding_box"] == pytest.approx(1000 * bbox / 250e6)  # extrapolated, kept
    assert wall["lbmpy_aa_bounding_box_measured"] == pytest.approx(1000 * bbox / 125e6)
    assert wall["lbmpy_sparse"] == pytest.approx(1000 * 2e6 / 100e6)
    assert "lbmpy_sparse_bounding_box" not in wall and "lbmpy_aa_aorta_box_bounding_box" not in wall
    ours = wall["hemotwin_sparse_fp32"]
    assert res["aorta_speedup_vs_best_dense_peer"] == pytest.approx(wall["lbmpy_aa_bounding_box_measured"] / ours)
    assert res["aorta_speedup_vs_best_dense_peer_extrapolated"] == pytest.approx(wall["lbmpy_aa_bounding_box"] / ours)
    assert res["aorta_speedup_vs_lbmpy_sparse"] == pytest.approx(4.0)


def test_aorta_speedup_falls_back_to_the_extrapolated_time_without_the_box_run():
    dense = {"lbmpy_aa": 250.0, "lbmpy_twobuffer": 200.0}
    res = _aorta_result(**dense)
    bench._aorta_1000_steps(res, dense, 128)
    assert res["aorta_speedup_vs_best_dense_peer"] == res["aorta_speedup_vs_best_dense_peer_extrapolated"]
    assert "lbmpy_aa_bounding_box_measured" not in res["aorta_1000_steps_s"]


def test_peers_are_found_from_a_clone_when_the_install_does_not_carry_them(tmp_path, monkeypatch):
    # a plain `pip install .` has no benchmarks/: the clone the command runs in (or its subfolders) does
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setattr(bench, "PEERS_DIR", tmp_path / "not_installed")
    monkeypatch.delenv(bench.PEERS_DIR_ENV, raising=False)
    monkeypatch.chdir(repo / "tests")
    assert bench.peers_dir() == repo / "benchmarks" / "peers"
    monkeypatch.setenv(bench.PEERS_DIR_ENV, str(tmp_path))
    assert bench.peers_dir() == tmp_path
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(bench.PEERS_DIR_ENV)
    assert "not found" in bench._run_peer("numpy", 8, 2, 1, 10)["error"]


def test_aorta_mask_is_found_through_the_shared_data_variable(tmp_path, monkeypatch):
    # an installed package is not beside ../shared: $HEMOTWIN_SHARED_DATA points at it
    sitk = pytest.importorskip("SimpleITK")
    target = tmp_path / bench.AORTA_MASK_SHARED
    target.parent.mkdir(parents=True)
    lumen = np.zeros((12, 10, 8), np.uint8)
    lumen[3:9, 3:7, 2:6] = 1
    img = sitk.GetImageFromArray(lumen)
    img.SetSpacing((2.0, 2.0, 2.0))
    sitk.WriteImage(img, str(target))
    monkeypatch.setenv("HEMOTWIN_SHARED_DATA", str(tmp_path))
    mask, line = bench.aorta_mask(2.0)
    assert "aorta.nii.gz resampled" in line and mask.sum() > 0
