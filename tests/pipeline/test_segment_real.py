# SPDX-License-Identifier: Apache-2.0
"""Real angiography from ../shared/data, seeds and clip planes from cases/*/segmentation.toml:
segment without leaking, report Dice vs the reference, and reach a watertight surface, a
centerline tree and ports."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("SimpleITK")
pytest.importorskip("pyvista")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from hemotwin.geometry.model import build_vessel_model
from hemotwin.imaging import apply_clip_planes, crop, dice, read_image, segment_lumen
from scipy import ndimage

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def _case(name):
    cfg = tomllib.loads((REPO / "cases" / name / "segmentation.toml").read_text(encoding="utf-8"))
    img = DATA / cfg["image"]["path"]
    if not img.exists():
        pytest.skip(f"real data not present: {img}")
    return cfg


def _check_model(model, n_ports_min):
    chk = model.surface_check
    assert chk["watertight"], chk
    topo = model.topology
    assert len(model.ports) >= n_ports_min
    assert [p.role for p in model.ports].count("inlet") == 1
    leaves = sorted(b["port"] for b in topo["branches"] if not b["children"])
    assert leaves == sorted(p.name for p in model.ports if p.role == "outlet")
    assert min(b["n_points"] for b in topo["branches"]) >= 3
    r = np.asarray(model.centerlines.point_data["radius_mm"])
    assert np.all(np.isfinite(r)) and np.median(r) > 1.0


def test_thoracic_aorta_cta():
    cfg = _case("thoracic_aorta_cta")
    sg = cfg["segmentation"]
    ct = read_image(DATA / cfg["image"]["path"])
    ref = read_image(DATA / cfg["image"]["reference_mask"]).array > 0
    models = DATA / cfg["image"]["reference_mask"]
    branches = (
        sum(
            read_image(models.parent / f).array > 0
            for f in (
                "brachiocephalic_trunk.nii.gz",
                "common_carotid_artery_left.nii.gz",
                "subclavian_artery_left.nii.gz",
            )
        )
        > 0
    )
    clips = [(np.array(c[:3]), np.array(c[3:])) for c in sg["clip_planes_mm"]]
    res = segment_lumen(
        ct,
        [np.array(s) for s in sg["seeds_mm"]],
        clips,
        split_touching=sg["split_touching"],
        split_depth_mm=sg["split_depth_mm"],
    )
    m = res.mask.array > 0
    assert res.status == "ok", res.message
    # The reference 'aorta' (TotalSegmentator, automatic) includes a partly thrombosed false lumen
    # of ~70 HU in the descending aorta, which is not contrast-filled lumen; compare also with
    # its enhanced part (reference voxels above our lower threshold) plus the arch branches.
    enhanced = (ref & (ct.array > res.thresholds[0])) | branches
    d_all, d_enh = dice(m, ref), dice(m, enhanced)
    kept = ~apply_clip_planes(ct, clips)  # the part of the reference the clip planes keep
    d_kept = dice(m, enhanced & kept)
    leak = m & ~ndimage.binary_dilation(ref | branches, iterations=2)
    print(
        f"thoracic CTA: Dice vs aorta.nii.gz {d_all:.3f}, vs enhanced aorta + arch branches "
        f"{d_enh:.3f} (within the clip planes {d_kept:.3f}); voxels > 3 mm outside the "
        f"reference {leak.sum()} ({100 * leak.sum() / m.sum():.1f} % of the mask)"
    )
    # Levels: without a clip plane and the split the mask leaks into the heart and pulmonary
    # arteries (Dice vs aorta.nii.gz ~0.43, >60k voxels outside). Measured 0.70 / 0.88 / 4 %.
    assert d_all >= 0.65 and d_enh >= 0.80 and d_kept >= 0.85
    assert leak.sum() <= 0.08 * m.sum()  # no leak into heart, other vessels or bone
    model = build_vessel_model(
        m, res.mask, sg["clip_planes_mm"], levelset=res.levelset.array, self_intersections=False
    )
    _check_model(model, 3)
    inlet = model.ports[0]
    assert (
        inlet.source == "clip" and 12.0 < inlet.radius_mm < 22.0
    )  # aortic root, 2.7-3.5 cm diameter


def test_abdominal_aorta_mra():
    cfg = _case("abdominal_aorta_mra")
    sg = cfg["segmentation"]
    vol = read_image(DATA / cfg["image"]["path"])
    ls = read_image(DATA / cfg["image"]["reference_levelset"])
    vc = crop(vol, sg["crop_lower_mm"], sg["crop_upper_mm"])
    ref = crop(ls, sg["crop_lower_mm"], sg["crop_upper_mm"]).array < 0  # inside = negative
    assert ref.sum() == (ls.array < 0).sum()  # the ROI holds the whole reference
    res = segment_lumen(vc, [np.array(s) for s in sg["seeds_mm"]], [])
    m = res.mask.array > 0
    d = dice(m, ref)
    print(f"abdominal MRA: Dice vs vmtk level set {d:.3f}")
    assert res.status == "ok", res.message
    # the reference is itself a level-set segmentation of the same image; 0.90 leaves room for
    # the different boundary definitions (threshold half-way vs vmtk's level-set evolution)
    assert d >= 0.90
    model = build_vessel_model(m, vc, [], levelset=res.levelset.array)
    _check_model(model, 3)
    radii = sorted(p.radius_mm for p in model.ports)
    # SOURCE.md (open surface): inlet r ~7.7 mm, two iliac outlets r ~4.4 mm
    np.testing.assert_allclose(radii, [4.4, 4.4, 7.7], rtol=0.15)
    assert model.ports[0].name == "inlet" and model.ports[0].radius_mm == max(radii)
    assert model.topology["n_bifurcations"] == 1
    assert model.surface_check["self_intersections"] == 0


def test_vessel_grazing_the_image_face_keeps_its_caps():
    """The VTK 'carotid' PC-MRA (1 mm voxels, no clip): the seeded lumen leaves the image in two
    thin vessels that run along the bottom face. Turning those oblique cuts perpendicular to the
    centerline once split the lumen and capped the wrong openings (ports off the surface,
    centerline radii of 10-22 mm); now the re-cut is checked and the image-face cuts stand."""
    img_path = DATA / "vtkdata_carotid_pcmra" / "Data" / "carotid.vtk"
    if not img_path.exists():
        pytest.skip(f"real data not present: {img_path}")
    img = read_image(img_path)
    res = segment_lumen(img, [np.array([150.0, 86.0, 23.0])], name="carotid.vtk")
    assert res.status == "ok", res.message
    mask = np.asarray(res.mask.array)
    model = build_vessel_model(mask, img, levelset=res.levelset.array if res.levelset else None)
    assert model.surface_check["watertight"]
    surf = model.surface
    pid = np.asarray(surf.cell_data["port_id"])
    pts = np.asarray(surf.points)
    faces = surf.faces.reshape(-1, 4)[:, 1:]
    lo, hi = pts.min(0), pts.max(0)
    for k, port in enumerate(model.ports):
        cap = pts[np.unique(faces[pid == k])]
        assert len(cap), port.name
        # the port sits on its own cap: in its plane and within its radius of the cap centroid
        assert abs((cap.mean(0) - port.center_mm) @ port.normal) < 1.0
        assert np.linalg.norm(cap.mean(0) - port.center_mm) < port.radius_mm + 1.0
    cl = np.asarray(model.centerlines.points)
    assert np.all(cl >= lo - 1.0) and np.all(cl <= hi + 1.0)
    r = np.asarray(model.centerlines.point_data["radius_mm"])
    print("carotid PC-MRA: ports", [(p.name, round(p.radius_mm, 2)) for p in model.ports],
          "centerline radius", np.round([r.min(), np.median(r), r.max()], 2))
    assert r.max() < 4.0  # intracranial vessels at 1 mm voxels
