# SPDX-License-Identifier: Apache-2.0
"""The lbmpy peers, run as `hemotwin bench` runs them: their own process, one JSON line on stdout.

lbmpy is GPL and only an optional extra: without it these tests skip. Each one generates and
compiles lbmpy kernels (about 5-10 s of code generation), so the lattices are tiny.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("lbmpy", reason="lbmpy (GPL, the optional `bench` extra) is not installed")

from hemotwin import bench


def _run_peer_script(script: str, *args) -> dict:
    cmd = [sys.executable, str(bench.PEERS_DIR / script), *map(str, args), "--json"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sparse_peer_module():
    spec = importlib.util.spec_from_file_location("lbmpy_sparse_peer", bench.PEERS_DIR / "lbmpy_sparse_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sparse_peer_runs_a_tube_and_conserves_mass(tmp_path):
    mask = bench.curved_tube_mask(4.0)
    path = tmp_path / "tube.npy"
    np.save(path, mask)
    r = _run_peer_script("lbmpy_sparse_peer.py", "--mask", path, "--steps", 4)
    assert r["mlups"]["lbmpy_sparse"] > 0
    assert r["cells"] == int(mask.sum())
    assert r["shape"] == list(mask.shape)
    detail = r["detail"]["lbmpy_sparse"]
    assert detail["mass_drift"] < 1e-4
    assert detail["max_density_change"] > 0  # the initial wave moved: the kernel did update the lattice


def test_sparse_index_list_pulls_from_fluid_neighbours_and_bounces_back_at_walls():
    from lbmpy import LBStencil, Stencil

    peer = _sparse_peer_module()
    stencil = LBStencil(Stencil.D3Q19)
    offsets = np.array(stencil, dtype=np.int64)
    opposite = np.array([stencil.index(tuple(-c for c in d)) for d in stencil])
    mask = np.zeros((3, 3, 4), bool)
    mask[1, 1, 1:3] = True  # two fluid cells along z: 0 at z=1, 1 at z=2
    index = peer.pull_index_list(mask, offsets, opposite)
    n = 2
    assert index.shape == (n, 18) and index.flags.f_contiguous
    up = stencil.index((0, 0, 1))
    # direction +z: cell 1 pulls from cell 0; cell 0's upstream is solid, so it gets its own -z back
    assert index[1, up - 1] == 0 + up * n
    assert index[0, up - 1] == 0 + opposite[up] * n
    # every other direction of either cell bounces back off the walls
    for d in range(1, 19):
        if d in (up, opposite[up]):
            continue
        assert list(index[:, d - 1]) == [0 + opposite[d] * n, 1 + opposite[d] * n]


def test_dense_peer_runs_a_box_of_the_given_shape():
    r = _run_peer_script("lbmpy_peer.py", "--shape", 8, 12, 16, "--kernels", "aa", "--steps", 2)
    assert r["shape"] == [8, 12, 16]
    assert list(r["mlups"]) == ["lbmpy_aa"]
    assert r["mlups"]["lbmpy_aa"] > 0


def test_dense_peer_times_at_least_the_minimum_window():
    # hemotwin's own timings run >= min_time_s; the peer must be timed over a window as long
    r = _run_peer_script("lbmpy_peer.py", "--shape", 8, 8, 8, "--kernels", "aa", "--steps", 2, "--min-time", 0.3)
    detail = r["detail"]["lbmpy_aa"]
    assert detail["seconds"] >= 0.3 and r["min_time_s"] == 0.3
    assert detail["steps"] > 2 and detail["steps"] % 2 == 0  # whole even/odd pairs
    assert r["mlups"]["lbmpy_aa"] == pytest.approx(8 ** 3 * detail["steps"] / detail["seconds"] / 1e6)


def test_dense_peer_refuses_an_odd_step_count():
    cmd = [sys.executable, str(bench.PEERS_DIR / "lbmpy_peer.py"), "--size", 8, "--steps", 3, "--json"]
    out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and "--steps must be a positive even number" in out.stderr
