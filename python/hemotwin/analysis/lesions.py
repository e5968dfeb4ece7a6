# SPDX-License-Identifier: Apache-2.0
"""Automatic lesion detection on a centerline lumen-diameter profile, with QCA definitions:
minimal lumen diameter (MLD), proximal/distal reference diameters, reference vessel diameter (RVD),
% diameter stenosis = (1 - MLD/RVD) * 100, lesion length shoulder to shoulder.

Arclengths and diameters in mm. See docs/metrics.md for the algorithm and its sources.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Lesion", "detect_lesions", "reference_profile", "centerline_paths", "lesions_from_centerline"]

REFERENCE_METHODS = ("interpolated", "average", "distal", "proximal")


@dataclass
class Lesion:
    """A focal narrowing of the lumen along one centerline branch.

    Attributes
    ----------
    position_mm : float
        Arclength of the minimal lumen diameter (mm).
    mld_mm : float
        Minimal lumen diameter (mm).
    proximal_reference_mm, distal_reference_mm : float
        Mean diameter of the reference segments just proximal / distal of the lesion (mm).
    rvd_mm : float
        Reference vessel diameter used for %DS (mm), per ``reference_method``.
    percent_diameter_stenosis : float
        (1 - MLD/RVD) * 100.
    percent_area_stenosis : float
        (1 - (MLD/RVD)^2) * 100 (circular cross-sections).
    length_mm : float
        ``end_mm - start_mm``, shoulder to shoulder (mm).
    start_mm, end_mm : float
        Arclength of the proximal and distal shoulders (mm).
    reference_method : str
        "interpolated" (RVD interpolated between the reference segments at the MLD, QCA %DS2),
        "average" (mean of the two, %DS1), "distal" or "proximal".
    branch_id : int or None
        Centerline branch of the MLD, where known.
    path_port : str or None
        Outlet at the end of the inlet-to-outlet centerline path the positions refer to.
    """

    position_mm: float
    mld_mm: float
    proximal_reference_mm: float
    distal_reference_mm: float
    rvd_mm: float
    percent_diameter_stenosis: float
    percent_area_stenosis: float
    length_mm: float
    start_mm: float
    end_mm: float
    reference_method: str = "interpolated"
    branch_id: int | None = None
    path_port: str | None = None

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in asdict(self).items()}


def _uniform(arclength_mm, diameter_mm):
    s = np.asarray(arclength_mm, float).ravel()
    d = np.asarray(diameter_mm, float).ravel()
    if s.shape != d.shape:
        raise ValueError(f"arclength_mm and diameter_mm differ in length: {s.size} vs {d.size}")
    ok = np.isfinite(s) & np.isfinite(d) & (d > 0)
    s, d = s[ok], d[ok]
    if s.size < 5:
        raise ValueError(f"need at least 5 valid profile samples, got {s.size}")
    order = np.argsort(s, kind="stable")
    s, d = s[order], d[order]
    step = float(np.median(np.diff(s)))
    if not step > 0:
        raise ValueError("arclength_mm must increase along the centerline")
    su = np.arange(s[0], s[-1] + 0.5 * step, step)
    return su, np.interp(su, s, d), step


def reference_profile(arclength_mm, diameter_mm, *, window_mm=None, smoothing_mm=None,
                      healthy_percent=None):
    """Healthy-vessel reference diameter along a profile.

    First a grey closing (max filter then min filter) over ``window_mm``, which fills every
    narrowing shorter than the window while keeping monotonic tapering; then, because the max
    filter rides on noise peaks, twice: the samples narrowed by less than ``healthy_percent``
    (default: 3 robust standard deviations of the narrowing, at least 4 %) are called healthy and
    the reference is their Gaussian-weighted mean (sigma a quarter window) -- an unbiased trend
    that bridges the lesions. Returns ``(s_mm, diameter_smoothed_mm, reference_mm)`` on a uniform
    grid.
    """
    s, d, step = _uniform(arclength_mm, diameter_mm)
    med = float(np.median(d))
    if smoothing_mm is None:
        smoothing_mm = min(0.1 * med, 0.5)
    if window_mm is None:
        window_mm = float(np.clip(8.0 * med, 15.0, 60.0))
    ds = ndimage.gaussian_filter1d(d, smoothing_mm / step, mode="nearest") if smoothing_mm > 0 else d
    n = max(3, int(round(window_mm / step)) | 1)
    ref = ndimage.grey_closing(ds, size=n, mode="nearest")
    sigma = 0.25 * window_mm / step
    for _ in range(2):
        narrow = 1.0 - ds / ref
        if healthy_percent is None:
            dev = narrow - np.median(narrow)
            lim = max(3.0 * 1.4826 * float(np.median(np.abs(dev))), 0.04)
        else:
            lim = healthy_percent / 100.0
        healthy = (narrow < lim).astype(float)
        num = ndimage.gaussian_filter1d(ds * healthy, sigma, mode="nearest")
        den = ndimage.gaussian_filter1d(healthy, sigma, mode="nearest")
        ref = np.where(den > 1e-3, num / np.maximum(den, 1e-300), ref)
    return s, ds, np.maximum(ref, ds)


def _segment_mean(s, d, a, b):
    sel = (s >= a) & (s <= b)
    return float(np.mean(d[sel])) if sel.any() else float("nan")


def detect_lesions(arclength_mm, diameter_mm, *, min_stenosis_percent: float = 25.0,
                   reference_method: str = "interpolated", window_mm: float | None = None,
                   smoothing_mm: float | None = None, reference_segment_mm: float | None = None,
                   shoulder_fraction: float = 0.1, min_length_mm: float = 0.0,
                   branch_id: int | None = None) -> list:
    """Find focal stenoses on a centerline diameter profile.

    Algorithm (docs/metrics.md): (1) light Gaussian smoothing; (2) a reference profile by
    morphological closing over ``window_mm`` (fills narrowings shorter than the window, keeps
    tapering); (3) candidate lesions where the narrowing 1 - d/ref reaches
    ``min_stenosis_percent``; (4) shoulders: from the MLD outwards until the narrowing falls below
    ``shoulder_fraction`` of its peak (or the noise floor) and then while it keeps decreasing;
    (5) reference segments of ``reference_segment_mm`` just outside each shoulder give the
    proximal and distal reference diameters, and RVD per ``reference_method``; (6) %DS is
    recomputed from MLD and RVD and lesions below the threshold are dropped, as are narrowings
    that do not recover on both sides (MLD within half the threshold of the smaller reference: a
    step into a smaller branch, not a lesion -- so an ostial lesion right at a branch origin is
    missed).

    Parameters
    ----------
    arclength_mm : (n,) array
        Arclength along the centerline (mm), increasing from proximal (inlet) to distal.
    diameter_mm : (n,) array
        Lumen diameter (mm), e.g. twice the centerline's ``equivalent_radius_mm``.
    min_stenosis_percent : float
        Smallest %DS reported.
    reference_method : {"interpolated", "average", "distal", "proximal"}
        How the RVD is formed from the proximal and distal references (QCA %DS2 / %DS1).
    window_mm : float, optional
        Closing window: longer than any lesion to detect; default 8 median diameters within
        15-60 mm.
    smoothing_mm : float, optional
        Gaussian sigma (mm); default min(0.1 median diameter, 0.5 mm).
    reference_segment_mm : float, optional
        Length of each reference segment; default one median diameter within 2-10 mm.
    shoulder_fraction : float
        Fraction of the peak narrowing at which the shoulder search starts.
    min_length_mm : float
        Drop lesions shorter than this.
    branch_id : int, optional
        Stored on the lesions.

    Returns
    -------
    list of Lesion, ordered by position.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.linspace(0, 60, 601)
    >>> d = 3.0 - 0.01 * s
    >>> d = d * (1 - 0.5 * 0.5 * (1 + np.cos(np.pi * np.clip((s - 30) / 5, -1, 1))))
    >>> [round(x.percent_diameter_stenosis) for x in detect_lesions(s, d)]
    [50]
    """
    if reference_method not in REFERENCE_METHODS:
        raise ValueError(f"reference_method must be one of {REFERENCE_METHODS}, got {reference_method!r}")
    s, ds, ref = reference_profile(arclength_mm, diameter_mm, window_mm=window_mm,
                                   smoothing_mm=smoothing_mm)
    med = float(np.median(ds))
    if reference_segment_mm is None:
        reference_segment_mm = float(np.clip(med, 2.0, 10.0))
    narrow = 1.0 - ds / ref
    thr = min_stenosis_percent / 100.0
    quiet = narrow[narrow < 0.5 * thr]
    noise = 1.4826 * float(np.median(np.abs(quiet - np.median(quiet)))) if quiet.size > 5 else 0.0
    labels, n_lab = ndimage.label(narrow >= thr)
    found = []
    for lab in range(1, n_lab + 1):
        idx = np.nonzero(labels == lab)[0]
        i0 = int(idx[np.argmax(narrow[idx])])
        peak = narrow[i0]
        floor = max(shoulder_fraction * peak, 2.0 * noise)
        lo = i0
        while lo > 0 and narrow[lo - 1] >= floor:
            lo -= 1
        while lo > 0 and narrow[lo - 1] < narrow[lo]:
            lo -= 1
        hi = i0
        while hi < len(s) - 1 and narrow[hi + 1] >= floor:
            hi += 1
        while hi < len(s) - 1 and narrow[hi + 1] < narrow[hi]:
            hi += 1
        found.append([lo, hi])
    # overlapping spans (two dips sharing a shoulder) form one lesion
    found.sort()
    merged = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    lesions = []
    for lo, hi in merged:
        a, b = float(s[lo]), float(s[hi])
        k = lo + int(np.argmin(ds[lo:hi + 1]))
        mld = float(ds[k])
        prox = _segment_mean(s, ds, a - reference_segment_mm, a)
        dist = _segment_mean(s, ds, b, b + reference_segment_mm)
        if not np.isfinite(prox):
            prox = float(ref[lo])
        if not np.isfinite(dist):
            dist = float(ref[hi])
        if reference_method == "average":
            rvd = 0.5 * (prox + dist)
        elif reference_method == "distal":
            rvd = dist
        elif reference_method == "proximal":
            rvd = prox
        else:
            sp = max(a - 0.5 * reference_segment_mm, float(s[0]))
            sd = min(b + 0.5 * reference_segment_mm, float(s[-1]))
            f = (s[k] - sp) / (sd - sp) if sd > sp else 0.5
            rvd = prox + f * (dist - prox)
        pds = 100.0 * (1.0 - mld / rvd)
        if pds < min_stenosis_percent or (b - a) < min_length_mm:
            continue
        # a narrowing must recover on both sides: a step down into a smaller branch (or a taper
        # to the end of the profile) is not a lesion
        if 100.0 * (1.0 - mld / min(prox, dist)) < 0.5 * min_stenosis_percent:
            continue
        lesions.append(Lesion(
            position_mm=float(s[k]), mld_mm=mld, proximal_reference_mm=prox, distal_reference_mm=dist,
            rvd_mm=float(rvd), percent_diameter_stenosis=float(pds),
            percent_area_stenosis=float(100.0 * (1.0 - (mld / rvd) ** 2)), length_mm=b - a,
            start_mm=a, end_mm=b, reference_method=reference_method, branch_id=branch_id))
    return lesions


def centerline_paths(centerline) -> dict:
    """Root-to-outlet paths of a centerline tree, as point indices (inlet first).

    Uses the field arrays ``branch_parent`` and ``branch_port`` and the point array ``branch_id``
    of ``geometry.centerlines.compute_centerlines``; the junction point a child branch repeats
    from its parent is dropped. A centerline without them is one path, ``{"path": all points}``.
    """
    n = centerline.n_points
    if "branch_id" not in centerline.point_data or "branch_parent" not in centerline.field_data:
        return {"path": np.arange(n)}
    bid = np.asarray(centerline.point_data["branch_id"], int)
    parents = [int(x) for x in np.asarray(centerline.field_data["branch_parent"]).ravel()]
    ports = ([str(x) for x in np.asarray(centerline.field_data["branch_port"]).ravel()]
             if "branch_port" in centerline.field_data else ["-"] * len(parents))
    children = {b: [c for c, p in enumerate(parents) if p == b] for b in range(len(parents))}
    pts = np.asarray(centerline.points, float)
    out = {}
    for leaf in [b for b in range(len(parents)) if not children[b]]:
        chain, b = [], leaf
        while b >= 0:
            chain.append(b)
            b = parents[b]
        idx = []
        for b in reversed(chain):
            ib = np.nonzero(bid == b)[0]
            if idx and len(ib) and np.linalg.norm(pts[ib[0]] - pts[idx[-1]]) < 1e-6:
                ib = ib[1:]
            idx.extend(ib.tolist())
        name = ports[leaf] if ports[leaf] not in ("", "-") else f"branch_{leaf}"
        out[name] = np.asarray(idx, int)
    return out


def lesions_from_centerline(centerline, *, radius_array: str | None = None, **kwargs) -> list:
    """Run ``detect_lesions`` along every inlet-to-outlet path of a centerline PolyData (mm).

    Uses the point array ``equivalent_radius_mm`` (else ``radius_mm``, or ``radius_array``).
    Positions are arclengths from the inlet along the path (equal to ``abscissa_mm``). A lesion
    on a trunk shared by several paths is reported once; each lesion records the ``branch_id``
    at its MLD and ``path_port``, the outlet its path leads to (``centerline_paths``).
    """
    names = [radius_array] if radius_array else ["equivalent_radius_mm", "radius_mm"]
    arr = next((n for n in names if n and n in centerline.point_data), None)
    if arr is None:
        raise KeyError(f"centerline has none of the radius arrays {names}; it has "
                       f"{list(centerline.point_data.keys())}")
    radius = np.asarray(centerline.point_data[arr], float)
    pts = np.asarray(centerline.points, float)
    bid = (np.asarray(centerline.point_data["branch_id"], int) if "branch_id" in centerline.point_data
           else np.zeros(len(pts), int))
    out = []
    for port, idx in sorted(centerline_paths(centerline).items(), key=lambda kv: -len(kv[1])):
        if idx.size < 5:
            continue
        p = pts[idx]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        for les in detect_lesions(s, 2.0 * radius[idx], **kwargs):
            k = idx[np.argmin(np.abs(s - les.position_mm))]
            les.branch_id = int(bid[k])
            les.path_port = port
            if any(o.branch_id == les.branch_id and abs(o.position_mm - les.position_mm) < 1.0
                   for o in out):
                continue
            out.append(les)
    return out
