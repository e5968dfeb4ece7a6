# SPDX-License-Identifier: Apache-2.0
"""The CPU backend's dense periodic box against a plain numpy BGK step (collide, then np.roll).

The dense box has its own odd-step addressing (neighbour rows by arithmetic, k +- 1 lanes assembled
from aligned vectors, the periodic wrap at each row end): these shapes cover rows of one vector,
of several, and of a length that is not a multiple of the vector (the generic path).
"""
import numpy as np
import pytest

from hemotwin import _core
from hemotwin.lattice import C, W

TAU = 0.6
NO_LINKS = (np.zeros((0, 4), np.int64), np.zeros(0))


def numpy_bgk_steps(f, steps):
    """f: (19, nx, ny, nz) populations before collision; BGK collide, then stream periodically."""
    for _ in range(steps):
        rho = f.sum(axis=0)
        u = np.einsum("qd,qxyz->dxyz", C.astype(float), f) / rho
        cu = np.einsum("qd,dxyz->qxyz", C.astype(float), u)
        u2 = (u * u).sum(axis=0)
        feq = W[:, None, None, None] * rho * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * u2)
        post = f - (f - feq) / TAU
        f = np.stack([np.roll(post[q], shift=tuple(C[q]), axis=(0, 1, 2)) for q in range(19)])
    return f


def perturbed_state(shape, seed=7):
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    u = np.stack([0.04 * np.sin(2 * np.pi * z / shape[2]), 0.02 * np.cos(2 * np.pi * x / shape[0]),
                  -0.03 * np.sin(2 * np.pi * y / shape[1])])
    rho = 1 + 0.01 * rng.standard_normal(shape)
    cu = np.einsum("qd,dxyz->qxyz", C.astype(float), u)
    f = W[:, None, None, None] * rho * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * (u * u).sum(axis=0))
    return f * (1 + 1e-3 * rng.standard_normal(f.shape))


@pytest.mark.parametrize("precision, tol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("shape", [(3, 4, 16), (3, 3, 32), (2, 3, 8), (3, 2, 20), (4, 3, 48)])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_dense_box_matches_numpy_bgk(precision, tol, shape, steps):
    lat = _core.Lattice(np.ones(shape, np.uint8), *NO_LINKS, periodic=[True, True, True])
    assert lat.dense_box
    f0 = perturbed_state(shape)
    ijk = lat.cell_ijk()
    solver = _core.Solver(lat, device="cpu", threads=2, tau=TAU, magic=0.0, bouzidi=True,
                          precision=precision, check_interval=1000)
    solver.set_populations(f0[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]])
    solver.step(steps)
    got = solver.get_populations()
    want = numpy_bgk_steps(f0, steps)[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
