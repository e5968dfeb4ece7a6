# SPDX-License-Identifier: Apache-2.0
"""Figures of a case (off-screen) and the self-contained HTML report that embeds them."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from hemotwin.analysis.catalog import load_catalog
from hemotwin.analysis.lesions import detect_lesions
from hemotwin.analysis.sizing import recommend_device
from hemotwin.report.html import scrub_identifiers, write_report

pv = pytest.importorskip("pyvista")


def _tube_surface(radius_fn, length=40.0, n_theta=40, n_z=120):
    z = np.linspace(0, length, n_z)
    th = np.linspace(0, 2 * np.pi, n_theta, endpoint=False)
    r = radius_fn(z)
    pts = np.array([[rr * np.cos(a), 0.0 + rr * np.sin(a), zz] for zz, rr in zip(z, r) for a in th])
    # vessel along z (superior); rotate so it runs along x for a readable anterior view
    pts = pts[:, [2, 1, 0]]
    faces = []
    for k in range(n_z - 1):
        for j in range(n_theta):
            a, b = k * n_theta + j, k * n_theta + (j + 1) % n_theta
            faces += [3, a, b, a + n_theta, 3, b, b + n_theta, a + n_theta]
    return pv.PolyData(pts, np.array(faces))


def _radius(z, ds=0.5):
    return 1.5 * (1 - ds * 0.5 * (1 + np.cos(np.pi * np.clip((z - 20) / 4, -1, 1))))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from hemotwin.viz import case_figures

    out = tmp_path_factory.mktemp("case")
    s = np.linspace(0, 40, 401)
    d_pre = 2 * _radius(s)
    les = detect_lesions(s, d_pre)
    dev = recommend_device(les[0], load_catalog(), "coronary").to_dict()
    covered = (s >= dev["start_mm"]) & (s <= dev["end_mm"])
    d_post = np.where(covered, np.maximum(d_pre, dev["diameter_mm"]), d_pre)
    p_pre = 90 - 0.05 * s - 12 * (s > 20)
    p_post = 90 - 0.05 * s - 1 * (s > 20)
    lz = les[0].to_dict() | {"id": 1, "gradient_mmhg": 12.0, "pd_pa": 0.86, "proximal_station_mm": 15.0,
                             "distal_station_mm": 25.0}
    lz_post = dict(lz, gradient_mmhg=1.0, pd_pa=0.99, mld_mm=2.9)
    walls = []
    for d_fn, p in ((lambda z: _radius(z), p_pre), (lambda z: np.interp(z, s, d_post) / 2, p_post)):
        w = _tube_surface(d_fn)
        x = np.asarray(w.points)[:, 0]
        w.point_data["wss_magnitude_pa"] = 1.0 / np.maximum(d_fn(x), 0.3) ** 3
        w.point_data["pressure_pa"] = np.interp(x, s, p) * 133.322
        walls.append(w)
    pts = np.column_stack([s, np.zeros_like(s), np.zeros_like(s)])
    pre = {"centerline": {"arclength_mm": s, "diameter_mm": d_pre, "pressure_mmhg": p_pre,
                          "points_mm": pts, "port": "outlet"}, "lesions": [lz], "_wall": walls[0]}
    post = {"centerline": {"arclength_mm": s, "diameter_mm": d_post, "pressure_mmhg": p_post,
                           "points_mm": pts, "port": "outlet"}, "lesions": [lz_post], "_wall": walls[1]}
    figs = case_figures(out, pre, post, dev)
    results = {
        "schema_version": "1.0", "case": "synthetic-coronary", "status": "ok",
        "ports": [{"name": "inlet", "role": "inlet", "mean_flow_ml_s": 1.2, "mean_pressure_mmhg": 90.0},
                  {"name": "outlet", "role": "outlet", "mean_flow_ml_s": 1.2, "mean_pressure_mmhg": 77.0}],
        "lesions": [lz], "device": dev, "post": {"lesions": [lz_post], "wss": {"mean_pa": 1.1}},
        "wss": {"mean_pa": 2.5, "low_area_fraction": 0.1},
        "patient_name": "DOE^JANE", "PatientID": "12345",
        "provenance": {"PatientBirthDate": "19700101", "lattice_spacing_mm": 0.1},
    }
    return out, figs, results


def test_case_figures_are_written(case):
    out, figs, _ = case
    for name in ("diameter_profile", "pressure_profile", "wss_pre", "pressure_wall_pre", "wss_pre_post",
                 "pressure_pre_post", "pre_post_bars"):
        assert name in figs, (name, sorted(figs))
        p = out / figs[name]
        assert p.exists() and p.stat().st_size > 5000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_embeds_every_figure_and_no_identifiers(case):
    out, figs, results = case
    path = write_report(out, results, figs)
    assert path.name == "report.html" and path.parent == out
    text = path.read_text(encoding="utf-8")
    imgs = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == len(figs)
    for rel in figs.values():
        assert base64.b64encode((out / rel).read_bytes()).decode() in imgs
    # readable offline: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for section in ("Ports, flows and pressures", "Lesions", "Device recommendation",
                    "Pre/post comparison", "Wall shear stress", "Provenance summary"):
        assert section in text
    assert "Research software, not a medical device" in text
    assert "UNVERIFIED" in text  # the coronary sizing rule's status
    plain = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", text)  # identifiers could hide in no image
    for ident in ("DOE", "JANE", "12345", "19700101"):
        assert ident not in plain
    assert "synthetic-coronary" in text and "Pd/Pa" in text


def test_report_tolerates_missing_sections_and_figures(tmp_path):
    p = write_report(tmp_path, {"status": "not_converged"}, {"ghost": "figures/none.png"})
    text = p.read_text(encoding="utf-8")
    assert "not_converged" in text and "Figures not found: ghost" in text
    assert "No lesion above the detection threshold" in text


def test_scrub_identifiers_recursive():
    r = scrub_identifiers({"ports": [{"name": "inlet", "patient_id": "x"}],
                           "InstitutionName": "h", "case": "c", "study_date": "2020"})
    assert r == {"ports": [{"name": "inlet"}], "case": "c"}


def test_report_in_subfolder_resolves_figures_against_base(case):
    out, figs, results = case
    p = write_report(out / "report", results, figs, figures_base=out)
    assert p == out / "report" / "report.html"
    assert "Figures not found" not in p.read_text(encoding="utf-8")
