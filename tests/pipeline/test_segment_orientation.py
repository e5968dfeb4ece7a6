# SPDX-License-Identifier: Apache-2.0
"""The same anatomy stored with other voxel axes (permuted, flipped: a direction matrix other
than the identity, as scanners write) gives the same ports, centerline paths and lesions."""
import numpy as np
import pytest

pytest.importorskip("SimpleITK")
pytest.importorskip("pyvista")

from hemotwin.analysis.lesions import centerline_paths, lesions_from_centerline
from hemotwin.geometry import phantoms
from hemotwin.geometry.model import build_vessel_model
from hemotwin.imaging import ImageVolume, segment_lumen


def _analyse(vol, seeds):
    seg = segment_lumen(vol, seeds)
    model = build_vessel_model(seg.mask.array, vol, levelset=seg.levelset.array,
                               self_intersections=False)
    cl = model.centerlines
    lengths = {k: float(np.sum(np.linalg.norm(np.diff(np.asarray(cl.points)[v], axis=0), axis=1)))
               for k, v in centerline_paths(cl).items()}
    return model.ports, lengths, lesions_from_centerline(cl)


def test_permuted_and_flipped_axes_give_the_same_answers():
    ph = phantoms.aortic_arch(spacing_mm=1.2, subclavian_stenosis=0.6)
    sp, org, n = np.asarray(ph.spacing_mm, float), np.asarray(ph.origin_mm, float), ph.image.shape
    ref = _analyse(ImageVolume(ph.image, sp, org, np.eye(3), "arch", "CT"), ph.seeds_mm)
    # index axes (i', j', k') = (y, z, x) with j' running down z: column c of the direction
    # matrix is the physical direction of index axis c; voxel (0, 0, 0) is now at the top
    img = np.ascontiguousarray(np.transpose(ph.image, (1, 2, 0))[:, ::-1, :])
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    origin = org + (n[2] - 1) * sp[2] * np.array([0.0, 0.0, 1.0])
    other = _analyse(ImageVolume(img, sp[[1, 2, 0]], origin, direction, "arch", "CT"), ph.seeds_mm)
    (p0, len0, les0), (p1, len1, les1) = ref, other
    assert [p.name for p in p1] == [p.name for p in p0]
    for a, b in zip(p0, p1):
        assert np.linalg.norm(a.center_mm - b.center_mm) < 0.5 * sp.max()
        assert b.radius_mm == pytest.approx(a.radius_mm, rel=0.02)
        np.testing.assert_allclose(b.normal, a.normal, atol=1e-6)
    assert set(len1) == set(len0)
    for k in len0:
        assert len1[k] == pytest.approx(len0[k], rel=0.01), k
    assert [lz.path_port for lz in les1] == [lz.path_port for lz in les0]
    for a, b in zip(les0, les1):
        assert abs(a.percent_diameter_stenosis - b.percent_diameter_stenosis) < 2.0
        assert abs(a.position_mm - b.position_mm) < 2.0 * sp.max()
