# SPDX-License-Identifier: Apache-2.0
"""Run loops: steady (to a convergence criterion on port flows and pressures) and pulsatile (N
cycles, periodicity check, metrics from the last cycle), with 0D outlets coupled every
``coupling_interval`` steps, checkpoint/resume and a tqdm progress bar.

Pressure reference: the lattice carries ``p - pressure_offset_pa`` (the offset is the expected
mean outlet pressure), so lattice density stays near 1 whatever the physiological pressure level;
every pressure this module reports is physical (gauge, Pa) with the offset added back.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..units import CS2, MMHG_PA
from .outlets import OutletModel
from .simulation import Simulation
from .waveforms import Waveform, womersley_profile

# window means kept for the diagnosis of a steady run that ends unconverged
RECENT_WINDOWS = 8

__all__ = ["FlowRunner", "FlowSetup", "RunResult"]


@dataclass
class FlowSetup:
    """Boundary conditions of a run.

    Parameters
    ----------
    inlet : str
        Inlet port name.
    waveform : Waveform
        Inflow (m^3/s INTO the fluid); a constant one for steady runs.
    profile : {"plug", "parabolic", "womersley"}
    outlets : dict
        {port name: OutletModel}.
    pressure_offset_pa : float
        Physical pressure that lattice pressure 0 stands for (Pa).
    ramp_s : float
        Steady runs: the inflow ramps linearly from 0 over this time (avoids a start-up shock).
    viscosity_m2_s : float
        Kinematic viscosity, for the Womersley profile.
    """

    inlet: str
    waveform: Waveform
    profile: str = "parabolic"
    outlets: dict = field(default_factory=dict)
    pressure_offset_pa: float = 0.0
    ramp_s: float = 0.05
    viscosity_m2_s: float = 3.5e-3 / 1060.0


def _short(v) -> str:
    """A setting for a one-line message (a waveform or an outlet table cut short)."""
    text = f"{v:.6g}" if isinstance(v, float) else json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class RunResult:
    """Outcome of a run. Flows (m^3/s) are the solver's: positive OUT of the domain at every port,
    so the inlet's is negative; results.json and the port CSVs give each port's own direction."""

    mode: str
    converged: bool
    status: str
    steps: int
    time_s: float
    wall_s: float
    mean_flows_m3_s: dict
    mean_pressures_pa: dict
    min_pressures_pa: dict = field(default_factory=dict)
    max_pressures_pa: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    mass_imbalance: float = float("nan")
    periodicity_error: float = float("nan")
    mean_fields: dict | None = None
    info: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)

    def summary(self) -> dict:
        return {"mode": self.mode, "converged": self.converged, "status": self.status,
                "steps": self.steps, "time_s": self.time_s, "wall_s": round(self.wall_s, 2),
                "mass_imbalance": self.mass_imbalance, "periodicity_error": self.periodicity_error,
                **self.info}


def acoustic_round_trip_steps(shape) -> float:
    """Steps a lattice sound wave takes to cross the vessel and come back: 2 sqrt(3) L, with L
    (cells) the sum of the bounding box's two largest extents, a path length for an arch or a
    tube. The weakly compressible lattice between a velocity inlet and high-resistance outlets
    (both reflect) rings at this period and the ring decays slowly (on a 1.5 mm thoracic CTA:
    ~0.5 s, halving each second). Steady averaging windows of one period cancel it: that case
    converges at 5 s simulated instead of 8.5 s with 0.25 s windows, the means within 0.02 mmHg
    and 0.03 mL/s of each other. The sound speed sqrt(CS2) dx / dt is a lattice constant, so the
    period in steps does not depend on the flow.
    """
    extents = sorted(int(n) for n in shape)
    return 2.0 * float(sum(extents[-2:])) / math.sqrt(CS2)


class FlowRunner:
    """Drive a Simulation with an inflow and 0D outlets.

    Parameters
    ----------
    sim : Simulation
    setup : FlowSetup
    mode : {"steady", "pulsatile"}
    tolerance : float
        Steady: stop when, over two consecutive averaging windows, every port's mean flow changed
        by less than ``tolerance`` x inflow and every port's mean pressure by less than
        ``tolerance`` x max(port pressure span, 1 mmHg), and the mass imbalance
        |sum of port flows| / inflow is below ``tolerance``.
    max_time_s, min_time_s : float
        Steady: simulated-time cap and floor (s). ``max_time_s=None``: 20 averaging windows, at least 3 s.
        A run that does not converge stops at the end of the last whole window within the cap; its
        fields (``RunResult.mean_fields``) are the mean of that window, like its port values, and
        ``info["convergence"]`` says which criterion failed and by how much.
    window_s : float, optional
        Steady averaging window (s); default one acoustic round trip of the lattice
        (``acoustic_round_trip_steps``), at least 0.04 s and 100 steps.
    cycles : int
        Pulsatile: cardiac cycles; metrics come from the last one.
    samples_per_cycle : int
        Pulsatile: field snapshots in the last cycle (``on_sample`` and the mean fields).
    periodicity_tolerance : float
        Pulsatile: the run is periodic when the last two cycles' mean port pressures differ by
        less than this fraction of the mean pressure and mean flows by less than it x inflow.
    coupling_interval : int
        Steps between 0D updates (1 = every step).
    checkpoint_path : path, optional
        npz written every ``checkpoint_interval`` steps (rounded to the coupling interval).
    progress : bool
        tqdm bar with steps, simulated time and ETA.
    on_sample : callable, optional
        ``on_sample(sim, t_s)`` at each pulsatile field sample in the last cycle; a returned
        array is kept (and checkpointed) in ``RunResult.samples``.
    sample_layout : str, optional
        Names what ``on_sample`` returns; a checkpoint of another layout is not resumed.
    """

    def __init__(self, sim: Simulation, setup: FlowSetup, mode: str = "steady", *,
                 tolerance: float = 2e-3, max_time_s: float | None = None, min_time_s: float = 0.0,
                 window_s: float | None = None, cycles: int = 3, samples_per_cycle: int = 20,
                 periodicity_tolerance: float = 0.02, coupling_interval: int = 1,
                 checkpoint_path=None, checkpoint_interval: int = 0, progress: bool = True,
                 on_sample=None, label: str = "flow", coupling_gain: float = 0.1,
                 sample_layout: str | None = None):
        if mode not in ("steady", "pulsatile"):
            raise ValueError(f"run mode must be 'steady' or 'pulsatile', got {mode!r}")
        self.sim, self.setup, self.mode = sim, setup, mode
        self.tol, self.min_time_s = tolerance, min_time_s
        self.cycles, self.samples_per_cycle = int(cycles), int(samples_per_cycle)
        self.sample_layout = sample_layout  # what on_sample returns: a checkpoint's samples must match
        self.periodicity_tolerance = periodicity_tolerance
        self.k = int(coupling_interval)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        ci = int(checkpoint_interval or 0)
        self.checkpoint_interval = (max(self.k, ci // self.k * self.k) if ci > 0 else 0)
        self.progress, self.on_sample, self.label = progress, on_sample, label
        dt = sim.units.dt_s
        self.dt = dt
        w = window_s if window_s else max(0.04, acoustic_round_trip_steps(sim.domain.cell_type.shape) * dt)
        self.window = max(100, int(round(w / dt)) // self.k * self.k)
        # None: at least 3 s, and room for 20 windows (a ring of the lattice needs ~10 of its periods
        # to fall under a 1 % tolerance on a real aorta; see acoustic_round_trip_steps)
        self.max_time_s = float(max_time_s) if max_time_s is not None else max(3.0, 20 * self.window * dt)
        self.period_steps = int(round(setup.waveform.period_s / dt))
        self.names = list(sim.domain.port_names)
        self.outlet_names = [n for n in self.names if n in setup.outlets]
        missing = [n for n in setup.outlets if n not in self.names]
        if missing:
            raise KeyError(f"outlet model for unknown port(s) {missing}; the domain has ports {self.names}")
        if setup.inlet not in self.names:
            raise KeyError(f"unknown inlet port {setup.inlet!r}; the domain has ports {self.names}")
        self._state = self._fresh_state()
        self._latest = (np.full(len(self.names), np.nan), np.full(len(self.names), np.nan))
        self._womersley = None
        self.coupling_gain = float(coupling_gain)
        self.relaxation = self._coupling_relaxation()

    def _coupling_relaxation(self) -> dict:
        """Per-outlet under-relaxation w = Z / (Z + R) of the explicit 0D update.

        Imposing p = R q with q from the previous interval is unstable when R exceeds the port's
        acoustic impedance Z = rho c_s / A of the lattice (c_s = dx / (sqrt(3) dt)): the loop
        gain is R / Z. Relaxing with w = Z / (Z + R) is the implicit solution of p = R q with the
        port modelled as that impedance; the port flow answers with a delay of a few steps, so
        the gain is scaled by ``coupling_gain`` (default 0.1: a ~10-step closed-loop time
        constant, stable in the tests). The steady state is unchanged.
        """
        sim = self.sim
        cs = sim.units.dx_m / (math.sqrt(3.0) * sim.units.dt_s)
        out = {}
        for n in self.outlet_names:
            m = self.setup.outlets[n]
            p = sim.domain.port_index(n)
            area = math.pi * float(sim.domain.port_radii_m[p]) ** 2
            z = sim.units.rho_kg_m3 * cs / area
            r = m.instantaneous_resistance(self.k * self.dt, self.mode == "steady")
            out[n] = min(float(getattr(m, "relaxation", 1.0)), self.coupling_gain * z / (z + r)) \
                if r > 0 else 1.0
        return out

    # ------------------------------------------------------------------ state (checkpointable)
    def _fresh_state(self):
        return {
            "chunk": 0, "win_n": 0, "win_q": np.zeros(len(self.names)), "win_p": np.zeros(len(self.names)),
            "prev_q": None, "prev_p": None, "calm": 0, "history": [], "converged": False,
            "series_t": [], "series_q": [], "series_p": [], "series_pm": [],
            "n_samples": 0, "field_sums": None, "ramped": False, "imposed": {}, "samples": [],
        }

    def _save_checkpoint(self):
        if not self.checkpoint_path:
            return
        st = self.sim.state()
        s = self._state
        payload = {
            "populations": st["populations"], "time_step": np.int64(st["time_step"]),
            "outlet_states": json.dumps({n: [float(x) for x in m.get_state()]
                                         for n, m in self.setup.outlets.items()}),
            "runner_json": json.dumps({k: v for k, v in s.items()
                                       if k not in ("win_q", "win_p", "prev_q", "prev_p", "field_sums",
                                                    "series_t", "series_q", "series_p", "series_pm",
                                                    "samples")}),
            "samples": np.asarray(s["samples"], float) if s["samples"] else np.zeros(0),
            "win_q": s["win_q"], "win_p": s["win_p"],
            "prev_q": np.array([]) if s["prev_q"] is None else s["prev_q"],
            "prev_p": np.array([]) if s["prev_p"] is None else s["prev_p"],
            "series_t": np.asarray(s["series_t"], float),
            "series_q": np.asarray(s["series_q"], float).reshape(-1, len(self.names)),
            "series_p": np.asarray(s["series_p"], float).reshape(-1, len(self.names)),
            "series_pm": np.asarray(s["series_pm"], float).reshape(-1, len(self.names)),
            "mode": self.mode, "time_s": self.sim.time_s,
            "settings_json": json.dumps(self._settings(), sort_keys=True),
        }
        if s["field_sums"] is not None:
            for k, v in s["field_sums"].items():
                payload["field_" + k] = v
        tmp = self.checkpoint_path.with_name(self.checkpoint_path.name + ".tmp.npz")
        np.savez(tmp, **payload)
        os.replace(tmp, self.checkpoint_path)

    def _load_checkpoint(self) -> bool:
        if not (self.checkpoint_path and self.checkpoint_path.exists()):
            return False
        d = np.load(self.checkpoint_path, allow_pickle=False)
        if str(d["mode"]) != self.mode:
            raise ValueError(f"checkpoint {self.checkpoint_path} is from a {d['mode']} run, not {self.mode}")
        # populations of another lattice, time step or boundary setup would resume a different run
        now = self._settings()
        then = json.loads(str(d["settings_json"])) if "settings_json" in d.files else \
            {"n_fluid_cells": int(d["populations"].shape[-1])}
        # a key an older checkpoint lacks is not compared, except the sample layout: its samples
        # would not stack with this version's
        changed = [k for k in sorted(set(then) | set(now))
                   if (k in then or k == "sample_layout") and then.get(k) != now.get(k)]
        if changed:
            what = "; ".join(f"{k} {_short(then.get(k))} then, {_short(now.get(k))} now" for k in changed[:4])
            raise ValueError(f"checkpoint {self.checkpoint_path} is from a run with other settings ({what}): "
                             "it cannot be resumed; run without --resume to start afresh")
        self.sim.restore({"populations": d["populations"], "time_step": int(d["time_step"])})
        states = json.loads(str(d["outlet_states"]))
        for n, m in self.setup.outlets.items():
            m.set_state(states[n])
        s = self._fresh_state()
        s.update(json.loads(str(d["runner_json"])))
        s["win_q"], s["win_p"] = d["win_q"].copy(), d["win_p"].copy()
        s["prev_q"] = d["prev_q"].copy() if d["prev_q"].size else None
        s["prev_p"] = d["prev_p"].copy() if d["prev_p"].size else None
        s["series_t"] = d["series_t"].tolist()
        for k in ("series_q", "series_p", "series_pm"):
            s[k] = [row for row in d[k]]
        s["samples"] = [row for row in d["samples"]] if d["samples"].size else []
        fs = {k[6:]: d[k].copy() for k in d.files if k.startswith("field_")}
        s["field_sums"] = fs or None
        self._state = s
        return True

    def _settings(self) -> dict:
        """What a checkpoint's populations are only valid for: the lattice, its units and
        numerics, and the boundary setup (not the device: a CPU checkpoint resumes on a GPU)."""
        d = self.sim.describe()
        w, st = self.setup.waveform, self.setup
        return {
            **{k: d[k] for k in ("n_fluid_cells", "dx_m", "dt_s", "tau", "collision", "wall", "precision")},
            "les": bool(d["les"]),  # a numpy bool is accepted by Numerics, not by json
            "inlet": st.inlet, "profile": st.profile, "ramp_s": float(st.ramp_s),
            "waveform": [np.asarray(w.times_s, float).tolist(), np.asarray(w.flow_m3_s, float).tolist(),
                         float(w.period_s)],
            "outlets": {n: m.describe() for n, m in sorted(st.outlets.items())},
            "pressure_offset_pa": float(st.pressure_offset_pa),
            "sample_layout": self.sample_layout,
        }

    # ------------------------------------------------------------------ boundary conditions
    def _apply_inlet(self, t_s):
        s, su = self._state, self.setup
        if self.mode == "steady":
            if s["ramped"]:
                return
            f = 1.0 if su.ramp_s <= 0 else min(1.0, t_s / su.ramp_s)
            # a tiny first value keeps the profile well defined
            self.sim.set_inlet_flow(su.inlet, su.waveform.mean_m3_s * max(f, 1e-6),
                                    "parabolic" if su.profile == "womersley" else su.profile)
            if f >= 1.0:
                s["ramped"] = True
        elif su.profile == "womersley":
            self._apply_womersley(t_s)
        elif self.sim.time_step == 0 or not getattr(self, "_wave_set", False):
            q = su.waveform.mean_m3_s
            self.sim.set_inlet_flow(su.inlet, q, su.profile)
            t, fac = su.waveform.factors(q)
            self.sim.set_port_waveform(su.inlet, t, fac, su.waveform.period_s)
            self._wave_set = True

    def _apply_womersley(self, t_s):
        sim, su = self.sim, self.setup
        p = sim.domain.port_index(su.inlet)
        if self._womersley is None:
            d = sim.domain
            n_out = np.asarray(d.port_normals[p], float)
            n_out /= np.linalg.norm(n_out)
            x = sim.port_cell_centers_m(p) - np.asarray(d.port_centers_m[p], float)
            r = np.linalg.norm(x - np.outer(x @ n_out, n_out), axis=1)
            radius = float(d.port_radii_m[p])
            proj = sim.lattice.port_cell_flux_vectors(p) @ (-n_out)  # lattice flux per unit speed
            base = np.clip(1.0 - (r / radius) ** 2, 0.0, None)
            self._womersley = (r / radius, radius, -n_out, proj, base)
        xr, radius, u_dir, proj, base = self._womersley
        u = womersley_profile(xr, t_s, su.waveform, radius, su.viscosity_m2_s)
        u_lu = sim.units.velocity_to_lu(u)
        target = sim.units.flow_to_lu(su.waveform(t_s))
        # the lattice flux of a discrete profile differs slightly from the analytic one: correct
        # it with a parabolic component so the delivered flow is exactly the waveform's
        got = -float(np.sum(proj * u_lu))
        per_base = -float(np.sum(proj * base))
        u_lu = u_lu + (target - got) / per_base * base
        sim.set_inlet_velocity(p, np.outer(sim.units.velocity_to_si(u_lu), u_dir))

    def _couple(self, flows):
        off = self.setup.pressure_offset_pa
        out = {}
        for n in self.outlet_names:
            m: OutletModel = self.setup.outlets[n]
            if self.mode == "steady":
                if not self._state["ramped"]:
                    # hold the initial (target) pressures while the inflow ramps up: coupling to
                    # the still-small outflows would drain the lattice, and the weakly
                    # compressible lattice refills only with time constant R_total x V/(rho cs^2)
                    continue
                p = m.steady_pressure(flows[n])
            else:
                p = m.pressure(flows[n], self.k * self.dt)
            prev = self._state["imposed"].get(n)
            p = p if prev is None else prev + self.relaxation[n] * (p - prev)
            self.sim.set_outlet_pressure(n, p - off)
            self._state["imposed"][n] = float(p)
            out[n] = p
        return out

    # ------------------------------------------------------------------ main loop
    def _total_steps(self):
        if self.mode == "pulsatile":
            return self.cycles * self.period_steps
        return int(math.ceil(self.max_time_s / self.dt))

    def run(self, resume: bool = False) -> RunResult:
        """Run to convergence (steady) or for the requested cycles (pulsatile)."""
        from tqdm.auto import tqdm

        sim, s = self.sim, self._state
        t0 = time.perf_counter()
        resumed = resume and self._load_checkpoint()
        s = self._state
        if not resumed:
            for n in self.outlet_names:
                # start every 0D state at rest for its target flow: no start-up transient there
                m = self.setup.outlets[n]
                m.initialize(getattr(m, "target_flow_m3_s", 0.0))
                p = m.steady_pressure(getattr(m, "target_flow_m3_s", 0.0))
                sim.set_outlet_pressure(n, p - self.setup.pressure_offset_pa)
                s["imposed"][n] = float(p)
        else:
            # the core checkpoints populations only: re-impose the port settings of that moment
            for n in self.outlet_names:
                p = s["imposed"].get(n)
                if p is None:
                    m = self.setup.outlets[n]
                    p = m.steady_pressure(getattr(m, "target_flow_m3_s", 0.0))
                sim.set_outlet_pressure(n, p - self.setup.pressure_offset_pa)
            s["ramped"] = False
            self._wave_set = False
        total = self._total_steps()
        if not resumed and sim.time_step >= total:
            raise ValueError(f"the simulation is already at step {sim.time_step}, at or past this run's "
                             f"end (step {total}): nothing to run; raise max_time (steady) or cycles")
        bar = tqdm(total=total, initial=sim.time_step, unit="step", desc=self.label,
                   disable=not self.progress, dynamic_ncols=True, mininterval=1.0)
        sample_every = max(1, self.period_steps // self.samples_per_cycle) if self.mode == "pulsatile" else 0
        record_every = max(1, (self.window // 20) // self.k) if self.mode == "steady" else 1
        # steady: the last whole window within max_time is averaged field by field too, so a run
        # that does not settle (an unsteady jet) reports the mean of the window its port values
        # come from, not a snapshot; the run stops at that window's end
        last_end = (total // self.window) * self.window if self.mode == "steady" else 0
        field_every = max(self.k, (self.window // 10) // self.k * self.k)
        status = "max_time"
        try:
            while sim.time_step < total:
                self._apply_inlet(sim.time_s)
                sim.step(self.k)
                flows = sim.port_flows_m3_s()
                pm = self._couple(flows)
                s["chunk"] += 1
                q = np.array([flows[n] for n in self.names])
                pp = np.array([v for v in sim.port_pressures_pa().values()]) + self.setup.pressure_offset_pa
                self._latest = (q, pp)
                if s["chunk"] % record_every == 0:
                    s["series_t"].append(sim.time_s)
                    s["series_q"].append(q)
                    s["series_p"].append(pp)
                    s["series_pm"].append(np.array([pm.get(n, np.nan) for n in self.names]))
                step = sim.time_step
                if self.mode == "steady":
                    if last_end >= self.window and last_end - self.window < step <= last_end and \
                            (last_end - step) % field_every == 0:
                        self._accumulate_fields()
                    if self._steady_window(q, pp):
                        status = "converged"
                        break
                    if last_end >= self.window and step >= last_end:
                        break  # no whole window fits before max_time
                else:
                    last_cycle_start = (self.cycles - 1) * self.period_steps
                    if step > last_cycle_start and (step - last_cycle_start) % sample_every < self.k:
                        self._sample()
                if self.checkpoint_interval and sim.time_step % self.checkpoint_interval == 0:
                    self._save_checkpoint()
                bar.set_postfix_str(f"t={sim.time_s:.4f} s", refresh=False)
                bar.update(self.k)
        finally:
            bar.close()
        if self.mode == "pulsatile":
            status = "completed"
        return self._result(status, time.perf_counter() - t0)

    def _steady_window(self, q, pp) -> bool:
        s = self._state
        s["win_q"] = s["win_q"] + q
        s["win_p"] = s["win_p"] + pp
        s["win_n"] += 1
        if s["win_n"] * self.k < self.window:
            return False
        mq, mp = s["win_q"] / s["win_n"], s["win_p"] / s["win_n"]
        s["win_q"], s["win_p"], s["win_n"] = np.zeros_like(mq), np.zeros_like(mp), 0
        qin = abs(self.setup.waveform.mean_m3_s) or 1.0
        pscale = max(float(np.ptp(mp)), MMHG_PA)
        if s["prev_q"] is not None:
            dq = float(np.max(np.abs(mq - s["prev_q"]))) / qin
            # pressure differences between ports (what gradients are made of) against their own
            # spread (at least 1 mmHg), and the common level against itself: with RCR outlets the
            # level settles slowly (R_total x lattice compliance) by a fraction of a per cent of
            # ~90 mmHg, which must not hold a run whose gradients and flows have long settled
            prev = s["prev_p"]
            diff_pa = float(np.max(np.abs((mp - mp[0]) - (prev - prev[0]))))
            level = float(np.mean(mp))
            level_pa = abs(level - float(np.mean(prev)))
            dp = max(diff_pa / pscale, level_pa / max(abs(level), pscale))
            # mass balance too: with large outlet resistances the weakly compressible lattice
            # drifts slowly (time constant R_total V / (rho cs^2)) while window-to-window changes
            # already look small
            dm = abs(float(np.sum(mq))) / qin  # port flows are signed out of the fluid
            # relative changes (the criterion), then the absolute ones and their scales (the
            # diagnosis of a run that ends unconverged, _steady_diagnosis)
            s["history"].append([self.sim.time_s, dq, dp, dm, diff_pa, level_pa, pscale, qin])
            ok = max(dq, dp, dm) < self.tol and s["ramped"] and self.sim.time_s >= self.min_time_s
            s["calm"] = s["calm"] + 1 if ok else 0
        s["prev_q"], s["prev_p"] = mq, mp
        s["last_q"], s["last_p"] = mq.tolist(), mp.tolist()
        s["recent_windows"] = (s.get("recent_windows", []) + [[self.sim.time_s, mp.tolist()]])[-RECENT_WINDOWS:]
        if s["calm"] >= 2:
            s["converged"] = True
            return True
        return False

    def _sample(self):
        self._accumulate_fields()
        if self.on_sample is not None:
            # whatever the callback returns is kept (and checkpointed) in RunResult.samples
            out = self.on_sample(self.sim, self.sim.time_s)
            if out is not None:
                self._state["samples"].append(np.asarray(out, float))

    def _accumulate_fields(self):
        s = self._state
        f = self.sim.fields()
        f = {"pressure_pa": f["pressure_pa"] + self.setup.pressure_offset_pa,
             "velocity_m_s": f["velocity_m_s"], "stress_pa": f["stress_pa"]}
        if s["field_sums"] is None:
            s["field_sums"] = {k: np.zeros_like(v, dtype=float) for k, v in f.items()}
        for k, v in f.items():
            s["field_sums"][k] += v
        s["n_samples"] += 1

    def _steady_diagnosis(self) -> dict:
        """Why a steady run ended unconverged, in clinical units: which criterion of the last
        window failed and whether the port pressure differences drift (the run needs longer) or
        swing back and forth (the flow is unsteady: a jet or vortex shedding)."""
        s = self._state
        out = {"tolerance": self.tol, "window_s": self.window * self.dt,
               "windows_compared": len(s["history"])}
        if not s["history"]:
            out["reason"] = "ran shorter than two averaging windows"
            return out
        row = s["history"][-1]
        dq, dp, dm = row[1:4]
        out["failed"] = [name for name, v in (("flow", dq), ("pressure", dp), ("mass", dm))
                         if v >= self.tol]
        out["mass_imbalance"] = dm
        if len(row) >= 8:  # (a checkpoint of an older version holds the relative changes only)
            d_diff_pa, d_level_pa, pscale, qin = row[4:8]
            level = abs(float(np.mean(s["last_p"])))
            out.update({
                "flow_change_ml_s": dq * qin * 1e6, "flow_tolerance_ml_s": self.tol * qin * 1e6,
                "pressure_difference_change_mmhg": d_diff_pa / MMHG_PA,
                "pressure_difference_tolerance_mmhg": self.tol * pscale / MMHG_PA,
                "pressure_level_change_mmhg": d_level_pa / MMHG_PA,
                "pressure_level_tolerance_mmhg": self.tol * max(level, pscale) / MMHG_PA})
        if not s["ramped"] or self.sim.time_s < self.min_time_s:
            out["failed"].append("min_time")
        wins = s.get("recent_windows", [])
        if "pressure" in out["failed"] and len(wins) >= 4:
            p = np.array([w[1] for w in wins], float)
            d = (p - p[:, :1]) / MMHG_PA  # pressure differences to the first port (mmHg)
            path = np.abs(np.diff(d, axis=0)).sum(axis=0)
            j = int(np.argmax(path))
            net = abs(d[-1, j] - d[0, j])
            out["pressure_behaviour"] = "fluctuating" if net < 0.5 * path[j] else "drifting"
            out["pressure_swing_mmhg"] = float(np.max(d.max(axis=0) - d.min(axis=0)))
            out["pressure_net_change_mmhg"] = float(net)
            out["over_s"] = float(wins[-1][0] - wins[0][0])
        return out

    # ------------------------------------------------------------------ results
    def _result(self, status, wall) -> RunResult:
        s, names = self._state, self.names
        t = np.asarray(s["series_t"], float)
        Q = np.asarray(s["series_q"], float).reshape(-1, len(names))
        P = np.asarray(s["series_p"], float).reshape(-1, len(names))
        info = {"dt_s": self.dt, "coupling_interval": self.k, "pressure_offset_pa":
                self.setup.pressure_offset_pa}
        per_err = float("nan")
        if self.mode == "steady":
            if "last_q" in s:
                mq, mp = np.asarray(s["last_q"]), np.asarray(s["last_p"])
            elif len(Q):  # ran shorter than one window
                mq, mp = Q[-1], P[-1]
            else:  # shorter than one record interval (a twentieth of a window): the last step's
                mq, mp = self._latest
            pmin = pmax = mp
            info["window_steps"] = self.window
            info["max_time_s"] = self.max_time_s
            converged = bool(s["converged"])
            if not converged:
                info["convergence"] = self._steady_diagnosis()
        else:
            ps = self.period_steps
            step_t = np.round(t / self.dt).astype(np.int64)
            last = step_t > (self.cycles - 1) * ps
            prev = (step_t > (self.cycles - 2) * ps) & ~last
            mq, mp = Q[last].mean(0), P[last].mean(0)
            pmin, pmax = P[last].min(0), P[last].max(0)
            info["period_steps"] = ps
            info["period_s"] = ps * self.dt
            info["samples"] = s["n_samples"]
            # periodic = the last two cycles' mean flows and pressures agree; one cycle (the start-up
            # transient's own) cannot show it, so it is not called periodic
            converged = False
            info["periodicity_tolerance"] = self.periodicity_tolerance
            if self.cycles >= 2 and prev.any():
                pq, pp_ = Q[prev].mean(0), P[prev].mean(0)
                qin = abs(self.setup.waveform.mean_m3_s) or 1.0
                pref = max(float(np.mean(np.abs(mp))), 133.322387415)
                per_err = max(float(np.max(np.abs(mq - pq))) / qin, float(np.max(np.abs(mp - pp_))) / pref)
                converged = per_err < self.periodicity_tolerance
                status = "periodic" if converged else "not_periodic"
            else:
                status = "periodicity_not_checked"
            info["cycles"] = self.cycles
        inlet_q = -mq[names.index(self.setup.inlet)]
        out_q = sum(mq[names.index(n)] for n in names if n != self.setup.inlet)
        imbalance = abs(inlet_q - out_q) / abs(inlet_q) if inlet_q else float("nan")
        mean_fields = None
        if s["field_sums"] is not None and s["n_samples"]:
            mean_fields = {k: v / s["n_samples"] for k, v in s["field_sums"].items()}
        flows = {n: float(mq[i]) for i, n in enumerate(names)}
        return RunResult(
            mode=self.mode, converged=converged, status=status, steps=self.sim.time_step,
            time_s=self.sim.time_s, wall_s=wall, mean_flows_m3_s=flows,
            mean_pressures_pa={n: float(mp[i]) for i, n in enumerate(names)},
            min_pressures_pa={n: float(pmin[i]) for i, n in enumerate(names)},
            max_pressures_pa={n: float(pmax[i]) for i, n in enumerate(names)},
            series={"time_s": t, "flow_m3_s": Q, "pressure_pa": P, "names": names,
                    "model_pressure_pa": np.asarray(s["series_pm"], float).reshape(-1, len(names))},
            history=list(s["history"]), mass_imbalance=float(imbalance),
            periodicity_error=per_err, mean_fields=mean_fields, info=info,
            samples=list(s["samples"]))
