# SPDX-License-Identifier: Apache-2.0
"""The planning workstation (trame + PyVista): 3-D lumen, diameter profile, device, Simulate.

Rendering is server side (off-screen VTK, images streamed to the page), so the browser needs no
WebGL. Long work (the pipeline) runs in a separate process; the event loop only polls it.
"""
from __future__ import annotations

import asyncio
import base64
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import model
from .security import token_middleware

__all__ = ["Workstation"]


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
        Where runs started from the app go (default: beside the run, or ``hemotwin-out/<case>``).
    token : str
        Access token every request must carry.
    """

    def __init__(self, source, token: str, out_dir=None, server_name=None):
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

        src = Path(source).expanduser().resolve() if source else None
        if src is not None and src.is_file():
            self.case_path = src
            self.out_root = Path(out_dir).resolve() if out_dir else \
                Path.cwd() / "hemotwin-out" / src.stem.replace("case", src.parent.name)
        elif src is not None and src.is_dir():
            self.out_root = Path(out_dir).resolve() if out_dir else src
            self.case_path = model.find_case_file(src)
        elif src is None:
            self.out_root = Path(out_dir).resolve() if out_dir else Path.cwd() / "hemotwin-out"
        else:
            raise FileNotFoundError(f"{source}: no such case file or run folder")
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
        wslink_server.app.middlewares.append(token_middleware(self.token))

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
                  hide_details=True, id="device-select")
        v.VSlider(v_model_number=("dev_pos",), min=0, max=("s_max",), step=0.5,
                  label="Position [mm]", thumb_label=True, hide_details=True, id="dev-pos")
        v.VSlider(v_model_number=("dev_len",), min=4, max=60, step=1, label="Length [mm]",
                  thumb_label=True, hide_details=True, id="dev-len")
        v.VSlider(v_model_number=("dev_diam",), min=1.5, max=30, step=0.25,
                  label="Diameter [mm]", thumb_label=True, hide_details=True, id="dev-diam")
        html.Div("{{ device_shown }}", id="device-shown", classes="text-caption")
        v.VBtn("Simulate", click=self.simulate, color="primary", disabled=("busy",),
               id="simulate-btn", classes="my-2")
        with v.VTable(density="compact", id="compare-table"):
            with html.Thead():
                with html.Tr():
                    for h in ("", "Pre", "Post"):
                        html.Th(h)
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
        st.pre_gradient = _fmt(run.gradient_mmhg())
        st.pre_pdpa = _fmt(run.pd_pa())
        st.pre_wss = self._wss_text(run)
        if run.arclength_mm is not None:
            st.s_max = float(run.arclength_mm[-1])
        self.devices = model.catalog_devices(run.results, *self._case_catalog())
        st.device_items = [{"title": d["name"], "value": i} for i, d in enumerate(self.devices)]
        self._apply_device(0)
        self._draw_surface(run)
        self.plotter.view_isometric()
        self.plotter.reset_camera()
        self.ctrl.view_update()
        st.message = ("Run loaded." if self.case_path else
                      "Run loaded (no case file found: Simulate unavailable).")
        warn = run.results.get("warnings") or []
        if warn:  # an unresolved lesion must not pass unnoticed at the workstation
            st.message += " Warning: " + " | ".join(warn)

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
        pos = d.get("position_mm")
        if pos is None:
            pos = self._default_position(d["length_mm"])
        with self.state:
            self.state.dev_diam = float(d["diameter_mm"])
            self.state.dev_len = float(d["length_mm"])
            self.state.dev_pos = float(pos)
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

    def _draw_surface(self, run):
        if run.surface is None:
            return
        label = self.state.scalar
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
        self.ctrl.view_update()

    def _draw_device(self):
        st = self.state
        if self.device_actor is not None:
            self.plotter.remove_actor(self.device_actor)
            self.device_actor = None
        if self.pre is not None:
            tube = model.device_tube(self.pre, st.dev_pos, st.dev_len, st.dev_diam)
            if tube is not None:
                self.device_actor = self.plotter.add_mesh(tube, color="silver", style="wireframe",
                                                          line_width=2, name="device")
        self.ctrl.view_update()

    def _profile_png(self):
        from ..viz.plots import diameter_profile_png

        run, st = self.pre, self.state
        lesions = []
        if run is not None and run.diameter_mm is not None:
            shown = (run.results.get("centerline") or {}).get("port")
            lesions = [L for L in run.lesions if L.get("path_port") in (None, shown)]  # on this path
        png = diameter_profile_png(
            run.arclength_mm if run is not None else None, run.diameter_mm if run is not None else None,
            lesions, (float(st.dev_pos), float(st.dev_pos) + float(st.dev_len), st.dev_diam))
        return "data:image/png;base64," + base64.b64encode(png).decode()

    # ------------------------------------------------------------------ callbacks
    def _on_scalar(self, scalar, **_):
        if self.pre is not None:
            self._draw_surface(self.post or self.pre)

    def _on_device_pick(self, device_idx, **_):
        if device_idx is not None:
            self._apply_device(device_idx)

    def _on_device_geometry(self, **_):
        st = self.state
        st.device_shown = (f"Device {st.dev_diam:.2f} mm x {st.dev_len:.0f} mm at "
                           f"{st.dev_pos:.1f} mm")
        st.profile_src = self._profile_png()
        self._draw_device()

    def simulate(self):
        if self.job is not None:
            return
        if self.case_path is None:
            self.state.message = "Simulate needs the case file (open a case or a run with one)."
            return
        st = self.state
        self.sim_count += 1
        out = self.out_root / f"app-sim-{self.sim_count:02d}"
        self._start_job("post", out, model.device_overrides(st.dev_diam, st.dev_len, st.dev_pos))

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

    def _load_post(self, folder):
        run = model.load_run(folder)
        self.post = run
        st = self.state
        g = run.gradient_mmhg(post=True)
        st.post_gradient = _fmt(g if g is not None else run.gradient_mmhg())
        p = run.pd_pa(post=True)
        st.post_pdpa = _fmt(p if p is not None else run.pd_pa())
        st.post_wss = self._wss_text(run, post=True)
        st.message = f"Simulated: {Path(folder).name}"
        self._draw_surface(run)

    # ------------------------------------------------------------------ serving
    def start(self, host="127.0.0.1", port=0, on_ready=None):
        """Serve until interrupted; ``on_ready(url)`` once the port is open."""

        def ready(**_):
            url = f"http://{host}:{self.server.port}/index.html?token={self.token}"
            self._poll_task = asyncio.get_event_loop().create_task(self.poll_jobs())
            if on_ready:
                on_ready(url)

        self.ctrl.on_server_ready.add(ready)
        try:
            self.server.start(host=host, port=port, open_browser=False,
                              show_connection_info=False, disable_logging=True, timeout=0)
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)
            sys.stdout.flush()
