# SPDX-License-Identifier: Apache-2.0
"""The compiled lattice builder: layout, ports, and clear errors on bad input."""
import numpy as np
import pytest

from hemotwin import _core
from hemotwin.lattice import C, OPPOSITE, W


def duct(n=8, length=12):
    ct = np.zeros((n + 2, n + 2, length + 2), np.uint8)
    ct[1:-1, 1:-1, 1:-1] = 1
    ct[1:-1, 1:-1, 0] = 2
    ct[1:-1, 1:-1, -1] = 3
    return ct


NO_LINKS = (np.zeros((0, 4), np.int64), np.zeros(0))


def test_velocity_set_matches_python():
    np.testing.assert_array_equal(_core.d3q19_velocities(), C)
    assert np.isclose(W.sum(), 1.0)
    np.testing.assert_array_equal(C[OPPOSITE], -C)


def test_builder_counts_cells_ports_and_links():
    lat = _core.Lattice(duct(), *NO_LINKS)
    assert lat.n_cells == 8 * 8 * 12
    assert lat.n_ports == 2
    assert len(lat.port_cells(0)) == 64 and len(lat.port_cells(1)) == 64
    # each cell of the end layer links axially to the port; diagonals only where the neighbour is port too
    assert lat.port_link_count(0) == 64 + 4 * 7 * 8
    ijk = lat.cell_ijk()
    assert ijk.shape == (lat.n_cells, 3)
    assert set(map(tuple, ijk[lat.port_cells(0)][:, 2:])) == {(1,)}
    assert lat.bytes_per_cell(4) > 19 * 4


def test_dense_periodic_box_is_flagged():
    lat = _core.Lattice(np.ones((4, 5, 6), np.uint8), *NO_LINKS, periodic=(True, True, True))
    assert lat.dense_box and lat.n_links == 0


@pytest.mark.parametrize("bad, exc, words", [
    (np.ones((4, 4, 4), np.float32), TypeError, "uint8"),
    (np.ones((4, 4), np.uint8), ValueError, "3-D"),
    (np.zeros((4, 4, 4), np.uint8), ValueError, "no fluid"),
])
def test_bad_cell_type_raises_clear_error(bad, exc, words):
    with pytest.raises(exc, match=words):
        _core.Lattice(bad, *NO_LINKS)


def test_port_without_fluid_is_refused():
    ct = duct()
    ct[0, 0, 0] = 4  # a corner cell of port 2 that no fluid cell links to
    with pytest.raises(ValueError, match="port 2.*touches no fluid"):
        _core.Lattice(ct, *NO_LINKS)


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5, np.nan])
def test_q_outside_unit_interval_is_refused(q):
    links = np.array([[1, 1, 5, 2]])  # cell (1,1,5) towards -x: the wall
    with pytest.raises(ValueError, match=r"outside \(0, 1\]"):
        _core.Lattice(duct(), links, np.array([q]))


def test_q_on_a_fluid_link_or_solid_cell_is_refused():
    with pytest.raises(ValueError, match="neighbour is fluid"):
        _core.Lattice(duct(), np.array([[2, 2, 5, 1]]), np.array([0.3]))
    with pytest.raises(ValueError, match="not fluid"):
        _core.Lattice(duct(), np.array([[0, 0, 5, 1]]), np.array([0.3]))
    with pytest.raises(ValueError, match="shape"):
        _core.Lattice(duct(), np.array([[0, 0, 5]]), np.array([0.3]))


def test_unknown_device_and_precision_raise():
    lat = _core.Lattice(duct(), *NO_LINKS)
    with pytest.raises(ValueError, match="device"):
        _core.Solver(lat, "tpu")
    with pytest.raises(ValueError, match="precision"):
        _core.Solver(lat, "cpu", precision="float8")
    with pytest.raises(ValueError, match="tau"):
        _core.Solver(lat, "cpu", tau=0.5)


def test_cuda_request_without_cuda_is_a_clear_error():
    import hemotwin

    if hemotwin.cuda_available():
        pytest.skip("a GPU is present")
    lat = _core.Lattice(duct(), *NO_LINKS)
    with pytest.raises(RuntimeError, match="cuda"):
        _core.Solver(lat, "cuda")
