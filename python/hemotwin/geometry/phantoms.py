# SPDX-License-Identifier: Apache-2.0
"""Built-in procedural CT-like vessel phantoms with known truth (mask, centerline, radius, ports).

Deterministic for a given ``seed``. Arrays are indexed [i, j, k] (axis 0 = x), voxel centre at
``origin_mm + (i, j, k) * spacing_mm``, identity direction: physical LPS millimetres as in ITK.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = [
    "PHANTOMS",
    "Phantom",
    "aortic_arch",
    "coronary_stenosis",
    "curved_tube",
    "make_phantom",
    "straight_tube",
]

LUMEN_HU = 400.0  # contrast-enhanced lumen (issue 3: 350-450 HU)
TISSUE_HU = 40.0  # soft tissue / blood without contrast
BONE_HU = 900.0


@dataclass
class Phantom:
    """A synthetic CT volume and its ground truth.

    Attributes
    ----------
    name : str
    image : ndarray of float32, shape (nx, ny, nz)
        CT-like intensities (HU).
    mask : ndarray of uint8, shape (nx, ny, nz)
        Truth lumen mask (1 inside: voxel centre inside the analytic vessel).
    spacing_mm, origin_mm : ndarray, shape (3,)
        Voxel spacing and the centre of voxel (0, 0, 0), mm.
    direction : ndarray, shape (3, 3)
        Direction cosines (identity).
    centerlines_mm : list of ndarray (n, 3)
        Truth centerline of each branch (mm), sampled every ~0.25 mm.
    radii_mm : list of ndarray (n,)
        Truth lumen radius (mm) at each centerline point.
    ports : list of dict
        ``name``, ``role``, ``center_mm``, ``normal`` (out of the fluid), ``radius_mm`` of the
        vessel cuts at the image boundary, named by the rule of ``geometry.ports.name_ports``.
    seeds_mm : list of ndarray (3,)
        Points well inside the lumen, usable as segmentation seeds.
    info : dict
        Extra truth, e.g. ``stenosis_ds_percent``, ``stenosis_length_mm``.
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    spacing_mm: np.ndarray
    origin_mm: np.ndarray
    direction: np.ndarray
    centerlines_mm: list
    radii_mm: list
    ports: list
    seeds_mm: list
    info: dict = field(default_factory=dict)

    def world_to_index(self, p_mm) -> np.ndarray:
        """Continuous voxel index of physical points (mm)."""
        return (np.asarray(p_mm, float) - self.origin_mm) / self.spacing_mm


# ----------------------------------------------------------------------------- building blocks
def _polyline(points, step=0.25):
    """Resample a polyline given by vertices (n, 3) to ~``step`` mm, returning points and arc length."""
    pts = np.asarray(points, float)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    n = max(2, int(np.ceil(s[-1] / step)) + 1)
    si = np.linspace(0, s[-1], n)
    out = np.column_stack([np.interp(si, s, pts[:, a]) for a in range(3)])
    return out, si


def _arc(center, r, e1, e2, a0, a1, n=200):
    t = np.linspace(a0, a1, n)
    return np.asarray(center) + r * (
        np.cos(t)[:, None] * np.asarray(e1) + np.sin(t)[:, None] * np.asarray(e2)
    )


def _render(branches, shape, origin, spacing, rng, noise_hu, blur_vox, extra=None):
    """Signed distance to the union of tubes -> truth mask and CT-like image."""
    idx = np.indices(shape).reshape(3, -1).T
    pts = origin + idx * spacing
    phi = np.full(len(pts), np.inf)
    for cl, r in branches:
        d, nn = cKDTree(cl).query(pts, distance_upper_bound=float(r.max()) + 4 * spacing.max())
        ok = np.isfinite(d)
        phi[ok] = np.minimum(phi[ok], d[ok] - r[nn[ok]])
    phi = phi.reshape(shape)
    mask = (phi < 0).astype(np.uint8)
    # partial volume: fraction of the voxel inside, linear in the signed distance across one voxel
    h = float(np.cbrt(np.prod(spacing)))
    frac = np.clip(0.5 - phi / h, 0.0, 1.0)
    img = TISSUE_HU + (LUMEN_HU - TISSUE_HU) * frac
    if extra is not None:
        img = np.maximum(img, extra(pts).reshape(shape))
    # scanner point-spread function: isotropic ~blur_vox * min spacing in mm
    sigma = blur_vox * spacing.min() / spacing
    img = ndimage.gaussian_filter(img, sigma)
    img = img + rng.normal(0.0, noise_hu, size=shape)
    return img.astype(np.float32), mask


def _grid(lo, hi, spacing):
    spacing = np.asarray(spacing, float) * np.ones(3)
    lo = np.asarray(lo, float)
    shape = tuple(int(np.floor((hi[a] - lo[a]) / spacing[a])) + 1 for a in range(3))
    return lo, shape, spacing


def _boundary_port(cl, r, origin, shape, spacing, end):
    """Port where branch centerline ``cl`` leaves the image through a face at its ``end``."""
    p = cl[-1] if end == "last" else cl[0]
    q = cl[-2] if end == "last" else cl[1]
    t = p - q
    t /= np.linalg.norm(t)
    a = int(np.argmax(np.abs(t)))
    upper = origin + (np.asarray(shape) - 1) * spacing
    plane = upper[a] if t[a] > 0 else origin[a]
    # centre: the centerline point on the outermost voxel-centre plane
    s = (plane - p[a]) / t[a]
    c = p + s * t
    n = np.zeros(3)
    n[a] = np.sign(t[a])
    rad = float(r[-1] if end == "last" else r[0])
    return {"center_mm": c, "normal": n, "radius_mm": rad}


def _name(ports, inlet_index):
    """Order and name truth ports with the same rule as geometry.ports.name_ports."""
    from .ports import order_ports

    order, names, roles = order_ports(
        [p["radius_mm"] for p in ports], [p["center_mm"] for p in ports], inlet_index=inlet_index
    )
    out = []
    for i, nm, ro in zip(order, names, roles):
        d = dict(ports[i])
        d["name"], d["role"] = nm, ro
        out.append(d)
    return out


# ----------------------------------------------------------------------------- phantoms
def aortic_arch(spacing_mm=1.0, noise_hu=20.0, blur_vox=0.6, coarctation=0.5, seed=0,
                subclavian_stenosis=0.0, subclavian_stenosis_offset_mm=12.0) -> Phantom:
    """Aortic arch with a coarctation and three supra-aortic branches (LPS, z up).

    The ascending aorta (radius 12 mm) enters through the bottom face (z low), arches over in the
    y-z plane (arch radius 25 mm) and descends (radius 10 mm) to the bottom face; a cosine-shaped
    coarctation (default 50 % diameter reduction, 16 mm long) sits in the proximal descending
    aorta. Brachiocephalic trunk (r 6 mm), left common carotid (r 4 mm) and left subclavian
    (r 4.5 mm) leave the arch straight up through the top face. A vertebral body (~900 HU) lies
    behind the aorta, not touching it.

    Parameters
    ----------
    spacing_mm : float or sequence of 3 floats
        Voxel spacing (mm); anisotropic allowed, e.g. ``(0.8, 0.8, 1.5)``.
    noise_hu : float
        Standard deviation of the additive Gaussian noise (HU).
    blur_vox : float
        Point-spread Gaussian sigma in units of the smallest spacing.
    coarctation : float
        Fractional diameter reduction of the coarctation (0 = none).
    seed : int
        Seed of the noise generator.
    subclavian_stenosis : float
        Fractional diameter reduction of a cosine-shaped stenosis (10 mm long) of the left
        subclavian artery, centred ``subclavian_stenosis_offset_mm`` beyond the arch wall
        (0 = none): a lesion off the path to the largest outlet (an offset of 5 mm makes it
        ostial).

    Examples
    --------
    >>> from hemotwin.geometry.phantoms import aortic_arch
    >>> ph = aortic_arch(spacing_mm=2.0)
    >>> len(ph.ports), ph.ports[0]["name"]
    (5, 'inlet')
    """
    rng = np.random.default_rng(seed)
    lo, shape, sp = _grid((-22.0, -44.0, 0.0), (22.0, 74.0, 130.0), spacing_mm)
    R_arch, zc = 25.0, 70.0
    asc = np.array([[0, -R_arch, -5.0], [0, -R_arch, zc]])
    arch = _arc([0, 0, zc], R_arch, [0, -1, 0], [0, 0, 1], 0, np.pi, 400)[1:]
    desc = np.array([[0, R_arch, zc], [0, R_arch, -5.0]])[1:]
    cl, s = _polyline(np.vstack([asc, arch, desc]))
    L_asc = zc + 5.0
    L_arch = np.pi * R_arch
    # radius: 12 mm ascending, taper to 10 mm over the arch, coarctation below the arch
    r = np.interp(s, [0, L_asc, L_asc + L_arch, s[-1]], [12.0, 12.0, 10.0, 10.0])
    s_co, L_co = L_asc + L_arch + 14.0, 16.0
    u = np.clip((s - s_co) / (L_co / 2), -1, 1)
    r = r * (1 - coarctation * 0.5 * (1 + np.cos(np.pi * u)))
    branches = [(cl, r)]
    names = []
    sub = {}
    for y, rb in ((-15.0, 6.0), (0.0, 4.0), (15.0, 4.5)):
        z0 = zc + np.sqrt(R_arch**2 - y**2)
        bc, sb = _polyline(np.array([[0, y, z0], [0, y, 135.0]]))
        rr = np.full(len(bc), rb)
        if y == 15.0 and subclavian_stenosis > 0:
            # the arch wall above the branch origin: the aortic radius there (~11 mm)
            r_wall = float(np.interp(L_asc + np.arccos(-y / R_arch) * R_arch, s, r))
            s_c, L_st = r_wall + subclavian_stenosis_offset_mm, 10.0
            us = np.clip((sb - s_c) / (L_st / 2), -1, 1)
            rr = rr * (1 - subclavian_stenosis * 0.5 * (1 + np.cos(np.pi * us)))
            sub = {"subclavian_stenosis_fraction": subclavian_stenosis,
                   "subclavian_stenosis_center_mm": [0.0, y, z0 + s_c],
                   "subclavian_stenosis_length_mm": L_st}
        branches.append((bc, rr))
        names.append(rb)

    def spine(p):
        # vertebral bodies 20 mm tall with 6 mm discs: blob-like, not tubular
        d = np.hypot(p[:, 0], p[:, 1] - 60.0) - 11.0
        body = (d < 0) & (np.mod(p[:, 2], 26.0) < 20.0)
        return np.where(body, BONE_HU, -1e9)

    img, mask = _render(branches, shape, lo, sp, rng, noise_hu, blur_vox, extra=spine)
    ports = [
        _boundary_port(cl, r, lo, shape, sp, "first"),
        _boundary_port(cl, r, lo, shape, sp, "last"),
    ] + [_boundary_port(bc, br, lo, shape, sp, "last") for bc, br in branches[1:]]
    ports = _name(ports, inlet_index=None)
    info = {
        "coarctation_fraction": coarctation,
        "coarctation_min_radius_mm": float(r.min()),
        "coarctation_center_arclength_mm": s_co,
        "coarctation_length_mm": L_co,
        **sub,
    }
    seeds = [np.array([0, -R_arch, 40.0]), np.array([0, R_arch, 30.0])]
    return Phantom(
        "aortic_arch",
        img,
        mask,
        sp,
        lo,
        np.eye(3),
        [cl] + [b[0] for b in branches[1:]],
        [r] + [b[1] for b in branches[1:]],
        ports,
        seeds,
        info,
    )


def coronary_stenosis(
    spacing_mm=0.3,
    radius_mm=1.6,
    stenosis_ds=0.5,
    stenosis_length_mm=8.0,
    noise_hu=20.0,
    blur_vox=0.6,
    seed=0,
) -> Phantom:
    """Curved coronary segment with a concentric cosine-shaped stenosis.

    The vessel enters through the x-low face, bends by 90 degrees (bend radius 15 mm) and leaves
    through the y-high face; it tapers from ``radius_mm`` to 0.85 of it. The stenosis (centred
    at mid-length) reduces the local diameter by ``stenosis_ds`` (true %DS = 100 * stenosis_ds
    relative to the local reference diameter) over ``stenosis_length_mm``.

    Parameters
    ----------
    spacing_mm : float or sequence of 3 floats
        Voxel spacing (mm).
    radius_mm : float
        Proximal lumen radius (mm).
    stenosis_ds : float
        Fractional diameter stenosis (0.5 = 50 %DS).
    stenosis_length_mm : float
        Axial length of the lesion (mm).
    noise_hu, blur_vox, seed
        As in ``aortic_arch``.
    """
    rng = np.random.default_rng(seed)
    lo, shape, sp = _grid((0.0, -6.0, -5.0), (32.0, 27.0, 5.0), spacing_mm)
    Rb = 15.0
    pts = np.vstack(
        [
            [[-2.0, 0, 0], [12.0, 0, 0]],
            _arc([12.0, Rb, 0], Rb, [0, -1, 0], [1, 0, 0], 0, np.pi / 2, 200)[1:],
            [[12.0 + Rb, Rb + 14.0, 0]],
        ]
    )
    cl, s = _polyline(pts, step=0.1)
    r_ref = radius_mm * np.interp(s, [0, s[-1]], [1.0, 0.85])
    s0 = 0.5 * s[-1]
    u = np.clip((s - s0) / (stenosis_length_mm / 2), -1, 1)
    r = r_ref * (1 - stenosis_ds * 0.5 * (1 + np.cos(np.pi * u)))
    img, mask = _render([(cl, r)], shape, lo, sp, rng, noise_hu, blur_vox)
    ports = [
        _boundary_port(cl, r, lo, shape, sp, "first"),
        _boundary_port(cl, r, lo, shape, sp, "last"),
    ]
    ports = _name(ports, inlet_index=0)
    info = {
        "stenosis_ds_percent": 100.0 * stenosis_ds,
        "stenosis_length_mm": stenosis_length_mm,
        "stenosis_center_mm": cl[np.argmin(np.abs(s - s0))].tolist(),
        "reference_radius_at_stenosis_mm": float(np.interp(s0, s, r_ref)),
        "min_radius_mm": float(r.min()),
    }
    seeds = [cl[np.argmin(np.abs(s - 6.0))]]
    return Phantom("coronary_stenosis", img, mask, sp, lo, np.eye(3), [cl], [r], ports, seeds, info)


def straight_tube(
    spacing_mm=0.5, radius_mm=4.0, length_mm=40.0, noise_hu=20.0, blur_vox=0.6, seed=0,
    tilt_deg=0.0,
) -> Phantom:
    """Straight tube through the whole volume (inlet at z low, outlet at z high).

    Parameters
    ----------
    spacing_mm : float or sequence of 3 floats
        Voxel spacing (mm).
    radius_mm, length_mm : float
        Tube radius and image extent along z (mm).
    tilt_deg : float
        Angle between the tube axis and z, in the x-z plane: the tube leaves through the z faces
        obliquely (as vessels leave a scan's field of view), so a face cut is an ellipse whose
        area-equivalent radius is ``radius_mm / sqrt(cos(tilt))``; the truth port radius stays
        ``radius_mm``. The x extent grows to hold the tube.
    """
    rng = np.random.default_rng(seed)
    m = radius_mm + 4.0
    t = np.tan(np.radians(tilt_deg))
    # the tube crosses x = 0.3 at z = length/2; x extent covers it (plus its elliptic cut) at both faces
    half_x = m / np.cos(np.radians(tilt_deg)) + 0.5 * length_mm * abs(t)
    lo, shape, sp = _grid((-half_x, -m, 0.0), (half_x, m, length_mm), spacing_mm)
    zc = length_mm / 2
    ends = np.array([[0.3 + (z - zc) * t, -0.2, z] for z in (-3.0, length_mm + 3.0)])
    cl, _ = _polyline(ends)
    r = np.full(len(cl), radius_mm)
    img, mask = _render([(cl, r)], shape, lo, sp, rng, noise_hu, blur_vox)
    ports = [
        _boundary_port(cl, r, lo, shape, sp, "first"),
        _boundary_port(cl, r, lo, shape, sp, "last"),
    ]
    ports = _name(ports, inlet_index=0)
    return Phantom(
        "straight_tube",
        img,
        mask,
        sp,
        lo,
        np.eye(3),
        [cl],
        [r],
        ports,
        [np.array([0.3, -0.2, zc])],
        {"tilt_deg": float(tilt_deg)},
    )


def curved_tube(
    spacing_mm=0.5, radius_mm=3.0, bend_radius_mm=15.0, noise_hu=20.0, blur_vox=0.6, seed=0
) -> Phantom:
    """Tube with a 90-degree bend: enters through the x-low face, leaves through the y-high face.

    Parameters
    ----------
    spacing_mm : float or sequence of 3 floats
        Voxel spacing (mm).
    radius_mm : float
        Tube radius (mm).
    bend_radius_mm : float
        Radius of curvature of the bend centerline (mm).
    """
    rng = np.random.default_rng(seed)
    Rb = bend_radius_mm
    m = radius_mm + 4.0
    lo, shape, sp = _grid((0.0, -m, -m), (10.0 + Rb + m, Rb + 10.0, m), spacing_mm)
    pts = np.vstack(
        [
            [[-3.0, 0, 0], [10.0, 0, 0]],
            _arc([10.0, Rb, 0], Rb, [0, -1, 0], [1, 0, 0], 0, np.pi / 2, 200)[1:],
            [[10.0 + Rb, Rb + 13.0, 0]],
        ]
    )
    cl, _ = _polyline(pts)
    r = np.full(len(cl), radius_mm)
    img, mask = _render([(cl, r)], shape, lo, sp, rng, noise_hu, blur_vox)
    ports = [
        _boundary_port(cl, r, lo, shape, sp, "first"),
        _boundary_port(cl, r, lo, shape, sp, "last"),
    ]
    ports = _name(ports, inlet_index=0)
    return Phantom(
        "curved_tube", img, mask, sp, lo, np.eye(3), [cl], [r], ports, [np.array([5.0, 0.0, 0.0])]
    )


PHANTOMS = {
    "aortic_arch": aortic_arch,
    "coronary_stenosis": coronary_stenosis,
    "straight_tube": straight_tube,
    "curved_tube": curved_tube,
}


def make_phantom(name: str, **kwargs) -> Phantom:
    """Build a phantom by name (one of ``PHANTOMS``)."""
    try:
        return PHANTOMS[name](**kwargs)
    except KeyError:
        raise KeyError(f"unknown phantom {name!r}; choose one of {sorted(PHANTOMS)}") from None
