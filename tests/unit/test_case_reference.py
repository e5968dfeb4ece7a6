# SPDX-License-Identifier: Apache-2.0
"""docs/case_file.md is the schema's own reference: regenerated, it must not change."""
from pathlib import Path

from hemotwin.config import schema
from hemotwin.config.reference import case_reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "case_file.md"


def test_committed_reference_is_current():
    text = case_reference_markdown()
    assert DOC.read_text(encoding="utf-8") == text, (
        "docs/case_file.md is stale: python -m hemotwin.config.reference > docs/case_file.md")


def test_reference_covers_every_key_with_units_and_defaults():
    text = case_reference_markdown()
    for name, field in schema.Case.model_fields.items():
        if name in ("source_path", "raw"):
            continue
        assert f"## [{field.alias or name}" in text, name
    for key in schema.ImageSection.model_fields:
        assert f"| `{key}` |" in text, key
    # a unit-carrying key says so, and its default is shown in a clinical unit
    row = next(ln for ln in text.splitlines() if ln.startswith("| `target_mean_pressure` |"))
    assert "pressure with a unit" in row and '"93 mmHg"' in row
    row = next(ln for ln in text.splitlines() if ln.startswith("| `viscosity` |"))
    assert '"3.5 mPa*s"' in row
    row = next(ln for ln in text.splitlines() if ln.startswith("| `surface_unit` |"))
    assert '"mm" \\| "cm" \\| "m"' in row
