# SPDX-License-Identifier: Apache-2.0
"""Matplotlib plots along the centerline: lumen diameter profile with lesions and the device,
pressure profile pre/post, and a pre/post bar chart of gradients and Pd/Pa.

Off-screen (Agg backend); arclength and diameters in mm, pressures shown in mmHg. Functions take
data and an output path and return the path.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

__all__ = ["diameter_profile", "pressure_profile", "pre_post_bars"]

PA_PER_MMHG = 133.322387415


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _get(obj, key, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def finish_line_plot(fig, ax, path, *, xlabel, ylabel, title, dpi, legend=None):
    """The common end of a one-axis plot: axis labels, title, grid and legend (``legend``: its
    keyword arguments, default small type); writes ``path`` and frees the figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(**(legend or {"fontsize": 8}))
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
    return path


def diameter_profile(arclength_mm, diameter_mm, path, *, lesions=(), device=None, reference_mm=None,
                     post_diameter_mm=None, post_arclength_mm=None,
                     title="Lumen diameter along the centerline", dpi=150):
    """Diameter profile with the detected lesions (span, MLD, RVD, %DS) and the device.

    Parameters
    ----------
    arclength_mm, diameter_mm : (n,) arrays
        Profile (mm), inlet first.
    path : str or Path
        PNG to write.
    lesions : sequence of Lesion or dict
        Drawn as shaded spans with the MLD marked and labelled with %DS and length.
    device : Device or dict, optional
        ``diameter_mm``, ``length_mm``, ``start_mm`` (and ``family``): drawn as a box from
        ``start_mm`` to ``start_mm + length_mm`` up to its nominal diameter.
    reference_mm : (n,) array, optional
        Reference (healthy) diameter, dashed.
    post_diameter_mm : (m,) array, optional
        Profile after virtual treatment, on ``post_arclength_mm`` (default the same arclength).
    """
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = np.asarray(arclength_mm, float)
    d = np.asarray(diameter_mm, float)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(s, d, color="black", lw=1.6, label="Lumen diameter (pre)")
    if reference_mm is not None:
        ax.plot(s, np.asarray(reference_mm, float), "--", color="grey", lw=1.0, label="Reference diameter")
    if post_diameter_mm is not None:
        sp = s if post_arclength_mm is None else np.asarray(post_arclength_mm, float)
        ax.plot(sp, np.asarray(post_diameter_mm, float), color="tab:blue", lw=1.4,
                label="Lumen diameter (post, virtual)")
    ymax = float(np.nanmax(d)) * 1.6
    for k, les in enumerate(lesions):
        a, b = float(_get(les, "start_mm")), float(_get(les, "end_mm"))
        ax.axvspan(a, b, color="tab:red", alpha=0.12, label="Lesion" if k == 0 else None)
        pos, mld = float(_get(les, "position_mm")), float(_get(les, "mld_mm"))
        rvd = float(_get(les, "rvd_mm"))
        ax.plot([pos], [mld], "v", color="tab:red", ms=8)
        ax.hlines(rvd, a, b, colors="tab:red", linestyles=":", lw=1.2)
        # the label stays inside the axes: left of a lesion near the end, above a deep MLD
        right = (pos - float(s.min())) > 0.6 * (float(s.max()) - float(s.min()))
        ax.annotate(f"L{k + 1}: {float(_get(les, 'percent_diameter_stenosis')):.0f} %DS\n"
                    f"MLD {mld:.2f} mm, RVD {rvd:.2f} mm\nlength {b - a:.1f} mm",
                    (pos, mld), xytext=(-12 if right else 10, 25 if mld < 0.15 * ymax else -45),
                    textcoords="offset points", ha="right" if right else "left", fontsize=8,
                    color="tab:red",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "tab:red", "alpha": 0.85})
    if device is not None:
        a = float(_get(device, "start_mm"))
        ln, dd = float(_get(device, "length_mm")), float(_get(device, "diameter_mm"))
        ax.add_patch(plt.Rectangle((a, 0), ln, dd, fill=False, ec="tab:blue", lw=1.5, hatch="//",
                                   alpha=0.6, label=f"Device {dd:g} x {ln:g} mm"
                                   + (f" ({_get(device, 'family')})" if _get(device, "family") else "")))
        ymax = max(ymax, dd * 1.6)
    ax.set_xlim(float(s.min()), float(s.max()))
    ax.set_ylim(0, ymax)
    finish_line_plot(fig, ax, path, xlabel="Arclength from the inlet (mm)", ylabel="Diameter (mm)", title=title,
                     dpi=dpi, legend={"loc": "upper right", "fontsize": 8, "framealpha": 0.9, "ncol": 2})
    return path


def diameter_profile_png(arclength_mm, diameter_mm, lesions, device_span) -> bytes:
    """A compact diameter profile for the planning app, as PNG bytes: the lumen (when
    ``diameter_mm`` is not None), each lesion's span and MLD, and the device as a bar
    ``device_span = (start_mm, end_mm, diameter_mm)``. Uses no pyplot state (the app's server
    threads draw concurrently)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    if arclength_mm is not None and diameter_mm is not None:
        ax.plot(arclength_mm, diameter_mm, color="k", lw=1.5, label="lumen")
        for i, L in enumerate(lesions):
            if _get(L, "start_mm") is not None:
                ax.axvspan(_get(L, "start_mm"), _get(L, "end_mm"), color="tab:red", alpha=0.15,
                           label="lesion" if i == 0 else None)
            if _get(L, "position_mm") is not None and _get(L, "mld_mm") is not None:
                ax.plot([_get(L, "position_mm")], [_get(L, "mld_mm")], "v", color="tab:red")
    a, b, d = device_span
    ax.plot([a, b], [d, d], color="tab:blue", lw=3, label="device")
    ax.set_xlabel("Distance along centerline [mm]")
    ax.set_ylabel("Lumen diameter [mm]")
    ax.set_title("Centerline diameter profile")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def pressure_profile(arclength_mm, pressure_pa, path, *, post_arclength_mm=None, post_pressure_pa=None,
                     lesions=(), stations_mm=None, title="Pressure along the centerline", dpi=150):
    """Cross-sectional mean pressure along the centerline (mmHg), pre and optionally post.

    ``stations_mm`` (proximal, distal) marks where the translesional gradient was taken.
    """
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = np.asarray(arclength_mm, float)
    fig, ax = plt.subplots(figsize=(9, 4.0))
    ax.plot(s, np.asarray(pressure_pa, float) / PA_PER_MMHG, color="black", lw=1.6, label="Pre-treatment")
    if post_pressure_pa is not None:
        sp = s if post_arclength_mm is None else np.asarray(post_arclength_mm, float)
        ax.plot(sp, np.asarray(post_pressure_pa, float) / PA_PER_MMHG, color="tab:blue", lw=1.4,
                label="Post-stent (virtual)")
    for k, les in enumerate(lesions):
        ax.axvspan(float(_get(les, "start_mm")), float(_get(les, "end_mm")), color="tab:red", alpha=0.12,
                   label="Lesion" if k == 0 else None)
    if stations_mm is not None:
        for x, lab in zip(stations_mm, ("proximal", "distal")):
            ax.axvline(float(x), color="grey", ls=":", lw=1)
            ax.text(float(x), ax.get_ylim()[1], f" {lab}", va="top", fontsize=8, color="grey")
    finish_line_plot(fig, ax, path, xlabel="Arclength from the inlet (mm)", ylabel="Pressure (mmHg)", title=title,
                     dpi=dpi)
    return path


def pre_post_bars(pre: dict, post: dict, path, *, title="Pre vs post (virtual stent)", dpi=150):
    """Side-by-side bars of a few metrics, e.g. ``{"Gradient (mmHg)": 25.1, "Pd/Pa": 0.71}``.

    Each metric gets its own small axis (units differ); keys are the axis labels with units.
    """
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [k for k in pre if k in post and pre[k] is not None and post[k] is not None]
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(3.0 * max(1, len(keys)), 3.6), squeeze=False)
    for ax, k in zip(axes[0], keys):
        vals = [float(pre[k]), float(post[k])]
        bars = ax.bar(["Pre", "Post"], vals, color=["tab:red", "tab:blue"], alpha=0.8)
        for bar, v in zip(bars, vals):
            ax.annotate(f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        fontsize=9)
        ax.set_ylabel(k)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
