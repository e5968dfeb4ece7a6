# SPDX-License-Identifier: Apache-2.0
"""`hemotwin segment` end to end on a phantom: the output contract, no silent overwrite, errors
that name the input, and de-identification of a DICOM series carrying a patient name."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")
pv = pytest.importorskip("pyvista")

from hemotwin.cli import main
from hemotwin.geometry import phantoms
from hemotwin.imaging import ImageVolume, dice, read_image, write_image

PATIENT = "Doe^Janet Secretname"
PATIENT_ID = "PID-7741-XYZ"


@pytest.fixture(scope="module")
def tube_file(tmp_path_factory):
    ph = phantoms.curved_tube(spacing_mm=0.6)
    p = tmp_path_factory.mktemp("in") / "tube.nii.gz"
    write_image(ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction), p)
    return ph, p


def test_segment_cli_contract(tube_file, tmp_path, capsys):
    ph, p = tube_file
    out = tmp_path / "out"
    seed = ",".join(str(v) for v in ph.seeds_mm[0])
    rc = main(["segment", str(p), "--seed", seed, "--out", str(out)])
    assert rc == 0
    for f in ("mask.nii.gz", "surface.vtp", "centerlines.vtp", "ports.json", "geometry.png"):
        assert (out / f).stat().st_size > 0, f
    m = read_image(out / "mask.nii.gz")
    np.testing.assert_allclose(m.origin_mm, ph.origin_mm, atol=1e-5)
    np.testing.assert_allclose(m.spacing_mm, ph.spacing_mm, rtol=1e-6)
    np.testing.assert_allclose(m.direction, ph.direction)
    assert dice(m.array, ph.mask) >= 0.9
    cl = pv.read(out / "centerlines.vtp")
    assert {"radius_mm", "equivalent_radius_mm", "branch_id"} <= set(cl.point_data.keys())
    ports = json.loads((out / "ports.json").read_text(encoding="utf-8"))["ports"]
    assert [q["name"] for q in ports] == ["inlet", "outlet_1"]
    for q in ports:
        assert set(q) == {"name", "role", "center_mm", "normal", "area_mm2", "radius_mm"}
        assert q["role"] in ("inlet", "outlet")
    # normals point out of the fluid: from the port centre, +normal leaves the mask
    for q in ports:
        ijk = np.rint(
            m.world_to_index(np.array(q["center_mm"]) - 2 * np.array(q["normal"]))
        ).astype(int)
        assert m.array[tuple(ijk)] == 1
    srf = pv.read(out / "surface.vtp")
    assert srf.n_cells > 100 and "port_id" in srf.cell_data
    # never overwrite silently
    before = (out / "mask.nii.gz").stat().st_mtime_ns
    rc = main(["segment", str(p), "--seed", seed, "--out", str(out)])
    assert rc == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert (out / "mask.nii.gz").stat().st_mtime_ns == before


def test_segment_cli_port_names(tube_file, tmp_path):
    ph, p = tube_file
    out = tmp_path / "named"
    seed = ",".join(str(v) for v in ph.seeds_mm[0])
    end = ",".join(str(v) for v in ph.ports[1]["center_mm"])
    start = ",".join(str(v) for v in ph.ports[0]["center_mm"])
    rc = main(
        [
            "segment",
            str(p),
            "--seed",
            seed,
            "--out",
            str(out),
            "--no-figure",
            "--port-name",
            f"inlet={end}",
            "--port-name",
            f"proximal={start}",
        ]
    )
    assert rc == 0
    ports = json.loads((out / "ports.json").read_text(encoding="utf-8"))["ports"]
    assert [(q["name"], q["role"]) for q in ports] == [("inlet", "inlet"), ("proximal", "outlet")]


def test_negative_coordinates_parse():
    from hemotwin.cli import build_parser

    a = build_parser().parse_args(
        [
            "segment",
            "ct.nii",
            "--seed",
            "-12.5,-185,665.5",
            "--clip",
            "-1,2,3e1,0,0,-1",
            "--out",
            "o",
        ]
    )
    assert a.seed == [[-12.5, -185.0, 665.5]] and a.clip == [[-1.0, 2.0, 30.0, 0.0, 0.0, -1.0]]


def test_segment_cli_errors_name_input(tmp_path, capsys):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"junk")
    assert main(["segment", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "broken.nii.gz" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.mha"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.mha" in capsys.readouterr().err


def _write_dicom_series(vol: ImageVolume, folder: Path):
    """A CT series with identifying tags, slice by slice (SimpleITK's series-writing recipe)."""
    folder.mkdir()
    img = sitk.Cast(
        sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(np.rint(vol.array), (2, 1, 0)))),
        sitk.sitkInt16,
    )
    img.SetSpacing(vol.spacing_mm.tolist())
    img.SetOrigin(vol.origin_mm.tolist())
    w = sitk.ImageFileWriter()
    w.KeepOriginalImageUIDOn()
    uid = "1.2.826.0.1.3680043.2.1125.1" + time.strftime("%H%M%S")
    common = {
        "0010|0010": PATIENT,
        "0010|0020": PATIENT_ID,
        "0010|0030": "19510203",
        "0008|0020": "20240102",
        "0008|0060": "CT",
        "0020|000d": uid + ".1",
        "0020|000e": uid + ".2",
        "0008|103e": "phantom",
        "0020|0037": "1\\0\\0\\0\\1\\0",
        "0028|1052": "0",
        "0028|1053": "1",
    }
    for k in range(img.GetDepth()):
        s = img[:, :, k]
        for tag, val in common.items():
            s.SetMetaData(tag, val)
        pos = img.TransformIndexToPhysicalPoint((0, 0, k))
        s.SetMetaData("0020|0032", "\\".join(f"{v:.6f}" for v in pos))
        s.SetMetaData("0020|0013", str(k + 1))
        s.SetMetaData("0008|0018", f"{uid}.3.{k + 1}")
        w.SetFileName(str(folder / f"IM{k:04d}.dcm"))
        w.Execute(s)


def test_dicom_patient_name_never_leaves(tmp_path, capsys):
    ph = phantoms.straight_tube(spacing_mm=0.8, length_mm=20.0)
    d = tmp_path / "dicom"
    _write_dicom_series(ImageVolume(ph.image, ph.spacing_mm, ph.origin_mm, ph.direction), d)
    assert PATIENT.encode() in (d / "IM0000.dcm").read_bytes()  # the input does carry it
    v = read_image(d)
    assert v.shape == ph.image.shape
    np.testing.assert_allclose(v.spacing_mm, ph.spacing_mm, rtol=1e-5)
    assert PATIENT not in repr(v.__dict__.get("description")) and PATIENT_ID not in v.description
    out = tmp_path / "out"
    seed = ",".join(str(x) for x in ph.seeds_mm[0])
    rc = main(["segment", str(d), "--seed", seed, "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    needles = [
        PATIENT.encode(),
        b"Doe^Janet",
        b"Secretname",
        PATIENT_ID.encode(),
        b"19510203",
        b"20240102",
    ]
    files = [f for f in out.rglob("*") if f.is_file()]
    assert len(files) >= 5
    for f in files:
        data = f.read_bytes()
        if f.suffix == ".gz":
            import gzip

            data += gzip.decompress(data)
        for n in needles:
            assert n not in data, (f.name, n)
    for n in needles:
        assert n.decode() not in cap.out + cap.err


def test_segment_cli_takes_a_surface(tmp_path, capsys):
    """A lumen surface instead of an image: ports from its open ends, centerline radius from it."""
    r, length = 1.5, 16.0
    tube = pv.Cylinder(center=(0, 0, length / 2), direction=(0, 0, 1), radius=r, height=length,
                       resolution=64, capping=False).triangulate().subdivide(2).clean()
    tube.points = tube.points / 10.0  # written in cm
    f = tmp_path / "vessel.vtp"
    tube.save(f)
    out = tmp_path / "out"
    assert main(["segment", str(f), "--unit", "cm", "--out", str(out), "--no-figure"]) == 0
    ports = json.loads((out / "ports.json").read_text())["ports"]
    assert [p["name"] for p in ports] == ["inlet", "outlet_1"]
    np.testing.assert_allclose(ports[0]["center_mm"], [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(ports[0]["normal"], [0, 0, -1], atol=1e-9)
    cl = pv.read(out / "centerlines.vtp")
    rad = np.asarray(cl.point_data["radius_mm"])
    assert np.median(rad) == pytest.approx(r, rel=0.05)
    report = json.loads((out / "segmentation.json").read_text())
    assert report["surface"]["watertight"] and report["unit"] == "cm"
    # image-only options are refused, naming the file
    assert main(["segment", str(f), "--seed", "0,0,5", "--out", str(tmp_path / "o2")]) == 2
    assert "vessel.vtp is a surface" in capsys.readouterr().err
