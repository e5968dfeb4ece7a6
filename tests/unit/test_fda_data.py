# SPDX-License-Identifier: Apache-2.0
"""FDA nozzle data reader and V&V 20 station metrics."""
import math

import numpy as np
import pytest
from hemotwin.validation import fda_data, metrics
from hemotwin.validation.nozzle_geometry import nozzle_radius_m

FILES = fda_data.find_files(500)
needs_data = pytest.mark.skipif(not FILES, reason="FDA nozzle data set (../shared/data) not present")


@needs_data
def test_reader_header_and_blocks():
    ds = fda_data.read_fda_file(FILES[0])
    assert ds.reynolds == 500 and ds.flow_direction == 1.0 and ds.sudden_z_m == 0.0
    assert ds.flow_m3_s == pytest.approx(5.20624e-6)
    assert len(ds.stations()) == 12
    b = ds.block("plot-profile-axial-velocity-at-z", -0.008)
    # measured (non-zero) points of a throat profile lie inside the 2 mm throat radius
    assert b is not None and np.abs(b.position_m[b.value != 0]).max() <= 2.0e-3 + 1e-9


@needs_data
def test_centerline_stats_match_reference_table():
    # REFERENCE.md sec. 3.4, "Centerline velocity: mean +/- SD over the 5 data sets", Re 500 column
    st = fda_data.centerline_stats(fda_data.load_datasets(500), [-0.088, -0.008, 0.0, 0.06, 0.08])
    np.testing.assert_allclose(st["mean"], [0.087, 0.733, 0.728, 0.537, 0.459], atol=6e-4)
    np.testing.assert_allclose(st["sd"], [0.004, 0.030, 0.022, 0.056, 0.041], atol=6e-4)
    assert st["n"] == [5, 5, 5, 5, 4]


@needs_data
def test_pressure_normalisation_matches_reference_table():
    # REFERENCE.md sec. 3.4 wall-pressure table, Re 500 row: 4.97 at -0.0903, 2.38 at -0.0400
    p = fda_data.pressure_stats(fda_data.load_datasets(500))
    z = np.array(p["z_m"])
    m = np.array(p["mean"])
    assert m[np.isclose(z, -0.0903)][0] == pytest.approx(4.97, abs=0.01)
    assert m[np.isclose(z, -0.04)][0] == pytest.approx(2.38, abs=0.01)
    assert m[np.isclose(z, 0.0)][0] == 0.0


def test_flow_frame_conversion(tmp_path):
    # a file with flow towards -z and the step at z = 0.01 maps to the flow frame z' = -(z - 0.01)
    f = tmp_path / "PIV_x_500_1.txt"
    f.write_text("dataset-reynolds 0500\ngeometry-flow-z-direction -1\ngeometry-sudden-z 0.01\n"
                 "fluid-volumetric-flow-rate 1e-6\nplot-z-distribution-axial-velocity\n2\n"
                 "0.0  1.0\n0.02  2.0\nplot-profile-axial-velocity-at-z 0.02 0\n3\n-1e-3 0.5\n0 1.0\n1e-3 0.5\n", encoding="utf-8")
    ds = fda_data.read_fda_file(f)
    np.testing.assert_allclose(ds.block("plot-z-distribution-axial-velocity").position_m, [0.01, -0.01])
    assert ds.block("plot-profile-axial-velocity-at-z", -0.01) is not None


def test_nozzle_radius_both_orientations():
    se = nozzle_radius_m(np.array([-0.08, -0.0513425, -0.02, -1e-9, 1e-9, 0.05]))
    np.testing.assert_allclose(se, [6e-3, 4e-3, 2e-3, 2e-3, 6e-3, 6e-3])
    cd = nozzle_radius_m(np.array([-0.01, 1e-9, 0.02, 0.0513425, 0.08]), "conical-diffuser")
    np.testing.assert_allclose(cd, [6e-3, 2e-3, 2e-3, 4e-3, 6e-3])


def test_station_metrics_vv20():
    rows = metrics.station_metrics([0.0, 0.01], [1.09, 2.0], [1.0, 2.0], [0.03, 0.1], [5, 5],
                                   u_num=[0.04, math.nan], u_input_frac=None)
    r = rows[0]
    assert r["E"] == pytest.approx(0.09)
    assert r["u_val"] == pytest.approx(0.05)  # sqrt(0.03^2 + 0.04^2)
    assert r["within"] is True and "u_input" in r["not_estimated"]  # 0.09 <= 2 * 0.05
    assert rows[1]["u_val"] == pytest.approx(0.1) and "u_num" in rows[1]["not_estimated"]
    assert metrics.global_error([1.1, 2.0], [1.0, 2.0]) == pytest.approx(0.05)


def test_radial_cut_error_over_both_diameters():
    # experiment: a parabola on the 81-point grid; simulation: 10 % faster on x and y diameters
    # sampled elsewhere (cell centres), so E = 0.1 up to interpolation
    r_grid = np.linspace(-6e-3, 6e-3, 81)
    exp = {"0.016": {"r_m": r_grid.tolist(), "mean": (1 - (r_grid / 6e-3) ** 2).tolist()}}
    cells = np.linspace(-5.9e-3, 5.9e-3, 48)
    u = 1.1 * (1 - (cells / 6e-3) ** 2)
    sim = {"0.016": {"r_m": np.r_[cells, cells].tolist(), "u_axial_m_s": np.r_[u, u].tolist()},
           "0.08": {"r_m": cells.tolist(), "u_axial_m_s": u.tolist()}}  # no data there: skipped
    res = metrics.radial_cut_error(sim, exp)
    assert res["value"] == pytest.approx(0.1, abs=2e-3)
    assert list(res["per_station"]) == ["0.016"]
    # only points inside the simulated lumen (|r| <= 5.9 mm) and where D != 0 count
    assert res["n_points"] == int(np.sum(np.abs(r_grid) <= 5.9e-3))
    # near the wall D -> 0: those points go from the second figure, which is still ~0.1 here
    assert res["n_small_d_points"] > 0 and res["value_without_small_d"] == pytest.approx(0.1, abs=2e-3)
