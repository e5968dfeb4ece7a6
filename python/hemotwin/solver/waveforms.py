# SPDX-License-Identifier: Apache-2.0
"""Periodic inflow waveforms (constant, built-in shapes, two-column CSV) and Womersley profiles.

A waveform is stored as flow (m^3/s) at times (s) over one period, linearly interpolated and
periodic. Built-in shapes ``aortic`` and ``coronary`` are synthetic typical shapes shipped in
``solver/data/*.csv`` ([UNVERIFIED]: not measured data), rescaled to the case's mean flow.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BUILTIN", "Waveform", "load_waveform", "womersley_profile"]

DATA = Path(__file__).with_name("data")
BUILTIN = {"aortic": DATA / "aortic_waveform.csv", "coronary": DATA / "coronary_waveform.csv"}


@dataclass
class Waveform:
    """Periodic flow waveform.

    Parameters
    ----------
    times_s : ndarray
        Sample times in [0, period) (s), increasing.
    flow_m3_s : ndarray
        Flow INTO the domain at those times (m^3/s).
    period_s : float
        Cardiac period (s).

    Examples
    --------
    >>> w = Waveform.constant(1e-5)
    >>> w(0.3)
    1e-05
    """

    times_s: np.ndarray
    flow_m3_s: np.ndarray
    period_s: float

    @classmethod
    def constant(cls, flow_m3_s: float, period_s: float = 1.0) -> Waveform:
        return cls(np.array([0.0]), np.array([float(flow_m3_s)]), float(period_s))

    @property
    def is_constant(self) -> bool:
        return bool(np.ptp(self.flow_m3_s) == 0)

    def __call__(self, t_s):
        if len(self.times_s) == 1:
            return float(self.flow_m3_s[0]) if np.isscalar(t_s) else np.full(np.shape(t_s), self.flow_m3_s[0])
        tt = np.append(self.times_s, self.period_s)
        ff = np.append(self.flow_m3_s, self.flow_m3_s[0])
        v = np.interp(np.mod(t_s, self.period_s), tt, ff)
        return float(v) if np.isscalar(t_s) else v

    @property
    def mean_m3_s(self) -> float:
        """Exact mean of the periodic piecewise-linear interpolant."""
        if len(self.times_s) == 1:
            return float(self.flow_m3_s[0])
        tt = np.append(self.times_s, self.period_s)
        ff = np.append(self.flow_m3_s, self.flow_m3_s[0])
        return float(np.trapezoid(ff, tt) / self.period_s) if hasattr(np, "trapezoid") \
            else float(np.trapz(ff, tt) / self.period_s)

    @property
    def peak_m3_s(self) -> float:
        return float(np.max(np.abs(self.flow_m3_s)))

    def scaled_to_mean(self, mean_m3_s: float) -> Waveform:
        m = self.mean_m3_s
        if m == 0:
            raise ValueError("waveform has zero mean; cannot scale it to a mean flow")
        return Waveform(self.times_s.copy(), self.flow_m3_s * (mean_m3_s / m), self.period_s)

    def with_period(self, period_s: float) -> Waveform:
        return Waveform(self.times_s * (period_s / self.period_s), self.flow_m3_s.copy(), float(period_s))

    def factors(self, mean_m3_s: float | None = None):
        """(times_s, flow / mean) for ``Simulation.set_port_waveform``."""
        m = mean_m3_s if mean_m3_s is not None else self.mean_m3_s
        return self.times_s.copy(), self.flow_m3_s / m

    def harmonics(self, n: int = 10):
        """Complex Fourier coefficients Q_k (k = 0..n) with Q(t) = Re sum_k Q_k e^{i k w t}."""
        m = 256
        t = np.arange(m) * self.period_s / m
        c = np.fft.rfft(self(t)) / m
        c[1:] *= 2.0
        return c[: n + 1]


# Time column headers (case-insensitive; the unit after "_", "/", a space, or in [] or ()):
# t_s, time_s, "t [s]", "time (sec)" -> seconds; t_ms, "time (ms)" -> milliseconds;
# t_fraction, t_frac, fraction, phase -> fraction of the cardiac period. Bare t or time: no unit.
TIME_UNITS = {"s": "s", "sec": "s", "second": "s", "seconds": "s",
              "ms": "ms", "msec": "ms", "millisecond": "ms", "milliseconds": "ms",
              "fraction": "fraction", "frac": "fraction", "phase": "fraction"}
# A file's own period within 1 % of the case's is the same heart rate (rounded ms, "70 bpm").
PERIOD_TOL = 0.01
# Mean flow below 2 % of the peak |q| (peak/mean > 50) is refused: physiological inflow waveforms
# have peak/mean ~2-6 (up to ~10 for triphasic peripheral flow), and rescaling a mean near zero
# to the case's mean turns rounding noise into absurd peaks (1e19 mL/s from a pure sine).
MIN_MEAN_OVER_PEAK = 0.02
_HEADER_HINT = ("name the time column t_s (seconds), t_ms (milliseconds) or t_fraction "
                "(fraction of the cardiac period)")


def _time_unit(path, head: str):
    """Unit ('s', 'ms', 'fraction') a time column header names; None for a bare t/time."""
    words = [w for w in re.split(r"[\s_/\[\]()]+", head.lower()) if w]
    if words[:1] in (["t"], ["time"]):
        words = words[1:]
        if not words:
            return None
    if len(words) == 1 and words[0] in TIME_UNITS:
        return TIME_UNITS[words[0]]
    raise ValueError(f"{path}: time column header {head!r} not understood; {_HEADER_HINT}")


def _read_csv(path):
    """(time header or None, t, q, line numbers) of a comma-separated file; '#' starts a comment."""
    head, rows = None, []
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")  # -sig: Excel's BOM
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2:
            raise ValueError(f"{path}, line {n}: expected two comma-separated columns t, q; "
                             f"got {line!r}")
        if head is None and not rows:
            try:
                float(cells[0])
            except ValueError:  # a header row (only the first row may be one)
                head = cells[0]
                continue
        vals = []
        for name, cell in zip(("t", "q"), cells):  # further columns are ignored
            try:
                v = float(cell)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):  # never drop a row and interpolate across it
                raise ValueError(f"{path}, line {n}: {name} = {cell!r} is not a finite number")
            vals.append(v)
        rows.append((*vals, n))
    t, q, lines = (np.array(c) for c in zip(*rows)) if rows else (np.array([]),) * 3
    return head, t.astype(float), q.astype(float), lines


def _own_period(ts, q, period_s):
    """(closed, period in s) of samples ts (s from the first one).

    A closed file repeats its first sample one period later (period = span); an open one stops
    a step before (period = span + mean step). Near the case's period the nearer reading wins;
    at another heart rate only a last flow equal to the first marks the file closed.
    """
    span = ts[-1]
    step = span / (len(ts) - 1)
    near = min(span, span + step, key=lambda p: abs(p - period_s))
    if abs(near - period_s) <= PERIOD_TOL * period_s:
        return near == span, near
    closed = bool(np.isclose(q[-1], q[0], rtol=1e-9, atol=0.0))
    return closed, span if closed else span + step


def load_waveform(spec: str, mean_m3_s: float, period_s: float, base_dir=None) -> Waveform:
    """Waveform from a case-file spec, rescaled to ``mean_m3_s`` over ``period_s``.

    Parameters
    ----------
    spec : str
        ``"constant"``, ``"builtin:aortic"``, ``"builtin:coronary"`` or a path to a CSV file:
        comma-separated columns t, q (further columns ignored), '#' comment lines, an optional
        header row whose time column names the unit (``t_s``, ``time [s]``, ``t_ms``,
        ``time (ms)``, ``t_fraction``, ``phase``; see ``TIME_UNITS``). Without a unit, times
        are fractions of the period only when they run from 0 to 1 (or to 1 - step), else
        seconds; a file that could be either is refused. A last row one period after the first
        closes the cycle and is dropped. q is the flow into the domain in any unit: only its
        shape is used (rescaled to the mean flow), so its mean must be positive and not near
        zero. A file whose own period differs from ``period_s`` is stretched to it, with a
        UserWarning. Every value must be a finite number.
    mean_m3_s : float
        Mean flow (m^3/s).
    period_s : float
        Cardiac period (s).
    base_dir : path, optional
        Folder that relative CSV paths are relative to.
    """
    if spec == "constant":
        return Waveform.constant(mean_m3_s, period_s)
    if spec.startswith("builtin:"):
        key = spec.split(":", 1)[1]
        if key not in BUILTIN:
            raise ValueError(f"unknown built-in waveform {key!r}; choose one of {sorted(BUILTIN)}")
        path = BUILTIN[key]
    else:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
    if not Path(path).is_file():
        raise FileNotFoundError(f"waveform file {path} not found")
    head, t, q, lines = _read_csv(path)
    unit = _time_unit(path, head) if head is not None else None
    if len(t) < 2:
        raise ValueError(f"{path}: need at least two rows of two numeric columns t, q")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        raise ValueError(f"{path}, line {lines[bad[0] + 1]}: times must increase strictly "
                         f"(t = {t[bad[0] + 1]:g} after {t[bad[0]]:g})")
    T = float(period_s)
    if unit is None:  # no unit named: fractions only when the file looks like them
        step = (t[-1] - t[0]) / (len(t) - 1)
        if t[0] == 0 and t[-1] <= 1 and min(abs(t[-1] - 1), abs(t[-1] + step - 1)) < 1e-3:
            unit = "fraction"
        elif t[-1] <= 1 and abs(_own_period(t - t[0], q, T)[1] - T) > PERIOD_TOL * T:
            raise ValueError(
                f"{path}: times {t[0]:g} to {t[-1]:g} with no unit are neither fractions of the "
                f"period (0 to 1) nor seconds of the case's period {T:.4g} s; {_HEADER_HINT}")
        else:
            unit = "s"
    ts = (t - t[0]) * {"s": 1.0, "ms": 1e-3, "fraction": T}[unit]
    if unit == "fraction":
        if t[0] < 0 or t[-1] > 1 + 1e-9:
            raise ValueError(f"{path}: times are fractions of the period, so must lie in [0, 1]; "
                             f"got {t[0]:g} to {t[-1]:g}")
        closed, own = abs(ts[-1] - T) <= 1e-6 * T, T
    else:
        closed, own = _own_period(ts, q, T)
        if abs(own - T) > PERIOD_TOL * T:  # the shape is what the file gives: stretch, but say so
            hint = "" if head is not None else f"; if its times are not in seconds, {_HEADER_HINT}"
            warnings.warn(f"{path}: the waveform's own period {own:.4g} s differs from the case's "
                          f"period {T:.4g} s (heart rate); it is stretched to {T:.4g} s{hint}",
                          UserWarning, stacklevel=2)
    if closed:  # the closing row repeats the first sample
        ts, q = ts[:-1], q[:-1]
    w = Waveform(ts * (T / own), q, T)
    m, peak = w.mean_m3_s, w.peak_m3_s
    if abs(m) <= MIN_MEAN_OVER_PEAK * peak:
        raise ValueError(f"{path}: the waveform's mean {m:.3g} is below {MIN_MEAN_OVER_PEAK:.0%} "
                         f"of its peak |q| {peak:.3g} (physiological peak/mean is typically "
                         "2-6): rescaled to the case's mean flow it would give absurd peaks; "
                         "q must be the flow into the domain, positive on average")
    if m < 0:
        raise ValueError(f"{path}: the waveform's mean {m:.3g} is negative; q must be the flow "
                         "into the domain (positive on average): flip the sign of the q column")
    return w.scaled_to_mean(mean_m3_s)


def womersley_profile(r_over_r, t_s, waveform: Waveform, radius_m: float, nu_m2_s: float,
                      n_harmonics: int = 10) -> np.ndarray:
    """Axial velocity (m/s) of fully developed pulsatile pipe flow carrying ``waveform``.

    Harmonic k with Womersley number a_k = R sqrt(k w / nu) and L = i^{3/2} a_k has the profile
    u_k(r) = Q_k / (pi R^2) [1 - J0(L r/R) / J0(L)] / [1 - 2 J1(L) / (L J0(L))] (Womersley 1955);
    the mean (k = 0) is parabolic.

    Parameters
    ----------
    r_over_r : ndarray
        Radial positions as a fraction of the radius (clipped to [0, 1]).
    t_s : float
    waveform : Waveform
    radius_m, nu_m2_s : float
    n_harmonics : int
    """
    from scipy.special import jv

    x = np.clip(np.asarray(r_over_r, float), 0.0, 1.0)
    area = math.pi * radius_m**2
    c = waveform.harmonics(n_harmonics)
    omega = 2.0 * math.pi / waveform.period_s
    u = 2.0 * c[0].real / area * (1.0 - x**2)
    for k in range(1, len(c)):
        if abs(c[k]) == 0:
            continue
        a = radius_m * math.sqrt(k * omega / nu_m2_s)
        lam = a * np.exp(1j * 3 * np.pi / 4)
        j0 = jv(0, lam)
        shape = (1.0 - jv(0, lam * x) / j0) / (1.0 - 2.0 * jv(1, lam) / (lam * j0))
        u = u + (c[k] / area * shape * np.exp(1j * k * omega * t_s)).real
    return u
