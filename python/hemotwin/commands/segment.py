# SPDX-License-Identifier: Apache-2.0
"""`hemotwin segment`: image -> lumen mask, surface, centerlines, ports and a figure.

Contract: seeds and clip points are physical mm in the image's frame as SimpleITK reports it
(LPS); a clip plane removes everything on the side its normal points to. Given a lumen surface
(.vtp .vtk .stl .ply .obj) instead of an image, the same outputs come from the surface: its open
ends or caps are the ports (``geometry.surface_input``) and the mask is the surface rasterised.
"""

from __future__ import annotations

import argparse
import re

OUTPUTS = (
    "mask.nii.gz",
    "surface.vtp",
    "surface.stl",
    "centerlines.vtp",
    "ports.json",
    "geometry.png",
    "segmentation.json",
)


def _triple(text):
    vals = [float(v) for v in text.split(",")]
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: need X,Y,Z in mm")
    return vals


def _six(text):
    vals = [float(v) for v in text.split(",")]
    if len(vals) != 6:
        raise argparse.ArgumentTypeError(f"{text!r}: need PX,PY,PZ,NX,NY,NZ in mm")
    if sum(v * v for v in vals[3:]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the normal is zero")
    return vals


def register(subparsers):
    p = subparsers.add_parser(
        "segment",
        help="segment the lumen and build surface, centerlines and ports",
        description="Segment a contrast-enhanced lumen and write mask.nii.gz, surface.vtp, "
        "centerlines.vtp, ports.json and geometry.png into --out. Coordinates are "
        "physical mm, LPS, as SimpleITK reports them.",
    )
    p.add_argument(
        "image", help="NIfTI/MHA/NRRD file, a DICOM folder, (with --label) a label map, or a "
        "lumen surface (.vtp .vtk .stl .ply .obj: its open ends or flat caps are the ports)"
    )
    p.add_argument("--unit", choices=("mm", "cm", "m"), default=None,
                   help="length unit of a surface file's coordinates (SimVascular: cm; default: "
                   "the unit the file states, else mm)")
    p.add_argument("--faces", default=None, metavar="MDL",
                   help="SimVascular .mdl naming a surface's faces (default: <stem>.mdl beside it)")
    p.add_argument(
        "--seed",
        action="append",
        type=_triple,
        default=[],
        metavar="X,Y,Z",
        help="seed point inside the lumen (mm); repeatable; none: vesselness mode",
    )
    p.add_argument(
        "--clip",
        action="append",
        type=_six,
        default=[],
        metavar="PX,PY,PZ,NX,NY,NZ",
        help="clip plane (mm): removes everything on the side the normal points to",
    )
    p.add_argument(
        "--label",
        type=int,
        default=None,
        metavar="N",
        help="IMAGE is a label map: use the voxels with label N as the lumen",
    )
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--series", default=None, help="DICOM series UID (default: the largest series)")
    p.add_argument("--lower", type=float, default=None, help="region-growing lower threshold")
    p.add_argument("--upper", type=float, default=None, help="region-growing upper threshold")
    p.add_argument(
        "--refine",
        choices=("antialias", "gac", "none"),
        default=None,  # None: antialias for images; said to be unused for a surface
        help="level-set refinement (default antialias)",
    )
    p.add_argument(
        "--split-touching-mm",
        type=float,
        default=None,
        metavar="DEPTH",
        help="separate structures touching the vessel (marker watershed on the distance "
        "map; cores deeper than DEPTH mm without a seed are removed)",
    )
    p.add_argument(
        "--crop",
        type=float,
        nargs=6,
        default=None,
        metavar=("X0", "Y0", "Z0", "X1", "Y1", "Z1"),
        help="crop to the box between two corners (mm) before segmenting",
    )
    p.add_argument(
        "--port-name",
        action="append",
        default=[],
        metavar="NAME=X,Y,Z",
        help="give NAME to the port whose centre lies within 2 port radii (at least 2 mm) of "
        "X,Y,Z (mm); a renamed inlet stays the inlet; inlet=X,Y,Z makes that port the inlet; "
        "repeatable",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs in --out")
    p.add_argument("--no-figure", action="store_true", help="skip the PNG")
    # let "--seed -12.5,3,4" parse: comma lists starting with a minus sign are values, not options
    num = r"[-+]?[\d.]+(e[-+]?\d+)?"
    p._negative_number_matcher = re.compile(rf"^-\d+$|^-\d*\.\d+$|^{num}(,{num})+$")
    p.set_defaults(func=run)


def run(args):
    from pathlib import Path

    import numpy as np

    from ..cli import CliError
    from ..geometry.model import build_vessel_model
    from ..imaging import crop, read_image, segment_lumen

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file, not a folder; give a folder path")
    _refuse_overwriting_input(Path(args.image), out)
    existing = [str(out / f) for f in OUTPUTS if (out / f).exists()]
    if existing and not args.overwrite:
        raise CliError(
            f"{', '.join(existing)} exist(s); refusing to overwrite (use --overwrite "
            "or another --out)"
        )
    overrides = _port_names(args.port_name)
    from ..geometry.surface_input import SURFACE_SUFFIXES
    from ..imaging.io import is_image_file

    # .vtk holds either: a legacy STRUCTURED_POINTS file is an image
    if Path(args.image).suffix.lower() in SURFACE_SUFFIXES and not is_image_file(args.image):
        return _run_surface(args, out, overrides)
    surface_only = [f for f, v in (("--faces", args.faces), ("--unit", args.unit is not None)) if v]
    if surface_only:
        raise CliError(f"{', '.join(surface_only)}: for surfaces only; {args.image} is an image "
                       "(its header gives the voxel size in mm)")
    if args.series and not Path(args.image).is_dir():
        raise CliError(f"--series: for a DICOM folder only; {args.image} is a single file")
    args.refine = args.refine or "antialias"
    vol = read_image(args.image, series_uid=args.series)
    provenance = _provenance(args, {"image": _input_record(Path(args.image))})
    if args.crop:
        vol = crop(vol, args.crop[:3], args.crop[3:])
    name = "image"  # not the file name: it goes into segmentation.json, and names can identify patients
    clips = [(np.array(c[:3]), np.array(c[3:]) / np.linalg.norm(c[3:])) for c in args.clip]
    if args.label is not None:
        res = segment_lumen(
            vol,
            [np.array(s) for s in args.seed] or None,
            clips,
            label_map=vol,
            label=args.label,
            refine=args.refine,
            name=name,
        )
    else:
        res = segment_lumen(
            vol,
            [np.array(s) for s in args.seed] or None,
            clips,
            lower=args.lower,
            upper=args.upper,
            refine=args.refine,
            name=name,
            split_touching=args.split_touching_mm is not None,
            split_depth_mm=args.split_touching_mm,
        )
    if res.status in ("empty", "leak"):
        raise CliError(res.message)
    warnings = []
    if res.status == "pieces":
        print(f"warning: {res.message}")
        warnings.append(res.message)
    model = build_vessel_model(
        res.mask.array,
        res.mask,
        [np.r_[p, n] for p, n in clips],
        levelset=None if res.levelset is None else res.levelset.array,
        port_overrides=overrides or None,
    )
    report = {
        "input": vol.description,
        "status": res.status,
        "message": res.message,
        "thresholds": [float(t) for t in res.thresholds],
        "seeds_mm": [[float(v) for v in s] for s in res.seeds_mm],
        "clip_planes": [[float(v) for v in c] for c in args.clip],
        "stats": {k: float(v) for k, v in res.stats.items()},
        "warnings": warnings,
        "provenance": provenance,
    }
    return _write_outputs(args, out, res.mask, model, report, res.message)


def _refuse_overwriting_input(src, out):
    """Refuse an --out whose outputs would replace the input (a label map or surface written by
    an earlier run, segmented again into the same folder), or that lies in the DICOM folder
    being read."""
    from ..cli import CliError

    if not src.exists():
        return  # read_image / surface_anatomy say so, naming it
    out_r, src_r = out.resolve(), src.resolve()
    if src.is_dir():
        if out_r == src_r or src_r in out_r.parents:
            raise CliError(
                f"--out {out} is inside the input folder {src}; the outputs would mix with the "
                "DICOM files read: give an --out outside it"
            )
        return
    for f in OUTPUTS:
        dst = out / f
        if dst.exists() and dst.samefile(src):  # also through a link
            raise CliError(
                f"{src} is an output of this command ({f} in --out {out}); segmenting it into "
                "that folder would overwrite the input: give another --out (or copy the input "
                "elsewhere first)"
            )


# the options each kind of input uses (the others are refused for it)
_IMAGE_OPTIONS = ("seed", "clip", "label", "series", "lower", "upper", "refine",
                  "split_touching_mm", "crop", "port_name", "no_figure", "overwrite")
_SURFACE_OPTIONS = ("unit", "faces", "clip", "port_name", "no_figure", "overwrite")


def _provenance(args, inputs, surface=False):
    """What made these outputs: software versions, the inputs by content hash and format suffix
    (never their paths or names, which may carry a patient's name), and the value of every
    option the input's kind uses, defaults included."""
    import hashlib

    from ..report.provenance import software_versions, utc_now

    opts = {}
    for k in _SURFACE_OPTIONS if surface else _IMAGE_OPTIONS:
        v = getattr(args, k, None)
        opts[k.replace("_", "-")] = [list(x) for x in v] if k in ("seed", "clip") else v
    opts["port-name"] = _port_names(args.port_name)
    if opts.get("series"):  # a DICOM UID: recorded by hash, like the files
        opts["series"] = {"sha256": hashlib.sha256(args.series.encode()).hexdigest()}
    if opts.get("faces"):
        opts["faces"] = "<input file: its sha256 is under provenance inputs>"
    return {
        "command": "hemotwin segment",
        "created_utc": utc_now(),
        "versions": software_versions(),
        "inputs": inputs,
        "options": opts,
    }


def _input_record(path, kind=None):
    """``{"sha256", "suffix", "kind"}`` of an input file or DICOM folder (its files hashed)."""
    from ..geometry.surface_input import SURFACE_SUFFIXES
    from ..imaging.io import _image_suffix
    from ..report.provenance import file_sha256

    if path.is_dir():
        return {"sha256": file_sha256(path), "suffix": "", "kind": kind or "DICOM folder"}
    low = path.name.lower()
    suffix = next((x for x in SURFACE_SUFFIXES + (".mdl",) if low.endswith(x)), None)
    return {"sha256": file_sha256(path), "suffix": suffix or _image_suffix(path),
            "kind": kind or "image file"}


def _port_names(items):
    from ..cli import CliError

    overrides = {}
    for item in items:
        nm, _, pt = item.partition("=")
        try:
            overrides[nm.strip()] = [float(v) for v in pt.split(",")]
        except ValueError:
            raise CliError(f"--port-name {item!r}: expected NAME=X,Y,Z (mm)") from None
        if len(overrides[nm.strip()]) != 3 or not nm.strip():
            raise CliError(f"--port-name {item!r}: expected NAME=X,Y,Z (mm)")
    return overrides


def _run_surface(args, out, overrides):
    """A lumen surface: ports from its ends, centerlines from its rasterised mask."""
    import warnings
    from pathlib import Path

    import numpy as np

    from ..cli import CliError
    from ..geometry.centerlines import centerline_topology, compute_centerlines
    from ..geometry.model import VesselModel
    from ..geometry.surface import check_surface
    from ..geometry.surface_input import (
        SurfaceInputError,
        simvascular_unit_warning,
        surface_anatomy,
    )
    from ..imaging.io import ImageVolume

    image_only = [f for f, v in (("--seed", args.seed), ("--label", args.label is not None),
                                 ("--crop", args.crop), ("--series", args.series),
                                 ("--lower", args.lower is not None), ("--upper", args.upper is not None),
                                 ("--split-touching-mm", args.split_touching_mm is not None),
                                 ("--refine", args.refine is not None)) if v]
    if image_only:
        raise CliError(f"{', '.join(image_only)}: for images only; {args.image} is a surface")
    src = Path(args.image)
    faces = Path(args.faces) if args.faces else src.with_suffix(".mdl")
    faces_used = faces if (args.faces or faces.is_file()) else None
    try:
        anat = surface_anatomy(src, args.unit, faces_used, overrides=overrides or None,
                               clip_planes=[(c[:3], c[3:]) for c in args.clip])
    except SurfaceInputError as e:
        raise CliError(str(e)) from None
    inputs = {"surface": _input_record(src, "surface file")}
    if faces_used is not None:
        inputs["faces"] = _input_record(faces_used, "SimVascular .mdl" + (
            "" if args.faces else " found beside the surface"))
    provenance = _provenance(args, inputs, surface=True)
    warnings_out = []
    unit_warning = simvascular_unit_warning(anat, faces_used)
    if unit_warning:
        import sys

        print(f"hemotwin segment: warning: {src}: {unit_warning}", file=sys.stderr)
        warnings_out.append(unit_warning)
    mask = ImageVolume(anat.mask, anat.spacing_mm, anat.origin_mm, np.eye(3), anat.description, "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cl = compute_centerlines(anat.mask, mask, anat.ports, surface=anat.surface)
    model = VesselModel(anat.surface, cl, anat.ports, check_surface(anat.surface),
                        centerline_topology(cl))
    msg = (f"surface: {anat.description}; rasterised at {anat.spacing_mm[0]:.3g} mm "
           f"(ends carried 4 voxels past the caps)")
    report = {"input": anat.description, "status": "ok", "message": msg,
              "unit": args.unit or "as the file states, else mm",
              "unit_used": anat.unit, "unit_source": anat.unit_source,
              "clip_planes": [[float(v) for v in c] for c in args.clip],
              "port_sources": {p.name: p.source for p in anat.ports},
              "warnings": warnings_out, "provenance": provenance}
    return _write_outputs(args, out, mask, model, report, msg)


def _write_outputs(args, out, mask_vol, model, report, message):
    """Write every output (after everything is computed: a failure leaves no partial files)."""
    import json

    from ..geometry.ports import write_ports_json
    from ..geometry.surface import write_surface
    from ..imaging import write_image

    out.mkdir(parents=True, exist_ok=True)
    ow = bool(args.overwrite)
    write_image(mask_vol, out / "mask.nii.gz", overwrite=ow)
    write_surface(model.surface, out / "surface.vtp", overwrite=ow)
    write_surface(model.surface, out / "surface.stl", overwrite=ow)
    write_surface(model.centerlines, out / "centerlines.vtp", overwrite=ow)
    write_ports_json(model.ports, out / "ports.json", overwrite=ow)
    report = {**report, "surface": model.surface_check, "topology": model.topology}
    (out / "segmentation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.no_figure:
        from ..viz.geometry_views import render_geometry

        render_geometry(
            model.surface,
            model.centerlines,
            model.ports,
            out / "geometry.png",
            title=f"{len(model.ports)} ports, {model.topology['n_bifurcations']} bifurcations",
            overwrite=ow,
        )
    chk = model.surface_check
    print(
        f"{message}; surface {chk['n_triangles']} triangles, watertight={chk['watertight']}; "
        f"ports: {', '.join(f'{p.name} r={p.radius_mm:.2f} mm' for p in model.ports)}"
    )
    print(f"wrote {', '.join(f for f in OUTPUTS if (out / f).exists())} to {out}")
    return 0
