# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the backend matrix (cpu always, cuda when a GPU is present), shared data, and C++
test drivers compiled against the core's headers."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _cuda_available() -> bool:
    try:
        import hemotwin

        return hemotwin.cuda_available()
    except Exception:
        return False


@pytest.fixture(params=["cpu", "cuda"])
def backend(request):
    """Every solver test runs once per backend; cuda skips where no GPU is usable."""
    if request.param == "cuda" and not _cuda_available():
        pytest.skip("no usable CUDA device (hemotwin.cuda_available() is False)")
    return request.param


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (a fresh clone without ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def build_cpp_driver(tmp_path_factory):
    """build(name, *sources): compiles tests/unit/data/<name>.cpp against cpp/include, with any core
    sources it needs (paths from the repository root), and returns the executable; skips where no
    C++ compiler is on the PATH."""
    def build(name: str, *sources: str) -> Path:
        cxx = shutil.which("g++") or shutil.which("c++")
        if not cxx:
            pytest.skip(f"no C++ compiler on PATH to build the {name} driver")
        exe = tmp_path_factory.mktemp(name) / name
        subprocess.run([cxx, "-std=c++17", "-O1", f"-I{REPO / 'cpp' / 'include'}",
                        str(REPO / "tests" / "unit" / "data" / f"{name}.cpp"), *(str(REPO / s) for s in sources),
                        "-o", str(exe)], check=True, capture_output=True, text=True)
        return exe

    return build
