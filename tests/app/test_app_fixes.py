# SPDX-License-Identifier: Apache-2.0
"""Workstation fixes: Origin/Host checks, per-instance cookie, real run folders (pre and post
surfaces), Simulate's post column and warnings, input validation, app-sim numbering, shutdown."""
from __future__ import annotations

import base64
import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, start_app, write_view_fixture_run

pytest.importorskip("trame")
pytest.importorskip("trame_vtk")
pytest.importorskip("trame_vuetify")

from hemotwin.app import model  # noqa: E402

CASE = REPO / "cases" / "cohort_stenosis" / "stenosis_50.toml"
#: A pinned device and the wall surfaces, on a coarse, short run (not converged on purpose:
#: its status and warnings must reach the workstation).
FAST = {"numerics.cells_across": 6, "numerics.lesion_cells_across": 4, "run.max_time": "0.03 s"}


# ------------------------------------------------------------------ 1, 2: Origin, Host, cookie
def _upgrade(app, headers, path=None):
    """Raw websocket upgrade (http.client) -> HTTP status."""
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": key, "Host": f"127.0.0.1:{app.port}", **headers}
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        conn.putrequest("GET", path or f"/ws?token={app.token}", skip_host=True,
                        skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def _get(app, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheader("Set-Cookie") or ""
    finally:
        conn.close()


def test_websocket_refuses_foreign_origin(served_view):
    app = served_view
    for origin in (f"http://127.0.0.1:{app.port + 1}", f"http://localhost:{app.port + 1}",
                   "http://evil.example", "null"):
        assert _upgrade(app, {"Origin": origin}) == 403, origin
    # the cookie alone (as another local page's browser would send it) does not help either
    cookie = {"Cookie": f"app{app.port}_hemotwin_token={app.token}"}
    assert _upgrade(app, {"Origin": f"http://127.0.0.1:{app.port + 1}", **cookie},
                    path="/ws") == 403
    for origin in (f"http://127.0.0.1:{app.port}", f"http://localhost:{app.port}"):
        assert _upgrade(app, {"Origin": origin}) == 101, origin
    assert _upgrade(app, {"Origin": f"http://127.0.0.1:{app.port}", **cookie}, path="/ws") == 101


def test_host_header_is_checked(served_view):
    app = served_view
    q = f"/index.html?token={app.token}"
    assert _get(app, q, {"Host": f"evil.example:{app.port}"})[0] == 403   # DNS rebinding
    assert _get(app, q, {"Host": f"127.0.0.1:{app.port + 1}"})[0] == 403
    for host in (f"127.0.0.1:{app.port}", f"localhost:{app.port}"):
        assert _get(app, q, {"Host": host})[0] == 200, host


def test_cookie_name_is_per_instance(served_view):
    app = served_view
    code, cookie = _get(app, f"/index.html?token={app.token}", {"Host": f"127.0.0.1:{app.port}"})
    assert code == 200
    assert cookie.startswith(f"app{app.port}_hemotwin_token={app.token}"), cookie
    # another instance's cookie (other name) is not taken for this one's
    code, _ = _get(app, "/index.html", {"Host": f"127.0.0.1:{app.port}",
                                        "Cookie": f"app{app.port + 1}_hemotwin_token={app.token}"})
    assert code == 403
    code, _ = _get(app, "/index.html", {"Host": f"127.0.0.1:{app.port}",
                                        "Cookie": f"app{app.port}_hemotwin_token={app.token}"})
    assert code == 200


# ------------------------------------------------------------------ 3, 4: real run folders
@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One real pipeline run with a pinned device and VTK output (pre_wall, post_wall, lumen,
    centerline), plus an app-sim subfolder holding a decoy surface."""
    from hemotwin.pipeline import run_case

    out = tmp_path_factory.mktemp("real") / "run"
    overrides = {**model.device_overrides(3.0, 12.0, 10.0), "outputs.vtk": True, **FAST}
    run_case(str(CASE), str(out), resume=False, overrides=overrides, progress=False)
    (out / "case.toml").write_bytes(CASE.read_bytes())  # for Simulate (run folders do not name it)
    decoy = out / "app-sim-01"
    decoy.mkdir()
    (decoy / "wall.vtp").write_bytes((out / "lumen.vtp").read_bytes())
    (decoy / "centerline_decoy.vtp").write_bytes((out / "lumen.vtp").read_bytes())
    return out


def test_load_run_real_pre_surface_centerline_and_device(real_run):
    run = model.load_run(real_run)
    assert run.surface_file == real_run / "pre_wall.vtp" and run.surface_kind == "pre"
    assert {"WSS", "Pressure"} <= set(run.scalar_arrays)
    assert run.centerline_mm is not None and len(run.centerline_mm) > 10
    assert run.diameter_mm is not None and run.diameter_mm.max() > 1.0
    tube = model.device_tube(run, 10.0, 12.0, 3.0)
    assert tube is not None and tube.n_points > 0


def test_load_run_post_surface_is_the_treated_one(real_run, tmp_path):
    post = model.load_run(real_run, which="post")
    assert post.surface_file == real_run / "post_wall.vtp" and post.surface_kind == "post"
    assert "WSS" in post.scalar_arrays
    # a run without the treated wall: no post surface (never the pre lumen labelled post)
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("results.json", "lumen.vtp", "centerline.vtp"):
        (bare / f).write_bytes((real_run / f).read_bytes())
    assert model.load_run(bare, which="post").surface is None
    assert model.load_run(bare).surface_file == bare / "lumen.vtp"


def test_simulate_job_quiet_and_no_resume(monkeypatch, tmp_path):
    import hemotwin.pipeline as pipeline

    seen = {}
    monkeypatch.setattr(pipeline, "run_case", lambda *a, **k: seen.update(k))
    assert model.simulate_job(str(CASE), str(tmp_path), {"a": 1}) == str(tmp_path)
    assert seen["progress"] is False and seen["resume"] is False and seen["overrides"] == {"a": 1}


# ------------------------------------------------------------------ 4-9: the workstation itself
@pytest.fixture(scope="module")
def ws(real_run, tmp_path_factory):
    from hemotwin.app.ui import Workstation

    w = Workstation(real_run, "t" * 43, out_dir=tmp_path_factory.mktemp("ws-out"),
                    server_name="hemotwin-test-fixes")
    w.ctrl.view_update = lambda *a, **k: None
    yield w
    w.stop_workers()


def test_simulate_clears_post_and_labels_it(ws, real_run):
    from hemotwin.app.ui import next_sim_dir

    st = ws.state
    assert st.pre_gradient != "-" and "untreated" in st.view_label
    assert "status: not_converged" in st.message  # pre run's status/warnings shown
    calls = []
    ws._start_job = lambda kind, out, ov: calls.append((kind, Path(out), ov))
    (ws.out_root / "app-sim-07").mkdir()
    st.post_gradient, st.post_pdpa, st.post_wss = "9.99", "0.5", "1 / 2"
    ws.simulate()
    kind, out, ov = calls[-1]
    assert kind == "post" and out == ws.out_root / "app-sim-08" == next_sim_dir(ws.out_root)
    assert ov["outputs.vtk"] is True and ov["devices.deploy"] is True
    assert (st.post_gradient, st.post_pdpa, st.post_wss) == ("-", "-", "-")
    assert "running" in st.post_label
    # the finished post run: its own numbers, its device, the treated surface, its warnings
    ws._load_post(real_run)
    assert st.post_gradient == f"{ws.post.gradient_mmhg(post=True):.2f}"
    assert "3.00 x 12 mm" in st.post_label and "running" not in st.post_label
    assert "treated" in st.view_label and "untreated" not in st.view_label
    assert "status: not_converged" in st.message and "post-treatment" in st.message


def test_post_without_post_numbers_shows_dash(ws, real_run, tmp_path):
    import json

    res = json.loads((real_run / "results.json").read_text())
    res.pop("post", None)
    bare = tmp_path / "nopost"
    bare.mkdir()
    (bare / "results.json").write_text(json.dumps(res))
    ws._load_post(bare)
    assert ws.state.post_gradient == "-" and ws.state.post_pdpa == "-"  # not the pre value
    assert "untreated" in ws.state.view_label


@pytest.mark.parametrize("key,value", [("dev_diam", "abc"), ("dev_diam", float("nan")),
                                       ("dev_diam", -5.0), ("dev_len", 1e6),
                                       ("dev_pos", float("inf")), ("dev_pos", None)])
def test_bad_device_values_keep_last_valid(ws, key, value):
    ws.state.busy = False
    before = dict(ws._dev)
    ws.state[key] = value
    ws._on_device_geometry()
    assert ws._dev == before
    assert ws.state[key] == before[key]
    assert "Invalid device value" in ws.state.message


def test_bad_device_index_and_scalar(ws):
    ws.state.busy = False
    idx = ws._device_idx
    for bad in (9999, -1, "abc", 1.5):
        ws._on_device_pick(bad)
        assert ws._device_idx == idx and ws.state.device_idx == idx
        assert "No device" in ws.state.message
    ws._on_scalar("bogus")
    assert ws.state.scalar == ws._scalar in model.SCALARS
    ws._on_scalar("Pressure")
    assert ws._scalar == "Pressure"
    ws._on_device_geometry(dev_len=ws.state.dev_len)  # a valid value still works
    assert ws.state.device_shown


def test_sim_numbering_and_default_out(tmp_path):
    from hemotwin.app.ui import default_out_root, next_sim_dir

    assert next_sim_dir(tmp_path) == tmp_path / "app-sim-01"
    (tmp_path / "app-sim-02").mkdir()
    (tmp_path / "app-sim-x").mkdir()
    assert next_sim_dir(tmp_path) == tmp_path / "app-sim-03"
    run = write_view_fixture_run(tmp_path / "myrun")
    assert default_out_root(run) == tmp_path / "myrun-app"   # beside, never inside


# ------------------------------------------------------------------ 10: shutdown
def test_sigterm_ends_a_running_job(tmp_path):
    app = start_app(CASE, tmp_path)   # a case: its run starts at once in the worker
    time.sleep(2.0)
    kids = subprocess.run(["pgrep", "-P", str(app.proc.pid)], capture_output=True,
                          text=True).stdout.split()
    assert kids, "no worker process to end"
    t0 = time.monotonic()
    app.proc.send_signal(signal.SIGTERM)
    try:
        app.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        pytest.fail("the app did not exit within 15 s of SIGTERM")
    assert time.monotonic() - t0 < 15
    time.sleep(0.5)
    alive = [k for k in kids if Path(f"/proc/{k}").exists()
             and "Z" not in Path(f"/proc/{k}/stat").read_text().split()[2]]
    assert not alive, f"worker(s) left running: {alive}"


def test_a_run_folder_takes_its_case_file_for_simulate(real_run, tmp_path, capsys):
    import shutil

    from hemotwin.app.ui import Workstation
    from hemotwin.cli import main

    bare = tmp_path / "run"
    shutil.copytree(real_run, bare, ignore=shutil.ignore_patterns("case.toml", "app-sim-*"))
    assert model.find_case_file(bare) is None  # the run records its case by hash only
    w = Workstation(bare, "t" * 43, out_dir=tmp_path / "ws-out", server_name="hemotwin-test-case-arg",
                    case_path=CASE)
    try:
        assert w.case_path == CASE.resolve()
    finally:
        w.stop_workers()
    # --case belongs to a run folder, and must exist
    assert main(["app", str(CASE), "--case", str(CASE)]) == 2
    assert main(["app", str(bare), "--case", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "--case: only with a finished run folder" in err and "no such case file" in err


# ------------------------------------------------------------------ pulsatile: peak-to-peak shown
def test_a_pulsatile_runs_peak_to_peak_gradient_is_shown_beside_the_mean(tmp_path):
    from hemotwin.app.ui import _gradient_text

    lesion = {"gradient_mmhg": 9.57, "gradient_peak_to_peak_mmhg": 48.12, "pd_pa": 0.9}
    pulsatile = model.RunData(out_dir=tmp_path, results={
        "run": {"mode": "pulsatile"}, "lesions": [lesion],
        "post": {"run": {"mode": "pulsatile"}, "lesions": [{**lesion, "gradient_mmhg": 0.31,
                                                             "gradient_peak_to_peak_mmhg": 1.08}]}})
    assert _gradient_text(pulsatile) == "9.57 (peak-to-peak 48.1)"
    assert _gradient_text(pulsatile, post=True) == "0.31 (peak-to-peak 1.1)"
    steady = model.RunData(out_dir=tmp_path, results={"run": {"mode": "steady"}, "lesions": [lesion]})
    assert _gradient_text(steady) == "9.57"  # the browser tests read this cell as a number
