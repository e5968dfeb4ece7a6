# SPDX-License-Identifier: Apache-2.0
"""Case-file schema and unit parsing: values in SI, one-line errors naming field, value, allowed."""
import math

import pytest
from hemotwin.config import CaseError, UnitError, case_from_dict, load_case, parse_quantity
from hemotwin.units import MMHG_PA

BASE = {"image": {"phantom": "aortic_arch"}, "physiology": {"cardiac_output": "5 L/min"}}


@pytest.mark.parametrize("text,kind,si", [
    ("80 mmHg", "pressure", 80 * MMHG_PA),
    ("5 L/min", "flow", 5e-3 / 60),
    ("3.5 mPa*s", "viscosity", 3.5e-3),
    ("3.5 mPa s", "viscosity", 3.5e-3),
    ("3.5 cP", "viscosity", 3.5e-3),
    ("0.4 mm", "length", 4e-4),
    ("1060 kg/m^3", "density", 1060.0),
    ("70 bpm", "frequency", 70 / 60),
    ("1.5 mL/mmHg", "compliance", 1.5e-6 / MMHG_PA),
    ("1490 dyn*s/cm5", "resistance", 1490e5),
    ("12 mL/s", "flow", 12e-6),
])
def test_parse_quantity_to_si(text, kind, si):
    assert math.isclose(parse_quantity(text, kind), si, rel_tol=1e-12)


@pytest.mark.parametrize("text,kind,needle", [
    ("80 mm", "pressure", "not a pressure unit"),
    ("80", "pressure", "has no unit"),
    (80, "pressure", "has no unit"),
    ("fast L/min", "flow", "is not '<number> <unit>'"),
])
def test_parse_quantity_errors(text, kind, needle):
    with pytest.raises(UnitError, match=needle) as e:
        parse_quantity(text, kind)
    assert "\n" not in str(e.value)


def test_defaults_in_si():
    c = case_from_dict(BASE)
    assert math.isclose(c.physiology.inflow.mean, 5e-3 / 60)
    assert math.isclose(c.physiology.target_mean_pressure, 93 * MMHG_PA)
    assert c.physiology.blood.viscosity == 3.5e-3
    assert c.run.mode == "steady" and c.physiology.outlets.model == "rcr"


@pytest.mark.parametrize("override,needles", [
    ({"physiology.blood.viscosity": "3.5 mm"}, ["physiology.blood.viscosity", "'3.5 mm'", "mPa*s"]),
    ({"physiology.target_mean_pressure": "93 mL/s"}, ["target_mean_pressure", "'93 mL/s'", "mmHg"]),
    ({"physiology.cardiac_output": "500 L/min"}, ["physiology.inflow.mean", "500", "60 L/min"]),
    ({"physiology.heart_rate": "900 bpm"}, ["heart_rate", "900", "20-240 bpm"]),
    ({"physiology.outlets.ports.descending": {"model": "rcr"}},
     ["physiology.outlets.ports.descending", "unknown port", "outlet_1"]),
    ({"numerics.cells_across": 2}, ["numerics.cells_across", "2", "greater than or equal to 4"]),
    ({"run.mode": "fast"}, ["run.mode", "'fast'", "'steady' or 'pulsatile'"]),
    ({"numerics.bogus": 1}, ["numerics.bogus", "unknown setting"]),
    ({"physiology.inflow.waveform": "sine"}, ["physiology.inflow.waveform", "'sine'", "builtin:aortic"]),
    ({"segmentation.clip_planes": [[0, 0, 0, 0, 0, 0]]}, ["clip_planes[0]", "normal is zero"]),
    ({"devices.pinned": {"diameter": "300 mm", "length": "20 mm"}}, ["devices.pinned.diameter", "300"]),
])
def test_case_errors_are_one_line(override, needles):
    with pytest.raises(CaseError) as e:
        case_from_dict(BASE, "case.toml", override)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("case.toml: ")
    for n in needles:
        assert n in msg, msg


def test_renamed_port_is_known():
    c = case_from_dict(BASE, None, {"ports.names": {"descending": [0, 25, 0]},
                                    "physiology.outlets.ports.descending": {"model": "resistance",
                                                                            "resistance": "1 mmHg*s/mL"}})
    assert math.isclose(c.physiology.outlets.ports["descending"].resistance, MMHG_PA / 1e-6)


def test_missing_case_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="case file not found"):
        load_case(tmp_path / "nope.toml")


def test_missing_image_file(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text('[image]\npath = "ct.nii.gz"\n[physiology]\ncardiac_output = "5 L/min"\n', encoding="utf-8")
    with pytest.raises(FileNotFoundError) as e:
        load_case(p)
    assert "image.path = 'ct.nii.gz'" in str(e.value) and "\n" not in str(e.value)


def test_bad_toml(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text("[image\n", encoding="utf-8")
    with pytest.raises(CaseError, match="not valid TOML"):
        load_case(p)


def test_shipped_cases_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "cases"
    for name in ("coarctation_demo", "coronary_stenosis_phantom", "coarctation_pulsatile"):
        c = load_case(root / name / "case.toml")
        assert c.case.name == name
    # the pulsatile example's waveform CSV reads without a warning at the case's heart rate
    import warnings

    from hemotwin.solver.waveforms import load_waveform

    c = load_case(root / "coarctation_pulsatile" / "case.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = load_waveform(c.physiology.inflow.waveform, c.physiology.inflow.mean, c.physiology.period_s,
                          c.base_dir)
    assert abs(w.mean_m3_s - 5e-3 / 60) < 1e-9
    c = load_case(root / "thoracic_aorta_cta" / "case.toml", check_files=False)
    assert c.image.path.startswith("shared:")
    for name, unit in (("cerebral_ica_surface", "mm"), ("aorta_iliac_simvascular", "cm")):
        c = load_case(root / name / "case.toml", check_files=False)
        assert c.image.surface.startswith("shared:") and c.image.path is None
        assert c.image.surface_unit == unit


def test_surface_unit_is_checked():
    from hemotwin.config import case_from_dict

    with pytest.raises(CaseError, match="surface_unit"):
        case_from_dict({"image": {"surface": "v.stl", "surface_unit": "inch"}})


def test_demo_dict_matches_case_file():
    from pathlib import Path

    from hemotwin.pipeline import demo_case_dict

    root = Path(__file__).resolve().parents[2] / "cases" / "coarctation_demo" / "case.toml"
    a = load_case(root)
    b = case_from_dict(demo_case_dict())
    assert a.model_dump(exclude={"source_path", "raw"}) == b.model_dump(exclude={"source_path", "raw"})
