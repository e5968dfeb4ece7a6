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

__all__ = ["PROVENANCE_REQUIRED", "build_provenance", "file_sha256", "provenance_stamp", "software_versions",
           "source_revision"]

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


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def source_revision() -> dict:
    """The git commit hemotwin runs from, where it runs from a checkout (an editable install):
    one version number spans many commits. None where it was installed from a wheel or sdist."""
    import subprocess

    pkg = Path(__file__).resolve().parents[1]

    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(pkg), *args], capture_output=True, text=True,
                                  timeout=20, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    top = git("rev-parse", "--show-toplevel")
    # only our own repository: a wheel installed in a venv inside some other checkout is not it
    if not top or (Path(top) / "python" / "hemotwin").resolve() != pkg:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": git("rev-parse", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def provenance_stamp(prov: dict) -> dict:
    """The few provenance fields every output carries inside itself (results.json, VTK field
    data, PNG text), so a file that travels alone still says what made it; the whole record
    is provenance.json beside it."""
    v = prov.get("versions") or {}
    return {"hemotwin": v.get("hemotwin"), "git_commit": v.get("git_commit"),
            "created_utc": prov.get("created_utc"), "case_sha256": prov.get("case_sha256"),
            "inputs_sha256": {k: i.get("sha256") for k, i in (prov.get("inputs") or {}).items()},
            "seed": prov.get("seed"), "record": "provenance.json"}


def software_versions() -> dict:
    import importlib.metadata as md

    from .. import __version__

    v = {"hemotwin": __version__, **source_revision(), "python": platform.python_version(),
         "platform": platform.platform()}
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
                     cached_stages, run_time_s, seed, device, pressure_offset_pa, notes=(),
                     versions=None, created_utc=None, resolved_parameters=None) -> dict:
    """Assemble the provenance dict (JSON-ready once passed through the pipeline's encoder).
    ``parameters`` are the case's own settings; ``resolved_parameters`` every setting with the
    defaults filled in, as the run used them."""
    return {
        "schema_version": "1.0",
        "created_utc": created_utc or utc_now(),
        "case_sha256": case_sha256, "inputs": inputs, "versions": versions or software_versions(),
        "resolved_parameters": resolved_parameters,
        "parameters": parameters, "lattice": lattice, "outlets": outlets,
        "pressure_offset_pa": pressure_offset_pa, "stage_times_s": stage_times_s,
        "cached_stages": cached_stages, "run_time_s": run_time_s, "seed": seed, "device": device,
        "notes": list(notes),
    }
