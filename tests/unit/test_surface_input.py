# SPDX-License-Identifier: Apache-2.0
"""A user's lumen surface as the anatomy: open ends, named faces (SimVascular), flat caps;
units; the rasterised mask; bad files. Real surfaces from ../shared/data where present."""
import math

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.config import find_shared_data  # noqa: E402
from hemotwin.geometry.surface_input import (  # noqa: E402
    SurfaceInputError,
    read_face_names,
    surface_anatomy,
)

R, L = 1.5, 12.0  # mm


def _open_tube(res=64):
    """Open cylinder along z from 0 to L (two open ends: the ports)."""
    t = pv.Cylinder(center=(0, 0, L / 2), direction=(0, 0, 1), radius=R, height=L,
                    resolution=res, capping=False)
    return t.triangulate().subdivide(2).clean()


def _capped_tube(res=64):
    return pv.Cylinder(center=(0, 0, L / 2), direction=(0, 0, 1), radius=R, height=L,
                       resolution=res, capping=True).triangulate().clean()


def _polygon_area(res):
    return 0.5 * res * R * R * math.sin(2 * math.pi / res)


def _check_tube_ports(anat, res=64):
    assert len(anat.ports) == 2
    inlet, outlet = anat.ports
    assert (inlet.name, inlet.role, outlet.name, outlet.role) == ("inlet", "inlet", "outlet_1", "outlet")
    # equal areas: the tie goes to the lowest z centre, so the inlet is the z = 0 end
    np.testing.assert_allclose(inlet.center_mm, [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(outlet.center_mm, [0, 0, L], atol=1e-6)
    np.testing.assert_allclose(inlet.normal, [0, 0, -1], atol=1e-9)  # out of the fluid
    np.testing.assert_allclose(outlet.normal, [0, 0, 1], atol=1e-9)
    for p in anat.ports:
        assert p.area_mm2 == pytest.approx(_polygon_area(res), rel=1e-6)
    # the capped surface is closed and labelled: caps carry their port's index
    pid = np.asarray(anat.surface.cell_data["port_id"])
    assert set(np.unique(pid)) == {-1, 0, 1}
    cen = anat.surface.cell_centers().points
    assert np.allclose(cen[pid == 0][:, 2], 0.0, atol=1e-9)
    assert np.allclose(cen[pid == 1][:, 2], L, atol=1e-9)


def _check_mask_volume(anat):
    """Rasterised volume = the tube plus the short extensions past both caps."""
    h = anat.spacing_mm[0]
    vol = anat.mask.sum() * h**3
    ext = np.asarray(anat.mask).any(axis=(0, 1)).sum() * h - L  # length carried past the caps
    assert 0 < ext < 12 * h
    assert vol == pytest.approx(math.pi * R * R * (L + ext), rel=0.04)


@pytest.mark.parametrize("make, name, kind, source", [
    (_open_tube, "tube.vtp", "open", "open end"),  # the ends are holes
    (_capped_tube, "tube.stl", "flat patches", "flat patch"),  # closed, no face ids
])
def test_tube_ends_become_ports(tmp_path, make, name, kind, source):
    f = tmp_path / name
    make().save(f)
    anat = surface_anatomy(f)
    assert anat.kind == kind
    _check_tube_ports(anat)
    _check_mask_volume(anat)
    assert all(p.source == source for p in anat.ports)


def test_units_scale_to_mm(tmp_path):
    t = _open_tube()
    t.points = t.points / 10.0  # the same tube written in cm
    f = tmp_path / "tube_cm.vtp"
    t.save(f)
    anat = surface_anatomy(f, unit="cm")
    _check_tube_ports(anat)


def _mc_capsule(r=R, length=L, h=0.2):
    """A closed, rounded, cap-less vessel as Slicer or ITK-SNAP export it (marching cubes)."""
    n = [int((2 * r + 2) / h) + 1] * 2 + [int((length + 2 * r + 2) / h) + 1]
    img = pv.ImageData(dimensions=n, spacing=(h, h, h), origin=(-(r + 1), -(r + 1), -(r + 1)))
    p = np.asarray(img.points)
    z = np.clip(p[:, 2], 0, length)
    img.point_data["f"] = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2 + (p[:, 2] - z) ** 2) - r
    return img.contour([0.0], scalars="f").triangulate().clean()


def test_clip_planes_open_a_closed_capless_surface(tmp_path):
    f = tmp_path / "slicer_export.stl"
    _mc_capsule().save(f)
    with pytest.raises(SurfaceInputError, match="segmentation.clip_planes"):
        surface_anatomy(f)  # rounded ends: no flat caps, no open ends
    # the first plane is the inlet, although the tie rule would pick the lower end
    planes = [((0, 0, L - 1.0), (0, 0, 1)), ((0, 0, 1.0), (0, 0, -1))]
    anat = surface_anatomy(f, clip_planes=planes)
    assert anat.kind == "open"
    inlet, outlet = anat.ports
    np.testing.assert_allclose(inlet.center_mm, [0, 0, L - 1.0], atol=1e-3)
    np.testing.assert_allclose(inlet.normal, [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(outlet.center_mm, [0, 0, 1.0], atol=1e-3)
    for p in anat.ports:  # marching-cubes polygon of a circle
        assert p.area_mm2 == pytest.approx(math.pi * R * R, rel=0.02)
    # a plane that misses the surface is named
    with pytest.raises(SurfaceInputError, match=r"clip_planes\[1\] does not cut"):
        surface_anatomy(f, clip_planes=[planes[0], ((0, 0, -50.0), (0, 0, -1))])


def test_implausible_size_is_refused_with_the_unit(tmp_path):
    t = _open_tube()
    t.points = t.points / 1000.0  # metres written, mm declared: a 1.5 um "vessel"
    f = tmp_path / "tube_m.vtp"
    t.save(f)
    with pytest.raises(SurfaceInputError, match='image.surface_unit = "m"'):
        surface_anatomy(f, unit="mm", spacing_mm=1e-4)


def _faces_tube(tmp_path, mdl_types):
    t = _capped_tube()
    z = t.cell_centers().points[:, 2]
    fid = np.where(z < 1e-9, 2, np.where(z > L - 1e-9, 3, 1)).astype(np.int32)
    t.cell_data["ModelFaceID"] = fid
    f = tmp_path / "model.vtp"
    t.save(f)
    if mdl_types is None:
        return f, None
    mdl = tmp_path / "model.mdl"
    faces = "\n".join(f'<face id="{i}" name="{n}" type="{ty}" />' for i, (n, ty) in mdl_types.items())
    mdl.write_text('<?xml version="1.0" encoding="UTF-8" ?>\n<format version="1.0" />\n'
                   f"<model type=\"PolyData\"><timestep id=\"0\"><model_element><faces>{faces}"
                   "</faces></model_element></timestep></model>\n")
    return f, mdl


def test_face_ids_with_simvascular_names(tmp_path):
    # the top cap is called 'inflow': it becomes the inlet although the tie rule would pick z = 0
    f, mdl = _faces_tube(tmp_path, {1: ("wall", "wall"), 2: ("cap_bottom", "cap"), 3: ("inflow", "cap")})
    assert read_face_names(mdl)[3] == ("inflow", "cap")
    anat = surface_anatomy(f, faces_file=mdl)
    assert anat.kind == "faces"
    inlet = anat.ports[0]
    assert inlet.role == "inlet" and inlet.source == "face inflow"
    np.testing.assert_allclose(inlet.center_mm, [0, 0, L], atol=1e-6)
    np.testing.assert_allclose(inlet.normal, [0, 0, 1], atol=1e-9)
    pid = np.asarray(anat.surface.cell_data["port_id"])
    cen = anat.surface.cell_centers().points
    assert np.allclose(cen[pid == 0][:, 2], L, atol=1e-9)  # port 0 (the inlet) is the top cap


def test_face_ids_without_names_use_flat_faces(tmp_path):
    f, _ = _faces_tube(tmp_path, None)
    anat = surface_anatomy(f)
    assert anat.kind == "faces"
    _check_tube_ports(anat)
    with pytest.raises(SurfaceInputError, match="has capped faces"):
        surface_anatomy(f, clip_planes=[((0, 0, L - 1.0), (0, 0, 1))])


def test_port_overrides_rename_and_relabel_caps(tmp_path):
    f = tmp_path / "tube.vtp"
    _open_tube().save(f)
    anat = surface_anatomy(f, overrides={"inlet_top": [0, 0, L]})
    assert [p.name for p in anat.ports][0] == "inlet_top"
    pid = np.asarray(anat.surface.cell_data["port_id"])
    cen = anat.surface.cell_centers().points
    assert np.allclose(cen[pid == 0][:, 2], L, atol=1e-9)


@pytest.mark.parametrize("case", ["missing", "suffix", "garbage", "closed_sphere", "one_end",
                                  "crooked_end", "bad_unit", "bad_mdl"])
def test_bad_surfaces_name_the_file(tmp_path, case):
    expected = {"missing": "no such file", "suffix": "unsupported suffix", "garbage": "cannot be read",
                "closed_sphere": "fewer than two flat cap patches", "one_end": "fewer than two open ends",
                "crooked_end": "is not flat", "bad_unit": "expected one of", "bad_mdl": "not a readable"}
    unit, faces = "mm", None
    if case == "missing":
        f = tmp_path / "nope.vtp"
    elif case == "suffix":
        f = tmp_path / "tube.txt"
        f.write_text("solid")
    elif case == "garbage":
        f = tmp_path / "tube.stl"
        f.write_bytes(b"\x00\x01garbage" * 3)
    elif case == "closed_sphere":
        f = tmp_path / "ball.stl"
        pv.Sphere(radius=3.0).save(f)
    elif case == "one_end":
        f = tmp_path / "cup.vtp"
        t = pv.Cylinder(radius=R, height=L, capping=True).triangulate()
        t = t.extract_cells(np.nonzero(t.cell_centers().points[:, 0] > -L / 2 + 1e-6)[0])
        t.extract_surface(algorithm="dataset_surface").save(f)
    elif case == "crooked_end":
        t = _open_tube()
        p = np.asarray(t.points).copy()
        top = p[:, 2] > L - 1e-6
        p[top, 2] += 1.2 * R * np.sign(p[top, 0])  # a saddle-shaped end, far from flat
        t.points = p
        f = tmp_path / "crooked.vtp"
        t.save(f)
    elif case == "bad_unit":
        f = tmp_path / "tube.vtp"
        _open_tube().save(f)
        unit = "inch"
    elif case == "bad_mdl":
        f, _ = _faces_tube(tmp_path, None)
        faces = tmp_path / "model.mdl"
        faces.write_text("<not xml")
    with pytest.raises(SurfaceInputError) as e:
        surface_anatomy(f, unit=unit, faces_file=faces)
    msg = str(e.value)
    print(case, "->", msg)
    assert "image.surface" in msg
    assert expected[case] in msg
    if case == "bad_mdl":
        assert "model.mdl" in msg
    elif case != "bad_unit":
        assert f.name in msg
    else:
        assert "inch" in msg


# ----------------------------------------------------------------------------- real surfaces
def _shared_or_skip(sub):
    try:
        return find_shared_data(sub)
    except FileNotFoundError as e:
        pytest.skip(f"shared data absent: {e}")


def test_aneurisk_open_surface_ports_match_source():
    """SOURCE.md: 3 open loops, planar-fit mean radii 1.56, 1.30, 0.90 mm (proximal ICA first)."""
    f = _shared_or_skip("aneurisk_c0015_ica_segment_vampy/models/artery/artery.vtp")
    anat = surface_anatomy(f, unit="mm")
    assert anat.kind == "open"
    radii = [p.radius_mm for p in anat.ports]
    print("aneurisk port radii (mm):", np.round(radii, 3))
    np.testing.assert_allclose(radii, [1.56, 1.30, 0.90], rtol=0.03)
    assert anat.ports[0].role == "inlet"
    from hemotwin.geometry.surface import check_surface

    assert check_surface(anat.surface, self_intersections=False)["watertight"]


def test_simvascular_model_faces_match_source():
    """SOURCE.md table: cap areas 4.620, 0.973, 0.787 cm^2 and their centroids (cm); 133.9 cm^3."""
    f = _shared_or_skip("simvascular_demo_aorta_iliac/new-api-tests/data/DemoProject/Models/demo.vtp")
    anat = surface_anatomy(f, unit="cm", faces_file=f.with_suffix(".mdl"))
    assert anat.kind == "faces"
    got = {p.source: p for p in anat.ports}
    ref = {"face cap_aorta": (462.0, (-19.4, -16.1, 129.5)),
           "face cap_right_iliac": (97.3, (81.6, 50.8, -199.5)),
           "face cap_aorta_2": (78.7, (-57.5, 56.3, -206.6))}
    assert set(got) == set(ref)
    for name, (area, cen) in ref.items():
        print(name, round(got[name].area_mm2, 2), np.round(got[name].center_mm, 2))
        assert got[name].area_mm2 == pytest.approx(area, rel=0.002)
        np.testing.assert_allclose(got[name].center_mm, cen, atol=0.6)  # table rounded to 0.01 cm
    assert got["face cap_aorta"].role == "inlet"
    assert "133.94 mL" in anat.description
