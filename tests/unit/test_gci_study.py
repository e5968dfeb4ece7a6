# SPDX-License-Identifier: Apache-2.0
"""Convergence and sensitivity studies with a fake pipeline runner (arithmetic and bookkeeping only)."""
import json

import pytest
from hemotwin.credibility import studies

CASE = """
[case]
name = "study"
[image]
phantom = "straight_tube"
[physiology]
cardiac_output = "5 L/min"
[physiology.blood]
viscosity = "3.5 mPa*s"
[numerics]
cells_across = 12
"""


def _fake_runner(log):
    def run(case_path, out_dir, overrides):
        log.append(overrides)
        n = float(overrides.get("numerics.cells_across", 12))
        visc = overrides.get("physiology.blood.viscosity")
        mu = float(visc.split()[0]) * 1e-3 if visc else 3.5e-3
        h = 1.0 / n
        # gradient = 20 mmHg + 300 h^2 (second order), scales linearly with viscosity
        return {"gradient_mmhg": (20.0 + 300.0 * h * h) * mu / 3.5e-3, "flows": {"outlet_1_ml_s": 50.0},
                "status": "ok"}
    return run


@pytest.fixture()
def case_file(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE, encoding="utf-8")
    return p


def test_convergence_study_recovers_order(case_file, tmp_path):
    log = []
    r = studies.convergence_study(case_file, tmp_path / "conv", ratio=1.5, runner=_fake_runner(log),
                                  progress=None)
    assert [o["numerics.cells_across"] for o in log] == pytest.approx([12 / 2.25, 8.0, 12.0])
    row = r["table"]["gradient_mmhg"]
    assert row["qoi"] and row["p"] == pytest.approx(2.0, rel=1e-9)
    assert row["f_ext"] == pytest.approx(20.0, rel=1e-9)
    saved = json.loads((tmp_path / "conv" / "convergence.json").read_text(encoding="utf-8"))
    assert "gradient_mmhg" in saved["table"]
    assert saved["provenance"]["versions"]["hemotwin"] and saved["provenance"]["created_utc"]
    with pytest.raises(ValueError):
        studies.convergence_study(case_file, tmp_path / "x", ratio=1.1, runner=_fake_runner([]))


def test_sensitivity_study_normalised(case_file, tmp_path):
    r = studies.sensitivity_study(case_file, tmp_path / "sens", percent=10, runner=_fake_runner([]),
                                  progress=None)
    # gradient proportional to viscosity: normalised sensitivity exactly 1; flows insensitive
    assert r["inputs"]["viscosity"]["sensitivity"]["gradient_mmhg"] == pytest.approx(1.0, rel=1e-6)
    assert r["inputs"]["viscosity"]["sensitivity"]["flows.outlet_1_ml_s"] == pytest.approx(0.0)
    assert "segmentation_threshold" in r["skipped"]  # not set in this case: reported, not invented
    assert "gradient_mmhg" in r["qoi"]


def test_convergence_study_scales_a_given_spacing_and_lesion_cells(tmp_path):
    """A case that fixes numerics.spacing (or refines for lesions) gets three different grids."""
    p = tmp_path / "case.toml"
    p.write_text(CASE.replace("cells_across = 12", 'cells_across = 12\nspacing = "0.6 mm"\n'
                              "lesion_cells_across = 6"), encoding="utf-8")
    log = []
    studies.convergence_study(p, tmp_path / "conv", ratio=1.5, runner=_fake_runner(log), progress=None)
    assert [o["numerics.spacing"] for o in log] == ["1.35 mm", "0.9 mm", "0.6 mm"]
    assert [o["numerics.lesion_cells_across"] for o in log] == pytest.approx([6 / 2.25, 4.0, 6.0])


def test_sensitivity_runs_keep_the_base_time_step_les_and_resistances(case_file, tmp_path):
    log = []
    inner = _fake_runner(log)

    def run(case_path, out_dir, overrides):
        res = inner(case_path, out_dir, overrides)
        out_dir.mkdir(parents=True, exist_ok=True)
        if not overrides:  # the base run: what the pipeline records of its discretisation
            (out_dir / "provenance.json").write_text(json.dumps({"lattice": {"pre": {"les": True}}}))
        return {**res, "run": {"expected_peak_speed_m_s": 1.25}}

    r = studies.sensitivity_study(case_file, tmp_path / "sens", percent=10, runner=run, progress=None,
                                  inputs={k: studies.SENSITIVITY_INPUTS[k] for k in ("viscosity", "inlet_flow")})
    perturbed = log[1:]
    assert len(perturbed) == 4
    for o in perturbed:  # the same dt (peak speed) and LES switch as the base run, whatever moves
        assert o["physiology.peak_velocity"] == "1.25 m/s" and o["numerics.les"] == "on"
    flow_runs = [o for o in perturbed if "physiology.inflow.mean" in o]
    # R = (MAP - 0) / Q kept: the target mean pressure moves with the inflow (93 mmHg default)
    assert [o["physiology.target_mean_pressure"] for o in flow_runs] == ["102.3 mmHg", "83.7 mmHg"]
    assert not any("physiology.target_mean_pressure" in o for o in perturbed if o not in flow_runs)
    assert r["held_fixed"]["physiology.peak_velocity"] == "1.25 m/s"
