# SPDX-License-Identifier: Apache-2.0
"""`hemotwin run` errors: one line naming the problem, exit status 2."""
import subprocess
import sys

import pytest


def _run(args):
    return subprocess.run([sys.executable, "-m", "hemotwin.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("body,needle", [
    ('[image]\nphantom = "aortic_arch"\n[physiology]\ncardiac_output = "5 mmHg"\n',
     "physiology.cardiac_output = '5 mmHg'"),
    ('[image]\npath = "nope.nii.gz"\n[physiology]\ncardiac_output = "5 L/min"\n', "image.path = 'nope.nii.gz'"),
    ('[image]\nphantom = "aortic_arch"\n[physiology]\ncardiac_output = "5 L/min"\n'
     '[physiology.outlets.ports.carotid]\nmodel = "rcr"\n', "unknown port 'carotid'"),
    ('[image]\nphantom = "aortic_arch"\n[physiology]\ncardiac_output = "-5 L/min"\n', "must be > 0"),
])
def test_run_one_line_errors(tmp_path, body, needle):
    case = tmp_path / "case.toml"
    case.write_text(body, encoding="utf-8")
    r = _run(["run", str(case), "--out", str(tmp_path / "out")])
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err, err


def test_run_missing_case(tmp_path):
    r = _run(["run", str(tmp_path / "x.toml"), "--out", str(tmp_path / "o")])
    assert r.returncode == 2 and "case file not found" in r.stderr


def test_device_cuda_without_a_gpu_is_one_line_before_any_work(tmp_path):
    import hemotwin

    if hemotwin.cuda_available():
        pytest.skip("a GPU is present: --device cuda is valid here")
    case = tmp_path / "case.toml"
    case.write_text('[image]\nphantom = "aortic_arch"\n[physiology]\ncardiac_output = "5 L/min"\n',
                    encoding="utf-8")
    for args in (["run", str(case), "--out", str(tmp_path / "out"), "--device", "cuda"],
                 ["verify", "poiseuille", "--device", "cuda"]):
        r = _run(args)
        assert r.returncode == 2, r.stderr
        err = r.stderr.strip()
        assert len(err.splitlines()) == 1 and "device 'cuda'" in err and "--device cpu" in err, err
    assert not (tmp_path / "out").exists()  # refused before segmenting anything


def test_device_cuda_names_a_build_without_the_backend(monkeypatch):
    from hemotwin.solver import simulation

    monkeypatch.setattr(simulation._core, "cuda_device_count", lambda: 0)
    monkeypatch.setattr(simulation._core, "build_info", lambda: {"cuda_compiled": False})
    with pytest.raises(simulation.DeviceUnavailableError, match="built without its CUDA backend"):
        simulation.resolve_device("cuda")
    assert simulation.resolve_device("cpu") == "cpu"  # no check, no error
    assert simulation.resolve_device("auto") == "cpu"


def test_out_that_is_a_file_is_one_line(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("mine", encoding="utf-8")
    for cmd in (["run", "cases/coarctation_demo/case.toml"], ["segment", "x.nii.gz", "--seed=0,0,0"]):
        r = _run([*cmd, "--out", str(a_file)])
        assert r.returncode == 2 and "is a file, not a folder" in r.stderr, r.stderr
    assert a_file.read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("opts,needle", [
    (["--resolution", "0"], "each value must lie in [4, 200]"),
    (["--resolution", "x"], "expected numbers of cells"),
    (["--data-root", "/nonexistent/folder"], "no such folder"),
    (["--t-end", "-1"], "expected a simulated time > 0 s"),
])
def test_validate_refuses_bad_options_before_running(tmp_path, opts, needle):
    r = _run(["validate", "fda-nozzle", *opts, "--out", str(tmp_path / "v")])
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("suffix,opts,needle", [
    (".nii.gz", ["--faces", "x.mdl"], "--faces: for surfaces only"),
    (".nii.gz", ["--unit", "cm"], "--unit: for surfaces only"),
    (".nii.gz", ["--series", "1.2.3"], "--series: for a DICOM folder only"),
    (".stl", ["--lower", "100"], "--lower: for images only"),
])
def test_segment_refuses_options_that_do_not_apply(tmp_path, suffix, opts, needle):
    src = tmp_path / f"input{suffix}"
    src.write_bytes(b"")  # refused before it is read
    r = _run(["segment", str(src), *opts, "--out", str(tmp_path / "o")])
    assert r.returncode == 2 and needle in r.stderr, r.stderr


@pytest.mark.parametrize("status,strict,code", [
    ("ok", False, 0), ("ok", True, 0), ("not_converged", False, 0), ("not_converged", True, 3)])
def test_strict_exit_status_for_unconverged_results(monkeypatch, tmp_path, capsys, status, strict, code):
    # the exit status follows results.json's status; the run itself is not what is tested here
    from hemotwin import cli, pipeline

    seen = {}

    def fake_run_case(case, out, **kw):
        seen["case"] = case
        return {"case": "c", "status": status, "warnings": ["pre-treatment flow did not reach a steady state"]}

    monkeypatch.setattr(pipeline, "run_case", fake_run_case)
    argv = ["run", str(tmp_path / "case.toml"), "--out", str(tmp_path / "out"), "--quiet"]
    assert cli.main(argv + (["--strict"] if strict else [])) == code
    assert seen["case"] == str(tmp_path / "case.toml")
    assert f"status {status}" in capsys.readouterr().out
