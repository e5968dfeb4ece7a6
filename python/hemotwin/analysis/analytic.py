# SPDX-License-Identifier: Apache-2.0
"""Exact solutions used for code verification (REFERENCE.md sec. 2.1-2.2). SI units throughout."""
from __future__ import annotations

import numpy as np
from scipy.special import jv


def poiseuille_velocity(r_m, radius_m: float, flow_m3_s: float):
    """Axial velocity (m/s) of Hagen-Poiseuille flow: u = 2 Q / (pi R^2) (1 - r^2/R^2).

    Examples
    --------
    >>> round(float(poiseuille_velocity(0.0, 1.0, np.pi)), 12)
    2.0
    """
    r = np.asarray(r_m, float)
    return np.where(r < radius_m, 2.0 * flow_m3_s / (np.pi * radius_m**2) * (1 - (r / radius_m) ** 2), 0.0)


def poiseuille_pressure_drop(length_m: float, radius_m: float, flow_m3_s: float, mu_pa_s: float) -> float:
    """Pressure drop (Pa) over a length: 8 mu L Q / (pi R^4)."""
    return 8.0 * mu_pa_s * length_m * flow_m3_s / (np.pi * radius_m**4)


def poiseuille_wss(radius_m: float, flow_m3_s: float, mu_pa_s: float) -> float:
    """Wall shear stress (Pa): 4 mu Q / (pi R^3)."""
    return 4.0 * mu_pa_s * flow_m3_s / (np.pi * radius_m**3)


def womersley_number(radius_m: float, omega_rad_s: float, nu_m2_s: float) -> float:
    return radius_m * np.sqrt(omega_rad_s / nu_m2_s)


def _lam(alpha: float) -> complex:
    return alpha * (-1 + 1j) / np.sqrt(2.0)  # alpha i^(3/2)


def womersley_velocity(r_m, t_s, radius_m, gradient_amp_pa_m, omega_rad_s, rho_kg_m3, nu_m2_s):
    """Axial velocity (m/s) for -dp/dz = G cos(omega t) in a rigid pipe (Womersley 1955).

    u(r, t) = Re{ G / (i rho omega) [1 - J0(Lambda r/R) / J0(Lambda)] e^{i omega t} },
    Lambda = alpha i^(3/2).
    """
    alpha = womersley_number(radius_m, omega_rad_s, nu_m2_s)
    lam = _lam(alpha)
    r = np.asarray(r_m, float)
    shape = (1 - jv(0, lam * r / radius_m) / jv(0, lam)) * gradient_amp_pa_m / (1j * rho_kg_m3 * omega_rad_s)
    return np.real(np.multiply.outer(np.exp(1j * omega_rad_s * np.asarray(t_s, float)), shape))


def womersley_wss(t_s, radius_m, gradient_amp_pa_m, omega_rad_s, nu_m2_s):
    """Wall shear stress (Pa, along +z) for -dp/dz = G cos(omega t): Re{G R / Lambda J1/J0 e^{iwt}}."""
    alpha = womersley_number(radius_m, omega_rad_s, nu_m2_s)
    lam = _lam(alpha)
    amp = gradient_amp_pa_m * radius_m / lam * jv(1, lam) / jv(0, lam)
    return np.real(amp * np.exp(1j * omega_rad_s * np.asarray(t_s, float)))


def womersley_flow(t_s, radius_m, gradient_amp_pa_m, omega_rad_s, rho_kg_m3, nu_m2_s):
    """Volume flow (m^3/s) for -dp/dz = G cos(omega t)."""
    alpha = womersley_number(radius_m, omega_rad_s, nu_m2_s)
    lam = _lam(alpha)
    q = np.pi * radius_m**2 * gradient_amp_pa_m / (1j * rho_kg_m3 * omega_rad_s) * (
        1 - 2 * jv(1, lam) / (lam * jv(0, lam)))
    return np.real(q * np.exp(1j * omega_rad_s * np.asarray(t_s, float)))
