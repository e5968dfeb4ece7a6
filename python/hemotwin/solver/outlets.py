# SPDX-License-Identifier: Apache-2.0
"""Zero-dimensional outlet models coupled to the 3-D flow through ``Simulation.set_outlet_pressure``.

Convention: ``q`` is the flow OUT of the fluid through the port (m^3/s, as
``Simulation.port_flows_m3_s`` reports; negative = backflow) and the model returns the pressure
(Pa) to impose. Every model is explicit in the 3-D flow (it sees the flow of the previous coupling
interval) and its own state update is implicit (backward Euler), hence unconditionally stable for
any sign of q. Defaults follow REFERENCE.md sec. 5 (R_total = P_mean / Q, Murray-type split).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROXIMAL_FRACTION_DEFAULT",
    "OutletModel",
    "PressureOutlet",
    "RCROutlet",
    "ResistanceOutlet",
    "default_outlets",
    "murray_split",
    "target_flow_split",
]

# Rp / (Rp + Rd): "usually 5-10 %" per REFERENCE.md sec. 5 -- [UNVERIFIED] number, overridable.
PROXIMAL_FRACTION_DEFAULT = 0.09


@dataclass
class OutletModel:
    """Base class: ``pressure(q, dt)`` advances the state over dt and returns the port pressure."""

    name: str = ""

    def pressure(self, q_m3_s: float, dt_s: float) -> float:
        raise NotImplementedError

    def steady_pressure(self, q_m3_s: float) -> float:
        """Pressure once the model is at rest with a constant flow q."""
        raise NotImplementedError

    def initialize(self, q_m3_s: float) -> None:
        """Put the state at rest for a constant flow q (avoids a start-up transient)."""

    def instantaneous_resistance(self, dt_s: float, steady: bool) -> float:
        """d(pressure)/d(flow) over one coupling interval (Pa s/m^3), for the coupling relaxation."""
        return 0.0

    def get_state(self) -> list:
        return []

    def set_state(self, s) -> None:
        pass

    def describe(self) -> dict:
        return {"model": type(self).__name__}


@dataclass
class PressureOutlet(OutletModel):
    """A fixed pressure (0 Pa = the classic zero-pressure outlet)."""

    pressure_pa: float = 0.0

    def pressure(self, q_m3_s, dt_s):
        return self.pressure_pa

    def steady_pressure(self, q_m3_s):
        return self.pressure_pa

    def describe(self):
        return {"model": "pressure", "pressure_pa": self.pressure_pa}


@dataclass
class ResistanceOutlet(OutletModel):
    """p = p_distal + R q. ``relaxation`` in (0, 1] under-relaxes the update against the explicit
    coupling's overshoot when R is large compared with the lattice's acoustic impedance."""

    resistance_pa_s_m3: float = 0.0
    p_distal_pa: float = 0.0
    relaxation: float = 1.0
    _p: float | None = None

    def pressure(self, q_m3_s, dt_s):
        target = self.p_distal_pa + self.resistance_pa_s_m3 * q_m3_s
        self._p = target if self._p is None else self._p + self.relaxation * (target - self._p)
        return self._p

    def steady_pressure(self, q_m3_s):
        return self.p_distal_pa + self.resistance_pa_s_m3 * q_m3_s

    def initialize(self, q_m3_s):
        self._p = self.steady_pressure(q_m3_s)

    def instantaneous_resistance(self, dt_s, steady):
        return self.resistance_pa_s_m3

    def get_state(self):
        return [np.nan if self._p is None else self._p]

    def set_state(self, s):
        self._p = None if not np.isfinite(s[0]) else float(s[0])

    def describe(self):
        return {"model": "resistance", "resistance_pa_s_m3": self.resistance_pa_s_m3,
                "p_distal_pa": self.p_distal_pa}


@dataclass
class RCROutlet(OutletModel):
    """Three-element Windkessel: p = p_c + Rp q,  C dp_c/dt = q - (p_c - p_distal) / Rd.

    The capacitor update is backward Euler,
    p_c' = (p_c + dt/C (q + p_distal/Rd)) / (1 + dt/(C Rd)),
    stable for any dt and any sign of q (backflow).
    """

    rp_pa_s_m3: float = 0.0
    c_m3_pa: float = 1e-9
    rd_pa_s_m3: float = 0.0
    p_distal_pa: float = 0.0
    relaxation: float = 1.0
    p_c: float = 0.0
    _p: float | None = None

    def pressure(self, q_m3_s, dt_s):
        a = dt_s / self.c_m3_pa
        if self.rd_pa_s_m3 > 0:
            self.p_c = (self.p_c + a * (q_m3_s + self.p_distal_pa / self.rd_pa_s_m3)) / \
                (1.0 + a / self.rd_pa_s_m3)
        else:
            self.p_c = self.p_distal_pa
        target = self.p_c + self.rp_pa_s_m3 * q_m3_s
        self._p = target if self._p is None else self._p + self.relaxation * (target - self._p)
        return self._p

    def steady_pressure(self, q_m3_s):
        return self.p_distal_pa + (self.rp_pa_s_m3 + self.rd_pa_s_m3) * q_m3_s

    def initialize(self, q_m3_s):
        self.p_c = self.p_distal_pa + self.rd_pa_s_m3 * q_m3_s
        self._p = self.steady_pressure(q_m3_s)

    def instantaneous_resistance(self, dt_s, steady):
        if steady:
            return self.rp_pa_s_m3 + self.rd_pa_s_m3
        a = dt_s / self.c_m3_pa
        return self.rp_pa_s_m3 + (a / (1.0 + a / self.rd_pa_s_m3) if self.rd_pa_s_m3 > 0 else 0.0)

    @property
    def time_constant_s(self) -> float:
        return self.rd_pa_s_m3 * self.c_m3_pa

    def get_state(self):
        return [self.p_c, np.nan if self._p is None else self._p]

    def set_state(self, s):
        self.p_c = float(s[0])
        self._p = None if not np.isfinite(s[1]) else float(s[1])

    def describe(self):
        return {"model": "rcr", "rp_pa_s_m3": self.rp_pa_s_m3, "c_m3_pa": self.c_m3_pa,
                "rd_pa_s_m3": self.rd_pa_s_m3, "p_distal_pa": self.p_distal_pa,
                "time_constant_s": self.time_constant_s}


def murray_split(radii_m, exponent: float = 3.0) -> np.ndarray:
    """Flow fractions Q_i / Q = r_i^k / sum_j r_j^k (Murray's law k = 3; coronary fit k = 2.15,
    Taylor et al. 2022, REFERENCE.md sec. 5)."""
    r = np.asarray(radii_m, float)
    if r.size == 0 or not np.all(r > 0):
        raise ValueError(f"murray_split needs positive radii, got {r.tolist()}")
    w = r**exponent
    return w / w.sum()


def target_flow_split(outlet_radii_m: dict, murray_exponent: float = 3.0,
                      flow_fractions: dict | None = None) -> dict:
    """{name: Q_i / Q}: ``flow_fractions`` where prescribed, the rest of the flow shared by the
    Murray split (``murray_split``) of the other outlets."""
    names = list(outlet_radii_m)
    frac = dict(zip(names, murray_split([outlet_radii_m[n] for n in names], murray_exponent)))
    if flow_fractions:
        fixed = {k: float(v) for k, v in flow_fractions.items() if k in frac}

        def field(k):
            return f"physiology.outlets.ports.{k}.flow_fraction"

        bad = {k: v for k, v in fixed.items() if not (math.isfinite(v) and v > 0.0)}
        if bad:
            k, v = next(iter(bad.items()))
            raise ValueError(f"{field(k)} = {v:g}: expected a fraction of the inflow > 0")
        rest = [n for n in names if n not in fixed]
        total = sum(fixed.values())
        left = 1.0 - total
        shown = ", ".join(f"{field(k)} = {v:g}" for k, v in fixed.items())
        if left < -1e-9:
            raise ValueError(f"{shown}: the prescribed flow fractions sum to {total:.6g}; expected a "
                             "total of at most 1")
        if rest and left <= 1e-9:
            # the other outlets would get no flow: R = dp / 0 = inf and a NaN pressure offset
            raise ValueError(f"{shown}: the prescribed flow fractions sum to {total:.6g}, leaving no flow "
                             f"for {', '.join(rest)}; expected a total below 1, or a fraction for every "
                             "outlet summing to 1")
        if not rest and abs(left) > 1e-6:
            raise ValueError(f"{shown}: every outlet has a prescribed flow fraction but they sum to "
                             f"{total:.6g}; expected 1")
        s = sum(frac[n] for n in rest) or 1.0
        frac = {**{n: frac[n] * left / s for n in rest}, **fixed}
    return frac


def default_outlets(
    outlet_radii_m: dict,
    inflow_m3_s: float,
    mean_pressure_pa: float,
    model: str = "rcr",
    murray_exponent: float = 3.0,
    proximal_fraction: float = PROXIMAL_FRACTION_DEFAULT,
    total_compliance_m3_pa: float = 1.5e-6 / 133.322387415,
    distal_pressure_pa: float = 0.0,
    flow_fractions: dict | None = None,
    overrides: dict | None = None,
) -> dict:
    """Outlet models estimated from a target mean pressure and the inflow (REFERENCE.md sec. 5).

    R_total = (P_mean - P_distal) / Q; outlet i carries Q_i = f_i Q with f_i from ``murray_split``
    (or ``flow_fractions``) and gets R_i = (P_mean - P_distal) / Q_i (parallel resistances give
    back R_total). RCR: Rp_i = proximal_fraction R_i, Rd_i = R_i - Rp_i, C_i = f_i C_total.

    Parameters
    ----------
    outlet_radii_m : dict
        {port name: equivalent radius (m)}.
    inflow_m3_s : float
        Mean inflow (m^3/s).
    mean_pressure_pa : float
        Target mean pressure at the outlets (Pa), e.g. MAP 93 mmHg.
    model : {"rcr", "resistance", "zero_pressure"}
    murray_exponent : float
        k in Q_i ~ r_i^k.
    proximal_fraction : float
        Rp / R_i ([UNVERIFIED] typical 5-10 %, default 0.09).
    total_compliance_m3_pa : float
        Total arterial compliance (default 1.5 mL/mmHg, REFERENCE.md sec. 5, weak secondary).
    distal_pressure_pa : float
        Venous/distal pressure (Pa).
    flow_fractions : dict, optional
        Prescribed {name: fraction} replacing the Murray split for those ports (rest rescaled).
    overrides : dict, optional
        {name: {"model", "pressure", "resistance", "rp", "rd", "c"}} in SI, from the case file.

    Returns
    -------
    dict
        {name: OutletModel}; each model's ``target_flow_m3_s`` attribute holds Q_i.

    Examples
    --------
    >>> m = default_outlets({"a": 1e-3, "b": 1e-3}, 1e-4, 12000.0)
    >>> round(m["a"].steady_pressure(5e-5))
    12000
    """
    names = list(outlet_radii_m)
    frac = target_flow_split(outlet_radii_m, murray_exponent, flow_fractions)
    dp = mean_pressure_pa - distal_pressure_pa
    out = {}
    overrides = overrides or {}
    for n in names:
        q_i = frac[n] * inflow_m3_s
        r_i = dp / q_i if q_i > 0 else math.inf
        ov = {k: v for k, v in (overrides.get(n) or {}).items() if v is not None}
        kind = ov.get("model", model)
        if kind in ("zero_pressure", "pressure"):
            m = PressureOutlet(n, ov.get("pressure", 0.0))
        elif kind == "resistance":
            m = ResistanceOutlet(n, float(ov.get("resistance", r_i)), distal_pressure_pa)
        elif kind == "rcr":
            r_tot = float(ov.get("resistance", r_i))
            rp = float(ov.get("rp", proximal_fraction * r_tot))
            rd = float(ov.get("rd", r_tot - rp))
            m = RCROutlet(n, rp, float(ov.get("c", frac[n] * total_compliance_m3_pa)), rd, distal_pressure_pa)
        else:
            raise ValueError(f"outlet {n!r}: unknown model {kind!r}; allowed zero_pressure, "
                             "pressure, resistance, rcr")
        m.target_flow_m3_s = float(q_i)
        m.flow_fraction = float(frac[n])
        out[n] = m
    return out
