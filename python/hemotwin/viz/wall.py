# SPDX-License-Identifier: Apache-2.0
"""Off-screen PyVista figures of hemodynamic results: wall maps (WSS, TAWSS, OSI, pressure) with
colour bars in clinical units, streamlines through a lesion, pre/post side by side.

Every figure has a title, a labelled colour bar, an LPS orientation marker (L, P, S axes), a
scale bar in mm and the name of its view. The default view is the standard one (anterior, left
lateral or superior) that looks along the shape's thinnest direction, so an aortic arch is seen
from the side; the anterior view puts the patient's left on the viewer's right, superior up.
Geometry in mm. Functions take data and an output path and return the path. No display is needed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .offscreen import pyvista as _pv  # loads PyVista on call, off-screen

__all__ = ["auto_view", "wall_map", "wss_map", "pressure_map", "tawss_map", "osi_map", "streamlines",
           "streamlines_grid", "pre_post", "velocity_grid"]

PA_PER_MMHG = 133.322387415
WINDOW = (1200, 900)


def _nice_length(extent_mm: float) -> float:
    """A 1-2-5 round length near a fifth of the extent (mm)."""
    target = max(extent_mm / 5.0, 1e-3)
    k = 10 ** np.floor(np.log10(target))
    return float(min((m * k for m in (1, 2, 5, 10)), key=lambda x: abs(x - target)))


VIEW_NAMES = {"anterior": "anterior view", "posterior": "posterior view", "left": "left lateral view",
              "right": "right lateral view", "superior": "superior view"}


def auto_view(points_mm) -> str:
    """The standard view that looks along the thinnest direction of a shape (its best-fit plane's
    normal): "anterior", "left" or "superior", whichever is closest. An aortic arch (nearly
    sagittal) gets the left lateral view, a vessel in a coronal plane the anterior view; a shape
    with no clear plane (a straight tube) the anterior view."""
    p = np.asarray(points_mm, float)
    if len(p) < 4:
        return "anterior"
    _, sv, vt = np.linalg.svd(p - p.mean(axis=0), full_matrices=False)
    if sv[2] > 0.7 * sv[1]:  # not plane-like (e.g. a straight tube): no preferred side
        return "anterior"
    normal = vt[-1]
    scores = {"anterior": abs(normal[1]), "left": abs(normal[0]), "superior": abs(normal[2])}
    return max(scores, key=scores.get)


def _resolve_view(view, surface):
    return auto_view(np.asarray(surface.points)[:: max(1, surface.n_points // 5000)]) \
        if view == "auto" else view


def _fs(pl, size):
    """Font size for the window height (sizes are chosen for 900 px; square-root scaling)."""
    return max(6, int(round(size * (pl.window_size[1] / 900) ** 0.5)))


def _bar_args(pl, title, x=0.80):
    return {"title": title, "vertical": True, "color": "black", "title_font_size": _fs(pl, 18),
            "label_font_size": _fs(pl, 16), "fmt": "%.3g", "position_x": x, "position_y": 0.15,
            "height": 0.7}


def _setup(pl, title, bounds, view="anterior"):
    pl.set_background("white")
    pl.add_text(title, position="upper_edge", font_size=_fs(pl, 14), color="black")
    pl.add_axes(xlabel="L", ylabel="P", zlabel="S", line_width=3, color="black")
    _scale_bar(pl, bounds, view)  # add_ruler resets the camera: place the camera after it
    _camera(pl, bounds, view)
    pl.add_text(VIEW_NAMES.get(view, view), position="lower_left", font_size=_fs(pl, 9), color="grey")


def _view_axes(view):
    """Viewing direction, screen-up and screen-right unit vectors for a named view (LPS)."""
    # LPS: anterior is -y, so the anterior view looks along +y; lateral views from the patient's
    # left (+x, looking along -x) or right (-x)
    d, u = {
        "anterior": ((0, 1, 0), (0, 0, 1)),
        "posterior": ((0, -1, 0), (0, 0, 1)),
        "left": ((-1, 0, 0), (0, 0, 1)),
        "right": ((1, 0, 0), (0, 0, 1)),
        "superior": ((0, 0, -1), (0, -1, 0)),
    }[view]
    d, u = np.asarray(d, float), np.asarray(u, float)
    return d, u, np.cross(d, u)


def _corners(bounds):
    b = np.asarray(bounds, float).reshape(3, 2)
    return np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]])


def _camera(pl, bounds, view):
    d, u, right = _view_axes(view)
    corners = _corners(bounds)
    c = corners.mean(axis=0)
    w, h = pl.renderer.GetSize() if pl.renderer.GetSize()[1] else pl.window_size
    aspect = w / h if h else 1.0
    # 40 % more than the object vertically (title above, scale bar below); horizontally the
    # object keeps to the left 75 % of the frame, clear of the colour bar on the right
    half = 0.5 * max(1.4 * np.ptp(corners @ u), np.ptp(corners @ right) / (0.75 * aspect), 1e-6)
    dist = half / np.tan(np.radians(pl.camera.view_angle / 2)) + 0.5 * np.ptp(corners @ d)
    f = c + 0.1 * (2.0 * half * aspect) * right
    pl.camera_position = [tuple(f - dist * d), tuple(f), tuple(u)]


def _scale_bar(pl, bounds, view):
    d, u, right = _view_axes(view)
    corners = _corners(bounds)
    length = _nice_length(float(np.max(np.ptp(corners, axis=0))))
    pa = (np.min(corners @ right) * right + (np.min(corners @ u) - 0.06 * np.ptp(corners @ u)) * u
          + np.mean(corners @ d) * d)
    pb = pa + length * right
    pl.add_ruler(pa, pb, title=f"{length:g} mm", number_labels=2, show_labels=False,
                 font_size_factor=0.8, label_color="black", tick_color="black")


def wall_map(surface, array, path, *, title, unit_label, cmap="viridis", clim=None, scale=1.0,
             view="auto", log_scale=False, window_size=WINDOW, below_color=None,
             annotations=None, footnote=None):
    """A scalar on the lumen wall with a colour bar.

    Parameters
    ----------
    surface : pyvista.PolyData
        Lumen surface in mm with point (or cell) array ``array``.
    array : str
    path : str or Path
        PNG to write.
    title : str
    unit_label : str
        Colour-bar title, e.g. "WSS magnitude (Pa)".
    scale : float
        Multiply the array for display (e.g. 1/133.32 for Pa -> mmHg).
    clim : (float, float), optional
        Colour range; default the 2nd-98th percentiles.
    view : {"auto", "anterior", "posterior", "left", "right", "superior"}
        "auto" (default): the named view that looks along the shape's thinnest direction.
    annotations : list of (text, (3,) point in mm), optional
        Labelled markers, e.g. ``[("MLD", point)]``.
    footnote : str, optional
        Small text in the lower right corner.

    Returns
    -------
    Path
    """
    pv = _pv()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    surf = surface.copy()
    vals = np.asarray(surf[array], float)
    if vals.ndim == 2:
        vals = np.linalg.norm(vals, axis=1)
    vals = vals * scale
    name = unit_label
    surf[name] = vals
    finite = vals[np.isfinite(vals)]
    if clim is None:
        clim = (float(np.percentile(finite, 2)), float(np.percentile(finite, 98))) if finite.size else (0, 1)
        if clim[0] == clim[1]:
            clim = (clim[0] - 1e-9, clim[1] + 1e-9)
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    pl.add_mesh(surf, scalars=name, cmap=cmap, clim=clim, nan_color="lightgrey", smooth_shading=True,
                log_scale=log_scale, below_color=below_color,
                scalar_bar_args=_bar_args(pl, unit_label, 0.80))
    if annotations:
        for text, point in annotations:
            pl.add_point_labels(np.asarray([point], float), [text], font_size=14, point_size=8,
                                text_color="black", shape_color="white", always_visible=True)
    if footnote:
        pl.add_text(footnote, position="lower_right", font_size=_fs(pl, 10), color="black")
    _setup(pl, title, surf.bounds, _resolve_view(view, surf))
    pl.screenshot(str(path))
    pl.close()
    return path


def wss_map(surface, path, *, array="wss_magnitude_pa", title="Wall shear stress", **kw):
    """|WSS| on the wall, Pa (1 Pa = 10 dyn/cm^2)."""
    kw.setdefault("footnote", "1 Pa = 10 dyn/cm²")
    return wall_map(surface, array, path, title=title, unit_label="WSS magnitude (Pa)", cmap="turbo", **kw)


def tawss_map(surface, path, *, array="tawss_pa", title="Time-averaged wall shear stress", **kw):
    """TAWSS on the wall, Pa."""
    return wall_map(surface, array, path, title=title, unit_label="TAWSS (Pa)", cmap="turbo", **kw)


def osi_map(surface, path, *, array="osi", title="Oscillatory shear index", **kw):
    """OSI on the wall (0-0.5, no unit)."""
    kw.setdefault("clim", (0.0, 0.5))
    return wall_map(surface, array, path, title=title, unit_label="OSI (-)", cmap="magma", **kw)


def pressure_map(surface, path, *, array="pressure_pa", title="Pressure on the wall", **kw):
    """Pressure on the wall, displayed in mmHg (the array is in Pa unless its name ends in _mmhg)."""
    scale = 1.0 if array.endswith("_mmhg") else 1.0 / PA_PER_MMHG
    return wall_map(surface, array, path, title=title, unit_label="Pressure (mmHg)", cmap="coolwarm",
                    scale=scale, **kw)


def velocity_grid(cell_centers_m, velocity_m_s, dx_m):
    """Cell velocities on a pyvista.ImageData in mm (zero outside the fluid), point array
    ``velocity_m_s`` and ``speed_m_s``."""
    pv = _pv()
    c = np.asarray(cell_centers_m, float)
    lo = c.min(axis=0)
    ijk = np.rint((c - lo) / dx_m).astype(int)
    dims = ijk.max(axis=0) + 1
    u = np.zeros((*dims, 3))
    u[tuple(ijk.T)] = np.asarray(velocity_m_s, float)
    grid = pv.ImageData(dimensions=tuple(int(x) for x in dims), spacing=(dx_m * 1e3,) * 3,
                        origin=tuple(lo * 1e3))
    # VTK point order is x fastest: Fortran order of the [i, j, k] array
    grid.point_data["velocity_m_s"] = u.reshape(-1, 3, order="F")
    grid.point_data["speed_m_s"] = np.linalg.norm(grid.point_data["velocity_m_s"], axis=1)
    fluid = np.zeros(dims, np.uint8)
    fluid[tuple(ijk.T)] = 1
    grid.point_data["fluid"] = fluid.reshape(-1, order="F")
    return grid


def streamlines(surface, cell_centers_m, velocity_m_s, dx_m, path, **kw):
    """Streamlines from solver output (cell centres in m, velocities in m/s); see
    ``streamlines_grid`` for the keywords (seed disc, title, view)."""
    return streamlines_grid(surface, velocity_grid(cell_centers_m, velocity_m_s, dx_m), path, **kw)


def streamlines_grid(surface, grid, path, *, seed_center_mm, seed_normal, seed_radius_mm,
                     n_seeds=150, title="Streamlines through the lesion", view="auto", clim=None,
                     window_size=WINDOW, seed=0):
    """Streamlines seeded on a disc across the vessel (upstream of a lesion), coloured by speed.

    Parameters
    ----------
    surface : pyvista.PolyData
        Lumen surface (mm), drawn translucent.
    grid : pyvista.ImageData
        Grid in mm with point array ``velocity_m_s`` (NaN or 0 outside the fluid), e.g. from
        ``velocity_grid`` or a ``*_fields.vti`` file.
    seed_center_mm, seed_normal : (3,) arrays
        Centre and normal of the seed disc (mm), e.g. a centerline point and tangent.
    seed_radius_mm : float
        Disc radius (mm), e.g. 0.8 x the local lumen radius.
    """
    pv = _pv()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = grid.copy()
    u = np.nan_to_num(np.asarray(grid.point_data["velocity_m_s"], float))
    grid.point_data["velocity_m_s"] = u
    grid.point_data["speed_m_s"] = np.linalg.norm(u, axis=1)
    rng = np.random.default_rng(seed)
    n = np.asarray(seed_normal, float)
    n /= np.linalg.norm(n)
    a = np.array([1.0, 0, 0]) if abs(n[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(n, a)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    r = seed_radius_mm * np.sqrt(rng.uniform(0, 1, n_seeds))
    th = rng.uniform(0, 2 * np.pi, n_seeds)
    pts = np.asarray(seed_center_mm, float) + np.outer(r * np.cos(th), e1) + np.outer(r * np.sin(th), e2)
    src = pv.PolyData(pts)
    bounds = np.asarray(surface.bounds).reshape(3, 2)
    size = float(np.max(bounds[:, 1] - bounds[:, 0]))
    lines = grid.streamlines_from_source(src, vectors="velocity_m_s", integration_direction="forward",
                                         max_length=4.0 * size, initial_step_length=0.2,
                                         integrator_type=45, terminal_speed=1e-6,
                                         max_steps=20000)
    if lines.n_points:
        # keep to the imaged anatomy (the lattice may carry flow extensions beyond it)
        pad = 0.02 * size
        box = [v + (pad if k % 2 else -pad) for k, v in enumerate(surface.bounds)]
        lines = lines.clip_box(box, invert=False).extract_surface(algorithm="dataset_surface")
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    pl.add_mesh(surface, color="lightgrey", opacity=0.25)
    if lines.n_points:
        sp = np.asarray(lines["speed_m_s"])
        if clim is None:
            clim = (0.0, float(np.percentile(sp, 99)) or 1.0)
        pl.add_mesh(lines.tube(radius=0.004 * size), scalars="speed_m_s", cmap="plasma", clim=clim,
                    scalar_bar_args=_bar_args(pl, "Speed (m/s)", 0.80))
    _setup(pl, title, surface.bounds, _resolve_view(view, surface))
    pl.screenshot(str(path))
    pl.close()
    return path


def pre_post(pre_surface, post_surface, path, *, array, title, unit_label, scale=1.0, cmap="turbo",
             clim=None, view="auto", labels=("Pre-treatment", "Post-stent (virtual)"),
             window_size=(1800, 900)):
    """Two wall maps side by side on one shared colour range.

    Parameters
    ----------
    pre_surface, post_surface : pyvista.PolyData
        Surfaces (mm) carrying ``array``.
    array : str
    unit_label : str
        Colour-bar title with its unit.
    scale : float
        Display factor (1/133.32 for Pa -> mmHg).
    """
    pv = _pv()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    surfs = []
    for s in (pre_surface, post_surface):
        s = s.copy()
        v = np.asarray(s[array], float)
        s[unit_label] = (np.linalg.norm(v, axis=1) if v.ndim == 2 else v) * scale
        surfs.append(s)
    if clim is None:
        allv = np.concatenate([np.asarray(s[unit_label]) for s in surfs])
        allv = allv[np.isfinite(allv)]
        clim = (float(np.percentile(allv, 2)), float(np.percentile(allv, 98))) if allv.size else (0, 1)
    pl = pv.Plotter(off_screen=True, shape=(1, 2), window_size=list(window_size), border=False)
    for k, (s, lab) in enumerate(zip(surfs, labels)):
        pl.subplot(0, k)
        pl.add_mesh(s, scalars=unit_label, cmap=cmap, clim=clim, nan_color="lightgrey",
                    smooth_shading=True, show_scalar_bar=(k == 1),
                    scalar_bar_args=_bar_args(pl, unit_label, 0.82))
        _setup(pl, f"{title}\n{lab}", s.bounds, _resolve_view(view, surfs[0]))
    pl.screenshot(str(path))
    pl.close()
    return path
