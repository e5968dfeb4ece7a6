# SPDX-License-Identifier: Apache-2.0
"""Issue 3 done-when on every built-in phantom: Dice >= 0.90 vs truth, centerline radius within 5 %
(median), ports found = ports that exist with centres within one voxel, watertight surface."""

import numpy as np
import pytest

pytest.importorskip("SimpleITK")
pytest.importorskip("pyvista")

from hemotwin.geometry import phantoms
from hemotwin.geometry.model import build_vessel_model
from hemotwin.imaging import ImageVolume, dice, segment_lumen
from scipy.spatial import cKDTree

CASES = {
    # name: (kwargs, MIS-radius tolerance). The maximal-inscribed-sphere radius is the minimum
    # distance to a voxel-derived wall, so voxel-scale bumps bias it low by ~1/4 voxel: at
    # 6 voxels per radius (curved tube, 0.5 mm) that is ~5-6 %; the area-equivalent radius has
    # no such bias and is held to the 5 % everywhere.
    "straight_tube": ({}, 0.05),
    "curved_tube": ({}, 0.07),
    "coronary_stenosis": ({}, 0.07),
    "aortic_arch": ({}, 0.05),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def result(request):
    name = request.param
    kw, tol = CASES[name]
    ph = phantoms.make_phantom(name, **kw)
    vol = ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction, name, "CT")
    seg = segment_lumen(vol, ph.seeds_mm)
    model = build_vessel_model(
        seg.mask.array, vol, levelset=seg.levelset.array, self_intersections=name != "aortic_arch"
    )
    return name, ph, seg, model, tol


def test_dice(result):
    name, ph, seg, model, tol = result
    d = dice(seg.mask.array, ph.mask)
    print(f"{name}: Dice {d:.4f}")
    assert seg.status == "ok" and d >= 0.90


def test_ports_match_truth(result):
    name, ph, seg, model, tol = result
    assert [p.name for p in model.ports] == [p["name"] for p in ph.ports]
    vox = float(np.linalg.norm(ph.spacing_mm))  # one voxel (diagonal)
    for p, t in zip(model.ports, ph.ports):
        err = np.linalg.norm(p.center_mm - t["center_mm"])
        print(
            f"{name}: {p.name} centre error {err:.3f} mm, radius {p.radius_mm:.3f} vs {t['radius_mm']:.3f} mm"
        )
        assert err <= vox
        np.testing.assert_allclose(p.normal, t["normal"], atol=1e-6)
        assert p.role == t["role"]


def test_centerline_radius(result):
    name, ph, seg, model, tol = result
    cl = model.centerlines
    P = np.asarray(cl.points)
    truth_p = np.vstack(ph.centerlines_mm)
    truth_r = np.concatenate(ph.radii_mm)
    d, nn = cKDTree(truth_p).query(P)
    r_mis = np.asarray(cl.point_data["radius_mm"]) / truth_r[nn] - 1
    r_eq = np.asarray(cl.point_data["equivalent_radius_mm"]) / truth_r[nn] - 1
    print(
        f"{name}: median |radius error| MIS {np.median(np.abs(r_mis)):.3f}, "
        f"equivalent {np.median(np.abs(r_eq)):.3f}; max distance to truth centerline {d.max():.2f} mm"
    )
    assert np.median(np.abs(r_eq)) <= 0.05
    assert np.median(np.abs(r_mis)) <= tol
    # centerline stays inside the lumen, near the truth (junction points lie off any branch axis)
    assert np.median(d) <= float(ph.spacing_mm.min())
    assert (np.asarray(cl.point_data["radius_mm"]) > 0).all()


def test_surface_and_topology(result):
    name, ph, seg, model, tol = result
    chk = model.surface_check
    assert chk["watertight"], chk
    assert chk.get("self_intersections", 0) == 0
    topo = model.topology
    # one outlet per leaf, every branch has >= 3 points (no broken / single-point pieces)
    leaves = sorted(b["port"] for b in topo["branches"] if not b["children"])
    assert leaves == sorted(p.name for p in model.ports if p.role == "outlet")
    assert min(b["n_points"] for b in topo["branches"]) >= 3
    if name == "aortic_arch":
        assert topo["n_bifurcations"] >= 3
        assert set(cl_arr for cl_arr in ("radius_mm", "equivalent_radius_mm", "branch_id")) <= set(
            model.centerlines.point_data.keys()
        )


def test_coronary_stenosis_truth():
    ph = phantoms.coronary_stenosis()
    assert ph.info["stenosis_ds_percent"] == 50.0 and ph.info["stenosis_length_mm"] == 8.0
    np.testing.assert_allclose(
        ph.info["min_radius_mm"], 0.5 * ph.info["reference_radius_at_stenosis_mm"], rtol=1e-3
    )


def test_phantom_to_lattice():
    ph = phantoms.coronary_stenosis(spacing_mm=0.4)
    vol = ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction, "coronary", "CT")
    seg = segment_lumen(vol, ph.seeds_mm)
    model = build_vessel_model(
        seg.mask.array, vol, levelset=seg.levelset.array, self_intersections=False
    )
    dom, rep = model.to_lattice(cells_across=10)
    print(
        f"coronary lattice: {rep['n_fluid']} fluid cells, dx {rep['dx_m'] * 1e6:.0f} um, "
        f"{rep['memory_bytes_estimate'] / 1e6:.1f} MB, ports {[round(p['cells_across'], 1) for p in rep['ports']]}"
    )
    assert dom.port_names == ["inlet", "outlet_1"]
    assert min(p["cells_across"] for p in rep["ports"]) == pytest.approx(10.0, rel=1e-6)
    for p in range(2):
        assert np.count_nonzero(dom.cell_type == 2 + p) > 20
    # lattice volume = surface volume (both are the same closed surface)
    np.testing.assert_allclose(
        dom.n_fluid * dom.spacing_m**3 * 1e9, model.surface_check["volume_mm3"], rtol=0.03
    )
    assert ((dom.wall_q > 0) & (dom.wall_q <= 1)).all()
