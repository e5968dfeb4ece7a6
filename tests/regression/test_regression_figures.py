# SPDX-License-Identifier: Apache-2.0
"""Regression baselines: rendered figures (fixed scene, camera, window; off-screen) and numbers
from the lesion and cycle-metric code on fixed synthetic inputs.

Regenerate after an intended change with ``HEMOTWIN_UPDATE_BASELINES=1 pytest tests/regression``
and look at the new images before committing them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

BASE = Path(__file__).parent / "baselines"
UPDATE = os.environ.get("HEMOTWIN_UPDATE_BASELINES") == "1"


def _compare_png(new: Path, name: str):
    import matplotlib.image as mpimg

    ref = BASE / name
    if UPDATE or not ref.exists():
        if not UPDATE:
            pytest.fail(f"baseline {ref} missing: run with HEMOTWIN_UPDATE_BASELINES=1")
        ref.write_bytes(new.read_bytes())
        return
    a = mpimg.imread(str(new))[..., :3]
    b = mpimg.imread(str(ref))[..., :3]
    assert a.shape == b.shape, (a.shape, b.shape)
    diff = np.abs(a - b).max(axis=-1)
    # renderer/font differences move edges by a pixel: allow a little, catch real changes
    # (wrong colours, missing colour bar, camera or geometry changes move far more)
    assert float(diff.mean()) < 0.02, f"{name}: mean difference {diff.mean():.4f}"
    assert float(np.mean(diff > 0.25)) < 0.015, f"{name}: {np.mean(diff > 0.25):.2%} pixels differ"


def _scene():
    pv = pytest.importorskip("pyvista")
    x = np.linspace(0, 30, 90)
    th = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    r = 1.5 * (1 - 0.25 * (1 + np.cos(np.pi * np.clip((x - 15) / 4, -1, 1))))
    pts = np.array([[xx, rr * np.cos(a), rr * np.sin(a)] for xx, rr in zip(x, r) for a in th])
    faces = []
    for k in range(len(x) - 1):
        for j in range(len(th)):
            a, b = k * len(th) + j, k * len(th) + (j + 1) % len(th)
            faces += [3, a, b, a + len(th), 3, b, b + len(th), a + len(th)]
    s = pv.PolyData(pts, np.array(faces))
    xs = np.asarray(s.points)[:, 0]
    rs = np.interp(xs, x, r)
    s["wss_magnitude_pa"] = 1.2 * (1.5 / rs) ** 3
    s["pressure_pa"] = (95 - 0.1 * xs - 10 / (1 + np.exp(-(xs - 16)))) * 133.322387415
    return s


def test_wss_map_image(tmp_path):
    from hemotwin.viz import wall

    p = wall.wss_map(_scene(), tmp_path / "wss.png", window_size=(600, 450), clim=(0.0, 10.0))
    _compare_png(p, "wss_map_stenosis.png")


def test_pressure_pre_post_image(tmp_path):
    from hemotwin.viz import wall

    s = _scene()
    s2 = s.copy()
    s2["pressure_pa"] = np.asarray(s["pressure_pa"]) * 0 + 95 * 133.322387415
    p = wall.pre_post(s, s2, tmp_path / "pp.png", array="pressure_pa", title="Pressure on the wall",
                      unit_label="Pressure (mmHg)", scale=1 / 133.322387415, cmap="coolwarm",
                      clim=(80.0, 96.0), window_size=(900, 450))
    _compare_png(p, "pressure_pre_post.png")


def test_numeric_baselines():
    from hemotwin.analysis.hemodynamics import cycle_metrics
    from hemotwin.analysis.lesions import detect_lesions

    rng = np.random.default_rng(42)
    s = np.linspace(0, 70, 701)
    d = (3.4 - 0.01 * s) * (1 - 0.3 * (1 + np.cos(np.pi * np.clip((s - 30) / 5, -1, 1))))
    d = d * (1 + 0.01 * rng.standard_normal(s.size))
    les = detect_lesions(s, d)
    t = np.arange(40) / 40
    w = np.zeros((40, 3, 3))
    w[:, 0, 0] = 0.5 + np.cos(2 * np.pi * t)
    w[:, 1, 1] = 1.0 + 0.3 * np.sin(2 * np.pi * t)
    w[:, 2, 0], w[:, 2, 2] = np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)
    m = cycle_metrics(w, 0.025)
    got = {"lesion": np.array([[x.percent_diameter_stenosis, x.length_mm, x.mld_mm, x.rvd_mm, x.position_mm]
                               for x in les]),
           "tawss": m["tawss_pa"], "osi": m["osi"]}
    ref = BASE / "numeric.npz"
    if UPDATE:
        np.savez(ref, **got)
        return
    base = np.load(ref)
    # lesion numbers to 1e-6 relative: the algorithm is deterministic; any drift is a change
    np.testing.assert_allclose(got["lesion"], base["lesion"], rtol=1e-6)
    np.testing.assert_allclose(got["tawss"], base["tawss"], rtol=1e-12)
    np.testing.assert_allclose(got["osi"], base["osi"], rtol=1e-12, atol=1e-15)
