# SPDX-License-Identifier: Apache-2.0
"""Virtual stent deployment: reshape the lumen over the covered centerline segment to the
device's nominal diameter (a tube swept along the centerline), on a voxel mask or as an implicit
function, and measure lumen cross-sections to check it.

Masks are indexed [i, j, k] with voxel centre origin_mm + direction @ (spacing_mm * (i, j, k))
(ITK's convention; identity direction by default); all lengths in mm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["StentTube", "stent_tube", "deploy_stent", "cross_section_area_mm2",
           "centerline_arclength"]


def centerline_arclength(points_mm) -> np.ndarray:
    """Cumulative arclength (mm) of an ordered polyline."""
    p = np.asarray(points_mm, float)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])


def _resample(points_mm, step_mm):
    p = np.asarray(points_mm, float)
    s = centerline_arclength(p)
    n = max(2, int(np.ceil(s[-1] / step_mm)) + 1)
    su = np.linspace(0.0, s[-1], n)
    return np.column_stack([np.interp(su, s, p[:, k]) for k in range(3)]), su


def _tangents(p):
    if len(p) < 2:
        raise ValueError("a single centerline point has no tangent: pass tangents")
    t = np.gradient(p, axis=0)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-300)


@dataclass
class StentTube:
    """A straight-walled tube of one diameter swept along a centerline segment.

    ``axis_points_mm`` are dense samples of the covered centerline (step <= 0.1 diameter),
    ``radius_mm`` is half the nominal diameter. Call it on (n, 3) points (mm) for the signed
    distance (negative inside), flat-ended at both ends of the segment.
    """

    axis_points_mm: np.ndarray
    radius_mm: float
    start_mm: float
    end_mm: float

    def __post_init__(self):
        self._tree = cKDTree(self.axis_points_mm)
        self._tan = _tangents(self.axis_points_mm)

    def __call__(self, points_mm) -> np.ndarray:
        x = np.atleast_2d(np.asarray(points_mm, float))
        dist, idx = self._tree.query(x)
        sd = dist - self.radius_mm
        # beyond either end: the flat end caps (distance along the end tangent)
        for end, sign in ((0, -1.0), (len(self.axis_points_mm) - 1, 1.0)):
            sel = idx == end
            if sel.any():
                rel = x[sel] - self.axis_points_mm[end]
                along = sign * (rel @ self._tan[end])
                radial = np.linalg.norm(rel - np.outer(rel @ self._tan[end], self._tan[end]), axis=1)
                out_r = radial - self.radius_mm
                sd[sel] = np.where(along > 0, np.maximum(along, out_r), out_r)
        return sd

    @property
    def bounds_mm(self):
        lo = self.axis_points_mm.min(axis=0) - self.radius_mm
        hi = self.axis_points_mm.max(axis=0) + self.radius_mm
        return lo, hi


def stent_tube(centerline_points_mm, diameter_mm: float, start_mm: float, length_mm: float,
               *, smooth_mm: float = 0.0) -> StentTube:
    """The implicit tube of a device of ``diameter_mm`` x ``length_mm`` placed from ``start_mm``.

    Parameters
    ----------
    centerline_points_mm : (n, 3) array
        Ordered centerline (mm), proximal first; arclength starts at its first point.
    diameter_mm, length_mm : float
        Nominal device diameter and length (mm).
    start_mm : float
        Arclength of the device's proximal end (mm).
    smooth_mm : float
        Optional Gaussian smoothing (mm) of the covered centerline, for a stiffer device axis.
    """
    if not (diameter_mm > 0 and length_mm > 0):
        raise ValueError(f"device diameter and length must be > 0 mm, got {diameter_mm}, {length_mm}")
    p = np.asarray(centerline_points_mm, float)
    s = centerline_arclength(p)
    end_mm = start_mm + length_mm
    if start_mm < s[0] - 1e-9 or end_mm > s[-1] + 1e-9:
        raise ValueError(f"device from {start_mm:.1f} to {end_mm:.1f} mm runs off the centerline "
                         f"(0 to {s[-1]:.1f} mm)")
    step = min(0.1 * diameter_mm, 0.25)
    dense, sd = _resample(p, step)
    if smooth_mm > 0:
        dense = ndimage.gaussian_filter1d(dense, smooth_mm / (sd[1] - sd[0]), axis=0, mode="nearest")
    sel = (sd >= start_mm) & (sd <= end_mm)
    axis_pts = dense[sel]
    if len(axis_pts) < 2:
        raise ValueError("device segment shorter than the centerline sampling")
    return StentTube(axis_pts, 0.5 * float(diameter_mm), float(start_mm), float(end_mm))


def _index_matrix(spacing_mm, direction):
    sp = np.broadcast_to(np.asarray(spacing_mm, float), (3,))
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    return d * sp[None, :]  # physical = origin + M @ ijk


def deploy_stent(mask_array, spacing_mm, origin_mm, centerline_points_mm, device, start_mm=None,
                 *, mode: str = "union", return_tube: bool = False, smooth_mm: float = 0.0,
                 direction=None):
    """Virtually deploy a device: the lumen over the covered segment becomes the device's tube.

    Parameters
    ----------
    mask_array : (nx, ny, nz) array
        Lumen mask (nonzero inside), indexed [i, j, k].
    spacing_mm, origin_mm : float or (3,) array
        Voxel spacing and centre of voxel (0, 0, 0) (mm); identity direction.
    centerline_points_mm : (n, 3) array
        Centerline of the treated branch, proximal first.
    device : object or dict
        ``diameter_mm`` and ``length_mm`` (a ``sizing.Device``, a dict, or any object with them).
        ``start_mm`` is read from it when not given.
    start_mm : float, optional
        Arclength of the device's proximal end (mm).
    mode : {"union", "replace"}
        "union" (default): voxels inside the tube become lumen, nothing is removed (a stent opens
        a narrowing; side branches stay open through the struts). "replace": in addition, lumen
        in the covered slab outside the tube is removed, and so is whatever that disconnects
        from the treated vessel, so the treated segment is exactly the device's cylinder
        (an aneurysmal segment excluded; side branches starting in the segment are closed).
    return_tube : bool
        Also return the ``StentTube`` implicit function, as ``(mask, tube)``.
    direction : (3, 3) array, optional
        Direction cosines of the mask grid (column a: physical direction of index axis a).

    Returns
    -------
    (nx, ny, nz) uint8 array
        The treated mask (1 inside).
    """
    get = (lambda k: device[k]) if isinstance(device, dict) else (lambda k: getattr(device, k))
    diameter, length = float(get("diameter_mm")), float(get("length_mm"))
    if start_mm is None:
        start_mm = float(get("start_mm"))
    if mode not in ("union", "replace"):
        raise ValueError(f"mode must be 'union' or 'replace', got {mode!r}")
    m = np.asarray(mask_array) > 0
    mat = _index_matrix(spacing_mm, direction)
    org = np.broadcast_to(np.asarray(origin_mm, float), (3,))
    tube = stent_tube(centerline_points_mm, diameter, start_mm, length, smooth_mm=smooth_mm)
    lo, hi = tube.bounds_mm
    box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    ijk = (box - org) @ np.linalg.inv(mat).T
    i0 = np.clip(np.floor(ijk.min(axis=0)).astype(int) - 1, 0, np.array(m.shape) - 1)
    i1 = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 2, 0, np.array(m.shape))
    sub = tuple(slice(a, b) for a, b in zip(i0, i1))
    idx = np.stack(np.meshgrid(*[np.arange(i0[k], i1[k]) for k in range(3)], indexing="ij"), axis=-1)
    grid = org + idx @ mat.T
    sdf = tube(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    out = m.copy()
    inside = sdf <= 0
    out[sub] |= inside
    if mode == "replace":
        # slab: voxels whose nearest axis sample is interior to the covered segment
        _, idx = tube._tree.query(grid.reshape(-1, 3))
        interior = ((idx > 0) & (idx < len(tube.axis_points_mm) - 1)).reshape(inside.shape)
        out[sub] &= inside | ~interior
        lab, _ = ndimage.label(out)
        keep = np.unique(lab[sub][inside])
        out = np.isin(lab, keep[keep > 0])
    return (out.astype(np.uint8), tube) if return_tube else out.astype(np.uint8)


def cross_section_area_mm2(mask_array, spacing_mm, origin_mm, points_mm, tangents=None, *,
                           radius_mm: float = 10.0, step_mm: float | None = None,
                           direction=None) -> np.ndarray:
    """Lumen cross-sectional area (mm^2) in the plane normal to the centerline at each point.

    The mask is trilinearly interpolated on a square grid in the plane (``step_mm``, default a
    quarter of the smallest voxel) and thresholded at 0.5; only the connected piece containing
    (or nearest to) the centerline point counts, so a neighbouring vessel crossing the plane is
    ignored.

    Parameters
    ----------
    points_mm : (n, 3) array
        Centerline points (mm).
    tangents : (n, 3) array, optional
        Plane normals; default the centerline's finite-difference tangents.
    radius_mm : float
        Half-width of the sampled square (mm): larger than the lumen.
    direction : (3, 3) array, optional
        Direction cosines of the mask grid.

    Returns
    -------
    (n,) array of mm^2. The equivalent diameter is ``2 * sqrt(A / pi)``.
    """
    m = np.asarray(mask_array, float)
    sp = np.broadcast_to(np.asarray(spacing_mm, float), (3,))
    inv = np.linalg.inv(_index_matrix(sp, direction))
    org = np.broadcast_to(np.asarray(origin_mm, float), (3,))
    p = np.atleast_2d(np.asarray(points_mm, float))
    t = _tangents(p) if tangents is None else np.atleast_2d(np.asarray(tangents, float))
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    h = step_mm or 0.25 * float(sp.min())
    g = np.arange(-radius_mm, radius_mm + 0.5 * h, h)
    uu, vv = np.meshgrid(g, g, indexing="ij")
    centre = np.unravel_index(np.argmin(uu**2 + vv**2), uu.shape)
    out = np.zeros(len(p))
    for n, (c, tn) in enumerate(zip(p, t)):
        a = np.array([1.0, 0.0, 0.0]) if abs(tn[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = np.cross(tn, a)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(tn, e1)
        x = c + uu[..., None] * e1 + vv[..., None] * e2
        idx = ((x - org).reshape(-1, 3) @ inv.T).T
        val = ndimage.map_coordinates(m, idx, order=1, mode="constant", cval=0.0).reshape(uu.shape)
        inside = val >= 0.5
        lab, nl = ndimage.label(inside)
        if nl == 0:
            continue
        k = lab[centre]
        if k == 0:
            d = np.where(inside, uu**2 + vv**2, np.inf)
            k = lab[np.unravel_index(np.argmin(d), d.shape)]
        out[n] = np.count_nonzero(lab == k) * h * h
    return out
