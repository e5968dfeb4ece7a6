# SPDX-License-Identifier: Apache-2.0
"""run_case interrupted mid-flow and resumed gives the same results as an uninterrupted run."""
import pytest
from hemotwin.pipeline import run_case
from hemotwin.solver import runner as runner_mod

CASE = {
    "case": {"name": "tube_resume"},
    "image": {"phantom": "straight_tube", "phantom_options": {"spacing_mm": 1.0, "radius_mm": 4.0,
                                                              "length_mm": 20.0}},
    "segmentation": {"method": "truth"},
    "physiology": {"target_mean_pressure": "90 mmHg",
                   "inflow": {"mean": "0.2 mL/s", "ramp": "0.2 s"}, "outlets": {"model": "rcr"}},
    "numerics": {"cells_across": 8, "u_lu_max": 0.1, "threads": 1, "precision": "float64"},
    "run": {"mode": "steady", "max_time": "3 s", "checkpoint_interval": 40, "window": "0.2 s",
            "steady_tolerance": 1e-6},
    "devices": {"deploy": False},
    "outputs": {"figures": False, "report": False, "vtk": False},
}


class _Stop(Exception):
    pass


def test_resume_matches_uninterrupted(tmp_path, monkeypatch):
    full = run_case(CASE, tmp_path / "full", progress=False)
    save = runner_mod.FlowRunner._save_checkpoint
    calls = {"n": 0}

    def stop_after_third(self):
        save(self)
        calls["n"] += 1
        if calls["n"] == 3:
            raise _Stop

    monkeypatch.setattr(runner_mod.FlowRunner, "_save_checkpoint", stop_after_third)
    with pytest.raises(_Stop):
        run_case(CASE, tmp_path / "cut", progress=False)
    monkeypatch.setattr(runner_mod.FlowRunner, "_save_checkpoint", save)
    assert (tmp_path / "cut" / "checkpoints" / "pre.npz").exists()
    resumed = run_case(CASE, tmp_path / "cut", resume=True, progress=False)
    assert resumed["run"]["steps"] == full["run"]["steps"]
    # bit-identical (same chunks, restored 0D and runner states, one thread): compare exactly
    for a, b in zip(full["ports"], resumed["ports"]):
        assert a["mean_flow_ml_s"] == b["mean_flow_ml_s"] and a["mean_pressure_mmhg"] == b["mean_pressure_mmhg"]
    assert full["centerline"]["pressure_mmhg"] == resumed["centerline"]["pressure_mmhg"]


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path, monkeypatch):
    import copy

    save = runner_mod.FlowRunner._save_checkpoint

    def stop_after_first(self):
        save(self)
        raise _Stop

    monkeypatch.setattr(runner_mod.FlowRunner, "_save_checkpoint", stop_after_first)
    with pytest.raises(_Stop):
        run_case(CASE, tmp_path / "cut", progress=False)
    monkeypatch.setattr(runner_mod.FlowRunner, "_save_checkpoint", save)
    # another inflow: the time step and the outlet models differ; another lattice: the cell count
    faster = copy.deepcopy(CASE)
    faster["physiology"]["inflow"]["mean"] = "0.4 mL/s"
    finer = copy.deepcopy(CASE)
    finer["numerics"]["cells_across"] = 10
    for changed, what in ((faster, "dt_s"), (finer, "n_fluid_cells")):
        with pytest.raises(ValueError, match=f"from a run with other settings \\(.*{what}.*run without --resume"):
            run_case(changed, tmp_path / "cut", resume=True, progress=False)
