# SPDX-License-Identifier: Apache-2.0
"""Port names and roles: renaming keeps the role apart from the name, ``inlet=`` moves the inlet,
points far from every port or two names on one port are refused; the inlet is the port with the
largest measured cut, and a sliver opening never becomes (or resizes) a port."""
import math

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")

from hemotwin.geometry.ports import Port, apply_port_overrides  # noqa: E402

R, L = 1.5, 12.0  # mm


def _ports():
    """A tube's two ends and a branch (radii 3, 2, 1.5 mm)."""
    def port(name, role, c, n, r):
        return Port(name, role, np.asarray(c, float), np.asarray(n, float), math.pi * r * r, r)

    return [port("inlet", "inlet", [0, 0, 0], [0, 0, -1], 3.0),
            port("outlet_1", "outlet", [0, 0, 50], [0, 0, 1], 2.0),
            port("outlet_2", "outlet", [20, 0, 30], [1, 0, 0], 1.5)]


# ----------------------------------------------------------------------------- 4a
def test_a_renamed_inlet_stays_the_inlet():
    ports = apply_port_overrides(_ports(), {"proximal_ica": [0.5, 0, 0.2]})
    assert [(p.name, p.role) for p in ports] == [
        ("proximal_ica", "inlet"), ("outlet_1", "outlet"), ("outlet_2", "outlet")]


# ----------------------------------------------------------------------------- 4b
def test_naming_a_port_inlet_makes_it_the_inlet_and_frees_no_duplicate():
    ports = apply_port_overrides(_ports(), {"inlet": [0, 0, 50]})
    got = {p.name: (p.role, tuple(p.center_mm)) for p in ports}
    assert ports[0].name == "inlet" and ports[0].role == "inlet"
    assert got["inlet"] == ("inlet", (0.0, 0.0, 50.0))
    # the old inlet takes the name the new inlet had
    assert got["outlet_1"] == ("outlet", (0.0, 0.0, 0.0))
    assert sorted(got) == ["inlet", "outlet_1", "outlet_2"]
    # with a name of its own as well
    ports = apply_port_overrides(_ports(), {"inlet": [0, 0, 50], "root": [0, 0, 0]})
    assert [(p.name, p.role) for p in ports][:2] == [("inlet", "inlet"), ("root", "outlet")]


# ----------------------------------------------------------------------------- 4c
def test_a_point_far_from_every_port_is_refused():
    from hemotwin.geometry.ports import PortOverrideError

    with pytest.raises(PortOverrideError) as e:
        apply_port_overrides(_ports(), {"foo": [100.0, 100.0, 100.0]})
    msg = str(e.value)
    print(msg)
    # the NAME, the point, the nearest port and its distance, the tolerance
    assert "'foo'" in msg and "[100.0, 100.0, 100.0]" in msg
    assert "nearest port, outlet_2" in msg and "is 145.9 mm from" in msg
    assert "within 3.0 mm" in msg  # 2 radii of a 1.5 mm port
    # within two radii (at least 2 mm) is accepted: a point picked anywhere on the cap
    ok = apply_port_overrides(_ports(), {"foo": [20.5, 0, 32.9]})
    assert {p.name for p in ok} == {"inlet", "outlet_1", "foo"}


def test_two_names_on_one_port_are_refused():
    from hemotwin.geometry.ports import PortOverrideError

    with pytest.raises(PortOverrideError) as e:
        apply_port_overrides(_ports(), {"a": [0, 0, 50.5], "b": [0.5, 0, 49.0]})
    msg = str(e.value)
    assert "'a' and 'b'" in msg and "port outlet_1" in msg
    with pytest.raises(PortOverrideError, match="one inlet"):
        apply_port_overrides(_ports(), {"inlet_a": [0, 0, 50], "inlet_b": [20, 0, 30]})


def _open_tube_file(tmp_path):
    f = tmp_path / "tube.vtp"
    pv.Cylinder(center=(0, 0, L / 2), direction=(0, 0, 1), radius=R, height=L, resolution=48,
                capping=False).triangulate().subdivide(1).clean().save(f)
    return f


def test_segment_cli_names_on_a_surface(tmp_path, capsys):
    """`hemotwin segment --port-name`: a renamed inlet keeps its role (centerlines need it), the
    help's ``inlet=`` form moves the inlet, a far point is an error naming it."""
    import json

    from hemotwin.cli import main

    f = _open_tube_file(tmp_path)
    rc = main(["segment", str(f), "--out", str(tmp_path / "a"), "--no-figure",
               "--port-name", "proximal=0,0,0"])
    assert rc == 0, capsys.readouterr().err
    ports = json.loads((tmp_path / "a" / "ports.json").read_text())["ports"]
    got = [(p["name"], p["role"]) for p in ports]
    assert got == [("proximal", "inlet"), ("outlet_1", "outlet")]
    rc = main(["segment", str(f), "--out", str(tmp_path / "b"), "--no-figure",
               "--port-name", f"inlet=0,0,{L}"])
    assert rc == 0, capsys.readouterr().err
    ports = json.loads((tmp_path / "b" / "ports.json").read_text())["ports"]
    assert [(p["name"], p["role"], p["center_mm"][2]) for p in ports] == [
        ("inlet", "inlet", pytest.approx(L)), ("outlet_1", "outlet", pytest.approx(0.0, abs=1e-9))]
    capsys.readouterr()
    rc = main(["segment", str(f), "--out", str(tmp_path / "c"), "--no-figure",
               "--port-name", "foo=0,0,-250"])
    err = capsys.readouterr().err
    assert rc != 0 and "'foo'" in err and "[0.0, 0.0, -250.0]" in err and "inlet" in err
    assert not (tmp_path / "c" / "ports.json").exists()


# ----------------------------------------------------------------------------- 5
def _provisional(*args):
    """A port as ``detect_ports`` gives it: named from an estimated (voxel-footprint) area."""
    p = Port(*args)
    p.provisional = True
    return p


def _implicit_surface(f, lo, hi, h=0.2):
    n = [int(round((b - a) / h)) + 1 for a, b in zip(lo, hi)]
    img = pv.ImageData(dimensions=n, spacing=(h, h, h), origin=lo)
    p = np.asarray(img.points)
    img.point_data["f"] = f(p[:, 0], p[:, 1], p[:, 2])
    return img.contour([0.0], scalars="f").triangulate().clean()


def _cone():
    """Closed cone along z: radius 3 mm at z = 0, 2 mm at z = 15 (ends beyond, at -3 and 18)."""
    def f(x, y, z):
        return np.maximum.reduce([np.hypot(x, y) - (3.0 - z / 15.0), -3.0 - z, z - 18.0])

    return _implicit_surface(f, (-5, -5, -4), (5, 5, 19))


def test_cap_ports_names_by_the_measured_cut():
    """Names from wrong area estimates (as a voxel footprint can give) are redone on the cut."""
    from hemotwin.geometry.surface import cap_ports

    up, down = np.array([0, 0, 1.0]), np.array([0, 0, -1.0])
    ports = [_provisional("inlet", "inlet", 15.0 * up, up, 100.0, 2.0),
             _provisional("outlet_1", "outlet", 0.0 * up, down, 10.0, 3.0)]
    capped = cap_ports(_cone(), ports, 0.2)
    assert [(p.name, p.role) for p in ports] == [("inlet", "inlet"), ("outlet_1", "outlet")]
    np.testing.assert_allclose(ports[0].center_mm, [0, 0, 0], atol=0.05)
    # polygon of the marching-cubes circle: within 2 % of pi r^2
    assert ports[0].area_mm2 == pytest.approx(math.pi * 9.0, rel=0.02)
    assert ports[1].area_mm2 == pytest.approx(math.pi * 4.0, rel=0.02)
    pid = np.asarray(capped.cell_data["port_id"])
    z = capped.cell_centers().points[:, 2]
    np.testing.assert_allclose(z[pid == 0], 0.0, atol=1e-6)  # labels follow the new order
    np.testing.assert_allclose(z[pid == 1], 15.0, atol=1e-6)
    assert list(capped.field_data["port_names"]) == ["inlet", "outlet_1"]


def _tube_with_twig():
    """Closed tube (r 3 mm, z -3..18) with a 0.45 mm twig that runs down through z = 0 at x 4.2."""
    def f(x, y, z):
        main = np.maximum.reduce([np.hypot(x, y) - 3.0, -3.0 - z, z - 18.0])
        twig = np.maximum.reduce([np.hypot(x - 4.2, y) - 0.45, -3.0 - z, z - 6.0])
        bridge = np.maximum.reduce([np.hypot(z - 6.0, y) - 0.45, -x, x - 4.2])
        return np.minimum.reduce([main, twig, bridge])

    return _implicit_surface(f, (-5, -5, -4), (6, 5, 19), h=0.15)


def test_a_twig_cut_beside_a_port_neither_resizes_it_nor_becomes_it():
    from hemotwin.geometry.surface import cap_ports

    up, down = np.array([0, 0, 1.0]), np.array([0, 0, -1.0])
    ports = [_provisional("inlet", "inlet", 0.0 * up, down, 28.3, 3.0),
             _provisional("outlet_1", "outlet", 15.0 * up, up, 28.3, 3.0)]
    capped = cap_ports(_tube_with_twig(), ports, 0.15)
    for p in ports:  # the port is its own section, not the twig's 0.6 mm^2
        assert p.area_mm2 == pytest.approx(math.pi * 9.0, rel=0.02)
        assert abs(p.center_mm[0]) < 0.05
    pid = np.asarray(capped.cell_data["port_id"])
    c = capped.cell_centers().points
    twig_cap = (np.abs(c[:, 2]) < 1e-6) & (c[:, 0] > 3.5)
    assert twig_cap.any() and (pid[twig_cap] == -1).all()  # the twig's cut is closed as wall
    assert (pid[(np.abs(c[:, 2]) < 1e-6) & (c[:, 0] < 3.1)] >= 0).all()


def test_a_port_without_an_opening_is_dropped():
    from hemotwin.geometry.surface import cap_ports

    up, down = np.array([0, 0, 1.0]), np.array([0, 0, -1.0])
    ports = [_provisional("inlet", "inlet", 0.0 * up, down, 28.3, 3.0),
             _provisional("outlet_1", "outlet", 15.0 * up, up, 12.6, 2.0),
             # a voxel patch that the smoothed surface does not reach: nothing to cut there
             _provisional("outlet_2", "outlet", np.array([30.0, 0, 8.0]), np.array([1.0, 0, 0]),
                          3.0, 1.0)]
    capped = cap_ports(_cone(), ports, 0.2)
    assert [p.name for p in ports] == ["inlet", "outlet_1"]
    assert all(p.area_mm2 > 10.0 for p in ports)
    assert set(np.unique(capped.cell_data["port_id"])) == {-1, 0, 1}
