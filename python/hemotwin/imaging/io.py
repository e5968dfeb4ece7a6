# SPDX-License-Identifier: Apache-2.0
"""Read medical volumes (DICOM series, NIfTI, MetaImage, NRRD) into a de-identified ImageVolume.

This package is the only importer of SimpleITK. Nothing that leaves it carries DICOM header
fields: ``ImageVolume`` holds the voxels, the physical geometry and a description built from a
whitelist (modality, size, spacing), never names, IDs or dates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ImageReadError",
    "ImageVolume",
    "crop",
    "crop_to_mask",
    "from_sitk",
    "list_dicom_series",
    "mask_from_labels",
    "read_image",
    "resample_isotropic",
    "to_sitk",
    "write_image",
]

_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr", ".dcm", ".ima", ".vtk")


class ImageReadError(ValueError):
    """An input image cannot be used; the message names the file and says why."""


@dataclass
class ImageVolume:
    """A 3-D image in physical space, free of patient identifiers.

    Attributes
    ----------
    array : ndarray, shape (nx, ny, nz)
        Voxel values indexed [i, j, k] (axis 0 = x; the transpose of SimpleITK's numpy view).
    spacing_mm : ndarray (3,)
        Voxel size (mm).
    origin_mm : ndarray (3,)
        Physical centre of voxel (0, 0, 0) (mm, LPS as SimpleITK reports).
    direction : ndarray (3, 3)
        Direction cosines, column a = physical direction of index axis a.
    description : str
        Non-identifying summary (modality, size, spacing, source kind).
    modality : str
        ``"CT"``, ``"MR"``, ... or ``""`` when unknown.
    """

    array: np.ndarray
    spacing_mm: np.ndarray
    origin_mm: np.ndarray
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    description: str = ""
    modality: str = ""

    def __post_init__(self):
        self.spacing_mm = np.asarray(self.spacing_mm, float).reshape(3)
        self.origin_mm = np.asarray(self.origin_mm, float).reshape(3)
        self.direction = np.asarray(self.direction, float).reshape(3, 3)

    @property
    def shape(self):
        return tuple(self.array.shape)

    def index_to_world(self, ijk):
        """Physical points (mm) of continuous voxel indices (..., 3)."""
        M = self.direction * self.spacing_mm[None, :]
        return self.origin_mm + np.asarray(ijk, float) @ M.T

    def world_to_index(self, p_mm):
        """Continuous voxel indices of physical points (mm) (..., 3)."""
        M = self.direction * self.spacing_mm[None, :]
        return (np.asarray(p_mm, float) - self.origin_mm) @ np.linalg.inv(M).T

    def with_array(self, array, description=None):
        """Same geometry, new voxels."""
        return ImageVolume(
            array,
            self.spacing_mm.copy(),
            self.origin_mm.copy(),
            self.direction.copy(),
            self.description if description is None else description,
            self.modality,
        )


def _sitk():
    import SimpleITK as sitk

    return sitk


def to_sitk(vol: ImageVolume):
    """SimpleITK image with the volume's geometry (and no metadata)."""
    sitk = _sitk()
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(vol.array, (2, 1, 0))))
    img.SetSpacing([float(s) for s in vol.spacing_mm])
    img.SetOrigin([float(s) for s in vol.origin_mm])
    img.SetDirection([float(s) for s in vol.direction.reshape(-1)])
    return img


def from_sitk(img, description="", modality="") -> ImageVolume:
    """ImageVolume from a SimpleITK image; metadata dictionaries are dropped on purpose."""
    sitk = _sitk()
    arr = np.transpose(sitk.GetArrayFromImage(img), (2, 1, 0))
    return ImageVolume(
        np.ascontiguousarray(arr),
        img.GetSpacing(),
        img.GetOrigin(),
        np.array(img.GetDirection()).reshape(3, 3),
        description,
        modality,
    )


def _looks_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(132)
        return head[128:132] == b"DICM"
    except OSError:
        return False


def list_dicom_series(folder) -> dict:
    """Series in a DICOM folder: ``{series_uid: number_of_files}`` (UIDs are not identifiers of
    the patient, but are still kept inside this module's callers only for selection)."""
    sitk = _sitk()
    folder = str(folder)
    out = {}
    for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder) or ():
        out[uid] = len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
    return out


def _check_volume(img, name, modality):
    sitk = _sitk()
    if img.GetDimension() == 4:
        raise ImageReadError(
            f"{name}: 4-D image (size {img.GetSize()}), not a 3-D volume; "
            "extract one time frame first"
        )
    if img.GetDimension() < 3 or min(img.GetSize()) < 2:
        raise ImageReadError(f"{name}: 2-D image (size {img.GetSize()}), need a 3-D volume")
    if img.GetNumberOfComponentsPerPixel() != 1:
        img = (
            sitk.VectorIndexSelectionCast(img, 0)
            if img.GetNumberOfComponentsPerPixel() == 3
            else img
        )
        if img.GetNumberOfComponentsPerPixel() != 1:
            raise ImageReadError(
                f"{name}: {img.GetNumberOfComponentsPerPixel()}-component pixels, "
                "need a scalar volume"
            )
    d = np.array(img.GetDirection(), float).reshape(3, 3)
    if not np.all(np.isfinite(d)) or abs(np.linalg.det(d)) < 1e-6:
        raise ImageReadError(f"{name}: direction matrix is not invertible ({d.round(4).tolist()})")
    if not np.all(np.array(img.GetSpacing()) > 0):
        raise ImageReadError(f"{name}: non-positive voxel spacing {img.GetSpacing()}")
    return img


def _describe(img, kind, modality):
    sz = "x".join(str(s) for s in img.GetSize())
    sp = "x".join(f"{s:.3g}" for s in img.GetSpacing())
    mod = f"{modality} " if modality else ""
    return f"{mod}{kind}, {sz} voxels, spacing {sp} mm"


def _read_dicom_file(path: Path, name: str):
    sitk = _sitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise ImageReadError(f"{name}: unreadable DICOM file ({_first_line(exc)})") from None
    keys = set(reader.GetMetaDataKeys())

    def tag(t):
        return reader.GetMetaData(t).strip() if t in keys else ""

    modality = tag("0008|0060")
    frames = tag("0028|0008")
    n_frames = int(float(frames)) if frames else 1
    if n_frames > 1:
        incr = tag("0028|0009").upper()
        # a frame-increment pointer to FrameTime / a time vector, or a cine FrameTime tag, means
        # the frames are a time series of one plane, which SimpleITK would stack as "z"
        timeish = (
            "0018,1063" in incr.replace("|", ",")
            or "00181063" in incr.replace(",", "")
            or "0018,1065" in incr.replace("|", ",")
            or bool(tag("0018|1063"))
        )
        if timeish or not tag("5200|9229"):
            raise ImageReadError(
                f"{name}: not a 3-D volume: a multi-frame DICOM with {n_frames} frames that are a "
                "cine time series of one plane (FrameTime/FrameIncrementPointer), not slices"
            )
    elif n_frames <= 1:
        raise ImageReadError(f"{name}: a single 2-D DICOM slice; pass the folder of the series")
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise ImageReadError(f"{name}: unreadable DICOM file ({_first_line(exc)})") from None
    return img, modality


def _first_line(exc):
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # ITK messages: the line with "ITK ERROR:" says what went wrong; keep it short
    for ln in lines:
        if "ERROR:" in ln:
            return ln.split("ERROR:", 1)[1].split("):", 1)[-1].strip()[:200]
    return lines[-1][:200] if lines else type(exc).__name__


def _read_dicom_folder(folder: Path, name: str, series_uid):
    sitk = _sitk()
    series = list_dicom_series(folder)
    if not series:
        files = [p for p in folder.iterdir() if p.is_file()]
        if not files:
            raise ImageReadError(f"{name}: empty folder, no DICOM series")
        raise ImageReadError(
            f"{name}: unreadable DICOM series (no readable DICOM files among {len(files)} files)"
        )
    if series_uid is None:
        series_uid = max(series, key=series.get)
    elif series_uid not in series:
        raise ImageReadError(
            f"{name}: no series {series_uid!r}; found {len(series)} series "
            f"({', '.join(sorted(series))})"
        )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_uid)
    if len(files) == 1:
        return _read_dicom_file(Path(files[0]), name)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise ImageReadError(f"{name}: unreadable DICOM series ({_first_line(exc)})") from None
    modality = ""
    try:
        if reader.HasMetaDataKey(0, "0008|0060"):
            modality = reader.GetMetaData(0, "0008|0060").strip()
    except RuntimeError:
        pass
    return img, modality


def read_image(path, series_uid=None, pixel_type="float32") -> ImageVolume:
    """Read a 3-D medical image into a de-identified ``ImageVolume``.

    Parameters
    ----------
    path : str or Path
        A NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd), NRRD (.nrrd, .nhdr) file, a single
        (enhanced) multi-frame DICOM file, or a folder holding a DICOM series.
    series_uid : str, optional
        DICOM series to read from a folder; default: the series with the most files.
    pixel_type : str
        numpy dtype of the returned array.

    Returns
    -------
    ImageVolume

    Raises
    ------
    FileNotFoundError
        The path does not exist (message names it).
    ImageReadError
        2-D image, unreadable file/series, non-invertible direction, a cine multi-frame DICOM
        that is not a 3-D volume, ... (message names the input).

    Examples
    --------
    >>> from hemotwin.imaging import read_image  # doctest: +SKIP
    >>> vol = read_image("ct.nii.gz")  # doctest: +SKIP
    """
    sitk = _sitk()
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise FileNotFoundError(f"{name}: no such file or folder")
    modality = ""
    if p.is_dir():
        img, modality = _read_dicom_folder(p, name, series_uid)
        kind = "DICOM series"
    elif _looks_dicom(p) or p.suffix.lower() in (".dcm", ".ima"):
        img, modality = _read_dicom_file(p, name)
        kind = "DICOM file"
    else:
        try:
            img = sitk.ReadImage(str(p))
        except RuntimeError as exc:
            why = _first_line(exc)
            if "direction" in str(exc).lower():
                raise ImageReadError(
                    f"{name}: direction matrix is not invertible ({why})"
                ) from None
            raise ImageReadError(f"{name}: unreadable image file ({why})") from None
        kind = "".join(s for s in p.suffixes[-2:]).lstrip(".") + " file"
    img = _check_volume(img, name, modality)
    desc = _describe(img, kind, modality)
    img = (
        sitk.Cast(img, sitk.sitkFloat32 if pixel_type == "float32" else sitk.sitkFloat64)
        if pixel_type in ("float32", "float64")
        else img
    )
    return from_sitk(img, desc, modality)


def write_image(vol: ImageVolume, path, overwrite=False, compress=True) -> Path:
    """Write a volume (NIfTI/MHA/NRRD by suffix) with its physical geometry and no metadata.

    Parameters
    ----------
    vol : ImageVolume
    path : str or Path
    overwrite : bool
        Refuse to replace an existing file unless True.
    """
    sitk = _sitk()
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite (pass overwrite=True)")
    arr = vol.array
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    img = to_sitk(vol.with_array(arr))
    sitk.WriteImage(img, str(path), compress)
    return path


def crop(vol: ImageVolume, lower_mm, upper_mm, margin_mm=0.0) -> ImageVolume:
    """Crop to the voxels whose centres lie in a physical box (mm), plus a margin.

    Parameters
    ----------
    vol : ImageVolume
    lower_mm, upper_mm : array_like (3,)
        Opposite corners of the region of interest (physical mm, any order).
    margin_mm : float
        Extra margin on every side (mm).
    """
    lo = np.minimum(lower_mm, upper_mm) - margin_mm
    hi = np.maximum(lower_mm, upper_mm) + margin_mm
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    ijk = vol.world_to_index(corners)
    # voxels whose centres lie in the box (with a little round-off slack)
    a = np.clip(np.ceil(ijk.min(0) - 1e-6).astype(int), 0, np.array(vol.shape) - 1)
    b = np.clip(np.floor(ijk.max(0) + 1e-6).astype(int), 0, np.array(vol.shape) - 1)
    if np.any(b - a < 1):
        raise ValueError(f"crop box {lo.tolist()}..{hi.tolist()} mm does not overlap the image")
    sub = vol.array[a[0] : b[0] + 1, a[1] : b[1] + 1, a[2] : b[2] + 1]
    out = vol.with_array(np.ascontiguousarray(sub))
    out.origin_mm = vol.index_to_world(a)
    return out


def crop_to_mask(vol: ImageVolume, mask: np.ndarray, margin_vox=3) -> ImageVolume:
    """Crop to the bounding box of ``mask`` (same grid) plus ``margin_vox`` voxels."""
    nz = np.argwhere(mask)
    if nz.size == 0:
        raise ValueError("crop_to_mask: empty mask")
    a = np.maximum(nz.min(0) - margin_vox, 0)
    b = np.minimum(nz.max(0) + margin_vox, np.array(vol.shape) - 1)
    out = vol.with_array(
        np.ascontiguousarray(vol.array[a[0] : b[0] + 1, a[1] : b[1] + 1, a[2] : b[2] + 1])
    )
    out.origin_mm = vol.index_to_world(a)
    return out


def resample_isotropic(vol: ImageVolume, spacing_mm=None, label=False) -> ImageVolume:
    """Resample to isotropic voxels (default: the smallest input spacing), same physical extent.

    Parameters
    ----------
    vol : ImageVolume
    spacing_mm : float, optional
        Target spacing (mm).
    label : bool
        Nearest-neighbour interpolation (masks/label maps) instead of linear.
    """
    sitk = _sitk()
    s = float(spacing_mm or vol.spacing_mm.min())
    img = to_sitk(vol)
    ext = np.array(img.GetSize()) * np.array(img.GetSpacing())
    size = [max(1, int(round(e / s))) for e in ext]
    # keep the physical extent: first voxel centre moves so that the box edges coincide
    M = vol.direction
    corner = vol.origin_mm - M @ (0.5 * vol.spacing_mm)
    origin = corner + M @ (0.5 * np.full(3, s))
    out = sitk.Resample(
        img,
        size,
        sitk.Transform(),
        sitk.sitkNearestNeighbor if label else sitk.sitkLinear,
        origin.tolist(),
        [s] * 3,
        vol.direction.reshape(-1).tolist(),
        0.0,
        img.GetPixelID(),
    )
    return from_sitk(out, vol.description + f", resampled to {s:.3g} mm", vol.modality)


def mask_from_labels(vol: ImageVolume, label=None) -> ImageVolume:
    """Binary mask (uint8) of one label value (default: every non-zero label) of a label map."""
    arr = np.asarray(vol.array)
    m = (arr != 0) if label is None else (np.rint(arr) == int(label))
    if not m.any():
        present = np.unique(np.rint(arr)).astype(int)[:20].tolist()
        raise ValueError(f"label map has no voxel with label {label}; labels present: {present}")
    return vol.with_array(m.astype(np.uint8), vol.description + f", label {label}")


def _is_image_path(p) -> bool:
    s = str(p).lower()
    return os.path.isdir(p) or any(s.endswith(x) for x in _SUFFIXES)
