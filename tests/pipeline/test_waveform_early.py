# SPDX-License-Identifier: Apache-2.0
"""A pulsatile case's waveform CSV is read before segmentation: a bad file fails in seconds, and
what it warns about reaches results.json's warnings without the file's name."""
import time

import pytest

from hemotwin.pipeline import _read_waveform, demo_case_dict, run_case


def _case(tmp_path, csv_text, name="Doe.Jane.flow.csv"):
    (tmp_path / name).write_text(csv_text, encoding="utf-8")
    case = demo_case_dict()
    case["physiology"]["inflow"] = {"waveform": str(tmp_path / name)}
    case["run"] = {"mode": "pulsatile", "cycles": 2}
    return case


def test_a_bad_waveform_fails_before_the_long_stages(tmp_path):
    case = _case(tmp_path, "t_s,q\n0,1\n0.2,nan\n0.4,2\n")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="line 3"):
        run_case(case, tmp_path / "out", progress=False)
    assert time.perf_counter() - t0 < 10  # no segmentation, meshing or flow was run


def test_heart_rate_mismatch_warning_is_kept_without_the_file_name(tmp_path):
    from hemotwin.config.schema import Case

    # a 1 s waveform under the demo's 70 bpm (0.857 s)
    rows = "\n".join(f"{t / 10:.1f},{1 + (t % 5)}" for t in range(10))
    case = Case.model_validate(_case(tmp_path, "t_s,q\n" + rows + "\n"))
    with pytest.warns(UserWarning, match="stretched"):
        wave, out = _read_waveform(case)
    assert wave.period_s == pytest.approx(case.physiology.period_s)
    assert len(out) == 1 and "physiology.inflow.waveform" in out[0] and "stretched" in out[0]
    assert "Doe" not in out[0] and "Jane" not in out[0]
