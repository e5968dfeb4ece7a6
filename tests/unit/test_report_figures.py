# SPDX-License-Identifier: Apache-2.0
"""Individual figures: streamlines through a lesion, profile plots, unit conversion on the wall."""
from __future__ import annotations

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")


def _stenosed_flow(dx_mm=0.25):
    """Cells of a stenosed tube along x (m) and a continuity-consistent axial velocity (m/s)."""
    x = np.arange(0, 30 + 1e-9, dx_mm)
    y = np.arange(-2, 2 + 1e-9, dx_mm)
    g = np.stack(np.meshgrid(x, y, y, indexing="ij"), -1).reshape(-1, 3)
    r = 1.8 * (1 - 0.25 * (1 + np.cos(np.pi * np.clip((g[:, 0] - 15) / 4, -1, 1))))
    rr = np.hypot(g[:, 1], g[:, 2])
    inside = rr < r
    g, r, rr = g[inside], r[inside], rr[inside]
    u = np.zeros_like(g)
    u[:, 0] = 0.2 * (1.8 / r) ** 2 * 2 * (1 - (rr / r) ** 2)
    return g * 1e-3, u, dx_mm * 1e-3


def test_streamlines_through_lesion(tmp_path):
    from hemotwin.viz import wall

    centers, u, dx = _stenosed_flow()
    surf = pv.Cylinder(center=(15, 0, 0), direction=(1, 0, 0), radius=1.8, height=30, resolution=40)
    p = wall.streamlines(surf, centers, u, dx, tmp_path / "sl.png", seed_center_mm=(2.0, 0, 0),
                         seed_normal=(1, 0, 0), seed_radius_mm=1.2, n_seeds=40)
    assert p.exists() and p.stat().st_size > 5000
    grid = wall.velocity_grid(centers, u, dx)
    # the grid keeps every cell's velocity (Fortran point order of VTK)
    np.testing.assert_allclose(np.sort(grid["speed_m_s"][grid["fluid"] > 0]),
                               np.sort(np.linalg.norm(u, axis=1)))


def test_pressure_map_converts_pa_to_mmhg(tmp_path, monkeypatch):
    from hemotwin.viz import wall

    seen = {}
    real = wall.wall_map

    def spy(surface, array, path, **kw):
        seen.update(kw)
        return real(surface, array, path, **kw)

    monkeypatch.setattr(wall, "wall_map", spy)
    s = pv.Sphere(radius=5.0)
    s["pressure_pa"] = np.full(s.n_points, 133.322387415 * 90)
    wall.pressure_map(s, tmp_path / "p.png")
    assert seen["scale"] == pytest.approx(1 / 133.322387415) and "mmHg" in seen["unit_label"]


def test_profile_plots(tmp_path):
    from hemotwin.analysis.lesions import detect_lesions
    from hemotwin.viz import plots

    s = np.linspace(0, 50, 501)
    d = 3.0 * (1 - 0.25 * (1 + np.cos(np.pi * np.clip((s - 25) / 4, -1, 1))))
    les = detect_lesions(s, d)
    dev = {"diameter_mm": 3.0, "length_mm": 15.0, "start_mm": 17.5, "family": "generic"}
    for p in (plots.diameter_profile(s, d, tmp_path / "d.png", lesions=les, device=dev),
              plots.pressure_profile(s, 1e4 - 20 * s, tmp_path / "p.png", lesions=les, stations_mm=(20, 30)),
              plots.pre_post_bars({"Gradient (mmHg)": 20.0}, {"Gradient (mmHg)": 2.0}, tmp_path / "b.png")):
        assert p.exists() and p.read_bytes()[:4] == b"\x89PNG"


def test_auto_view_picks_the_side_facing_the_shape():
    from hemotwin.viz.wall import auto_view

    t = np.linspace(0, np.pi, 200)
    arch_sagittal = np.column_stack([0.5 * np.sin(7 * t), 30 * np.cos(t), 30 * np.sin(t)])  # y-z plane
    assert auto_view(arch_sagittal) == "left"
    assert auto_view(arch_sagittal[:, [1, 0, 2]]) == "anterior"  # x-z (coronal) plane
    assert auto_view(arch_sagittal[:, [1, 2, 0]]) == "superior"  # x-y (axial) plane
    th = np.linspace(0, 2 * np.pi, 50)
    tube = np.array([[x, np.cos(a), np.sin(a)] for x in np.linspace(0, 30, 30) for a in th])
    assert auto_view(tube) == "anterior"


def test_case_figures_streamlines_from_written_fields(tmp_path):
    """case_figures finds velocities in results["files"]["pre_fields"] (a .vti, NaN outside)."""
    from hemotwin.viz import case_figures
    from hemotwin.viz.wall import velocity_grid

    centers, u, dx = _stenosed_flow()
    g = velocity_grid(centers, u, dx)
    v = np.asarray(g["velocity_m_s"]).copy()
    v[np.asarray(g["fluid"]) == 0] = np.nan
    g.point_data.clear()
    g["velocity_m_s"] = v
    g.save(str(tmp_path / "pre_fields.vti"))
    s = np.linspace(0, 30, 121)
    cl = {"arclength_mm": s, "diameter_mm": np.full_like(s, 3.6), "pressure_mmhg": 90 - 0.1 * s,
          "points_mm": np.column_stack([s, np.zeros_like(s), np.zeros_like(s)])}
    les = {"id": 1, "start_mm": 11.0, "end_mm": 19.0, "length_mm": 8.0, "position_mm": 15.0,
           "mld_mm": 1.8, "rvd_mm": 3.6, "percent_diameter_stenosis": 50.0}
    surf = pv.Cylinder(center=(15, 0, 0), direction=(1, 0, 0), radius=1.8, height=30, resolution=40)
    figs = case_figures(tmp_path, {"centerline": cl, "lesions": [les], "_wall": surf},
                        results={"files": {"pre_fields": "pre_fields.vti"}})
    assert "streamlines_pre" in figs and (tmp_path / figs["streamlines_pre"]).stat().st_size > 5000
