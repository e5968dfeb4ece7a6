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

__all__ = ["Lesion", "detect_lesions", "reference_profile", "centerline_paths", "path_profile",
           "side_branch_ostia", "lesions_from_centerline"]

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
    ostial : bool
        The narrowing starts at a side branch's ostium: it has no proximal reference segment,
        ``start_mm`` is the ostium and the RVD is the distal reference (QCA practice).
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
    ostial: bool = False

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
                      healthy_percent=None, open_start=False):
    """Healthy-vessel reference diameter along a profile.

    First a grey closing (max filter then min filter) over ``window_mm``, which fills every
    narrowing shorter than the window while keeping monotonic tapering; then, because the max
    filter rides on noise peaks, twice: the samples narrowed by less than ``healthy_percent``
    (default: 3 robust standard deviations of the narrowing, at least 4 %) are called healthy and
    the reference is their Gaussian-weighted mean (sigma a quarter window) -- an unbiased trend
    that bridges the lesions. ``open_start``: the profile starts at a branch ostium, so a
    narrowing may touch its first sample; the closing then sees the start padded with the widest
    diameter of the first window instead of the first sample repeated (which would hide it).
    Returns ``(s_mm, diameter_smoothed_mm, reference_mm)`` on a uniform grid.
    """
    s, d, step = _uniform(arclength_mm, diameter_mm)
    med = float(np.median(d))
    if smoothing_mm is None:
        smoothing_mm = min(0.1 * med, 0.5)
    if window_mm is None:
        window_mm = float(np.clip(8.0 * med, 15.0, 60.0))
    ds = ndimage.gaussian_filter1d(d, smoothing_mm / step, mode="nearest") if smoothing_mm > 0 else d
    n = max(3, int(round(window_mm / step)) | 1)
    if open_start:
        pad = np.full(n, float(np.max(ds[:n])))
        ref = ndimage.grey_closing(np.r_[pad, ds], size=n, mode="nearest")[n:]
    else:
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
                   branch_id: int | None = None, ostial_start: bool = False) -> list:
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
    missed unless the profile starts at the ostium, see ``ostial_start``).

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
    ostial_start : bool
        The profile starts at a side branch's ostium (``side_branch_ostia``): a narrowing that
        reaches the first sample is an ostial lesion, starting there and referenced to its
        distal segment only (it has no proximal one).

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
                                   smoothing_mm=smoothing_mm, open_start=ostial_start)
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
        # ostial: the narrowing reaches the ostium itself, not just its shoulder
        ostial = bool(ostial_start and lo == 0 and narrow[0] >= 0.5 * thr)
        prox = _segment_mean(s, ds, a - reference_segment_mm, a) if not ostial else float("nan")
        dist = _segment_mean(s, ds, b, b + reference_segment_mm)
        if not np.isfinite(dist):
            dist = float(ref[hi])
        if ostial:
            prox = dist  # no proximal segment: the distal reference stands for both (QCA)
        elif not np.isfinite(prox):
            prox = float(ref[lo])
        if ostial:
            rvd = dist
        elif reference_method == "average":
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
            start_mm=a, end_mm=b, reference_method="distal" if ostial else reference_method,
            branch_id=branch_id, ostial=ostial))
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


def side_branch_ostia(centerline, *, ratio: float = 0.75) -> dict:
    """Side branches of a centerline tree and the point index of each one's ostium.

    A branch's ostium is its first point whose inscribed sphere (``radius_mm``) clears the
    inscribed spheres of every other branch but its own descendants -- the lumen it leaves --
    so the junction's funnel, where a section still cuts through the parent, is not measured as
    the branch, and a path that runs on inside a wide lumen beside another one before it turns
    off (shortest paths need not merge there) is not cut short. It is a side branch when its
    median inscribed radius beyond the ostium is below ``ratio`` times its parent's median: a
    vessel leaving a wider one, not the same vessel going on past a junction. A branch that
    never clears is left out. Returns ``{branch_id: point index}``; empty without
    ``branch_id``/``branch_parent``/``radius_mm``.
    """
    if ("branch_id" not in centerline.point_data or "branch_parent" not in centerline.field_data
            or "radius_mm" not in centerline.point_data):
        return {}
    bid = np.asarray(centerline.point_data["branch_id"], int)
    r_in = np.asarray(centerline.point_data["radius_mm"], float)
    pts = np.asarray(centerline.points, float)
    parents = [int(x) for x in np.asarray(centerline.field_data["branch_parent"]).ravel()]

    def lineage(b):  # b and its descendants
        out, todo = {b}, [b]
        while todo:
            c = todo.pop()
            kids = [k for k, p in enumerate(parents) if p == c and k not in out]
            out.update(kids)
            todo.extend(kids)
        return out

    ostia = {}
    for b, p in enumerate(parents):
        ib, ip = np.nonzero(bid == b)[0], np.nonzero(bid == p)[0] if p >= 0 else np.array([], int)
        if p < 0 or len(ib) < 4 or not len(ip):
            continue
        others = ~np.isin(bid, list(lineage(b)))
        q, rq = pts[others], r_in[others]
        k0 = next((k for k in ib if np.min(np.linalg.norm(q - pts[k], axis=1) - rq) > r_in[k]),
                  None)
        if k0 is None:
            continue
        beyond = ib[ib >= k0]
        if len(beyond) >= 2 and np.median(r_in[beyond]) < ratio * np.median(r_in[ip]):
            ostia[b] = int(k0)
    return ostia


def _point_diameters(centerline, radius_array=None):
    names = [radius_array] if radius_array else ["equivalent_radius_mm", "radius_mm"]
    arr = next((n for n in names if n and n in centerline.point_data), None)
    if arr is None:
        raise KeyError(f"centerline has none of the radius arrays {names}; it has "
                       f"{list(centerline.point_data.keys())}")
    r = np.asarray(centerline.point_data[arr], float)
    if not radius_array and arr == "equivalent_radius_mm" and "radius_mm" in centerline.point_data:
        # a section that could not be measured falls back to the inscribed radius
        r_in = np.asarray(centerline.point_data["radius_mm"], float)
        r = np.where(np.isfinite(r) & (r > 0), r, r_in)
    return 2.0 * r


def path_profile(centerline, port, *, radius_array: str | None = None, paths: dict | None = None):
    """Along the inlet-to-outlet path to ``port`` (``centerline_paths``): the point indices, the
    points (mm), the arclength from the inlet (mm) and the lumen diameter (mm; from
    ``equivalent_radius_mm``, falling back per point to ``radius_mm``, or from ``radius_array``).
    """
    idx = (paths if paths is not None else centerline_paths(centerline))[port]
    p = np.asarray(centerline.points, float)[idx]
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    return idx, p, s, _point_diameters(centerline, radius_array)[idx]


def lesions_from_centerline(centerline, *, radius_array: str | None = None, first_port: str | None = None,
                            ports=None, **kwargs) -> list:
    """Run ``detect_lesions`` along every inlet-to-outlet path of a centerline PolyData (mm).

    Uses the point array ``equivalent_radius_mm`` (else ``radius_mm``, or ``radius_array``).
    Positions are arclengths from the inlet along the path (equal to ``abscissa_mm``). A lesion
    on a trunk shared by several paths is reported once, from the first path that holds it
    (``first_port``'s, then the longest); each lesion records the ``branch_id`` at its MLD and
    ``path_port``, the outlet its path leads to (``centerline_paths``). ``ports`` limits the
    search to the paths to those outlets. A lesion in a side branch (``side_branch_ostia``) is
    measured on the profile from that branch's ostium on, so the wider parent neither inflates
    its reference diameter nor lengthens it; one reaching the ostium is reported as ostial.
    """
    _point_diameters(centerline, radius_array)  # a missing radius array fails here, once
    bid = (np.asarray(centerline.point_data["branch_id"], int) if "branch_id" in centerline.point_data
           else np.zeros(centerline.n_points, int))
    paths = centerline_paths(centerline)
    if ports is not None:
        unknown = sorted(set(ports) - set(paths))
        if unknown:
            raise KeyError(f"no centerline path to {unknown}; paths lead to {sorted(paths)}")
        paths = {k: v for k, v in paths.items() if k in set(ports)}
    ostia = side_branch_ostia(centerline)
    order = sorted(paths.items(), key=lambda kv: (kv[0] != first_port, -len(kv[1])))
    out = []
    for port, idx in order:
        if idx.size < 5:
            continue
        _, _, s, diameter = path_profile(centerline, port, radius_array=radius_array, paths=paths)
        # profile pieces: from the inlet, and from each side branch's ostium along this path; a
        # piece owns the lesions whose MLD lies before the next side branch begins, so none is
        # reported from the junction's funnel (between a branch's first point and its ostium)
        starts = [(0, False, 0)]
        for b in dict.fromkeys(bid[idx].tolist()):
            hit = np.nonzero(idx == ostia.get(b, -1))[0]
            if hit.size:
                starts.append((int(hit[0]), True, int(np.argmax(bid[idx] == b))))
        for m, (i0, ostial, _) in enumerate(starts):
            i1 = starts[m + 1][2] if m + 1 < len(starts) else len(idx)
            if len(idx) - i0 < 5:
                continue
            for les in detect_lesions(s[i0:], diameter[i0:], ostial_start=ostial, **kwargs):
                j = i0 + int(np.argmin(np.abs(s[i0:] - les.position_mm)))
                if not i0 <= j < i1:
                    continue
                les.branch_id = int(bid[idx[j]])
                les.path_port = port
                if any(o.branch_id == les.branch_id and abs(o.position_mm - les.position_mm) < 1.0
                       for o in out):
                    continue
                # one narrowing seen from two pieces of a path (spans overlap): the worse reading
                clash = [o for o in out if o.path_port == port and o.start_mm < les.end_mm
                         and les.start_mm < o.end_mm]
                worst = max((o.percent_diameter_stenosis for o in clash), default=-1.0)
                if worst >= les.percent_diameter_stenosis:
                    continue
                out = [o for o in out if not any(o is c for c in clash)] + [les]
    return out
