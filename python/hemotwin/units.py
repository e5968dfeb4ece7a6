# SPDX-License-Identifier: Apache-2.0
"""The one place that converts physical (SI) <-> lattice units, and checks a setup is stable.

Lattice quantities carry ``_lu``. With spacing dx (m), time step dt (s) and reference density
rho (kg/m^3): velocity u = u_lu dx/dt, kinematic viscosity nu = nu_lu dx^2/dt, pressure
p = p_lu rho (dx/dt)^2 (p_lu = cs^2 (rho_lu - 1), cs^2 = 1/3), stress likewise, volume flow
Q = Q_lu dx^3/dt, and the BGK/TRT relaxation time tau = 1/2 + 3 nu_lu.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MMHG_PA = 133.322387415  # 1 mmHg in Pa (conventional millimetre of mercury)
ML_M3 = 1e-6
CS2 = 1.0 / 3.0

# Engineering limits (REFERENCE.md sec. 2.3: the Ma bound is a convention, checked by verification).
TAU_MIN_LAMINAR = 0.505  # closer to 1/2 without LES is unstable at any useful Reynolds number
U_LU_LIMIT = 0.15  # lattice Mach u/cs = 0.26: compressibility error O(Ma^2) grows too large
MIN_PORT_CELLS = 4.0  # cells across a port: fewer cannot carry a velocity profile
# Limits of float32 arithmetic (also behind the 16-bit formats), which the core uses for tau itself:
# - float32 holds tau near 1/2 to 2^-24, so nu_lu = (tau - 1/2)/3 is rounded by up to 2^-25/(tau - 1/2);
#   this margin keeps that under 1 % (clinical runs have tau - 1/2 >= ~5e-4).
FLOAT32_TAU_MARGIN_MIN = 100 * 2.0**-25  # ~3e-6
# - the density carries round-off of order 1e-7 (a few ulps at rho = 1). Measured on a steady tube
#   (float32 vs float64): the pressure error is 0.1 % of the dynamic pressure u_lu^2/2 at u_lu = 1e-2,
#   15 % at 1e-3 and 16x it at 1e-4; below this speed the pressures are round-off.
FLOAT32_U_LU_MIN = 1e-3


class StabilityError(ValueError):
    """A setup the lattice-Boltzmann scheme cannot run accurately; the message says what to change."""


def mmhg_to_pa(p_mmhg: float) -> float:
    return p_mmhg * MMHG_PA


def pa_to_mmhg(p_pa: float) -> float:
    return p_pa / MMHG_PA


@dataclass(frozen=True)
class LatticeUnits:
    """Conversion factors between SI and lattice units.

    Parameters
    ----------
    dx_m : float
        Lattice spacing (m).
    dt_s : float
        Time step (s).
    rho_kg_m3 : float
        Reference density (kg/m^3) that lattice density 1 stands for.

    Examples
    --------
    >>> u = LatticeUnits(dx_m=1e-4, dt_s=1e-5, rho_kg_m3=1060.0)
    >>> round(u.velocity_to_lu(0.5), 6)
    0.05
    """

    dx_m: float
    dt_s: float
    rho_kg_m3: float

    @property
    def c_m_s(self) -> float:  # lattice velocity unit
        return self.dx_m / self.dt_s

    def velocity_to_lu(self, u_m_s):
        return u_m_s / self.c_m_s

    def velocity_to_si(self, u_lu):
        return u_lu * self.c_m_s

    def viscosity_to_lu(self, nu_m2_s):
        return nu_m2_s * self.dt_s / self.dx_m**2

    def pressure_to_lu(self, p_pa):
        return p_pa / (self.rho_kg_m3 * self.c_m_s**2)

    def pressure_to_si(self, p_lu):
        return p_lu * self.rho_kg_m3 * self.c_m_s**2

    stress_to_si = pressure_to_si

    def flow_to_si(self, q_lu):
        """Lattice volume flow (cell volumes per step) to m^3/s."""
        return q_lu * self.dx_m**3 / self.dt_s

    def flow_to_lu(self, q_m3_s):
        return q_m3_s * self.dt_s / self.dx_m**3

    def time_to_steps(self, t_s) -> float:
        return t_s / self.dt_s

    def tau(self, nu_m2_s: float) -> float:
        return 0.5 + 3.0 * self.viscosity_to_lu(nu_m2_s)

    @property
    def sound_speed_m_s(self) -> float:
        """The lattice fluid's sound speed sqrt(cs^2) dx/dt: it is weakly compressible."""
        return CS2**0.5 * self.c_m_s

    def density_variation(self, pressure_spread_pa: float) -> float:
        """Relative density spread of the lattice fluid that a pressure spread implies,
        delta rho / rho = delta p / (rho c_s^2)."""
        return self.pressure_to_lu(pressure_spread_pa) / CS2

    def acoustic_length(self, path_m: float, period_s: float) -> float:
        """omega x the time a lattice sound wave takes along ``path_m`` (omega = 2 pi / period):
        a pulsatile drive reaches the far end late, its amplitude varying along the path by
        ~ acoustic_length^2 / 2 (docs/validation.md 1). A rigid-wall model means 0."""
        return 2.0 * math.pi / period_s * path_m / self.sound_speed_m_s

    def as_dict(self) -> dict:
        return {"dx_m": self.dx_m, "dt_s": self.dt_s, "rho_kg_m3": self.rho_kg_m3}


def choose_lattice_units(
    dx_m: float,
    nu_m2_s: float,
    rho_kg_m3: float,
    u_max_m_s: float,
    u_lu_max: float = 0.05,
    tau: float | None = None,
) -> LatticeUnits:
    """Pick the time step for a spacing: from a target tau, or so the peak speed is ``u_lu_max``.

    Parameters
    ----------
    dx_m : float
        Lattice spacing (m).
    nu_m2_s : float
        Kinematic viscosity (m^2/s).
    rho_kg_m3 : float
        Fluid density (kg/m^3).
    u_max_m_s : float
        Expected peak speed (m/s).
    u_lu_max : float
        Peak lattice speed to aim for (Mach = u_lu / 0.577).
    tau : float, optional
        Fix the relaxation time instead (diffusive scaling): dt = (tau - 1/2) dx^2 / (3 nu).
    """
    for name, v in (("dx_m", dx_m), ("nu_m2_s", nu_m2_s), ("rho_kg_m3", rho_kg_m3)):
        if not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")
    if tau is not None:
        if not tau > 0.5:
            raise StabilityError(f"tau = {tau} must be > 0.5 (tau = 1/2 + 3 nu_lu)")
        dt = (tau - 0.5) * dx_m**2 / (3.0 * nu_m2_s)
    else:
        if not u_max_m_s > 0:
            raise ValueError(f"u_max_m_s must be > 0 to choose the time step, got {u_max_m_s}")
        dt = u_lu_max * dx_m / u_max_m_s
    return LatticeUnits(dx_m=dx_m, dt_s=dt, rho_kg_m3=rho_kg_m3)


def check_stability(units: LatticeUnits, nu_m2_s: float, u_max_m_s: float, les: bool,
                    precision: str = "float64", tau_given: bool = False) -> None:
    """Refuse setups the scheme cannot run, naming the numbers and what to change.

    ``precision`` other than float64 (float32 arithmetic) also refuses tau - 1/2 and lattice speeds
    below its resolution (FLOAT32_*); ``tau_given``: the fix to name is then the tau, not u_lu_max.

    Raises
    ------
    StabilityError
        tau too close to 1/2 without LES, lattice Mach too high, or below float32's resolution.
    """
    tau = units.tau(nu_m2_s)
    u_lu = units.velocity_to_lu(u_max_m_s)
    if not tau > 0.5:
        raise StabilityError(f"relaxation time tau = {tau:.5f} must be > 0.5")
    if u_lu > U_LU_LIMIT * (1 + 1e-9):  # u_lu_max = 0.15 exactly comes back as 0.15000000000000002
        raise StabilityError(
            f"peak lattice speed {u_lu:.3f} (Mach {u_lu / CS2**0.5:.2f}) exceeds {U_LU_LIMIT}: "
            f"the time step {units.dt_s:.3g} s is too long for {u_max_m_s:.3g} m/s at dx = "
            f"{units.dx_m * 1e3:.3g} mm; lower u_lu_max or the time step"
        )
    if tau < TAU_MIN_LAMINAR and not les:
        raise StabilityError(
            f"relaxation time tau = {tau:.5f} is too close to 0.5 for a run without LES "
            f"(need >= {TAU_MIN_LAMINAR}; lattice Reynolds number u_lu*dx/nu_lu = "
            f"{u_lu / units.viscosity_to_lu(nu_m2_s):.1f}): enable LES, use a coarser spacing "
            f"than {units.dx_m * 1e3:.3g} mm, or a larger lattice speed"
        )
    if precision == "float64":
        return
    fix = "raise numerics.tau" if tau_given else "raise numerics.u_lu_max"
    if tau - 0.5 < FLOAT32_TAU_MARGIN_MIN:
        raise StabilityError(
            f"tau - 1/2 = {tau - 0.5:.3g} is below {FLOAT32_TAU_MARGIN_MIN:.2g}: {precision} arithmetic "
            f"rounds tau near 1/2 to ~6e-8, so the viscosity would be off by more than 1 %; "
            f"{fix} or use precision 'float64'")
    if u_lu < FLOAT32_U_LU_MIN:
        raise StabilityError(
            f"peak lattice speed {u_lu:.3g} (u_max_m_s = {u_max_m_s:g}, tau = {tau:.7g}) is below "
            f"{FLOAT32_U_LU_MIN:g}: {precision} density round-off would swamp the pressures; "
            f"{fix} or use precision 'float64'")
