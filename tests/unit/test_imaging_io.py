# SPDX-License-Identifier: Apache-2.0
"""Image reading: geometry kept, de-identified volumes, and an error naming the input for each bad file."""

from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")

from hemotwin.imaging import (
    ImageReadError,
    ImageVolume,
    crop,
    read_image,
    resample_isotropic,
    write_image,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _vol():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 10, 8)).astype(np.float32)
    d = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)  # rotated: index axes != LPS axes
    return ImageVolume(a, [0.7, 0.8, 1.5], [10.0, -20.0, 30.0], d, "test")


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha", ".nrrd"])
def test_round_trip_keeps_geometry(tmp_path, suffix):
    v = _vol()
    p = write_image(v, tmp_path / f"v{suffix}")
    r = read_image(p)
    np.testing.assert_allclose(r.array, v.array)
    np.testing.assert_allclose(r.spacing_mm, v.spacing_mm, rtol=1e-6)
    np.testing.assert_allclose(r.origin_mm, v.origin_mm, atol=1e-5)
    np.testing.assert_allclose(r.direction, v.direction, atol=1e-6)
    # index -> world mapping agrees with SimpleITK's own
    img = sitk.ReadImage(str(p))
    np.testing.assert_allclose(
        r.index_to_world([3, 4, 5]),
        img.TransformContinuousIndexToPhysicalPoint([3, 4, 5]),
        atol=1e-5,
    )
    with pytest.raises(FileExistsError):
        write_image(v, p)


def test_crop_and_resample():
    v = _vol()
    c = crop(v, v.index_to_world([2, 2, 2]), v.index_to_world([6, 5, 4]))
    assert c.shape == (5, 4, 3)
    np.testing.assert_allclose(c.array, v.array[2:7, 2:6, 2:5])
    np.testing.assert_allclose(c.index_to_world([0, 0, 0]), v.index_to_world([2, 2, 2]))
    r = resample_isotropic(v)
    np.testing.assert_allclose(r.spacing_mm, [0.7] * 3)
    ext = np.array(v.shape) * v.spacing_mm
    np.testing.assert_allclose(np.array(r.shape) * 0.7, ext, atol=0.7)


def test_missing_file_names_input(tmp_path):
    p = tmp_path / "nope.nii.gz"
    with pytest.raises(FileNotFoundError, match="nope.nii.gz"):
        read_image(p)


def test_2d_image_refused(tmp_path):
    p = tmp_path / "slice.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.float32)), str(p))
    with pytest.raises(ImageReadError, match="slice.nii.gz.*2-D"):
        read_image(p)
    p2 = tmp_path / "flat.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((1, 5, 6), np.float32)), str(p2))
    with pytest.raises(ImageReadError, match="flat.mha.*2-D"):
        read_image(p2)


def test_singular_direction_refused(tmp_path):
    p = tmp_path / "singular.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6, 7), np.float32)), str(p))
    s = p.read_bytes()
    i = s.index(b"TransformMatrix")
    j = s.index(b"\n", i)
    p.write_bytes(s[:i] + b"TransformMatrix = 1 0 0 0 1 0 0 0 0" + s[j:])
    with pytest.raises(ImageReadError, match="singular.mha.*direction matrix is not invertible"):
        read_image(p)


def test_garbage_file_and_unreadable_series(tmp_path):
    p = tmp_path / "junk.nii.gz"
    p.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="junk.nii.gz.*unreadable"):
        read_image(p)
    d = tmp_path / "series"
    d.mkdir()
    for k in range(3):
        (d / f"IM{k}.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage" * 10)
    with pytest.raises(ImageReadError, match="series.*unreadable DICOM"):
        read_image(d)
    e = tmp_path / "empty"
    e.mkdir()
    with pytest.raises(ImageReadError, match="empty.*no DICOM"):
        read_image(e)


def test_cine_multiframe_dicom_is_not_a_volume():
    p = DATA / "dicom_mr_cardiac_multiframe_vmtk" / "input" / "mr-dicom.dcm"
    if not p.exists():
        pytest.skip(f"real data not present: {p}")
    with pytest.raises(ImageReadError, match="mr-dicom.dcm: not a 3-D volume"):
        read_image(p)


def test_real_dicom_series_reads_with_geometry():
    d = DATA / "dicom_ct_abdomen_series_totalseg" / "example_ct_dicom"
    if not d.exists():
        pytest.skip(f"real data not present: {d}")
    v = read_image(d)
    assert v.shape == (512, 512, 20)
    np.testing.assert_allclose(v.spacing_mm, [0.9765625, 0.9765625, 2.0], rtol=1e-6)
    assert v.modality == "CT" and v.array.min() >= -1100
    # SOURCE.md: slice positions z = -804.5 ... -766.5 mm
    np.testing.assert_allclose(v.index_to_world([0, 0, 19])[2], -766.5, atol=1e-3)
    assert "CT DICOM series" in v.description
    with pytest.raises(ImageReadError, match="no series 'x'"):
        read_image(d, series_uid="x")
