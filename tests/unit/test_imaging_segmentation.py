# SPDX-License-Identifier: Apache-2.0
"""Lumen segmentation on small phantoms: statuses (ok/empty/leak/pieces), clip planes, label maps."""

import numpy as np
import pytest

pytest.importorskip("SimpleITK")

from hemotwin.geometry import phantoms
from hemotwin.imaging import ImageVolume, apply_clip_planes, dice, segment_lumen


@pytest.fixture(scope="module")
def tube():
    ph = phantoms.straight_tube(spacing_mm=0.8)
    return ph, ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction, "tube", "CT")


def test_seeded_tube(tube):
    ph, vol = tube
    r = segment_lumen(vol, ph.seeds_mm)
    assert r.status == "ok"
    assert dice(r.mask.array, ph.mask) >= 0.9
    assert r.mask.array.dtype == np.uint8 and r.mask.shape == vol.shape
    np.testing.assert_allclose(r.mask.origin_mm, vol.origin_mm)
    # the anti-aliased level set is negative exactly on the mask
    assert ((r.levelset.array < 0) == (r.mask.array > 0)).mean() > 0.999


def test_seed_outside_lumen_touches_nothing(tube):
    ph, vol = tube
    r = segment_lumen(
        vol, [np.array([ph.origin_mm[0] + 1, ph.origin_mm[1] + 1, 20.0])], name="tube.nii"
    )
    assert r.status == "empty"
    assert "touches nothing" in r.message and "tube.nii" in r.message


def test_leak_reported(tube):
    ph, vol = tube
    r = segment_lumen(vol, ph.seeds_mm, lower=-100.0, name="tube.nii")
    assert r.status == "leak"
    assert "leaks into the whole volume" in r.message and "clip plane" in r.message


def test_pieces_reported(tube):
    ph, vol = tube
    # a clip plane across the middle with a seed on each side -> two pieces
    z_mid = 20.0
    planes = [(np.array([0, 0, z_mid]), np.array([0, 0, 1.0]))]
    removed = apply_clip_planes(vol, planes)
    assert removed[..., -1].all() and not removed[..., 0].any()
    lab = vol.with_array((ph.mask > 0).astype(np.uint8) * 3)
    lab.array[:, :, int(round((z_mid - ph.origin_mm[2]) / ph.spacing_mm[2]))] = 0
    r = segment_lumen(
        vol,
        [np.array([0.3, -0.2, 10.0]), np.array([0.3, -0.2, 30.0])],
        label_map=lab,
        label=3,
        name="tube.nii",
    )
    assert r.status == "pieces" and "2 disconnected pieces" in r.message


def test_clip_plane_removes_normal_side(tube):
    ph, vol = tube
    plane = "0,0,25,0,0,1"
    r = segment_lumen(vol, ph.seeds_mm, [plane])
    zs = vol.index_to_world(np.argwhere(r.mask.array > 0))[:, 2]
    assert zs.max() < 25.0 and zs.min() < 1.0


def test_label_map_mode(tube):
    ph, vol = tube
    lab = vol.with_array(ph.mask.astype(np.int16) * 7)
    r = segment_lumen(vol, None, label_map=lab, label=7)
    assert r.status == "ok" and dice(r.mask.array, ph.mask) > 0.99
    with pytest.raises(ValueError, match="no voxel with label 5"):
        segment_lumen(vol, None, label_map=lab, label=5)


def test_vesselness_mode_finds_the_vessel_not_the_spine():
    ph = phantoms.aortic_arch(spacing_mm=2.0)
    vol = ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction, "arch", "CT")
    r = segment_lumen(vol, None)
    assert r.status == "ok" and dice(r.mask.array, ph.mask) >= 0.9


def test_confidence_connected(tube):
    ph, vol = tube
    r = segment_lumen(vol, ph.seeds_mm, method="confidence")
    assert r.status == "ok" and dice(r.mask.array, ph.mask) >= 0.9
    with pytest.raises(ValueError, match="method"):
        segment_lumen(vol, ph.seeds_mm, method="magic")
