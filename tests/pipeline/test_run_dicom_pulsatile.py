# SPDX-License-Identifier: Apache-2.0
"""A DICOM series with a patient name, run pulsatile end to end: the name appears in no output,
results.json follows the schema and carries TAWSS/OSI."""
import json

import numpy as np
import pytest

NAME = "DOE^JANE"
PID = "HT-SECRET-4711"


def _write_dicom_series(folder, ph):
    sitk = pytest.importorskip("SimpleITK")
    arr = np.clip(np.round(ph.image), -1024, 3000).astype(np.int16)
    img = sitk.GetImageFromArray(np.transpose(arr, (2, 1, 0)))
    img.SetSpacing([float(s) for s in ph.spacing_mm])
    img.SetOrigin([float(o) for o in ph.origin_mm])
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series = "1.2.826.0.1.3680043.2.1125.1.4711"
    for k in range(img.GetDepth()):
        sl = img[:, :, k]
        for tag, val in (("0010|0010", NAME), ("0010|0020", PID), ("0008|0060", "CT"),
                         ("0020|000e", series), ("0020|000d", series + ".1"),
                         ("0020|0032", "\\".join(str(v) for v in img.TransformIndexToPhysicalPoint((0, 0, k)))),
                         ("0020|0037", "1\\0\\0\\0\\1\\0"), ("0020|0013", str(k + 1)),
                         ("0008|0018", f"{series}.{k + 1}"), ("0028|1052", "0"), ("0028|1053", "1")):
            sl.SetMetaData(tag, val)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)


@pytest.mark.slow
def test_dicom_pulsatile_no_identifiers(tmp_path):
    from hemotwin.geometry.phantoms import straight_tube
    from hemotwin.pipeline import run_case
    from hemotwin.report.results_schema import validate_results

    ph = straight_tube(spacing_mm=1.0, radius_mm=4.0, length_mm=24.0)
    dcm = tmp_path / "dicom"
    dcm.mkdir()
    _write_dicom_series(dcm, ph)
    case = {
        "case": {"name": "tube_dicom"},
        "image": {"path": str(dcm)},
        "segmentation": {"method": "seeded", "seeds_mm": [np.asarray(s).tolist() for s in ph.seeds_mm]},
        "physiology": {"target_mean_pressure": "90 mmHg", "heart_rate": "240 bpm",
                       "inflow": {"mean": "0.2 mL/s", "waveform": "builtin:aortic",
                                  "profile": "womersley"},
                       "outlets": {"model": "rcr"}},
        "numerics": {"cells_across": 8, "u_lu_max": 0.1},
        "run": {"mode": "pulsatile", "cycles": 2, "samples_per_cycle": 8},
        "outputs": {"figures": False},
    }
    out = tmp_path / "out"
    res = run_case(case, out, progress=False)
    validate_results(json.loads((out / "results.json").read_text(encoding="utf-8")))
    assert res["run"]["mode"] == "pulsatile"
    assert res["wss"]["tawss"]["mean_pa"] > 0 and 0.0 <= res["wss"]["osi_mean"] <= 0.5
    assert res["conservation"]["mass_imbalance"] < 0.05
    # no identifier anywhere in the outputs (text and binary)
    for f in out.rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            assert NAME.encode() not in blob and PID.encode() not in blob, f
            assert b"DOE" not in blob, f
