# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the backend matrix (cpu always, cuda when a GPU is present) and shared data."""
from __future__ import annotations

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
