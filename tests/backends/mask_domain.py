# SPDX-License-Identifier: Apache-2.0
"""A LatticeDomain straight from a binary mask (half-way walls, ports where the mask meets the
volume boundary): an irregular vascular lattice that needs neither VTK nor SimpleITK."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from hemotwin.lattice import FLUID, PORT_BASE, LatticeDomain


def mask_domain(mask: np.ndarray, spacing_m: float) -> LatticeDomain:
    m = np.pad(mask.astype(bool), 1)
    cell = np.where(m, FLUID, 0).astype(np.uint8)
    ports, sizes = [], []
    for axis in range(3):
        for side, (src, ghost) in enumerate(((1, 0), (-2, -1))):
            face = np.take(m, src, axis=axis)
            labels, count = ndimage.label(face)
            for lab in range(1, count + 1):
                sel = labels == lab
                idx = [slice(None)] * 3
                idx[axis] = ghost
                view = cell[tuple(idx)]
                view[sel] = PORT_BASE + len(ports)
                normal = np.zeros(3)
                normal[axis] = -1.0 if side == 0 else 1.0
                pts = np.argwhere(sel).astype(float)
                center = np.insert(pts.mean(axis=0), axis, 0 if side == 0 else m.shape[axis] - 1)
                ports.append((normal, (center - 1) * spacing_m, np.sqrt(sel.sum() / np.pi) * spacing_m))
                sizes.append(int(sel.sum()))
    order = np.argsort(sizes)[::-1]
    names = ["inlet" if k == order[0] else f"outlet_{int(np.where(order == k)[0][0])}" for k in range(len(ports))]
    return LatticeDomain(
        cell_type=cell, spacing_m=spacing_m, origin_m=-np.ones(3) * spacing_m, port_names=names,
        port_roles=["inlet" if n == "inlet" else "outlet" for n in names],
        port_normals=np.array([p[0] for p in ports]), port_centers_m=np.array([p[1] for p in ports]),
        port_radii_m=np.array([p[2] for p in ports]))


def demo_mask_domain() -> LatticeDomain:
    """The coarctation phantom's truth lumen at 1 mm: the geometry `hemotwin demo` runs on."""
    from hemotwin.geometry.phantoms import aortic_arch

    ph = aortic_arch(spacing_mm=1.0, noise_hu=0.0, seed=0)
    return mask_domain(ph.mask > 0, 1e-3)
