# SPDX-License-Identifier: Apache-2.0
"""The case-file reference (docs/case_file.md), generated from the schema so it cannot drift.

Every key of every section with what it accepts (units, allowed values, bounds), its default in
a clinical unit, and the note the schema's source gives it (the comment on or just above the
field). Regenerate with ``python -m hemotwin.config.reference > docs/case_file.md``;
tests/unit/test_case_reference.py fails when the committed file is stale.
"""
from __future__ import annotations

import inspect
import re
import typing

from pydantic import BaseModel

from . import schema
from .units_parse import KINDS

__all__ = ["case_reference_markdown"]

# the unit a default is shown in, per quantity kind (the units users type most)
DISPLAY_UNIT = {kind: (unit, KINDS[kind][unit.lower()]) for kind, unit in (
    ("length", "mm"), ("time", "s"), ("frequency", "bpm"), ("pressure", "mmHg"),
    ("flow", "mL/s"), ("velocity", "m/s"), ("density", "kg/m3"), ("viscosity", "mPa*s"),
    ("resistance", "mmHg*s/mL"), ("compliance", "mL/mmHg"))}
# sections whose keys are user-chosen names (ports.names.NAME, physiology.outlets.ports.NAME)
MAPS = {("ports", "names"): "NAME = [x, y, z] (mm): rename the port nearest the point",
        ("physiology", "outlets", "ports"): None}


def _source_notes(cls) -> dict:
    """Field name -> comment on its line, or the comment lines right above it."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    notes, above = {}, []
    for ln in lines[1:]:
        st = ln.strip()
        if st.startswith("#"):
            above.append(st.lstrip("# ").strip())
            continue
        m = re.match(r"\s+(\w+)\s*:\s*[^=]+(=.*)?$", ln)
        if m and not st.startswith(("def ", "@", "return", "raise")):
            trail = re.search(r"\s#\s*(.*)$", ln)
            text = " ".join(above + ([trail.group(1)] if trail else []))
            if text:
                notes[m.group(1)] = text
        above = []
    return notes


def _kind_of_metadata(metadata):
    for meta in metadata:
        func = getattr(meta, "func", None)
        if func is not None:
            kind = inspect.getclosurevars(func).nonlocals.get("kind")
            if kind:
                return kind
    return None


def _kind(annotation, field_metadata=()):
    """The quantity kind of a unit-carrying field (None for plain fields).

    Pydantic moves a bare ``Annotated`` field's validators into ``field.metadata``; inside an
    ``X | None`` they stay on the annotation.
    """
    k = _kind_of_metadata(field_metadata) or _kind_of_metadata(getattr(annotation, "__metadata__", ()))
    if k:
        return k
    for arg in typing.get_args(annotation) or ():
        k = _kind(arg)
        if k:
            return k
    return None


def _type_name(a) -> str:
    origin = typing.get_origin(a)
    if origin is list:
        inner = typing.get_args(a)
        return f"list of {_type_name(inner[0])}" if inner else "list"
    if origin is dict:
        return "table"
    if isinstance(a, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
            a.__name__, a.__name__)
    return str(a)


def _accepts(field) -> str:
    ann = field.annotation
    kind = _kind(ann, field.metadata)
    parts = []
    if kind:
        units = [u for u in KINDS[kind] if u != "µm"]  # dict order: stable across runs
        parts.append(f"{kind} with a unit ({', '.join(units[:6])}{', ...' if len(units) > 6 else ''})")
    else:
        lits = [a for a in _flatten(ann) if typing.get_origin(a) is typing.Literal]
        if lits:
            parts.append(" \\| ".join(f'"{v}"' if isinstance(v, str) else str(v).lower()
                                      for lit in lits for v in typing.get_args(lit)))
        others = [_type_name(a) for a in _flatten(ann)
                  if a is not type(None) and typing.get_origin(a) is not typing.Literal
                  and not (isinstance(a, type) and issubclass(a, BaseModel))]
        if others:
            parts.append(" or ".join(dict.fromkeys(others)))
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                parts.append(f"{sym} {getattr(m, attr)}")
    if type(None) in _flatten(ann):
        parts.append("optional")
    return ", ".join(parts) or "-"


def _flatten(ann):
    args = typing.get_args(ann)
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [x for a in args for x in _flatten(a)]
    if typing.get_origin(ann) is typing.Annotated:
        return _flatten(args[0])
    return [ann]


def _default(field) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        v = field.default_factory()
        if isinstance(v, BaseModel):
            return "-"
        return "empty" if not v else repr(v)
    v = field.default
    if v is None:
        return "none"
    kind = _kind(field.annotation, field.metadata)
    if kind and isinstance(v, (int, float)) and not isinstance(v, bool):
        unit, f = DISPLAY_UNIT.get(kind, ("SI", 1.0))
        return f'"{v / f:.4g} {unit}"'
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return f'"{v}"'
    return f"{v:g}" if isinstance(v, float) else str(v)


def _model_of(ann):
    for a in _flatten(ann):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _section(cls, path, out):
    notes = _source_notes(cls)
    rows, subs = [], []
    for name, field in cls.model_fields.items():
        key = field.alias or name
        sub = _model_of(field.annotation)
        if sub is not None:
            subs.append((sub, path + (key,)))
            continue
        if typing.get_origin(field.annotation) is dict and path + (key,) in MAPS:
            val = typing.get_args(field.annotation)[1]
            if isinstance(val, type) and issubclass(val, BaseModel):
                subs.append((val, path + (key, "NAME")))
                continue
            rows.append((key, MAPS[path + (key,)], "empty", notes.get(name, "")))
            continue
        rows.append((key, _accepts(field), _default(field), notes.get(name, "")))
    if rows:
        own = cls.__dict__.get("__doc__") or ""  # not BaseModel's inherited docstring
        doc = inspect.cleandoc(own).split("\n\n")[0].replace("\n", " ")
        out.append(f"## [{'.'.join(path)}]\n")
        if doc and not doc.startswith("A validated case"):
            out.append(doc + "\n")
        out.append("| key | accepts | default | note |\n|---|---|---|---|")
        for key, acc, dflt, note in rows:
            note = note.replace("|", "\\|")
            out.append(f"| `{key}` | {acc} | {dflt} | {note} |")
        out.append("")
    for sub, p in subs:
        _section(sub, p, out)


def case_reference_markdown() -> str:
    """The whole reference as Markdown."""
    out = ["# Case file reference", "",
           "<!-- generated by `python -m hemotwin.config.reference > docs/case_file.md`; "
           "do not edit -->", "",
           "A case is a TOML file of the sections below (all optional except where a key says "
           "required; `[physiology]` needs `inflow.mean` or `cardiac_output`). Every dimensional "
           "value is a string with its unit, e.g. `\"93 mmHg\"`, `\"5 L/min\"`, `\"1.5 mm\"`; "
           "defaults are shown in a common unit. `shared:SUB/PATH` file paths resolve in "
           f"`${schema.SHARED_DATA_ENV}` or `../shared/data` beside the repository; other relative "
           "paths resolve from the case file's folder. Examples: `cases/*/case.toml`.", ""]
    for name, field in schema.Case.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None:
            _section(sub, (field.alias or name,), out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(case_reference_markdown(), end="")
