"""The simpy engine of one park: plant, grid, controller, events and recorder processes.

Time inside the engine is counted in physics steps (``scenario.step_s``), so events of
different processes that fall on the same instant coincide exactly. At each instant the
processes run in a fixed order, set by event priorities (simpy orders events at equal time
by priority, then by creation):

    plant: every unit over the interval that just ended,       priority 1
           ONE `Fleet.step` call (n_sub physics steps inside)
    grid: `ParkGrid.solve` with that interval's mean powers;   priority 2
          the recorder folds the solve into its grid extremes
    recorder: one row of preallocated arrays; step hooks       priority 3
          (the HIL bench's faults, `apply_fault`, act on the interval that starts now);
          every `twin.reference.CHUNK_ROWS` rows the reference power flows of the
          summary (no storage; each interval's own) for the rows recorded
    events: tariff period change, scheduled faults (they act   priority 4
           on the interval that starts now)
    controller: strategy + guards for the coming period,       priority 5
           seeing the meters the grid just solved (closed loop)

Plant and recorder tick every plant interval (the gcd of the control and grid periods),
the grid every grid period, the controller every control period: events only at those
periods, never at every physics step. In wall-clock mode the environment is
`simpy.rt.RealtimeEnvironment(factor=step_s / speed, strict=False)`; the engine measures
how far it runs behind (`lag_s`) and reports it instead of failing.

What the loop runs on (site, grid model, inputs, fleet, strategy, guard settings) is built
once by `twin.wiring.wire`; `Simulation` holds the loop's state only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import get_args

import numpy as np
import simpy
import simpy.rt
from simpy.events import Event

from parktwin.errors import InputError, SimulationError
from parktwin.limits import GridLimits
from twin.availability import availability_of
from twin.grid_guard import GridGuard
from twin.guards import GUARD_NAMES, guard_kernel
from twin.inputs import Inputs
from twin.recorder import Recorder, grid_elements
from twin.reference import CHUNK_ROWS, REALTIME_CHUNK_ROWS, ReferenceSolves
from twin.scenario import FaultSpec, Scenario
from twin.strategies import Observation, Strategy
from twin.wiring import Wiring, site_of, wire

__all__ = ["PlantView", "Simulation", "Tick", "site_of"]

log = logging.getLogger("twin.engine")

PRIO_PLANT, PRIO_GRID, PRIO_RECORD, PRIO_EVENTS, PRIO_CONTROL = 1, 2, 3, 4, 5
#: the faults a scenario can schedule and `Simulation.inject_fault` can inject
FAULT_KINDS: tuple[str, ...] = get_args(FaultSpec.model_fields["kind"].annotation)


class Tick(Event):
    """A timeout with an explicit priority among the events of one instant."""

    def __init__(self, env: simpy.Environment, delay: int, priority: int) -> None:
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        self._delay = delay
        env.schedule(self, priority, delay)


@dataclass(eq=False)
class PlantView:
    """What a step hook sees after each plant interval (arrays shared: copy to keep)."""

    unit_names: tuple[str, ...]
    meter_names: tuple[str, ...]
    t_s: float = 0.0
    k: int = 0
    soc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    soh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_ac_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_ac_kvar: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_aux_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temp_c: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pcs_state: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    p_set_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pcc_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pcc_kvar: np.ndarray = field(default_factory=lambda: np.zeros(0))
    period: int = 2
    price_yuan_per_kwh: float = 0.0


class Simulation:
    """One simulated park. Build it, `run()` it (blocking; the HIL bench runs it in a thread).

    `scenario` is a scenario (wired here by `twin.wiring.wire`, which the keyword arguments
    `site`, `network`, `inputs`, `initial_state`, `limits` and `strategy` are passed to) or
    a ready `Wiring`. `realtime_speed` (simulated s per real s) overrides the scenario's.
    The engine holds the loop's state only; what it runs on is `self.wiring`.
    """

    def __init__(
        self,
        scenario: Scenario | Wiring,
        strategy: str | Strategy | None = None,
        realtime_speed: float | None = None,
        *,
        site=None,
        network=None,
        inputs: Inputs | None = None,
        initial_state: dict | None = None,
        limits: GridLimits | None = None,
        progress: bool = False,
        trace: bool = False,
    ) -> None:
        if isinstance(scenario, Wiring):
            w = scenario
        else:
            w = wire(
                scenario,
                strategy,
                site=site,
                network=network,
                inputs=inputs,
                initial_state=initial_state,
                limits=limits,
            )
        self.wiring = w
        sc = self.scenario = w.scenario
        self.site, self.layout, self.network, self.inputs = w.site, w.layout, w.network, w.inputs
        self.fleet, self.strategy, self.park_info = w.fleet, w.strategy, w.park_info
        self.forecast, self.basic_charge = w.forecast, w.basic_charge
        self.plant_every, self.interval_s, self.n_rows = w.plant_every, w.interval_s, w.n_rows
        lay, inputs, g = w.layout, w.inputs, w.guards
        self.e_stored0_kwh = np.array(self.fleet.e_stored_kwh, dtype=float)
        self.notices, self.scheme, self.billing = w.notices, w.scheme, w.billing
        # When each unit may run (maintenance, outages, grid-ordered stops); a bench run
        # (wall clock) tests a controller: its PCS is always there.
        bench = bool(realtime_speed) or sc.realtime_speed is not None
        self.availability = (
            None
            if bench
            else availability_of(sc, self.n_rows, self.interval_s, inputs, lay.n_units)
        )
        self.guard_counts = np.zeros(len(GUARD_NAMES), dtype=np.int64)
        self.obs = Observation(park=self.park_info, forecast=self.forecast)
        n_u, n_e = lay.n_units, lay.n_enterprises
        self.p_cmd = np.zeros(n_u)
        self.q_cmd = np.zeros(n_u)
        self.comm_ok = np.ones(n_u, dtype=bool)
        self.comm_fallback = np.zeros(n_u, dtype=np.int64)  # 0 = zero, 1 = hold
        self.period = int(inputs.period[0])
        self.price_yuan_per_kwh = float(inputs.price_yuan_per_kwh[0])
        self.month_peak_kw = np.zeros(n_e)
        self.last_step = None
        self._acc_p = np.zeros(n_u)
        self._acc_q = np.zeros(n_u)
        self._acc_n = 0
        self._grid_per = sc.grid_every // self.plant_every  # plant intervals per grid period
        self._control_per = sc.control_every // self.plant_every  # ... per control period
        self._step_s = sc.step_s
        self._dt_control_s = sc.control_every * sc.step_s
        self._g = g
        self.grid_guard = self._grid_guard_of(sc, w.limits)
        self.grid_guard_curtailed_kwh = 0.0
        # one kernel call for both limits when the fleet offers it (`Fleet._limits`)
        both = getattr(self.fleet, "_limits", None)
        self._power_limits = both if both is not None else self._power_limits_public
        self._storage_at_meter = np.zeros(n_e)
        self._next_month_k = -1
        self._zeros_u = np.zeros(n_u)
        self._comm_all_ok = True
        self.snap = self.network.solve(
            inputs.load_kw[0], inputs.pv_kw[0], np.zeros(n_u), np.zeros(n_u)
        )
        self._note_meters(0, self.snap)
        held = sc.grid_every != self.plant_every
        self.recorder = Recorder(
            self.n_rows, n_u, n_e, grid_elements(self.network, w.limits), held=held
        )
        self.view = PlantView(unit_names=lay.unit_names, meter_names=lay.enterprise_names)
        self._hooks: list[Callable[[PlantView], None]] = []
        self.events_log: list[tuple[str, float]] | None = [] if trace else None
        self.fault_log: list[tuple[float, str, str]] = []
        self.n_solves = 0
        self.n_decisions = 0
        # Environment.
        speed = realtime_speed if realtime_speed is not None else sc.realtime_speed
        self.realtime_speed = speed
        self.reference = ReferenceSolves(
            self.network,
            inputs,
            self.recorder,
            held=held,
            limits=w.limits if self.grid_guard is not None else None,
            chunk_rows=REALTIME_CHUNK_ROWS if speed else CHUNK_ROWS,
        )
        if speed:
            self.env = simpy.rt.RealtimeEnvironment(factor=sc.step_s / speed, strict=False)
        else:
            self.env = simpy.Environment()
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self.intervals_behind = 0
        self._last_lag_report = -math.inf
        self._stop_flag = threading.Event()
        self._started = False
        self._end_row = self.n_rows
        self._done: Event | None = None
        self._progress = progress
        self._bar = None
        self.wall_s = 0.0

    # --- public -------------------------------------------------------------------------
    def add_step_hook(self, fn: Callable[[PlantView], None]) -> None:
        """Call ``fn(view)`` after every plant interval (in the simulation's thread)."""
        self._hooks.append(fn)

    def stop(self) -> None:
        """Ask the run to end after the current interval (thread-safe)."""
        self._stop_flag.set()

    def apply_fault(self, kind: str, unit: int | str, begin: bool) -> None:
        """Begin or end a fault of `unit` (index or name) now, by the path scenario faults
        take (one `fault_log`). `kind`: one of `FAULT_KINDS`. Call it from the simulation's
        thread, e.g. a step hook (the HIL bench)."""
        if kind not in FAULT_KINDS:
            raise InputError(f"fault kind: {kind!r}, expected one of {', '.join(FAULT_KINDS)}")
        self._fault_action(kind, self._unit_index(unit, "fault unit"), begin)()

    def operate(self, unit: int, action: str) -> None:
        """An operator's command to a unit's PCS: "start", "stop" or "reset" (FAULT -> STANDBY).
        Call it from the simulation's thread, e.g. a step hook."""
        if action not in ("start", "stop", "reset"):
            raise InputError(f"operate: unknown action {action!r} (start, stop, reset)")
        getattr(self.fleet, action)(self._unit_index(unit, "operate unit"))

    @property
    def t_s(self) -> float:
        """Simulated time [s] since the start."""
        return float(self.env.now) * self.scenario.step_s

    @property
    def rows_done(self) -> int:
        return self.recorder.rows

    def run(self, until_s: float | None = None) -> None:
        """Run (blocking) to `until_s` simulated seconds, or to the end of the scenario."""
        end = self.n_rows
        if until_s is not None:
            end = min(self.n_rows, math.ceil(until_s / self.interval_s - 1e-9))
        if end <= self.recorder.rows or self._stop_flag.is_set():
            return
        self._end_row = end
        self._done = self.env.event()
        if not self._started:
            self._start()
        if isinstance(self.env, simpy.rt.RealtimeEnvironment):
            self.env.env_start = self.env.now
            self.env.sync()
        t0 = time.perf_counter()
        if self._progress:
            self._open_bar()
        try:
            self.env.run(until=self._done)
        finally:
            self.wall_s += time.perf_counter() - t0
            if self._bar is not None:
                self._bar.stop()
                self._bar = None

    # --- processes ----------------------------------------------------------------------
    def _start(self) -> None:
        self._started = True
        env = self.env
        env.process(self._events())
        env.process(self._plant())
        env.process(self._grid())
        env.process(self._recorder())
        env.process(self._controller())

    def _trace(self, tag: str) -> None:
        self.events_log.append((tag, self.t_s))

    def _events(self):
        for at, tag, action in self._schedule():
            yield Tick(self.env, at - self.env.now, PRIO_EVENTS)
            action()
            if self.events_log is not None:
                self._trace(tag)

    def _schedule(self) -> list[tuple[int, str, Callable[[], None]]]:
        """(time in physics steps, tag, action) of tariff changes and faults, in time order."""
        out: list[tuple[int, int, str, Callable[[], None]]] = []
        per = self.inputs.period[: self.n_rows]
        price = self.inputs.price_yuan_per_kwh[: self.n_rows]
        change = np.flatnonzero((per[1:] != per[:-1]) | (price[1:] != price[:-1])) + 1
        for k in change:
            out.append((int(k) * self.plant_every, 0, "tariff", self._tariff_action(int(k))))
        names = self.layout.unit_names
        for i, f in enumerate(self.scenario.faults):
            unit = self._unit_index(f.unit, f"faults[{i}].unit")
            at = math.ceil(f.at_s / self.scenario.step_s - 1e-9)
            tag = f"{f.kind}:{names[unit]}"
            out.append((at, 1, tag, self._fault_action(f.kind, unit, True, f.fallback)))
            if f.duration_s is not None:
                end = math.ceil((f.at_s + f.duration_s) / self.scenario.step_s - 1e-9)
                out.append((end, 1, tag + ":end", self._fault_action(f.kind, unit, False)))
        out.sort(key=lambda e: (e[0], e[1]))
        return [(at, tag, act) for at, _, tag, act in out]

    def _unit_index(self, unit: int | str, where: str) -> int:
        """The index of a unit given by index or name; `where` names the field if it is bad."""
        names = self.layout.unit_names
        if isinstance(unit, int):
            if not 0 <= unit < len(names):
                raise InputError(f"{where}: index {unit} outside 0..{len(names) - 1}")
            return unit
        if unit not in names:
            raise InputError(f"{where}: no unit {unit!r} (units: {', '.join(names)})")
        return names.index(unit)

    def _tariff_action(self, k: int) -> Callable[[], None]:
        def act() -> None:
            self.period = int(self.inputs.period[k])
            self.price_yuan_per_kwh = float(self.inputs.price_yuan_per_kwh[k])

        return act

    def _fault_action(
        self, kind: str, unit: int, begin: bool, fallback: str = "zero"
    ) -> Callable[[], None]:
        def act() -> None:
            name = self.layout.unit_names[unit]
            self.fault_log.append((self.t_s, f"{kind}{'' if begin else ' cleared'}", name))
            if kind == "comm_loss":
                self.comm_ok[unit] = not begin
                self._comm_all_ok = bool(self.comm_ok.all())
                self.comm_fallback[unit] = 1 if fallback == "hold" else 0
            elif begin:  # pcs_trip, over_temperature (the BMS trips the PCS)
                self.fleet.trip(unit)
            else:
                self.fleet.reset(unit)

        return act

    def _plant(self):
        env, fleet, h, step_s = self.env, self.fleet, self.plant_every, self.scenario.step_s
        ambient = self.inputs.ambient_c.tolist()  # Python floats: no conversion per call
        stop = self._stop_flag
        k = 0
        while True:
            yield Tick(env, h, PRIO_PLANT)
            if stop.is_set():
                self._finish()
                return
            r = fleet.step(self.p_cmd, step_s, ambient[k], h, self.q_cmd)
            self.last_step = r
            if self._grid_per > 1:  # the grid solves the period's mean
                self._acc_p += r.p_ac_kw
                self._acc_p += r.p_aux_kw
                self._acc_q += r.q_ac_kvar
                self._acc_n += 1
            self.recorder.record_plant(k, self.p_cmd, r)
            if self.events_log is not None:
                self._trace("plant")
            if self.realtime_speed:
                self._measure_lag()
            k += 1

    def _grid(self):
        env, net, inp, lay = self.env, self.network, self.inputs, self.layout
        per, every = self._grid_per, self.scenario.grid_every
        ent, n_ent = lay.unit_enterprise, lay.n_enterprises
        k1 = 0
        while True:
            yield Tick(env, every, PRIO_GRID)
            k0, k1 = k1, k1 + per
            if per == 1:
                r = self.last_step
                load, pv = inp.load_kw[k0], inp.pv_kw[k0]
                storage, q = r.p_ac_kw + r.p_aux_kw, r.q_ac_kvar
            else:
                load, pv = inp.load_kw[k0:k1].mean(axis=0), inp.pv_kw[k0:k1].mean(axis=0)
                n = max(self._acc_n, 1)
                storage, q = self._acc_p / n, self._acc_q / n
                self._acc_p = np.zeros(lay.n_units)
                self._acc_q = np.zeros(lay.n_units)
                self._acc_n = 0
            snap = net.solve(load, pv, storage, q)
            self.snap = snap
            self.recorder.record_solve(snap)
            # what the storage behind each meter drew in the solved period
            self._storage_at_meter = np.bincount(ent, weights=storage, minlength=n_ent)
            self.n_solves += 1
            self._note_meters(k1 - 1, snap)
            if self.events_log is not None:
                self._trace("grid")

    def _note_meters(self, k: int, snap) -> None:
        """Keep the month's peak import at each meter (the billed demand)."""
        if k >= self._next_month_k:
            ms = self.inputs.month_start
            later = np.flatnonzero(ms[k:] != ms[k])
            self._next_month_k = k + int(later[0]) if len(later) else len(ms)
            self.month_peak_kw = np.maximum(snap.pcc_kw, 0.0)
        else:
            np.maximum(self.month_peak_kw, snap.pcc_kw, out=self.month_peak_kw)

    def _recorder(self):
        env, h, rec = self.env, self.plant_every, self.recorder
        k = -1
        while True:
            yield Tick(env, h, PRIO_RECORD)
            k += 1
            rec.record_grid(k, self.snap)
            self.reference.advance(k + 1)
            if self.events_log is not None:
                self._trace("record")
            if self._hooks:
                self._fill_view(k)
                for fn in self._hooks:
                    fn(self.view)
            if self._bar is not None and (k % 96 == 0 or k + 1 == self._end_row):
                self._bar.update(self._task, completed=k + 1)
            if k + 1 >= self._end_row:
                self.reference.finish(k + 1)
                self._finish()
                if k + 1 >= self.n_rows:
                    return

    def _finish(self) -> None:
        if self._done is not None and not self._done.triggered:
            self._done.succeed()

    def _controller(self):
        env, h, every = self.env, self.plant_every, self.scenario.control_every
        while True:
            k = int(env.now) // h
            if k >= self.n_rows:
                return
            self._decide(k)
            if self.events_log is not None:
                self._trace("control")
            yield Tick(env, every, PRIO_CONTROL)

    def _decide(self, k: int) -> None:
        obs, lay, r = self.obs, self.layout, self.last_step
        obs.k = k
        obs.t_s = float(self.env.now) * self._step_s
        self.forecast.k = k
        if r is not None:  # the state at the end of the last interval
            obs.soc, obs.soh, obs.temp_c = r.soc, r.soh, r.temp_c
            obs.p_ac_kw, obs.p_aux_kw, obs.pcs_state = r.p_ac_kw, r.p_aux_kw, r.pcs_state
        else:
            fleet = self.fleet
            obs.soc, obs.soh, obs.temp_c = fleet.soc, fleet.soh, fleet.temp_c
            obs.p_ac_kw = obs.p_aux_kw = self._zeros_u
            obs.pcs_state = fleet.pcs_state
        obs.p_charge_max_kw, obs.p_discharge_max_kw = self._power_limits()
        out_now = None
        if self.availability is not None and not self.availability.available[k].all():
            out_now = ~self.availability.available[k]  # these PCS sit the interval out
            obs.p_charge_max_kw = np.where(out_now, 0.0, obs.p_charge_max_kw)
            obs.p_discharge_max_kw = np.where(out_now, 0.0, obs.p_discharge_max_kw)
        snap = self.snap
        obs.pcc_kw = snap.pcc_kw
        obs.pcc_kvar = snap.pcc_kvar
        obs.net_load_kw = snap.pcc_kw - self._storage_at_meter
        m = self._control_per
        inp = self.inputs
        if m == 1:
            obs.fast_net_load_kw = inp.load_kw[k] - inp.pv_kw[k]
        else:  # the fast loop holds the whole period: its lowest net load binds
            obs.fast_net_load_kw = (inp.load_kw[k : k + m] - inp.pv_kw[k : k + m]).min(axis=0)
        obs.month_peak_kw = self.month_peak_kw
        obs.period = self.period
        obs.price_yuan_per_kwh = self.price_yuan_per_kwh
        out = self.strategy.decide(obs)
        self.n_decisions += 1
        if isinstance(out, tuple):
            p_req, q_req = out
        else:
            p_req, q_req = out, None
        p_req = np.asarray(p_req, dtype=float)
        q_req = self._zeros_u if q_req is None else np.asarray(q_req, dtype=float)
        if p_req.shape != (lay.n_units,) or q_req.shape != (lay.n_units,):
            raise SimulationError(
                f"strategy {getattr(self.strategy, 'name', self.strategy)!r} returned setpoints"
                f" of shape {p_req.shape}, expected ({lay.n_units},)"
            )
        if out_now is not None:
            p_req = np.where(out_now, 0.0, p_req)
            q_req = np.where(out_now, 0.0, q_req)
        e_kwh = self.park_info.e_nom_kwh * obs.soh
        aux = obs.p_aux_kw
        g = self._g
        net = obs.fast_net_load_kw if g.fast_loop else obs.net_load_kw
        p, q = guard_kernel(
            p_req,
            q_req,
            self.p_cmd,
            obs.soc,
            g.soc_min,
            g.soc_max,
            e_kwh,
            obs.p_charge_max_kw,
            obs.p_discharge_max_kw,
            g.pcs_kva,
            g.ramp_kw_per_s,
            lay.unit_trafo_kva,
            g.trafo_loading_max,
            aux,
            lay.unit_enterprise,
            net,
            g.backflow_margin_kw,
            self._dt_control_s,
            g.soc_efficiency,
            g.enable,
            self.guard_counts,
        )
        if self.grid_guard is not None:
            p, q = self._grid_cap(k, p, q, aux)
        if not self._comm_all_ok:
            lost = ~self.comm_ok
            hold = lost & (self.comm_fallback == 1)
            p = np.where(hold, self.p_cmd, np.where(lost, 0.0, p))
            q = np.where(hold, self.q_cmd, np.where(lost, 0.0, q))
        self.p_cmd = p
        self.q_cmd = q

    def _grid_guard_of(self, sc: Scenario, lim: GridLimits) -> GridGuard | None:
        """The grid-aware guard when the scenario asks for it (it needs the feeders)."""
        g = sc.guards
        if not g.grid_limits:
            return None
        if not hasattr(self.network, "probe"):
            raise InputError(
                "guards.grid_limits: needs the feeders' power flow (network = 'feeders'),"
                " not a copper plate"
            )
        return GridGuard(
            self.network,
            v_min_pu=lim.v_min_pu,
            v_max_pu=lim.v_max_pu,
            loading_max_pct=lim.loading_max_pct,
            margin_pct=g.grid_margin_pct,
            margin_v_pu=g.grid_margin_v_pu,
        )

    def _grid_cap(self, k: int, p: np.ndarray, q: np.ndarray, aux: np.ndarray):
        """The grid-aware guard over each grid period the coming control period touches
        (each solved with that period's mean load and PV, as the grid process will)."""
        gp, inp = self._grid_per, self.inputs
        p_in = p
        g = (k // gp) * gp
        while g < min(k + self._control_per, self.n_rows):
            load = inp.load_kw[g : g + gp].mean(axis=0)
            pv = inp.pv_kw[g : g + gp].mean(axis=0)
            p, q = self.grid_guard.cap(load, pv, aux, p, q)
            g += gp
        self.grid_guard_curtailed_kwh += float(np.abs(p_in - p).sum()) * self._dt_control_s / 3600
        return p, q

    def _power_limits_public(self) -> tuple[np.ndarray, np.ndarray]:
        """What each unit can charge / discharge now [kW], by the fleet's public methods."""
        return self.fleet.p_charge_max_kw(), self.fleet.p_discharge_max_kw()

    # --- wall clock ---------------------------------------------------------------------
    def _measure_lag(self) -> None:
        env = self.env
        due = env.real_start + (env.now - env.env_start) * env.factor
        self.lag_s = max(0.0, time.monotonic() - due)
        self.max_lag_s = max(self.max_lag_s, self.lag_s)
        if self.lag_s > env.factor * self.plant_every:
            self.intervals_behind += 1
            now = time.monotonic()
            if now - self._last_lag_report > 5.0:
                self._last_lag_report = now
                log.warning(
                    "wall-clock mode: %.3f s behind at t=%.1f s (%d intervals late so far);"
                    " carrying on from now",
                    self.lag_s,
                    self.t_s,
                    self.intervals_behind,
                )
            # never run faster than wall clock to catch up: the plant's next interval is due
            # one interval from now (a late plant reports its lag, it does not sprint)
            env.env_start = env.now
            env.sync()

    def _fill_view(self, k: int) -> None:
        v, r, snap = self.view, self.last_step, self.snap
        v.t_s = self.t_s
        v.k = k
        v.soc = r.soc
        v.soh = r.soh
        v.p_ac_kw = r.p_ac_kw
        v.q_ac_kvar = r.q_ac_kvar
        v.p_aux_kw = r.p_aux_kw
        v.temp_c = r.temp_c
        v.pcs_state = r.pcs_state
        v.p_set_kw = self.p_cmd
        v.pcc_kw = snap.pcc_kw
        v.pcc_kvar = snap.pcc_kvar
        v.period = self.period
        v.price_yuan_per_kwh = self.price_yuan_per_kwh

    def _open_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]twin run[/]"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} intervals"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("run", total=self._end_row, completed=self.recorder.rows)
        self._bar.start()

    # --- results --------------------------------------------------------------------------
    def guard_report(self) -> dict[str, int]:
        """Interventions of each guard so far."""
        out = {n: int(c) for n, c in zip(GUARD_NAMES, self.guard_counts, strict=True)}
        if self.grid_guard is not None:
            out["grid_limits"] = self.grid_guard.interventions
        return out
