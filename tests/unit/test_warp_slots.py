# SPDX-License-Identifier: Apache-2.0
"""The CUDA backend's per-warp shortcuts through the odd step's neighbour table
(cpp/include/hemotwin/core/warp_slots.hpp, read by kernels/aa_step.hpp odd_slot), on the host where CI
can run them: on lattices the core builds itself (build_sparse_lattice), every slot of every row and
cell read back through the kernel's own odd_slot is the table's, whichever kind each (row, warp) pair
got: one base, two runs with bounce-backs, or the table itself."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest


@pytest.fixture(scope="module")
def driver(build_cpp_driver):
    return build_cpp_driver("warp_slots_check", "cpp/src/sparse_lattice.cpp")


def _check(driver, cell_type, periodic=(False, False, False), morton=False) -> dict:
    head = " ".join(str(v) for v in (*cell_type.shape, *(int(p) for p in periodic), int(morton)))
    text = head + "\n" + " ".join(str(int(v)) for v in cell_type.ravel())
    out = subprocess.run([str(driver)], input=text, capture_output=True, text=True, timeout=120, check=True).stdout
    res = dict(line.split(" ", 1) for line in out.splitlines())
    assert "error" not in res, res["error"]
    res = {k: int(v) for k, v in res.items()}
    groups = -(-res["cells"] // 32)
    assert res["one_run"] + res["two_runs"] + res["table"] == 18 * groups
    return res


def _tube(nx=24, ny=24, nz=40):
    x, y = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ct = np.zeros((nx, ny, nz), np.uint8)
    ct[np.hypot(x - 11.3, y - 11.7) < 9] = 1
    ct[:, :, 0] = np.where(ct[:, :, 1] == 1, 2, 0)  # inlet and outlet beyond the ends, as a vessel has
    ct[:, :, -1] = np.where(ct[:, :, -2] == 1, 3, 0)
    return ct


def test_tube_in_natural_order_needs_no_table(driver):
    # warps at the wall (bounce-backs) and warps crossing from one column of cells into the next are
    # two runs; none is left to the per-cell table
    res = _check(driver, _tube())
    assert res["mismatches"] == 0
    assert res["one_run"] > 0 and res["two_runs"] > 0 and res["table"] == 0, res


def test_every_kind_reads_back_exactly(driver):
    # Morton order (scattered neighbours: mostly the table), a periodic box whose columns (20 cells)
    # are shorter than a warp (wrap-around), and a random porous block (every kind at once)
    rng = np.random.default_rng(7)
    cases = {
        "morton tube": (_tube(), (False,) * 3, True),
        "periodic box": (np.ones((20, 20, 20), np.uint8), (True,) * 3, False),
        "porous block": ((rng.random((16, 18, 45)) < 0.7).astype(np.uint8), (False, True, False), False),
    }
    kinds = {"one_run": 0, "two_runs": 0, "table": 0}
    for name, (ct, periodic, morton) in cases.items():
        res = _check(driver, ct, periodic, morton)
        assert res["mismatches"] == 0, (name, res)
        for k in kinds:
            kinds[k] += res[k]
    assert all(v > 0 for v in kinds.values()), kinds
