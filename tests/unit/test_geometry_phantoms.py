# SPDX-License-Identifier: Apache-2.0
"""Phantoms: deterministic, small, CT-like, with consistent truth."""

import numpy as np
import pytest
from hemotwin.geometry import phantoms


@pytest.mark.parametrize("name", sorted(phantoms.PHANTOMS))
def test_phantom_properties(name):
    a = phantoms.make_phantom(name)
    b = phantoms.make_phantom(name)
    np.testing.assert_array_equal(a.image, b.image)  # deterministic for a seed
    assert a.image.size < 3e6 and a.image.shape == a.mask.shape
    lumen = np.median(a.image[a.mask > 0])
    assert 350 <= lumen <= 450
    far = np.median(a.image[a.mask == 0])
    assert 20 <= far <= 60
    assert len(a.centerlines_mm) == len(a.radii_mm)
    # the truth centerline is inside the truth mask where it is inside the image
    for cl in a.centerlines_mm:
        ijk = np.rint(a.world_to_index(cl)).astype(int)
        ok = np.all((ijk >= 0) & (ijk < a.mask.shape), axis=1)
        assert a.mask[tuple(ijk[ok].T)].mean() > 0.99
    for s in a.seeds_mm:
        assert a.mask[tuple(np.rint(a.world_to_index(s)).astype(int))] == 1
    assert a.ports[0]["name"] == "inlet"


def test_anisotropic_and_seeded_noise():
    a = phantoms.aortic_arch(spacing_mm=(1.0, 1.0, 2.0), seed=1)
    b = phantoms.aortic_arch(spacing_mm=(1.0, 1.0, 2.0), seed=2)
    np.testing.assert_allclose(a.spacing_mm, [1, 1, 2])
    assert not np.array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert len(a.ports) == 5 and a.info["coarctation_min_radius_mm"] < 6.0
