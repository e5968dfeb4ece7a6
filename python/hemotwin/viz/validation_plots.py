# SPDX-License-Identifier: Apache-2.0
"""Comparison figures of the nozzle validation and of grid-convergence studies (matplotlib, Agg;
no display needed). Drawn from the numbers ``validation/`` and ``credibility/`` computed; computes
nothing.
"""
from __future__ import annotations

import numpy as np

from .plots import _plt, finish_line_plot  # pyplot on the Agg backend; the end of a one-axis plot


def _mean_sd(data: dict, x_key: str):
    """An experiment's positions, means and standard deviations (a missing SD drawn as 0)."""
    return (np.array(data[x_key]), np.array(data["mean"], float),
            np.nan_to_num(np.array(data["sd"], float)))


def plot_centerline(path, sim_z, sim_u, exp=None, title="", extra_runs=None):
    """Centreline axial velocity: simulation line(s) and the experimental mean +/- SD band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    if exp and exp.get("z_m"):
        z, m, sd = _mean_sd(exp, "z_m")
        ax.fill_between(z, m - sd, m + sd, color="tab:orange", alpha=0.3, label="experiment mean ± SD (5 data sets)")
        ax.plot(z, m, "o", color="tab:orange", ms=4)
    for lab, (zz, uu) in (extra_runs or {}).items():
        ax.plot(zz, uu, lw=1, alpha=0.7, label=lab)
    ax.plot(sim_z, sim_u, color="tab:blue", lw=1.6, label="hemotwin LBM")
    ax.axvline(0.0, color="k", lw=0.5, ls=":")
    finish_line_plot(fig, ax, path, xlabel="z (m), flow →, z = 0 at the sudden step",
                     ylabel="centreline axial velocity (m/s)", title=title, dpi=120)


def plot_profiles(path, sim_profiles: dict, exp_profiles: dict, title=""):
    """Axial-velocity profiles at the stations (one panel each), simulation vs experiment band."""
    plt = _plt()
    keys = sorted(sim_profiles, key=float)
    n = len(keys)
    cols = 4
    rows = int(np.ceil(n / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, k in zip(axes.flat, keys):
        sp = sim_profiles[k]
        r = np.array(sp["r_m"]) * 1e3
        u = np.array(sp["u_axial_m_s"])
        o = np.argsort(r)
        ep = exp_profiles.get(k)
        if ep:
            rr, m, sd = _mean_sd(ep, "r_m")
            rr = rr * 1e3
            ax.fill_between(rr, m - sd, m + sd, color="tab:orange", alpha=0.3)
            ax.plot(rr, m, color="tab:orange", lw=1)
        ax.plot(r[o], u[o], color="tab:blue", lw=1.4)
        ax.set_title(f"z = {float(k):+.3f} m", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.supxlabel("r (mm)")
    fig.supylabel("axial velocity (m/s)")
    fig.suptitle(title + "  (blue: LBM, orange: experiment mean ± SD)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pressure(path, sim_z, sim_p_norm, exp=None, title=""):
    """Normalised pressure (P - P(z=0)) / (1/2 rho u_throat^2) along the axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    if exp and exp.get("z_m"):
        z, m, sd = _mean_sd(exp, "z_m")
        ax.errorbar(z, m, yerr=sd, fmt="o", color="tab:orange", ms=4, capsize=2,
                    label="experiment wall taps, mean ± SD")
    ax.plot(sim_z, sim_p_norm, color="tab:blue", lw=1.5, label="hemotwin LBM (cross-section mean)")
    finish_line_plot(fig, ax, path, xlabel="z (m)", ylabel="(P − P(z=0)) / (½ ρ ū_throat²)", title=title, dpi=120)


def plot_gci(path, table: dict, title=""):
    """Quantity against spacing for each GCI row, with the extrapolated value as a dashed line."""
    plt = _plt()
    names = [k for k, v in table.items() if "h" in v]
    n = len(names) or 1
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, k in zip(axes.flat, names):
        v = table[k]
        ax.plot(v["h"], v["f"], "o-")
        if v.get("f_ext") is not None:
            ax.axhline(v["f_ext"], ls="--", color="k", lw=0.8)
            ax.plot([0], [v["f_ext"]], "k*")
        ax.set_title(k, fontsize=8)
        ax.set_xlabel("h (relative cell size, finest = 1 / cells)", fontsize=7)
        ax.set_xlim(left=0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
