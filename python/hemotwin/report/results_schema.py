# SPDX-License-Identifier: Apache-2.0
"""JSON Schema of results.json (the stable contract scripts rely on) and a validator.

Contract keys (never rename): ``ports[j].name``, ``ports[j].mean_flow_ml_s``,
``ports[j].mean_pressure_mmhg``, ``lesions[i].gradient_mmhg``, ``lesions[i].pd_pa``,
``lesions[i].percent_diameter_stenosis``, ``lesions[i].mld_mm``, ``device.diameter_mm``,
``device.length_mm``, ``post.lesions[i].gradient_mmhg``. Other keys may be added freely.

Conventions: flows are in the port's own direction (into the domain at the inlet, out of it at
outlets, so both are normally positive), mL/s; pressures are time-mean absolute (gauge to the
atmosphere) in mmHg; ``gradient_mmhg`` is the time-mean translesional drop (proximal minus
distal station); ``pd_pa`` is the time-mean distal over proximal (aortic) pressure ratio.
Lesions come from every inlet-to-outlet path, most severe (%DS) first: lesion 1 is the one a
device is sized for and ``post.lesions[i]`` is the same lesion as ``lesions[i]``.
"""
from __future__ import annotations

__all__ = ["RESULTS_SCHEMA", "validate_results"]

_num = {"type": ["number", "null"]}
_port = {
    "type": "object",
    "required": ["name", "role", "mean_flow_ml_s", "mean_pressure_mmhg"],
    "properties": {
        "name": {"type": "string"},
        "role": {"enum": ["inlet", "outlet"]},
        "mean_flow_ml_s": {"type": "number", "description": "mL/s in the port's direction"},
        "mean_pressure_mmhg": {"type": "number", "description": "time-mean pressure, mmHg"},
        "radius_mm": _num, "flow_fraction": _num, "target_flow_fraction": _num,
        "min_pressure_mmhg": _num, "max_pressure_mmhg": _num,
    },
}
_lesion = {
    "type": "object",
    "required": ["gradient_mmhg", "pd_pa", "percent_diameter_stenosis", "mld_mm"],
    "properties": {
        "gradient_mmhg": {"type": "number", "description": "time-mean translesional drop, mmHg"},
        "pd_pa": {"type": "number", "description": "Pd/Pa (FFR-like; not hyperemic unless the "
                                                     "inflow says so)"},
        "percent_diameter_stenosis": {"type": "number", "description": "(1 - MLD/RVD) x 100"},
        "mld_mm": {"type": "number", "exclusiveMinimum": 0},
        "rvd_mm": _num, "length_mm": _num, "start_mm": _num, "end_mm": _num, "position_mm": _num,
        "gradient_peak_to_peak_mmhg": _num, "pa_mmhg": _num, "pd_mmhg": _num,
        "path_port": {"type": ["string", "null"],
                      "description": "outlet of the inlet-to-outlet path the positions are along"},
        "ostial": {"type": "boolean", "description": "starts at a side branch's ostium"},
        "lattice_cells_across_mld": {"type": "number",
                                     "description": "MLD / lattice spacing; under 5 unresolved"},
    },
}
_wss = {"type": "object", "properties": {k: _num for k in (
    "mean_pa", "median_pa", "p05_pa", "p95_pa", "max_pa", "min_pa", "low_area_fraction")}}
_conservation = {"type": "object", "required": ["mass_imbalance"],
                 "properties": {"mass_imbalance": _num, "inflow_ml_s": _num, "outflow_ml_s": _num}}

RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hemotwin.invalid/schemas/results-1.0.json",
    "title": "hemotwin results.json",
    "type": "object",
    "required": ["schema_version", "case", "status", "ports", "lesions", "device", "post",
                 "conservation", "run"],
    "properties": {
        "schema_version": {"const": "1.0"},
        "case": {"type": "string"},
        "status": {"enum": ["ok", "not_converged", "error"]},
        "question_of_interest": {"type": "string"},
        "warnings": {"type": "array", "items": {"type": "string"},
                     "description": "results to read with care and why (e.g. an unresolved lesion)"},
        "ports": {"type": "array", "minItems": 2, "items": _port},
        "lesions": {"type": "array", "items": _lesion},
        "wss": _wss,
        "conservation": _conservation,
        "run": {"type": "object", "required": ["mode", "converged", "steps"]},
        "device": {
            "oneOf": [{"type": "null"}, {
                "type": "object", "required": ["diameter_mm", "length_mm"],
                "properties": {"diameter_mm": {"type": "number", "exclusiveMinimum": 0},
                               "length_mm": {"type": "number", "exclusiveMinimum": 0},
                               "start_mm": _num, "end_mm": _num, "family": {"type": "string"}}}],
        },
        "post": {
            "oneOf": [{"type": "null"}, {
                "type": "object", "required": ["ports", "lesions"],
                "properties": {"ports": {"type": "array", "items": _port},
                               "lesions": {"type": "array", "items": {
                                   "type": "object", "required": ["gradient_mmhg"],
                                   "properties": {"gradient_mmhg": {"type": "number"},
                                                  "pd_pa": _num}}},
                               "wss": _wss, "conservation": _conservation}}],
        },
        "files": {"type": "object"},
        "run_time_s": _num,
    },
}


def validate_results(results: dict) -> None:
    """Raise ``jsonschema.ValidationError`` if ``results`` does not follow RESULTS_SCHEMA."""
    import jsonschema

    jsonschema.validate(results, RESULTS_SCHEMA)
