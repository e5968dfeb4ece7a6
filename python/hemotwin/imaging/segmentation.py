# SPDX-License-Identifier: Apache-2.0
"""Contrast-enhanced lumen segmentation with SimpleITK: seeds (mm) -> region growing -> level-set
refinement -> clean-up -> the component connected to the seeds; a no-seed vesselness mode; label maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .io import ImageVolume, mask_from_labels, to_sitk

__all__ = [
    "SegmentationError",
    "SegmentationResult",
    "apply_clip_planes",
    "dice",
    "parse_clip_plane",
    "segment_lumen",
    "vesselness_seeds",
]


class SegmentationError(ValueError):
    """The segmentation failed in a recognisable way (empty, leak); the message says what to try."""


@dataclass
class SegmentationResult:
    """Outcome of ``segment_lumen``.

    Attributes
    ----------
    mask : ImageVolume
        uint8 lumen mask on the input geometry.
    status : str
        ``"ok"``, ``"empty"`` (touches nothing), ``"leak"`` (fills much of the volume) or
        ``"pieces"`` (several disconnected components kept).
    message : str
        Human-readable diagnosis with what to try.
    thresholds : tuple of float
        (lower, upper) intensity window used for region growing.
    seeds_mm : list of ndarray
        Seeds used (given, or found by the vesselness mode).
    n_components : int
    stats : dict
    levelset : ImageVolume or None
        float32 level set on the same grid, negative inside, zero on the smooth lumen boundary.
    """

    mask: ImageVolume
    status: str
    message: str
    thresholds: tuple = (np.nan, np.nan)
    seeds_mm: list = field(default_factory=list)
    n_components: int = 1
    stats: dict = field(default_factory=dict)
    levelset: ImageVolume | None = None


def parse_clip_plane(text):
    """``"PX,PY,PZ,NX,NY,NZ"`` (mm, LPS) -> (point, unit normal)."""
    vals = (
        [float(v) for v in str(text).replace(" ", "").split(",") if v != ""]
        if isinstance(text, str)
        else [float(v) for v in text]
    )
    if len(vals) != 6:
        raise ValueError(f"clip plane {text!r}: need 6 numbers PX,PY,PZ,NX,NY,NZ (mm)")
    n = np.array(vals[3:])
    if np.linalg.norm(n) == 0:
        raise ValueError(f"clip plane {text!r}: zero normal")
    return np.array(vals[:3]), n / np.linalg.norm(n)


def _world_grid(vol: ImageVolume):
    idx = np.indices(vol.shape, dtype=np.float32).reshape(3, -1).T
    return vol.index_to_world(idx)


def apply_clip_planes(vol: ImageVolume, planes) -> np.ndarray:
    """Boolean array, True where a voxel centre is on the removed side of any clip plane.

    A plane (point, normal) removes everything on the side its normal points to.
    """
    removed = np.zeros(vol.shape, bool)
    if not planes:
        return removed
    world = _world_grid(vol)
    for pl in planes:
        p, n = parse_clip_plane(pl) if not isinstance(pl, tuple) or len(pl) != 2 else pl
        removed |= ((world - p) @ n >= 0).reshape(vol.shape)
    return removed


def dice(a, b) -> float:
    """Dice overlap of two binary arrays."""
    a = np.asarray(a) > 0
    b = np.asarray(b) > 0
    s = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / s) if s else 1.0


def _seed_index(vol, seeds_mm, name):
    idx = []
    for s in seeds_mm:
        ijk = np.rint(vol.world_to_index(np.asarray(s, float))).astype(int)
        if np.any(ijk < 0) or np.any(ijk >= np.array(vol.shape)):
            raise SegmentationError(
                f"{name}: seed {np.round(s, 2).tolist()} mm is outside the image (index "
                f"{ijk.tolist()}, size {list(vol.shape)}); seeds are physical LPS mm as SimpleITK reports"
            )
        idx.append(ijk)
    return idx


def _estimate_window(arr, seed_idx, modality):
    """Intensity window for region growing from the lumen around the seeds and the background."""
    vals = []
    for ijk in seed_idx:
        sl = tuple(slice(max(c - 2, 0), c + 3) for c in ijk)
        vals.append(arr[sl].ravel())
    v = np.concatenate(vals)
    lum = float(np.median(v))
    ct = modality == "CT" or float(np.percentile(arr, 1)) < -500
    if ct:
        # soft tissue ~ 40 HU; half-way between tissue and lumen is the partial-volume edge
        lower = max(0.5 * (lum + 40.0), 120.0)
        upper = lum + max(lum - 40.0, 250.0)
    else:
        bg = float(np.median(arr))
        lower = 0.5 * (lum + bg)
        upper = float(arr.max()) + 1.0
    return lower, upper, lum


def _check_finite(arr, name):
    """NaN/inf would turn every threshold into NaN (and the message into "window [nan, nan]")."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_bad = int(arr.size - np.count_nonzero(finite))
    raise SegmentationError(
        f"{name}: the image has {n_bad} of {arr.size} voxels that are not finite (NaN or inf); "
        "replace them with the background intensity (e.g. numpy.nan_to_num) or mask them "
        "before segmenting"
    )


def vesselness_seeds(vol: ImageVolume, sigmas_mm=None, lower=None):
    """No-seed mode: seeds inside the largest bright tubular structure (Hessian objectness).

    Parameters
    ----------
    vol : ImageVolume
    sigmas_mm : sequence of float, optional
        Hessian scales (mm); default scales up to ~1/4 of the image's smallest extent.
    lower : float, optional
        Only voxels brighter than this are candidates (default: CT 200 HU, else 75th percentile).

    Returns
    -------
    list of ndarray (3,)
        A few seed points (mm) in the largest tubular component.
    """
    import SimpleITK as sitk
    from scipy import ndimage

    img = sitk.Cast(to_sitk(vol), sitk.sitkFloat32)
    arr = vol.array
    ct = vol.modality == "CT" or float(np.percentile(arr, 1)) < -500
    if lower is None:
        lower = 200.0 if ct else float(np.percentile(arr, 97))
    upper = 800.0 if ct else np.inf
    h = float(vol.spacing_mm.min())
    if sigmas_mm is None:
        sigmas_mm = [2 * h, 4 * h, 8 * h]
    best = None
    for s in sigmas_mm:
        sm = sitk.SmoothingRecursiveGaussian(img, float(s))
        obj = sitk.ObjectnessMeasure(
            sm,
            objectDimension=1,
            brightObject=True,
            scaleObjectnessMeasure=True,
            alpha=0.5,
            beta=0.5,
            gamma=5.0,
        )
        a = np.transpose(sitk.GetArrayFromImage(obj), (2, 1, 0)) * (s * s)  # scale-normalised
        best = a if best is None else np.maximum(best, a)

    # partial-volume rims of bone lie in the lumen window too: drop voxels near very bright ones
    bright = ndimage.binary_dilation(arr >= upper, iterations=3) if np.isfinite(upper) else False
    cand = (best > 0.1 * best.max()) & (arr > lower) & (arr < upper) & ~bright
    lab, n = ndimage.label(cand, structure=np.ones((3, 3, 3)))
    if n == 0:
        raise SegmentationError(f"{vol.description}: no bright tubular structure found; give seeds")
    # largest by integrated vesselness: tubular *and* big
    score = ndimage.sum(best, lab, index=np.arange(1, n + 1))
    k = int(np.argmax(score)) + 1
    ijk = np.argwhere(lab == k)
    w = best[lab == k]
    picks = ijk[np.argsort(w)[::-1][: max(1, min(5, len(w)))]]
    return [vol.index_to_world(p) for p in picks]


def segment_lumen(
    vol: ImageVolume,
    seeds_mm=None,
    clip_planes=(),
    label_map: ImageVolume | None = None,
    label=None,
    lower=None,
    upper=None,
    refine="antialias",
    opening_mm=None,
    level_set_iterations=60,
    leak_fraction=0.25,
    split_touching=False,
    split_fraction=0.5,
    split_depth_mm=None,
    method="connected",
    name=None,
) -> SegmentationResult:
    """Segment the contrast-filled lumen.

    Parameters
    ----------
    vol : ImageVolume
        Angiography volume (CT in HU, or MR).
    seeds_mm : sequence of array (3,), optional
        Points inside the lumen, physical LPS mm as SimpleITK reports. None: vesselness mode.
    clip_planes : sequence
        ``"PX,PY,PZ,NX,NY,NZ"`` strings or (point, normal) pairs (mm); each removes everything on
        the side its normal points to, before region growing (so the growth cannot go round it).
    label_map : ImageVolume, optional
        Use an existing label map instead of intensities (with ``label``); clip planes and seed
        connectivity still apply.
    label : int, optional
        Label value in ``label_map`` (default: all non-zero).
    lower, upper : float, optional
        Region-growing window; default from the lumen intensity at the seeds.
    refine : {"antialias", "gac", "none"}
        Level-set refinement. ``"antialias"`` (default): ITK's anti-aliasing level set of the
        cleaned mask, a smooth sub-voxel boundary that never changes the voxel classification
        (returned as ``levelset``). ``"gac"``: geodesic active contour on the image edges started
        from the grown region (moves the boundary; can shrink thin vessels, use with care).
    opening_mm : float, optional
        Radius (mm) of the morphological opening that cuts thin leaks (default ~1 voxel).
    level_set_iterations : int
        Iterations of the level-set refinement.
    leak_fraction : float
        A mask larger than this fraction of the (unclipped) volume is reported as a leak.
    split_touching : bool
        Separate neighbours that touch the vessel over a broad contact (e.g. the right pulmonary
        artery behind the ascending aorta): marker watershed on the distance map; the cores
        (distance to the wall > ``split_fraction`` x the smallest seed depth) that hold no seed
        are other structures and their basins are removed. Put a seed in every part of the
        vessel thicker than the cut-off (e.g. both sides of a tight stenosis).
    split_fraction : float
        Core threshold as a fraction of the smallest distance-to-wall at the seeds.
    method : {"connected", "confidence"}
        Region growing: ``"connected"`` (fixed window ``lower``..``upper``, default from the
        seeds) or ``"confidence"`` (ITK confidence-connected finds the lumen core and its
        statistics, then connected threshold half-way between core and surroundings).
    split_depth_mm : float, optional
        Absolute core threshold (mm); overrides ``split_fraction``. Seeds deeper than this.
    name : str, optional
        Name of the input used in messages.

    Returns
    -------
    SegmentationResult
    """
    import SimpleITK as sitk
    from scipy import ndimage

    name = name or vol.description or "image"
    removed = apply_clip_planes(vol, list(clip_planes))
    arr = np.asarray(vol.array, np.float32)
    if label_map is None:
        _check_finite(arr, name)
    for nm, t in (("lower", lower), ("upper", upper)):
        if t is not None and not np.isfinite(t):
            raise SegmentationError(f"{name}: threshold {nm} = {t}: need a finite intensity")
    if lower is not None and upper is not None and not lower < upper:
        raise SegmentationError(
            f"{name}: threshold window lower = {lower} .. upper = {upper} is empty; "
            "need lower < upper"
        )
    if seeds_mm is None or len(seeds_mm) == 0:
        if label_map is not None:
            seeds_mm = []
        else:
            masked = vol.with_array(np.where(removed, np.float32(arr.min()), arr))
            seeds_mm = vesselness_seeds(masked)
    seed_idx = _seed_index(vol, seeds_mm, name) if len(seeds_mm) else []
    stats = {}
    if label_map is not None:
        if label_map.shape != vol.shape:
            raise SegmentationError(
                f"{name}: label map size {label_map.shape} != image {vol.shape}"
            )
        try:
            grown = mask_from_labels(label_map, label).array.astype(bool) & ~removed
        except ValueError as exc:
            raise SegmentationError(f"{name}: {exc}{_intensity_hint(label_map)}") from None
        lo_t = hi_t = np.nan
    else:
        lo_t, hi_t, lum = _estimate_window(arr, seed_idx, vol.modality)
        lo_t = lower if lower is not None else lo_t
        hi_t = upper if upper is not None else hi_t
        stats["lumen_intensity_at_seeds"] = lum
        work = np.where(removed, np.float32(lo_t - 1e4), arr)
        img = to_sitk(vol.with_array(work))
        seeds_itk = [
            tuple(int(c) for c in ijk) for ijk in seed_idx if lo_t <= work[tuple(ijk)] <= hi_t
        ]
        if not seeds_itk:
            vals = [float(arr[tuple(i)]) for i in seed_idx]
            cut = [
                np.round(np.asarray(s, float), 1).tolist()
                for s, i in zip(seeds_mm, seed_idx)
                if removed[tuple(i)]
            ]
            why = (
                f"seed(s) {cut} mm lie on the removed side of a clip plane; move them to the "
                "kept side"
                if cut
                else "move the seeds into the contrast-filled lumen or widen the window "
                "(--lower/--upper, segmentation.lower_hu/upper_hu)"
            )
            return SegmentationResult(
                vol.with_array(np.zeros(vol.shape, np.uint8)),
                "empty",
                f"{name}: segmentation touches nothing: no seed lies in the lumen window "
                f"[{lo_t:.0f}, {hi_t:.0f}] (intensities at seeds {np.round(vals, 1).tolist()}); "
                + why,
                (lo_t, hi_t),
                list(seeds_mm),
                0,
                stats,
            )
        if method == "confidence":
            # ITK confidence-connected (window mean +- 2.5 sd of the region, 3 iterations) finds
            # the lumen core and its statistics without a user window; the boundary is then
            # put half-way between the core and its surroundings (the partial-volume edge),
            # which confidence-connected alone misses (it stops inside the blurred rim)
            core_img = sitk.ConfidenceConnected(
                sitk.Cast(img, sitk.sitkFloat32),
                seedList=seeds_itk,
                numberOfIterations=3,
                multiplier=2.5,
                initialNeighborhoodRadius=1,
                replaceValue=1,
            )
            core = np.transpose(sitk.GetArrayFromImage(core_img), (2, 1, 0)) > 0
            shell = ndimage.binary_dilation(core, iterations=3) & ~ndimage.binary_dilation(core)
            lum_c = float(np.mean(arr[core]))
            bg_c = float(np.median(arr[shell & ~removed])) if (shell & ~removed).any() else lo_t
            sd_c = float(np.std(arr[core]))
            lo_t = lower if lower is not None else 0.5 * (lum_c + bg_c)
            hi_t = upper if upper is not None else lum_c + max(4.0 * sd_c, 0.5 * (lum_c - bg_c))
            stats["lumen_mean_confidence"] = lum_c
            grown_img = sitk.ConnectedThreshold(
                img, seedList=seeds_itk, lower=float(lo_t), upper=float(hi_t)
            )
        elif method == "connected":
            grown_img = sitk.ConnectedThreshold(
                img, seedList=seeds_itk, lower=float(lo_t), upper=float(hi_t)
            )
        else:
            raise ValueError(f"method must be 'connected' or 'confidence', got {method!r}")
        grown = np.transpose(sitk.GetArrayFromImage(grown_img), (2, 1, 0)) > 0
    vox = float(np.prod(vol.spacing_mm))
    # hole filling: calcium, catheters and noise give holes inside the lumen
    m = ndimage.binary_fill_holes(grown)
    # opening cuts thin bridges to neighbours touching the vessel (veins, bone, heart)
    r_open = opening_mm if opening_mm is not None else 1.0 * float(vol.spacing_mm.min())
    rad = np.maximum(np.rint(r_open / vol.spacing_mm).astype(int), 0)
    full = m
    st = None
    if rad.any() and label_map is None:
        st = _ellipsoid(rad)
        opened = ndimage.binary_opening(m, structure=st)
        # opening must not delete a thin vessel entirely: keep it only where it kept the seeds
        if not seed_idx or all(opened[tuple(i)] for i in seed_idx if m[tuple(i)]):
            m = opened
    if split_touching and seed_idx and m.any():
        m = _split_touching(vol, m, seed_idx, split_fraction, split_depth_mm)
        full = full & m if st is not None else m
    if refine not in ("antialias", "gac", "none", False, True, None):
        raise ValueError(f"refine must be 'antialias', 'gac' or 'none', got {refine!r}")
    if refine == "gac" and label_map is None and m.any():
        m = _refine_gac(vol, arr, m, level_set_iterations) & ~removed
        m = ndimage.binary_fill_holes(m)
        full = m
    # component(s) connected to the seeds
    lab, n = ndimage.label(m, structure=np.ones((3, 3, 3)))
    if seed_idx:
        keep = sorted({int(lab[tuple(i)]) for i in seed_idx} - {0})
        if not keep:
            # the seed fell on a removed voxel after opening/refinement: nearest component
            keep = [int(np.argmax(ndimage.sum(m, lab, range(1, n + 1)))) + 1] if n else []
    else:
        sizes = ndimage.sum(m, lab, range(1, n + 1)) if n else []
        keep = [int(np.argmax(sizes)) + 1] if n else []
    m = np.isin(lab, keep) if keep else np.zeros_like(m)
    if st is not None and m.any():
        # give back the surface voxels the opening shaved off, but not the cut bridges
        m = full & ndimage.binary_dilation(m, structure=st) & ~removed
    n_vox = int(m.sum())
    stats.update(
        {
            "n_voxels": n_vox,
            "volume_ml": n_vox * vox / 1000.0,
            "fraction_of_volume": n_vox / float(m.size),
        }
    )
    out = vol.with_array(m.astype(np.uint8), vol.description + ", lumen mask")
    levelset = None
    if m.any() and refine not in ("none", False, None):
        levelset = _antialias_levelset(out)
    status, msg = "ok", f"{name}: lumen {n_vox} voxels ({n_vox * vox / 1000.0:.1f} mL)"
    if n_vox < 27:
        status, msg = "empty", _empty_message(name, n_vox, label_map, label, refine)
    elif n_vox > leak_fraction * float((~removed).sum()):
        status, msg = (
            "leak",
            (
                f"{name}: segmentation leaks into the whole volume ({100 * n_vox / m.size:.0f} % of it); "
                "add a clip plane between the vessel and the structure it leaks into (e.g. at the "
                "aortic valve), crop to a region of interest, or raise the lower threshold "
                f"(now {lo_t:.0f})"
            ),
        )
    elif len(keep) > 1:
        status, msg = (
            "pieces",
            (
                f"{name}: the seeds lie in {len(keep)} disconnected pieces; lower the threshold, "
                "reduce the opening, or remove the seed in the wrong structure"
            ),
        )
    return SegmentationResult(
        out,
        status,
        msg,
        (float(lo_t), float(hi_t)),
        list(seeds_mm),
        max(len(keep), 0),
        stats,
        levelset,
    )


def _intensity_hint(label_map):
    """A label map holds a few integer labels; non-integer values mean an intensity image."""
    arr = np.asarray(label_map.array)
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.rint(arr)):
        return (
            "; the file has non-integer values, so it looks like an intensity image, not a "
            "label map: drop --label (in a case file: segmentation.method = 'seeded') to "
            "segment it by intensity"
        )
    return ""


def _empty_message(name, n_vox, label_map, label, refine):
    """Why a (nearly) empty mask, with what to change in the user's own terms (CLI / case)."""
    if label_map is not None:
        lab = "every non-zero label" if label is None else f"label {label}"
        hint = _intensity_hint(label_map) or (
            "; check the label value (--label N, segmentation.label)"
        )
        return (
            f"{name}: segmentation touches nothing: {lab} gives {n_vox} voxels connected to "
            f"the seeds{hint}"
        )
    gac = (
        ", or use the default refinement (--refine antialias; 'gac' can shrink thin vessels)"
        if refine == "gac"
        else ""
    )
    return (
        f"{name}: segmentation touches nothing ({n_vox} voxels); check the seeds are inside "
        f"the lumen or lower the threshold (--lower, segmentation.lower_hu){gac}"
    )


def _antialias_levelset(mask: ImageVolume) -> ImageVolume:
    """Smooth level set (negative inside, zero on a sub-voxel lumen boundary) of a binary mask,
    by ITK's AntiAliasBinaryImageFilter (Whitaker 1998), which keeps every voxel's side."""
    import SimpleITK as sitk

    img = to_sitk(mask.with_array(mask.array.astype(np.uint8)))
    aa = sitk.AntiAliasBinary(img, 0.07, 30)
    ls = -np.transpose(sitk.GetArrayFromImage(aa), (2, 1, 0)).astype(np.float32)
    return mask.with_array(ls, mask.description + ", anti-aliased level set (negative inside)")


def _split_touching(vol, m, seed_idx, fraction, depth_mm=None):
    """Keep the watershed basins (on the distance map) of the cores that contain seeds."""
    import SimpleITK as sitk
    from scipy import ndimage

    D = ndimage.distance_transform_edt(m, sampling=vol.spacing_mm).astype(np.float32)
    depth = [float(D[tuple(i)]) for i in seed_idx if m[tuple(i)]]
    if not depth:
        return m
    t = fraction * min(depth) if depth_mm is None else float(depth_mm)
    lab, n = ndimage.label(D > t, structure=np.ones((3, 3, 3)))
    own = {int(lab[tuple(i)]) for i in seed_idx} - {0}
    if n <= len(own):
        return m
    # only cores clearly thicker than the cut-off mark other structures: thin seedless cores
    # are pieces of the vessel itself (a narrow true lumen, a stenosis) and flood from the seeds
    depth_max = ndimage.maximum(D, lab, index=np.arange(1, n + 1))
    foreign = [k + 1 for k in range(n) if k + 1 not in own and depth_max[k] >= 2.0 * t]
    if not foreign:
        return m
    markers = np.where(np.isin(lab, list(own)), 1, np.where(np.isin(lab, foreign), 2, 0)).astype(
        np.uint8
    )
    ws = sitk.MorphologicalWatershedFromMarkers(
        to_sitk(vol.with_array(-D)),
        to_sitk(vol.with_array(markers)),
        markWatershedLine=False,
        fullyConnected=True,
    )
    basin = np.transpose(sitk.GetArrayFromImage(ws), (2, 1, 0)) == 1
    return m & basin


def _ellipsoid(rad):
    r = np.maximum(rad, 0)
    g = np.mgrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1, -r[2] : r[2] + 1].astype(float)
    d = sum((g[a] / max(r[a], 0.5)) ** 2 for a in range(3))
    return d <= 1.0


def _refine_gac(vol, arr, m, iterations):
    """Geodesic active contour from the grown region, on a bounding box around it (speed)."""
    import SimpleITK as sitk
    from scipy import ndimage

    nz = np.argwhere(m)
    a = np.maximum(nz.min(0) - 4, 0)
    b = np.minimum(nz.max(0) + 5, np.array(m.shape))
    sl = tuple(slice(a[i], b[i]) for i in range(3))
    sub = vol.with_array(np.ascontiguousarray(arr[sl], np.float32))
    sub.origin_mm = vol.index_to_world(a)
    img = to_sitk(sub)
    h = float(vol.spacing_mm.min())
    sm = sitk.CurvatureAnisotropicDiffusion(
        img, timeStep=0.0625 * h, conductanceParameter=3.0, numberOfIterations=5
    )
    grad = sitk.GradientMagnitudeRecursiveGaussian(sm, sigma=0.7 * h)
    g = np.transpose(sitk.GetArrayFromImage(grad), (2, 1, 0))
    # edge strength: median gradient on the boundary band of the grown region
    msub = m[sl]
    band = msub & ~ndimage.binary_erosion(msub)
    k = float(np.median(g[band])) if band.any() else float(g.max())
    # speed ~1 in flat regions, ~0 on the lumen edge
    speed = sitk.Sigmoid(grad, alpha=-k / 8.0, beta=k / 2.0, outputMaximum=1.0, outputMinimum=0.0)
    init = to_sitk(sub.with_array(np.ascontiguousarray(m[sl], np.uint8)))
    # signed distance, negative inside, zero half-way between inside and outside voxel centres
    ls = sitk.SignedMaurerDistanceMap(
        init, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    ls = sitk.Cast(ls, sitk.sitkFloat32) - 0.5 * h
    gac = sitk.GeodesicActiveContourLevelSetImageFilter()
    gac.SetPropagationScaling(0.0)
    gac.SetCurvatureScaling(0.5)
    gac.SetAdvectionScaling(1.0)
    gac.SetMaximumRMSError(0.005)
    gac.SetNumberOfIterations(int(iterations))
    out = gac.Execute(ls, sitk.Cast(speed, sitk.sitkFloat32))
    res = np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0)) < 0
    full = np.zeros_like(m)
    full[sl] = res
    # the refinement may only move the boundary locally, never jump into new structures
    near = ndimage.binary_dilation(m, iterations=2)
    return full & near
