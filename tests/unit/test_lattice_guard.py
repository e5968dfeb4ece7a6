# SPDX-License-Identifier: Apache-2.0
"""A unit slip in a spacing is refused before the dense arrays are allocated, not by a crash."""
import pytest

pv = pytest.importorskip("pyvista")
from hemotwin.pipeline import PipelineError, _refuse_oversized_lattice  # noqa: E402


def test_a_micrometre_spacing_is_refused_before_voxelizing():
    vessel = pv.Cylinder(radius=2.0, height=40.0, resolution=64).triangulate()  # mm, closed
    _refuse_oversized_lattice(vessel, 0.2e-3, 20_000_000)  # ~63 000 cells: fine
    # "20 um" meant as "0.2 mm": ~6.3e7 cells, past the default max_cells
    with pytest.raises(PipelineError, match=r"0\.02 mm gives ~6\.\de\+07 fluid cells .*numerics.spacing"):
        _refuse_oversized_lattice(vessel, 20e-6, 20_000_000)
    with pytest.raises(PipelineError, match="max_cells = 1000"):
        _refuse_oversized_lattice(vessel, 0.2e-3, 1000)
    flat = pv.Plane(i_size=40.0, j_size=40.0).triangulate()  # no volume to go by: the box decides
    _refuse_oversized_lattice(flat, 0.2e-3, 20_000_000)
    with pytest.raises(PipelineError, match="bounding box"):
        _refuse_oversized_lattice(flat, 1e-6, 20_000_000)


def test_a_micrometre_image_resample_is_refused(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    import numpy as np
    from hemotwin.pipeline import run_case

    img = sitk.GetImageFromArray(np.zeros((20, 30, 40), np.int16))
    img.SetSpacing((0.8, 0.8, 1.0))
    sitk.WriteImage(img, str(tmp_path / "cta.nii.gz"))
    case = {"case": {"name": "resample_slip"}, "image": {"path": str(tmp_path / "cta.nii.gz"),
                                                        "resample": "0.5 um"},
            "segmentation": {"seeds_mm": [[10.0, 10.0, 10.0]]},
            "physiology": {"inflow": {"mean": "1 mL/s"}},
            "outputs": {"figures": False, "report": False, "vtk": False}}
    with pytest.raises(PipelineError, match=r"image.resample = 0.0005 mm would make a .*-voxel image"):
        run_case(case, tmp_path / "out", progress=False)
