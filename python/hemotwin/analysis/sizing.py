# SPDX-License-Identifier: Apache-2.0
"""Device sizing: a documented rule per indication turns a lesion into a device from a catalog
(nominal diameter, length, position along the centerline); or the user pins a device.

All lengths in mm. Rules and their evidence status: docs/metrics.md ("Device sizing"). Research
software, not a medical device: these rules are not clinical guidance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Device", "SizingRule", "RULES", "NOT_ABOVE_TOLERANCE", "recommend_device", "pin_device"]

# "not above the target" allows this fraction above it: a reference diameter is measured to
# about a tenth of a voxel, so on a 20 mm aorta 19.99 and 20.03 mm are the same measurement and
# must not pick devices 2 mm apart (the demo's truth is exactly 20 mm)
NOT_ABOVE_TOLERANCE = 0.01


@dataclass(frozen=True)
class SizingRule:
    """How a device is chosen for one indication.

    Attributes
    ----------
    indication : str
    diameter_from : {"distal", "proximal", "min_adjacent", "rvd"}
        Which reference diameter of the lesion sets the target: the distal reference, the
        proximal one, the smaller of the two adjacent references, or the lesion's RVD.
    diameter_ratio : float
        Target diameter = ratio x reference.
    diameter_choice : {"nearest", "not_above"}
        Nearest catalog diameter to the target (ties: the smaller), or the largest one not above
        the target by more than ``NOT_ABOVE_TOLERANCE`` (the smallest in the family if none is).
    landing_margin_mm : float
        Added to each end of the lesion; the device is the shortest catalog length covering
        lesion length + 2 margins, centred on the lesion.
    text : str
        The rule in words, for the report.
    status : str
        Evidence status, as in REFERENCE.md sec. 4.
    """

    indication: str
    diameter_from: str
    diameter_ratio: float
    diameter_choice: str
    landing_margin_mm: float
    text: str
    status: str


RULES = {
    "coronary": SizingRule(
        "coronary", "distal", 1.0, "nearest", 2.5,
        "Diameter: the catalog diameter nearest to the distal reference lumen diameter (1:1). "
        "Length: the shortest catalog length covering the lesion plus a 2.5 mm landing margin at "
        "each end, centred on the lesion.",
        "UNVERIFIED: a 1:1-1.1:1 stent:distal-reference rule and the margin were not found in a "
        "source read (REFERENCE.md sec. 4); OCT/IVUS practice sizes to the EEL or lumen instead."),
    "coarctation": SizingRule(
        "coarctation", "min_adjacent", 1.0, "not_above", 5.0,
        "Diameter: the largest catalog diameter not above the smaller of the adjacent reference "
        "aortic diameters (proximal: isthmus/transverse arch side; distal: descending aorta), "
        f"within a {100 * NOT_ABOVE_TOLERANCE:g} % measurement tolerance. "
        "Length: the shortest catalog length covering the lesion plus a 5 mm landing margin at "
        "each end, centred on the lesion.",
        "UNVERIFIED: sizing to the adjacent reference aorta was not found as a quoted rule "
        "(REFERENCE.md sec. 4, only a related series, Cathet Cardiovasc Diagn 1996;39:36)."),
}


@dataclass
class Device:
    """A device placed on a centerline (recommended or pinned).

    Attributes
    ----------
    family : str
    diameter_mm, length_mm : float
        Nominal diameter and length (mm).
    start_mm, end_mm : float
        Arclength of its proximal and distal ends along the centerline (mm).
    indication : str or None
    pinned : bool
        True when the user fixed it.
    rule : str
        The rule applied, in words.
    rule_status : str
        Evidence status of that rule.
    reference_diameter_mm, target_diameter_mm, required_length_mm : float or None
    branch_id : int or None
    warnings : list of str
    """

    family: str
    diameter_mm: float
    length_mm: float
    start_mm: float
    end_mm: float
    indication: str | None = None
    pinned: bool = False
    rule: str = ""
    rule_status: str = ""
    reference_diameter_mm: float | None = None
    target_diameter_mm: float | None = None
    required_length_mm: float | None = None
    branch_id: int | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _get(obj, key):
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


def _place(centre_mm, length_mm, centerline_length_mm, warnings):
    start = centre_mm - 0.5 * length_mm
    if centerline_length_mm is not None:
        if length_mm > centerline_length_mm:
            warnings.append(f"device length {length_mm:g} mm exceeds the centerline length "
                            f"{centerline_length_mm:.1f} mm")
            return 0.0
        if start < 0:
            warnings.append("device shifted distally to stay on the centerline")
            start = 0.0
        if start + length_mm > centerline_length_mm:
            warnings.append("device shifted proximally to stay on the centerline")
            start = centerline_length_mm - length_mm
    return start


def recommend_device(lesion, catalog, indication: str, *, family: str | None = None,
                     landing_margin_mm: float | None = None, diameter_ratio: float | None = None,
                     centerline_length_mm: float | None = None) -> Device:
    """Recommend a device for a lesion by the rule of its indication (``RULES``).

    Parameters
    ----------
    lesion : Lesion or dict
        Needs ``proximal_reference_mm``, ``distal_reference_mm``, ``rvd_mm``, ``start_mm``,
        ``end_mm`` (mm).
    catalog : Catalog
        From ``catalog.load_catalog``.
    indication : {"coronary", "coarctation"}
    family : str, optional
        Family name; default the first family of the catalog listing the indication.
    landing_margin_mm, diameter_ratio : float, optional
        Override the rule's values.
    centerline_length_mm : float, optional
        Keep the device on a centerline of this length (shift it, with a warning).

    Returns
    -------
    Device

    Examples
    --------
    >>> from hemotwin.analysis.catalog import load_catalog
    >>> les = dict(proximal_reference_mm=3.2, distal_reference_mm=2.9, rvd_mm=3.0,
    ...            start_mm=20.0, end_mm=28.0)
    >>> d = recommend_device(les, load_catalog(), "coronary")
    >>> d.diameter_mm, d.length_mm, d.start_mm
    (3.0, 15.0, 16.5)
    """
    if indication not in RULES:
        raise ValueError(f"no sizing rule for indication {indication!r}; known: {sorted(RULES)}")
    rule = RULES[indication]
    if family is not None:
        fam = catalog.family(family)
    else:
        fams = catalog.for_indication(indication)
        if not fams:
            raise ValueError(f"catalog {catalog.source or ''} has no family for indication "
                             f"{indication!r}; families: {[f.name for f in catalog.families]}")
        fam = fams[0]
    prox, dist = float(_get(lesion, "proximal_reference_mm")), float(_get(lesion, "distal_reference_mm"))
    ref = {"distal": dist, "proximal": prox, "min_adjacent": min(prox, dist),
           "rvd": float(_get(lesion, "rvd_mm"))}[rule.diameter_from]
    ratio = rule.diameter_ratio if diameter_ratio is None else float(diameter_ratio)
    target = ratio * ref
    warnings = []
    if rule.diameter_choice == "nearest":
        diameter = min(fam.diameters_mm, key=lambda x: (abs(x - target), x))
    else:
        below = [x for x in fam.diameters_mm if x <= target * (1.0 + NOT_ABOVE_TOLERANCE) + 1e-9]
        diameter = max(below) if below else min(fam.diameters_mm)
        if not below:
            warnings.append(f"every {fam.name} diameter exceeds the target {target:.2f} mm")
        elif diameter > target + 1e-9:
            warnings.append(f"the {diameter:g} mm device is {100 * (diameter / target - 1):.2f} % "
                            f"above the {target:.2f} mm target, within the rule's "
                            f"{100 * NOT_ABOVE_TOLERANCE:g} % measurement tolerance")
    if abs(diameter - target) > 0.25 * target:
        warnings.append(f"nearest catalog diameter {diameter:g} mm is more than 25 % from the "
                        f"target {target:.2f} mm")
    margin = rule.landing_margin_mm if landing_margin_mm is None else float(landing_margin_mm)
    a, b = float(_get(lesion, "start_mm")), float(_get(lesion, "end_mm"))
    required = (b - a) + 2.0 * margin
    longer = [x for x in fam.lengths_mm if x >= required - 1e-9]
    length = min(longer) if longer else max(fam.lengths_mm)
    if not longer:
        warnings.append(f"no {fam.name} length covers the required {required:.1f} mm; the "
                        f"longest ({length:g} mm) leaves part of the lesion or margins uncovered")
    start = _place(0.5 * (a + b), length, centerline_length_mm, warnings)
    branch = lesion.get("branch_id") if isinstance(lesion, dict) else getattr(lesion, "branch_id", None)
    return Device(fam.name, float(diameter), float(length), float(start), float(start + length),
                  indication, False, rule.text, rule.status, ref, target, required, branch, warnings)


def pin_device(diameter_mm: float, length_mm: float, start_mm: float, *, catalog=None,
               family: str | None = None, indication: str | None = None,
               centerline_length_mm: float | None = None, branch_id: int | None = None) -> Device:
    """A user-fixed device: diameter, length and proximal-end position along the centerline (mm).

    With a ``catalog`` (and ``family``), sizes that are not nominal in that family are kept but
    flagged in ``warnings``.

    Examples
    --------
    >>> pin_device(14.0, 28.0, 40.0).end_mm
    68.0
    """
    diameter_mm, length_mm, start_mm = float(diameter_mm), float(length_mm), float(start_mm)
    if not (diameter_mm > 0 and length_mm > 0):
        raise ValueError(f"pinned device needs diameter and length > 0 mm, got {diameter_mm}, {length_mm}")
    if start_mm < 0:
        raise ValueError(f"pinned device start {start_mm} mm is before the centerline start (0 mm)")
    if centerline_length_mm is not None and start_mm + length_mm > centerline_length_mm + 1e-9:
        raise ValueError(f"pinned device from {start_mm:g} to {start_mm + length_mm:g} mm runs past "
                         f"the centerline end ({centerline_length_mm:.1f} mm)")
    warnings = []
    name = family or "pinned"
    if catalog is not None:
        fam = catalog.family(family) if family else (
            (catalog.for_indication(indication) or catalog.families)[0])
        name = fam.name
        if not any(abs(diameter_mm - x) < 1e-6 for x in fam.diameters_mm):
            warnings.append(f"{diameter_mm:g} mm is not a nominal diameter of {fam.name} {fam.diameters_mm}")
        if not any(abs(length_mm - x) < 1e-6 for x in fam.lengths_mm):
            warnings.append(f"{length_mm:g} mm is not a nominal length of {fam.name} {fam.lengths_mm}")
    return Device(name, diameter_mm, length_mm, start_mm, start_mm + length_mm, indication, True,
                  "pinned by the user", "user choice", None, diameter_mm, None, branch_id, warnings)
