# SPDX-License-Identifier: Apache-2.0
"""The standard figure set of a case run (pre, optional post): diameter profile with lesions and
device, pressure profile, WSS and pressure on the wall, pre/post side by side, pre/post bars,
streamlines through the lesion. Each figure is independent: one that fails is reported, not fatal.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from . import plots, wall

__all__ = ["case_figures"]

PA_PER_MMHG = 133.322387415


def _lesion_stations(les):
    a, b = les.get("proximal_station_mm"), les.get("distal_station_mm")
    return (a, b) if a is not None and b is not None else None


# Every figure case_figures may draw (as folder/NAME.png): the pipeline checks these paths before a
# run, so a user's file of the same name is refused up front rather than overwritten.
FIGURE_NAMES = ("diameter_profile", "pressure_profile", "wss_pre", "pressure_wall_pre", "tawss_pre",
                "osi_pre", "wss_pre_post", "pressure_pre_post", "pre_post_bars", "streamlines_pre",
                "streamlines_post")


def case_figures(out_dir, pre: dict, post: dict | None = None, device: dict | None = None,
                 results: dict | None = None, *, folder: str = "figures", claim=None) -> dict:
    """Draw the case figures into ``out_dir/folder``.

    Parameters
    ----------
    out_dir : str or Path
    pre, post : dict
        Analysis of the untreated / treated anatomy: ``centerline`` (``arclength_mm``,
        ``diameter_mm``, ``pressure_mmhg``, optional ``points_mm``, ``port``), ``lesions`` (list of
        dicts), optional ``_wall`` (surface in mm with ``wss_magnitude_pa`` and ``pressure_pa``),
        optional ``_flow`` (``cell_centers_m``, ``fields`` with ``velocity_m_s``, ``spacing_m``) for
        streamlines; otherwise ``results["files"]["pre_fields"]`` / ``["post_fields"]`` (a
        ``.vti`` with ``velocity_m_s``, relative to ``out_dir``) is used when present.
    device : dict, optional
        ``diameter_mm``, ``length_mm``, ``start_mm``, ``family``.
    results : dict, optional
        Results (used for the pre/post bars when ``post`` lacks lesions).
    claim : callable, optional
        ``claim("figures/NAME.png") -> Path``: where to write a figure; it may refuse (raise) to
        protect a file that is not hemotwin's (the pipeline's output folder does). Default: the
        path under ``out_dir``.

    Returns
    -------
    dict name -> path relative to ``out_dir`` (for ``report.write_report``).
    """
    out = Path(out_dir)
    fig_dir = out / folder
    fig_dir.mkdir(parents=True, exist_ok=True)
    made = {}

    def attempt(name, fn):
        assert name in FIGURE_NAMES, name
        try:
            p = fn(Path(claim(f"{folder}/{name}.png")) if claim else fig_dir / f"{name}.png")
            made[name] = str(Path(p).resolve().relative_to(out.resolve()))
        except Exception as e:  # a figure is never worth failing the case for
            warnings.warn(f"figure {name!r} failed: {type(e).__name__}: {e}", stacklevel=2)

    c0 = pre.get("centerline") or {}
    lesions = pre.get("lesions") or []
    c1 = (post or {}).get("centerline") or {}
    if "arclength_mm" in c0 and "diameter_mm" in c0:
        attempt("diameter_profile", lambda p: plots.diameter_profile(
            c0["arclength_mm"], c0["diameter_mm"], p, lesions=lesions, device=device,
            post_diameter_mm=c1.get("diameter_mm"), post_arclength_mm=c1.get("arclength_mm"),
            title=f"Lumen diameter from the inlet to {c0.get('port', 'the outlet')}"))
    if "arclength_mm" in c0 and "pressure_mmhg" in c0:
        st = _lesion_stations(lesions[0]) if lesions else None
        attempt("pressure_profile", lambda p: plots.pressure_profile(
            c0["arclength_mm"], np.asarray(c0["pressure_mmhg"], float) * PA_PER_MMHG, p,
            post_arclength_mm=c1.get("arclength_mm"),
            post_pressure_pa=(np.asarray(c1["pressure_mmhg"], float) * PA_PER_MMHG
                              if "pressure_mmhg" in c1 else None),
            lesions=lesions, stations_mm=st,
            title=f"Mean pressure from the inlet to {c0.get('port', 'the outlet')}"))
    w0, w1 = pre.get("_wall"), (post or {}).get("_wall")
    if w0 is not None:
        marks = _mld_marks(c0, lesions)
        if "wss_magnitude_pa" in w0.point_data:
            attempt("wss_pre", lambda p: wall.wss_map(w0, p, title="Wall shear stress (pre-treatment)",
                                                      annotations=marks))
        if "pressure_pa" in w0.point_data:
            attempt("pressure_wall_pre", lambda p: wall.pressure_map(
                w0, p, title="Pressure on the wall (pre-treatment)", annotations=marks))
        for arr, name in (("tawss_pa", "tawss_pre"), ("osi", "osi_pre")):
            if arr in w0.point_data:
                fn = wall.tawss_map if arr == "tawss_pa" else wall.osi_map
                attempt(name, lambda p, fn=fn: fn(w0, p))
    if w0 is not None and w1 is not None:
        if "wss_magnitude_pa" in w0.point_data and "wss_magnitude_pa" in w1.point_data:
            attempt("wss_pre_post", lambda p: wall.pre_post(
                w0, w1, p, array="wss_magnitude_pa", title="Wall shear stress",
                unit_label="WSS magnitude (Pa)"))
        if "pressure_pa" in w0.point_data and "pressure_pa" in w1.point_data:
            attempt("pressure_pre_post", lambda p: wall.pre_post(
                w0, w1, p, array="pressure_pa", title="Pressure on the wall",
                unit_label="Pressure (mmHg)", scale=1.0 / PA_PER_MMHG, cmap="coolwarm"))
    post_les = (post or {}).get("lesions") or ((results or {}).get("post") or {}).get("lesions") or []
    if lesions and post_les:
        pre_v = {"Mean gradient (mmHg)": lesions[0].get("gradient_mmhg"), "Pd/Pa": lesions[0].get("pd_pa"),
                 "MLD (mm)": lesions[0].get("mld_mm")}
        post_v = {"Mean gradient (mmHg)": post_les[0].get("gradient_mmhg"), "Pd/Pa": post_les[0].get("pd_pa"),
                  "MLD (mm)": post_les[0].get("mld_mm")}
        attempt("pre_post_bars", lambda p: plots.pre_post_bars(pre_v, post_v, p,
                                                               title="Lesion 1: pre vs post (virtual stent)"))
    files = (results or {}).get("files") or {}
    for tag, ana, wl, cl, label in (("pre", pre, w0, c0, "pre-treatment"),
                                    ("post", post or {}, w1, c1, "post-stent (virtual)")):
        grid = _velocity_source(out, ana, files.get(f"{tag}_fields"))
        if grid is not None and wl is not None and lesions and "points_mm" in cl:
            attempt(f"streamlines_{tag}", lambda p, g=grid, w=wl, c=cl, lab=label:
                    _streamlines(w, g, c, lesions[0], p, lab))
    return made


def _velocity_source(out, analysis, fields_file):
    """A velocity grid: from ``analysis["_flow"]`` (solver output) or a written ``*_fields.vti``."""
    flow = analysis.get("_flow")
    if flow is not None:
        fields = flow.get("fields", flow)
        return wall.velocity_grid(flow["cell_centers_m"], fields["velocity_m_s"], flow["spacing_m"])
    if fields_file and (Path(out) / fields_file).exists():
        import pyvista as pv

        g = pv.read(str(Path(out) / fields_file))
        return g if "velocity_m_s" in g.point_data else None
    return None


def _mld_marks(c0, lesions):
    if "points_mm" not in c0 or not lesions:
        return None
    s = np.asarray(c0["arclength_mm"], float)
    pts = np.asarray(c0["points_mm"], float)
    return [(f"L{les.get('id', i + 1)} MLD", pts[int(np.argmin(np.abs(s - les["position_mm"])))])
            for i, les in enumerate(lesions) if les.get("position_mm") is not None]


def _streamlines(surface, grid, cl, lesion, path, label):
    s = np.asarray(cl["arclength_mm"], float)
    pts = np.asarray(cl["points_mm"], float)
    seed_s = max(float(s[0]), float(lesion["start_mm"]) - 0.5 * float(lesion.get("length_mm", 0) or 0))
    k = int(np.argmin(np.abs(s - seed_s)))
    k2 = min(k + 1, len(pts) - 1)
    normal = pts[k2] - pts[max(k2 - 1, 0)]
    radius = 0.5 * float(np.asarray(cl["diameter_mm"], float)[k])
    return wall.streamlines_grid(surface, grid, path, seed_center_mm=pts[k], seed_normal=normal,
                                 seed_radius_mm=0.8 * radius,
                                 title=f"Streamlines through lesion {lesion.get('id', 1)} ({label})")
