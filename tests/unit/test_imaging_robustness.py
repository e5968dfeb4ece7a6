# SPDX-License-Identifier: Apache-2.0
"""Input robustness of the imaging stage: DICOM series with missing slices, non-finite voxels,
legacy-VTK images told from surfaces, crops of oblique grids that keep to the box, and messages
that name what to change."""

import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")

from hemotwin.imaging import ImageReadError, ImageVolume, SegmentationError, crop, read_image
from hemotwin.imaging import segment_lumen, write_image
from hemotwin.imaging.io import is_image_file, slice_spacing_problems


# ----------------------------------------------------------------------------- DICOM gaps
def _write_series(folder: Path, n=10, step_mm=2.0, z0=-20.0, orientation=(1, 0, 0, 0, 1, 0),
                  decimals=4):
    """A small CT series, one file per slice (SimpleITK's series-writing recipe)."""
    folder.mkdir()
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, col)
    uid = "1.2.826.0.1.3680043.2.1125.7" + time.strftime("%H%M%S")
    w = sitk.ImageFileWriter()
    w.KeepOriginalImageUIDOn()
    for k in range(n):
        s = sitk.GetImageFromArray((np.full((16, 16), 100 + k)).astype(np.int16))
        s.SetSpacing([0.5, 0.5])
        pos = np.array([1.0, 2.0, 0.0]) + (z0 + k * step_mm) * normal
        tags = {
            "0008|0060": "CT",
            "0020|000d": uid + ".1",
            "0020|000e": uid + ".2",
            "0020|0037": "\\".join(str(v) for v in orientation),
            "0020|0032": "\\".join(f"{v:.{decimals}f}" for v in pos),
            "0020|0013": str(k + 1),
            "0008|0018": f"{uid}.3.{k + 1}",
            "0028|1052": "0",
            "0028|1053": "1",
        }
        for t, v in tags.items():
            s.SetMetaData(t, v)
        w.SetFileName(str(folder / f"{uid}.3.{k + 1}.dcm"))
        w.Execute(s)
    return sorted(folder.iterdir(), key=lambda p: int(p.name.split(".")[-2]))


def test_complete_series_reads_evenly(tmp_path):
    _write_series(tmp_path / "full")
    v = read_image(tmp_path / "full")
    assert v.shape == (16, 16, 10)
    np.testing.assert_allclose(v.spacing_mm, [0.5, 0.5, 2.0], rtol=1e-6)


def test_positions_written_with_few_decimals_are_not_a_gap(tmp_path):
    # 0.625 mm slices written to 0.1 mm: steps of 0.6 and 0.7 mm are round-off, not gaps
    _write_series(tmp_path / "coarse", n=12, step_mm=0.625, decimals=1)
    assert read_image(tmp_path / "coarse").shape == (16, 16, 12)


def test_series_with_missing_slices_is_refused(tmp_path, capfd):
    files = _write_series(tmp_path / "gap")
    for f in files[4:6]:  # slices at z = -12 and -10 mm
        f.unlink()
    with pytest.raises(ImageReadError) as e:
        read_image(tmp_path / "gap")
    msg = str(e.value)
    assert str(tmp_path / "gap") in msg
    assert "expected a step of 2 mm" in msg
    assert "a 6 mm step between -14 and -8 mm (2 slices missing)" in msg
    assert "re-export the complete series" in msg
    assert ".dcm" not in msg and "1.2.826" not in msg  # positions, never file names / UIDs
    assert "WARNING" not in capfd.readouterr().err  # ITK's raw warning is not shown


def test_series_gap_on_oblique_slices_names_the_normal(tmp_path):
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    files = _write_series(tmp_path / "obl", n=8, step_mm=1.5, orientation=(1, 0, 0, 0, c, s))
    files[3].unlink()
    with pytest.raises(ImageReadError, match=r"slice normal \(0\.000, -0\.500, 0\.866\).*"
                                             r"a 3 mm step .*\(1 slice missing\)"):
        read_image(tmp_path / "obl")


def test_slice_spacing_problems():
    assert slice_spacing_problems([0, 2, 4, 6.004, 8]) == (2.0, [])  # DICOM decimal round-off
    step, probs = slice_spacing_problems([8, 0, 2, 4, 10, 12])  # any order
    assert step == 2.0 and probs == ["a 4 mm step between 4 and 8 mm (1 slice missing)"]
    _, probs = slice_spacing_problems([0, 2, 2, 4, 6])
    assert probs == ["two slices at the same position 2 mm"]
    _, probs = slice_spacing_problems([0, 2, 4, 7, 9, 11])
    assert probs == ["a 3 mm step between 4 and 7 mm"]
    # positions known to 1 mm only: a missing 1 mm slice is still a gap
    _, probs = slice_spacing_problems([0, 1, 2, 4, 5], abs_tol_mm=1.0)
    assert probs == ["a 2 mm step between 2 and 4 mm (1 slice missing)"]
    step, probs = slice_spacing_problems([0, 0, 2, 2, 4, 4])  # two phases in one series
    assert step == 0.0 and "share their position" in probs[0]


def test_real_series_with_two_slices_removed(shared_data, tmp_path, capfd):
    src = shared_data / "dicom_ct_abdomen_series_totalseg" / "example_ct_dicom"
    if not src.is_dir():
        pytest.skip(f"real data not present: {src}")
    dst = tmp_path / "dcm_gap"
    shutil.copytree(src, dst)
    uid = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(dst))[0]
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(dst), uid)  # sorted by position
    for f in files[8:10]:
        Path(f).unlink()
    from hemotwin.cli import main

    rc = main(["segment", str(dst), "--seed=7.8,-147.9,-784.5", "--out", str(tmp_path / "o")])
    err = capfd.readouterr().err
    assert rc == 2
    # SOURCE.md: slices at z = -804.5 ... -766.5 mm, 2 mm apart
    assert "expected a step of 2 mm, found a 6 mm step between -790.5 and -784.5 mm" in err
    assert "WARNING" not in err and "Non uniform" not in err
    assert not (tmp_path / "o" / "mask.nii.gz").exists()


# ----------------------------------------------------------------------------- non-finite
def _tube_image(shape=(24, 24, 16), spacing=(1.0, 1.0, 1.0)):
    g = np.indices(shape).astype(np.float32)
    r = np.hypot(g[0] - shape[0] / 2, g[2] - shape[2] / 2)
    return np.where(r < 4, 900.0, 100.0).astype(np.float32), np.array(spacing)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_voxels_refused_at_load(tmp_path, bad):
    a, sp = _tube_image()
    a[:3] = bad  # e.g. the no-data region of a registered/resampled volume
    p = tmp_path / "holes.mha"
    write_image(ImageVolume(a, sp, [0, 0, 0]), p)
    kind = "NaN" if np.isnan(bad) else "inf"
    with pytest.raises(ImageReadError, match=rf"holes.mha: {3 * 24 * 16} of {a.size} voxels "
                                             rf".*not finite \({kind}\).*Replace them"):
        read_image(p)


def test_non_finite_voxels_never_reach_the_thresholds(tmp_path, capsys):
    a, sp = _tube_image()
    a[0, 0, 0] = np.nan
    vol = ImageVolume(a, sp, [0, 0, 0])
    with pytest.raises(SegmentationError, match="1 of .* not finite"):
        segment_lumen(vol, [[12.0, 12.0, 8.0]], refine="none")
    p = tmp_path / "nan.mha"
    write_image(vol, p)
    from hemotwin.cli import main

    assert main(["segment", str(p), "--seed=12,12,8", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nan.mha" in err and "not finite" in err and "[nan, nan]" not in err


def test_nan_thresholds_refused():
    a, sp = _tube_image()
    with pytest.raises(SegmentationError, match="threshold lower = nan"):
        segment_lumen(ImageVolume(a, sp, [0, 0, 0]), [[12.0, 12.0, 8.0]], lower=float("nan"))


# ----------------------------------------------------------------------------- .vtk files
_POLY = """# vtk DataFile Version 3.0
a triangle
ASCII
DATASET POLYDATA
POINTS 3 float
0 0 0 1 0 0 0 1 0
POLYGONS 1 4
3 0 1 2
"""


def test_vtk_image_or_surface(tmp_path):
    a, sp = _tube_image()
    img = tmp_path / "image.vtk"
    sitk.WriteImage(sitk.GetImageFromArray(np.transpose(a, (2, 1, 0))), str(img))
    assert b"STRUCTURED_POINTS" in img.read_bytes()[:200]
    assert is_image_file(img)
    assert read_image(img).shape == a.shape  # and it reads as one
    poly = tmp_path / "surface.vtk"
    poly.write_text(_POLY)
    assert not is_image_file(poly)
    ug = tmp_path / "grid.vtk"
    ug.write_text(_POLY.replace("POLYDATA", "UNSTRUCTURED_GRID"))
    assert not is_image_file(ug)
    xml = tmp_path / "xml.vtk"
    xml.write_text('<?xml version="1.0"?>\n<VTKFile type="PolyData" version="1.0"></VTKFile>\n')
    assert not is_image_file(xml)
    assert is_image_file(tmp_path)  # a folder: a DICOM series
    for name in ("ct.nii.gz", "ct.NII", "a.mha", "a.mhd", "a.nrrd", "a.nhdr", "x.dcm"):
        assert is_image_file(tmp_path / name), name
    for name in ("lumen.stl", "lumen.vtp", "lumen.ply", "lumen.obj", "missing.vtk"):
        assert not is_image_file(tmp_path / name), name


def test_real_carotid_vtk_is_an_image(shared_data):
    p = shared_data / "vtkdata_carotid_pcmra" / "Data" / "carotid.vtk"
    if not p.is_file():
        pytest.skip(f"real data not present: {p}")
    assert is_image_file(p)
    assert read_image(p).shape == (76, 49, 45)


# ----------------------------------------------------------------------------- oblique crop
BOX_LO, BOX_HI = np.array([8.0, 12.0, 4.0]), np.array([32.0, 44.0, 26.0])


def _straight_vessel():
    """A bright tube along y (x = 20, z = 15 mm, radius 5 mm) with a partial-volume rim."""
    shape, h = (40, 56, 30), 1.0
    g = np.indices(shape).astype(np.float32) * h
    r = np.hypot(g[0] - 20.0, g[2] - 15.0)
    a = 100.0 + 800.0 * np.clip(5.5 - r, 0.0, 1.0)
    return ImageVolume(a.astype(np.float32), [h] * 3, [0, 0, 0], np.eye(3), "tube", "MR")


def _oblique_copy(vol, deg=20.0, nearest=False):
    """The same physical image on a grid rotated about z (as an oblique acquisition)."""
    from hemotwin.imaging.io import from_sitk, to_sitk

    t = math.radians(deg)
    R = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    img = to_sitk(vol)
    ref = sitk.Image([60, 70, 30], img.GetPixelID())
    ref.SetSpacing([1.0] * 3)
    ref.SetDirection(R.ravel().tolist())
    centre = vol.index_to_world((np.array(vol.shape) - 1) / 2.0)
    ref.SetOrigin((centre - R @ ((np.array(ref.GetSize()) - 1) / 2.0)).tolist())
    interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(img, ref, sitk.Transform(), interp, 0.0 if nearest else 100.0)
    return from_sitk(out, "oblique tube", "MR")


def _world(mask_vol):
    return mask_vol.index_to_world(np.argwhere(mask_vol.array > 0))


def test_oblique_crop_keeps_to_the_box():
    from hemotwin.geometry.ports import detect_ports

    base = _straight_vessel()
    obl = _oblique_copy(base)
    seeds = [[20.0, 28.0, 15.0]]
    ref = segment_lumen(crop(base, BOX_LO, BOX_HI), seeds, refine="none")
    cut = crop(obl, BOX_LO, BOX_HI)
    res = segment_lumen(cut, seeds, refine="none")
    assert ref.status == res.status == "ok"
    # linear interpolation twice (onto the rotated grid, then back onto the box grid) blurs the
    # 1-voxel rim, which moves the half-way threshold inwards by ~0.1 mm on a 5 mm radius: ~4 %
    # of the volume; before the fix the index bounding box added ~25 % (4 mm at each end)
    np.testing.assert_allclose(res.stats["volume_ml"], ref.stats["volume_ml"], rtol=0.06)
    w = _world(res.mask)
    assert np.all(w >= BOX_LO - 1e-3) and np.all(w <= BOX_HI + 1e-3)
    ports = detect_ports(res.mask.array, res.mask)
    ys = sorted(float(p.center_mm[1]) for p in ports)
    assert len(ports) == 2
    np.testing.assert_allclose(ys, [BOX_LO[1], BOX_HI[1]], atol=1.0)  # on the box faces


def test_oblique_crop_of_a_label_map_keeps_labels():
    base = _straight_vessel()
    lab = base.with_array(np.where(base.array > 500, 3, 0).astype(np.uint8))
    obl = _oblique_copy(lab, nearest=True)
    assert obl.array.dtype == np.uint8 and set(np.unique(obl.array).tolist()) == {0, 3}
    cut = crop(obl, BOX_LO, BOX_HI)  # integer: nearest neighbour, no blended labels
    assert cut.array.dtype == np.uint8 and set(np.unique(cut.array).tolist()) == {0, 3}


def test_oblique_crop_beyond_the_field_of_view_warns():
    obl = _oblique_copy(_straight_vessel())
    with pytest.warns(UserWarning, match="outside the field of view"):
        cut = crop(obl, [-100, -100, -100], [100, 100, 100])
    assert cut.shape == obl.shape  # the index box, as before


def test_axis_aligned_crop_is_exact():
    base = _straight_vessel()
    flipped = ImageVolume(base.array[::-1], base.spacing_mm, base.index_to_world([39, 0, 0]),
                          np.diag([-1.0, 1.0, 1.0]))
    for v in (base, flipped):
        c = crop(v, BOX_LO, BOX_HI)
        assert c.shape == (25, 33, 23)
        w = c.index_to_world(np.argwhere(np.ones(c.shape, bool)))
        np.testing.assert_allclose([w.min(0), w.max(0)], [BOX_LO, BOX_HI], atol=1e-9)


# ----------------------------------------------------------------------------- messages
def test_label_on_an_intensity_image_says_so():
    base = _straight_vessel()
    a = base.array + 0.25  # intensities are not integer labels
    a[19:21, 27:29, 14:16] = 1.0  # a few voxels happen to round to "label 1"
    img = base.with_array(a)
    res = segment_lumen(img, [[20.0, 28.0, 15.0]], label_map=img, label=1, refine="none")
    assert res.status == "empty"
    assert "label 1 gives 8 voxels" in res.message
    assert "looks like an intensity image" in res.message and "drop --label" in res.message
    assert "refine=False" not in res.message
    with pytest.raises(SegmentationError, match="no voxel with label 7.*intensity image"):
        segment_lumen(img, [[20.0, 28.0, 15.0]], label_map=img, label=7)
    blob = np.full(base.shape, 100.0, np.float32)
    blob[19:21, 27:29, 14:16] = 900.0  # 8 bright voxels: too small to be a lumen
    res = segment_lumen(base.with_array(blob), [[20.0, 28.0, 15.0]], lower=500, refine="none")
    assert res.status == "empty" and "(8 voxels)" in res.message and "--lower" in res.message
    assert "refine=False" not in res.message


def test_seed_on_a_clipped_side_is_named():
    base = _straight_vessel()
    res = segment_lumen(base, [[20.0, 28.0, 15.0]], clip_planes=["0,20,0,0,1,0"], refine="none")
    assert res.status == "empty"
    assert "[[20.0, 28.0, 15.0]] mm lie on the removed side of a clip plane" in res.message
