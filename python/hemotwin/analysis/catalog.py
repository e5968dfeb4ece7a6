# SPDX-License-Identifier: Apache-2.0
"""Device catalogs: families of stents with their nominal diameters and lengths (mm), read from
TOML (``[[family]]`` tables) or CSV (one row per diameter/length pair)."""
from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DeviceFamily", "Catalog", "load_catalog", "default_catalog_path"]


@dataclass
class DeviceFamily:
    """One device family.

    Attributes
    ----------
    name : str
    indications : list of str
        Indications the family is meant for (``"coronary"``, ``"coarctation"``, ...).
    diameters_mm, lengths_mm : list of float
        Nominal (labelled) expanded diameters and lengths, ascending (mm).
    kind : str
        E.g. ``"balloon-expandable"``.
    description : str
    """

    name: str
    indications: list
    diameters_mm: list
    lengths_mm: list
    kind: str = "balloon-expandable"
    description: str = ""

    def __post_init__(self):
        self.diameters_mm = sorted(float(x) for x in self.diameters_mm)
        self.lengths_mm = sorted(float(x) for x in self.lengths_mm)
        self.indications = [str(x) for x in self.indications]
        if not self.diameters_mm or not self.lengths_mm:
            raise ValueError(f"device family {self.name!r} needs at least one diameter and one length")
        if min(self.diameters_mm) <= 0 or min(self.lengths_mm) <= 0:
            raise ValueError(f"device family {self.name!r}: diameters and lengths must be > 0 mm")


@dataclass
class Catalog:
    families: list
    source: str = ""
    meta: dict = field(default_factory=dict)

    def for_indication(self, indication: str) -> list:
        """Families that list ``indication``."""
        return [f for f in self.families if indication in f.indications]

    def family(self, name: str) -> DeviceFamily:
        for f in self.families:
            if f.name == name:
                return f
        raise KeyError(f"no device family {name!r} in {self.source or 'the catalog'}; it has "
                       f"{[f.name for f in self.families]}")


# The shipped generic catalog, kept here too so a non-editable install (no cases/ folder) can size
# devices; tests check it parses to the same families as cases/devices/generic_balloon_expandable.toml.
BUILTIN_CATALOG_TOML = """schema_version = 1

[[family]]
name = "generic-be-large-vessel"
description = "Generic balloon-expandable large-vessel stent (aortic coarctation)"
kind = "balloon-expandable"
indications = ["coarctation"]
diameters_mm = [8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0]
lengths_mm = [16.0, 22.0, 28.0, 34.0, 39.0, 45.0]

[[family]]
name = "generic-be-coronary"
description = "Generic balloon-expandable coronary stent"
kind = "balloon-expandable"
indications = ["coronary"]
diameters_mm = [2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 4.5, 5.0]
lengths_mm = [8.0, 12.0, 15.0, 18.0, 23.0, 28.0, 33.0, 38.0]
"""


def default_catalog_path() -> Path:
    """The shipped generic catalog (``cases/devices/generic_balloon_expandable.toml``), if found."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        p = parent / "cases" / "devices" / "generic_balloon_expandable.toml"
        if p.exists():
            return p
    raise FileNotFoundError("cases/devices/generic_balloon_expandable.toml not found above "
                            f"{here.parent}; give the catalog path explicitly")


def _from_toml_dict(data: dict, source: str) -> Catalog:
    fams = data.get("family")
    if not fams:
        raise ValueError(f"{source}: no [[family]] tables")
    families = []
    for i, f in enumerate(fams):
        missing = [k for k in ("name", "indications", "diameters_mm", "lengths_mm") if k not in f]
        if missing:
            raise ValueError(f"{source}: family {i} ({f.get('name', '?')}) lacks {missing}")
        families.append(DeviceFamily(f["name"], list(f["indications"]), list(f["diameters_mm"]),
                                     list(f["lengths_mm"]), f.get("kind", "balloon-expandable"),
                                     f.get("description", "")))
    return Catalog(families, source, {k: v for k, v in data.items() if k != "family"})


def load_catalog(path=None) -> Catalog:
    """Read a device catalog.

    Parameters
    ----------
    path : str or Path, optional
        A ``.toml`` file with ``[[family]]`` tables (``name``, ``indications``, ``diameters_mm``,
        ``lengths_mm``, optional ``kind``, ``description``) or a ``.csv`` file with columns
        ``family, indications, diameter_mm, length_mm`` (indications separated by ``;``; every
        row adds its diameter and length to its family). Default: the shipped generic catalog.

    Returns
    -------
    Catalog

    Examples
    --------
    >>> cat = load_catalog()
    >>> [f.name for f in cat.for_indication("coronary")]
    ['generic-be-coronary']
    """
    if path is None:
        try:
            path = default_catalog_path()
        except FileNotFoundError:
            return _from_toml_dict(tomllib.loads(BUILTIN_CATALOG_TOML), "builtin generic catalog")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"device catalog {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".toml":
        with open(p, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"device catalog {p}: invalid TOML: {e}") from None
        return _from_toml_dict(data, str(p))
    if suffix == ".csv":
        rows = {}
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"family", "indications", "diameter_mm", "length_mm"}
            if not need <= set(reader.fieldnames or []):
                raise ValueError(f"{p}: CSV needs columns {sorted(need)}, has {reader.fieldnames}")
            for n, r in enumerate(reader, start=2):
                try:
                    d, ln = float(r["diameter_mm"]), float(r["length_mm"])
                except ValueError:
                    raise ValueError(f"{p}:{n}: diameter_mm/length_mm must be numbers (mm), got "
                                     f"{r['diameter_mm']!r}, {r['length_mm']!r}") from None
                e = rows.setdefault(r["family"], {"ind": set(), "d": set(), "l": set()})
                e["ind"].update(x.strip() for x in r["indications"].split(";") if x.strip())
                e["d"].add(d)
                e["l"].add(ln)
        return Catalog([DeviceFamily(k, sorted(v["ind"]), sorted(v["d"]), sorted(v["l"]))
                        for k, v in rows.items()], str(p))
    raise ValueError(f"device catalog {p}: unknown format {suffix!r}; use .toml or .csv")
