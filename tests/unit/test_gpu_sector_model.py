# SPDX-License-Identifier: Apache-2.0
"""benchmarks/gpu_sector_model.py counts the odd AA step's 32-byte sectors per warp exactly."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_sector_model.py"
NO_LINKS = (np.zeros((0, 4), np.int64), np.zeros(0))


@pytest.fixture(scope="module")
def model():
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} not present (an installed package without the source tree's benchmarks/)")
    spec = importlib.util.spec_from_file_location("gpu_sector_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_single_row_counts_by_hand(model):
    # 64 cells in one row along k: two warps. Every population but +-z bounces back into its own
    # slot (4 sectors); +z reads c-1 (warp 0: 4 sectors, warp 1: 5), -z reads c+1 (5, then 4).
    ct = np.zeros((3, 3, 66), np.uint8)
    ct[1, 1, 1:65] = 1
    r = model.odd_step_sector_factor(ct, *NO_LINKS, morton=False)
    assert r["cells"] == 64
    assert r["odd_step_factor"] == pytest.approx((16 * 2 * 4 + 4 + 5 + 5 + 4) / (18 * 2 * 4))
    # one base per warp and direction serves the 16 all-bounce-back directions in both warps, +z in
    # warp 1 (every cell reads c - 1) and -z in warp 0; cell 0 (+z) and cell 63 (-z) break the others
    assert r["warp_direction_pairs_with_one_base"] == pytest.approx((16 * 2 + 2) / (18 * 2))


def test_natural_order_coalesces_better_than_morton_on_a_vessel(model):
    x, y, z = np.meshgrid(np.arange(24), np.arange(24), np.arange(96), indexing="ij")
    ct = (((x - 11.5) ** 2 + (y - 11.5 - 4 * np.sin(z / 15)) ** 2) < 8.5 ** 2).astype(np.uint8)
    ct[:, :, [0, -1]] = 0
    natural = model.odd_step_sector_factor(ct, *NO_LINKS, morton=False)
    morton = model.odd_step_sector_factor(ct, *NO_LINKS, morton=True)
    assert 1.0 <= natural["odd_step_factor"] < 1.5
    assert morton["odd_step_factor"] > 1.5 * natural["odd_step_factor"]
    assert natural["modelled_bytes_per_update"] < morton["modelled_bytes_per_update"]
