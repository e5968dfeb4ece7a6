# SPDX-License-Identifier: Apache-2.0
"""Flow-core acceptance against exact solutions (limits from the flow-core issue)."""
import json
import subprocess
import sys

import pytest

from hemotwin import verification as v


def test_poiseuille_bouzidi_20_cells(backend):
    e = v.poiseuille(20, device=backend, precision="float64").errors
    assert e["velocity_l2"] <= 0.02
    assert e["wss"] <= 0.05
    assert e["pressure_drop"] <= 0.03
    assert e["mass_imbalance"] <= 0.001


def test_womersley_20_cells(backend):
    e = v.womersley(20, device=backend, precision="float64").errors
    assert e["velocity_l2"] <= 0.05


def test_observed_order_bouzidi_is_second_order():
    # 8/12/16 cells per diameter here; `hemotwin verify order` runs 10/20/40.
    res = v.observed_order((8, 12, 16), precision="float64")
    assert res["order"]["bouzidi"] >= 1.7
    assert res["order"]["halfway"] < res["order"]["bouzidi"]


def test_verify_cli_json_contract():
    out = subprocess.run([sys.executable, "-m", "hemotwin.cli", "verify", "womersley", "--resolution", "10",
                          "--json"], capture_output=True, text=True, check=True).stdout
    rec = json.loads(out.strip().splitlines()[-1])
    assert rec["case"] == "womersley" and rec["resolution"] == 10 and "velocity_l2" in rec["errors"]
