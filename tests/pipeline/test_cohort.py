# SPDX-License-Identifier: Apache-2.0
"""Cohort runs on Dask: graded-severity coronary phantoms, an error row, resume, real scheduler."""
from __future__ import annotations

import importlib.util
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("distributed")
pytest.importorskip("hemotwin.pipeline")

from hemotwin.cli import main as cli_main  # noqa: E402
from hemotwin.cohort import case_hash, plan_threads, run_cohort  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MAKE_CASES = REPO / "cases" / "cohort_stenosis" / "make_cases.py"


def _make_cases_module():
    spec = importlib.util.spec_from_file_location("cohort_make_cases", MAKE_CASES)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def cohort_cases(tmp_path_factory):
    """The four graded phantoms + the broken case, written into a temporary folder."""
    return _make_cases_module().write_cohort(tmp_path_factory.mktemp("cohort_cases"))


def _cohort(argv) -> int:
    """`hemotwin cohort ARGV` in this process (the cases run in Dask worker processes)."""
    return cli_main(argv)


def _severity(path) -> int:
    return int(Path(path).stem.split("_")[-1])


def test_plan_threads_never_oversubscribes():
    for cores in (1, 2, 3, 8, 16):
        for workers in (None, 1, 2, 3, 5):
            w, t = plan_threads(workers, 4, cores=cores)
            assert w >= 1 and t >= 1
            assert w * t <= max(cores, w)  # more workers than cores: one thread each


def test_case_hash_follows_inputs(tmp_path):
    img = tmp_path / "img.bin"
    img.write_bytes(b"a")
    case = tmp_path / "c.toml"
    case.write_text('[image]\npath = "img.bin"\n', encoding="utf-8")
    h0 = case_hash(case)
    img.write_bytes(b"b")
    assert case_hash(case) != h0  # an input image change invalidates the marker


def test_case_hash_follows_shared_data_and_dicom_series(tmp_path, monkeypatch):
    from hemotwin.config.schema import SHARED_DATA_ENV

    shared = tmp_path / "shared"
    (shared / "set").mkdir(parents=True)
    (shared / "set" / "artery.vtp").write_bytes(b"a")
    monkeypatch.setenv(SHARED_DATA_ENV, str(shared))
    case = tmp_path / "c.toml"
    case.write_text('[image]\nsurface = "shared:set/artery.vtp"\n', encoding="utf-8")
    h0 = case_hash(case)
    (shared / "set" / "artery.vtp").write_bytes(b"b")
    assert case_hash(case) != h0  # shared: inputs are inputs too

    series = tmp_path / "dicom"
    series.mkdir()
    for i in range(3):
        (series / f"IM{i}").write_bytes(bytes([i]))
    case.write_text('[image]\npath = "dicom"\n', encoding="utf-8")
    h1 = case_hash(case)
    (series / "IM1").write_bytes(b"changed slice")
    assert case_hash(case) != h1  # a series folder is hashed slice by slice


def test_cohort_local_cluster_graded_error_row_and_resume(cohort_cases, tmp_path, capsys):
    out = tmp_path / "cohort"
    argv = ["cohort", *map(str, cohort_cases), "--out", str(out), "--workers", "2"]
    rc = _cohort(argv)
    assert rc == 1  # one case is broken on purpose
    df = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns[:4]) == ["case", "status", "gradient_mmhg", "error"]
    assert len(df) == len(cohort_cases)
    assert (out / "summary.parquet").exists()
    assert len(pd.read_parquet(out / "summary.parquet")) == len(cohort_cases)

    broken = df[df["case"] == "broken_missing_image"].iloc[0]
    assert broken["status"] == "error"
    assert "does_not_exist" in broken["error"] or "not found" in broken["error"].lower()
    assert math.isnan(broken["gradient_mmhg"])

    ok = df[df["case"] != "broken_missing_image"].copy()
    assert (ok["status"] == "ok").all(), ok[["case", "error"]]
    assert (ok["error"].fillna("") == "").all()
    ok["severity"] = ok["case"].map(_severity)
    grads = ok.sort_values("severity")["gradient_mmhg"].to_numpy()
    assert (grads[1:] > grads[:-1]).all(), f"gradients not increasing with severity: {grads}"
    assert (ok["omp_threads"] * 2 <= max(2, os.cpu_count())).all()
    for p in ok["provenance"]:
        assert Path(p).exists()

    # re-run: the completed cases are skipped (only the broken one is tried again)
    rc = _cohort(argv)
    assert rc == 1
    df2 = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=[""])
    skipped = dict(zip(df2["case"], df2["skipped"]))
    assert all(skipped[c] for c in ok["case"]), skipped
    assert not skipped["broken_missing_image"]
    pd.testing.assert_series_equal(df2.loc[df2["status"] == "ok", "gradient_mmhg"].reset_index(drop=True),
                                   ok["gradient_mmhg"].reset_index(drop=True))
    err = capsys.readouterr().err
    assert "already completed, skipped" in err and "[5/5]" in err
    # the graded cases reach their steady state (a cohort of unconverged runs compares start-ups)
    assert (ok["pipeline_status"] == "ok").all(), ok[["case", "pipeline_status", "warnings"]]
    assert (ok["mass_imbalance"] < 0.01).all(), ok[["case", "mass_imbalance"]]  # steady_tolerance

    # a case whose results were deleted is run again, not skipped on its marker alone
    first = ok.sort_values("case").iloc[0]
    Path(first["results"]).unlink()
    assert _cohort(argv) == 1
    df3 = pd.read_csv(out / "summary.csv", keep_default_na=False, na_values=[""])
    row = df3[df3["case"] == first["case"]].iloc[0]
    assert not row["skipped"] and row["status"] == "ok" and Path(first["results"]).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, timeout=60.0):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"dask process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture
def dask_scheduler_and_worker(tmp_path):
    """A real `dask scheduler` and `dask worker` as separate processes on 127.0.0.1."""
    port = _free_port()
    bindir = Path(sys.executable).parent
    dask_cli = [str(bindir / "dask")] if (bindir / "dask").exists() else [sys.executable, "-m", "dask"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    logs = [open(tmp_path / n, "w") for n in ("scheduler.log", "worker.log")]
    procs = []
    try:
        procs.append(subprocess.Popen(
            [*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--dashboard-address", "127.0.0.1:0", "--no-show"],
            stdout=logs[0], stderr=subprocess.STDOUT, env=env, cwd=tmp_path))
        _wait_port(port, procs[0])
        address = f"tcp://127.0.0.1:{port}"
        procs.append(subprocess.Popen(
            [*dask_cli, "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60"],
            stdout=logs[1], stderr=subprocess.STDOUT, env=env, cwd=tmp_path))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for f in logs:
            f.close()


def test_cohort_on_external_scheduler(cohort_cases, dask_scheduler_and_worker, tmp_path):
    out = tmp_path / "cohort_sched"
    cases = [c for c in cohort_cases if c.stem in ("stenosis_30", "stenosis_50")]
    rc = _cohort(["cohort", *map(str, cases), "--out", str(out),
                  "--scheduler", dask_scheduler_and_worker])
    assert rc == 0
    df = pd.read_csv(out / "summary.csv")
    assert list(df["case"]) == ["stenosis_30", "stenosis_50"]
    assert (df["status"] == "ok").all()
    assert df["gradient_mmhg"].iloc[1] > df["gradient_mmhg"].iloc[0]
