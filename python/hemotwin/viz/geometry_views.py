# SPDX-License-Identifier: Apache-2.0
"""Off-screen figure of a vessel model: translucent surface, centerlines coloured by radius, ports
with their outward normals and names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["render_geometry"]


def render_geometry(
    surface,
    centerlines=None,
    ports=(),
    path=None,
    window_size=(1000, 800),
    title=None,
    overwrite=False,
):
    """Render surface + centerlines + ports to a PNG (off-screen, fixed theme).

    Parameters
    ----------
    surface : pyvista.PolyData
        Lumen surface (mm).
    centerlines : pyvista.PolyData, optional
        With point array ``radius_mm``.
    ports : sequence of Port
        Drawn as arrows along the outward normal, labelled with their names.
    path : str or Path
        Output PNG; refuses to replace an existing file unless ``overwrite``.
    window_size : tuple of int
        Pixels.
    title : str, optional
        Text in the upper-left corner (must not contain patient identifiers).

    Returns
    -------
    Path
    """
    from .offscreen import pyvista

    pv = pyvista()
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite")
    pl = pv.Plotter(off_screen=True, window_size=list(window_size))
    pl.set_background("white")
    pl.add_mesh(surface, color="#d9534f", opacity=0.35, smooth_shading=True)
    if centerlines is not None and centerlines.n_points:
        arr = "radius_mm" if "radius_mm" in centerlines.point_data else None
        pl.add_mesh(
            centerlines,
            scalars=arr,
            line_width=5,
            cmap="viridis",
            render_lines_as_tubes=True,
            scalar_bar_args={"title": "MIS radius (mm)", "color": "black"} if arr else None,
        )
    if ports:
        size = max(float(np.max([p.radius_mm for p in ports])), 1.0)
        for p in ports:
            color = "#0275d8" if p.role == "inlet" else "#5cb85c"
            pl.add_mesh(
                pv.Arrow(
                    start=np.asarray(p.center_mm), direction=np.asarray(p.normal), scale=1.5 * size
                ),
                color=color,
            )
        pl.add_point_labels(
            np.array([p.center_mm for p in ports]),
            [p.name for p in ports],
            font_size=14,
            text_color="black",
            point_size=8,
            shape_opacity=0.6,
            always_visible=True,
        )
    if title:
        pl.add_text(title, font_size=10, color="black")
    pl.camera_position = "iso"
    pl.reset_camera()
    pl.screenshot(str(path))
    pl.close()
    return path
