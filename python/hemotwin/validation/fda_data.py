# SPDX-License-Identifier: Apache-2.0
"""Reader for the FDA nozzle round-robin experimental data files (doi:10.17917/C78G69).

File layout (SOURCE.md of the data set): header lines ``key value``; blocks ``plot-<quantity>[ <z> 0]``,
a point count N, then N lines ``<position> <value>``. Exactly-zero velocity values mean "not
measured". Positions are converted to the flow frame: z_flow = direction * (z - z_sudden).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ORIENTATION_DIRS = {"sudden-expansion": "fda_nozzle_sudden_expansion",
                    "conical-diffuser": "fda_nozzle_conical_diffuser"}
ORIENTATION_PREFIX = {"sudden-expansion": "SE", "conical-diffuser": "CD"}
VELOCITY_BLOCKS = ("plot-z-distribution-axial-velocity", "plot-profile-axial-velocity-at-z",
                   "plot-profile-radial-velocity-at-z", "plot-jet-width-0")


@dataclass
class FdaBlock:
    name: str
    z_m: float | None
    position_m: np.ndarray
    value: np.ndarray


@dataclass
class FdaDataset:
    """One experimental data file: header keys (strings) and blocks keyed by (name, z rounded to 0.1 mm)."""

    path: str
    header: dict
    blocks: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.header.get("dataset-code", "?")

    @property
    def flow_m3_s(self) -> float:
        return float(self.header["fluid-volumetric-flow-rate"])

    @property
    def reynolds(self) -> int:
        return int(self.header["dataset-reynolds"])

    @property
    def flow_direction(self) -> float:
        return float(self.header.get("geometry-flow-z-direction", "+1"))

    @property
    def sudden_z_m(self) -> float:
        return float(self.header.get("geometry-sudden-z", "0"))

    def block(self, name: str, z_m: float | None = None) -> FdaBlock | None:
        key = (name, None if z_m is None else round(float(z_m), 4))
        return self.blocks.get(key)

    def stations(self, name: str = "plot-profile-axial-velocity-at-z") -> list:
        return sorted(z for (n, z) in self.blocks if n == name and z is not None)


def _to_flow_frame(z, direction, sudden):
    return direction * (np.asarray(z, float) - sudden)


def read_fda_file(path) -> FdaDataset:
    """Parse one ``PIV_*.txt`` file; z positions (block names and z-distributions) in the flow frame."""
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    header, raw = {}, []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line.startswith("plot-"):
            parts = line.split()
            name = parts[0]
            z = float(parts[1]) if len(parts) > 1 and re.match(r"^[-+0-9.eE]+$", parts[1]) else None
            n = int(lines[i].strip())
            i += 1
            pts = np.array([[float(v) for v in lines[i + k].split()[:2]] for k in range(n)]).reshape(-1, 2)
            i += n
            raw.append((name, z, pts))
        else:
            key, _, val = line.partition(" ")
            header.setdefault(key, val.strip().strip('"').strip())
    ds = FdaDataset(str(path), header)
    d, s = ds.flow_direction, ds.sudden_z_m
    for name, z, pts in raw:
        zf = None if z is None else float(_to_flow_frame(z, d, s))
        pos = pts[:, 0]
        if name.startswith(("plot-z-distribution", "plot-wall-distribution", "plot-jet-width")):
            pos = _to_flow_frame(pos, d, s)
        ds.blocks[(name, None if zf is None else round(zf, 4))] = FdaBlock(name, zf, pos, pts[:, 1])
    return ds


def data_root() -> Path:
    """Folder holding the data sets: $HEMOTWIN_DATA, else the first ``shared/data`` found upwards."""
    env = os.environ.get("HEMOTWIN_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        for cand in (parent / "shared" / "data", parent.parent / "shared" / "data"):
            if cand.is_dir():
                return cand
    return Path("/work/shared/data")


def find_files(re_throat: int, orientation: str = "sudden-expansion", root=None) -> list:
    """The PIV files of one Reynolds number and orientation (empty list when not present)."""
    root = Path(root) if root else data_root()
    base = root / ORIENTATION_DIRS[orientation]
    pat = f"PIV_*_{int(re_throat)}_*.txt"
    return sorted(base.rglob(pat)) if base.is_dir() else []


def load_datasets(re_throat: int, orientation: str = "sudden-expansion", root=None) -> list:
    return [read_fda_file(p) for p in find_files(re_throat, orientation, root)]


def _stats(values):
    v = np.asarray(values, float)
    n = len(v)
    mean = float(np.mean(v)) if n else math.nan
    sd = float(np.std(v, ddof=1)) if n > 1 else math.nan
    return mean, sd, n


def centerline_stats(datasets, stations=None) -> dict:
    """Mean, sample SD and count of the centreline axial velocity over the data sets, per station.

    Zero values (not measured) are left out. Returns {"z_m", "mean", "sd", "n"} lists.
    """
    per_z = {}
    for ds in datasets:
        b = ds.block("plot-z-distribution-axial-velocity")
        if b is None:
            continue
        for z, u in zip(b.position_m, b.value):
            if u != 0.0:
                per_z.setdefault(round(float(z), 4), []).append(float(u))
    zs = sorted(per_z) if stations is None else [round(float(s), 4) for s in stations]
    out = {"z_m": [], "mean": [], "sd": [], "n": []}
    for z in zs:
        m, s, n = _stats(per_z.get(z, []))
        out["z_m"].append(z)
        out["mean"].append(m)
        out["sd"].append(s)
        out["n"].append(n)
    return out


def profile_stats(datasets, z_m: float, quantity: str = "axial", r_grid_m=None) -> dict:
    """Mean/SD/count of a velocity profile at station ``z_m`` on a common radial grid.

    Each data set's profile (zeros = not measured dropped) is linearly interpolated on ``r_grid_m``
    within its own measured range only.
    """
    name = f"plot-profile-{quantity}-velocity-at-z"
    profs = []
    for ds in datasets:
        b = ds.block(name, z_m)
        if b is None:
            continue
        ok = b.value != 0.0
        if ok.sum() < 3:
            continue
        order = np.argsort(b.position_m[ok])
        profs.append((b.position_m[ok][order], b.value[ok][order]))
    if r_grid_m is None:
        lim = max((np.max(np.abs(p[0])) for p in profs), default=6e-3)
        r_grid_m = np.linspace(-lim, lim, 81)
    r_grid_m = np.asarray(r_grid_m, float)
    vals = np.full((len(profs), len(r_grid_m)), np.nan)
    for k, (r, u) in enumerate(profs):
        inside = (r_grid_m >= r[0]) & (r_grid_m <= r[-1])
        vals[k, inside] = np.interp(r_grid_m[inside], r, u)
    n = np.sum(np.isfinite(vals), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(vals, axis=0) / np.maximum(n, 1), np.nan)
        sd = np.array([np.std(c[np.isfinite(c)], ddof=1) if np.isfinite(c).sum() > 1 else np.nan
                       for c in vals.T])
    return {"r_m": r_grid_m.tolist(), "mean": mean.tolist(), "sd": sd.tolist(), "n": n.tolist()}


def pressure_stats(datasets, rho_kg_m3: float = 1056.0, throat_radius_m: float = 2e-3) -> dict:
    """Wall pressure re-referenced to z = 0 and normalised by 1/2 rho u_throat^2, mean/SD per tap.

    Follows Hariharan et al. (2011): dP_norm = (P_z - P_{z=0}) / (1/2 rho u_throat^2), with
    u_throat = Q / (pi r_throat^2). Files without a pressure block are skipped.
    """
    per_z = {}
    for ds in datasets:
        b = ds.block("plot-wall-distribution-pressure")
        if b is None or b.position_m.size == 0:
            continue
        at0 = np.isclose(b.position_m, 0.0, atol=1e-5)
        if not at0.any():
            continue
        u_t = ds.flow_m3_s / (math.pi * throat_radius_m**2)
        q = 0.5 * rho_kg_m3 * u_t**2
        p0 = float(b.value[at0][0])
        for z, p in zip(b.position_m, b.value):
            per_z.setdefault(round(float(z), 4), []).append((float(p) - p0) / q)
    out = {"z_m": [], "mean": [], "sd": [], "n": []}
    for z in sorted(per_z):
        m, s, n = _stats(per_z[z])
        out["z_m"].append(z)
        out["mean"].append(m)
        out["sd"].append(s)
        out["n"].append(n)
    return out
