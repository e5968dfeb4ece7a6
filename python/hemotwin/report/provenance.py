# SPDX-License-Identifier: Apache-2.0
"""provenance.json: input hashes, software versions, every parameter, lattice numbers, run time.

No patient identifier ever enters it: images are referenced by content hash and suffix only
(never by path, which may carry a name), and no image metadata is copied.
"""
from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path

__all__ = ["PROVENANCE_REQUIRED", "build_provenance", "file_sha256", "software_versions"]

PROVENANCE_REQUIRED = ("schema_version", "created_utc", "case_sha256", "inputs", "versions",
                       "parameters", "lattice", "run_time_s", "seed")


def file_sha256(path) -> str:
    """SHA-256 of a file, or of all files of a folder (sorted by relative path)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def software_versions() -> dict:
    import importlib.metadata as md

    from .. import __version__

    v = {"hemotwin": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "pydantic", "SimpleITK", "pyvista", "vtk", "tqdm"):
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            v[pkg] = None
    try:
        from .. import build_info

        v["core"] = build_info()
    except Exception:  # the compiled core may be absent on documentation builders
        v["core"] = None
    return v


def build_provenance(*, case_sha256, inputs, parameters, lattice, outlets, stage_times_s,
                     cached_stages, run_time_s, seed, device, pressure_offset_pa, notes=()) -> dict:
    """Assemble the provenance dict (JSON-ready once passed through the pipeline's encoder)."""
    return {
        "schema_version": "1.0",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "case_sha256": case_sha256, "inputs": inputs, "versions": software_versions(),
        "parameters": parameters, "lattice": lattice, "outlets": outlets,
        "pressure_offset_pa": pressure_offset_pa, "stage_times_s": stage_times_s,
        "cached_stages": cached_stages, "run_time_s": run_time_s, "seed": seed, "device": device,
        "notes": list(notes),
    }
