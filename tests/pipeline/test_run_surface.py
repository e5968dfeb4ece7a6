# SPDX-License-Identifier: Apache-2.0
"""Surface cases end to end: `image.surface` instead of an image, through to pressures and WSS.

A straight open tube against Poiseuille's law; the real Aneurisk ICA surface (../shared/data,
skipped where absent) against its own conservation and outlet split.
"""
import json
import math

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.config import find_shared_data  # noqa: E402
from hemotwin.pipeline import run_case  # noqa: E402
from hemotwin.units import MMHG_PA  # noqa: E402

R_MM, L_MM, Q_ML_S, MU = 1.5, 18.0, 0.25, 3.5e-3


def _case(surface, **extra):
    case = {
        "case": {"name": "surface_tube"},
        "image": {"surface": str(surface), "surface_unit": "mm"},
        "physiology": {"target_mean_pressure": "90 mmHg",
                       "inflow": {"mean": f"{Q_ML_S} mL/s", "waveform": "constant",
                                  "profile": "parabolic", "ramp": "0.02 s"},
                       "outlets": {"model": "resistance"},
                       "blood": {"model": "newtonian", "viscosity": f"{MU * 1e3} mPa*s"}},
        "numerics": {"cells_across": 12, "u_lu_max": 0.1, "les": "off", "precision": "float64"},
        "run": {"mode": "steady", "steady_tolerance": 0.002},
        "outputs": {"figures": False, "report": False, "vtk": False},
    }
    for k, v in extra.items():
        case[k].update(v)
    return case


def test_open_tube_surface_matches_poiseuille(tmp_path):
    tube = pv.Cylinder(center=(0, 0, L_MM / 2), direction=(0, 0, 1), radius=R_MM, height=L_MM,
                       resolution=96, capping=False).triangulate().subdivide(2).clean()
    f = tmp_path / "tube.vtp"
    tube.save(f)
    res = run_case(_case(f), tmp_path / "out", progress=False, device="cpu")
    assert res["status"] == "ok", res["run"]
    ports = {p["name"]: p for p in res["ports"]}
    assert set(ports) == {"inlet", "outlet_1"}
    assert ports["inlet"]["mean_flow_ml_s"] == pytest.approx(Q_ML_S, rel=1e-3)
    assert res["conservation"]["mass_imbalance"] < 0.01
    # Poiseuille between the two port planes (the inlet profile is already parabolic)
    dp = (ports["inlet"]["mean_pressure_mmhg"] - ports["outlet_1"]["mean_pressure_mmhg"]) * MMHG_PA
    dp_ref = 8 * MU * (L_MM * 1e-3) * (Q_ML_S * 1e-6) / (math.pi * (R_MM * 1e-3) ** 4)
    print(f"tube surface: dp {dp:.2f} Pa vs Poiseuille {dp_ref:.2f} Pa ({dp / dp_ref - 1:+.2%})")
    assert dp == pytest.approx(dp_ref, rel=0.06)
    # the wall shear stress of Poiseuille flow: 4 mu Q / (pi R^3)
    wss_ref = 4 * MU * Q_ML_S * 1e-6 / (math.pi * (R_MM * 1e-3) ** 3)
    print(f"tube surface: median WSS {res['wss']['median_pa']:.3f} Pa vs {wss_ref:.3f} Pa")
    assert res["wss"]["median_pa"] == pytest.approx(wss_ref, rel=0.1)
    # provenance identifies the surface by content hash
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert "image.surface" in json.dumps(prov["inputs"])
    assert (tmp_path / "out" / "lumen.vtp").is_file()


def test_closed_capless_surface_cut_by_clip_planes(tmp_path):
    """A marching-cubes vessel with rounded ends (a Slicer export) plus two clip planes in the
    case: the cuts are the ports, and the flow between them is Poiseuille's."""
    h, length = 0.15, L_MM + 4.0
    n = [int((2 * R_MM + 2) / h) + 1] * 2 + [int((length + 2 * R_MM + 2) / h) + 1]
    img = pv.ImageData(dimensions=n, spacing=(h, h, h), origin=(-(R_MM + 1),) * 3)
    p = np.asarray(img.points)
    z = np.clip(p[:, 2], 0, length)
    img.point_data["f"] = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2 + (p[:, 2] - z) ** 2) - R_MM
    f = tmp_path / "vessel.stl"
    img.contour([0.0], scalars="f").triangulate().clean().save(f)
    case = _case(f)
    case["segmentation"] = {"clip_planes": [[0, 0, 2.0, 0, 0, -1], [0, 0, 2.0 + L_MM, 0, 0, 1]]}
    res = run_case(case, tmp_path / "out", progress=False, device="cpu")
    assert res["status"] == "ok"
    ports = {p["name"]: p for p in res["ports"]}
    dp = (ports["inlet"]["mean_pressure_mmhg"] - ports["outlet_1"]["mean_pressure_mmhg"]) * MMHG_PA
    dp_ref = 8 * MU * (L_MM * 1e-3) * (Q_ML_S * 1e-6) / (math.pi * (R_MM * 1e-3) ** 4)
    print(f"clipped closed surface: dp {dp:.2f} Pa vs Poiseuille {dp_ref:.2f} Pa")
    assert dp == pytest.approx(dp_ref, rel=0.08)
    assert res["conservation"]["mass_imbalance"] < 0.01


def test_surface_case_bad_file_is_one_clear_error(tmp_path):
    from hemotwin.pipeline import PipelineError

    f = tmp_path / "ball.stl"
    pv.Sphere(radius=3.0).save(f)
    with pytest.raises(PipelineError, match="ball.stl.*need an inlet and at least one outlet"):
        run_case(_case(f), tmp_path / "out", progress=False, device="cpu")


def _run_shipped_case(name, data_folder, out, **overrides):
    """Run cases/NAME/case.toml (its surface in ../shared/data/DATA_FOLDER; skip if absent)."""
    from pathlib import Path

    try:
        find_shared_data(data_folder)
    except FileNotFoundError as e:
        pytest.skip(f"shared data absent: {e}")
    case = Path(__file__).resolve().parents[2] / "cases" / name / "case.toml"
    return run_case(case, out, progress=False, device="cpu",
                    overrides={"outputs.figures": False, "outputs.report": False, **overrides})


def test_real_ica_surface_case(tmp_path):
    res = _run_shipped_case("cerebral_ica_surface", "aneurisk_c0015_ica_segment_vampy",
                            tmp_path / "out")
    assert res["status"] == "ok"
    assert res["run"]["converged"]
    ports = {p["name"]: p for p in res["ports"]}
    assert ports["inlet"]["radius_mm"] == pytest.approx(1.56, rel=0.03)
    assert res["conservation"]["mass_imbalance"] < 0.01
    for n in ("outlet_1", "outlet_2"):  # resistance outlets sized for a Murray split
        assert ports[n]["flow_fraction"] == pytest.approx(ports[n]["target_flow_fraction"], abs=0.02)
        assert ports[n]["mean_pressure_mmhg"] < ports["inlet"]["mean_pressure_mmhg"]
    print("ICA surface: median WSS", round(res["wss"]["median_pa"], 2), "Pa; inlet-outlet_1",
          round(ports["inlet"]["mean_pressure_mmhg"] - ports["outlet_1"]["mean_pressure_mmhg"], 3), "mmHg")
    assert 0.5 < res["wss"]["median_pa"] < 30.0
    assert np.isfinite(res["wss"]["max_pa"])


def _stenosed_tube(path, R=1.5, L=30.0, ds=0.5):
    """Open surface of revolution: a Gaussian narrowing of ``ds`` (diameter) at mid-length."""
    nt, nz = 64, 151
    th = np.linspace(0, 2 * np.pi, nt, endpoint=False)
    z = np.linspace(0, L, nz)
    r = R * (1 - ds * np.exp(-(((z - L / 2) / 2.5) ** 2)))
    P = np.array([[rk * np.cos(t), rk * np.sin(t), zk] for rk, zk in zip(r, z) for t in th])
    F = []
    for k in range(nz - 1):
        for i in range(nt):
            a, b = k * nt + i, k * nt + (i + 1) % nt
            F += [3, a, b, b + nt, 3, a, b + nt, a + nt]
    pv.PolyData(P, np.array(F)).save(path)


def test_surface_case_virtual_stent(tmp_path):
    """Lesion found on the surface's centerline, stented in the rasterised mask, re-meshed at the
    same port planes and re-simulated: the gradient falls, the ports stay where they were."""
    f = tmp_path / "stenosis.vtp"
    _stenosed_tube(f)
    case = _case(f, numerics={"cells_across": 10, "u_lu_max": 0.08, "precision": "float32",
                              "les": "auto"})
    case["physiology"]["inflow"]["mean"] = "1.0 mL/s"
    case["run"].update({"window": "0.02 s", "max_time": "0.5 s", "steady_tolerance": 0.005})
    case["devices"] = {"indication": "coronary", "deploy": True}
    res = run_case(case, tmp_path / "out", progress=False, device="cpu")
    assert res["status"] == "ok"
    les = res["lesions"][0]
    assert les["percent_diameter_stenosis"] == pytest.approx(50.0, abs=6.0)
    assert res["device"] is not None
    post = res["post"]
    assert post["lesions"][0]["gradient_mmhg"] < 0.25 * les["gradient_mmhg"]
    for a, b in zip(res["ports"], post["ports"]):
        assert (a["name"], a["role"]) == (b["name"], b["role"])
        assert b["radius_mm"] == pytest.approx(a["radius_mm"], rel=0.03)
    assert post["conservation"]["mass_imbalance"] < 0.01


def test_cli_image_flag_takes_a_surface(tmp_path):
    """`hemotwin run case.toml --image vessel.stl`: a surface file replaces the case's anatomy."""
    import subprocess
    import sys

    tube = pv.Cylinder(center=(0, 0, 6), direction=(0, 0, 1), radius=R_MM, height=12.0,
                       resolution=48, capping=True).triangulate().clean()
    stl = tmp_path / "vessel.stl"
    tube.save(stl)
    case = tmp_path / "case.toml"
    case.write_text('[image]\nphantom = "straight_tube"\n[physiology.inflow]\nmean = "0.25 mL/s"\n'
                    '[physiology.outlets]\nmodel = "resistance"\n[numerics]\nu_lu_max = 0.1\n'
                    '[run]\nmode = "steady"\nmax_time = "0.3 s"\nwindow = "0.02 s"\n'
                    '[outputs]\nfigures = false\nreport = false\nvtk = false\n')
    r = subprocess.run([sys.executable, "-m", "hemotwin.cli", "run", str(case), "--out",
                        str(tmp_path / "out"), "--image", str(stl), "--quiet", "--device", "cpu"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "flat patches" in res["segmentation"]["message"]
    assert [p["name"] for p in res["ports"]] == ["inlet", "outlet_1"]
    assert res["ports"][0]["radius_mm"] == pytest.approx(R_MM, rel=0.01)


def test_real_simvascular_model_case(tmp_path):
    """SimVascular's demo aorta + iliac (cm, ModelFaceID, demo.mdl beside it) end to end."""
    res = _run_shipped_case("aorta_iliac_simvascular", "simvascular_demo_aorta_iliac",
                            tmp_path / "out", **{"outputs.vtk": False})
    assert res["status"] == "ok" and res["run"]["converged"]
    ports = {p["name"]: p for p in res["ports"]}
    assert list(ports) == ["inlet_aorta", "right_iliac", "aorta_distal"]  # SimVascular's names kept
    # cap areas from SOURCE.md (cm^2 -> mm^2): 4.620, 0.973, 0.787
    for n, area in (("inlet_aorta", 462.0), ("right_iliac", 97.3), ("aorta_distal", 78.7)):
        assert math.pi * ports[n]["radius_mm"] ** 2 == pytest.approx(area, rel=0.005)
    assert res["conservation"]["mass_imbalance"] < 0.01
    for n in ("right_iliac", "aorta_distal"):
        assert ports[n]["flow_fraction"] == pytest.approx(ports[n]["target_flow_fraction"], abs=0.02)
        assert ports[n]["mean_pressure_mmhg"] < ports["inlet_aorta"]["mean_pressure_mmhg"]
    # the model's narrow necks at the iliac origins: each found once on its own path, not twice
    # (from the aorta's profile and again from the branch's, which starts at its ostium)
    spans = {}
    for les in res["lesions"]:
        for a, b in spans.get(les["path_port"], []):
            assert les["end_mm"] <= a or les["start_mm"] >= b, f"one narrowing reported twice: {les}"
        spans.setdefault(les["path_port"], []).append((les["start_mm"], les["end_mm"]))
