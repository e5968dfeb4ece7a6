# SPDX-License-Identifier: Apache-2.0
"""The stages strung together: image -> segment -> surface -> centerlines/ports -> lattice -> flow
-> analysis -> sizing -> virtual deployment -> re-simulation -> report, with a cache per stage
keyed on the hash of its inputs. Writes results.json, provenance.json and the report folder.

Output folder rule: the pipeline only writes files it created itself (listed in
``.hemotwin_outputs.json``); an existing file it did not create is never overwritten.
"""
from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
import warnings
from pathlib import Path

import numpy as np

from .config import Case, load_case
from .config.schema import case_from_dict, input_files
from .units import MMHG_PA
from .report.provenance import file_sha256

__all__ = ["PipelineError", "demo_case_dict", "run_case", "run_case_summary"]

# a dense voxel array past this (4 GB as float32) is a unit slip, not a case: refused up front
MAX_DENSE_VOXELS = 1e9
CACHE_VERSION = "4"  # 2: centerlines carry caliper diameters; 3: image ports as `segment` cuts them;
# 4: pulsatile flow stages carry per-sample centerline pressures and fastest cells (cycle_probes),
# waveform CSVs are read by their header's time unit

MANIFEST = ".hemotwin_outputs.json"
CACHE_STAGES = ("image", "segment", "geometry", "lattice", "flow_pre", "flow_pre_rerun", "sizing", "deploy",
                "lattice_post", "flow_post")


class PipelineError(RuntimeError):
    """A stage failed in a way the user can act on; the message says which stage and what to do."""


# ----------------------------------------------------------------------------- output folder
class OutputDir:
    """An output folder that refuses to overwrite files it did not create."""

    def __init__(self, path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise PipelineError(f"--out {self.path} is a file, not a folder; give a folder path")
        self.path.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.path / MANIFEST
        self.created = set()
        self.written = set()  # by this run: what is left of `created` is an earlier run's
        self.case = None
        if self._manifest_path.exists():
            try:
                manifest = json.loads(self._manifest_path.read_text(encoding="utf-8"))
                self.created = set(manifest.get("files", []))
                self.case = manifest.get("case")
            except (ValueError, OSError, AttributeError):
                raise PipelineError(f"{self._manifest_path}: unreadable manifest; use a new --out "
                                    "folder") from None

    def claim_for(self, case_name: str) -> None:
        """Refuse a folder holding another case's run: its results would be replaced while its
        other files (fields, figures, the post-treatment run) stayed beside them, mixing two cases."""
        if self.case is not None and self.case != case_name and self.created:
            raise PipelineError(f"--out {self.path} holds the run of case {self.case!r}, not "
                                f"{case_name!r}; choose another --out folder (or delete that one)")
        if self.case != case_name:
            self.case = case_name
            self._save()

    def left_from_earlier_run(self) -> list:
        """Outputs of an earlier run of this case that this run did not write again (other
        settings: a figure or the post-treatment run no longer asked for); caches excluded."""
        return sorted(r for r in self.created - self.written
                      if not r.startswith(("cache/", "checkpoints/")) and (self.path / r).exists())

    def file(self, rel) -> Path:
        rel = str(rel)
        p = self.path / rel
        if p.exists() and rel not in self.created:
            raise PipelineError(f"{p} exists and was not written by hemotwin; refusing to overwrite "
                                "it (choose another --out folder)")
        p.parent.mkdir(parents=True, exist_ok=True)
        self.written.add(rel)
        if rel not in self.created:
            self.created.add(rel)
            self._save()
        return p

    def refuse_foreign(self, rels) -> None:
        """Raise if any of these paths exists and was not written by hemotwin."""
        foreign = [r for r in rels if (self.path / r).exists() and r not in self.created]
        if foreign:
            raise PipelineError(f"{self.path} holds files a run writes that were not written by "
                                f"hemotwin: {', '.join(foreign)}; refusing to overwrite them (choose "
                                "another --out folder)")

    def _save(self):
        self._manifest_path.write_text(json.dumps({"case": self.case, "files": sorted(self.created)}, indent=1))


def _sha256_of(obj) -> str:
    """Full SHA-256 of a case given as a dict (its canonical JSON), as a case file's would be."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _hash(obj) -> str:
    """A stage cache key: the first 16 digits of ``_sha256_of``."""
    return _sha256_of(obj)[:16]


class _Cache:
    def __init__(self, out: OutputDir, enabled=True):
        self.out, self.enabled = out, enabled
        self.hits, self.times = [], {}

    def get(self, stage, key, compute):
        assert stage in CACHE_STAGES, stage  # the list run_case checks for foreign files up front
        t0 = time.perf_counter()
        rel = f"cache/{stage}.pkl"
        path = self.out.path / rel
        # only a cache hemotwin wrote here is read (unpickling a file is running its code)
        if self.enabled and path.exists() and rel in self.out.created:
            try:
                with open(path, "rb") as fh:
                    k, value = pickle.load(fh)
                if k == key:
                    self.hits.append(stage)
                    self.times[stage] = 0.0
                    return value
            except Exception:  # a stale or truncated cache entry is simply recomputed
                pass
        value = compute()
        p = self.out.file(rel)
        with open(p, "wb") as fh:
            pickle.dump((key, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.times[stage] = round(time.perf_counter() - t0, 2)
        return value


# ----------------------------------------------------------------------------- demo case
def demo_case_dict() -> dict:
    """The built-in coarctation demo (same content as cases/coarctation_demo/case.toml)."""
    return {
        "case": {"name": "coarctation_demo",
                 "description": "Built-in aortic arch phantom with a 50 % coarctation: coarse "
                                "steady flow before and after a virtual stent"},
        "image": {"phantom": "aortic_arch", "phantom_options": {"spacing_mm": 1.2, "coarctation": 0.5}},
        "segmentation": {"method": "seeded", "seeds_mm": [[0.0, -25.0, 40.0], [0.0, 25.0, 30.0]]},
        "ports": {"flow_extension_diameters": 2.0},
        "physiology": {"cardiac_output": "5 L/min", "target_mean_pressure": "93 mmHg",
                       "heart_rate": "70 bpm",
                       "inflow": {"waveform": "constant", "profile": "parabolic", "ramp": "0.1 s"},
                       "outlets": {"model": "rcr", "murray_exponent": 3.0},
                       "blood": {"model": "newtonian", "density": "1060 kg/m3",
                                 "viscosity": "3.5 mPa*s"}},
        "numerics": {"cells_across": 7, "u_lu_max": 0.1, "les": "auto", "smagorinsky": 0.17,
                     "precision": "float32"},
        "run": {"mode": "steady", "steady_tolerance": 0.01, "max_time": "2.0 s",
                "min_time": "0.2 s", "window": "0.05 s"},
        "devices": {"indication": "coarctation"},
        "context_of_use": {"question_of_interest": "Does a stent sized to the adjacent aorta "
                           "lower the translesional pressure gradient of this coarctation?",
                           "context": "Research demonstration on a synthetic aortic-arch phantom with a "
                                      "50 % coarctation: the computed mean gradient before and after a "
                                      "virtual stent is one input among imaging and catheter "
                                      "measurements; not for clinical decisions"},
    }


# ----------------------------------------------------------------------------- stages
def _stage_image(case: Case):
    from .imaging.io import ImageVolume

    im = case.image
    if im.phantom:
        from .geometry.phantoms import make_phantom

        ph = make_phantom(im.phantom, **im.phantom_options)
        vol = ImageVolume(np.asarray(ph.image), ph.spacing_mm, ph.origin_mm, ph.direction,
                          f"built-in phantom {ph.name}", "CT")
        truth = {"mask": ph.mask, "seeds_mm": [np.asarray(s).tolist() for s in ph.seeds_mm],
                 "info": ph.info, "name": ph.name}
        return vol, truth
    if im.surface:
        return _surface_as_image(case)
    from .imaging.io import crop, read_image

    vol = read_image(case.resolve(im.path), series_uid=im.series_uid)
    if im.crop_lower_mm and im.crop_upper_mm:
        vol = crop(vol, im.crop_lower_mm, im.crop_upper_mm)
    if im.resample:
        from .imaging.io import resample_isotropic

        extent = np.asarray(vol.array.shape, float) * np.asarray(vol.spacing_mm, float)
        voxels = float(np.prod(np.maximum(1.0, np.round(extent / (im.resample * 1e3)))))
        if voxels > MAX_DENSE_VOXELS:  # a unit slip ("0.5 um") would fill the memory, then crash
            raise PipelineError(f"image.resample = {im.resample * 1e3:g} mm would make a {voxels:.2g}-voxel "
                                f"image of this {extent.round(1).tolist()} mm volume (at most "
                                f"{MAX_DENSE_VOXELS:.0e}); give a coarser spacing (mm, e.g. \"0.5 mm\")")
        vol = resample_isotropic(vol, im.resample * 1e3)
    return vol, None


def _faces_file(case: Case):
    """The SimVascular .mdl naming the surface's faces: given, or ``<surface stem>.mdl`` beside it."""
    im = case.image
    if im.surface_faces:
        return case.resolve(im.surface_faces)
    mdl = case.resolve(im.surface).with_suffix(".mdl")
    return mdl if mdl.is_file() else None


def _surface_as_image(case: Case):
    """A surface case: the capped surface and its ports, and its rasterised mask as the image."""
    from .geometry.surface_input import SurfaceInputError, surface_anatomy
    from .imaging.io import ImageVolume

    im = case.image
    try:
        seg = case.segmentation  # clip planes cut a surface's ends as they cut an image's lumen
        anat = surface_anatomy(case.resolve(im.surface), im.surface_unit, _faces_file(case),
                               overrides=dict(case.ports.names) or None,
                               spacing_mm=im.resample * 1e3 if im.resample else None,
                               clip_planes=[(c[:3], c[3:]) for c in seg.clip_planes],
                               clip_radius_mm=seg.clip_radius * 1e3 if seg.clip_radius else None)
    except SurfaceInputError as e:
        raise PipelineError(str(e)) from None
    vol = ImageVolume(anat.mask.astype(np.float32), anat.spacing_mm, anat.origin_mm,
                      np.eye(3), anat.description, "")
    given = {"mask": anat.mask, "surface": anat.surface, "ports": anat.ports,
             "description": anat.description}
    return vol, given


def _bounded_removed(vol, planes, radius_mm):
    """Voxels on the normal side of each plane AND within ``radius_mm`` of its point."""
    idx = np.indices(vol.shape, dtype=np.float32).reshape(3, -1).T
    world = vol.index_to_world(idx)
    removed = np.zeros(len(world), bool)
    for p in planes:
        c, n = np.asarray(p[:3], float), np.asarray(p[3:], float) / np.linalg.norm(p[3:])
        rel = world - c
        removed |= ((rel @ n) >= 0) & (np.linalg.norm(rel, axis=1) <= radius_mm)
    return removed.reshape(vol.shape)


def _check_label_grid(rel, lab, vol) -> None:
    """A label map must lie on the image's own voxel grid: same size, spacing, origin, direction."""
    h = float(np.min(vol.spacing_mm))
    problems = []
    if lab.shape != vol.shape:
        problems.append(f"size {lab.shape} vs {vol.shape}")
    if not np.allclose(lab.spacing_mm, vol.spacing_mm, rtol=1e-3, atol=0):
        problems.append(f"spacing {np.round(lab.spacing_mm, 4).tolist()} vs "
                        f"{np.round(vol.spacing_mm, 4).tolist()} mm")
    if not np.allclose(lab.origin_mm, vol.origin_mm, rtol=0, atol=0.05 * h):
        problems.append(f"origin {np.round(lab.origin_mm, 3).tolist()} vs "
                        f"{np.round(vol.origin_mm, 3).tolist()} mm")
    if not np.allclose(lab.direction, vol.direction, rtol=0, atol=1e-3):
        problems.append(f"direction {np.round(lab.direction, 4).tolist()} vs "
                        f"{np.round(vol.direction, 4).tolist()}")
    if problems:
        raise PipelineError(f"image.label_map {rel}: not on the image's voxel grid ({'; '.join(problems)}); "
                            "resample it onto the image first (nearest neighbour, e.g. SimpleITK "
                            "Resample with the image as reference)")


def _label_mask_bounded(case: Case, vol):
    """Adapter (label maps + bounded clip planes), kept here until imaging supports local clips."""
    from scipy import ndimage

    from .imaging.io import read_image

    lm = case.image.label_map
    paths = lm if isinstance(lm, list) else [lm]
    m = np.zeros(vol.shape, bool)
    for rel in paths:
        lab = read_image(case.resolve(rel), pixel_type="uint8")
        _check_label_grid(rel, lab, vol)
        m |= (np.asarray(lab.array) == case.segmentation.label) if case.segmentation.label \
            else (np.asarray(lab.array) > 0)
    m &= ~_bounded_removed(vol, case.segmentation.clip_planes, case.segmentation.clip_radius * 1e3)
    lab, n = ndimage.label(m, structure=np.ones((3, 3, 3)))
    if n == 0:
        raise PipelineError("segmentation: the label map is empty after clipping")
    sizes = ndimage.sum(m, lab, range(1, n + 1))
    m = lab == (int(np.argmax(sizes)) + 1)
    vox = float(np.prod(vol.spacing_mm))
    return m.astype(np.uint8), None, f"label map: lumen {int(m.sum())} voxels ({m.sum() * vox / 1e3:.1f} mL)"


def _bounded_ports(case: Case, vol, mask):
    """Ports of a mask cut by bounded clip planes (first plane = inlet) plus image-face ports."""
    from .geometry.ports import Port, detect_ports, order_ports

    found = detect_ports(mask, vol)  # image faces only
    h = float(np.cbrt(np.prod(vol.spacing_mm)))
    R = case.segmentation.clip_radius * 1e3
    idx = np.argwhere(mask > 0)
    world = vol.index_to_world(idx)
    for i, p in enumerate(case.segmentation.clip_planes):
        c, n = np.asarray(p[:3], float), np.asarray(p[3:], float) / np.linalg.norm(p[3:])
        rel = world - c
        sd = rel @ n
        sel = (sd >= -h) & (sd < 0) & (np.linalg.norm(rel, axis=1) <= R)
        if sel.sum() < 4:
            raise PipelineError(f"segmentation.clip_planes[{i}]: the plane does not cut the lumen "
                                f"within clip_radius = {R:g} mm")
        cen = world[sel].mean(axis=0)
        # the port plane sits 2 voxels inside the kept lumen: at the clip itself the smoothed
        # surface is rounded off and a flat cut there would catch only a small rim
        cen = cen - ((cen - c) @ n) * n - 2.0 * h * n
        area = float(sel.sum()) * float(np.prod(vol.spacing_mm)) / h
        found.append(Port(f"clip{i}", "outlet", cen, n, area, float(np.sqrt(area / np.pi)), "clip"))
    n_clip = len(case.segmentation.clip_planes)
    inlet_index = len(found) - n_clip if n_clip else None
    order, names, roles = order_ports([p.radius_mm for p in found], [p.center_mm for p in found],
                                      inlet_index)
    ports = []
    for i, nm, ro in zip(order, names, roles):
        q = found[i]
        q.name, q.role = nm, ro
        ports.append(q)
    if case.ports.names:
        from .geometry.ports import apply_port_overrides

        ports = apply_port_overrides(ports, case.ports.names)
    return ports


def _stage_segment(case: Case, vol, truth):
    seg = case.segmentation
    if case.image.surface:  # the surface is the lumen: nothing to segment
        m = np.asarray(truth["mask"], np.uint8)
        vox = float(np.prod(vol.spacing_mm))
        return m, None, (f"{truth['description']}; rasterised at {vol.spacing_mm[0]:.3g} mm: "
                         f"{int(m.sum())} voxels ({m.sum() * vox / 1e3:.2f} mL incl. short "
                         "extensions past the caps)")
    if seg.method == "label" and seg.clip_radius:
        return _label_mask_bounded(case, vol)
    if seg.method == "truth":
        if truth is None:
            raise PipelineError("segmentation.method = 'truth' needs image.phantom")
        return np.asarray(truth["mask"], np.uint8), None, "phantom truth mask"
    from .imaging.segmentation import segment_lumen

    label_map = None
    if seg.method == "label":
        from .imaging.io import read_image

        if not case.image.label_map:
            raise PipelineError("segmentation.method = 'label' needs image.label_map")
        lm = case.image.label_map
        if isinstance(lm, list):
            raise PipelineError("image.label_map: several files need segmentation.clip_radius "
                                "(the bounded-clip label path)")
        label_map = read_image(case.resolve(lm), pixel_type="uint8")
        if label_map.shape != vol.shape:
            from .imaging.io import crop

            if case.image.crop_lower_mm and case.image.crop_upper_mm:
                label_map = crop(label_map, case.image.crop_lower_mm, case.image.crop_upper_mm)
        _check_label_grid(lm, label_map, vol)
    seeds = seg.seeds_mm or (truth["seeds_mm"] if truth else None)
    if seg.method == "vesselness":
        seeds = None
    planes = [(np.array(p[:3]), np.array(p[3:]) / np.linalg.norm(p[3:])) for p in seg.clip_planes]
    res = segment_lumen(vol, [np.asarray(s, float) for s in seeds] if seeds else None,
                        clip_planes=planes, label_map=label_map, label=seg.label,
                        lower=seg.lower_hu, upper=seg.upper_hu, refine=seg.refine, name="image")
    if res.status not in ("ok",):
        raise PipelineError(f"segmentation: {res.message}")
    ls = res.levelset.array if res.levelset is not None else None
    return np.asarray(res.mask.array, np.uint8), ls, res.message


def _stage_geometry(case: Case, vol, mask, levelset, given=None, remesh=False, port_planes=None):
    """Ports, capped surface and centerlines of a lumen mask.

    ``given`` (surface cases): the user's capped surface and its ports; they are used as they are
    unless ``remesh`` (a treated mask after virtual deployment is meshed again, cut at the same
    port planes). ``port_planes`` (a treated image mask): the ports of the native anatomy, so the
    pre/post comparison is cut at identical planes.

    An image mask gets the model ``hemotwin segment`` builds (``geometry.model.build_vessel_model``):
    a vessel leaving the image obliquely is re-cut perpendicular to its centerline. The image-face
    cut is an ellipse whose area-equivalent radius is too large by 1/sqrt(cos(tilt)) (+17 % at
    45 degrees on geometry.phantoms.straight_tube), and the port radii set the Murray flow split,
    the outlet resistances and the lattice spacing.
    """
    import copy

    from .geometry.centerlines import compute_centerlines
    from .geometry.surface import extract_surface

    seg = case.segmentation
    cl = None
    if given is not None:
        ports = copy.deepcopy(given["ports"])
        surf = given["surface"].copy() if not remesh else None
    elif port_planes is not None:
        ports = copy.deepcopy(port_planes)
    elif seg.clip_radius:
        ports = _bounded_ports(case, vol, mask)
    else:
        from .geometry.model import NoPortsError, build_vessel_model
        from .geometry.ports import PortOverrideError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = build_vessel_model(mask, vol, [tuple(p) for p in seg.clip_planes],
                                           levelset=levelset,
                                           port_overrides=dict(case.ports.names) or None,
                                           self_intersections=False)
        except PortOverrideError as e:  # a [ports.names] point far from every port
            raise PipelineError(str(e)) from None
        except NoPortsError:
            model = None  # reported below with the other too-few-ports cases
        ports, surf, cl = (model.ports, model.surface, model.centerlines) if model else ([], None, None)
    if len(ports) < 2:
        raise PipelineError(f"ports: found {len(ports)} port(s) where the vessel leaves the image "
                            "or meets a clip plane; need an inlet and at least one outlet")
    names = [p.name for p in ports]
    for n in case.physiology.outlets.ports:
        if n not in names:
            raise PipelineError(f"physiology.outlets.ports.{n}: unknown port {n!r}; this anatomy "
                                f"has ports {names}")
    if seg.clip_radius:
        # geometry.surface cuts each port plane within ~4 port radii + 6 voxels of its centre;
        # a bounded clip must stay within clip_radius, so shrink the radius used for the cut
        # (cap_ports then sets the true radius from the cap polygon)
        h = float(np.min(vol.spacing_mm))
        for p in ports:
            if p.source == "clip":
                p.radius_mm = max(min(p.radius_mm, (seg.clip_radius * 1e3 - 6 * h) / 4.0), h)
    if cl is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if given is None or remesh:
                surf = extract_surface(mask, vol, ports, levelset=levelset)
            cl = compute_centerlines(mask, vol, ports, surface=surf, levelset=levelset)
    ext = case.ports.flow_extension_diameters
    if ext > 0:
        # outlet flow extensions (lattice only): a jet leaving through a pressure outlet with
        # backflow destabilises it; centerlines and analysis stay on the imaged anatomy
        from .geometry.surface import add_flow_extensions

        ports_lat = copy.deepcopy(ports)
        surf_lat = add_flow_extensions(surf, ports_lat, length_diameters=ext, which="outlets")
        return ports, surf, cl, (ports_lat, surf_lat)
    return ports, surf, cl, None


def _check_ports_have_cells(dom, ports, dx_m) -> None:
    """Every port must keep lattice cells: at a coarse spacing a small, clipped port can vanish."""
    from .lattice import PORT_BASE

    counts = np.bincount(np.asarray(dom.cell_type).ravel(), minlength=PORT_BASE + len(dom.port_names))
    lost = [(name, p.radius_mm) for k, (name, p) in enumerate(zip(dom.port_names, ports))
            if counts[PORT_BASE + k] == 0]
    if lost:
        name, r = min(lost, key=lambda t: t[1])
        raise PipelineError(
            f"lattice: port(s) {', '.join(n for n, _ in lost)} got no lattice cells at a spacing of "
            f"{dx_m * 1e3:.2f} mm (port {name} has a radius of {r:.2f} mm); refine the lattice: "
            f"numerics.spacing at most {r / 2:.2f} mm, or leave spacing unset and use "
            "numerics.cells_across")


def _stage_lattice(case: Case, surf, ports, narrowest_lesion_mm=None):
    from .geometry.voxelize import choose_spacing
    from .geometry.voxelize_surface import voxelize_surface

    num = case.numerics
    dx = num.spacing or choose_spacing([p.radius_mm * 1e-3 for p in ports], num.cells_across)
    if not num.spacing and num.lesion_cells_across and narrowest_lesion_mm:
        dx = min(dx, narrowest_lesion_mm * 1e-3 / num.lesion_cells_across)
    _refuse_oversized_lattice(surf, dx, num.max_cells)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dom = voxelize_surface(surf, ports, dx_m=dx)
    dom.cell_type = np.ascontiguousarray(dom.cell_type, dtype=np.uint8)
    dom.wall_links = np.ascontiguousarray(dom.wall_links, dtype=np.int32)
    _check_ports_have_cells(dom, ports, dx)
    if dom.n_fluid > num.max_cells:
        raise PipelineError(f"lattice: {dom.n_fluid} fluid cells exceed numerics.max_cells = "
                            f"{num.max_cells}; lower numerics.cells_across (or "
                            "numerics.lesion_cells_across) or raise max_cells")
    return dom


def _refuse_oversized_lattice(surf, dx_m, max_cells) -> None:
    """Before voxelizing (dense arrays over the bounding box): a lattice far past max_cells, from
    a unit slip in numerics.spacing, would fill the memory and crash instead of being refused."""
    lo, hi = np.asarray(surf.bounds[0::2], float), np.asarray(surf.bounds[1::2], float)
    box = float(np.prod(np.ceil((hi - lo) * 1e-3 / dx_m) + 2))
    volume = float(getattr(surf, "volume", 0.0) or 0.0)  # mm^3, where the surface is closed
    fluid = volume * 1e-9 / dx_m**3 if np.isfinite(volume) and volume > 0 else 0.0
    if box > MAX_DENSE_VOXELS or fluid > 1.5 * max_cells:
        est = f"~{fluid:.2g} fluid cells" if fluid else f"a {box:.2g}-cell bounding box"
        raise PipelineError(f"lattice: a spacing of {dx_m * 1e3:.3g} mm gives {est} (numerics.max_cells = "
                            f"{max_cells}); give a coarser numerics.spacing or fewer numerics.cells_across")


def _centerline_path(cl, port_name):
    """Points (mm), abscissa (mm) and equivalent radius (mm) from the inlet to a port."""
    from .analysis.lesions import path_profile

    _, pts, s, d = path_profile(cl, port_name)
    return pts, s, 0.5 * d


def _fresh(a, dtype):
    out = np.empty(np.shape(a), dtype)
    out[...] = a
    return out


def _estimate_peak_speed(case: Case, q_peak, r_min_mm, r_in_mm, jet_share_per_m2=0.0):
    if case.physiology.peak_velocity:
        return case.physiology.peak_velocity
    u_narrow = q_peak / (math.pi * (r_min_mm * 1e-3) ** 2)
    u_inlet = 2.0 * q_peak / (math.pi * (r_in_mm * 1e-3) ** 2)
    # a jet through the narrowest section runs ~1.3x its mean speed (coarse lattices, LES); a
    # lesion off the main path passes its share of the flow (_lesion_jet_share_per_m2)
    return max(1.3 * u_narrow, 1.3 * q_peak * jet_share_per_m2, u_inlet)


def _lesion_jet_share_per_m2(case: Case, cl, ports, lesions) -> float:
    """Largest (flow share / MLD area) over the lesions, 1/m^2. The share is that of the outlets
    downstream of the lesion in the outlets' target split (``target_flow_split``, as the default
    outlets); a stenosis lowers its own branch's flow, so this bounds its jet from above."""
    from .analysis.lesions import centerline_paths
    from .solver.outlets import target_flow_split

    ol = case.physiology.outlets
    share_of = target_flow_split({p.name: p.radius_mm * 1e-3 for p in ports if p.role == "outlet"},
                                 ol.murray_exponent,
                                 {k: v.flow_fraction for k, v in ol.ports.items() if v.flow_fraction})
    paths = centerline_paths(cl)
    bid = np.asarray(cl.point_data["branch_id"], int)
    best = 0.0
    for lz in lesions:
        share = sum(share_of[n] for n, idx in paths.items()
                    if n in share_of and lz.branch_id in set(bid[idx].tolist()))
        best = max(best, share / (math.pi * (0.5e-3 * lz.mld_mm) ** 2))
    return best


def _stage_flow(case: Case, dom, ports, r_min_mm, out: OutputDir, label, resume, device, progress,
                wave, surf=None, u_max=None, jet_share_per_m2=0.0, centerline=None):
    from .solver.outlets import default_outlets
    from .solver.runner import FlowRunner, FlowSetup
    from .solver.simulation import CarreauYasuda, Numerics, Simulation
    from .units import TAU_MIN_LAMINAR

    ph, num, run = case.physiology, case.numerics, case.run
    # arrays back from the pickle cache carry a non-canonical dtype instance, which the binding's
    # identity check on the dtype rejects: copy into freshly allocated arrays
    dom.cell_type = _fresh(dom.cell_type, np.uint8)
    dom.wall_links = _fresh(dom.wall_links, np.int32)
    dom.wall_q = _fresh(dom.wall_q, np.float64)
    q = ph.inflow.mean
    inlet = next(p for p in ports if p.role == "inlet")
    if u_max is None:
        u_max = _estimate_peak_speed(case, wave.peak_m3_s, r_min_mm, inlet.radius_mm, jet_share_per_m2)
    blood = ph.blood
    nu = blood.viscosity / blood.density
    dt = num.u_lu_max * dom.spacing_m / u_max
    tau = 0.5 + 3.0 * nu * dt / dom.spacing_m**2
    les = num.les if isinstance(num.les, bool) else {"on": True, "off": False}.get(num.les, None)
    if les is None:  # auto: LES where the lattice Reynolds number leaves tau near 1/2
        les = tau < TAU_MIN_LAMINAR + 0.02
    cy = None
    if blood.model == "carreau_yasuda":
        cy = CarreauYasuda(blood.mu0, blood.mu_inf, blood.lambda_, blood.n, blood.a)
    sim = Simulation(dom, density_kg_m3=blood.density, viscosity_pa_s=blood.viscosity,
                     u_max_m_s=u_max,
                     numerics=Numerics(collision=num.collision, wall=num.wall, les=bool(les),
                                       smagorinsky=num.smagorinsky, precision=num.precision,
                                       u_lu_max=num.u_lu_max),
                     carreau_yasuda=cy, device=device if device != "auto" else num.device,
                     threads=num.threads or None)
    ol = ph.outlets
    radii = {p.name: p.radius_mm * 1e-3 for p in ports if p.role == "outlet"}
    overrides = {k: v.model_dump() for k, v in ol.ports.items()}
    fractions = {k: v.flow_fraction for k, v in ol.ports.items() if v.flow_fraction}
    models = default_outlets(radii, q, ph.target_mean_pressure, ol.model, ol.murray_exponent,
                             ol.proximal_fraction, ol.total_compliance, ol.distal_pressure,
                             fractions or None, overrides)
    offset = float(np.mean([m.steady_pressure(getattr(m, "target_flow_m3_s", 0.0))
                            for m in models.values()]))
    setup = FlowSetup(inlet.name, wave, ph.inflow.profile, models, pressure_offset_pa=offset,
                      ramp_s=ph.inflow.ramp, viscosity_m2_s=nu)
    ckpt = out.file(f"checkpoints/{label}.npz") if run.checkpoint_interval else None
    probes = None
    if run.mode == "pulsatile":
        from .analysis.cycle_probes import CycleProbes

        # wall shear vectors (TAWSS, OSI, ...), centerline pressures (peak-to-peak gradients) and
        # the fastest cell (systole's Mach check) at every sample of the last cycle
        probes = CycleProbes(sim.cell_centers_m, dom.spacing_m, offset, surface=surf, centerline=centerline)
    runner = FlowRunner(sim, setup, run.mode, tolerance=run.steady_tolerance,
                        max_time_s=run.max_time, min_time_s=run.min_time, window_s=run.window,
                        cycles=run.cycles, samples_per_cycle=run.samples_per_cycle,
                        periodicity_tolerance=run.periodicity_tolerance,
                        coupling_interval=ol.coupling_interval, checkpoint_path=ckpt,
                        checkpoint_interval=run.checkpoint_interval,
                        progress=progress and run.progress, label=f"flow ({label})",
                        on_sample=(lambda s, t: probes.record(s)) if probes else None,
                        sample_layout=probes.layout if probes else None)
    res = runner.run(resume=resume)
    cycle, sampled = None, {}
    if res.samples:
        from .analysis import hemodynamics as hd

        sampled = probes.split(np.stack(res.samples))
        if sampled["wss"] is not None:
            cycle = hd.cycle_metrics(sampled["wss"], wave.period_s / len(res.samples))
            cycle = {k: np.asarray(v) for k, v in cycle.items()}
    fields = res.mean_fields if res.mean_fields is not None else sim.fields()
    if res.mean_fields is None:
        fields = {**fields, "pressure_pa": fields["pressure_pa"] + offset}
    return {
        "result": res, "fields": {k: np.asarray(v, np.float32) for k, v in fields.items()},
        "cell_centers_m": sim.cell_centers_m, "cell_ijk": sim.cell_ijk,
        "describe": {**sim.describe(), "u_max_m_s": u_max, "les_auto": num.les == "auto",
                     "smagorinsky": num.smagorinsky if les else None,
                     "coupling_relaxation": runner.relaxation},
        "outlets": {n: {**m.describe(), "target_flow_m3_s": getattr(m, "target_flow_m3_s", None),
                        "flow_fraction": getattr(m, "flow_fraction", None)} for n, m in models.items()},
        "pressure_offset_pa": offset, "shape": dom.shape, "spacing_m": dom.spacing_m, "cycle": cycle,
        "origin_m": np.asarray(dom.origin_m).tolist(),
        # per sample of the last cycle (pulsatile): centerline pressures by path, fastest cell
        "centerline_pressure_series": sampled.get("centerline_pressure_pa"),
        "sample_peak_speed": ({"m_s": sampled["peak_speed_m_s"], "cell": sampled["peak_cell"]}
                              if sampled else None),
    }


# ----------------------------------------------------------------------------- analysis
def _find_lesions(case: Case, cl, main_port):
    """Lesions on every inlet-to-outlet path (``[lesions]``), most severe first."""
    from .analysis.lesions import lesions_from_centerline

    opt = case.lesions  # paths were checked against the outlets in run_case
    found = lesions_from_centerline(
        cl, first_port=main_port, ports=None if opt.paths == "all" else opt.paths,
        min_stenosis_percent=opt.min_stenosis_percent, min_length_mm=opt.min_length * 1e3,
        reference_method=opt.reference_method)
    named = {str(x) for x in cl.field_data["branch_port"]}
    # a path whose end is no port (a centerline stub) has no pressure to report along it
    return sorted((lz for lz in found if lz.path_port in named),
                  key=lambda lz: -lz.percent_diameter_stenosis)


def _analyze(case: Case, flow, ports, surf, cl, main_port, found, treated=False):
    """Port table, centerline pressure, per-lesion gradient and Pd/Pa, WSS statistics.

    Lesions are sought on every inlet-to-outlet path; each one's gradient and Pd/Pa come from
    the pressure along its own path. The centerline profile shown is the path of the most
    severe lesion (lesion 1), else the path to ``main_port``.
    """
    from .analysis import hemodynamics as hd
    from .analysis.lesions import centerline_paths

    res = flow["result"]
    fields, centers, dx = flow["fields"], flow["cell_centers_m"], flow["spacing_m"]
    roles = {p.name: p.role for p in ports}
    port_rows = []
    q_in = -res.mean_flows_m3_s[next(n for n, r in roles.items() if r == "inlet")]
    for p in ports:
        qf = res.mean_flows_m3_s[p.name]
        q_role = -qf if p.role == "inlet" else qf
        port_rows.append({
            "name": p.name, "role": p.role, "radius_mm": float(p.radius_mm),
            "mean_flow_ml_s": q_role * 1e6, "mean_pressure_mmhg": res.mean_pressures_pa[p.name] / MMHG_PA,
            "min_pressure_mmhg": res.min_pressures_pa[p.name] / MMHG_PA,
            "max_pressure_mmhg": res.max_pressures_pa[p.name] / MMHG_PA,
            "flow_fraction": q_role / q_in if p.role == "outlet" and q_in else None,
            "target_flow_fraction": flow["outlets"].get(p.name, {}).get("flow_fraction"),
        })
    paths, tree = {}, hd.cell_tree(centers)  # one search tree for every path's cross-sections
    sampled = flow.get("centerline_pressure_series") or {}

    def path(port):
        """Points, abscissa, radius, mean pressure along the path to a port, and the pressure the
        gradients are taken from: per sample of the last cycle (T, n) in a pulsatile run."""
        if port not in paths:
            pts, s, r = _centerline_path(cl, port)
            p_mean = hd.centerline_pressure(pts, fields, centers, radius_mm=r, dx_m=dx, tree=tree)
            p_time = sampled.get(port)
            paths[port] = (pts, s, r, p_mean, p_mean if p_time is None else np.asarray(p_time, float))
        return paths[port]

    lesions = []
    for i, les in enumerate(found):
        ld = les.to_dict() if hasattr(les, "to_dict") else dict(vars(les))
        port = ld.get("path_port") or main_port
        _, s, r, p_cl, p_time = path(port)
        g = hd.translesional_gradient(s, p_time, (ld["start_mm"], ld["end_mm"]))
        pr = hd.pd_pa(s, p_cl, (ld["start_mm"], ld["end_mm"]))
        row = {k: (float(v) if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool)
                   else v) for k, v in ld.items()}
        # on the treated anatomy the geometry is re-measured at the same span
        if treated:
            sel = (s >= ld["start_mm"]) & (s <= ld["end_mm"])
            if sel.any():
                row["mld_mm"] = float(2.0 * r[sel].min())
                ref = ld.get("rvd_mm") or float("nan")
                row["percent_diameter_stenosis"] = float(100.0 * (1.0 - row["mld_mm"] / ref))
                row["percent_area_stenosis"] = float(100.0 * (1.0 - (row["mld_mm"] / ref) ** 2))
        row.update({"id": i + 1, "path_port": port,
                    "gradient_mmhg": g["mean_mmhg"], "gradient_peak_to_peak_mmhg": g["peak_to_peak_mmhg"],
                    "gradient_peak_instantaneous_mmhg": g["peak_instantaneous_mmhg"],
                    "proximal_station_mm": g["proximal_mm"], "distal_station_mm": g["distal_mm"],
                    "pd_pa": pr["pd_pa"], "pa_mmhg": pr["pa_mmhg"], "pd_mmhg": pr["pd_mmhg"],
                    "lattice_cells_across_mld": row["mld_mm"] / (dx * 1e3)})
        lesions.append(row)
    shown = lesions[0]["path_port"] if lesions else main_port
    pts, s, r, p_cl, _ = path(shown)
    every_path = [path(p) for p in centerline_paths(cl)]  # (pts, s, r, p_mean, p_time) each
    wss_stats, wall = {}, None
    try:
        wall = hd.surface_wss(surf, fields, centers, dx)
        wall = hd.surface_pressure(wall, fields, centers)
        areas = hd.point_areas(wall)
        wss_stats = hd.wss_statistics(np.asarray(wall.point_data["wss_magnitude_pa"]), areas)
        wss_stats["basis"] = "|WSS| of the written field (steady: final, or the last window's mean)"
        cyc = flow.get("cycle")
        if cyc is not None:
            wall_pts = hd._wall_point_mask(surf)
            for k in ("tawss_pa", "osi", "rrt_1_pa", "ecap_1_pa"):
                arr = np.full(wall.n_points, np.nan)
                arr[wall_pts] = cyc[k]
                wall.point_data[k] = arr
            wss_stats["tawss"] = hd.wss_statistics(wall.point_data["tawss_pa"], areas)
            # the headline is TAWSS, the cycle's mean |WSS| that low-WSS thresholds are set on; the
            # cycle-mean field's |mean WSS| understates it where the shear reverses
            wss_stats["of_cycle_mean_field"] = {k: v for k, v in wss_stats.items() if k != "tawss"}
            wss_stats.update({**wss_stats["tawss"], "basis": "tawss (time-averaged |WSS| over the last cycle)"})
            osi = wall.point_data["osi"]
            ok = np.isfinite(osi)
            wss_stats["osi_mean"] = float(np.sum(osi[ok] * areas[ok]) / np.sum(areas[ok]))
            wss_stats["osi_max"] = float(np.max(osi[ok]))
    except Exception as e:  # WSS is a secondary output: report, do not fail the case
        wss_stats = {"error": f"{type(e).__name__}: {e}"}
    cons = {"mass_imbalance": res.mass_imbalance,
            "inflow_ml_s": q_in * 1e6,
            "outflow_ml_s": sum(row["mean_flow_ml_s"] for row in port_rows if row["role"] == "outlet")}
    return {
        "ports": port_rows, "lesions": lesions, "wss": wss_stats, "conservation": cons,
        "centerline": {"port": shown, "arclength_mm": s, "diameter_mm": 2.0 * r,
                       "pressure_mmhg": p_cl / MMHG_PA, "points_mm": pts},
        "run": {**res.summary(), **_peak_speed(flow), **_compressibility(flow, res.summary(), every_path)},
        "_wall": wall, "_lesion_objs": found,
    }


# Poiseuille through Bouzidi walls (hemotwin verify poiseuille --resolution N): the pressure drop
# is 5.7 % off at 5 cells per diameter and 0.5 % at 6 (below 5 the check's own time step breaks the Mach limit)
MIN_LATTICE_CELLS_ACROSS_LESION = 5.0
# the coronary phantom's 0.9 mm throat at 2.2 voxels read 76 %DS for a true 70 (docs/metrics.md)
MIN_VOXELS_ACROSS_LESION = 3.0


def _resolution_warnings(lesions, dx_m, voxel_mm) -> list:
    """Lesions too narrow for the lattice (gradient, Pd/Pa) or the image (%DS) to resolve."""
    out = []
    vox = float(np.max(voxel_mm))
    for lz in lesions:
        mld, n = lz["mld_mm"], lz["lattice_cells_across_mld"]
        tag = f"lesion {lz['id']} (path to {lz['path_port']})"
        if n < MIN_LATTICE_CELLS_ACROSS_LESION:
            fine = mld / MIN_LATTICE_CELLS_ACROSS_LESION
            out.append(f"{tag}: its MLD of {mld:.1f} mm spans {n:.1f} lattice cells (spacing "
                       f"{dx_m * 1e3:.2f} mm); under {MIN_LATTICE_CELLS_ACROSS_LESION:g} the flow "
                       "through it is not resolved and its gradient and Pd/Pa are unreliable: rerun "
                       f"with numerics.lesion_cells_across = {MIN_LATTICE_CELLS_ACROSS_LESION:g} "
                       f"(a {fine:.2f} mm spacing)")
        if mld < MIN_VOXELS_ACROSS_LESION * vox:
            out.append(f"{tag}: its MLD of {mld:.1f} mm is {mld / vox:.1f} image voxels "
                       f"({vox:.2f} mm) across; partial volume makes its %DS uncertain by several "
                       "points: check it on the images")
    return out


def _pd_pa_warnings(lesions, label: str) -> list:
    """Pd/Pa taken against a non-physiological Pa (analysis.hemodynamics.nonphysiological_pa)."""
    from .analysis.hemodynamics import nonphysiological_pa

    out = []
    for lz in lesions:
        why = nonphysiological_pa(lz.get("pa_mmhg"))
        if why:
            out.append(f"{label} lesion {lz['id']} (path to {lz['path_port']}): Pd/Pa {lz['pd_pa']:.2f}: "
                       f"{why}; use rcr or resistance outlets with physiology.target_mean_pressure")
    return out


def _peak_speed(flow) -> dict:
    """The fastest cell, in m/s and lattice units, and where it is (mm): of the written velocity
    field in a steady run; over the samples of the last cycle in a pulsatile one (systole's jet,
    which the cycle-mean field would understate)."""
    sampled = flow.get("sample_peak_speed")
    if sampled is not None and len(sampled["m_s"]):
        j = int(np.argmax(sampled["m_s"]))
        speed, k = float(sampled["m_s"][j]), int(sampled["cell"][j])
        where = "fastest cell over the last cycle's samples"
    else:
        u = np.linalg.norm(np.asarray(flow["fields"]["velocity_m_s"], float), axis=1)
        if not u.size or not np.isfinite(u).any():
            return {}
        k = int(np.nanargmax(u))
        speed, where = float(u[k]), "fastest cell of the written field"
    from .units import LatticeUnits

    lattice = LatticeUnits(dx_m=flow["spacing_m"], dt_s=flow["describe"]["dt_s"], rho_kg_m3=1.0)
    return {"peak_speed_m_s": speed, "peak_lattice_speed": float(lattice.velocity_to_lu(speed)),
            "peak_speed_at_mm": (np.asarray(flow["cell_centers_m"][k], float) * 1e3).tolist(),
            "peak_speed_of": where, "expected_peak_speed_m_s": flow["describe"]["u_max_m_s"]}


# the time step of a rerun is set for this multiple of the speed the first run reached
RERUN_SPEED_MARGIN = 1.2


def _rerun_if_too_fast(flow, label: str, rerun):
    """Run the flow once more, with the time step set for the speed it reached, when its fastest
    cell broke the lattice speed limit: the time step is set before the run from an estimate of
    the fastest jet, and a resolved lesion's jet outruns it (the coronary cohort's 60 % lesion:
    1.98 m/s against 0.92 estimated, lattice speed 0.21), which biases the pressures. Returns the
    flow to analyse and a warning saying what was done (none when nothing was)."""
    from .units import U_LU_LIMIT

    first = _peak_speed(flow)
    if not first or first["peak_lattice_speed"] <= U_LU_LIMIT:
        return flow, []
    u_new = RERUN_SPEED_MARGIN * first["peak_speed_m_s"]
    return rerun(u_new), [
        f"{label} flow was run twice: the first run's jet reached {first['peak_speed_m_s']:.2f} m/s "
        f"(lattice speed {first['peak_lattice_speed']:.3f}, above {U_LU_LIMIT}) with the time step set "
        f"for {first['expected_peak_speed_m_s']:.2f} m/s; the results are the second run's, its time "
        f"step set for {u_new:.2f} m/s (physiology.peak_velocity sets it from the start)"]


def _speed_warnings(run: dict, label: str) -> list:
    """A flow faster than the time step allows: compressibility errors grow as Mach^2."""
    from .units import CS2, U_LU_LIMIT

    u_lu = run.get("peak_lattice_speed")
    if u_lu is None or u_lu <= U_LU_LIMIT:
        return []
    u, at = run["peak_speed_m_s"], ", ".join(f"{x:.1f}" for x in run["peak_speed_at_mm"])
    return [f"{label} flow: {u:.2f} m/s at ({at}) mm is lattice speed {u_lu:.2f} (Mach "
            f"{u_lu / CS2 ** 0.5:.2f}), above the {U_LU_LIMIT} the time step allows (it was set for "
            f"{run['expected_peak_speed_m_s']:.2f} m/s): compressibility biases the pressures; rerun "
            f"with physiology.peak_velocity = \"{1.2 * u:.1f} m/s\""]


def _compressibility(flow, run: dict, paths) -> dict:
    """The lattice fluid's compressibility in this run: its sound speed dx / (sqrt(3) dt), the
    density variation its pressure implies, (max - min) / (rho c_s^2) of the cross-sectional
    pressure along every inlet-to-outlet path (``paths``: ``_analyze``'s (points, abscissa mm,
    radius, mean pressure, pressure the gradients use) per path; the latter (T, n) per sample of
    a pulsatile cycle, whose largest spread of one sample counts), and, pulsatile, the acoustic
    length over the longest path."""
    from .units import LatticeUnits

    d = flow["describe"]
    lattice = LatticeUnits(dx_m=d["dx_m"], dt_s=d["dt_s"], rho_kg_m3=d["rho_kg_m3"])
    joined = np.concatenate([np.atleast_2d(p[4]) for p in paths], axis=1)  # (T or 1, all points)
    spread = float(np.nanmax(np.nanmax(joined, axis=1) - np.nanmin(joined, axis=1)))
    out = {"lattice_sound_speed_m_s": lattice.sound_speed_m_s, "pressure_spread_pa": spread,
           "density_variation": lattice.density_variation(spread)}
    if run.get("mode") == "pulsatile" and run.get("period_s"):
        out["acoustic_path_mm"] = max(float(p[1][-1] - p[1][0]) for p in paths)
        out["acoustic_length"] = lattice.acoustic_length(out["acoustic_path_mm"] * 1e-3, run["period_s"])
    return out


# density variation of the lattice fluid above which its velocities are biased by ~5 % or more:
# steady Poiseuille (`verify poiseuille` at 10 cells, tau 0.7, pipes of 4-16 diameters) loses
# about half the variation in velocity L2 (2.3 / 4.0 / 7.1 % at 3.4 / 6.8 / 13.7 %), the pressure
# drop and WSS stay within 0.7 % and 1.8 % (docs/metrics.md, "Compressibility checks")
DENSITY_VARIATION_WARN = 0.10


def _density_warnings(run: dict, label: str, u_lu_max: float) -> list:
    """A pressure field too large for the lattice's sound speed: the weakly compressible fluid's
    density varies with it, and mass conservation turns that into velocity errors."""
    dv = run.get("density_variation")
    if dv is None or dv <= DENSITY_VARIATION_WARN:
        return []
    target = 0.05
    return [f"{label} flow: its pressures span {run['pressure_spread_pa'] / MMHG_PA:.0f} mmHg, a "
            f"{dv:.0%} density variation of the lattice fluid (sound speed "
            f"{run['lattice_sound_speed_m_s']:.3g} m/s, set by the time step): velocities are biased by "
            f"about half of it (pressure drops and WSS much less); numerics.u_lu_max = "
            f"{u_lu_max * math.sqrt(target / dv):.3g} (now {u_lu_max:g}; the variation scales as its "
            f"square) brings it to {target:.0%}"]


# acoustic length above which a pulsatile run's amplitudes vary by ~8 % or more along the model
# from the lattice's compressibility alone (Womersley pipe: 4 % at 0.29, 9 % at 0.42)
ACOUSTIC_LENGTH_WARN = 0.4


def _acoustic_warnings(run: dict, label: str, u_lu_max: float) -> list:
    """A pulsatile run whose lattice sound speed is slow against the cycle and the model's size."""
    a = run.get("acoustic_length")
    if run.get("mode") != "pulsatile" or a is None or a <= ACOUSTIC_LENGTH_WARN:
        return []
    target = 0.3
    return [f"{label} flow: the lattice fluid's sound speed is {run['lattice_sound_speed_m_s']:.3g} m/s "
            f"(set by the time step, not by blood or the wall), so a pressure wave takes "
            f"{a / (2 * math.pi):.0%} of the cycle along the {run['acoustic_path_mm']:.0f} mm path "
            f"(acoustic length {a:.2f}, of the cycle's fundamental; the systolic upstroke's harmonics see "
            f"several times it): pressure and flow amplitudes vary along it by "
            f"{f'~{a * a / 2:.0%}' if a < 1 else 'as much as the amplitudes themselves'} "
            f"and lag, which a rigid-wall model should not have; numerics.u_lu_max = {u_lu_max * target / a:.3g} "
            f"(now {u_lu_max:g}) brings it to {target} at {a / target:.1f}x the steps"]


def _periodicity_warnings(run: dict, label: str, outlets: dict, period_s: float) -> list:
    """Why a pulsatile run is not periodic, and how many cycles its outlets need."""
    if run.get("mode") != "pulsatile" or run.get("converged"):
        return []
    taus = [o["time_constant_s"] for o in outlets.values() if o.get("time_constant_s")]
    # a Windkessel settles over ~3 R_d C (e^-3 = 5 % of its start-up offset left)
    need = max([run.get("cycles", 1) + 1] + [math.ceil(3 * t / period_s) + 1 for t in taus])
    why = (f"; its RCR outlets settle over ~3 R_d C = {3 * max(taus):.2g} s" if taus else "")
    if run.get("status") == "periodicity_not_checked":
        return [f"{label} flow ran {run.get('cycles', 1)} cycle: the results are that cycle's, which "
                f"carries the start-up transient, and their periodicity is not checked; run.cycles = "
                f"{need} or more{why}"]
    err, tol = run["periodicity_error"], run["periodicity_tolerance"]
    return [f"{label} flow is not periodic after {run.get('cycles')} cycles: the last two cycles' mean "
            f"port flows or pressures differ by {100 * err:.2g} % (tolerance {100 * tol:.2g} %){why}; "
            f"raise run.cycles (e.g. {need})"]


# samples per cycle under which the systolic peak may fall between them: the builtin aortic
# waveform's sampled peak flow is 0.97 of its peak at 20 samples, 0.81-0.87 at 8, 0.35-0.73 at 4
# (depending on the phase), and gradients go as flow^2
MIN_SAMPLES_FOR_PEAKS = 20


def _sampling_warnings(run: dict, label: str) -> list:
    """A pulsatile cycle sampled too sparsely for its peak figures."""
    n = run.get("samples")
    if run.get("mode") != "pulsatile" or n is None or n >= MIN_SAMPLES_FOR_PEAKS:
        return []
    return [f"{label} flow: the last cycle was sampled {n} times; the peak-to-peak and peak "
            "instantaneous gradients, the systolic flow speed check and TAWSS/OSI come from those "
            "instants, and the systolic peak can fall between them (8 samples of the built-in aortic "
            "waveform catch 81-87 % of its peak flow, so ~70 % of a peak gradient); "
            f"run.samples_per_cycle = {MIN_SAMPLES_FOR_PEAKS} or more"]


def _resistance_outlet_warnings(run: dict, label: str, outlets: dict, port_rows: list) -> list:
    """Pure resistance outlets in a pulsatile run: their pressure follows R q(t) with no arterial
    compliance, so the pulse pressure is the flow's swing times R (the audit's iliac case: 49-226 mmHg)."""
    names = sorted(n for n, o in outlets.items() if o.get("model") == "resistance")
    if run.get("mode") != "pulsatile" or not names:
        return []
    swing = max((r["max_pressure_mmhg"] - r["min_pressure_mmhg"] for r in port_rows if r["name"] in names),
                default=float("nan"))
    return [f"{label} flow: outlet(s) {', '.join(names)} are pure resistances: in a pulsatile run their "
            f"pressure follows R x flow at every instant (pulse pressure up to {swing:.0f} mmHg here) with "
            "no arterial compliance to damp it; physiology.outlets.model = \"rcr\" gives physiological "
            "pressure waveforms (the mean gradients are less affected than the peaks)"]


def _convergence_warnings(run: dict, label: str) -> list:
    """Why a steady run ended unconverged, and what to do (solver.runner._steady_diagnosis)."""
    c = run.get("convergence")
    if run.get("mode") != "steady" or run.get("converged") or not c:
        return []
    head = f"{label} flow did not reach a steady state in {run['time_s']:.2f} s"
    if "reason" in c:
        return [f"{head}: it {c['reason']}; raise run.max_time"]
    parts = []
    if "flow" in c["failed"] and "flow_change_ml_s" in c:
        parts.append(f"port flows still change by {c['flow_change_ml_s']:.3g} mL/s between "
                     f"{c['window_s']:.3g} s windows (tolerance {c['flow_tolerance_ml_s']:.3g})")
    if "pressure" in c["failed"] and "pressure_difference_change_mmhg" in c:
        parts.append(f"port pressure differences by {c['pressure_difference_change_mmhg']:.2g} mmHg "
                     f"(tolerance {c['pressure_difference_tolerance_mmhg']:.2g}) and their common "
                     f"level by {c['pressure_level_change_mmhg']:.2g} mmHg (tolerance "
                     f"{c['pressure_level_tolerance_mmhg']:.2g})")
    if "mass" in c["failed"]:
        parts.append(f"the mass imbalance is {100 * c['mass_imbalance']:.2g} % "
                     f"(tolerance {100 * c['tolerance']:.2g} %)")
    if "min_time" in c["failed"]:
        parts.append("run.max_time ends before the inflow ramp and run.min_time")
    text = f"{head}: " + "; ".join(parts or ["the last two windows were not both within tolerance"])
    if c.get("pressure_behaviour") == "fluctuating":
        text += (f". Over the last {c['over_s']:.2g} s the pressure differences swing by "
                 f"{c['pressure_swing_mmhg']:.2g} mmHg with a net change of "
                 f"{c['pressure_net_change_mmhg']:.2g} mmHg: the flow is unsteady (a jet or vortex "
                 "shedding), not still settling. The results are the mean of the last window; "
                 "for a time-resolved answer use run.mode = \"pulsatile\", or accept swings of "
                 "this size with a larger run.steady_tolerance")
    else:
        if c.get("pressure_behaviour") == "drifting":
            text += (f". Over the last {c['over_s']:.2g} s the pressure differences drift by "
                     f"{c['pressure_net_change_mmhg']:.2g} mmHg")
        text += ": the results are the mean of the last window; raise run.max_time"
    return [text]


def _sizing(case: Case, lesion, s_len):
    from .analysis.catalog import load_catalog
    from .analysis.sizing import pin_device, recommend_device

    dv = case.devices
    catalog = load_catalog(case.resolve(dv.catalog) if dv.catalog else None)
    if dv.pinned:
        pos = dv.pinned.position * 1e3 if dv.pinned.position is not None else \
            max(0.0, 0.5 * (lesion.start_mm + lesion.end_mm) - 0.5 * dv.pinned.length * 1e3)
        return pin_device(dv.pinned.diameter * 1e3, dv.pinned.length * 1e3, pos, catalog=catalog,
                          indication=dv.indication, centerline_length_mm=s_len)
    ind = dv.indication if dv.indication != "generic" else "coronary"
    return recommend_device(lesion, catalog, ind, landing_margin_mm=dv.landing_margin * 1e3,
                            centerline_length_mm=s_len)


# ----------------------------------------------------------------------------- writers
def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def _write_series_csv(out: OutputDir, name, res, ports):
    """Port flows and pressures over time; flows in each port's own direction (into the domain
    at the inlet, out of it at outlets), as results.json gives them, not the solver's outward sign."""
    se = res.series
    p = out.file(f"{name}_ports.csv")
    names = se["names"]
    roles = {pt.name: pt.role for pt in ports}
    sign = [-1.0 if roles.get(n) == "inlet" else 1.0 for n in names]
    with open(p, "w", encoding="utf-8") as fh:
        fh.write("time_s," + ",".join(f"{n}_flow_ml_s,{n}_pressure_mmhg" for n in names) + "\n")
        for i, t in enumerate(se["time_s"]):
            vals = []
            for j in range(len(names)):
                vals += [f"{sign[j] * se['flow_m3_s'][i, j] * 1e6:.6g}", f"{se['pressure_pa'][i, j] / MMHG_PA:.6g}"]
            fh.write(f"{t:.6g}," + ",".join(vals) + "\n")
    return p.name


def _centerline_polyline(cl: dict):
    """The analysis' centerline path as a VTK polyline (mm) with its diameter and pressure."""
    import pyvista as pv

    pts = np.asarray(cl.get("points_mm") if cl.get("points_mm") is not None else [], float)
    if pts.ndim != 2 or len(pts) < 2:
        return None
    line = pv.lines_from_points(pts)
    for key in ("arclength_mm", "diameter_mm", "pressure_mmhg"):
        v = np.asarray(cl.get(key) if cl.get(key) is not None else [], float)
        if len(v) == len(pts):
            line.point_data[key] = v
    return line


def _stamped(mesh, stamp):
    """A VTK dataset carrying its provenance stamp (field data, a JSON string)."""
    mesh.field_data["provenance"] = np.array([json.dumps(stamp, sort_keys=True)])
    return mesh


def _png_text_chunk(key: str, text: str) -> bytes:
    """A PNG tEXt chunk (length, type, Latin-1 keyword NUL text, CRC)."""
    import zlib

    body = b"tEXt" + key.encode("latin-1") + b"\0" + text.encode("latin-1", "replace")
    return len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")


def _stamp_pngs(out_dir: Path, figures: dict, stamp) -> None:
    """Add the provenance stamp to each figure as PNG text chunks, inserted before IEND: the
    renderer's pixels and chunks (DPI, its own text) are kept byte for byte, nothing re-encoded."""
    chunks = (_png_text_chunk("Software", f"hemotwin {stamp.get('hemotwin')}")
              + _png_text_chunk("hemotwin-provenance", json.dumps(stamp, sort_keys=True)))
    for rel in figures.values():
        p = Path(out_dir) / str(rel)
        if p.suffix.lower() != ".png" or not p.is_file():
            continue
        data = p.read_bytes()
        end = data.rfind(b"IEND") - 4  # the IEND chunk starts with its 4-byte length
        if end > 8:
            p.write_bytes(data[:end] + chunks + data[end:])


def _write_vtk(out: OutputDir, name, flow, analysis, stamp):
    import pyvista as pv

    files = {}
    shape = tuple(flow["shape"])
    dx_mm = flow["spacing_m"] * 1e3
    img = pv.ImageData(dimensions=shape, spacing=(dx_mm,) * 3,
                       origin=tuple(np.asarray(flow["origin_m"]) * 1e3))
    ijk = np.asarray(flow["cell_ijk"])
    flat = np.ravel_multi_index(tuple(ijk.T), shape, order="F")
    p = np.full(int(np.prod(shape)), np.nan, np.float32)
    p[flat] = flow["fields"]["pressure_pa"] / MMHG_PA
    u = np.full((int(np.prod(shape)), 3), np.nan, np.float32)
    u[flat] = flow["fields"]["velocity_m_s"]
    img.point_data["pressure_mmhg"] = p
    img.point_data["velocity_m_s"] = u
    img.field_data["units"] = np.array(["geometry mm", "pressure_mmhg mmHg (gauge)",
                                        "velocity_m_s m/s"])
    f = out.file(f"{name}_fields.vti")
    _stamped(img, stamp).save(str(f))
    files["fields"] = f.name
    if analysis.get("_wall") is not None:
        f = out.file(f"{name}_wall.vtp")
        _stamped(analysis["_wall"].copy(deep=False), stamp).save(str(f))
        files["wall"] = f.name
    return files


def _planned_outputs() -> list:
    """Every path (relative to --out) a run may write."""
    from .viz.case import FIGURE_NAMES

    rel = ["results.json", "provenance.json", "report.html", "lumen.vtp", "centerline.vtp"]
    for tag in ("pre", "post"):
        rel += [f"{tag}_ports.csv", f"{tag}_fields.vti", f"{tag}_wall.vtp", f"checkpoints/{tag}.npz"]
    rel += [f"figures/{n}.png" for n in FIGURE_NAMES]
    rel += [f"cache/{s}.pkl" for s in CACHE_STAGES]
    return rel


# ----------------------------------------------------------------------------- driver
def run_case(case_path, out_dir, *, resume=False, device="auto", overrides=None, progress=True,
             use_cache=True) -> dict:
    """Run a case end to end and write results.json, provenance.json and the report.

    Parameters
    ----------
    case_path : str, Path, Case or dict
        The case TOML (or an already validated Case, or a dict of TOML tables).
    out_dir : str or Path
        Output folder (created); files not written by hemotwin are never overwritten.
    resume : bool
        Continue interrupted flow runs from their checkpoints (run.checkpoint_interval > 0).
    device : {"auto", "cpu", "cuda"}
        Overrides numerics.device unless "auto".
    overrides : dict, optional
        Dotted case keys to replace, e.g. ``{"image.path": "/data/ct.nii.gz"}``.
    progress : bool
        Show progress bars.
    use_cache : bool
        Reuse stages whose inputs did not change.

    Returns
    -------
    dict
        The results (as written to results.json; schema in hemotwin.report.results_schema).
    """
    t_start = time.perf_counter()
    if isinstance(case_path, Case):
        case, case_hash = case_path, _sha256_of(case_path.raw)
    elif isinstance(case_path, dict):
        case = case_from_dict(case_path, None, overrides)
        case_hash = _sha256_of(case.raw)
    else:
        case = load_case(case_path, overrides)
        case_hash = file_sha256(case_path)
    from .solver.simulation import resolve_device

    # a device that cannot run here fails now, not after segmentation and meshing
    resolve_device(device if device != "auto" else case.numerics.device)
    _refuse_out_inside_inputs(case, out_dir)
    out = OutputDir(out_dir)
    out.refuse_foreign(_planned_outputs())  # fail before the long stages, not after them
    out.claim_for(case.case.name)
    cache = _Cache(out, use_cache)
    raw = case.raw
    inputs = {key: {"sha256": file_sha256(case.resolve(rel)), "suffix": "".join(Path(rel).suffixes[-2:])}
              for key, rel in input_files(case)}
    if case.image.surface and not case.image.surface_faces and _faces_file(case):
        inputs["image.surface_faces"] = {"sha256": file_sha256(_faces_file(case)), "suffix": ".mdl"}
    from .report.provenance import build_provenance, provenance_stamp, software_versions, utc_now

    versions = software_versions()
    # what every output carries inside itself; provenance.json beside them holds the whole record
    stamp = provenance_stamp({"versions": versions, "created_utc": utc_now(), "case_sha256": case_hash,
                              "inputs": inputs, "seed": case.run.seed})
    # each stage's key holds the hashes of the files it reads, not only the case text naming them
    # (an edited waveform CSV or device catalog behind an unchanged name must not reuse a stage)
    image_inputs = {k: v for k, v in inputs.items() if k.startswith("image.")}
    flow_inputs = {k: v for k, v in inputs.items() if k.startswith("physiology.")}
    wave, waveform_warnings = _read_waveform(case)
    device_inputs = {k: v for k, v in inputs.items() if k.startswith("devices.")}
    k_img = _hash({"v": CACHE_VERSION, "image": raw.get("image"), "inputs": image_inputs,
                   "clip": raw.get("segmentation") if case.image.surface else None})
    vol, truth = cache.get("image", k_img, lambda: _stage_image(case))
    k_seg = _hash({"up": k_img, "seg": raw.get("segmentation")})
    mask, levelset, seg_msg = cache.get("segment", k_seg, lambda: _stage_segment(case, vol, truth))
    k_geo = _hash({"up": k_seg, "ports": raw.get("ports"), "outl": sorted(case.physiology.outlets.ports)})
    given = truth if case.image.surface else None
    ports, surf, cl, lat_geo = cache.get("geometry", k_geo,
                                         lambda: _stage_geometry(case, vol, mask, levelset, given))
    outlets = [p for p in ports if p.role == "outlet"]
    main_port = max(outlets, key=lambda p: p.radius_mm).name
    if isinstance(case.lesions.paths, list):  # fail before the flow, not after it
        unknown = sorted(set(case.lesions.paths) - {p.name for p in outlets})
        if unknown:
            raise PipelineError(f"lesions.paths: no outlet named {unknown}; the outlets are "
                                f"{sorted(p.name for p in outlets)}")
    # lesions depend on the geometry alone: found before the lattice, which may be refined for them
    found = _find_lesions(case, cl, main_port)
    narrowest = min((lz.mld_mm for lz in found), default=None) if case.numerics.lesion_cells_across \
        else None
    k_lat = _hash({"up": k_geo, "num": raw.get("numerics"), "narrowest": narrowest})
    dom = cache.get("lattice", k_lat, lambda: _stage_lattice(case, *(lat_geo or (ports, surf))[::-1],
                                                             narrowest_lesion_mm=narrowest))
    pts, s, r = _centerline_path(cl, main_port)
    jets = _lesion_jet_share_per_m2(case, cl, ports, found)
    k_flow = _hash({"up": k_lat, "phys": raw.get("physiology"), "run": raw.get("run"),
                    "num": raw.get("numerics"), "device": device, "jets": jets, "inputs": flow_inputs})
    flow_pre = cache.get("flow_pre", k_flow, lambda: _stage_flow(
        case, dom, ports, float(np.min(r)), out, "pre", resume, device, progress, wave, surf,
        jet_share_per_m2=jets, centerline=cl))
    flow_pre, rerun_warnings = _rerun_if_too_fast(flow_pre, "pre-treatment", lambda u: cache.get(
        "flow_pre_rerun", _hash({"up": k_flow, "u_max": u}), lambda: _stage_flow(
            case, dom, ports, float(np.min(r)), out, "pre", False, device, progress, wave, surf, u_max=u,
            centerline=cl)))
    pre = _analyze(case, flow_pre, ports, surf, cl, main_port, found)
    results = {
        "schema_version": "1.0", "case": case.case.name, "status": "ok",
        "question_of_interest": case.context_of_use.question_of_interest,
        "ports": pre["ports"], "lesions": pre["lesions"], "wss": pre["wss"],
        "conservation": pre["conservation"], "run": pre["run"], "device": None, "post": None,
        "segmentation": {"message": seg_msg, "n_voxels": int(np.count_nonzero(mask))},
        "warnings": (_resolution_warnings(pre["lesions"], flow_pre["spacing_m"], vol.spacing_mm)
                     + _speed_warnings(pre["run"], "pre-treatment")
                     + _acoustic_warnings(pre["run"], "pre-treatment", case.numerics.u_lu_max)
                     + _density_warnings(pre["run"], "pre-treatment", case.numerics.u_lu_max)
                     + _convergence_warnings(pre["run"], "pre-treatment")
                     + _periodicity_warnings(pre["run"], "pre-treatment", flow_pre["outlets"], case.physiology.period_s)
                     + _resistance_outlet_warnings(pre["run"], "pre-treatment", flow_pre["outlets"], pre["ports"])
                     + _sampling_warnings(pre["run"], "pre-treatment")
                     + _pd_pa_warnings(pre["lesions"], "pre-treatment") + _unused_key_warnings(case)
                     + waveform_warnings + rerun_warnings),
    }
    if not pre["run"]["converged"]:
        results["status"] = "not_converged"
    post = device_d = None
    lesion_objs = pre["_lesion_objs"]
    if lesion_objs and (case.devices.deploy or case.devices.pinned):
        from .geometry.deployment import deploy_stent

        target = lesion_objs[0]  # the most severe (_find_lesions' order)
        pts, s, _ = _centerline_path(cl, target.path_port or main_port)
        dev = cache.get("sizing", _hash({"up": k_geo, "dev": raw.get("devices"), "inputs": device_inputs,
                                         "les": [vars(lz) for lz in lesion_objs]}),
                        lambda: _sizing(case, target, float(s[-1])))
        device_d = _jsonable(dev.to_dict())
        device_d["lesion_id"] = 1
        device_d["path_port"] = target.path_port or main_port
        if case.devices.indication == "coarctation" and device_d["path_port"] != main_port:
            device_d.setdefault("warnings", []).append(
                f"lesion 1 lies on the path to {device_d['path_port']}, not the aorta's path (to "
                f"{main_port}): the coarctation rule sized the device to that vessel's own "
                "references; review the choice for a branch artery")
        results["device"] = device_d
        k_dep = _hash({"up": k_geo, "dev": device_d})

        def deploy():
            treated = deploy_stent(mask, vol.spacing_mm, vol.origin_mm, pts, dev)
            return (treated, *_stage_geometry(case, vol, treated, None, given, remesh=True,
                                              port_planes=ports))

        treated, ports2, surf2, cl2, lat_geo2 = cache.get("deploy", k_dep, deploy)
        k_lat2 = _hash({"up": k_dep, "num": raw.get("numerics"), "narrowest": narrowest})
        dom2 = cache.get("lattice_post", k_lat2,
                         lambda: _stage_lattice(case, *(lat_geo2 or (ports2, surf2))[::-1],
                                                narrowest_lesion_mm=narrowest))
        _, s2, r2 = _centerline_path(cl2, main_port)
        # the treated anatomy runs with the same time step as the native one: identical
        # discretisation for the pre/post comparison (and the same lattice compressibility,
        # whose relaxation time grows with dt^2)
        u_pre = flow_pre["describe"]["u_max_m_s"]
        k_flow2 = _hash({"up": k_lat2, "phys": raw.get("physiology"), "run": raw.get("run"),
                         "num": raw.get("numerics"), "device": device, "u_max": u_pre,
                         "inputs": flow_inputs})
        flow_post = cache.get("flow_post", k_flow2, lambda: _stage_flow(
            case, dom2, ports2, float(np.min(r2)), out, "post", resume, device, progress, wave, surf2,
            u_max=u_pre, centerline=cl2))
        post = _analyze(case, flow_post, ports2, surf2, cl2, main_port, lesion_objs, treated=True)
        results["post"] = {"ports": post["ports"], "lesions": post["lesions"], "wss": post["wss"],
                           "conservation": post["conservation"], "run": post["run"]}
        results["warnings"] += (_speed_warnings(post["run"], "post-treatment")
                                + _acoustic_warnings(post["run"], "post-treatment", case.numerics.u_lu_max)
                                + _density_warnings(post["run"], "post-treatment", case.numerics.u_lu_max)
                                + _convergence_warnings(post["run"], "post-treatment")
                                + _periodicity_warnings(post["run"], "post-treatment", flow_post["outlets"],
                                                        case.physiology.period_s)
                                + _pd_pa_warnings(post["lesions"], "post-treatment"))
        if not post["run"]["converged"] and results["status"] == "ok":
            results["status"] = "not_converged"
    files = {"pre_ports_csv": _write_series_csv(out, "pre", flow_pre["result"], ports)}
    if post is not None:
        files["post_ports_csv"] = _write_series_csv(out, "post", flow_post["result"], ports2)
    if case.outputs.vtk:
        try:
            files.update({f"pre_{k}": v for k, v in _write_vtk(out, "pre", flow_pre, pre, stamp).items()})
            if post is not None:
                files.update({f"post_{k}": v for k, v in _write_vtk(out, "post", flow_post, post, stamp).items()})
        except Exception as e:
            files["vtk_error"] = f"{type(e).__name__}: {e}"
    if case.outputs.surface and surf is not None:
        f = out.file("lumen.vtp")
        _stamped(surf.copy(deep=False), stamp).save(str(f))
        files["surface"] = f.name
        line = _centerline_polyline(pre["centerline"])
        if line is not None:  # the displayed path (lesion 1's), for the app and ParaView
            f = out.file("centerline.vtp")
            _stamped(line, stamp).save(str(f))
            files["centerline"] = f.name
    results["files"] = files
    results["provenance"] = stamp
    results["centerline"] = _jsonable({k: v for k, v in pre["centerline"].items() if k != "points_mm"})
    results = _jsonable(results)
    figures = {}
    if case.outputs.figures:
        figures = _make_figures(out, pre, post, device_d, results)
        _stamp_pngs(out.path, figures, stamp)
    # said, not deleted (they are the user's now as much as ours), and before the report so it
    # says it too; the folder is not named: folder names can carry a patient's name
    coming = {"results.json", "provenance.json"} | ({"report.html"} if case.outputs.report else set())
    stale = [r for r in out.left_from_earlier_run() if r not in coming]
    if stale:
        results["warnings"].append(f"{len(stale)} file(s) in the output folder are from an earlier run "
                                   f"with other settings, not this one: {', '.join(stale[:6])}"
                                   + (", ..." if len(stale) > 6 else ""))
    report_path = None
    if case.outputs.report:
        report_path = _write_report(out, results, figures)
        results["files"]["report"] = str(Path(report_path).relative_to(out.path))
    wall = round(time.perf_counter() - t_start, 2)
    results["run_time_s"] = wall
    out.file("results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    prov = build_provenance(
        case_sha256=case_hash, inputs=inputs, parameters=_jsonable(_without_input_paths(case)),
        resolved_parameters=_jsonable(_resolved_parameters(case)), versions=versions,
        created_utc=stamp["created_utc"],
        lattice={"pre": _jsonable(flow_pre["describe"]),
                 "post": _jsonable(flow_post["describe"]) if post is not None else None},
        outlets=_jsonable({"pre": flow_pre["outlets"],
                           "post": flow_post["outlets"] if post is not None else None}),
        stage_times_s=cache.times, cached_stages=cache.hits, run_time_s=wall, seed=case.run.seed,
        device=flow_pre["describe"].get("device"), pressure_offset_pa=flow_pre["pressure_offset_pa"],
        notes=["Rp/(Rp+Rd) default 0.09 is [UNVERIFIED] (REFERENCE.md sec. 5)",
               "built-in waveforms are synthetic typical shapes, not measured data",
               "images are identified by content hash only; no image metadata is copied"])
    out.file("provenance.json").write_text(json.dumps(_jsonable(prov), indent=1))
    return results


def _refuse_out_inside_inputs(case: Case, out_dir) -> None:
    """An --out inside an input folder (a DICOM series) would put the outputs among the slices:
    the input's hash, and so every cache key and the provenance, would change with each run."""
    out = Path(out_dir).expanduser().resolve()
    for field, rel in input_files(case):
        p = case.resolve(rel).resolve()
        if p.is_dir() and (out == p or p in out.parents):
            raise PipelineError(f"--out {out_dir} lies inside the input folder of {field} ({rel}); "
                                "choose an output folder outside the inputs")


def _read_waveform(case: Case):
    """The run's inflow waveform (constant for a steady run) and what reading it warned about, for
    results.json. Read before the long stages: a bad CSV fails in seconds, not after segmentation
    and meshing. The file's path is replaced by its case key: a file name may carry a patient's
    name."""
    from .solver.waveforms import load_waveform

    ph = case.physiology
    spec = ph.inflow.waveform if case.run.mode == "pulsatile" else "constant"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wave = load_waveform(spec, ph.inflow.mean, ph.period_s, case.base_dir)
    names = {spec, Path(spec).name, str(case.resolve(spec)), str(Path(case.base_dir or ".") / spec)}
    out = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            msg = str(w.message)
            for name in sorted(names, key=len, reverse=True):
                msg = msg.replace(name, "physiology.inflow.waveform")
            warnings.warn(str(w.message), w.category, stacklevel=2)  # still on stderr for the user
            out.append(msg)
    return wave, out


def _unused_key_warnings(case: Case) -> list:
    """Keys the case sets that its anatomy source does not use (said, not silently dropped)."""
    if not case.image.surface:
        return []
    seg = case.raw.get("segmentation") or {}
    unused = [f"segmentation.{k}" for k in ("seeds_mm", "lower_hu", "upper_hu", "label") if k in seg] + \
        [f"image.{k}" for k in ("series_uid", "crop_lower_mm", "crop_upper_mm")
         if (case.raw.get("image") or {}).get(k) is not None]
    if not unused:
        return []
    return [f"{', '.join(unused)}: not used with a surface input (image.surface); the surface is the lumen"]


def _resolved_parameters(case: Case) -> dict:
    """Every setting as the run used it, defaults filled in (SI units), input paths redacted."""
    # python mode, then the pipeline's own encoder: a case built in Python may hold numpy scalars
    dumped = _jsonable(case.model_dump(exclude={"source_path", "raw"}))
    return _without_input_paths(case, dumped)


def _without_input_paths(case: Case, params: dict | None = None) -> dict:
    """The case's parameters with every input file path replaced by a pointer to its hash: folder
    names often carry patient names, IDs or dates, and the hashes already identify the inputs."""
    out = json.loads(json.dumps(case.raw if params is None else params, default=str))
    for field, _ in input_files(case):
        *sections, key = field.split("[")[0].split(".")
        node = out
        for sec in sections:
            node = node.get(sec) if isinstance(node, dict) else None
        if isinstance(node, dict) and key in node:
            node[key] = "<input file: its sha256 is under provenance inputs>"
    image = out.get("image")
    if isinstance(image, dict) and image.get("series_uid"):  # a DICOM UID links to the study: by hash
        image["series_uid"] = {"sha256": hashlib.sha256(str(image["series_uid"]).encode()).hexdigest()}
    return out


def _on_shown_path(analysis):
    """The analysis with only the lesions on its displayed centerline path (lesion 1's)."""
    if not analysis:
        return analysis
    port = analysis["centerline"]["port"]
    return {**analysis, "lesions": [lz for lz in analysis["lesions"] if lz.get("path_port") == port]}


def _make_figures(out, pre, post, device_d, results):
    from .viz import case_figures

    pre, post = _on_shown_path(pre), _on_shown_path(post)
    return case_figures(out.path, pre, post, device_d, results, claim=out.file)


def _write_report(out, results, figures):
    from .report import write_report

    return write_report(out.path, results, figures, claim=out.file)


def run_case_summary(case_path, out_dir, **kwargs) -> dict:
    """Flat key results of ``run_case`` for cohort tables (one row per case).

    Never raises for a failing case: ``status`` is "error" and ``error`` holds the message.
    """
    t0 = time.perf_counter()
    row = {"case": str(case_path), "status": "error", "error": None}
    try:
        r = run_case(case_path, out_dir, progress=False, **kwargs)
    except Exception as e:  # cohorts continue past a failing case
        row.update(error=f"{type(e).__name__}: {e}", run_time_s=round(time.perf_counter() - t0, 2))
        return row
    row.update(status=r["status"], case=r["case"], run_time_s=r.get("run_time_s"),
               mass_imbalance=r["conservation"]["mass_imbalance"])
    les = r["lesions"][0] if r["lesions"] else {}
    row.update(gradient_mmhg=les.get("gradient_mmhg"), pd_pa=les.get("pd_pa"),
               percent_diameter_stenosis=les.get("percent_diameter_stenosis"),
               mld_mm=les.get("mld_mm"), lesion_path_port=les.get("path_port"),
               lattice_cells_across_mld=les.get("lattice_cells_across_mld"),
               n_lesions=len(r["lesions"]), n_warnings=len(r.get("warnings") or []),
               warnings=" | ".join(r.get("warnings") or []))
    for p in r["ports"]:
        row[f"flow_ml_s_{p['name']}"] = p["mean_flow_ml_s"]
        row[f"pressure_mmhg_{p['name']}"] = p["mean_pressure_mmhg"]
    for k in ("mean_pa", "max_pa", "p95_pa", "low_area_fraction"):
        row[f"wss_{k}"] = (r.get("wss") or {}).get(k)
    dev = r.get("device") or {}
    row.update(device_diameter_mm=dev.get("diameter_mm"), device_length_mm=dev.get("length_mm"))
    post = (r.get("post") or {}).get("lesions") or [{}]
    row["post_gradient_mmhg"] = post[0].get("gradient_mmhg") if post else None
    return row
