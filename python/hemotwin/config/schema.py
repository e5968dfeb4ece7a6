# SPDX-License-Identifier: Apache-2.0
"""The case file (TOML) schema, validated with pydantic v2; every error is one line naming the
field, the value and what is allowed. Dimensional values are strings with units, stored in SI.

Sections: [case] [image] [segmentation] [ports] [physiology] (+ .inflow .outlets .blood)
[numerics] [run] [devices] [lesions] [context_of_use] [outputs]. See cases/*/case.toml for examples.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .units_parse import UnitError, parse_quantity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PORT_NAME_RE", "SHARED_DATA_ENV", "Case", "CaseError", "case_from_dict", "load_case"]

SHARED_DATA_ENV = "HEMOTWIN_SHARED_DATA"
PORT_NAME_RE = re.compile(r"^(inlet|outlet_\d+)$")  # names geometry.ports gives automatically


class CaseError(ValueError):
    """An invalid case file; ``str(err)`` is one line naming the field, value and what is allowed."""


def _q(kind, positive=True, nonnegative=False):
    def parse(v):
        try:
            return parse_quantity(v, kind, positive=positive, nonnegative=nonnegative)
        except UnitError as e:
            raise ValueError(str(e)) from None

    return BeforeValidator(parse)


Length = Annotated[float, _q("length")]
Time = Annotated[float, _q("time")]
NonNegativeTime = Annotated[float, _q("time", positive=False, nonnegative=True)]
NonNegativeLength = Annotated[float, _q("length", positive=False, nonnegative=True)]
Frequency = Annotated[float, _q("frequency")]
Pressure = Annotated[float, _q("pressure", positive=False)]
PositivePressure = Annotated[float, _q("pressure")]
Flow = Annotated[float, _q("flow")]
Velocity = Annotated[float, _q("velocity")]
Density = Annotated[float, _q("density")]
Viscosity = Annotated[float, _q("viscosity")]
Resistance = Annotated[float, _q("resistance", positive=False, nonnegative=True)]
Compliance = Annotated[float, _q("compliance")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseInfo(_Section):
    name: str = "case"
    description: str = ""


class ImageSection(_Section):
    """Where the anatomy comes from: an image file, a surface, or a built-in phantom."""

    # image file (NIfTI, MHA/NRRD, legacy VTK image) or a DICOM folder (a series with missing
    # slices is refused)
    path: str | None = None
    # a lumen surface (.vtp/.stl/.ply/.obj, .vtk POLYDATA), open ends or capped
    surface: str | None = None
    # its coordinates' unit (SimVascular: cm); unset: the unit the file states, else mm
    surface_unit: Literal["mm", "cm", "m"] | None = None
    surface_faces: str | None = None  # SimVascular .mdl naming its faces (default: <stem>.mdl)
    # a built-in phantom instead of a file (its truth mask and seeds come with it)
    phantom: Literal["aortic_arch", "coronary_stenosis", "straight_tube", "curved_tube"] | None = None
    # keyword arguments of the phantom function, numbers (e.g. spacing_mm, stenosis_ds; spacing_mm
    # may be [x, y, z]); keys the phantom does not take are refused
    phantom_options: dict[str, Any] = Field(default_factory=dict)
    # DICOM: which series (default the largest)
    series_uid: str | None = None
    label_map: str | list[str] | None = None  # several files: their union
    # crop box corners (x, y, z mm, LPS) before segmenting; an oblique image is resampled onto
    # the box
    crop_lower_mm: list[float] | None = None
    crop_upper_mm: list[float] | None = None
    # resample to isotropic voxels of this size first
    resample: Length | None = None

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("path", "surface", "phantom") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of image.path, image.surface, image.phantom (got "
                             f"{given or 'none'})")
        for k in ("crop_lower_mm", "crop_upper_mm"):
            v = getattr(self, k)
            if v is not None and len(v) != 3:
                raise ValueError(f"image.{k} = {v}: need 3 numbers (x, y, z) in mm")
        if self.phantom:
            _check_phantom_options(self.phantom, self.phantom_options)
        return self


# the keyword arguments of each built-in phantom (hemotwin.geometry.phantoms.PHANTOMS; config sits
# below geometry and may not import it, so they are listed here, and
# tests/unit/test_config_outlets_studies.py checks this table against inspect.signature)
PHANTOM_OPTIONS = {
    "aortic_arch": ("spacing_mm", "noise_hu", "blur_vox", "coarctation", "seed", "subclavian_stenosis",
                    "subclavian_stenosis_offset_mm"),
    "coronary_stenosis": ("spacing_mm", "radius_mm", "stenosis_ds", "stenosis_length_mm", "noise_hu",
                          "blur_vox", "seed"),
    "straight_tube": ("spacing_mm", "radius_mm", "length_mm", "noise_hu", "blur_vox", "seed", "tilt_deg"),
    "curved_tube": ("spacing_mm", "radius_mm", "bend_radius_mm", "noise_hu", "blur_vox", "seed"),
}
# phantom keyword arguments with a range beyond "a finite number"
_PHANTOM_POSITIVE = ("spacing_mm", "radius_mm", "length_mm", "bend_radius_mm", "stenosis_length_mm")
_PHANTOM_FRACTION = ("coarctation", "stenosis_ds", "subclavian_stenosis")  # diameter reductions, [0, 1)
_PHANTOM_NONNEGATIVE = ("noise_hu", "blur_vox", "subclavian_stenosis_offset_mm")


def _is_number(v) -> bool:
    import numbers

    import numpy as np

    # numpy scalars too: a case built in Python may hold them (make_phantom takes them)
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _check_phantom_options(phantom: str, options: dict):
    """``image.phantom_options`` against the phantom's keyword arguments (``PHANTOM_OPTIONS``):
    known keys, finite numbers, spacings and sizes > 0; one line naming the key."""
    import math
    import numbers

    import numpy as np

    allowed = PHANTOM_OPTIONS[phantom]
    for key, v in options.items():
        f = f"image.phantom_options.{key} = {v!r}"
        if key not in allowed:
            raise ValueError(f"image.phantom_options.{key}: not an option of the {phantom} phantom; "
                             f"allowed: {', '.join(allowed)}")
        if key == "spacing_mm" and isinstance(v, (list, tuple, np.ndarray)):
            v = list(np.asarray(v).ravel().tolist()) if isinstance(v, np.ndarray) else list(v)
            if len(v) != 3 or not all(_is_number(x) and math.isfinite(x) and x > 0 for x in v):
                raise ValueError(f"{f}: expected a voxel size in mm > 0, one number or [x, y, z]")
            continue
        if not _is_number(v):
            unit = " in mm (a plain number, no unit)" if key.endswith("_mm") else ""
            raise ValueError(f"{f}: expected a number{unit}")
        if not math.isfinite(v):
            raise ValueError(f"{f}: expected a finite number")
        if key in _PHANTOM_POSITIVE and v <= 0:
            raise ValueError(f"{f}: expected a number > 0 (mm)")
        if key in _PHANTOM_FRACTION and not 0 <= v < 1:
            raise ValueError(f"{f}: expected a fractional diameter reduction, 0 <= value < 1")
        if key in _PHANTOM_NONNEGATIVE and v < 0:
            raise ValueError(f"{f}: expected a number >= 0")
        if key == "seed" and (not isinstance(v, numbers.Integral) or v < 0):
            raise ValueError(f"{f}: expected a whole number >= 0")
        if key == "tilt_deg" and not abs(v) < 90:
            raise ValueError(f"{f}: expected an angle between -90 and 90 degrees")


class SegmentationSection(_Section):
    # seeded region growing + level set; a label map; the phantom truth; or vesselness (no seeds)
    method: Literal["seeded", "label", "truth", "vesselness"] = "seeded"
    # seed points inside the lumen, [[x, y, z], ...] mm (LPS)
    seeds_mm: list[list[float]] = Field(default_factory=list)
    # [[px, py, pz, nx, ny, nz], ...] mm: removes the side the normal points to (images and
    # surfaces: cuts a closed surface's ends); the first is the inlet
    clip_planes: list[list[float]] = Field(default_factory=list)
    # the label value of the lumen in the label map (default: any non-zero)
    label: int | None = None
    # region-growing thresholds (default estimated from the seeds)
    lower_hu: float | None = None
    upper_hu: float | None = None
    # level-set refinement of the mask
    refine: Literal["antialias", "gac", "none"] = "antialias"
    # bounded clip planes: remove only within this distance of each plane's point (a half-ball),
    # so a plane at the aortic valve does not also cut the descending aorta behind it
    clip_radius: Length | None = None

    @model_validator(mode="after")
    def _shapes(self):
        for i, s in enumerate(self.seeds_mm):
            if len(s) != 3:
                raise ValueError(f"segmentation.seeds_mm[{i}] = {s}: need 3 numbers (x, y, z) in mm")
        for i, p in enumerate(self.clip_planes):
            if len(p) != 6:
                raise ValueError(f"segmentation.clip_planes[{i}] = {p}: need 6 numbers "
                                 "PX,PY,PZ (mm), NX,NY,NZ (normal towards the removed side)")
            if all(abs(v) < 1e-12 for v in p[3:]):
                raise ValueError(f"segmentation.clip_planes[{i}] = {p}: the normal is zero")
        return self


class PortsSection(_Section):
    """Port names: automatic unless renamed here. The inlet is the port on the first clip plane,
    else the one with the largest cut area; ``outlet_1`` ... follow by decreasing cut area.

    ``names = {desc_aorta = [0, 25, 0]}`` renames the port whose centre lies within two port radii
    (at least 2 mm) of each point (mm); a renamed inlet stays the inlet, and a name starting with
    ``inlet`` makes that port the inlet.
    """

    names: dict[str, list[float]] = Field(default_factory=dict)
    # straight outlet extensions of this many port diameters (lattice only)
    flow_extension_diameters: float = Field(0.0, ge=0.0, le=20.0)

    @model_validator(mode="after")
    def _points(self):
        for k, v in self.names.items():
            if len(v) != 3:
                raise ValueError(f"ports.names.{k} = {v}: need a point of 3 numbers (mm)")
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", k):
                raise ValueError(f"ports.names: {k!r} is not a valid port name (letters, digits, _)")
        return self


class InflowSection(_Section):
    """Inlet flow: a constant mean, or a waveform scaled to that mean."""

    # mean inlet flow (the waveform is scaled to it)
    mean: Flow | None = None
    # "constant", "builtin:aortic", "builtin:coronary", or a CSV path (columns t, q; a header naming
    # the time unit: t_s, t_ms or t_fraction; q gives the shape only, scaled to the mean)
    waveform: str = "constant"
    # inlet velocity profile
    profile: Literal["plug", "parabolic", "womersley"] = "parabolic"
    ramp: NonNegativeTime = 0.05  # steady runs: time to ramp the inflow from 0 (s)

    @model_validator(mode="after")
    def _wave(self):
        w = self.waveform
        if not (w == "constant" or w.startswith("builtin:") or w.lower().endswith(".csv")):
            raise ValueError(f"physiology.inflow.waveform = {w!r}: allowed 'constant', "
                             "'builtin:aortic', 'builtin:coronary' or a two-column .csv file")
        if w.startswith("builtin:") and w.split(":", 1)[1] not in ("aortic", "coronary"):
            raise ValueError(f"physiology.inflow.waveform = {w!r}: built-in waveforms are "
                             "'builtin:aortic' and 'builtin:coronary'")
        return self


class OutletOverride(_Section):
    # this port's model (default: physiology.outlets.model); a value the model does not use is refused
    model: Literal["zero_pressure", "pressure", "resistance", "rcr"] | None = None
    # model "pressure" (required there): the fixed pressure of the port
    pressure: Pressure | None = None
    # models "resistance" and "rcr" (rcr: Rp + Rd, split by proximal_fraction); default sized
    # from target_mean_pressure and the port's share of the flow
    resistance: Resistance | None = None
    # model "rcr": proximal resistance (default proximal_fraction * resistance)
    rp: Resistance | None = None
    # model "rcr": distal resistance (default resistance - rp)
    rd: Resistance | None = None
    # model "rcr": compliance (default the port's flow share of total_compliance)
    c: Compliance | None = None
    # this port's share of the inflow, replacing its Murray share (the other outlets share the rest)
    flow_fraction: float | None = Field(None, gt=0.0, le=1.0)


# the per-port values each outlet model uses (flow_fraction: every model, it sets the target split)
# zero_pressure takes a pressure too: default_outlets treats it as "pressure" (0 Pa unless given)
OUTLET_MODEL_VALUES = {"zero_pressure": ("pressure",), "pressure": ("pressure",), "resistance": ("resistance",),
                       "rcr": ("resistance", "rp", "rd", "c")}


class OutletsSection(_Section):
    """Outlet 0D models; defaults from a target mean pressure and cardiac output (REFERENCE sec. 5).

    R_total = P_mean / Q_in; outlet i gets Q_i = Q_in r_i^k / sum r^k (Murray-type exponent k on
    the port radius) and R_i = P_mean / Q_i; RCR splits R_i into Rp = proximal_fraction R_i and
    Rd, and C_i = total_compliance Q_i / Q_in.
    """

    # default outlet model for every port
    model: Literal["zero_pressure", "resistance", "rcr"] = "rcr"
    # flow split by port radius^k
    murray_exponent: float = Field(3.0, gt=0.0, le=6.0)
    # RCR: Rp / (Rp + Rd) [UNVERIFIED default, REFERENCE.md sec. 5]
    proximal_fraction: float = Field(0.09, ge=0.0, lt=1.0)
    # RCR: shared among the outlets by flow
    total_compliance: Compliance = parse_quantity("1.5 mL/mmHg", "compliance")
    # venous/distal pressure behind the outlets
    distal_pressure: Pressure = 0.0
    # steps between 0D outlet updates
    coupling_interval: int = Field(1, ge=1, le=1000)
    # per-port overrides, [physiology.outlets.ports.NAME]
    ports: dict[str, OutletOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _port_values(self):
        """Each port's values against the model it ends up with (its own, else ``model``): a value
        that model does not use would be silently ignored, so it is refused."""
        for name, ov in self.ports.items():
            kind = ov.model or self.model
            whose = f'model = "{kind}"' + ("" if ov.model else " (physiology.outlets.model, the default)")
            uses = OUTLET_MODEL_VALUES[kind]
            for key in ("pressure", "resistance", "rp", "rd", "c"):
                if getattr(ov, key) is not None and key not in uses:
                    users = [m for m, v in OUTLET_MODEL_VALUES.items() if key in v]
                    raise ValueError(
                        f"physiology.outlets.ports.{name}.{key}: not used by this port's {whose}, "
                        f"which takes {', '.join(uses) or 'no values'}; remove it or set "
                        f"physiology.outlets.ports.{name}.model to {' or '.join(repr(m) for m in users)}")
            if kind == "pressure" and ov.pressure is None:
                raise ValueError(f'physiology.outlets.ports.{name}: model = "pressure" needs '
                                 f'physiology.outlets.ports.{name}.pressure (e.g. "10 mmHg")')
            if kind == "rcr" and ov.resistance is not None:
                if ov.rp is not None and ov.rd is not None:
                    raise ValueError(
                        f"physiology.outlets.ports.{name}.resistance: not used when rp and rd are both "
                        f"given (resistance = rp + rd); give resistance, or rp and rd")
                if ov.rp is not None and ov.rd is None and ov.rp > ov.resistance:
                    raise ValueError(
                        f"physiology.outlets.ports.{name}.rp = {_mmhg_s_ml(ov.rp)} exceeds resistance = "
                        f"{_mmhg_s_ml(ov.resistance)}: rd = resistance - rp would be negative; expected "
                        "rp <= resistance")
        fixed = {n: ov.flow_fraction for n, ov in self.ports.items() if ov.flow_fraction is not None}
        if sum(fixed.values()) > 1.0 + 1e-9:
            shown = ", ".join(f"physiology.outlets.ports.{n}.flow_fraction = {v:g}" for n, v in fixed.items())
            raise ValueError(f"{shown}: the prescribed flow fractions sum to {sum(fixed.values()):.6g}; "
                             "expected a total of at most 1 (shares of the inflow)")
        return self


def _mmhg_s_ml(v: float) -> str:
    return f"{v * 1e-6 / 133.322387415:.6g} mmHg*s/mL"


class BloodSection(_Section):
    # Newtonian or Carreau-Yasuda shear thinning
    model: Literal["newtonian", "carreau_yasuda"] = "newtonian"
    density: Density = 1060.0
    # Newtonian viscosity
    viscosity: Viscosity = 3.5e-3
    # Cho & Kensey (1991), REFERENCE.md sec. 5
    mu0: Viscosity = 0.056
    mu_inf: Viscosity = 0.00345
    lambda_: Time = Field(3.313, alias="lambda")
    n: float = Field(0.3568, gt=0.0, le=1.0)
    a: float = Field(2.0, gt=0.0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _ranges(self):
        if not 900.0 <= self.density <= 1200.0:
            raise ValueError(f"physiology.blood.density = {self.density:g} kg/m3 is not blood-like; "
                             "allowed 900-1200 kg/m3")
        if not 5e-4 <= self.viscosity <= 0.1:
            raise ValueError(f"physiology.blood.viscosity = {self.viscosity * 1e3:g} mPa*s is not "
                             "blood-like; allowed 0.5-100 mPa*s")
        return self


class PhysiologySection(_Section):
    # inflow when inflow.mean is not given
    cardiac_output: Flow | None = None
    # mean pressure the default outlet resistances are sized for
    target_mean_pressure: PositivePressure = parse_quantity("93 mmHg", "pressure")
    # sets the period of pulsatile runs
    heart_rate: Frequency = 70.0 / 60.0
    peak_velocity: Velocity | None = None  # expected peak speed (sets dt); default estimated
    inflow: InflowSection = Field(default_factory=InflowSection)
    outlets: OutletsSection = Field(default_factory=OutletsSection)
    blood: BloodSection = Field(default_factory=BloodSection)

    @model_validator(mode="after")
    def _flow(self):
        if self.inflow.mean is None and self.cardiac_output is None:
            raise ValueError("physiology: give physiology.inflow.mean or physiology.cardiac_output "
                             "(e.g. '5 L/min')")
        if self.inflow.mean is None:
            self.inflow.mean = self.cardiac_output
        if self.inflow.mean > 1e-3:
            raise ValueError(f"physiology.inflow.mean = {self.inflow.mean * 6e4:g} L/min is "
                             "impossible; allowed up to 60 L/min")
        if not 0.3 <= self.heart_rate <= 4.0:
            raise ValueError(f"physiology.heart_rate = {self.heart_rate * 60:g} bpm is impossible; "
                             "allowed 20-240 bpm")
        if not 1000.0 <= self.target_mean_pressure <= 40000.0:
            raise ValueError(f"physiology.target_mean_pressure = {self.target_mean_pressure / 133.322:g} "
                             "mmHg is impossible; allowed 7.5-300 mmHg")
        return self

    @property
    def period_s(self) -> float:
        return 1.0 / self.heart_rate


class NumericsSection(_Section):
    # lattice cells across the narrowest port (sets the spacing)
    cells_across: float = Field(10.0, ge=4.0, le=200.0)
    # lattice spacing; overrides cells_across
    spacing: Length | None = None
    # also make the spacing fine enough for this many cells across the narrowest lesion's MLD
    # (0 = off; its gradient needs about 5, docs/validation.md); ignored when spacing is given
    lesion_cells_across: float = Field(0.0, ge=0.0, le=50.0)
    # peak lattice speed (sets the time step; lower is more accurate, slower)
    u_lu_max: float = Field(0.05, gt=0.0, le=0.15)
    # Smagorinsky LES; auto: on where the lattice Reynolds number needs it
    les: Literal["auto", "on", "off"] | bool = "auto"
    # Smagorinsky constant when LES is on; 0.17 (Lilly) kept the coarse demo lattice stable where
    # 0.1 diverged at the inlet (our test, not a general rule)
    smagorinsky: float = Field(0.17, gt=0.0, le=0.5)
    # float16 / bfloat16: 16-bit population storage, float32 arithmetic (CPU and CUDA backends)
    precision: Literal["float32", "float64", "float16", "bfloat16"] = "float32"
    # auto: the GPU when one is usable
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: TRT from tau 0.55, regularized BGK closer to 1/2 (see solver.Numerics.collision)
    collision: Literal["auto", "trt", "bgk", "regularized"] = "auto"
    # interpolated (Bouzidi, 2nd order) or half-way bounce-back walls
    wall: Literal["bouzidi", "halfway"] = "bouzidi"
    # OpenMP threads; 0 = all cores
    threads: int = Field(0, ge=0)
    # refuse larger lattices (memory guard)
    max_cells: int = Field(20_000_000, gt=0)


class RunSection(_Section):
    mode: Literal["steady", "pulsatile"] = "steady"
    # steady: relative change of port pressures/flows between windows
    steady_tolerance: float = Field(2e-3, gt=0.0, lt=0.5)
    # steady: simulated-time cap (s); default 20 averaging windows, at least 3 s. Unconverged: stops at the
    # last whole window within it and reports that window's mean; run.convergence and a warning say why
    max_time: Time | None = None
    # steady: run at least this long
    min_time: NonNegativeTime = 0.0
    window: Time | None = None  # steady: averaging window (s); default one acoustic round trip of the lattice
    # pulsatile: at most this many cardiac cycles
    cycles: int = Field(3, ge=1, le=50)
    # pulsatile: cycle-to-cycle change that counts as periodic
    periodicity_tolerance: float = Field(0.02, gt=0.0)
    # pulsatile: wall samples per cycle for TAWSS/OSI
    samples_per_cycle: int = Field(20, ge=4, le=1000)
    checkpoint_interval: int = Field(0, ge=0)  # steps; 0 = none
    # recorded in provenance (the solver itself is deterministic)
    seed: int = 0
    progress: bool = True


class PinnedDevice(_Section):
    diameter: Length
    length: Length
    position: Length | None = None  # start, arc length from the inlet along the centerline


class DevicesSection(_Section):
    # device catalog CSV (default: the built-in generic catalog)
    catalog: str | None = None
    # which devices of the catalog apply
    indication: Literal["coarctation", "coronary", "generic"] = "generic"
    # a given device instead of the sizing rule, [devices.pinned]
    pinned: PinnedDevice | None = None
    # virtually deploy the chosen device and re-simulate
    deploy: bool = True
    # healthy vessel covered beyond each lesion end
    landing_margin: Length = 5e-3


class LesionsSection(_Section):
    # report narrowings of at least this diameter stenosis (% of the reference diameter)
    min_stenosis_percent: float = Field(25.0, ge=5.0, le=95.0)
    # drop narrowings shorter than this
    min_length: NonNegativeLength = 0.0
    # reference vessel diameter: interpolated between the proximal and distal reference
    # segments at the MLD, their average, or one of them (an ostial lesion always uses distal)
    reference_method: Literal["interpolated", "average", "distal", "proximal"] = "interpolated"
    # inlet-to-outlet paths searched: "all", or a list of outlet names (side branches included)
    paths: Literal["all"] | list[str] = "all"

    @model_validator(mode="after")
    def _paths(self):
        if isinstance(self.paths, list) and not self.paths:
            raise ValueError('lesions.paths: an empty list searches nothing; give "all" or outlet names')
        return self


class ContextOfUse(_Section):
    # ASME V&V 40 context of use, copied into the report
    question_of_interest: str = ""
    context: str = ""
    model_influence: Literal["low", "medium", "high"] = "medium"
    decision_consequence: Literal["low", "medium", "high"] = "medium"


class OutputsSection(_Section):
    # fields (.vti) and wall (.vtp) for ParaView
    vtk: bool = True
    # PNG figures
    figures: bool = True
    # HTML report
    report: bool = True
    # lumen.vtp
    surface: bool = True


class Case(_Section):
    """A validated case. Dimensional fields hold SI floats; ``source_path``/``raw`` keep the file."""

    case: CaseInfo = Field(default_factory=CaseInfo)
    image: ImageSection
    segmentation: SegmentationSection = Field(default_factory=SegmentationSection)
    ports: PortsSection = Field(default_factory=PortsSection)
    physiology: PhysiologySection
    numerics: NumericsSection = Field(default_factory=NumericsSection)
    run: RunSection = Field(default_factory=RunSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    lesions: LesionsSection = Field(default_factory=LesionsSection)
    context_of_use: ContextOfUse = Field(default_factory=ContextOfUse)
    outputs: OutputsSection = Field(default_factory=OutputsSection)

    source_path: str | None = None
    raw: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ports_known(self):
        known = set(self.ports.names)
        for name in self.physiology.outlets.ports:
            if not (name in known or PORT_NAME_RE.match(name)):
                raise ValueError(
                    f"physiology.outlets.ports.{name}: unknown port {name!r}; ports are 'inlet', "
                    f"'outlet_1', 'outlet_2', ... or a name given in [ports.names] "
                    f"({sorted(known) or 'none given'})")
            if name == "inlet" or name.startswith("inlet"):
                raise ValueError(f"physiology.outlets.ports.{name}: {name!r} is the inlet, not an outlet")
        if isinstance(self.lesions.paths, list):
            for name in self.lesions.paths:
                if not (name in known or PORT_NAME_RE.match(name)) or name.startswith("inlet"):
                    raise ValueError(
                        f"lesions.paths: {name!r} is not an outlet; give outlet names ('outlet_1', "
                        f"'outlet_2', ... or a name given in [ports.names]: {sorted(known) or 'none'})")
        if self.devices.pinned and self.devices.pinned.diameter > 0.1:
            raise ValueError(f"devices.pinned.diameter = {self.devices.pinned.diameter * 1e3:g} mm "
                             "is impossible; allowed up to 100 mm")
        return self

    # -- paths ---------------------------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        return Path(self.source_path).parent if self.source_path else Path.cwd()

    def resolve(self, rel: str | None) -> Path | None:
        """Resolve a path from the case file: absolute, ``shared:``-prefixed, or case-relative.

        ``shared:SUB/PATH`` looks in $HEMOTWIN_SHARED_DATA, then in the ``shared/data`` folder
        beside the repository (``../shared/data`` from the repo root), walking up from the case.
        """
        if rel is None:
            return None
        if rel.startswith("shared:"):
            return find_shared_data(rel.split(":", 1)[1], start=self.base_dir)
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def outlet_names(self, all_ports) -> list:
        return [p for p in all_ports if not p.startswith("inlet")]


def find_shared_data(sub: str, start: Path | None = None) -> Path:
    """Path of ``sub`` under the shared data folder; raises FileNotFoundError naming the places."""
    import os

    tried = []
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        tried.append(Path(env))
    here = Path(start or Path.cwd()).resolve()
    for d in [here, *here.parents, Path(__file__).resolve().parents[3]]:
        tried.append(d.parent / "shared" / "data")
        tried.append(d / "shared" / "data")
    for base in tried:
        cand = base / sub
        if cand.exists():
            return cand
    raise FileNotFoundError(
        f"shared data {sub!r} not found (looked in ${SHARED_DATA_ENV} and ../shared/data beside "
        f"the repository); set {SHARED_DATA_ENV} or give the image path on the command line")


def _format_error(err: ValidationError, where: str) -> str:
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
    msg = e["msg"]
    for pre in ("Value error, ", "Assertion failed, "):
        msg = msg.replace(pre, "")
    inp = e.get("input")
    if isinstance(inp, (str, int, float)) and msg.startswith(repr(inp)):
        msg = msg[len(repr(inp)):].lstrip(": ")
    if e["type"] == "extra_forbidden":
        return f"{where}: unknown setting {loc!r} (= {inp!r}); check the spelling against the case schema"
    if e["type"] == "missing":
        return f"{where}: missing required setting {loc!r}"
    if e["type"] == "literal_error":
        return f"{where}: {loc} = {inp!r}: {msg}"
    if loc and not msg.startswith(loc.split(".")[0]) and "physiology." not in msg[:40] \
            and not msg.startswith(("give ", "image.", "segmentation.", "ports.", "devices.")):
        shown = f" = {inp!r}" if not isinstance(inp, dict) else ""
        return f"{where}: {loc}{shown}: {msg}"
    return f"{where}: {msg}"


def _set_dotted(d: dict, dotted: str, value):
    """Set ``d["a"]["b"]["c"] = value`` for ``"a.b.c"``, creating sections; a key that passes
    through a value (``run.max_time.x``) is a CaseError naming both, not a TypeError."""
    keys = dotted.split(".")
    if not all(k.strip() for k in keys):
        raise CaseError(f"--set {dotted}: an empty part in the key; expected a dotted case-file key "
                        "such as run.max_time")
    for i, k in enumerate(keys[:-1]):
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise CaseError(f"--set {dotted}: {'.'.join(keys[:i + 1])} is a value, not a section")
    d[keys[-1]] = value


def case_from_dict(data: dict, source_path=None, overrides: dict | None = None) -> Case:
    """Validate a case given as a dict (TOML tables); ``overrides`` = {"run.max_time": "1 s"}."""
    import copy

    data = copy.deepcopy(data)
    for k, v in (overrides or {}).items():
        _set_dotted(data, k, v)
    where = str(source_path) if source_path else "case"
    try:
        case = Case.model_validate({**data, "source_path": str(source_path) if source_path else None,
                                    "raw": data})
    except ValidationError as err:
        raise CaseError(_format_error(err, where)) from None
    return case


def load_case(path, overrides: dict | None = None, check_files: bool = True) -> Case:
    """Read and validate a case file.

    Parameters
    ----------
    path : str or Path
        The case TOML.
    overrides : dict, optional
        Dotted keys to replace, e.g. ``{"image.path": "/data/ct.nii.gz", "run.max_time": "1 s"}``.
    check_files : bool
        Check that referenced files exist.

    Raises
    ------
    CaseError
        One line: file, field, value, what is allowed.
    FileNotFoundError
        The case file or a referenced file is missing (message names it).

    Examples
    --------
    >>> from hemotwin.config import load_case  # doctest: +SKIP
    >>> case = load_case("cases/coarctation_demo/case.toml")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: case file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"{path}: not valid TOML ({e})") from None
    case = case_from_dict(data, path.resolve(), overrides)
    if check_files:
        _check_files(case, path)
    return case


def input_files(case: Case) -> list:
    """``(field, path as written)`` for every input file the case names: the dotted key, with
    ``[k]`` for each of several label maps. One list for the existence check, the provenance
    hashes and the redaction of paths from the recorded parameters."""
    lm = case.image.label_map
    lms = lm if isinstance(lm, list) else [lm] if lm else []
    items = [("image.path", case.image.path), ("image.surface", case.image.surface),
             ("image.surface_faces", case.image.surface_faces)]
    items += [(f"image.label_map[{k}]" if len(lms) > 1 else "image.label_map", x) for k, x in enumerate(lms)]
    items.append(("devices.catalog", case.devices.catalog))
    if case.physiology.inflow.waveform.lower().endswith(".csv"):
        items.append(("physiology.inflow.waveform", case.physiology.inflow.waveform))
    return [(f, rel) for f, rel in items if rel]


def _check_files(case: Case, path: Path):
    for field, rel in input_files(case):
        try:
            p = case.resolve(rel)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{path}: {field} = {rel!r}: {e}") from None
        if not p.exists():
            raise FileNotFoundError(f"{path}: {field} = {rel!r}: file not found ({p})")
