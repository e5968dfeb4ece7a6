# SPDX-License-Identifier: Apache-2.0
"""The CUDA emulation (cuda/emulation) that runs the GPU code path's tests without a GPU must itself
be right: a block reduction over __syncthreads gives the exact sum, and the mistakes a GPU would turn
into garbage (a host pointer in a kernel, a copy past an allocation, a barrier only some threads
reach, a double free) are reported by name. Its memory checker names data races, indices past an
allocation, reads of unwritten memory and misaligned accesses at their .cu line, and counts sectors
as a GPU's L1 does."""
from __future__ import annotations

import json
import os
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EMULATION = REPO / "cuda" / "emulation"


# the kernels' own sources are compiled with gcc's access instrumentation, answered by memcheck.cpp
INSTRUMENT = ["-fsanitize=thread", "--param=tsan-instrument-func-entry-exit=0", "-g1"]


def _run_probe(work: Path, probe_cu: str, env: dict | None = None) -> dict:
    """Translate tests/unit/data/<probe_cu>, build it against the emulator (the probe instrumented,
    the emulator and its checker not, as CMake builds them) and return its 'case result' lines."""
    cxx = shutil.which("g++")
    if not cxx:
        pytest.skip("no g++ on PATH: the emulation's memory checker relies on gcc's -fsanitize=thread instrumentation")
    cpp = work / "probe.cpp"
    subprocess.run([sys.executable, str(EMULATION / "translate.py"), str(Path(__file__).parent / "data" / probe_cu),
                    str(cpp)], check=True)
    objects = []
    for src, flags in ((EMULATION / "emulator.cpp", ["-fopenmp"]), (EMULATION / "memcheck.cpp", []),
                       (cpp, ["-fopenmp", *INSTRUMENT])):
        obj = work / (src.stem + ".o")
        subprocess.run([cxx, "-std=c++17", "-O1", *flags, f"-I{EMULATION}", "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True, text=True)
        objects.append(str(obj))
    exe = work / "probe"
    subprocess.run([cxx, "-fopenmp", *objects, "-o", str(exe)], check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert run.returncode == 0, run.stderr
    return dict(line.split(" ", 1) for line in run.stdout.splitlines())


@pytest.fixture(scope="module")
def probe_output(tmp_path_factory):
    return _run_probe(tmp_path_factory.mktemp("emulation"), "emulation_probe.cu")


@pytest.fixture(scope="module")
def memcheck_output(tmp_path_factory):
    return _run_probe(tmp_path_factory.mktemp("memcheck"), "memcheck_probe.cu", {"HEMOTWIN_EMULATION_CHECK": "1"})


@pytest.mark.parametrize("case, expected", [
    ("write_write", "data race: thread 1 of block 0 and thread 0 of block 0 both write byte 0 of device "
                    "allocation #5 (4 bytes) in one launch"),
    ("read_write", "data race: thread 1 of block 0 writes byte 4 of device allocation #2 (4096 bytes) that "
                   "thread 0 of block 0 read in the same launch"),
    ("past_the_end", "out-of-bounds access: thread 255 of block 3 touches 4 bytes reaching 4 bytes past the "
                     "end of device allocation #1 (4096 bytes)"),
    ("uninitialised", "read of device memory nothing wrote: byte 0 of device allocation #3 (4096 bytes)"),
    ("misaligned", "misaligned address: thread 0 of block 0 reads 4 bytes at byte 2 of device allocation #1 "
                   "(4096 bytes), which a GPU requires 4-byte aligned"),
])
def test_memory_checker_names_the_threads_the_bytes_and_the_line(memcheck_output, case, expected):
    message = memcheck_output[case]
    assert expected in message, message
    # the kernel and the .cu line, from the instrumented code's line tables
    assert message.startswith("kernel ") and "memcheck_probe.cu:" in message, message


def test_memory_checker_passes_clean_kernels_and_atomics(memcheck_output):
    # a plain copy, a permuted gather, and every thread raising one flag with atomicExch
    for case in ("coalesced", "strided", "atomic"):
        assert memcheck_output[case] == "no error", (case, memcheck_output[case])


def test_sector_counts_match_a_gpus_coalescing(memcheck_output):
    counts = json.loads(memcheck_output["counts"])["kernels"]
    copy, gather = counts["copy"], counts["gather_strided"]
    # 1024 threads = 32 warps; 32 consecutive floats are 4 sectors of 32 B per warp-wide access
    assert copy["load_requests"] == copy["store_requests"] == 32
    assert copy["load_sectors"] == copy["store_sectors"] == 128
    # lanes 128 B apart: one sector each, 32 per request; the writes stay coalesced
    assert gather["load_sectors"] == 32 * 32 and gather["store_sectors"] == 128
    # but a block's 8 warps read 8 neighbouring floats of each line between them: an L1 that keeps
    # what a block's warps share fetches each sector once
    assert gather["block_load_sectors"] == copy["block_load_sectors"] == 128
    # either way the kernel needs each input sector once: DRAM's floor is the same 4 KiB
    assert copy["footprint_read_sectors"] == gather["footprint_read_sectors"] == 128
    assert copy["load_bytes"] == gather["load_bytes"] == 4096


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
