# SPDX-License-Identifier: Apache-2.0
"""The CUDA backend's sliced boundary-link layout (cpp/include/hemotwin/core/sliced_links.hpp) on the
host, where CI can run it: every CSR link lands on one entry of its cell's slice, the cells of each
thread-block window are the same cells reordered busiest first, and reading a sliced cell's links as
the boundary kernel does (kernels/aa_step.hpp links_of) gives back exactly that cell's CSR links."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest


@pytest.fixture(scope="module")
def driver(build_cpp_driver):
    return build_cpp_driver("sliced_links_check")


def _slice(driver, counts, width=32, window=256):
    text = f"{width} {window}\n" + " ".join(str(int(c)) for c in counts)
    out = subprocess.run([str(driver)], input=text, capture_output=True, text=True, timeout=60, check=True).stdout
    res = {"links": {}}
    for line in out.splitlines():
        key, *vals = line.split()
        if key == "error":
            raise ValueError(line[len("error "):])
        if key == "links":
            res["links"][int(vals[0])] = [int(v) for v in vals[1:]]
        else:
            res[key] = np.array([int(v) for v in vals], dtype=np.int64)
    return res


@pytest.mark.parametrize("n_cells", [1, 31, 32, 257, 1000])
def test_every_link_has_one_entry_and_reads_back(driver, n_cells):
    rng = np.random.default_rng(n_cells)
    counts = rng.integers(1, 19, n_cells)  # a boundary cell has 1 to 18 links
    width, window = 32, 256
    s = _slice(driver, counts, width, window)
    begin = np.concatenate([[0], np.cumsum(counts)])
    cell = s["cell"]
    for w in range(0, n_cells, window):  # same cells per window, busiest first, ties in lattice order
        part = cell[w:w + window]
        assert sorted(part) == list(range(w, min(w + window, n_cells)))
        assert all(np.diff(counts[part]) <= 0)
        for c in np.unique(counts[part]):
            tied = part[counts[part] == c]
            assert all(np.diff(tied) > 0)
    pos = s["position"]
    assert len(pos) == begin[-1] and len(np.unique(pos)) == len(pos) and pos.max() < s["entries"]
    rows = [counts[cell[k:k + width]].max() for k in range(0, n_cells, width)]
    assert s["entries"] == width * sum(rows)
    assert list(s["slice_begin"]) == list(width * np.concatenate([[0], np.cumsum(rows)[:-1]]))
    for k in range(n_cells):  # the kernel's view of sliced cell k is CSR cell cell[k]'s links, in order
        c = cell[k]
        assert s["links"][k] == list(range(begin[c], begin[c + 1]))


def test_sorting_cuts_padding_on_mixed_counts(driver):
    # alternating 1- and 18-link cells: unsorted, every warp would run 18 rows for half-empty lanes
    counts = np.tile([1, 18], 128)
    s = _slice(driver, counts)
    assert s["entries"] == 32 * (4 * 18 + 4 * 1)  # 4 warps of 18-link cells, 4 of 1-link cells


def test_window_must_hold_whole_slices(driver):
    with pytest.raises(ValueError, match="window must hold whole slices"):
        _slice(driver, [1, 2, 3], width=32, window=48)
