# SPDX-License-Identifier: Apache-2.0
"""The CPU backend's interpolated (Bouzidi-Firdaouss-Lallemand) walls against a plain numpy step.

The reference is written from the paper's rule, not from the kernel: BGK collide, pull-stream, and
for every population whose source cell is solid the linear interpolation of Bouzidi et al. (2001,
Phys. Fluids 13:3452) along the link that hit the wall, with the mass the interpolation adds returned
through the rest population (the solver's mass-conserving variant). The blob has cells one lattice
unit wide, so some cells have walls in opposite directions (the kernel's two-phase path) and some
links have no fluid cell behind them (the half-way fallback). Every link gets its own random q,
a few exactly 1/2.
"""
import numpy as np
import pytest

import hemotwin
from hemotwin import _core
from hemotwin.geometry.voxelize import _links_leaving
from hemotwin.lattice import C, OPPOSITE, W

TAU = 0.6


def blob(shape=(14, 13, 22)):
    """An irregular closed vessel: two overlapping ellipsoids, a one-cell-wide side channel and a
    one-cell pocket, with a solid border everywhere."""
    x, y, z = np.meshgrid(*(np.arange(s, dtype=float) for s in shape), indexing="ij")
    fluid = ((x - 6.5) / 4.6) ** 2 + ((y - 6) / 3.9) ** 2 + ((z - 7) / 5.3) ** 2 < 1
    fluid |= ((x - 7) / 3.2) ** 2 + ((y - 7) / 4.1) ** 2 + ((z - 14) / 5.8) ** 2 < 1
    fluid[7, 2:6, 10] = True   # one cell wide in x and z: walls on both sides
    fluid[3:6, 6, 17:19] = True
    fluid[2, 6, 12] = True
    fluid[[0, -1]] = False
    fluid[:, [0, -1]] = False
    fluid[:, :, [0, -1]] = False
    return fluid


def wall_links(fluid, seed=3):
    links = _links_leaving(fluid, ~fluid)  # (i, j, k, d): x fluid, x + c_d solid
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 1.0, len(links))
    q[:: 11] = 0.5  # exact half-way links take the plain bounce-back path
    # The lattice stores q in single precision (4 bytes per link); give the reference the same q.
    return links, q.astype(np.float32).astype(np.float64)


def collide(f, fluid):
    rho = f.sum(axis=0)
    rho_safe = np.where(fluid, rho, 1.0)
    u = np.einsum("qd,qxyz->dxyz", C.astype(float), f) / rho_safe
    cu = np.einsum("qd,dxyz->qxyz", C.astype(float), u)
    feq = W[:, None, None, None] * rho * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * (u * u).sum(axis=0))
    return np.where(fluid, f - (f - feq) / TAU, 0.0)


def numpy_bouzidi_steps(f, fluid, links, q, steps):
    qmap = {(int(i), int(j), int(k), int(d)): float(v) for (i, j, k, d), v in zip(links, q)}
    for _ in range(steps):
        post = collide(f, fluid)
        new = np.zeros_like(f)
        for a in range(19):
            new[a] = np.roll(post[a], shift=tuple(C[a]), axis=(0, 1, 2))
        new[0] = post[0]
        for (i, j, k, d), qd in qmap.items():
            a = OPPOSITE[d]  # the population that comes back into x from the wall
            x = np.array([i, j, k])
            fi_x = post[d][tuple(x)]
            xb = x - C[d]
            has_xb = bool(fluid[tuple(xb)])
            if qd < 0.5:
                v = 2 * qd * fi_x + (1 - 2 * qd) * post[d][tuple(xb)] if has_xb else fi_x
            else:
                v = fi_x / (2 * qd) + (1 - 1 / (2 * qd)) * post[a][tuple(x)]
            new[a][tuple(x)] = v
            new[0][tuple(x)] -= v - fi_x
        f = np.where(fluid, new, 0.0)
    return f


def initial_state(fluid, seed=11):
    rng = np.random.default_rng(seed)
    shape = fluid.shape
    x, y, z = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    u = np.stack([0.03 * np.sin(2 * np.pi * z / shape[2]), 0.02 * np.cos(2 * np.pi * x / shape[0]),
                  0.04 * np.cos(2 * np.pi * y / shape[1])])
    rho = 1 + 0.01 * rng.standard_normal(shape)
    cu = np.einsum("qd,dxyz->qxyz", C.astype(float), u)
    f = W[:, None, None, None] * rho * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * (u * u).sum(axis=0))
    return np.where(fluid, f * (1 + 1e-3 * rng.standard_normal(f.shape)), 0.0)


def test_blob_exercises_every_wall_path():
    fluid = blob()
    links, q = wall_links(fluid)
    dirs = {}
    for i, j, k, d in links:
        dirs.setdefault((i, j, k), set()).add(int(d))
    assert any(OPPOSITE[d] in ds for ds in dirs.values() for d in ds), "no cell with opposite walls"
    behind_solid = [not fluid[tuple(np.array(r[:3]) - C[r[3]])] for r in links]
    assert any(b and qv < 0.5 for b, qv in zip(behind_solid, q)), "no q < 1/2 link without a cell behind"
    assert (q < 0.5).any() and (q > 0.5).any() and (q == 0.5).any()


def run_against_reference(device, precision, tol, morton, threads, steps):
    fluid = blob()
    links, q = wall_links(fluid)
    lat = _core.Lattice(fluid.astype(np.uint8), links, q, morton=morton)
    ijk = lat.cell_ijk()
    assert lat.n_cells == fluid.sum()
    f0 = initial_state(fluid)
    solver = _core.Solver(lat, device=device, threads=threads, tau=TAU, magic=0.0, bouzidi=True,
                          precision=precision, check_interval=1000)
    solver.set_populations(f0[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]])
    solver.step(steps)
    got = solver.get_populations()
    want = numpy_bouzidi_steps(f0, fluid, links, q, steps)[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    # The mass-conserving variant: total mass is that of the start, to rounding.
    assert abs(got.sum() - f0.sum()) < 1e3 * tol


@pytest.mark.parametrize("precision, tol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("morton", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_interpolated_walls_match_numpy_reference(precision, tol, morton, threads, steps):
    # The CPU backend's own wall table (core/cpu_walls.hpp), fused into its sweep.
    run_against_reference("cpu", precision, tol, morton, threads, steps)


@pytest.mark.skipif(not hemotwin.cuda_available(), reason="no usable CUDA device (hemotwin.cuda_available() is False)")
@pytest.mark.parametrize("precision, tol", [("float64", 1e-12), ("float32", 2e-6)])
@pytest.mark.parametrize("morton", [False, True])
def test_interpolated_walls_cuda_match_numpy_reference(precision, tol, morton):
    # The GPU's boundary kernel runs the shared kernels/aa_step.hpp correct_boundary_cell() on every
    # wall cell (the CPU uses it only for cells with port links): pin it to the same reference.
    # fp64 tolerance 1e-12: nvcc contracts a*b+c into FMAs, the host compiler does not.
    for steps in (1, 2, 5):
        run_against_reference("cuda", precision, tol, morton, 1, steps)
