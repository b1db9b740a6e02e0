"""The bench: emulated devices fed by a running plant, with faults, watchdogs and a trace.

`Bench(plant, config)` serves any `hil.plant.Plant`. `Bench.on_step(sample)` is the
plant's step hook (called in the plant's thread after every interval): it applies queued
commands and faults through the plant (`Plant.operate`, `Plant.fault`: the plant's own
fault path and fault log), runs each unit's watchdog, refreshes every register image and
records the trace. Commands arrive from the Modbus thread through `setpoint` and
`command`, both queued and handed to the plant at its next step hook: the plant is only
changed from its own thread, and each setpoint is in force from a known plant instant (the
one `EventLog.setpoints` stamps it with: the offline replay applies it there too).

Unit ids on the bench port: storage units 1..N (park order), meters 101.. (enterprise
order), the site-information device 200.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from hil.emulated import (
    METER_ID_FIRST,
    SITE_ID,
    UNIT_ID_FIRST,
    EmulatedMeter,
    EmulatedUnit,
    EventLog,
    SiteDevice,
)
from hil.faults import FAULT_KINDS, METER_FAULTS, UNIT_FAULTS, BenchFault
from hil.plant import Plant, PlantSample, UnitAction
from hil.server import ModbusEndpoint, RtuConfig
from hil.vendor import load_vendor_file
from parktwin.config import Frozen
from parktwin.errors import InputError

#: a guard quiet this long [plant s] is logged again when it next acts
GUARD_QUIET_S = 1.0


class BenchConfig(Frozen):
    """How the bench serves the plant."""

    host: str = "127.0.0.1"
    port: int = Field(5020, ge=0, le=65535, description="0: any free port (read it back)")
    allow_remote: bool = False
    watchdog_s: float = Field(10.0, ge=0.0, le=3600.0, description="0: no watchdog")
    fallback_kw: float = Field(0.0, description="power a silent unit reverts to (+ charging)")
    vendor_map: Path | None = None
    faults: tuple[BenchFault, ...] = ()
    seed: int = 0
    export_margin_kw: float = Field(100.0, ge=0.0)
    demand_target_kw: float = Field(0.0, ge=0.0, description="0: none published")
    soc_min: float | None = Field(None, ge=0.0, le=1.0)
    soc_max: float | None = Field(None, ge=0.0, le=1.0)
    record: bool = False
    fault_control: bool = Field(True, description="serve the site device's fault-injection points")
    rtu: RtuConfig | None = Field(None, description="also serve Modbus RTU on this serial port")


class _Sink:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        self.bench._set(index, p_kw, q_kvar)

    def command(self, index: int, action: UnitAction) -> None:
        self.bench._commands.put((index, action))


class Trace:
    """What the bench saw, one row per plant step (wall-clock stamped)."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {}

    def add(self, **row: Any) -> None:
        for k, v in row.items():
            self.rows.setdefault(k, []).append(np.copy(v) if isinstance(v, np.ndarray) else v)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.rows.items()}

    def __len__(self) -> int:
        return len(self.rows.get("t_s", ()))


class Bench:
    """Emulated units, meters and site device over one plant."""

    def __init__(
        self, plant: Plant, config: BenchConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        ratings = list(plant.ratings)
        meter_names = list(plant.meter_names)
        if len(ratings) > METER_ID_FIRST - UNIT_ID_FIRST:
            raise InputError(f"bench: {len(ratings)} units, at most 100 fit unit ids 1..100")
        if len(meter_names) > SITE_ID - METER_ID_FIRST:
            raise InputError(f"bench: {len(meter_names)} meters, at most 99 fit unit ids 101..199")
        self.plant = plant
        self.config = config
        self.ratings = ratings
        self.unit_meter = [int(j) for j in plant.unit_meter]
        self._commands: queue.Queue[tuple[int, UnitAction]] = queue.Queue()
        self._setpoints: list[tuple[int, float, float]] = []  # under `log.lock`
        self._injected: queue.Queue[BenchFault] = queue.Queue()
        self.log = EventLog(clock)
        vendor = load_vendor_file(config.vendor_map)
        sink = _Sink(self)
        self.units = [
            EmulatedUnit(
                i,
                r,
                sink,
                vendor,
                config.watchdog_s,
                config.fallback_kw,
                self.log,
                clock,
                address=UNIT_ID_FIRST + i,
            )
            for i, r in enumerate(ratings)
        ]
        self.meters = [
            EmulatedMeter(name, j, seed=config.seed * 1000 + j, address=METER_ID_FIRST + j)
            for j, name in enumerate(meter_names)
        ]
        self.site = SiteDevice(self._control if config.fault_control else None)
        self.devices: dict[int, EmulatedUnit | EmulatedMeter | SiteDevice] = {
            UNIT_ID_FIRST + i: u for i, u in enumerate(self.units)
        }
        self.devices.update({METER_ID_FIRST + j: m for j, m in enumerate(self.meters)})
        self.devices[SITE_ID] = self.site
        for dev in self.devices.values():
            for img in dev.images:
                img.on_reject = lambda exc, name=dev.name: self.log.add(name, "reject", str(exc))
        self._names = {u.name: u for u in self.units} | {m.name: m for m in self.meters}
        for f in config.faults:
            self._check_target(f)
        self.faults: list[BenchFault] = list(config.faults)
        self._active: set[int] = set()
        self.p_cmd_kw = np.zeros(len(self.units))  # the setpoints in force
        self.q_cmd_kvar = np.zeros(len(self.units))
        self.trace = Trace()
        self._last_t: float | None = None
        self._guards: dict[str, tuple[int, float]] = {}  # guard -> (count, last rise t_s)
        self.endpoint: ModbusEndpoint | None = None
        #: scripted site load per meter (the bench's programmable load): f(t_s, j) -> kW or None
        self.meter_base_kw: Callable[[float, int], float | None] | None = None
        #: scripted tariff: f(t_s) -> (period code, price yuan/kWh) or None
        self.tariff: Callable[[float], tuple[int, float] | None] | None = None
        plant.add_step_hook(self.on_step)

    # -- serving ---------------------------------------------------------------------------
    def serve(self) -> int:
        """Start the Modbus endpoint; returns its port."""
        self.endpoint = ModbusEndpoint(
            self.devices,
            self.config.host,
            self.config.port,
            self.config.allow_remote,
            rtu=self.config.rtu,
        )
        return self.endpoint.start()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()

    # -- commands from the Modbus thread -----------------------------------------------------
    def _set(self, index: int, p_kw: float, q_kvar: float) -> None:
        with self.log.lock:
            self._setpoints.append((index, p_kw, q_kvar))

    def _take_setpoints(self, t_s: float) -> None:
        """Hand the queued setpoints to the plant; the logged ones are stamped `t_s`."""
        with self.log.lock:
            todo, self._setpoints = self._setpoints, []
            self.log.take_setpoints(t_s)
        for index, p_kw, q_kvar in todo:
            self.p_cmd_kw[index] = p_kw
            self.q_cmd_kvar[index] = q_kvar
            self.plant.set_setpoint(index, p_kw, q_kvar)

    def inject(self, fault: BenchFault) -> None:
        """Start a fault now (on demand); thread-safe. `at_s` is taken as 'now'."""
        self._check_target(fault)
        self._injected.put(fault)

    def _control(self, kind: int, target_id: int, duration_s: float, value: float) -> None:
        """A fault injected over Modbus (site device, bench-control points)."""
        if target_id == 0:
            target = "all"
        elif target_id in self.devices and target_id != SITE_ID:
            target = self.devices[target_id].name
        else:
            self.log.add("site", "reject", f"fault target {target_id}: no such device")
            return
        fault = BenchFault(
            kind=FAULT_KINDS[kind - 1], target=target, duration_s=duration_s or None, value=value
        )
        try:
            self.inject(fault)
        except InputError as exc:
            self.log.add("site", "reject", str(exc))

    def _check_target(self, f: BenchFault) -> None:
        if f.target == "all":
            return
        dev = self._names.get(f.target)
        if dev is None:
            raise InputError(f"fault {f.kind}: no unit or meter named {f.target!r}")
        if f.kind in UNIT_FAULTS and not isinstance(dev, EmulatedUnit):
            raise InputError(f"fault {f.kind}: {f.target!r} is not a storage unit")
        if f.kind in METER_FAULTS and not isinstance(dev, EmulatedMeter):
            raise InputError(f"fault {f.kind}: {f.target!r} is not a meter")

    def _targets(self, f: BenchFault) -> list:
        if f.target != "all":
            return [self._names[f.target]]
        if f.kind in UNIT_FAULTS:
            return list(self.units)
        if f.kind in METER_FAULTS:
            return list(self.meters)
        return [*self.units, *self.meters]

    def _apply_fault(self, f: BenchFault, on: bool) -> None:
        for dev in self._targets(f):
            if f.kind == "comm_loss":
                dev.link_up = not on
            elif f.kind == "frozen_meter":
                dev.frozen = on
            elif f.kind == "meter_noise":
                dev.noise_kw = f.value if on else 0.0
            elif f.kind == "meter_delay":
                dev.delay_s = f.value if on else 0.0
                dev.response_delay_s = f.value / 10.0 if on else 0.0
            else:  # a unit fault: the plant's fault path trips the PCS (and resets it after)
                dev.faults[f.kind] = on
                self.plant.fault(dev.index, f.kind, on)
            self.log.add(dev.name, "fault" if on else "clear", f"{f.kind}")

    def _faults_at(self, t_s: float) -> None:
        while not self._injected.empty():
            f = self._injected.get_nowait()
            self.faults.append(f.model_copy(update={"at_s": t_s}))
        for k, f in enumerate(self.faults):
            active = f.at_s <= t_s < f.end_s
            if active and k not in self._active:
                self._active.add(k)
                self._apply_fault(f, True)
            elif not active and k in self._active:
                self._active.discard(k)
                self._apply_fault(f, False)

    # -- the plant's step hook -----------------------------------------------------------------
    def on_step(self, s: PlantSample) -> None:
        """Called by the plant after every interval (in the plant's thread)."""
        t_s = float(s.t_s)
        dt_s = 0.0 if self._last_t is None else max(t_s - self._last_t, 0.0)
        self._last_t = t_s
        self.log.t_sim_s = t_s
        while not self._commands.empty():
            index, action = self._commands.get_nowait()
            self.plant.operate(index, action)
            self.log.add(self.units[index].name, "command", action)
        self._faults_at(t_s)
        n = len(self.units)
        for i, u in enumerate(self.units):
            u.tick()
            u.publish(
                t_s,
                dt_s,
                {
                    "p_ac_kw": float(s.p_ac_kw[i]),
                    "q_ac_kvar": float(s.q_ac_kvar[i]),
                    "soc": float(s.soc[i]),
                    "soh": float(s.soh[i]),
                    "temp_c": float(s.temp_c[i]),
                    "ambient_c": float(s.ambient_c),
                    "pcs_state": int(s.pcs_state[i]),
                    "p_charge_max_kw": float(s.p_charge_max_kw[i]),
                    "p_discharge_max_kw": float(s.p_discharge_max_kw[i]),
                },
            )
        self._take_setpoints(t_s)
        self._note_guards(t_s, s.guard_interventions)
        p_ac = np.asarray(s.p_ac_kw, dtype=float)
        pcc_true = np.array(s.pcc_kw, dtype=float)
        if self.meter_base_kw is not None:
            p_own = p_ac + np.asarray(s.p_aux_kw, dtype=float)
            for j in range(len(self.meters)):
                base = self.meter_base_kw(t_s, j)
                if base is not None:
                    own = [i for i in range(n) if self.unit_meter[i] == j]
                    pcc_true[j] = base + float(np.sum(p_own[own]))
        for j, meter in enumerate(self.meters):
            meter.publish(t_s, dt_s, float(pcc_true[j]), float(s.pcc_kvar[j]))
        code, price = self._tariff(t_s, s)
        c = self.config
        soc_min = c.soc_min if c.soc_min is not None else max(r.soc_min for r in self.ratings)
        soc_max = c.soc_max if c.soc_max is not None else min(r.soc_max for r in self.ratings)
        self.site.publish(
            {
                "t_s": int(t_s),
                "period_code": code,
                "price_yuan_per_kwh": price,
                "export_margin_kw": c.export_margin_kw,
                "demand_target_kw": c.demand_target_kw,
                "soc_min": soc_min,
                "soc_max": soc_max,
                "n_units": n,
                "n_meters": len(self.meters),
                "watchdog_s": c.watchdog_s,
            }
        )
        if c.record:
            self.trace.add(
                t_s=t_s,
                wall_s=self.log.clock() - self.log.t0,
                p_ac_kw=p_ac,
                p_set_kw=np.asarray(s.p_set_kw, dtype=float),
                p_cmd_kw=self.p_cmd_kw,
                q_cmd_kvar=self.q_cmd_kvar,
                soc=np.asarray(s.soc, dtype=float),
                pcs_state=np.asarray(s.pcs_state),
                p_charge_max_kw=np.asarray(s.p_charge_max_kw, dtype=float),
                p_discharge_max_kw=np.asarray(s.p_discharge_max_kw, dtype=float),
                reverted=np.array([u.reverted for u in self.units]),
                link_up=np.array([u.link_up for u in self.units]),
                pcc_kw=pcc_true,
                meter_kw=np.array([m.shown_kw for m in self.meters]),
                period=code,
                price=price,
            )

    def _note_guards(self, t_s: float, counts) -> None:
        """Log a guard that starts acting on the setpoints (not every interval it goes on:
        quiet for `GUARD_QUIET_S` of plant time, it starts again)."""
        for name, n in counts.items():
            n0, t_rise = self._guards.get(name, (0, -math.inf))
            if n > n0:
                if t_s - t_rise > GUARD_QUIET_S:
                    self.log.add(
                        "park", "guard", f"{name} guard acts on the setpoints ({n} so far)"
                    )
                self._guards[name] = (n, t_s)

    def _tariff(self, t_s: float, s: PlantSample) -> tuple[int, float]:
        if self.tariff is not None:
            got = self.tariff(t_s)
            if got is not None:
                return got
        price = float(s.price_yuan_per_kwh)
        return int(s.period), price if math.isfinite(price) else 0.0
