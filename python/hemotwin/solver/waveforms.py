# SPDX-License-Identifier: Apache-2.0
"""Periodic inflow waveforms (constant, built-in shapes, two-column CSV) and Womersley profiles.

A waveform is stored as flow (m^3/s) at times (s) over one period, linearly interpolated and
periodic. Built-in shapes ``aortic`` and ``coronary`` are synthetic typical shapes shipped in
``solver/data/*.csv`` ([UNVERIFIED]: not measured data), rescaled to the case's mean flow.
"""
from __future__ import annotations

import math
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


def load_waveform(spec: str, mean_m3_s: float, period_s: float, base_dir=None) -> Waveform:
    """Waveform from a case-file spec, rescaled to ``mean_m3_s`` over ``period_s``.

    Parameters
    ----------
    spec : str
        ``"constant"``, ``"builtin:aortic"``, ``"builtin:coronary"`` or a CSV path with two
        columns ``t, q``: t either a fraction of the period (max <= 1) or seconds; q in any unit
        (only its shape is used: it is rescaled to the mean flow).
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
    try:
        data = np.genfromtxt(path, delimiter=",", comments="#", names=None, skip_header=0,
                             invalid_raise=True)
    except ValueError as e:
        raise ValueError(f"{path}: not a two-column CSV ({e})") from None
    data = data[np.all(np.isfinite(data), axis=1)] if data.ndim == 2 else data
    if data.ndim != 2 or data.shape[1] < 2 or len(data) < 2:
        raise ValueError(f"{path}: need at least two rows of two numeric columns t, q")
    t, q = data[:, 0], data[:, 1]
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{path}: times must increase strictly")
    span = t[-1] - t[0]
    if t.max() <= 1.0 + 1e-9:  # fraction of the period
        ts = (t - t[0]) * period_s
    else:
        ts = (t - t[0]) * (period_s / (span + (span / (len(t) - 1))))
    if len(ts) > 1 and abs(ts[-1] - period_s) < 1e-9 * period_s:  # closing sample = first
        ts, q = ts[:-1], q[:-1]
    w = Waveform(ts, q.astype(float), float(period_s))
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
