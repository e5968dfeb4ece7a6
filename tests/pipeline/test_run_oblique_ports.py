# SPDX-License-Identifier: Apache-2.0
"""`hemotwin run` cuts the ports of an image mask as `hemotwin segment` does: a vessel leaving
the image obliquely is re-cut perpendicular to its centerline, so the port radius (which sets
the Murray flow split, the outlet resistances and the lattice spacing) is the lumen's, not the
1/sqrt(cos(tilt))-larger area-equivalent radius of the elliptic cut at the image face."""
import math

import numpy as np
import pytest

pytest.importorskip("pyvista")

from hemotwin.config import case_from_dict  # noqa: E402
from hemotwin.geometry import phantoms  # noqa: E402
from hemotwin.geometry.model import build_vessel_model  # noqa: E402
from hemotwin.imaging import ImageVolume  # noqa: E402

R_MM, TILT_DEG = 4.0, 35.0


@pytest.fixture(scope="module")
def oblique_tube():
    ph = phantoms.straight_tube(spacing_mm=0.8, radius_mm=R_MM, length_mm=32.0, tilt_deg=TILT_DEG)
    vol = ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction, "tube", "CT")
    case = case_from_dict({
        "case": {"name": "oblique"}, "image": {"phantom": "straight_tube"},
        "physiology": {"inflow": {"mean": "1 mL/s", "waveform": "constant"},
                       "outlets": {"model": "resistance"}},
    })
    return ph, vol, case


def test_run_geometry_cuts_oblique_ports_perpendicular_as_segment_does(oblique_tube):
    from hemotwin.pipeline import _stage_geometry

    ph, vol, case = oblique_tube
    ports, surf, cl, _ = _stage_geometry(case, vol, ph.mask, None)
    model = build_vessel_model(ph.mask, vol, self_intersections=False)
    got = {p.name: p.radius_mm for p in ports}
    assert got == pytest.approx({p.name: p.radius_mm for p in model.ports}, rel=1e-12)
    face_cut = R_MM / math.sqrt(math.cos(math.radians(TILT_DEG)))  # 4.42 mm
    for name, r in got.items():
        # the truth radius to voxel/smoothing error; the face cut would be 10.5 % larger
        assert r == pytest.approx(R_MM, rel=0.03), (name, r, face_cut)
    axis = np.array([math.sin(math.radians(TILT_DEG)), 0.0, math.cos(math.radians(TILT_DEG))])
    for p in ports:
        assert abs(abs(np.asarray(p.normal) @ axis) - 1.0) < 0.02  # normal along the vessel
    assert surf.is_manifold and set(np.unique(surf.cell_data["port_id"])) >= {0, 1}


def test_treated_mask_is_cut_at_the_native_port_planes(oblique_tube):
    """After a virtual deployment the treated mask is meshed again at the pre-treatment ports,
    so pre and post are compared through identical planes."""
    from hemotwin.pipeline import _stage_geometry

    ph, vol, case = oblique_tube
    ports, _, _, _ = _stage_geometry(case, vol, ph.mask, None)
    # a "stent" widening the middle third of the tube by a voxel
    from scipy import ndimage

    treated = ph.mask.copy()
    k = slice(treated.shape[2] // 3, 2 * treated.shape[2] // 3)
    treated[:, :, k] = ndimage.binary_dilation(ph.mask)[:, :, k]
    assert treated.sum() > ph.mask.sum()
    ports2, surf2, cl2, _ = _stage_geometry(case, vol, treated, None, remesh=True,
                                            port_planes=ports)
    for a, b in zip(ports, ports2):
        assert a.name == b.name
        np.testing.assert_array_equal(a.normal, b.normal)
        np.testing.assert_allclose(a.center_mm, b.center_mm, atol=0.5)
    assert ports2 is not ports and ports2[0] is not ports[0]  # the native ports are untouched


def test_a_lumen_inside_the_image_has_no_ports_and_says_so(oblique_tube):
    from hemotwin.pipeline import PipelineError, _stage_geometry

    ph, vol, case = oblique_tube
    closed = ph.mask.copy()
    closed[:, :, :4] = 0
    closed[:, :, -4:] = 0  # the tube no longer reaches the z faces
    with pytest.raises(PipelineError, match="found 0 port"):
        _stage_geometry(case, vol, closed, None)
