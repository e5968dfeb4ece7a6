# SPDX-License-Identifier: Apache-2.0
"""Port detection and the naming rule."""

import numpy as np
import pytest
from hemotwin.geometry.grid import VoxelGrid
from hemotwin.geometry.ports import (
    apply_port_overrides,
    detect_ports,
    order_ports,
    read_ports_json,
    write_ports_json,
)


def _tube_mask(shape=(30, 30, 60), r=6.0, spacing=(0.5, 0.5, 0.5)):
    ijk = np.indices(shape).astype(float)
    c = (np.array(shape[:2]) - 1) / 2
    m = np.hypot(ijk[0] - c[0], ijk[1] - c[1]) < r
    return m, VoxelGrid(spacing, (0.0, 0.0, 0.0), np.eye(3), shape)


def test_order_rule():
    # largest is the inlet; outlets by decreasing area
    order, names, roles = order_ports([2.0, 5.0, 3.0], [[0, 0, 5], [0, 0, 0], [0, 0, 9]])
    assert order == [1, 2, 0] and names == ["inlet", "outlet_1", "outlet_2"]
    assert roles == ["inlet", "outlet", "outlet"]
    # areas within 10 %: lowest z wins
    order, names, _ = order_ports([4.0, 4.05], [[0, 0, 40], [0, 0, 0]])
    assert order == [1, 0]
    order, _, _ = order_ports([4.0, 9.0], [[0, 0, 0], [0, 0, 1]], inlet_index=0)
    assert order == [0, 1]


def test_boundary_ports_of_a_tube():
    m, g = _tube_mask()
    ports = detect_ports(m, g)
    assert [p.name for p in ports] == ["inlet", "outlet_1"]
    np.testing.assert_allclose(ports[0].center_mm, [7.25, 7.25, 0.0], atol=1e-9)
    np.testing.assert_allclose(ports[0].normal, [0, 0, -1])
    np.testing.assert_allclose(ports[1].normal, [0, 0, 1])
    np.testing.assert_allclose(ports[0].radius_mm, 3.0, rtol=0.05)


def test_direction_matrix_respected():
    m, g = _tube_mask()
    g2 = VoxelGrid(g.spacing_mm, (10.0, 20.0, 30.0), np.diag([-1.0, -1.0, 1.0]), g.shape)
    ports = detect_ports(m, g2)
    np.testing.assert_allclose(ports[0].center_mm, [10 - 7.25, 20 - 7.25, 30.0], atol=1e-9)
    np.testing.assert_allclose(ports[1].normal, [0, 0, 1])


def test_clip_plane_port_is_inlet():
    m, g = _tube_mask()
    world_z = np.indices(m.shape)[2] * 0.5
    m = m & (world_z < 20.0)  # what a clip plane at z = 20 (normal +z) leaves
    ports = detect_ports(m, g, clip_planes=[(7.25, 7.25, 20.0, 0, 0, 1)])
    inlet = ports[0]
    assert inlet.name == "inlet" and inlet.source == "clip"
    np.testing.assert_allclose(inlet.normal, [0, 0, 1])
    np.testing.assert_allclose(inlet.center_mm, [7.25, 7.25, 20.0], atol=1e-9)
    np.testing.assert_allclose(inlet.radius_mm, 3.0, rtol=0.1)
    assert ports[1].source == "boundary"


def test_overrides_and_json(tmp_path):
    m, g = _tube_mask()
    ports = detect_ports(m, g)
    ports = apply_port_overrides(ports, {"inlet": [7.25, 7.25, 29.5], "outlet_low": [7, 7, 0]})
    assert [p.name for p in ports] == ["inlet", "outlet_low"]
    assert ports[0].center_mm[2] == pytest.approx(29.5)
    p = write_ports_json(ports, tmp_path / "ports.json")
    back = read_ports_json(p)
    assert [q.name for q in back] == ["inlet", "outlet_low"]
    np.testing.assert_allclose(back[1].normal, [0, 0, -1])
