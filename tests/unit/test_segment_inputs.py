# SPDX-License-Identifier: Apache-2.0
"""`hemotwin segment` input audit: vector images refused, provenance in segmentation.json, no
ITK/VTK noise around a one-line error, nested DICOM folders named, no overwriting of the input,
and a warning for a SimVascular model read in mm that is probably in cm."""

import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")
pv = pytest.importorskip("pyvista")

from hemotwin.cli import main
from hemotwin.imaging import ImageReadError, ImageVolume, read_image, write_image
from hemotwin.report.provenance import file_sha256

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SV_MODELS = (SHARED / "simvascular_demo_aorta_iliac" / "new-api-tests" / "data" / "DemoProject"
             / "Models")
ICA = SHARED / "aneurisk_c0015_ica_segment_vampy" / "models" / "artery" / "artery.vtp"


def _err_lines(capfd):
    err = capfd.readouterr().err
    return [ln for ln in err.splitlines() if ln.strip()], err


def _tube(shape=(24, 24, 30), r=5.0):
    """A bright straight tube along z (1 mm voxels), radius r mm, centred in x and y."""
    x, y, _ = np.meshgrid(*[np.arange(k, dtype=float) for k in shape], indexing="ij")
    c = 0.5 * (shape[0] - 1)
    return np.where((x - c) ** 2 + (y - c) ** 2 <= r * r, 400.0, 0.0).astype(np.float32)


def _sitk_of(a):
    """SimpleITK image of an [i, j, k] array (1 mm voxels)."""
    return sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(a, (2, 1, 0))))


def _write_series(folder: Path, n=4):
    """A tiny CT series, one file per slice."""
    folder.mkdir(parents=True)
    uid = "1.2.826.0.1.3680043.2.1125.9" + time.strftime("%H%M%S")
    w = sitk.ImageFileWriter()
    w.KeepOriginalImageUIDOn()
    for k in range(n):
        s = sitk.GetImageFromArray(np.full((8, 8), 100 + k, np.int16))
        s.SetSpacing([0.5, 0.5])
        tags = {"0008|0060": "CT", "0020|000d": uid + ".1", "0020|000e": uid + ".2",
                "0020|0037": "1\\0\\0\\0\\1\\0", "0020|0032": f"0\\0\\{2.0 * k:.4f}",
                "0020|0013": str(k + 1), "0008|0018": f"{uid}.3.{k + 1}"}
        for t, v in tags.items():
            s.SetMetaData(t, v)
        w.SetFileName(str(folder / f"IM{k + 1}.dcm"))
        w.Execute(s)


# ----------------------------------------------------------------------------- 1 vector images
def test_three_component_image_is_refused_in_one_line(tmp_path, capfd):
    a = _tube()
    s = _sitk_of(a)
    f = tmp_path / "velocity.mha"
    sitk.WriteImage(sitk.Compose(s, s * 0.5, s * 0.2), str(f))
    with pytest.raises(ImageReadError,
                       match=r"velocity\.mha: 3-component pixels .*scalar intensity"):
        read_image(f)
    rc = main(["segment", str(f), "--seed", "11.5,11.5,15", "--out", str(tmp_path / "o")])
    lines, err = _err_lines(capfd)
    assert rc == 2 and len(lines) == 1, err
    assert "velocity.mha: 3-component pixels (a velocity or RGB image?)" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("n", [2, 4])
def test_other_vector_images_are_refused(tmp_path, n):
    s = _sitk_of(_tube((8, 8, 8)))
    f = tmp_path / "v.nrrd"
    sitk.WriteImage(sitk.Compose(*[s * (k + 1) for k in range(n)]), str(f))
    with pytest.raises(ImageReadError, match=rf"v\.nrrd: {n}-component pixels"):
        read_image(f)


def test_grey_stored_as_rgb_is_read_as_its_grey(tmp_path):
    """Equal R, G and B channels (some DICOM/PACS exports of a grey image): the one legitimate
    reading of a 3-component image, exactly its first channel."""
    a = (_tube((8, 9, 10)) / 4).astype(np.uint8)
    s = _sitk_of(a)
    f = tmp_path / "grey_rgb.mha"
    sitk.WriteImage(sitk.Compose(s, s, s), str(f))
    v = read_image(f)
    assert v.shape == (8, 9, 10)
    np.testing.assert_array_equal(v.array, a.astype(np.float32))


def test_real_carotid_velocity_file_reads_its_scalars(shared_data):
    """The one real file with vectors (scalars + velocity): SimpleITK reads its scalars."""
    p = shared_data / "vtkdata_carotid_pcmra" / "Data" / "carotid.vtk"
    if not p.is_file():
        pytest.skip(f"real data not present: {p}")
    assert read_image(p).shape == (76, 49, 45)


def test_description_keeps_the_format_not_the_name(tmp_path):
    f = tmp_path / "Doe.Jane.mha"
    write_image(ImageVolume(_tube((8, 8, 8)), [1, 1, 1], [0, 0, 0]), f)
    d = read_image(f).description
    assert d.startswith("mha file") and "Jane" not in d


# ----------------------------------------------------------------------------- 2 provenance
def test_image_run_records_provenance(tmp_path):
    f = tmp_path / "Doe.Jane.tube.nii.gz"
    write_image(ImageVolume(_tube(), [1, 1, 1], [0, 0, 0]), f)
    out = tmp_path / "out"
    rc = main(["segment", str(f), "--seed", "11.5,11.5,15", "--out", str(out), "--no-figure",
               "--crop", "0", "0", "0", "23", "23", "29", "--refine", "none",
               "--split-touching-mm", "3", "--port-name", "top=11.5,11.5,29"])
    assert rc == 0
    text = (out / "segmentation.json").read_text()
    rep = json.loads(text)
    prov = rep["provenance"]
    assert prov["versions"]["hemotwin"] and "SimpleITK" in prov["versions"]
    assert prov["inputs"] == {"image": {"sha256": file_sha256(f), "suffix": ".nii.gz",
                                        "kind": "image file"}}
    o = prov["options"]
    assert o["crop"] == [0, 0, 0, 23, 23, 29] and o["refine"] == "none"
    assert o["split-touching-mm"] == 3.0 and o["seed"] == [[11.5, 11.5, 15.0]]
    assert o["port-name"] == {"top": [11.5, 11.5, 29.0]} and o["label"] is None
    assert "top" in [p["name"] for p in json.loads((out / "ports.json").read_text())["ports"]]
    assert rep["warnings"] == []
    # no path, no name: the file is referred to by its hash and suffix only
    for word in ("Doe", "Jane", str(tmp_path)):
        assert word not in text, word


def test_dicom_folder_input_is_hashed_not_named(tmp_path):
    from hemotwin.commands.segment import _input_record, _provenance

    _write_series(tmp_path / "DOE_JANE_1957" / "S1")
    d = tmp_path / "DOE_JANE_1957" / "S1"
    rec = _input_record(d)
    assert rec == {"sha256": file_sha256(d), "suffix": "", "kind": "DICOM folder"}
    args = SimpleNamespace(seed=[], clip=[], label=None, series="1.2.3.4", lower=None,
                           upper=None, refine="antialias", split_touching_mm=None, crop=None,
                           port_name=[], no_figure=False, overwrite=False)
    prov = _provenance(args, {"image": rec})
    assert "1.2.3.4" not in json.dumps(prov) and "DOE" not in json.dumps(prov)
    assert len(prov["options"]["series"]["sha256"]) == 64


def _cylinder(r, length=8.0, capped=False):
    cyl = pv.Cylinder(center=(0, 0, length / 2), direction=(0, 0, 1), radius=r, height=length,
                      resolution=48, capping=capped).triangulate()
    if not capped:
        return cyl.subdivide(1).clean()
    cyl = cyl.clean()
    n = cyl.compute_normals(cell_normals=True, point_normals=False)
    nz = np.asarray(n.cell_data["Normals"])[:, 2]
    cz = np.asarray(cyl.cell_centers().points)[:, 2]
    fid = np.where(np.abs(nz) < 0.5, 1, np.where(cz < length / 2, 2, 3)).astype(np.int32)
    cyl.cell_data["ModelFaceID"] = fid
    return cyl


MDL = """<?xml version="1.0" encoding="UTF-8" ?>
<format version="1.0" />
<model type="PolyData">
  <timestep id="0">
    <model_element type="PolyData" num_sampling="0">
      <faces>
        <face id="1" name="wall" type="wall" visible="true" />
        <face id="2" name="cap_in" type="cap" visible="true" />
        <face id="3" name="cap_out" type="cap" visible="true" />
      </faces>
    </model_element>
  </timestep>
</model>
"""


def test_surface_run_records_provenance(tmp_path):
    f = tmp_path / "vessel.vtp"
    _cylinder(1.5).save(f)
    out = tmp_path / "out"
    assert main(["segment", str(f), "--unit", "mm", "--out", str(out), "--no-figure"]) == 0
    text = (out / "segmentation.json").read_text()
    prov = json.loads(text)["provenance"]
    assert prov["inputs"] == {"surface": {"sha256": file_sha256(f), "suffix": ".vtp",
                                          "kind": "surface file"}}
    assert prov["options"]["unit"] == "mm" and "seed" not in prov["options"]
    assert prov["versions"]["pyvista"] and str(tmp_path) not in text


# ----------------------------------------------------------------------------- 3 noise
@pytest.mark.parametrize("kind", ["empty", "not_dicom"])
def test_folder_without_dicom_is_one_line(tmp_path, capfd, kind):
    d = tmp_path / kind
    d.mkdir()
    if kind == "not_dicom":
        (d / "notes.txt").write_text("hello\n")
    warn = sitk.ProcessObject.GetGlobalWarningDisplay()
    assert main(["segment", str(d), "--out", str(tmp_path / "o")]) == 2
    lines, err = _err_lines(capfd)
    assert len(lines) == 1 and "WARNING" not in err and "No Series" not in err, err
    assert lines[0].startswith(f"hemotwin segment: error: {d}: ")
    assert sitk.ProcessObject.GetGlobalWarningDisplay() == warn  # restored


def test_metaimage_with_missing_data_file_is_one_line(tmp_path, capfd):
    f = tmp_path / "h.mha"
    f.write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_FLOAT\n"
                 "ElementDataFile = missing.raw\n")
    assert main(["segment", str(f), "--out", str(tmp_path / "o")]) == 2
    lines, err = _err_lines(capfd)
    assert len(lines) == 1 and "MetaImage" not in err, err


@pytest.mark.parametrize("name,content", [
    ("bad.stl", "solid x\nfacet bogus\n"),
    ("empty.stl", ""),
    ("bad.vtp", "<VTKFile garbage"),
    ("bad.ply", "ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n"),
])
def test_unreadable_surface_is_one_line(tmp_path, capfd, name, content):
    import vtk

    f = tmp_path / name
    f.write_text(content)
    handlers = list(logging.root.handlers)
    verbosity = vtk.vtkLogger.GetCurrentVerbosityCutoff()
    assert main(["segment", str(f), "--out", str(tmp_path / "o")]) == 2
    lines, err = _err_lines(capfd)
    assert len(lines) == 1, err
    assert f"{name}: cannot be read as a surface (" in err
    for noise in ("ERROR:root", "ERR|", "vtkInformation", "Debug: Off", "WARNING"):
        assert noise not in err, (noise, err)
    # VTK's logger, logging and the output window are as they were
    assert logging.root.handlers == handlers
    assert vtk.vtkLogger.GetCurrentVerbosityCutoff() == verbosity
    assert logging.root.manager.disable == logging.NOTSET


# ----------------------------------------------------------------------------- 4 nested DICOM
def test_nested_dicom_folder_names_the_subfolder(tmp_path, capfd):
    top = tmp_path / "dcm_nested"
    _write_series(top / "S1")
    assert main(["segment", str(top), "--out", str(tmp_path / "o")]) == 2
    lines, err = _err_lines(capfd)
    assert len(lines) == 1, err
    assert f"{top}: no DICOM files at its top level; a series is in S1/ (4 files); give that " \
           "folder" in err
    assert read_image(top / "S1").shape == (8, 8, 4)  # the named folder is the one to give


def test_several_nested_series_are_listed(tmp_path):
    top = tmp_path / "export"
    _write_series(top / "study" / "A")
    _write_series(top / "study" / "B")
    (top / "DICOMDIR.txt").write_text("index\n")
    with pytest.raises(ImageReadError) as e:
        read_image(top)
    msg = str(e.value)
    assert "no DICOM series at its top level" in msg
    assert "study/A/ (4 files), study/B/ (4 files); give one of those folders" in msg


# ----------------------------------------------------------------------------- 5 input = output
def test_label_map_cannot_overwrite_itself(tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "mask.nii.gz"
    write_image(ImageVolume((_tube((12, 12, 12), 3) > 0).astype(np.uint8), [1, 1, 1], [0] * 3),
                mask)
    before = mask.read_bytes()
    rc = main(["segment", str(mask), "--label", "1", "--out", str(out), "--overwrite"])
    lines, err = _err_lines(capfd)
    assert rc == 2 and len(lines) == 1 and "would overwrite the input" in err, err
    assert mask.read_bytes() == before
    # also through a link to it
    link = tmp_path / "link.nii.gz"
    link.symlink_to(mask)
    assert main(["segment", str(link), "--label", "1", "--out", str(out), "--overwrite"]) == 2
    assert mask.read_bytes() == before


def test_surface_cannot_overwrite_itself(tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    f = out / "surface.vtp"
    _cylinder(1.5).save(f)
    assert main(["segment", str(f), "--out", str(out), "--overwrite", "--no-figure"]) == 2
    assert "surface.vtp in --out" in capfd.readouterr().err


@pytest.mark.parametrize("sub", [".", "seg"])
def test_out_inside_the_dicom_folder_is_refused(tmp_path, capfd, sub):
    d = tmp_path / "S1"
    _write_series(d)
    files = sorted(d.iterdir())
    assert main(["segment", str(d), "--out", str(d / sub), "--overwrite"]) == 2
    assert "is inside the input folder" in capfd.readouterr().err
    assert sorted(d.iterdir()) == files


# ----------------------------------------------------------------------------- 6 SimVascular unit
def test_small_simvascular_model_read_in_mm_is_warned(tmp_path, capfd):
    f = tmp_path / "demo.vtp"
    _cylinder(1.2, capped=True).save(f)
    (tmp_path / "demo.mdl").write_text(MDL)
    out = tmp_path / "out"
    assert main(["segment", str(f), "--out", str(out), "--no-figure"]) == 0
    err = capfd.readouterr().err
    assert "hemotwin segment: warning:" in err and "--unit cm" in err
    rep = json.loads((out / "segmentation.json").read_text())
    assert len(rep["warnings"]) == 1 and "--unit cm" in rep["warnings"][0]
    assert str(tmp_path) not in rep["warnings"][0]  # no path in the JSON
    assert rep["unit_used"] == "mm" and rep["unit_source"] == "default"
    assert rep["provenance"]["inputs"]["faces"]["sha256"] == file_sha256(tmp_path / "demo.mdl")
    # --unit mm confirms: no warning
    assert main(["segment", str(f), "--unit", "mm", "--out", str(tmp_path / "o2"),
                 "--no-figure"]) == 0
    assert "warning" not in capfd.readouterr().err
    assert json.loads((tmp_path / "o2" / "segmentation.json").read_text())["warnings"] == []


def _anat(ports, unit="mm", source="default", volume_mm3=100.0):
    return SimpleNamespace(ports=ports, unit=unit, unit_source=source, volume_mm3=volume_mm3)


def test_unit_warning_rule_is_narrow():
    from hemotwin.geometry.surface_input import simvascular_unit_warning

    small = [SimpleNamespace(radius_mm=1.2), SimpleNamespace(radius_mm=0.6)]
    ica = [SimpleNamespace(radius_mm=1.56), SimpleNamespace(radius_mm=0.9)]
    mdl = Path("demo.mdl")
    assert simvascular_unit_warning(_anat(small), mdl)
    assert simvascular_unit_warning(_anat(small), None) is None  # not a SimVascular model
    assert simvascular_unit_warning(_anat(small, source="given"), mdl) is None
    assert simvascular_unit_warning(_anat(small, source="file"), mdl) is None
    assert simvascular_unit_warning(_anat(small, unit="cm", source="given"), mdl) is None
    assert simvascular_unit_warning(_anat(ica), mdl) is None  # cerebral ICA size, even with a .mdl


def _ports_of(path, unit, faces):
    from hemotwin.geometry.surface_input import read_face_names, read_surface, surface_ports

    surf = read_surface(path, unit)
    capped, ports, _ = surface_ports(surf, str(path), read_face_names(faces) if faces else None,
                                     unit=unit)
    return ports, float(capped.volume)


def test_real_simvascular_demo_is_warned_only_in_mm():
    from hemotwin.geometry.surface_input import simvascular_unit_warning

    vtp, mdl = SV_MODELS / "demo.vtp", SV_MODELS / "demo.mdl"
    if not (vtp.is_file() and mdl.is_file()):
        pytest.skip(f"real data not present: {SV_MODELS}")
    ports, vol = _ports_of(vtp, "mm", mdl)
    w = simvascular_unit_warning(_anat(ports, volume_mm3=vol), mdl)
    assert w and "1.21 mm" in w and "--unit cm" in w  # SOURCE.md: inlet eq. diameter 2.43 cm
    ports, vol = _ports_of(vtp, "cm", mdl)  # cases/aorta_iliac_simvascular: surface_unit = "cm"
    assert simvascular_unit_warning(_anat(ports, "cm", "given", vol), mdl) is None


def test_real_cerebral_ica_is_not_warned():
    from hemotwin.geometry.surface_input import simvascular_unit_warning

    if not ICA.is_file():
        pytest.skip(f"real data not present: {ICA}")
    ports, vol = _ports_of(ICA, "mm", None)  # cases/cerebral_ica_surface: mm, no .mdl
    assert max(p.radius_mm for p in ports) == pytest.approx(1.56, abs=0.05)
    assert simvascular_unit_warning(_anat(ports, volume_mm3=vol), None) is None
    # even were it given with a .mdl, an ICA inlet (r 1.56 mm) is not "tiny"
    assert simvascular_unit_warning(_anat(ports, volume_mm3=vol), Path("x.mdl")) is None


def test_refine_with_a_surface_is_refused_not_ignored(tmp_path, capsys):
    pv = pytest.importorskip("pyvista")
    surf = tmp_path / "vessel.vtp"
    pv.Cylinder(radius=2.0, height=20.0).triangulate().save(str(surf))
    assert main(["segment", str(surf), "--refine", "gac", "--out", str(tmp_path / "out")]) == 2
    assert "--refine: for images only" in capsys.readouterr().err
