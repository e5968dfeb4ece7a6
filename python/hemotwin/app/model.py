# SPDX-License-Identifier: Apache-2.0
"""What the workstation shows, read from a pipeline output folder; and the background jobs.

No physics and no file formats of its own: a run is the folder ``hemotwin run`` writes
(``results.json``, the wall surface ``.vtp``, the centerline ``.vtp``), and Simulate calls
``hemotwin.pipeline.run_case`` with the chosen device pinned through the case overrides.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RunData", "load_run", "device_overrides", "simulate_job", "find_case_file",
           "catalog_devices", "SCALARS"]

#: Surface colourings offered: label -> (array-name keywords, unit label, factor from SI).
SCALARS = {
    # TAWSS first: a pulsatile run's headline WSS (its wss_magnitude is the cycle-mean field's)
    "WSS": (("tawss", "wss_magnitude", "wss"), "WSS [Pa] (TAWSS in pulsatile runs; 1 Pa = 10 dyn/cm2)", 1.0),
    "Pressure": (("pressure",), "Pressure [mmHg]", 1.0 / 133.322387415),
}


@dataclass
class RunData:
    """One finished run as the app needs it (everything in mm / clinical units)."""

    out_dir: Path
    results: dict
    surface: object = None            # pyvista.PolyData or None
    centerline_mm: np.ndarray | None = None   # (n, 3)
    arclength_mm: np.ndarray | None = None    # (n,)
    diameter_mm: np.ndarray | None = None     # (n,)
    scalar_arrays: dict = field(default_factory=dict)  # label -> array name on the surface
    surface_kind: str | None = None   # "pre" or "post": which geometry ``surface`` is
    surface_file: Path | None = None

    @property
    def lesions(self) -> list:
        return list(self.results.get("lesions") or [])

    @property
    def device(self) -> dict:
        return dict(self.results.get("device") or {})

    def gradient_mmhg(self, post=False):
        src = (self.results.get("post") or {}) if post else self.results
        les = src.get("lesions") or []
        if les and les[0].get("gradient_mmhg") is not None:
            return float(les[0]["gradient_mmhg"])
        g = src.get("gradient_mmhg")
        return None if g is None else float(g)

    def peak_to_peak_mmhg(self, post=False):
        """Lesion 1's peak-to-peak gradient of a pulsatile run (None for a steady one, where it
        equals the mean): the coarctation's intervention measure."""
        src = (self.results.get("post") or {}) if post else self.results
        les = src.get("lesions") or []
        if (src.get("run") or {}).get("mode") != "pulsatile" or not les:
            return None
        g = les[0].get("gradient_peak_to_peak_mmhg")
        return None if g is None else float(g)

    def pd_pa(self, post=False):
        src = (self.results.get("post") or {}) if post else self.results
        les = src.get("lesions") or []
        if les and les[0].get("pd_pa") is not None:
            return float(les[0]["pd_pa"])
        return src.get("pd_pa")

    def wss_stats(self, post=False) -> dict:
        src = (self.results.get("post") or {}) if post else self.results
        w = src.get("wss") or src.get("wss_statistics") or {}
        return w if isinstance(w, dict) else {}


def _first(folder: Path, patterns, exclude=()) -> Path | None:
    """First file in ``folder`` itself (never its subfolders) matching one of ``patterns``."""
    for pat in patterns:
        hits = [h for h in sorted(folder.glob(pat)) if h.is_file()
                and not any(x in h.name.lower() for x in exclude)]
        if hits:
            return hits[0]
    return None


def _surface_file(out: Path, results: dict, which: str) -> Path | None:
    """The wall surface of the ``which`` ("pre" or "post") geometry in a run folder.

    Pre: the wall with the flow's fields (``pre_wall.vtp``), else another wall / surface file,
    else the segmented lumen (``lumen.vtp``, geometry only). Post: ``post_wall.vtp`` only (the
    treated geometry); ``lumen.vtp`` is always the untreated one and is never taken for it.
    Only the folder itself is searched: the app's own runs are subfolders of it.
    """
    files = results.get("files") if isinstance(results.get("files"), dict) else {}
    named = files.get(f"{which}_wall")
    if isinstance(named, str) and "/" not in named and "\\" not in named \
            and (out / named).is_file():
        return out / named
    if which == "post":
        return _first(out, ["post_wall.vtp", "post*wall*.vtp"])
    return _first(out, ["pre_wall.vtp", "pre*wall*.vtp", "wall*.vtp", "surface*.vtp",
                        "*wss*.vtp", "lumen.vtp", "*.vtp"], exclude=("centerline", "post"))


def _centerline(pd):
    pts = np.asarray(pd.points, float)
    names = {n.lower(): n for n in pd.point_data.keys()}
    diam = None
    for key, fac in (("diameter_mm", 1.0), ("diameter", 1.0), ("radius_mm", 2.0), ("radius", 2.0),
                     ("maximuminscribedsphereradius", 2.0)):
        if key in names:
            diam = fac * np.asarray(pd.point_data[names[key]], float)
            break
    if diam is None:
        for low, n in names.items():
            if "radius" in low or "diameter" in low:
                diam = (2.0 if "radius" in low else 1.0) * np.asarray(pd.point_data[n], float)
                break
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    return pts, s, diam


def load_run(out_dir, which: str = "pre") -> RunData:
    """Read a pipeline output folder (``results.json`` + surface and centerline ``.vtp``).

    Parameters
    ----------
    out_dir : str or Path
        A folder written by ``hemotwin run`` (or by the app's Simulate).
    which : {"pre", "post"}
        Which geometry's surface to load: the untreated one (``pre_wall.vtp``, else
        ``lumen.vtp``) or the treated one (``post_wall.vtp``; none if the run has not written
        it). ``RunData.surface_kind`` says which one was loaded.
    """
    import pyvista as pv

    if which not in ("pre", "post"):
        raise ValueError(f"which={which!r}: 'pre' or 'post'")
    out = Path(out_dir)
    res_path = out / "results.json"
    if not res_path.is_file():
        raise FileNotFoundError(f"{out}: no results.json (is this a hemotwin run folder?)")
    results = json.loads(res_path.read_text(encoding="utf-8"))
    run = RunData(out_dir=out, results=results)

    surf = _surface_file(out, results, which)
    if surf is not None:
        run.surface = pv.read(surf)
        run.surface_kind = which
        run.surface_file = surf
        arrays = {n.lower(): n for n in run.surface.point_data.keys()}
        arrays.update({n.lower(): n for n in run.surface.cell_data.keys()})
        for label, (keys, _, _) in SCALARS.items():
            for k in keys:
                hit = next((arrays[a] for a in arrays if k in a and "vector" not in a), None)
                if hit:
                    run.scalar_arrays[label] = hit
                    break

    cl = _first(out, ["centerline.vtp", "centerline*.vtp", "*centerline*.vtp"])
    if cl is not None:
        pts, s, d = _centerline(pv.read(cl))
        run.centerline_mm, run.arclength_mm, run.diameter_mm = pts, s, d
    prof = results.get("profile") or results.get("centerline") or {}
    if run.diameter_mm is None and isinstance(prof, dict) and prof.get("diameter_mm"):
        run.arclength_mm = np.asarray(prof.get("arclength_mm") or prof.get("s_mm"), float)
        run.diameter_mm = np.asarray(prof["diameter_mm"], float)
    return run


def find_case_file(out_dir) -> Path | None:
    """The case file a run came from: ``case.toml`` in the folder, else the one provenance names."""
    out = Path(out_dir)
    for p in (out / "case.toml", out / "input" / "case.toml"):
        if p.is_file():
            return p
    prov = out / "provenance.json"
    if prov.is_file():
        data = json.loads(prov.read_text(encoding="utf-8"))
        stack = [data]
        while stack:
            d = stack.pop()
            if isinstance(d, dict):
                for k, v in d.items():
                    if isinstance(v, str) and v.endswith(".toml") and "case" in k.lower() \
                            and Path(v).is_file():
                        return Path(v)
                    stack.append(v)
            elif isinstance(d, list):
                stack.extend(d)
    return None


def catalog_devices(results: dict, catalog_path=None, indication=None) -> list[dict]:
    """Devices offered in the picker: the catalog's entries via ``analysis.catalog``, if present.

    Each dict has ``name``, ``diameter_mm``, ``length_mm``. The recommended device comes first.
    """
    devices = []
    rec = results.get("device") or {}
    indication = indication or rec.get("indication")
    if rec.get("diameter_mm"):
        devices.append({"name": f"Recommended: {rec.get('name', 'device')}",
                        "diameter_mm": float(rec["diameter_mm"]),
                        "length_mm": float(rec.get("length_mm") or 10.0),
                        "position_mm": rec.get("position_mm", rec.get("start_mm"))})
    try:
        from ..analysis import catalog as cat
    except ImportError:
        cat = None
    if cat is not None:
        try:
            catalog = cat.load_catalog(catalog_path)
        except (AttributeError, TypeError, OSError, ValueError):
            catalog = None
        devices.extend(_iter_entries(catalog, indication))
    if len(devices) <= 1:  # no catalog module yet: nominal sizes around the recommendation
        base = devices[0]["diameter_mm"] if devices else 3.0
        for d in sorted({round(base - 0.5, 2), round(base, 2), round(base + 0.5, 2)}):
            for ln in (12.0, 18.0):
                devices.append({"name": f"Generic BX {d:g} x {ln:g} mm", "diameter_mm": d,
                                "length_mm": ln, "position_mm": None})
    return devices


def _iter_entries(catalog, indication=None):
    """(family x diameter x length) entries of an ``analysis.catalog.Catalog``."""
    fams = getattr(catalog, "families", None) or []
    if indication and hasattr(catalog, "for_indication"):
        fams = catalog.for_indication(indication) or fams
    for fam in fams:
        for d in getattr(fam, "diameters_mm", []):
            for ln in getattr(fam, "lengths_mm", []):
                yield {"name": f"{fam.name} {float(d):g} x {float(ln):g} mm",
                       "diameter_mm": float(d), "length_mm": float(ln), "position_mm": None,
                       "family": fam.name}


def device_overrides(diameter_mm: float, length_mm: float, position_mm: float) -> dict:
    """Case overrides that pin a device (dotted keys, unit strings, as the CLI's case files)."""
    return {"devices.pinned.diameter": f"{float(diameter_mm):.4g} mm",
            "devices.pinned.length": f"{float(length_mm):.4g} mm",
            "devices.pinned.position": f"{float(position_mm):.4g} mm",
            "devices.deploy": True}


def simulate_job(case_path: str, out_dir: str, overrides: dict | None) -> str:
    """Background job (own process): the pipeline's ``run_case``; returns the output folder.

    No progress bars (they would flood the app's output) and no flow-checkpoint resume (the
    pipeline's stage cache already skips what did not change).
    """
    from ..pipeline import run_case

    run_case(case_path, out_dir, resume=False, overrides=overrides, progress=False)
    return str(out_dir)


def device_tube(run: RunData, position_mm: float, length_mm: float, diameter_mm: float):
    """The device drawn in 3-D: a tube of the nominal diameter along the covered centerline."""
    import pyvista as pv

    if run.centerline_mm is None or len(run.centerline_mm) < 2:
        return None
    s = run.arclength_mm
    a, b = float(position_mm), float(position_mm) + float(length_mm)
    a, b = max(a, float(s[0])), min(b, float(s[-1]))
    if b - a <= 1e-6:
        return None
    ss = np.linspace(a, b, max(8, int(math.ceil((b - a) / 0.25))))
    pts = np.column_stack([np.interp(ss, s, run.centerline_mm[:, k]) for k in range(3)])
    line = pv.lines_from_points(pts)
    return line.tube(radius=float(diameter_mm) / 2.0, n_sides=24, capping=False)
