# SPDX-License-Identifier: Apache-2.0
"""Pipeline input checks: label maps on the image grid, ports that keep lattice cells."""
import numpy as np
import pytest
from hemotwin.imaging.io import ImageVolume as Volume
from hemotwin.pipeline import PipelineError, _check_label_grid


def _vol(**kw):
    base = dict(array=np.zeros((8, 9, 10), np.uint8), spacing_mm=(0.7, 0.7, 1.5), origin_mm=(-10.0, 5.0, 600.0))
    base.update(kw)
    return Volume(**base)


def test_same_grid_passes_within_rounding():
    _check_label_grid("lab.nii.gz", _vol(origin_mm=(-10.0 + 1e-4, 5.0, 600.0)), _vol())


@pytest.mark.parametrize("change,needle", [
    (dict(origin_mm=(-10.0, 5.0, 660.0)), "origin"),
    (dict(spacing_mm=(0.7, 0.7, 3.0)), "spacing"),
    (dict(direction=np.diag([-1.0, 1.0, 1.0])), "direction"),
    (dict(array=np.zeros((8, 9, 11), np.uint8)), "size"),
])
def test_other_grids_are_refused_with_the_difference(change, needle):
    with pytest.raises(PipelineError, match=rf"image.label_map lab.nii.gz: not on the image's voxel grid \({needle}"):
        _check_label_grid("lab.nii.gz", _vol(**change), _vol())


def test_a_port_without_lattice_cells_is_named():
    # the thoracic CTA at 3 mm lost two clipped outlets and ended in an IndexError from the solver
    from types import SimpleNamespace

    from hemotwin.lattice import PORT_BASE
    from hemotwin.pipeline import _check_ports_have_cells

    ct = np.zeros((4, 4, 4), np.uint8)
    ct[0, 0, 0], ct[1, 0, 0] = PORT_BASE, PORT_BASE + 1
    dom = SimpleNamespace(cell_type=ct, port_names=["inlet", "outlet_1", "outlet_2"])
    ports = [SimpleNamespace(radius_mm=r) for r in (12.0, 5.0, 3.4)]
    with pytest.raises(PipelineError, match=r"port\(s\) outlet_2 got no lattice cells at a spacing of 3.00 mm "
                                            r"\(port outlet_2 has a radius of 3.40 mm\).*at most 1.70 mm"):
        _check_ports_have_cells(dom, ports, 3e-3)
    ct[2, 0, 0] = PORT_BASE + 2
    _check_ports_have_cells(dom, ports, 3e-3)


def test_provenance_parameters_carry_no_input_paths(tmp_path):
    # a DICOM folder named after the patient reached provenance.json through the case parameters
    from hemotwin.config.schema import case_from_dict
    from hemotwin.pipeline import _without_input_paths

    raw = {"image": {"path": "/data/DOE^JANE_19620314/MRA_20240115", "label_map": ["/x/a.nii", "/x/b.nii"],
                     "crop_lower_mm": [0, 0, 0], "crop_upper_mm": [1, 1, 1]},
           "physiology": {"cardiac_output": "5 L/min", "heart_rate": "70 bpm",
                          "inflow": {"waveform": "/data/DOE^JANE/flow.csv"}},
           "devices": {"catalog": "/data/DOE^JANE/catalog.toml"}}
    case = case_from_dict(raw, None)
    red = _without_input_paths(case)
    text = repr(red)
    assert "DOE" not in text and "2024" not in text and "1962" not in text
    assert red["image"]["crop_lower_mm"] == [0, 0, 0] and red["physiology"]["heart_rate"] == "70 bpm"
    assert "sha256" in red["image"]["path"] and case.raw["image"]["path"].startswith("/data/")  # input untouched
    builtin = case_from_dict({"image": {"phantom": "aortic_arch"}, "physiology": {
        "cardiac_output": "5 L/min", "inflow": {"waveform": "builtin:aortic"}}}, None)
    assert _without_input_paths(builtin) == builtin.raw


def test_keys_a_surface_does_not_use_are_named():
    from hemotwin.config.schema import case_from_dict
    from hemotwin.pipeline import _unused_key_warnings

    base = {"image": {"phantom": "aortic_arch"}, "physiology": {"cardiac_output": "5 L/min"}}
    assert _unused_key_warnings(case_from_dict(base, None)) == []
    case = case_from_dict({**base, "segmentation": {"seeds_mm": [[0.0, 0.0, 0.0]]}}, None,
                          {"image.phantom": None, "image.surface": __file__})
    (w,) = _unused_key_warnings(case)
    assert w.startswith("segmentation.seeds_mm: not used with a surface input")
