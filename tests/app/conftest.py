# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the workstation tests: a served app (subprocess) and its printed URL."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/\S*token=([A-Za-z0-9_\-]+)")


def write_view_fixture_run(out) -> Path:
    """A small run folder in the layout the app reads (tube with a 50 % stenosis).

    Display fixture for the view tests only: its numbers are set by hand, not simulated.
    """
    import pyvista as pv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = np.linspace(0.0, 40.0, 161)
    r = 1.6 * (1 - 0.25 * (1 + np.cos(np.pi * np.clip((s - 20.0) / 4.0, -1, 1))))
    cl = pv.lines_from_points(np.column_stack([np.zeros_like(s), np.zeros_like(s), s]))
    cl["radius_mm"] = r
    cl.save(out / "centerline.vtp")
    surf = pv.CylinderStructured(radius=1.6, height=40.0, center=(0, 0, 20), direction=(0, 0, 1),
                                 theta_resolution=24, z_resolution=80)
    surf = surf.extract_surface(algorithm="dataset_surface")
    z = surf.points[:, 2]
    rr = np.interp(z, s, r)
    xy = surf.points[:, :2]
    surf.points[:, :2] = xy / (np.linalg.norm(xy, axis=1, keepdims=True) + 1e-12) * rr[:, None]
    surf["wss_magnitude_pa"] = 2.0 / rr**3
    surf["pressure_pa"] = 12000.0 - 50.0 * z
    surf.save(out / "wall.vtp")
    results = {
        "lesions": [{"position_mm": 20.0, "mld_mm": 1.6, "rvd_mm": 3.2, "start_mm": 16.0,
                     "end_mm": 24.0, "percent_diameter_stenosis": 50.0, "length_mm": 8.0,
                     "gradient_mmhg": 7.5, "pd_pa": 0.92}],
        "device": {"name": "Generic BX 3.0 x 12", "diameter_mm": 3.0, "length_mm": 12.0},
    }
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (out / "report.html").write_text("<html><body>report</body></html>", encoding="utf-8")
    return out


class AppProcess:
    def __init__(self, proc, line, lines):
        self.proc, self.line, self.lines = proc, line, lines
        m = URL_RE.search(line)
        self.url = m.group(0)
        self.port, self.token = int(m.group(1)), m.group(2)
        self.base = f"http://127.0.0.1:{self.port}"


def start_app(source, tmp_path, timeout=90.0) -> AppProcess:
    """`hemotwin app SOURCE --port 0` in a subprocess; wait for its URL line (bounded)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hemotwin.cli", "app", str(source), "--port", "0",
                             "--out", str(tmp_path / "app-out")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path)
    lines, found = [], []

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if not found and URL_RE.search(line):
                found.append(line.strip())

    threading.Thread(target=reader, daemon=True).start()
    t_end = time.monotonic() + timeout
    while not found:
        if proc.poll() is not None or time.monotonic() > t_end:
            proc.kill()
            raise RuntimeError("hemotwin app did not print its URL:\n" + "\n".join(lines[-30:]))
        time.sleep(0.2)
    return AppProcess(proc, found[0], lines)


def stop_app(app: AppProcess):
    app.proc.terminate()
    try:
        app.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        app.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def view_run(tmp_path_factory):
    return write_view_fixture_run(tmp_path_factory.mktemp("view_run") / "run")


@pytest.fixture(scope="module")
def served_view(view_run, tmp_path_factory):
    app = start_app(view_run, tmp_path_factory.mktemp("app"))
    yield app
    stop_app(app)
