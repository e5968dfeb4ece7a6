# SPDX-License-Identifier: Apache-2.0
"""The CUDA emulation (cuda/emulation) that runs the GPU code path's tests without a GPU must itself
be right: a block reduction over __syncthreads gives the exact sum, and the mistakes a GPU would turn
into garbage (a host pointer in a kernel, a copy past an allocation, a barrier only some threads
reach, a double free) are reported by name."""
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EMULATION = REPO / "cuda" / "emulation"


@pytest.fixture(scope="module")
def probe_output(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("no C++ compiler on PATH to build the emulation probe")
    work = tmp_path_factory.mktemp("emulation")
    cpp = work / "probe.cpp"
    subprocess.run([sys.executable, str(EMULATION / "translate.py"), str(Path(__file__).parent / "data" / "emulation_probe.cu"),
                    str(cpp)], check=True)
    exe = work / "probe"
    subprocess.run([cxx, "-std=c++17", "-O1", "-fopenmp", f"-I{EMULATION}", str(cpp), str(EMULATION / "emulator.cpp"),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return dict(line.split(" ", 1) for line in run.stdout.splitlines())


def test_block_reduction_with_barriers_is_exact_on_first_and_later_launches(probe_output):
    # sum of 1..1000 = 500500, over four blocks of 256 threads (the last one part empty)
    # the first launch runs the blocks as fibers and learns the kernel synchronises; the second must
    # run it the same way
    assert probe_output["block_sums_0"] == "500500.0 no error"
    assert probe_output["block_sums_1"] == "500500.0 no error"


def test_kernels_without_barriers_run_every_thread_once(probe_output):
    assert probe_output["scale"] == "4.0 4000.0"  # two launches of x *= 2


@pytest.mark.parametrize("case, expected", [
    ("host_pointer", "argument 1 is a host (or freed) pointer"),
    ("empty_grid", "0 blocks of 256 threads"),
    ("overrun", "source on the device, past its end"),
    ("wrong_kind", "source on the host"),
    ("divergent", "__syncthreads() reached by 246 of a block's threads while 10 others ended"),
    ("double_free", "cudaFree of a pointer cudaMalloc did not return"),
])
def test_mistakes_a_gpu_would_hide_are_named(probe_output, case, expected):
    assert expected in probe_output[case], probe_output[case]
    assert "[hemotwin CUDA emulation]" in probe_output[case]


def test_fresh_device_memory_reads_as_nan(probe_output):
    assert probe_output["fresh_is_nan"] == "1"


def test_translate_refuses_a_launch_it_cannot_parse(tmp_path):
    src = tmp_path / "bad.cu"
    src.write_text("void f() { k<<<\n 1, 1>>>(); }\n")
    run = subprocess.run([sys.executable, str(EMULATION / "translate.py"), str(src), str(tmp_path / "bad.cpp")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "could not parse" in (run.stdout + run.stderr)
