# SPDX-License-Identifier: Apache-2.0
"""Virtual stent deployment on voxel masks: the treated lumen takes the device's diameter."""
from __future__ import annotations

import numpy as np
import pytest

from hemotwin.geometry.deployment import (centerline_arclength, cross_section_area_mm2, deploy_stent,
                                          stent_tube)


def _vessel(radius_fn, spacing=0.2, length=30.0, rmax=3.0):
    """Straight vessel along x with radius_fn(x) (mm); mask voxel centres inside."""
    n = int(round(length / spacing)) + 1
    m = int(np.ceil(2 * rmax / spacing)) + 5
    origin = np.array([0.0, -(m // 2) * spacing, -(m // 2) * spacing])
    x = origin[0] + spacing * np.arange(n)
    y = origin[1] + spacing * np.arange(m)
    xx, yy, zz = np.meshgrid(x, y, y, indexing="ij")
    mask = (yy**2 + zz**2 <= radius_fn(xx) ** 2).astype(np.uint8)
    cl = np.column_stack([x, np.zeros_like(x), np.zeros_like(x)])
    return mask, spacing, origin, cl


def _stenosis(x, r0=1.5, centre=15.0, half=4.0, ds=0.6):
    u = np.clip((x - centre) / half, -1, 1)
    return r0 * (1 - ds * 0.5 * (1 + np.cos(np.pi * u)))


def test_deployment_opens_lesion_to_device_diameter():
    mask, sp, org, cl = _vessel(_stenosis)
    s = centerline_arclength(cl)
    before = cross_section_area_mm2(mask, sp, org, cl, radius_mm=4.0)
    dev = {"diameter_mm": 3.0, "length_mm": 14.0, "start_mm": 8.0}
    new = deploy_stent(mask, sp, org, cl, dev)
    after = cross_section_area_mm2(new, sp, org, cl, radius_mm=4.0)
    covered = (s > 9.0) & (s < 21.0)
    target = np.pi * 1.5**2
    # voxelized disc of 15 voxels across: area within 3 % of pi D^2 / 4
    np.testing.assert_allclose(after[covered], target, rtol=0.03)
    lesion = np.argmin(np.abs(s - 15.0))
    assert before[lesion] < 0.25 * target and after[lesion] > 0.97 * target
    # outside the device the lumen is untouched
    outside = (s < 7.5) | (s > 22.5)
    assert np.array_equal(new[(s < 7.5)], mask[(s < 7.5)]) and np.array_equal(new[s > 22.5], mask[s > 22.5])
    np.testing.assert_allclose(after[outside], before[outside])
    assert new.dtype == np.uint8 and new.shape == mask.shape


def test_replace_mode_trims_a_bulge_and_union_keeps_it():
    def bulge(x):
        return 1.5 + 1.0 * np.exp(-(((x - 15.0) / 2.0) ** 2))

    mask, sp, org, cl = _vessel(bulge, rmax=3.0)
    s = centerline_arclength(cl)
    dev = {"diameter_mm": 3.0, "length_mm": 12.0, "start_mm": 9.0}
    union = deploy_stent(mask, sp, org, cl, dev)
    repl, tube = deploy_stent(mask, sp, org, cl, dev, mode="replace", return_tube=True)
    k = np.argmin(np.abs(s - 15.0))
    a_u = cross_section_area_mm2(union, sp, org, cl[k:k + 1], [[1.0, 0, 0]], radius_mm=4.0)[0]
    a_r = cross_section_area_mm2(repl, sp, org, cl[k:k + 1], [[1.0, 0, 0]], radius_mm=4.0)[0]
    assert a_u > 1.5 * np.pi * 1.5**2
    np.testing.assert_allclose(a_r, np.pi * 1.5**2, rtol=0.03)
    assert tube(np.array([[15.0, 0.0, 0.0]]))[0] == pytest.approx(-1.5)
    with pytest.raises(ValueError, match="mode"):
        deploy_stent(mask, sp, org, cl, dev, mode="x")


def test_stent_tube_on_a_curved_centerline_and_errors():
    th = np.linspace(0, np.pi / 2, 400)
    cl = np.column_stack([20 * np.cos(th), 20 * np.sin(th), np.zeros_like(th)])
    L = centerline_arclength(cl)[-1]
    tube = stent_tube(cl, 4.0, 5.0, 10.0)
    mid = cl[np.argmin(np.abs(centerline_arclength(cl) - 10.0))]
    assert tube(mid[None])[0] == pytest.approx(-2.0, abs=0.05)
    assert tube((mid * 1.1)[None])[0] == pytest.approx(0.1 * 20 - 2.0, abs=0.05)
    assert tube(cl[:1])[0] > 0  # the centerline start is beyond the device's proximal end
    with pytest.raises(ValueError, match="runs off"):
        stent_tube(cl, 4.0, L - 5.0, 10.0)
    with pytest.raises(ValueError, match="> 0"):
        stent_tube(cl, 0.0, 1.0, 10.0)


def test_coarctation_phantom_sized_and_opened():
    """Arch phantom: lesion on the centerline tree -> coarctation rule -> deployment along the
    path; the narrowest covered section reaches the device diameter (1 mm voxels: within 3 %)."""
    from hemotwin.analysis.catalog import load_catalog
    from hemotwin.analysis.lesions import centerline_paths, lesions_from_centerline
    from hemotwin.analysis.sizing import recommend_device
    from hemotwin.geometry import centerlines, phantoms
    from hemotwin.geometry import ports as ports_mod

    ph = phantoms.aortic_arch(spacing_mm=1.0)

    class Geom:
        spacing_mm, origin_mm, direction = ph.spacing_mm, ph.origin_mm, ph.direction

    cl = centerlines.compute_centerlines(ph.mask, Geom, ports_mod.detect_ports(ph.mask, Geom))
    les = lesions_from_centerline(cl)[0]
    pts = np.asarray(cl.points)[centerline_paths(cl)[les.path_port]]
    s = centerline_arclength(pts)
    dev = recommend_device(les, load_catalog(), "coarctation", centerline_length_mm=float(s[-1]))
    assert dev.diameter_mm <= min(les.proximal_reference_mm, les.distal_reference_mm)
    assert dev.start_mm <= les.start_mm and dev.end_mm >= les.end_mm
    new = deploy_stent(ph.mask, ph.spacing_mm, ph.origin_mm, pts, dev)
    sel = np.nonzero((s > dev.start_mm + 2) & (s < dev.end_mm - 2))[0]
    tang = np.gradient(pts, axis=0)[sel]
    kw = dict(radius_mm=0.75 * dev.diameter_mm + 3, step_mm=0.4)

    def diam(mask):
        a = cross_section_area_mm2(mask, ph.spacing_mm, ph.origin_mm, pts[sel], tang, **kw)
        return 2 * np.sqrt(a / np.pi)

    d0, d1 = diam(ph.mask), diam(new)
    assert d0.min() < 0.6 * dev.diameter_mm
    np.testing.assert_allclose(d1.min(), dev.diameter_mm, rtol=0.03)
    assert np.all(d1 >= d0 - 1e-9)


def test_direction_cosines_are_honoured():
    """The same vessel stored with a flipped x axis (direction diag(-1, 1, 1)) deploys identically."""
    mask, sp, org, cl = _vessel(_stenosis)
    flipped = mask[::-1].copy()
    org_f = org.copy()
    org_f[0] = org[0] + sp * (mask.shape[0] - 1)  # voxel 0 of the flipped array is the far end
    dirn = np.diag([-1.0, 1.0, 1.0])
    dev = {"diameter_mm": 3.0, "length_mm": 14.0, "start_mm": 8.0}
    a = deploy_stent(mask, sp, org, cl, dev)
    b = deploy_stent(flipped, sp, org_f, cl, dev, direction=dirn)
    assert np.array_equal(a, b[::-1])
    k = np.argmin(np.abs(centerline_arclength(cl) - 15.0))
    area = cross_section_area_mm2(b, sp, org_f, cl[k:k + 1], [[1.0, 0, 0]], radius_mm=4.0, direction=dirn)
    np.testing.assert_allclose(area, np.pi * 1.5**2, rtol=0.03)
