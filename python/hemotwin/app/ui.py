# SPDX-License-Identifier: Apache-2.0
"""The planning workstation (trame + PyVista): 3-D lumen, diameter profile, device, Simulate.

Rendering is server side (off-screen VTK, images streamed to the page), so the browser needs no
WebGL. Long work (the pipeline) runs in a separate process; the event loop only polls it.
"""
from __future__ import annotations

import asyncio
import base64
import math
import multiprocessing
import re
import shutil
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import model
from .security import token_middleware

__all__ = ["Workstation", "next_sim_dir", "default_out_root"]

#: Slider ranges (state keys of the device geometry): (min, max); max of dev_pos is s_max.
DEV_LIMITS = {"dev_len": (4.0, 60.0), "dev_diam": (1.5, 30.0)}

_SIM_RE = re.compile(r"^app-sim-(\d+)$")


def next_sim_dir(out_root) -> Path:
    """The next free ``app-sim-NN`` folder in ``out_root`` (after the highest one on disk), so a
    new session never overwrites an earlier session's Simulate runs."""
    root = Path(out_root)
    nums = [int(m.group(1)) for p in (root.iterdir() if root.is_dir() else ())
            if (m := _SIM_RE.match(p.name))]
    n = max(nums, default=0) + 1
    while (root / f"app-sim-{n:02d}").exists():
        n += 1
    return root / f"app-sim-{n:02d}"


def default_out_root(source) -> Path:
    """Where the app's runs go without ``--out``: for a run folder ``RUN``, the sibling folder
    ``RUN-app`` (never inside the finished run); for a case file, ``./hemotwin-out/<case>``;
    with no source, ``./hemotwin-out``."""
    if source is None:
        return Path.cwd() / "hemotwin-out"
    src = Path(source).expanduser().resolve()
    if src.is_dir():
        return src.parent / f"{src.name}-app"
    return Path.cwd() / "hemotwin-out" / src.stem.replace("case", src.parent.name)


def _warnings_text(results: dict, post=False) -> str:
    """Status, warnings and device warnings of a run, as one message suffix ("" if none)."""
    parts = []
    status = results.get("status")
    if status and status != "ok":
        parts.append(f"status: {status}")
    parts += [str(w) for w in results.get("warnings") or []]
    dev = results.get("device") if isinstance(results.get("device"), dict) else {}
    parts += [f"device: {w}" for w in dev.get("warnings") or []]
    if post and isinstance(results.get("post"), dict):
        parts += [str(w) for w in results["post"].get("warnings") or []
                  if str(w) not in parts]
    return (" Warning: " + " | ".join(parts)) if parts else ""


def _finite(v):
    """``v`` as a finite float, or None (strings, NaN, inf, None, bools)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _gradient_text(run, post=False) -> str:
    """Mean gradient; a pulsatile run's peak-to-peak beside it."""
    p2p = run.peak_to_peak_mmhg(post)
    mean = _fmt(run.gradient_mmhg(post))
    return mean if p2p is None else f"{mean} (peak-to-peak {_fmt(p2p, 1)})"


def _fmt(v, nd=2, unit=""):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{float(v):.{nd}f}{(' ' + unit) if unit else ''}"


class Workstation:
    """One app instance: a trame server bound to one case / run folder.

    Parameters
    ----------
    source : str or Path or None
        A case TOML (run first, in the background) or a finished run folder.
    out_dir : str or Path, optional
        Where runs started from the app go (default: beside the run folder ``RUN``, in
        ``RUN-app/``; for a case file ``./hemotwin-out/<case>``). Each Simulate writes a new
        ``app-sim-NN/`` folder there.
    token : str
        Access token every request must carry.
    """

    def __init__(self, source, token: str, out_dir=None, server_name=None, case_path=None):
        from trame.app import get_server

        from ..viz.offscreen import pyvista

        pv = pyvista()

        self.token = token
        self.server = get_server(server_name or f"hemotwin-{id(self)}", client_type="vue3")
        self.state, self.ctrl = self.server.state, self.server.controller
        self.executor = ProcessPoolExecutor(max_workers=1,
                                            mp_context=multiprocessing.get_context("spawn"))
        self.job = None
        self.job_kind = None
        self.job_t0 = 0.0
        self.pre: model.RunData | None = None
        self.post: model.RunData | None = None
        self.case_path: Path | None = None
        self.devices: list = []
        self.sim_count = 0
        self._host = "127.0.0.1"
        self._dev = {"dev_pos": 0.0, "dev_len": 12.0, "dev_diam": 3.0}  # last valid geometry
        self._device_idx = 0
        self._scalar = "WSS"

        src = Path(source).expanduser().resolve() if source else None
        if src is not None and not (src.is_file() or src.is_dir()):
            raise FileNotFoundError(f"{source}: no such case file or run folder")
        self.out_root = Path(out_dir).expanduser().resolve() if out_dir else default_out_root(src)
        if src is not None and src.is_file():
            self.case_path = src
        elif src is not None and src.is_dir():
            # a run folder records its case by hash only (a path can carry a patient's name):
            # the case file to re-simulate with is given, or found beside the run
            self.case_path = (Path(case_path).expanduser().resolve() if case_path
                              else model.find_case_file(src))
        self.out_root.mkdir(parents=True, exist_ok=True)
        self.server.serve["runs"] = str(self.out_root)

        self.plotter = pv.Plotter(off_screen=True, window_size=(900, 650))
        self.plotter.set_background("white")
        self.surface_actor = None
        self.device_actor = None

        self._init_state()
        self._build_ui()
        self.ctrl.on_server_bind.add(self._bind)

        if src is not None and src.is_dir():
            self._load_pre(src)
        elif self.case_path is not None:
            self._start_job("pre", self.out_root, None)

    # ------------------------------------------------------------------ server hooks
    def _bind(self, wslink_server):
        wslink_server.app.middlewares.append(token_middleware(self.token, hosts=[self._host]))

    # ------------------------------------------------------------------ state
    def _init_state(self):
        s = self.state
        s.update({
            "title": "hemotwin workstation",
            "case_name": self.case_path.stem if self.case_path else "",
            "scalar": "WSS", "scalar_options": list(model.SCALARS),
            "device_items": [], "device_idx": 0,
            "dev_pos": 0.0, "dev_len": 12.0, "dev_diam": 3.0, "s_max": 100.0,
            "profile_src": "", "lesion_rows": [],
            "pre_gradient": "-", "pre_pdpa": "-", "pre_wss": "-",
            "post_gradient": "-", "post_pdpa": "-", "post_wss": "-",
            "post_label": "Post", "view_label": "",
            "dev_len_min": DEV_LIMITS["dev_len"][0], "dev_len_max": DEV_LIMITS["dev_len"][1],
            "dev_diam_min": DEV_LIMITS["dev_diam"][0], "dev_diam_max": DEV_LIMITS["dev_diam"][1],
            "busy": False, "progress_msg": "", "message": "", "report_url": "",
            "device_shown": "",
        })
        s.change("scalar")(self._on_scalar)
        s.change("device_idx")(self._on_device_pick)
        s.change("dev_pos", "dev_len", "dev_diam")(self._on_device_geometry)

    # ------------------------------------------------------------------ layout
    def _build_ui(self):
        from trame.ui.vuetify3 import SinglePageLayout
        from trame.widgets import html, vuetify3 as v
        from trame.widgets import vtk as vtk_widgets

        with SinglePageLayout(self.server) as layout:
            layout.title.set_text("hemotwin workstation")
            with layout.toolbar:
                v.VSpacer()
                html.Span("{{ case_name }}", classes="mr-4", id="case-name")
                v.VSelect(v_model=("scalar",), items=("scalar_options",), label="Colour by",
                          density="compact", hide_details=True, style="max-width: 160px",
                          id="scalar-select")
                v.VBtn("Export report", click=self.export_report, id="export-btn", classes="ml-2",
                       disabled=("busy",))
                html.A("report", href=("report_url",), target="_blank", id="report-link",
                       v_show=("report_url",), classes="ml-2")
                v.VProgressLinear(indeterminate=True, absolute=True, bottom=True,
                                  active=("busy",), id="busy-bar")
            with layout.content:
                with v.VContainer(fluid=True, classes="pa-2 fill-height"):
                    with v.VRow(classes="fill-height", no_gutters=True):
                        with v.VCol(cols=7, classes="pa-1", style="height: 88vh"):
                            view = vtk_widgets.VtkRemoteView(self.plotter.ren_win, ref="view",
                                                             interactive_ratio=1,
                                                             id="view3d")
                            self.ctrl.view_update = view.update
                            self.ctrl.view_reset_camera = view.reset_camera
                        with v.VCol(cols=5, classes="pa-1", style="overflow-y: auto; height: 88vh"):
                            self._panel(html, v)

    def _panel(self, html, v):
        html.Div("{{ message }}", id="message", classes="text-caption mb-1")
        html.Div("{{ progress_msg }}", id="progress", v_show=("busy",),
                 classes="text-caption text-primary")
        html.Div("{{ view_label }}", id="view-label", classes="text-caption")
        html.Img(src=("profile_src",), id="profile-img", style="width: 100%")
        with v.VTable(density="compact", id="lesion-table"):
            with html.Thead():
                with html.Tr():
                    for h in ("Lesion", "Path to", "MLD [mm]", "RVD [mm]", "%DS", "Length [mm]"):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(v_for="(r, i) in lesion_rows", key="i"):
                    for k in ("name", "path", "mld", "rvd", "ds", "length"):
                        html.Td(f"{{{{ r.{k} }}}}")
        html.Div("Device", classes="text-subtitle-2 mt-2")
        v.VSelect(v_model=("device_idx",), items=("device_items",), item_title="title",
                  item_value="value", label="Device from catalog", density="compact",
                  hide_details=True, id="device-select", disabled=("busy",))
        v.VSlider(v_model_number=("dev_pos",), min=0, max=("s_max",), step=0.5,
                  label="Position [mm]", thumb_label=True, hide_details=True, id="dev-pos",
                  disabled=("busy",))
        v.VSlider(v_model_number=("dev_len",), min=("dev_len_min",), max=("dev_len_max",),
                  step=1, label="Length [mm]", thumb_label=True, hide_details=True, id="dev-len",
                  disabled=("busy",))
        v.VSlider(v_model_number=("dev_diam",), min=("dev_diam_min",), max=("dev_diam_max",),
                  step=0.25, label="Diameter [mm]", thumb_label=True, hide_details=True,
                  id="dev-diam", disabled=("busy",))
        html.Div("{{ device_shown }}", id="device-shown", classes="text-caption")
        v.VBtn("Simulate", click=self.simulate, color="primary", disabled=("busy",),
               id="simulate-btn", classes="my-2")
        with v.VTable(density="compact", id="compare-table"):
            with html.Thead():
                with html.Tr():
                    html.Th("")
                    html.Th("Pre")
                    html.Th("{{ post_label }}", id="post-label")
            with html.Tbody():
                for label, pre, post in (("Gradient [mmHg]", "pre_gradient", "post_gradient"),
                                         ("Pd/Pa", "pre_pdpa", "post_pdpa"),
                                         ("WSS mean / max [Pa]", "pre_wss", "post_wss")):
                    with html.Tr():
                        html.Td(label)
                        html.Td(f"{{{{ {pre} }}}}", id=pre.replace("_", "-"))
                        html.Td(f"{{{{ {post} }}}}", id=post.replace("_", "-"))

    # ------------------------------------------------------------------ data -> view
    def _load_pre(self, folder):
        self.pre = model.load_run(folder)
        if self.case_path is None:
            self.case_path = model.find_case_file(folder)
        run = self.pre
        st = self.state
        st.case_name = Path(folder).name if not self.case_path else \
            f"{self.case_path.stem} ({Path(folder).name})"
        st.lesion_rows = [{"name": f"#{i + 1}", "path": L.get("path_port") or "-",
                           "mld": _fmt(L.get("mld_mm")),
                           "rvd": _fmt(L.get("rvd_mm")),
                           "ds": _fmt(L.get("percent_diameter_stenosis"), 0),
                           "length": _fmt(L.get("length_mm"), 1)} for i, L in enumerate(run.lesions)]
        st.pre_gradient = _gradient_text(run)
        st.pre_pdpa = _fmt(run.pd_pa())
        st.pre_wss = self._wss_text(run)
        if run.arclength_mm is not None:
            st.s_max = float(run.arclength_mm[-1])
        self.devices = model.catalog_devices(run.results, *self._case_catalog())
        self.devices = [d for d in self.devices if _finite(d.get("diameter_mm"))
                        and _finite(d.get("length_mm"))]
        if self.devices:  # the sliders reach every catalog device
            st.dev_len_max = max(DEV_LIMITS["dev_len"][1],
                                 *(math.ceil(d["length_mm"]) for d in self.devices))
            st.dev_diam_max = max(DEV_LIMITS["dev_diam"][1],
                                  *(math.ceil(d["diameter_mm"]) for d in self.devices))
            st.dev_len_min = min(DEV_LIMITS["dev_len"][0],
                                 *(math.floor(d["length_mm"]) for d in self.devices))
            st.dev_diam_min = min(DEV_LIMITS["dev_diam"][0],
                                  *(math.floor(4 * d["diameter_mm"]) / 4 for d in self.devices))
        st.device_items = [{"title": d["name"], "value": i} for i, d in enumerate(self.devices)]
        self._apply_device(0)
        self._draw_surface(run)
        self.plotter.view_isometric()
        self.plotter.reset_camera()
        self.ctrl.view_update()
        st.message = ("Run loaded." if self.case_path else
                      "Run loaded (no case file found: Simulate unavailable).")
        st.message += _warnings_text(run.results)  # must not pass unnoticed at the workstation

    def _case_catalog(self):
        """The case's own device catalog and indication (via the case loader), if any."""
        if self.case_path is None:
            return None, None
        try:
            from ..config.schema import load_case

            case = load_case(self.case_path, check_files=False)
        except (ImportError, OSError, ValueError):
            return None, None
        path = case.resolve(case.devices.catalog) if case.devices.catalog else None
        return path, case.devices.indication

    def _wss_text(self, run, post=False):
        w = run.wss_stats(post)
        mean = w.get("mean_pa", w.get("mean"))
        mx = w.get("max_pa", w.get("max"))
        if mean is None and run.surface is not None and "WSS" in run.scalar_arrays:
            import numpy as np

            a = np.asarray(run.surface[run.scalar_arrays["WSS"]], float)
            mean, mx = float(a.mean()), float(a.max())
        return f"{_fmt(mean)} / {_fmt(mx)}"

    def _apply_device(self, idx):
        if not self.devices:
            return
        d = self.devices[int(idx)]
        self._device_idx = int(idx)
        pos = _finite(d.get("position_mm"))
        if pos is None:
            pos = self._default_position(d["length_mm"])
        pos = min(max(float(pos), 0.0), float(self.state.s_max))
        self._dev = {"dev_pos": pos, "dev_len": float(d["length_mm"]),
                     "dev_diam": float(d["diameter_mm"])}
        with self.state:
            self.state.update(dict(self._dev))
        self._on_device_geometry()

    def _default_position(self, length_mm):
        les = self.pre.lesions if self.pre else []
        if les:
            c = les[0].get("position_mm")
            if c is None and les[0].get("start_mm") is not None:
                c = 0.5 * (les[0]["start_mm"] + les[0]["end_mm"])
            if c is not None:
                return max(0.0, float(c) - length_mm / 2)
        return 0.0

    def _shown_run(self):
        """The run whose surface the 3-D view shows: the treated one once Simulate wrote it."""
        if self.post is not None and self.post.surface is not None \
                and self.post.surface_kind == "post":
            return self.post
        return self.pre

    def _draw_surface(self, run):
        if run is None or run.surface is None:
            return
        label = self._scalar if self._scalar in model.SCALARS else "WSS"
        name = run.scalar_arrays.get(label)
        _, title, factor = model.SCALARS[label]
        if self.surface_actor is not None:
            self.plotter.remove_actor(self.surface_actor)
        mesh = run.surface.copy()
        kw = {}
        if name:
            mesh[f"{label}_shown"] = mesh[name] * factor
            kw = dict(scalars=f"{label}_shown", cmap="jet" if label == "WSS" else "viridis",
                      scalar_bar_args={"title": title, "color": "black", "vertical": True})
        else:
            kw = dict(color="lightcoral")
        self.surface_actor = self.plotter.add_mesh(mesh, smooth_shading=True, opacity=0.9,
                                                   name="lumen", **kw)
        if run is self.post and run.surface_kind == "post":
            self.state.view_label = f"3-D: treated vessel ({self.state.post_label})"
        else:
            self.state.view_label = "3-D: untreated vessel (pre)"
        self.ctrl.view_update()

    def _draw_device(self):
        d = self._dev
        if self.device_actor is not None:
            self.plotter.remove_actor(self.device_actor)
            self.device_actor = None
        if self.pre is not None:
            tube = model.device_tube(self.pre, d["dev_pos"], d["dev_len"], d["dev_diam"])
            if tube is not None:
                self.device_actor = self.plotter.add_mesh(tube, color="silver", style="wireframe",
                                                          line_width=2, name="device")
        self.ctrl.view_update()

    def _profile_png(self):
        from ..viz.plots import diameter_profile_png

        run, d = self.pre, self._dev
        lesions = []
        if run is not None and run.diameter_mm is not None:
            shown = (run.results.get("centerline") or {}).get("port")
            lesions = [L for L in run.lesions if L.get("path_port") in (None, shown)]  # on this path
        png = diameter_profile_png(
            run.arclength_mm if run is not None else None, run.diameter_mm if run is not None else None,
            lesions, (d["dev_pos"], d["dev_pos"] + d["dev_len"], d["dev_diam"]))
        return "data:image/png;base64," + base64.b64encode(png).decode()

    # ------------------------------------------------------------------ callbacks
    def _on_scalar(self, scalar, **_):
        if scalar not in model.SCALARS:
            self.state.message = f"Unknown colouring {scalar!r}: kept {self._scalar}."
            self.state.scalar = self._scalar
            return
        self._scalar = scalar
        if self.pre is not None:
            self._draw_surface(self._shown_run())

    def _on_device_pick(self, device_idx, **_):
        if device_idx is None:
            return
        f = _finite(device_idx)
        if f is None or f != int(f) or not 0 <= int(f) < len(self.devices):
            self.state.message = (f"No device #{device_idx!r} in the catalog "
                                  f"({len(self.devices)} listed): kept the current one.")
            self.state.device_idx = self._device_idx
            return
        if self.state.busy:
            self.state.device_idx = self._device_idx
            return
        if int(f) != device_idx:
            self.state.device_idx = int(f)
        self._apply_device(int(f))

    def _geometry_limits(self):
        st = self.state
        s_max = _finite(st.s_max) or 100.0
        return {"dev_pos": (0.0, s_max),
                "dev_len": (_finite(st.dev_len_min), _finite(st.dev_len_max)),
                "dev_diam": (_finite(st.dev_diam_min), _finite(st.dev_diam_max))}

    def _on_device_geometry(self, **_):
        st = self.state
        bad = []
        new = dict(self._dev)
        for key, (lo, hi) in self._geometry_limits().items():
            v = _finite(st[key])
            if v is None or v < lo - 1e-9 or v > hi + 1e-9:
                bad.append(f"{key.removeprefix('dev_')}={st[key]!r} (allowed {lo:g}-{hi:g})")
            else:
                new[key] = v
        if bad or (st.busy and new != self._dev):
            with st:
                st.update(dict(self._dev))   # keep the last valid device
            if bad:
                st.message = "Invalid device value " + ", ".join(bad) + ": kept the last valid one."
            return
        self._dev = new
        d = self._dev
        st.device_shown = (f"Device {d['dev_diam']:.2f} mm x {d['dev_len']:.0f} mm at "
                           f"{d['dev_pos']:.1f} mm")
        st.profile_src = self._profile_png()
        self._draw_device()

    def simulate(self):
        if self.job is not None:
            return
        if self.case_path is None:
            self.state.message = "Simulate needs the case file (open a case or a run with one)."
            return
        st, d = self.state, self._dev
        out = next_sim_dir(self.out_root)
        self.sim_count += 1
        label = f"{d['dev_diam']:.2f} x {d['dev_len']:.0f} mm at {d['dev_pos']:.1f} mm"
        # the post column belongs to the device it was computed for: cleared until it is
        self.post = None
        st.post_gradient = st.post_pdpa = st.post_wss = "-"
        st.post_label = f"Post ({label}, running)"
        self._sim_label = label
        self._draw_surface(self.pre)
        overrides = {**model.device_overrides(d["dev_diam"], d["dev_len"], d["dev_pos"]),
                     "outputs.vtk": True}  # the treated wall surface, for the 3-D view
        self._start_job("post", out, overrides)

    def export_report(self):
        run = self.post or self.pre
        if run is None:
            self.state.message = "Nothing to export yet."
            return
        src = run.out_dir / "report.html"
        if not src.is_file():
            self.state.message = f"{src.name} not found in {run.out_dir}"
            return
        rel = src.relative_to(self.out_root) if src.is_relative_to(self.out_root) else None
        if rel is None:
            dst = self.out_root / "report.html"
            shutil.copyfile(src, dst)
            rel = dst.relative_to(self.out_root)
        self.state.report_url = f"/runs/{rel.as_posix()}"
        self.state.message = f"Report: {src}"

    # ------------------------------------------------------------------ background jobs
    def _start_job(self, kind, out_dir, overrides):
        self.job = self.executor.submit(model.simulate_job, str(self.case_path), str(out_dir),
                                        overrides)
        self.job_kind, self.job_t0 = kind, time.monotonic()
        self.state.busy = True
        self.state.progress_msg = ("Running the case..." if kind == "pre" else
                                   "Virtual deployment and re-simulation...")

    async def poll_jobs(self):
        while True:
            await asyncio.sleep(0.5)
            if self.job is None:
                continue
            with self.state:
                if not self.job.done():
                    self.state.progress_msg = (
                        ("Running the case" if self.job_kind == "pre" else
                         "Virtual deployment and re-simulation") +
                        f"... {time.monotonic() - self.job_t0:.0f} s")
                    continue
                job, kind, self.job = self.job, self.job_kind, None
                self.state.busy = False
                try:
                    folder = job.result()
                    if kind == "pre":
                        self._load_pre(folder)
                    else:
                        self._load_post(folder)
                except Exception as exc:  # shown to the user; the app keeps running
                    self.state.message = f"{'Run' if kind == 'pre' else 'Simulate'} failed: " \
                                         f"{type(exc).__name__}: {exc}"
                    if kind == "post":
                        self.post = None
                        self.state.post_gradient = self.state.post_pdpa = "-"
                        self.state.post_wss = "-"
                        self.state.post_label = f"Post ({getattr(self, '_sim_label', '')}, failed)"
                        self._draw_surface(self.pre)

    def _load_post(self, folder):
        run = model.load_run(folder, which="post")
        self.post = run
        st = self.state
        label = getattr(self, "_sim_label", "")
        dev = run.device
        if _finite(dev.get("diameter_mm")) and _finite(dev.get("length_mm")):
            pos = _finite(dev.get("start_mm", dev.get("position_mm")))
            label = (f"{float(dev['diameter_mm']):.2f} x {float(dev['length_mm']):.0f} mm"
                     + (f" at {pos:.1f} mm" if pos is not None else ""))
        st.post_label = f"Post ({label})" if label else "Post"
        # no fallback to the pre numbers: a missing post value is shown as missing
        st.post_gradient = _gradient_text(run, post=True)
        st.post_pdpa = _fmt(run.pd_pa(post=True))
        st.post_wss = self._wss_text(run, post=True) if run.surface is not None or \
            run.wss_stats(post=True) else "- / -"
        st.message = f"Simulated: {Path(folder).name}." + _warnings_text(run.results, post=True)
        if run.surface is None:
            st.message += " (No treated surface in the run: the 3-D view shows the untreated vessel.)"
        self._draw_surface(self._shown_run())

    # ------------------------------------------------------------------ serving
    def stop_workers(self, timeout=5.0):
        """End the background job now: terminate the worker process(es), not wait for them."""
        procs = list((getattr(self.executor, "_processes", None) or {}).values())
        for pr in procs:
            try:
                pr.terminate()
            except (OSError, AttributeError, ValueError):
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)
        t_end = time.monotonic() + timeout
        for pr in procs:
            try:
                pr.join(max(0.0, t_end - time.monotonic()))
                if pr.is_alive():
                    pr.kill()
                    pr.join(1.0)
            except (OSError, AttributeError, ValueError, AssertionError):
                pass

    def start(self, host="127.0.0.1", port=0, on_ready=None):
        """Serve until interrupted (Ctrl-C or SIGTERM); ``on_ready(url)`` once the port is open.

        On the way out a running simulation is terminated, not waited for.
        """
        self._host = host

        def ready(**_):
            url_host = f"[{host}]" if ":" in host else host
            url = f"http://{url_host}:{self.server.port}/index.html?token={self.token}"
            self._poll_task = asyncio.get_event_loop().create_task(self.poll_jobs())
            if on_ready:
                on_ready(url)

        def on_term(signum, frame):  # as Ctrl-C: leave the server loop, then clean up
            raise KeyboardInterrupt

        old_term = None
        try:
            old_term = signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread
            pass
        self.ctrl.on_server_ready.add(ready)
        try:
            self.server.start(host=host, port=port, open_browser=False,
                              show_connection_info=False, disable_logging=True, timeout=0)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop_workers()
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
            sys.stdout.flush()
