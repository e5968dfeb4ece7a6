# SPDX-License-Identifier: Apache-2.0
"""The real thoracic CTA case: inputs resolve from ../shared/data; skipped where absent."""
from pathlib import Path

import pytest
from hemotwin.config import find_shared_data, load_case

CASE = Path(__file__).resolve().parents[2] / "cases" / "thoracic_aorta_cta" / "case.toml"


def _data_or_skip():
    try:
        return find_shared_data("ts_thoracic_aorta_cta", start=CASE.parent)
    except FileNotFoundError as e:
        pytest.skip(f"real CTA data absent: {e}")


def test_thoracic_case_resolves_shared_data():
    _data_or_skip()
    case = load_case(CASE)  # checks image.path and image.label_map exist
    assert case.resolve(case.image.path).name == "ct_cropped.nii.gz"
    assert case.segmentation.clip_planes and case.segmentation.method == "label"


def test_thoracic_clip_plane_cuts_the_ascending_aorta():
    _data_or_skip()
    import numpy as np
    from hemotwin.geometry.ports import detect_ports
    from hemotwin.imaging.io import read_image

    case = load_case(CASE)
    lab = read_image(case.resolve(case.image.label_map), pixel_type="uint8")
    from hemotwin.imaging.segmentation import apply_clip_planes

    plane = case.segmentation.clip_planes[0]
    removed = apply_clip_planes(lab, [(np.array(plane[:3]), np.array(plane[3:]))])
    mask = (np.asarray(lab.array) > 0) & ~removed
    ports = detect_ports(mask.astype(np.uint8), lab, clip_planes=[tuple(plane)])
    inlet = next(p for p in ports if p.role == "inlet")
    # the inlet is the cut at the sinotubular junction: diameter ~34 mm (aorta_report.json
    # landmark 3); 10 % band plus a voxel for the oblique cut
    assert abs(2 * inlet.radius_mm - 34.0) < 0.1 * 34.0 + 1.5, inlet
    assert len(ports) >= 2


@pytest.mark.slow
def test_thoracic_landmark_diameters():
    """Lumen diameters at the aorta_report.json landmarks (area-equivalent, RAS -> LPS).

    This aorta is labelled dissected (true + false lumen). Our perpendicular section takes the
    lumen around the centerline, which beyond the arch is the true lumen, so the comparison is
    with the report's true-lumen equivalent diameter; where no false lumen is reported (mid
    ascending) that equals the whole aorta. Mid descending (true lumen 14 mm, whole 30 mm, the
    centerline runs between them) is reported, not asserted.
    """
    import json
    import math

    import numpy as np
    from hemotwin import pipeline as P

    data = _data_or_skip()
    case = load_case(CASE)
    vol, truth = P._stage_image(case)
    mask, ls, _ = P._stage_segment(case, vol, truth)
    ports, surf, cl, _ = P._stage_geometry(case, vol, mask, ls)
    inlet = next(p for p in ports if p.role == "inlet")
    assert abs(2 * inlet.radius_mm - 32.1) < 0.1 * 32.1  # sinotubular junction, area-equivalent
    rep = json.loads((data / "aorta_report/example_ct_report/aorta_report.json").read_text(encoding="utf-8"))
    pts = np.asarray(cl.points)
    d_eq = 2.0 * np.asarray(cl.point_data["equivalent_radius_mm"])
    checked = {}
    for key in ("4", "6", "7"):  # mid ascending, mid arch, proximal descending
        lm = rep["landmarks"][key]
        c = (np.array(lm["start"]) + np.array(lm["end"])) / 2 * np.array([-1.0, -1.0, 1.0])
        i = int(np.argmin(np.linalg.norm(pts - c, axis=1)))
        assert np.linalg.norm(pts[i] - c) < 10.0, lm["name"]  # the centerline passes the landmark
        ref = 20.0 * math.sqrt(lm["area_tl"] / math.pi)  # cm^2 -> mm, true-lumen equivalent
        checked[lm["name"]] = (float(d_eq[i]), ref)
        # issue 4: within 10 %
        assert abs(d_eq[i] - ref) < 0.10 * ref, (lm["name"], d_eq[i], ref)
