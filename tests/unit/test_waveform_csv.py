# SPDX-License-Identifier: Apache-2.0
"""Inflow waveform CSVs: the time unit comes from the header (or refuses to guess), a closing row
is dropped in every unit, bad values / non-positive or near-zero means are refused by file and
line, and a file at another heart rate is stretched with a warning."""
import math
import warnings

import numpy as np
import pytest

from hemotwin.solver.waveforms import BUILTIN, load_waveform

T70 = 60.0 / 70.0  # 70 bpm
MEAN = 5e-6


def _shape(x):
    """A systolic bump on a flat diastole (peak/mean ~2); x = fraction of the period."""
    return 1.0 + 3.0 * np.exp(-(((x - 0.15) / 0.06) ** 2))


def _csv(tmp_path, t, q=None, header="t,q", name="w.csv"):
    q = _shape(np.asarray(t) / max(t[-1], 1e-300)) if q is None else q
    rows = ([header] if header else []) + [f"{float(a)!r},{float(b)!r}" for a, b in zip(t, q)]
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


def _load(p, period=T70):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning unless a test expects one
        return load_waveform(str(p), MEAN, period)


def _peak_time(w):
    return w.times_s[np.argmax(w.flow_m3_s)]


N = 40
FRAC = np.arange(N) / N  # open: 0 .. 1 - 1/N


# --- 1. time unit -------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["t_s", "time_s", "t [s]", "Time (s)", "t/s", "time_sec"])
def test_seconds_below_one_second_by_header(tmp_path, header):
    # 0 .. 0.836 s at 70 bpm was read as fractions and compressed to 0.836 of the period
    p = _csv(tmp_path, FRAC * T70, _shape(FRAC), header=f"{header},flow_ml_s")
    w = _load(p)
    assert np.allclose(w.times_s, FRAC * T70)
    assert math.isclose(_peak_time(w), 0.15 * T70, rel_tol=1e-9)
    assert math.isclose(w.mean_m3_s, MEAN, rel_tol=1e-9)


@pytest.mark.parametrize("header", ["t_ms", "time (ms)", "t [ms]", "time_msec"])
def test_milliseconds_by_header(tmp_path, header):
    p = _csv(tmp_path, FRAC * T70 * 1e3, _shape(FRAC), header=f"{header},q")
    w = _load(p)
    assert np.allclose(w.times_s, FRAC * T70)


@pytest.mark.parametrize("header", ["t_fraction", "t_frac", "fraction", "phase", "time (fraction)"])
def test_fraction_by_header(tmp_path, header):
    p = _csv(tmp_path, FRAC, _shape(FRAC), header=f"{header},q")
    assert np.allclose(_load(p).times_s, FRAC * T70)


def test_unknown_header_unit_refused(tmp_path):
    for head in ("t [min]", "q", "flow"):
        p = _csv(tmp_path, FRAC, header=f"{head},t")
        with pytest.raises(ValueError, match=r"w\.csv.*header.*t_s.*t_ms.*t_fraction"):
            _load(p)


def test_no_header_fraction_files_still_read_as_fractions(tmp_path):
    open_ = _load(_csv(tmp_path, FRAC, header=None))
    closed = _load(_csv(tmp_path, np.append(FRAC, 1.0), np.append(_shape(FRAC), _shape(0.0)),
                        header="t,q", name="c.csv"))
    assert np.allclose(open_.times_s, FRAC * T70) and np.allclose(closed.times_s, FRAC * T70)
    two = _load(_csv(tmp_path, [0.0, 0.5], [1.0, 2.0], name="two.csv"))  # 0 and 1 - step
    assert np.allclose(two.times_s, [0.0, T70 / 2])


def test_no_header_seconds_of_the_case_period(tmp_path):
    # in [0, 1] but ending at 0.836 = T - step, not 1 - step: seconds, as the case's period says
    w = _load(_csv(tmp_path, FRAC * T70, _shape(FRAC), header="time,q"))
    assert np.allclose(w.times_s, FRAC * T70)
    w = _load(_csv(tmp_path, 2.0 + FRAC * T70, _shape(FRAC), name="offset.csv"))  # > 1: seconds
    assert np.allclose(w.times_s, FRAC * T70)


def test_no_header_ambiguous_times_refused(tmp_path):
    # 0 .. 0.7 in steps of 0.1: fractions not reaching 1 - step, or seconds of a 0.8 s beat?
    p = _csv(tmp_path, np.arange(8) * 0.1, header="t,q")
    with pytest.raises(ValueError, match=r"w\.csv: times 0 to 0\.7 .*t_s .*t_ms .*t_fraction"):
        _load(p)


def test_fraction_header_beyond_one_refused(tmp_path):
    with pytest.raises(ValueError, match=r"w\.csv.*fractions.*\[0, 1\]"):
        _load(_csv(tmp_path, FRAC * 2, header="t_fraction,q"))


# --- 2. closing row -----------------------------------------------------------------------------

@pytest.mark.parametrize("unit,scale", [("t_s", T70), ("t_ms", T70 * 1e3), ("t_fraction", 1.0)])
def test_closing_row_dropped_in_every_unit(tmp_path, unit, scale):
    t = np.append(FRAC, 1.0) * scale  # last row one period after the first
    q = np.append(_shape(FRAC), 1.0)
    w = _load(_csv(tmp_path, t, q, header=f"{unit},q"))
    assert len(w.times_s) == N
    assert np.allclose(w.times_s, FRAC * T70)
    assert math.isclose(_peak_time(w), 0.15 * T70, rel_tol=1e-9)


def test_closing_row_at_rounded_milliseconds(tmp_path):
    t = np.round(np.append(FRAC, 1.0) * T70 * 1e3, 2)  # 857.14 ms, not 857.142857
    w = _load(_csv(tmp_path, t, np.append(_shape(FRAC), 1.0), header="time_ms,q"))
    assert len(w.times_s) == N and w.times_s[-1] < T70


# --- 3. bad values ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "abc", ""])
def test_bad_value_refused_with_line_number(tmp_path, bad):
    rows = ["# a comment line", "t_fraction,q"] + [f"{x},{_shape(x)}" for x in FRAC]
    rows[8] = f"{FRAC[6]},{bad}"  # the file's 9th line
    p = tmp_path / "w.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"w\.csv, line 9: q = '{bad}' is not a finite number"):
        _load(p)


def test_bad_time_refused_with_line_number(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("t_s,q\n0,1\n0.1,2\nx,3\n0.3,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.csv, line 4: t = 'x'"):
        _load(p)


def test_non_increasing_time_names_the_line(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("t_s,q\n0,1\n0.2,2\n0.2,3\n0.3,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.csv, line 4: times must increase strictly"):
        _load(p)


# --- 4 and 5. mean flow -------------------------------------------------------------------------

def test_negative_mean_refused(tmp_path):
    q = _shape(FRAC) - 2.5  # backflow most of the beat: mean < 0
    with pytest.raises(ValueError, match=r"w\.csv: the waveform's mean -\S+ is negative"):
        _load(_csv(tmp_path, FRAC, q, header="t_fraction,q"))
    with pytest.raises(ValueError, match="negative"):  # outward sign convention
        _load(_csv(tmp_path, FRAC, -_shape(FRAC), header="t_fraction,q"))


@pytest.mark.parametrize("offset", [0.0, 1e-4, -1e-3])
def test_near_zero_mean_refused(tmp_path, offset):
    q = np.sin(2 * np.pi * FRAC) + offset  # mean ~1e-17 (rounding), 1e-4, -1e-3 of a unit peak
    with pytest.raises(ValueError, match=r"w\.csv: the waveform's mean \S+ is below 2% of its "
                                         r"peak \|q\| 1"):
        _load(_csv(tmp_path, FRAC, q, header="t_fraction,q"))


def test_all_zero_refused(tmp_path):
    with pytest.raises(ValueError, match="below 2%"):
        _load(_csv(tmp_path, FRAC, np.zeros(N), header="t_fraction,q"))


def test_strong_backflow_with_positive_mean_accepted(tmp_path):
    q = _shape(FRAC) - 1.2  # triphasic-like: reverse flow in diastole, peak/mean ~ 8
    w = _load(_csv(tmp_path, FRAC, q, header="t_fraction,q"))
    assert math.isclose(w.mean_m3_s, MEAN, rel_tol=1e-9) and w.flow_m3_s.min() < 0


# --- 6. another heart rate ----------------------------------------------------------------------

def test_other_period_stretched_with_warning(tmp_path):
    t = np.append(FRAC, 1.0)  # a closed 1 s (60 bpm) file under a 70 bpm case
    q = np.append(_shape(FRAC), _shape(0.0))
    p = _csv(tmp_path, t, q, header="time_s,flow_ml_s")
    with pytest.warns(UserWarning, match=r"w\.csv: the waveform's own period 1 s differs from "
                                         r"the case's period 0\.8571 s"):
        w = load_waveform(str(p), MEAN, T70)
    assert len(w.times_s) == N and np.allclose(w.times_s, FRAC * T70)


def test_no_header_other_period_warning_hints_at_units(tmp_path):
    p = _csv(tmp_path, FRAC * 800.0, header=None)  # ms without a header: read as seconds
    with pytest.warns(UserWarning, match="t_ms"):
        w = load_waveform(str(p), MEAN, T70)
    assert np.allclose(w.times_s, FRAC * T70)


def test_same_period_no_warning(tmp_path):
    t = np.round(FRAC * 857.0, 2)  # 857 ms vs 857.14: rounding, not another heart rate
    _load(_csv(tmp_path, t, header="t_ms,q"))


# --- unchanged behaviour ------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(BUILTIN))
def test_builtins(key):
    w = _load(f"builtin:{key}", period=0.8)
    assert len(w.times_s) == 100 and math.isclose(w.times_s[1], 0.008)
    assert math.isclose(w.mean_m3_s, MEAN, rel_tol=1e-9)


def test_constant_third_column_and_two_rows_work(tmp_path):
    w = _load(_csv(tmp_path, FRAC, np.ones(N), header="t_fraction,q"))
    assert np.allclose(w.flow_m3_s, MEAN)
    p = tmp_path / "three.csv"
    p.write_text("t_s,q,p\n" + "".join(f"{x * T70},{_shape(x)},9\n" for x in FRAC), encoding="utf-8")
    assert np.allclose(_load(p).times_s, FRAC * T70)
    assert len(_load(_csv(tmp_path, [0.0, 0.5], [1.0, 2.0], name="two.csv")).times_s) == 2


@pytest.mark.parametrize("sep", [";", "\t"])
def test_other_delimiters_refused(tmp_path, sep):
    p = tmp_path / "w.csv"
    p.write_text(f"t{sep}q\n" + "".join(f"{x}{sep}{_shape(x)}\n" for x in FRAC), encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.csv, line 1: expected two comma-separated columns"):
        _load(p)


@pytest.mark.parametrize("text", ["", "t,q\n", "t,q\n0,1\n"])
def test_too_few_rows_refused(tmp_path, text):
    p = tmp_path / "w.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.csv: need at least two rows"):
        _load(p)


def test_excel_bom_header(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("\ufefft_s,q\n" + "".join(f"{x * T70},{_shape(x)}\n" for x in FRAC),
                 encoding="utf-8")
    assert np.allclose(_load(p).times_s, FRAC * T70)
