# SPDX-License-Identifier: Apache-2.0
"""Self-contained HTML report (figures embedded as base64, readable offline) from a results dict
and a set of figures. Computes no physics: it only formats what the pipeline measured.

Patient identifiers never enter the report: keys that look like DICOM patient/study identity
fields are dropped recursively before rendering, whatever the caller passes.
"""
from __future__ import annotations

import base64
import html
import math
import re
import time
from pathlib import Path
from string import Template

__all__ = ["write_report", "scrub_identifiers", "render_report"]

TEMPLATE = Path(__file__).with_name("templates") / "report.html"

# keys dropped anywhere in the results (case-insensitive): DICOM identity and free-text fields
_IDENTIFYING = re.compile(
    r"^(patient|patients|birth|accession|institution|referring|physician|performing|operator|"
    r"other_?patient|study_?id|study_?description|series_?description|study_?date|series_?date|"
    r"acquisition_?date|content_?date|station|device_?serial|requesting)", re.IGNORECASE)

_UNITS = [("_ml_s", "mL/s"), ("_mmhg", "mmHg"), ("_m_s", "m/s"), ("_mm2", "mm²"), ("_mm", "mm"),
          ("_pa_s", "Pa·s"), ("_1_pa", "1/Pa"), ("_pa", "Pa"), ("_m3_s", "m³/s"), ("_s", "s"),
          ("_m", "m"), ("_percent", "%")]
_NAMES = {"pd_pa": "Pd/Pa", "percent_diameter_stenosis": "% diameter stenosis",
          "percent_area_stenosis": "% area stenosis", "mld_mm": "MLD (mm)", "rvd_mm": "RVD (mm)",
          "osi": "OSI", "tawss_pa": "TAWSS (Pa)", "rrt_1_pa": "RRT (1/Pa)", "ecap_1_pa": "ECAP (1/Pa)",
          "low_area_fraction": "Wall area below the low-WSS threshold (fraction)",
          "id": "#", "path_port": "Path to outlet", "ostial": "Ostial", "branch_id": "Branch",
          "pd_pa_pre": "Pd/Pa pre", "pd_pa_post": "Pd/Pa post", "mld_pre_mm": "MLD pre (mm)",
          "mld_post_mm": "MLD post (mm)"}
_FIGURE_SECTIONS = [  # (section id, name fragments), first match wins
    ("prepost", ("pre_post", "prepost", "post", "bars", "compare")),
    ("lesions", ("diameter", "profile_d", "lesion")),
    ("pressures", ("pressure",)),
    ("wss", ("wss", "tawss", "osi", "rrt", "ecap", "shear")),
    ("flows", ("stream", "velocity", "flow")),
    ("device", ("device", "stent")),
]


def scrub_identifiers(obj):
    """A copy of a results structure without identifying keys (see module docstring)."""
    if isinstance(obj, dict):
        return {k: scrub_identifiers(v) for k, v in obj.items() if not _IDENTIFYING.match(str(k))}
    if isinstance(obj, (list, tuple)):
        return [scrub_identifiers(v) for v in obj]
    return obj


def _label(key: str) -> str:
    if key in _NAMES:
        return _NAMES[key]
    for suf, unit in _UNITS:
        if key.endswith(suf) and len(key) > len(suf):
            return f"{key[: -len(suf)].replace('_', ' ').capitalize()} ({unit})"
    return key.replace("_", " ").capitalize()


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if len(v) > 8:
            return f"[{len(v)} values]"
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{_label(str(k))}: {_fmt(x)}" for k, x in v.items())
    return html.escape(str(v))


def _cls(v) -> str:
    return "" if isinstance(v, (int, float)) and not isinstance(v, bool) else ' class="t"'


def _kv_table(d: dict, skip=()) -> str:
    rows = [f"<tr><th class=\"t\">{html.escape(_label(str(k)))}</th><td{_cls(v)}>{_fmt(v)}</td></tr>"
            for k, v in d.items() if k not in skip and not str(k).startswith("_")
            and not (isinstance(v, (list, tuple)) and len(v) > 8)]
    return "<table>" + "".join(rows) + "</table>" if rows else ""


def _list_table(rows: list, columns=None) -> str:
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return ""
    if columns is None:
        columns = []
        for r in rows:
            for k, v in r.items():
                if k not in columns and not str(k).startswith("_") and not isinstance(v, (dict, list)):
                    columns.append(k)
    head = "".join(f"<th{_cls('')}>{html.escape(_label(str(c)))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td{_cls(r.get(c))}>{_fmt(r.get(c))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(path: Path, name: str) -> str:
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
            ".gif": "image/gif"}.get(path.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = html.escape(name.replace("_", " "))
    return (f'<figure id="fig-{html.escape(name)}"><img alt="{cap}" src="data:{mime};base64,{data}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _card(k, v, unit=""):
    u = f" {unit}" if unit else ""
    return (f'<div class="card"><div class="v">{_fmt(v)}{u}</div>'
            f'<div class="k">{html.escape(k)}</div></div>')


def _summary(results: dict) -> str:
    cards = []
    les = results.get("lesions") or []
    post = (results.get("post") or {}).get("lesions") or []
    for i, lz in enumerate(les):
        tag = f"Lesion {lz.get('id', i + 1)}"
        if lz.get("percent_diameter_stenosis") is not None:
            cards.append(_card(f"{tag}: diameter stenosis", lz["percent_diameter_stenosis"], "%"))
        if lz.get("gradient_mmhg") is not None:
            pg = post[i].get("gradient_mmhg") if i < len(post) else None
            txt = f"{_fmt(lz['gradient_mmhg'])}" + (f" → {_fmt(pg)}" if pg is not None else "")
            cards.append(f'<div class="card"><div class="v">{txt} mmHg</div><div class="k">{tag}: '
                         "mean translesional gradient"
                         f"{' (pre → post)' if pg is not None else ''}</div></div>")
        if lz.get("pd_pa") is not None:
            pp = post[i].get("pd_pa") if i < len(post) else None
            txt = f"{_fmt(lz['pd_pa'])}" + (f" → {_fmt(pp)}" if pp is not None else "")
            cards.append(f'<div class="card"><div class="v">{txt}</div><div class="k">{tag}: Pd/Pa'
                         f"{' (pre → post)' if pp is not None else ''}</div></div>")
    dev = results.get("device")
    if isinstance(dev, dict) and dev.get("diameter_mm") is not None:
        cards.append(_card("Device (diameter × length)",
                           f"{_fmt(dev['diameter_mm'])} × {_fmt(dev.get('length_mm'))}", "mm"))
    if not cards:
        return ""
    return '<h2 id="summary">Summary</h2><div class="summary">' + "".join(cards) + "</div>"


def render_report(results: dict, figures: dict, *, base_dir=None, title=None) -> str:
    """The report's HTML text (see ``write_report``)."""
    from .. import __version__

    res = scrub_identifiers(dict(results or {}))
    base = Path(base_dir) if base_dir is not None else Path(".")
    figs = {}
    missing = []
    for name, p in (figures or {}).items():
        path = Path(p)
        if not path.is_absolute():
            path = base / path
        if path.exists():
            figs[name] = path
        else:
            missing.append(name)
    placed = {sec: [] for sec, _ in _FIGURE_SECTIONS}
    other = []
    for name in figs:
        low = name.lower()
        sec = next((s for s, frags in _FIGURE_SECTIONS if any(f in low for f in frags)), None)
        (placed[sec] if sec else other).append(name)

    def figs_of(sec):
        return "".join(_img(figs[n], n) for n in placed.get(sec, []))

    parts = []
    status = res.get("status")
    if status and status != "ok":
        parts.append(f'<p class="warn">Run status: <b>{_fmt(status)}</b>. Interpret with care.</p>')
    for w in res.get("warnings") or []:
        parts.append(f'<p class="warn">{html.escape(str(w))}</p>')
    parts.append(_summary(res))
    # ports, flows and pressures
    ports = res.get("ports") or []
    cons = res.get("conservation") or {}
    parts.append('<h2 id="ports">Ports, flows and pressures</h2>')
    if ports:
        parts.append(_list_table(ports))
        parts.append('<p class="note">Flows in mL/s, positive in the port\'s role direction (into the '
                     "model at the inlet, out of it at outlets); pressures in mmHg.</p>")
    else:
        parts.append("<p>No port data.</p>")
    if cons:
        parts.append(_kv_table(cons))
    parts.append(figs_of("flows"))
    parts.append(figs_of("pressures"))
    # lesions
    parts.append('<h2 id="lesions">Lesions</h2>')
    les = res.get("lesions") or []
    if les:
        cols = [c for c in ("id", "path_port", "ostial", "position_mm", "mld_mm", "rvd_mm",
                            "proximal_reference_mm", "distal_reference_mm", "percent_diameter_stenosis", "length_mm",
                            "gradient_mmhg", "gradient_peak_to_peak_mmhg", "pd_pa")
                if any(c in lz for lz in les)]
        parts.append(_list_table(les, cols))
        parts.append('<p class="note">QCA definitions: %DS = (1 − MLD/RVD)·100; the RVD is '
                     "interpolated between the proximal and distal reference segments at the MLD "
                     "unless stated. Gradient: cross-sectional mean pressure proximal minus distal "
                     "of the lesion. Pd/Pa ≤ 0.80 is the FFR ischemia cut-off at maximal hyperemia; "
                     "a ratio computed at other flows is only FFR-like.</p>")
    else:
        parts.append("<p>No lesion above the detection threshold.</p>")
    parts.append(figs_of("lesions"))
    # device
    parts.append('<h2 id="device">Device recommendation</h2>')
    dev = res.get("device")
    if isinstance(dev, dict) and dev:
        parts.append(_kv_table(dev, skip=("rule", "rule_status", "warnings")))
        if dev.get("rule"):
            parts.append(f"<p><b>Rule.</b> {html.escape(str(dev['rule']))}</p>")
        if dev.get("rule_status"):
            cls = "warn" if "UNVERIFIED" in str(dev["rule_status"]) else "note"
            parts.append(f'<p class="{cls}"><b>Evidence status.</b> '
                         f'{html.escape(str(dev["rule_status"]))}</p>')
        for w in dev.get("warnings") or []:
            parts.append(f'<p class="warn">{html.escape(str(w))}</p>')
        parts.append('<p class="note">The catalog shipped with hemotwin is generic, not any '
                     "manufacturer's size chart.</p>")
    else:
        parts.append("<p>No device was sized or deployed.</p>")
    parts.append(figs_of("device"))
    # pre/post
    post = res.get("post")
    parts.append('<h2 id="prepost">Pre/post comparison (virtual treatment)</h2>')
    if isinstance(post, dict) and post:
        rows = []
        for i, lz in enumerate(les):
            pl = (post.get("lesions") or [])
            q = pl[i] if i < len(pl) else {}
            rows.append({"id": lz.get("id", i + 1),
                         "gradient_pre_mmhg": lz.get("gradient_mmhg"),
                         "gradient_post_mmhg": q.get("gradient_mmhg"),
                         "pd_pa_pre": lz.get("pd_pa"), "pd_pa_post": q.get("pd_pa"),
                         "mld_pre_mm": lz.get("mld_mm"), "mld_post_mm": q.get("mld_mm")})
        if rows:
            parts.append(_list_table(rows))
        if post.get("ports"):
            parts.append("<p>Ports after treatment:</p>" + _list_table(post["ports"]))
    else:
        parts.append("<p>No post-treatment simulation.</p>")
    parts.append(figs_of("prepost"))
    # WSS
    parts.append('<h2 id="wss">Wall shear stress</h2>')
    wss = res.get("wss")
    if isinstance(wss, dict) and wss:
        post_wss = (post or {}).get("wss") if isinstance(post, dict) else None
        if isinstance(post_wss, dict) and post_wss:
            keys = [k for k in wss if not isinstance(wss[k], (dict, list))]
            parts.append(_list_table([{"statistic": _label(k), "pre": wss.get(k), "post": post_wss.get(k)}
                                      for k in keys], ["statistic", "pre", "post"]))
        else:
            parts.append(_kv_table(wss))
        parts.append('<p class="note">Area-weighted over the wall; 1 Pa = 10 dyn/cm². Low-WSS '
                     "threshold 0.4 Pa (Malek 1999). TAWSS and OSI follow their standard "
                     "definitions; the RRT formula 1/((1 − 2·OSI)·TAWSS) is UNVERIFIED in the "
                     "project's reference notes.</p>")
    else:
        parts.append("<p>No WSS statistics.</p>")
    parts.append(figs_of("wss"))
    if other:
        parts.append('<h2 id="figures">Other figures</h2>' + "".join(_img(figs[n], n) for n in other))
    if missing:
        parts.append(f'<p class="warn">Figures not found: {html.escape(", ".join(missing))}</p>')
    # provenance
    prov = res.get("provenance") or {}
    run = res.get("run") or {}
    parts.append('<h2 id="provenance">Provenance summary</h2>')
    summary = {k: v for k, v in {"case": res.get("case"), "schema_version": res.get("schema_version"),
                                 "status": status, "run_time_s": res.get("run_time_s")}.items()
               if v is not None}
    parts.append(_kv_table(summary))
    if isinstance(run, dict) and run:
        parts.append("<p>Flow run:</p>" + _kv_table(run))
    if isinstance(prov, dict) and prov:
        parts.append("<p>Provenance:</p>" + _kv_table(prov))
    parts.append('<p class="note">Full provenance (input hashes, software versions, every '
                 "parameter, lattice spacing, time step, τ, cell counts): <code>provenance.json</code>"
                 " next to this report.</p>")
    case = res.get("case")
    title = title or (f"hemotwin report: {case}" if isinstance(case, str) and case else "hemotwin report")
    created = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    sub = "Patient-specific hemodynamics · lesion sizing · virtual treatment"
    return Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        title=html.escape(title), subtitle=sub, body="\n".join(p for p in parts if p),
        version=__version__, created=created)


def write_report(out_dir, results: dict, figures: dict, *, filename: str = "report.html",
                 title: str | None = None, figures_base=None, claim=None) -> Path:
    """Write a self-contained ``report.html`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created).
    results : dict
        The results structure (results.json): ``ports``, ``lesions``, ``device``, ``post``,
        ``wss``, ``conservation``, ``run``, ``case``, ``status``, optionally ``provenance``;
        missing sections are reported as absent. Identifying keys are dropped.
    figures : dict name -> path
        Images to embed (PNG/JPEG/SVG); placed in the section their name suggests (``post`` ->
        pre/post, ``diameter`` -> lesions, ``pressure`` -> pressures, ``wss``/``osi`` -> WSS,
        ``stream`` -> flows), others at the end.
    filename : str
    title : str, optional
    figures_base : str or Path, optional
        Folder relative figure paths are resolved against (default ``out_dir``), e.g. the run's
        output folder when the report goes into a ``report/`` subfolder.
    claim : callable, optional
        ``claim(filename) -> Path``: where to write; it may refuse (raise) to protect a file that is
        not hemotwin's. Default: ``out_dir / filename``.

    Returns
    -------
    Path of the written report.

    Examples
    --------
    >>> import tempfile
    >>> p = write_report(tempfile.mkdtemp(), {"case": "demo", "ports": []}, {})
    >>> "not a medical device" in p.read_text(encoding="utf-8")
    True
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = render_report(results, figures, base_dir=out if figures_base is None else figures_base,
                         title=title)
    path = Path(claim(filename)) if claim else out / filename
    path.write_text(text, encoding="utf-8")
    return path
