# SPDX-License-Identifier: Apache-2.0
"""`hemotwin bench --json --quick` prints one JSON object with the keys the performance issue names."""
import json

import numpy as np
import pytest

from hemotwin import bench
from hemotwin.cli import main
from hemotwin.solver.simulation import POPULATION_BYTES


def test_bench_json_quick_has_required_keys(capsys):
    rc = main(["bench", "--json", "--quick", "--size", "8", "--sparse-spacing-mm", "4", "--peers", "numpy"])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # one JSON object, nothing else on stdout
    res = json.loads(out[0])
    for key in ("stream_triad_gbps", "dense_fp32_mlups", "roofline_fraction", "sparse_fp32_mlups", "peers",
                "dense_fp64_mlups", "sparse_fp64_mlups", "runs", "aorta_1000_steps_s", "commit", "date"):
        assert key in res, key
    assert isinstance(res["peers"], dict)
    if "error" not in res["peer_details"].get("numpy", {"error": ""}):
        assert res["peers"]["numpy"] > 0
    assert res["stream_triad_gbps"] > 0 and res["dense_fp32_mlups"] > 0 and res["sparse_fp32_mlups"] > 0
    assert {(r["case"], r["precision"]) for r in res["runs"]} == {
        (c, p) for c in ("dense", "sparse") for p in ("float32", "float64", "float16", "bfloat16")}
    for r in res["runs"]:  # bytes come from the solver: populations in and out at least
        assert r["bytes_per_update"] >= 2 * 19 * POPULATION_BYTES[r["precision"]]
        assert r["bytes_per_cell"] >= 19 * POPULATION_BYTES[r["precision"]]
    assert res["dense_fp16_mlups"] > 0 and res["sparse_fp16_mlups"] > 0


def test_inplace_roofline_matches_issue_anchor():
    # issue 5: triad 72.8 GB/s -> about 640 MLUPS (x 4/3 / 152 B)
    assert bench.inplace_roofline_mlups(72.8, 4) == pytest.approx(72.8e9 * 4 / 3 / 152 / 1e6)


def test_synthetic_tube_is_a_thin_fraction_of_its_box():
    m = bench.curved_tube_mask(2.0)
    assert 0.02 < m.mean() < 0.5


def test_wall_links_from_field_put_the_wall_where_the_label_crosses_half():
    # a slab: field 1 inside, falling linearly to 0 across two cells; the 0.5 level sits 0.25 cell
    # beyond the last fluid cell along +x
    field = np.zeros((6, 4, 4))
    field[:3] = 1.0
    field[3] = 0.75 - 0.5  # 0.25: the 0.5 crossing is at 1/3 of the link from x=2 (1.0 -> 0.25)
    mask = field > 0.5
    links, q = bench.wall_links_from_field(mask, field)
    plus_x = links[:, 3] == 1
    assert plus_x.any()
    np.testing.assert_allclose(q[plus_x], (1.0 - 0.5) / (1.0 - 0.25))
    assert np.all((q > 0) & (q <= 1))
