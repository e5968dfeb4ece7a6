# SPDX-License-Identifier: Apache-2.0
"""The demo coarctation run pulsatile, end to end: the cycle's gradients come from its samples.

Until 2026-12-08 the peak-to-peak and peak instantaneous gradients were read off the cycle-mean
field and equalled the mean gradient (9.6 / 9.6 / 9.6 mmHg here; 9.6 / 49.1 / 52.6 from the
samples). Peak-to-peak is the coarctation's intervention measure (>= 20 mmHg).
"""
import pytest

from hemotwin.pipeline import demo_case_dict, run_case


@pytest.mark.slow
def test_pulsatile_coarctation_gradients_come_from_the_cycle(tmp_path):
    case = demo_case_dict()
    case["devices"]["deploy"] = False
    case["physiology"]["inflow"] = {"waveform": "builtin:aortic"}
    case["numerics"]["cells_across"] = 5
    case["run"] = {"mode": "pulsatile", "cycles": 2, "samples_per_cycle": 20}
    case["outputs"] = {"figures": False}
    res = run_case(case, tmp_path / "out", progress=False)
    (les,) = res["lesions"]
    mean, p2p, inst = (les["gradient_mmhg"], les["gradient_peak_to_peak_mmhg"],
                       les["gradient_peak_instantaneous_mmhg"])
    # the built-in aortic waveform peaks at ~3x its mean and the loss is ~quadratic in the flow
    assert p2p > 3 * mean and inst >= p2p * 0.9
    run = res["run"]
    assert run["peak_speed_of"].startswith("fastest cell over the last cycle")
    assert res["wss"]["basis"].startswith("tawss")
    assert res["wss"]["low_area_fraction"] < res["wss"]["of_cycle_mean_field"]["low_area_fraction"]
    assert run["acoustic_length"] > 0 and run["density_variation"] > 0
    # two cycles do not settle the RCR outlets: said, with the cycles they need
    assert run["status"] == "not_periodic"
    assert any("not periodic after 2 cycles" in w and "run.cycles" in w for w in res["warnings"])
