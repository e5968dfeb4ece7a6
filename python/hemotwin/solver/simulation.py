# SPDX-License-Identifier: Apache-2.0
"""Simulation: the physical-units façade over the compiled lattice-Boltzmann core.

Geometry comes in as a LatticeDomain (spacing in metres), physics in SI; lattice units are
chosen here through hemotwin.units and never leak out. Port flows are positive OUT of the fluid
(port normals point out), so an inlet carries a negative flow.
"""
from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass, field

import numpy as np

from .. import _core
from ..lattice import LatticeDomain
from ..units import MIN_PORT_CELLS, LatticeUnits, StabilityError, check_stability, choose_lattice_units

DivergenceError = _core.DivergenceError
# Bytes of one stored population per numerics.precision (16-bit formats compute in float32).
POPULATION_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
TRT_TAU_MIN = 0.55  # below, `auto` collision uses regularized BGK (see Numerics.collision)


def _check_real(name: str, value, ok=lambda v: True, expected: str = "a finite number") -> None:
    """A real number (not bool/str), finite and ``ok``; otherwise a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _finite(what: str, value) -> float:
    """float(value), refusing NaN/inf: they would surface steps later as a misleading divergence."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {v}")
    return v


class SimulationDiverged(RuntimeError):
    """The run became non-physical; ``step``, ``position_m`` and the message say where and why."""

    def __init__(self, message, step, position_m):
        super().__init__(message)
        self.step = step
        self.position_m = position_m


@dataclass
class Numerics:
    """Numerical choices (all run-time; one build serves every case).

    Parameters
    ----------
    collision : {"auto", "trt", "bgk", "regularized"}
        Two-relaxation-time (magic parameter ``magic``), single-relaxation BGK, or regularized
        BGK (Latt & Chopard 2006). ``auto`` takes TRT while tau >= 0.55 (walls exactly placed)
        and regularized BGK closer to 1/2: with tau+ -> 1/2 the magic TRT's odd-moment relaxation
        time tau- = 1/2 + Lambda/(tau+ - 1/2) grows without bound, and coarse clinical runs
        (tau ~ 0.501 with LES) diverged at port corners with TRT (measured on the coarctation
        phantom, and at tau 0.514 on a Y-shaped vessel with a velocity inlet); regularization
        removes the non-hydrodynamic content that drives that, and both runs stay stable.
    magic : float
        TRT magic parameter Lambda; 3/16 puts bounce-back walls half-way whatever the viscosity.
    wall : {"bouzidi", "halfway"}
        Interpolated (second-order on curved walls) or half-way bounce-back.
    les : bool
        Smagorinsky sub-grid model with constant ``smagorinsky``.
    precision : {"float32", "float64", "float16", "bfloat16"}
        Population storage. ``float16`` / ``bfloat16`` store 16-bit shifted populations (f - w)
        with float32 arithmetic (CPU and CUDA, the same encoding): half the memory traffic,
        accuracy measured in docs/validation.md. All but float64 refuse tau - 1/2 < 3e-6 or a peak
        lattice speed < 1e-3, which float32 round-off cannot resolve (units.FLOAT32_*).
    u_lu_max : float
        Target peak lattice speed that sets the time step (Mach = u_lu/0.577).
    tau : float, optional
        Fix the relaxation time instead of ``u_lu_max``.
    check_interval : int
        Steps between checks for a diverging run. On ``cuda`` at least 32 (reading the flag waits
        for the GPU), so a divergence is reported up to 31 steps after it began.
    """

    collision: str = "auto"
    magic: float = 3.0 / 16.0
    wall: str = "bouzidi"
    les: bool = False
    smagorinsky: float = 0.1
    precision: str = "float32"
    u_lu_max: float = 0.05
    tau: float | None = None
    check_interval: int = 1

    def validate(self):
        if self.collision not in ("auto", "trt", "bgk", "regularized"):
            raise ValueError("numerics.collision must be 'auto', 'trt', 'bgk' or 'regularized', "
                             f"got {self.collision!r}")
        if self.wall not in ("bouzidi", "halfway"):
            raise ValueError(f"numerics.wall must be 'bouzidi' or 'halfway', got {self.wall!r}")
        if self.precision not in POPULATION_BYTES:
            raise ValueError("numerics.precision must be one of " + ", ".join(map(repr, POPULATION_BYTES))
                             + f", got {self.precision!r}")
        if not isinstance(self.les, (bool, np.bool_)):  # a string such as 'no' would be truthy
            raise TypeError(f"numerics.les must be True or False, got {self.les!r}")
        # Lambda > 0 keeps TRT's odd relaxation time tau- = 1/2 + Lambda/(tau+ - 1/2) above 1/2
        _check_real("numerics.magic", self.magic, lambda v: v > 0, "a finite number > 0 (3/16 is standard)")
        # with LES on, Cs <= 0 would silently mean no sub-grid model
        if self.les:
            _check_real("numerics.smagorinsky", self.smagorinsky, lambda v: v > 0,
                        "a finite number > 0 when les is on (0.1-0.2 is usual)")
        else:
            _check_real("numerics.smagorinsky", self.smagorinsky, lambda v: v >= 0, "a finite number >= 0")
        # (a speed above units.U_LU_LIMIT is refused by check_stability, naming the Mach number)
        _check_real("numerics.u_lu_max", self.u_lu_max, lambda v: v > 0, "a finite lattice speed > 0")
        if self.tau is not None:  # tau <= 1/2 is refused by choose_lattice_units (StabilityError)
            _check_real("numerics.tau", self.tau, expected="None or a finite number > 0.5")
        _check_int("numerics.check_interval", self.check_interval, 1)


@dataclass
class CarreauYasuda:
    """Carreau-Yasuda viscosity mu(g) = mu_inf + (mu0 - mu_inf)[1 + (lambda g)^a]^((n-1)/a).

    Defaults: Cho & Kensey (1991) blood (REFERENCE.md sec. 5).
    """

    mu0_pa_s: float = 0.056
    mu_inf_pa_s: float = 0.00345
    lambda_s: float = 3.313
    n: float = 0.3568
    a: float = 2.0

    def __post_init__(self):
        _check_real("carreau_yasuda.mu0_pa_s", self.mu0_pa_s, lambda v: v > 0,
                    "a finite viscosity > 0 (Pa s)")
        # mu_inf is the high-shear plateau: > 0 (tau -> 1/2 otherwise) and at most the zero-shear mu0
        _check_real("carreau_yasuda.mu_inf_pa_s", self.mu_inf_pa_s, lambda v: 0 < v <= self.mu0_pa_s,
                    f"a finite viscosity > 0 and <= mu0_pa_s = {self.mu0_pa_s} (Pa s)")
        _check_real("carreau_yasuda.lambda_s", self.lambda_s, lambda v: v > 0, "a finite time > 0 (s)")
        # 0 < n <= 1: shear thinning (n = 1 Newtonian); n > 1 would thicken without bound, away from
        # mu_inf (physiology.blood.n has the same range)
        _check_real("carreau_yasuda.n", self.n, lambda v: 0 < v <= 1, "a finite power-law index in (0, 1]")
        _check_real("carreau_yasuda.a", self.a, lambda v: v > 0, "a finite number > 0 (Yasuda exponent)")


class DeviceUnavailableError(ValueError):
    """device='cuda' where it cannot run: a user error (one line in the CLI), raised before any work."""


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" where a GPU is usable, else "cpu"; "cuda" must be usable here."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if _core.cuda_device_count() > 0 else "cpu"
    if device == "cuda" and _core.cuda_device_count() == 0:
        if not _core.build_info()["cuda_compiled"]:
            raise DeviceUnavailableError(
                "device 'cuda': this hemotwin was built without its CUDA backend (no CUDA compiler at "
                "install time; reinstall with nvcc on the PATH); use device 'cpu' or 'auto' (--device cpu)")
        raise DeviceUnavailableError("device 'cuda': no usable NVIDIA GPU found (driver or device missing); "
                                     "use device 'cpu' or 'auto' (--device cpu)")
    return device


@dataclass
class Simulation:
    """A flow run on a voxelized domain, in SI units.

    Parameters
    ----------
    domain : LatticeDomain
        Cell types, wall distances and ports (spacing in metres).
    density_kg_m3 : float
        Blood density (default 1060).
    viscosity_pa_s : float
        Dynamic viscosity (default 3.5 mPa s); for Carreau-Yasuda the high-shear limit.
    u_max_m_s : float
        Expected peak speed (m/s): sets the time step so the lattice speed stays ``u_lu_max``.
    numerics : Numerics
    carreau_yasuda : CarreauYasuda, optional
        Non-Newtonian blood; None for Newtonian.
    device : {"auto", "cpu", "cuda"}
    threads : int, optional
        OpenMP threads (CPU); None or 0: all.

    Examples
    --------
    >>> from hemotwin.geometry.voxelize import tube_domain
    >>> dom = tube_domain(radius_m=1e-3, length_m=4e-3, dx_m=2e-4)
    >>> sim = Simulation(dom, u_max_m_s=0.05, device="cpu")
    >>> sim.set_inlet_flow("inlet", 5e-8)
    >>> sim.set_outlet_pressure("outlet", 0.0)
    >>> sim.step(10)
    """

    domain: LatticeDomain
    density_kg_m3: float = 1060.0
    viscosity_pa_s: float = 3.5e-3
    u_max_m_s: float = 1.0
    numerics: Numerics = field(default_factory=Numerics)
    carreau_yasuda: CarreauYasuda | None = None
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        self.numerics.validate()
        for name, unit in (("density_kg_m3", "kg/m^3"), ("viscosity_pa_s", "Pa s"), ("u_max_m_s", "m/s")):
            _check_real(name, getattr(self, name), lambda v: v > 0, f"a finite number > 0 ({unit})")
        if self.threads is not None:  # None or 0: all OpenMP threads
            _check_int("threads", self.threads, 0)
        d = self.domain
        if not isinstance(d.cell_type, np.ndarray) or d.cell_type.dtype != np.uint8 or d.cell_type.ndim != 3:
            raise TypeError(
                "domain.cell_type must be a 3-D numpy array of dtype uint8 "
                f"(got {type(d.cell_type).__name__} {getattr(d.cell_type, 'dtype', '')} "
                f"with {getattr(d.cell_type, 'ndim', '?')} dimensions)")
        if not d.spacing_m > 0:
            raise ValueError(f"domain.spacing_m must be > 0, got {d.spacing_m}")
        nu = self.viscosity_pa_s / self.density_kg_m3
        self.units: LatticeUnits = choose_lattice_units(
            d.spacing_m, nu, self.density_kg_m3, self.u_max_m_s, self.numerics.u_lu_max, self.numerics.tau)
        check_stability(self.units, nu, self.u_max_m_s, self.numerics.les,
                        precision=self.numerics.precision, tau_given=self.numerics.tau is not None)
        # Natural (k-fastest) cell order: neighbours along k are consecutive, which made the CPU's
        # odd AA sweep 3x faster than Morton order (benchmarks/RESULTS.md).
        self.lattice = _core.Lattice(d.cell_type, np.asarray(d.wall_links), np.asarray(d.wall_q, float),
                                     morton=False)
        self._check_ports()
        carreau = None
        if self.carreau_yasuda is not None:
            cy = self.carreau_yasuda
            carreau = {
                "nu0": self.units.viscosity_to_lu(cy.mu0_pa_s / self.density_kg_m3),
                "nu_inf": self.units.viscosity_to_lu(cy.mu_inf_pa_s / self.density_kg_m3),
                "lambda": cy.lambda_s / self.units.dt_s, "n": cy.n, "a": cy.a,
            }
        self.device = resolve_device(self.device)
        self.tau = self.units.tau(nu)
        self.collision = self.numerics.collision
        if self.collision == "auto":
            self.collision = "trt" if self.tau >= TRT_TAU_MIN else "regularized"
        self._solver = _core.Solver(
            self.lattice, self.device, int(self.threads or 0), self.tau,
            self.numerics.magic if self.collision == "trt" else 0.0,
            self.numerics.smagorinsky if self.numerics.les else 0.0,
            self.numerics.wall == "bouzidi", self.numerics.precision, carreau, self.numerics.check_interval,
            self.collision == "regularized")
        self._ijk = None

    # -- geometry -----------------------------------------------------------------------------
    def _check_ports(self):
        d = self.domain
        for p in range(self.lattice.n_ports):
            cells = len(self.lattice.port_cells(p))
            name = d.port_names[p] if p < len(d.port_names) else f"port {p}"
            across = 2.0 * math.sqrt(cells / math.pi)
            if cells and across < MIN_PORT_CELLS:
                raise StabilityError(
                    f"port {name!r} is only {across:.1f} cells across ({cells} cells); at least "
                    f"{MIN_PORT_CELLS:.0f} are needed: use a finer spacing than {d.spacing_m * 1e3:.3g} mm")

    @property
    def n_cells(self) -> int:
        return int(self.lattice.n_cells)

    @property
    def cell_ijk(self) -> np.ndarray:
        if self._ijk is None:
            self._ijk = self.lattice.cell_ijk()
        return self._ijk

    @property
    def cell_centers_m(self) -> np.ndarray:
        return self.domain.cell_centers_m(self.cell_ijk)

    def _port(self, name) -> int:
        """A port name, or its index as any integer (numpy ints too); bools are refused."""
        if isinstance(name, str):
            return self.domain.port_index(name)
        if isinstance(name, bool) or not isinstance(name, numbers.Integral):
            raise TypeError(f"port must be a name (str) or an index (int), got {name!r} "
                            f"({type(name).__name__})")
        p = operator.index(name)
        n = int(self.lattice.n_ports)
        if not 0 <= p < n:
            raise ValueError(f"port index {p} is out of range: this domain has {n} ports (0..{n - 1})")
        return p

    # -- boundary conditions --------------------------------------------------------------------
    def set_outlet_pressure(self, name, pressure_pa: float) -> None:
        """Impose a (gauge) pressure in Pa on a port; may change between steps (0D models)."""
        p = self._port(name)
        pressure_pa = _finite(f"pressure for port {name!r}", pressure_pa)
        self._solver.set_port_kind(p, "pressure")
        self._solver.set_port_pressure(p, float(self.units.pressure_to_lu(pressure_pa)))

    def set_inlet_velocity(self, name, velocities_m_s: np.ndarray) -> None:
        """Per-cell velocity vectors (m/s) on the fluid cells touching a port (see port_cell_centers_m)."""
        p = self._port(name)
        u = np.asarray(velocities_m_s, float)
        bad = ~np.isfinite(u)
        if bad.any():
            raise ValueError(f"velocities for port {name!r} must be finite: {int(bad.sum())} of {u.size} "
                             f"components are not (first {u[bad][0]})")
        self._solver.set_port_kind(p, "velocity")
        self._solver.set_port_velocity(p, self.units.velocity_to_lu(u).astype(np.float32))

    def port_cell_centers_m(self, name) -> np.ndarray:
        p = self._port(name)
        return self.domain.cell_centers_m(self.cell_ijk[self.lattice.port_cells(p)])

    def set_inlet_flow(self, name, flow_m3_s: float, profile: str = "parabolic") -> None:
        """Impose a volume flow INTO the fluid (m^3/s) with a plug or parabolic profile.

        The profile is scaled so the flow the lattice actually delivers equals ``flow_m3_s``.
        """
        p = self._port(name)
        flow_m3_s = _finite(f"flow for port {name!r}", flow_m3_s)
        d = self.domain
        if p >= len(d.port_normals):
            raise KeyError(f"port {name!r} has no normal/centre in the domain; give velocities instead")
        n_out = np.asarray(d.port_normals[p], float)
        if not np.linalg.norm(n_out) > 0:
            raise ValueError(f"port {name!r}: domain.port_normals[{p}] = {n_out.tolist()} is not a direction")
        n_out = n_out / np.linalg.norm(n_out)
        # a zero radius would zero the profile and surface as a misleading "normal" error below
        if len(d.port_radii_m) > p and not float(d.port_radii_m[p]) > 0:
            raise ValueError(f"port {name!r}: its radius domain.port_radii_m[{p}] = {d.port_radii_m[p]} "
                             "is not > 0 (a zero port radius)")
        x = self.port_cell_centers_m(p) - np.asarray(d.port_centers_m[p], float)
        r = np.linalg.norm(x - np.outer(x @ n_out, n_out), axis=1)
        radius = float(d.port_radii_m[p]) if len(d.port_radii_m) > p else r.max() + 0.5 * d.spacing_m
        if profile == "parabolic":
            shape = np.clip(1.0 - (r / radius) ** 2, 0.0, None)
        elif profile == "plug":
            shape = np.ones(len(r))
        else:
            raise ValueError(f"inlet profile must be 'parabolic' or 'plug', got {profile!r}")
        u_dir = -n_out  # into the fluid
        vec = self.lattice.port_cell_flux_vectors(p)  # lattice mass out per unit lattice velocity
        delivered_out = float(np.sum((vec @ u_dir) * shape))  # per unit lattice speed
        if not delivered_out < 0:
            raise ValueError(f"port {name!r}: its normal {n_out} does not point out of the fluid")
        q_lu = self.units.flow_to_lu(flow_m3_s)
        scale_lu = -q_lu / delivered_out
        u = np.outer(shape * self.units.velocity_to_si(scale_lu), u_dir)
        self.set_inlet_velocity(p, u)

    def set_port_waveform(self, name, times_s, factors, period_s: float) -> None:
        """Multiply a port's velocity (or pressure) by a periodic, piecewise-linear time factor."""
        p = self._port(name)
        t, f = np.asarray(times_s, float), np.asarray(factors, float)
        if not (np.isfinite(t).all() and np.isfinite(f).all()):
            raise ValueError(f"waveform for port {name!r}: times_s and factors must be finite")
        _check_real("period_s", period_s, lambda v: v > 0, "a finite period > 0 (s)")
        self._solver.set_port_waveform(p, list(t / self.units.dt_s), list(f), period_s / self.units.dt_s)

    # -- running ------------------------------------------------------------------------------
    @property
    def time_step(self) -> int:
        return int(self._solver.time_step)

    @property
    def time_s(self) -> float:
        return self.time_step * self.units.dt_s

    def step(self, n: int) -> None:
        """Advance n lattice steps; raises SimulationDiverged with the step and position."""
        try:
            self._solver.step(int(n))
        except DivergenceError as e:
            pos = self.domain.cell_centers_m(np.array([e.i, e.j, e.k]))
            raise SimulationDiverged(
                f"{e} at x = {np.round(pos * 1e3, 3).tolist()} mm, t = {e.step * self.units.dt_s:.4g} s. "
                f"Likely cause: lattice speed too high (peak {self.u_max_m_s} m/s assumed, limit "
                f"u_lu_max = {self.numerics.u_lu_max}) or tau = {self.tau:.4f} too close to 0.5 for "
                f"this Reynolds number; refine the lattice, lower u_lu_max or enable LES",
                e.step, pos) from None

    # -- outputs ------------------------------------------------------------------------------
    def port_flows_m3_s(self, mean: bool = True) -> dict:
        """Volume flow out of the fluid at each port (m^3/s), mean over the last step() call."""
        q = self._solver.port_flux_mean() if mean else self._solver.port_flux()
        return {self._name(p): float(self.units.flow_to_si(v)) for p, v in enumerate(q)}

    def port_pressures_pa(self) -> dict:
        """Mean gauge pressure (Pa) on the cells touching each port."""
        return {self._name(p): float(self.units.pressure_to_si(v))
                for p, v in enumerate(self._solver.port_mean_pressure())}

    def _name(self, p):
        return self.domain.port_names[p] if p < len(self.domain.port_names) else f"port_{p}"

    def fields(self) -> dict:
        """Per fluid cell: ``pressure_pa`` (gauge), ``velocity_m_s`` (n, 3), ``stress_pa`` (n, 6)."""
        f = self._solver.fields()
        return {
            "pressure_pa": self.units.pressure_to_si((f["rho"] - 1.0) / 3.0),
            "velocity_m_s": self.units.velocity_to_si(f["u"]),
            "stress_pa": self.units.stress_to_si(f["sigma"]),
        }

    def state(self) -> dict:
        """Everything needed to resume bit for bit: populations and time step."""
        return {"populations": self._solver.get_populations(), "time_step": self.time_step}

    def restore(self, state: dict) -> None:
        self._solver.set_time_step(int(state["time_step"]))
        self._solver.set_populations(np.asarray(state["populations"], float))

    def describe(self) -> dict:
        """Numbers for provenance: spacing, time step, tau, cells, memory."""
        bytes_pop = POPULATION_BYTES[self.numerics.precision]
        return {
            **self.units.as_dict(), "tau": self.tau, "device": self.device,
            "n_fluid_cells": self.n_cells, "bytes_per_cell": int(self.lattice.bytes_per_cell(bytes_pop)),
            "collision": self.collision, "wall": self.numerics.wall, "les": self.numerics.les,
            "precision": self.numerics.precision,
        }
