# SPDX-License-Identifier: Apache-2.0
"""Case files: TOML schema (pydantic v2), one-line validation errors, unit parsing."""
from .schema import Case, CaseError, case_from_dict, find_shared_data, load_case
from .units_parse import UnitError, parse_quantity

__all__ = ["Case", "CaseError", "UnitError", "case_from_dict", "find_shared_data", "load_case",
           "parse_quantity"]
