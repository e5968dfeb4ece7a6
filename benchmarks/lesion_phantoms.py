# SPDX-License-Identifier: Apache-2.0
"""The lesion detector on the phantoms with known stenoses (docs/metrics.md, "Measured").

Coronary phantom: diameters from plane cross-sections of the phantom's lumen mask along its
centerline (as tests/unit/test_lesions.py); arch phantom: the coarctation on the centerline tree
of geometry.centerlines.

Usage: python benchmarks/lesion_phantoms.py
"""
import numpy as np

from hemotwin.analysis.lesions import centerline_paths, detect_lesions, lesions_from_centerline
from hemotwin.geometry import centerlines, phantoms
from hemotwin.geometry import ports as ports_mod
from hemotwin.geometry.deployment import centerline_arclength, cross_section_area_mm2


def coronary(spacing_mm, ds, length_mm):
    ph = phantoms.coronary_stenosis(spacing_mm=spacing_mm, stenosis_ds=ds, stenosis_length_mm=length_mm)
    cl = ph.centerlines_mm[0]
    s = centerline_arclength(cl)
    hi = ph.origin_mm + (np.array(ph.mask.shape) - 1) * ph.spacing_mm
    inside = np.all((cl > ph.origin_mm + 1.0) & (cl < hi - 1.0), axis=1)
    cl, s = cl[inside][::3], s[inside][::3]
    area = cross_section_area_mm2(ph.mask, ph.spacing_mm, ph.origin_mm, cl, radius_mm=3.0)
    les = detect_lesions(s, 2 * np.sqrt(area / np.pi))
    found = ", ".join(f"{x.percent_diameter_stenosis:.1f} %DS, {x.length_mm:.2f} mm" for x in les) or "none"
    print(f"coronary {100 * ds:.0f} %DS over {length_mm:g} mm, {spacing_mm} mm voxels: {found}")


def arch(spacing_mm=1.0):
    ph = phantoms.aortic_arch(spacing_mm=spacing_mm)

    class Geom:
        spacing_mm, origin_mm, direction = ph.spacing_mm, ph.origin_mm, ph.direction

    cl = centerlines.compute_centerlines(ph.mask, Geom, ports_mod.detect_ports(ph.mask, Geom))
    les = lesions_from_centerline(cl)
    for c in les:
        p = np.asarray(cl.points)[centerline_paths(cl)[c.path_port]]
        s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        t = ph.centerlines_mm[0]
        st = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(t, axis=0), axis=1))])
        truth = t[np.argmin(np.abs(st - ph.info["coarctation_center_arclength_mm"]))]
        miss = np.linalg.norm(p[np.argmin(np.abs(s - c.position_mm))] - truth)
        print(f"arch coarctation 50 %DS over 16 mm, {spacing_mm} mm voxels: {c.percent_diameter_stenosis:.1f} %DS, "
              f"{c.length_mm:.1f} mm, MLD point {miss:.2f} mm from the truth centre")
    print(f"arch: {len(les)} lesion(s) found")


if __name__ == "__main__":
    for spacing, ds, length in ((0.4, 0.5, 8.0), (0.3, 0.5, 8.0), (0.4, 0.3, 6.0), (0.3, 0.3, 6.0),
                                (0.4, 0.7, 12.0)):
        coronary(spacing, ds, length)
    arch()
