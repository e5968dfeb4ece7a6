# SPDX-License-Identifier: Apache-2.0
"""Read medical volumes (DICOM series, NIfTI, MetaImage, NRRD) into a de-identified ImageVolume.

This package is the only importer of SimpleITK. Nothing that leaves it carries DICOM header
fields: ``ImageVolume`` holds the voxels, the physical geometry and a description built from a
whitelist (modality, size, spacing), never names, IDs or dates.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ImageReadError",
    "ImageVolume",
    "crop",
    "crop_to_mask",
    "from_sitk",
    "is_image_file",
    "list_dicom_series",
    "mask_from_labels",
    "read_image",
    "resample_isotropic",
    "slice_spacing_problems",
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
    # ITK warns "No Series were found" over several lines for a folder without DICOM files; the
    # callers say that in one line of their own
    with _itk_warnings_off():
        for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder) or ():
            out[uid] = len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
    return out


@contextmanager
def _itk_warnings_off():
    """ITK's global warning display off for the duration, restored afterwards."""
    sitk = _sitk()
    warn = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warn)


@contextmanager
def _native_stderr_captured():
    """Collect what native code (ITK's MetaIO, GDCM, ...) writes to file descriptor 2.

    Yields a list that holds the text once the block ends. Those libraries print straight to
    the process's stderr, which no Python setting reaches; the caller decides whether the text is
    noise (a read that failed, which it reports in its own words) or passes it on.
    """
    import os
    import sys
    import tempfile

    got = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (embedded interpreters): no capture
        yield got
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield got
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            got.append(tmp.read().decode("utf-8", "replace"))


def _check_volume(img, name, modality):
    if img.GetDimension() == 4:
        raise ImageReadError(
            f"{name}: 4-D image (size {img.GetSize()}), not a 3-D volume; "
            "extract one time frame first"
        )
    if img.GetDimension() < 3 or min(img.GetSize()) < 2:
        raise ImageReadError(f"{name}: 2-D image (size {img.GetSize()}), need a 3-D volume")
    n_comp = img.GetNumberOfComponentsPerPixel()
    if n_comp != 1:
        img = _grey_of_vector(img, name, n_comp)
    d = np.array(img.GetDirection(), float).reshape(3, 3)
    if not np.all(np.isfinite(d)) or abs(np.linalg.det(d)) < 1e-6:
        raise ImageReadError(f"{name}: direction matrix is not invertible ({d.round(4).tolist()})")
    if not np.all(np.array(img.GetSpacing()) > 0):
        raise ImageReadError(f"{name}: non-positive voxel spacing {img.GetSpacing()}")
    return img


def _grey_of_vector(img, name, n_comp):
    """The one scalar volume a multi-component image holds, or refuse it.

    Only a grey image stored with equal R, G and B channels (some DICOM and PACS exports) is
    one: its first channel is exactly its intensity. A velocity field, a colour rendering or any
    other vector image has no single intensity to segment, and its first component is not one.
    """
    sitk = _sitk()
    if n_comp == 3:
        a = sitk.GetArrayViewFromImage(img)
        if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2]):
            return sitk.VectorIndexSelectionCast(img, 0)
    what = {2: "a complex or 2-D vector image?", 3: "a velocity or RGB image?",
            4: "an RGBA image?"}.get(n_comp, "a vector or multi-channel image?")
    raise ImageReadError(
        f"{name}: {n_comp}-component pixels ({what}); a scalar intensity volume is needed "
        "(one value per voxel: export the intensity, or one component, as its own volume)"
    )


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
        nested = _series_subfolders(folder)
        if nested:
            where = "no DICOM files" if not files else "no DICOM series"
            shown = [f"{sub.relative_to(folder).as_posix()}/ ({n} files)" for sub, n in nested[:3]]
            if len(nested) == 1:
                found = f"a series is in {shown[0]}; give that folder"
            else:
                more = " and more" if len(nested) > 3 else ""
                found = (f"series are in {', '.join(shown)}{more}; give one of those folders "
                         "(the one of the vessel's scan)")
            raise ImageReadError(f"{name}: {where} at its top level; {found}")
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
    # ITK only prints a raw warning for missing slices and spaces them evenly; we check the
    # positions ourselves below and say it in our words, so its warning is silenced here
    try:
        with _itk_warnings_off():
            img = reader.Execute()
    except RuntimeError as exc:
        raise ImageReadError(f"{name}: unreadable DICOM series ({_first_line(exc)})") from None
    _check_slice_positions(reader, len(files), name)
    modality = ""
    try:
        if reader.HasMetaDataKey(0, "0008|0060"):
            modality = reader.GetMetaData(0, "0008|0060").strip()
    except RuntimeError:
        pass
    return img, modality


def _series_subfolders(folder: Path, max_depth=4, max_folders=200, max_found=4):
    """Subfolders of ``folder`` (depth-first, sorted) that hold a DICOM series themselves:
    ``[(subfolder, files_in_its_largest_series), ...]``, at most ``max_found``.

    Only for the message of a folder with no series at its top level (a PACS or CD export nests
    each series a level or more down): the folder to give is named, never entered silently.
    """
    found, seen = [], 0
    stack = [(folder, 0)]
    while stack and len(found) < max_found and seen < max_folders:
        d, depth = stack.pop()
        try:
            subs = sorted((x for x in d.iterdir() if x.is_dir()), reverse=True)
        except OSError:
            continue
        if d != folder:
            seen += 1
            if any(x.is_file() for x in d.iterdir()):
                series = list_dicom_series(d)
                if series:
                    found.append((d, max(series.values())))
                    continue  # a series folder: its own subfolders are not searched
        if depth < max_depth:
            stack.extend((x, depth + 1) for x in subs)
    return found


def _dicom_floats(reader, i, tag, n):
    """Numbers of a multi-valued DICOM tag of slice ``i`` and, per number, the decimal step it
    is written with ("-804.5": 0.1 mm; "-804": 1 mm); ``(None, None)`` if absent or malformed."""
    try:
        if not reader.HasMetaDataKey(i, tag):
            return None, None
        words = [w.strip() for w in reader.GetMetaData(i, tag).replace(",", "\\").split("\\")]
        v = np.array([float(w) for w in words])
    except (RuntimeError, ValueError):
        return None, None
    if v.size != n or not np.all(np.isfinite(v)):
        return None, None
    q = [
        0.0 if "e" in w.lower() else 10.0 ** -(len(w.split(".")[1]) if "." in w else 0)
        for w in words
    ]
    return v, np.array(q)


def _fmt_mm(x):
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.6g}"


def slice_spacing_problems(positions_mm, rel_tol=0.01, abs_tol_mm=0.01):
    """Irregular steps of a stack of slice positions.

    Parameters
    ----------
    positions_mm : array_like (n,)
        Slice positions along the slice normal (mm), any order.
    rel_tol, abs_tol_mm : float
        A step differs from the median step when by more than ``max(rel_tol * median, abs_tol_mm)``
        (DICOM writes positions as decimal strings, a few digits after the point), or when it is
        more than 1.5 or less than 0.5 times the median (a missing or a duplicate slice).

    Returns
    -------
    step_mm : float
        The median step (mm), the spacing a complete series would have.
    problems : list of str
        One phrase per irregular step (positions in mm, slices missing); empty when uniform.
    """
    z = np.sort(np.asarray(positions_mm, float))
    d = np.diff(z)
    if d.size == 0:
        return 0.0, []
    step = float(np.median(d))
    tol = max(rel_tol * abs(step), abs_tol_mm)
    if step <= 0.5 * tol:
        return 0.0, [
            "most slices share their position with another (several phases, echoes or "
            "acquisitions in one series?)"
        ]
    # a missing slice (a step ~2x) or a duplicate (~0) is never round-off, whatever the tolerance
    bad = (np.abs(d - step) > tol) | (d > 1.5 * step) | (d < 0.5 * step)
    out = []
    for k in np.flatnonzero(bad):
        where = f"between {_fmt_mm(z[k])} and {_fmt_mm(z[k + 1])} mm"
        ratio = d[k] / step
        if ratio < 0.5 and d[k] <= tol:
            out.append(f"two slices at the same position {_fmt_mm(z[k])} mm")
        elif ratio > 1 and abs(ratio - round(ratio)) < 0.1:
            n_miss = int(round(ratio)) - 1
            out.append(
                f"a {_fmt_mm(d[k])} mm step {where} "
                f"({n_miss} slice{'s' if n_miss > 1 else ''} missing)"
            )
        else:
            out.append(f"a {_fmt_mm(d[k])} mm step {where}")
    return step, out


def _check_slice_positions(reader, n, name):
    """Refuse a series whose slices are not evenly spaced along their normal (missing slices,
    duplicates, mixed acquisitions): ITK would stack them at the mean step, silently distorted.

    Positions are ImagePositionPatient projected on the normal of ImageOrientationPatient
    (row x column); a series lacking those tags is left as ITK read it. No file name is given:
    DICOM file names often carry UIDs, positions say as much and identify no one."""
    pos, ori, quantum = [], [], np.zeros(3)
    for i in range(n):
        p, q = _dicom_floats(reader, i, "0020|0032", 3)
        o, _ = _dicom_floats(reader, i, "0020|0037", 6)
        if p is None or o is None:
            return
        pos.append(p)
        ori.append(o)
        quantum = np.maximum(quantum, q)
    ori = np.array(ori)
    if np.abs(ori - ori[0]).max() > 1e-3:
        raise ImageReadError(
            f"{name}: DICOM series mixes slices of different orientations "
            "(ImageOrientationPatient differs between files); it is not one 3-D volume: "
            "re-export the series, or select the series of the volume"
        )
    normal = np.cross(ori[0, :3], ori[0, 3:])
    if np.linalg.norm(normal) < 1e-6:
        return
    normal /= np.linalg.norm(normal)
    s = np.array(pos) @ normal
    # positions written with few decimals: a step may be off by one written digit per axis
    step, problems = slice_spacing_problems(s, abs_tol_mm=max(0.01, quantum @ np.abs(normal)))
    if not problems:
        return
    axial = np.abs(np.abs(normal) - [0, 0, 1]).max() < 1e-3
    along = (
        "z (the slice normal)"
        if axial
        else f"the slice normal ({', '.join(f'{c:.3f}' for c in normal)})"
    )
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if problems[5:] else "")
    n_miss = int(round((s.max() - s.min()) / step)) + 1 - n if step > 0 else 0
    total = (
        f" (about {n_miss} slice{'s' if n_miss != 1 else ''} missing in all)"
        if n_miss > 0 and len(problems) > 1
        else ""
    )
    expected = f"expected a step of {_fmt_mm(step)} mm, " if step > 0 else ""
    raise ImageReadError(
        f"{name}: DICOM series has missing or unevenly spaced slices: {n} slices from "
        f"{_fmt_mm(s.min())} to {_fmt_mm(s.max())} mm along {along}, {expected}found "
        f"{shown}{total}. Stacked evenly the volume would be distorted; re-export the complete "
        "series (every slice of the acquisition) from the scanner or PACS, or select another "
        "series"
    )


def _nonfinite_check(img, name):
    """Refuse an image with NaN/inf voxels before any threshold, percentile or median sees them."""
    sitk = _sitk()
    if img.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        return
    a = sitk.GetArrayViewFromImage(img)
    finite = np.isfinite(a)
    if finite.all():
        return
    n_bad = int(a.size - np.count_nonzero(finite))
    kji = np.unravel_index(int(np.argmin(finite)), a.shape)
    ijk = [int(v) for v in kji[::-1]]
    p = img.TransformIndexToPhysicalPoint(ijk)
    kinds = [k for k, f in (("NaN", np.isnan), ("inf", np.isinf)) if f(a).any()]
    raise ImageReadError(
        f"{name}: {n_bad} of {a.size} voxels ({100.0 * n_bad / a.size:.2g} %) are not finite "
        f"({' and '.join(kinds)}), the first at index {ijk} "
        f"({', '.join(f'{c:.1f}' for c in p)} mm); no intensity window can be set from them. "
        "Replace them with the background intensity (e.g. numpy.nan_to_num(a, nan=bg)), or "
        "mask or crop them away, before segmenting"
    )


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
        that is not a 3-D volume, a DICOM series with missing or unevenly spaced slices, NaN or
        infinite voxels, ... (message names the input).

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
            with _native_stderr_captured() as said:
                img = sitk.ReadImage(str(p))
        except RuntimeError as exc:
            # what the reader printed on its way to failing is said in the one line below
            why = _first_line(exc)
            if "direction" in str(exc).lower():
                raise ImageReadError(
                    f"{name}: direction matrix is not invertible ({why})"
                ) from None
            raise ImageReadError(f"{name}: unreadable image file ({why})") from None
        if said and said[0].strip():
            import sys

            sys.stderr.write(said[0])  # a read that worked: its warnings are passed on
        kind = _image_suffix(p).lstrip(".") + " file"
    img = _check_volume(img, name, modality)
    _nonfinite_check(img, name)
    desc = _describe(img, kind, modality)
    img = (
        sitk.Cast(img, sitk.sitkFloat32 if pixel_type == "float32" else sitk.sitkFloat64)
        if pixel_type in ("float32", "float64")
        else img
    )
    return from_sitk(img, desc, modality)


def _image_suffix(path) -> str:
    """The format suffix of an image file (``.nii.gz``, ``.mha``, ...), never more of its name
    (``Doe.Jane.mha`` is ``.mha``: the name before the format may identify the patient)."""
    low = Path(path).name.lower()
    known = [x for x in _SUFFIXES if low.endswith(x)]
    if known:
        return max(known, key=len)
    suf = Path(path).suffix.lower()
    return suf if 1 < len(suf) <= 6 and suf[1:].isalnum() else ""


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


def _sub_volume(vol: ImageVolume, a, b) -> ImageVolume:
    """Index box ``a..b`` (inclusive) of ``vol``, origin moved to voxel ``a``."""
    sl = tuple(slice(int(a[d]), int(b[d]) + 1) for d in range(3))
    out = vol.with_array(np.ascontiguousarray(vol.array[sl]))
    out.origin_mm = vol.index_to_world(a)
    return out


def _nearest_axes(direction):
    """Signed permutation matrix closest to an oblique direction matrix: column a is the
    physical axis (+-x, +-y, +-z) that index axis a runs along most (the permutation with the
    largest product of |cosines|, so two index axes never snap to the same physical axis)."""
    from itertools import permutations

    d = np.asarray(direction, float)
    best = max(permutations(range(3)), key=lambda pm: np.prod([abs(d[pm[a], a]) for a in range(3)]))
    out = np.zeros((3, 3))
    for a in range(3):
        out[best[a], a] = 1.0 if d[best[a], a] >= 0 else -1.0
    return out


def crop(vol: ImageVolume, lower_mm, upper_mm, margin_mm=0.0, label=None) -> ImageVolume:
    """Crop to the voxels whose centres lie in a physical box (mm), plus a margin.

    On a grid whose index axes run along the physical axes (any order or sign) the result is
    exactly those voxels. An oblique grid cannot be cut along the box's faces, and its
    index-space bounding box reaches beyond them; so when the box (clipped to the image) lies
    within the image's field of view, the box is resampled onto the nearest axis-aligned grid
    (same voxel size per index axis, voxel centres spread evenly in the box), and a lumen
    segmented in it ends, and has its ports, on the box faces. A box reaching outside an oblique
    image's field of view falls back to the index bounding box, with a warning.

    Parameters
    ----------
    vol : ImageVolume
    lower_mm, upper_mm : array_like (3,)
        Opposite corners of the region of interest (physical mm, any order).
    margin_mm : float
        Extra margin on every side (mm).
    label : bool, optional
        Resample an oblique grid by nearest neighbour (label maps, masks) instead of linearly;
        default: nearest neighbour for integer and boolean arrays.

    Examples
    --------
    >>> import numpy as np
    >>> v = ImageVolume(np.zeros((10, 10, 10), np.float32), [1, 1, 1], [0, 0, 0])
    >>> crop(v, [2, 2, 2], [5, 6, 7]).shape
    (4, 5, 6)
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
    ad = np.abs(vol.direction)
    if np.all((ad < 1e-6) | (np.abs(ad - 1.0) < 1e-6)):
        return _sub_volume(vol, a, b)  # index box == physical box
    # oblique: the box clipped to the image's physical extent (as the index clip does above)
    n = np.array(vol.shape)
    all_corners = vol.index_to_world(
        np.array([[i, j, k] for i in (0, n[0] - 1) for j in (0, n[1] - 1) for k in (0, n[2] - 1)])
    )
    lo_c = np.maximum(lo, all_corners.min(0))
    hi_c = np.minimum(hi, all_corners.max(0))
    bi = vol.world_to_index(np.where(corners == lo, lo_c, hi_c))
    # linear interpolation is defined up to half a voxel beyond the outer voxel centres
    if np.any(hi_c <= lo_c) or np.any(bi < -0.5 + 1e-6) or np.any(bi > n - 0.5 - 1e-6):
        import warnings

        warnings.warn(
            f"crop box {np.round(lo, 2).tolist()}..{np.round(hi, 2).tolist()} mm reaches "
            "outside the field of view of this oblique image, which cannot be cut along the "
            "box's faces there: cropped to the box's index-space bounding box, so the lumen may "
            "extend beyond the box; give a box inside the image to cut exactly at its faces",
            stacklevel=2,
        )
        return _sub_volume(vol, a, b)
    return _resample_box(vol, lo_c, hi_c, label)


def _resample_box(vol, lo, hi, label):
    """The physical box lo..hi resampled onto the axis-aligned grid nearest ``vol``'s."""
    sitk = _sitk()
    P = _nearest_axes(vol.direction)
    ext = np.abs(P.T) @ (hi - lo)  # box extent along each index axis (mm)
    size = np.floor(ext / vol.spacing_mm + 1e-6).astype(int) + 1
    centre = 0.5 * (lo + hi)
    origin = centre - P @ (0.5 * (size - 1) * vol.spacing_mm)
    nearest = label if label is not None else vol.array.dtype.kind in "biu"
    arr = vol.array.astype(np.uint8) if vol.array.dtype == bool else vol.array
    img = to_sitk(vol.with_array(arr))
    a = np.asarray(vol.array)
    background = 0.0 if nearest else float(a.min())
    out = sitk.Resample(
        img,
        [int(s) for s in size],
        sitk.Transform(),
        sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear,
        origin.tolist(),
        vol.spacing_mm.tolist(),
        P.reshape(-1).tolist(),
        background,
        img.GetPixelID(),
    )
    res = from_sitk(
        out, vol.description + ", crop box resampled onto an axis-aligned grid", vol.modality
    )
    if vol.array.dtype == bool:
        res.array = res.array.astype(bool)
    return res


def crop_to_mask(vol: ImageVolume, mask: np.ndarray, margin_vox=3) -> ImageVolume:
    """Crop to the bounding box of ``mask`` (same grid) plus ``margin_vox`` voxels."""
    nz = np.argwhere(mask)
    if nz.size == 0:
        raise ValueError("crop_to_mask: empty mask")
    a = np.maximum(nz.min(0) - margin_vox, 0)
    b = np.minimum(nz.max(0) + margin_vox, np.array(vol.shape) - 1)
    return _sub_volume(vol, a, b)


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


def _legacy_vtk_dataset(path) -> str:
    """The DATASET keyword of a legacy VTK file (``"STRUCTURED_POINTS"``, ``"POLYDATA"``, ...),
    ``"XML:<type>"`` for a VTK XML file, or ``""`` when the header cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return ""
    if head.lstrip().startswith(b"<"):
        i = head.find(b'type="')
        return "XML:" + head[i + 6 :].split(b'"', 1)[0].decode("ascii", "replace") if i >= 0 else ""
    # legacy layout: version line, title line, ASCII|BINARY, then "DATASET <type>"
    for line in head.splitlines()[:12]:
        words = line.strip().split()
        if len(words) >= 2 and words[0].upper() == b"DATASET":
            return words[1].decode("ascii", "replace").upper()
    return ""


def is_image_file(path) -> bool:
    """Whether ``path`` is a 3-D image ``read_image`` reads (not a surface mesh).

    A folder (a DICOM series) and the image suffixes (.nii, .nii.gz, .mha, .mhd, .nrrd, .nhdr,
    .dcm, .ima) are images. A ``.vtk`` file is an image when its legacy header says
    ``DATASET STRUCTURED_POINTS`` (a regular grid, which SimpleITK reads) and a surface when it
    says ``POLYDATA``, ``UNSTRUCTURED_GRID`` or anything else; other suffixes are not images.

    Parameters
    ----------
    path : str or Path

    Examples
    --------
    >>> is_image_file("ct.nii.gz"), is_image_file("lumen.stl")
    (True, False)
    """
    p = Path(path)
    if p.is_dir():
        return True
    low = p.name.lower()
    if low.endswith(".vtk"):
        return _legacy_vtk_dataset(p) == "STRUCTURED_POINTS"
    return any(low.endswith(x) for x in _SUFFIXES)

