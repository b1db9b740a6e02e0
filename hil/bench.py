"""The bench: emulated devices fed by a running plant, with faults, watchdogs and a trace.

`Bench.on_step(view)` is the plant's step hook (called in the plant's thread after every
step; `view` as `twin.engine.Simulation.add_step_hook` gives it): it applies queued
commands to the fleet, starts and ends faults, runs each unit's watchdog, refreshes every
register image and records the trace. Commands arrive from the Modbus thread through
`setpoint` (straight to the twin's thread-safe `ExternalSetpoints`) and `command`
(queued: the fleet is only touched from the plant's thread).

Unit ids on the bench port: storage units 1..N (park order), meters 101.. (enterprise
order), the site-information device 200.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from hil.emulated import EmulatedMeter, EmulatedUnit, EventLog, SiteDevice, UnitRatings
from hil.faults import METER_FAULTS, UNIT_FAULTS, BenchFault
from hil.server import ModbusEndpoint
from hil.vendor import load_vendor_file
from parktwin.config import Frozen
from parktwin.errors import InputError
from parktwin.tariff_periods import PERIOD_CODES

UNIT_ID_FIRST = 1
METER_ID_FIRST = 101
SITE_ID = 200


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


class _Sink:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        self.bench._set(index, p_kw, q_kvar)

    def command(self, index: int, action: str) -> None:
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
        self,
        ratings: Sequence[UnitRatings],
        meter_names: Sequence[str],
        unit_meter: Sequence[int],
        config: BenchConfig,
        set_setpoint: Callable[[int, float, float], None],
        fleet: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(ratings) > METER_ID_FIRST - UNIT_ID_FIRST:
            raise InputError(f"bench: {len(ratings)} units, at most 100 fit unit ids 1..100")
        if len(meter_names) > SITE_ID - METER_ID_FIRST:
            raise InputError(f"bench: {len(meter_names)} meters, at most 99 fit unit ids 101..199")
        self.config = config
        self.ratings = list(ratings)
        self.unit_meter = list(unit_meter)
        self.fleet = fleet
        self._set_setpoint = set_setpoint
        self._commands: queue.Queue[tuple[int, str]] = queue.Queue()
        self._injected: queue.Queue[BenchFault] = queue.Queue()
        self.log = EventLog(clock)
        vendor = load_vendor_file(config.vendor_map)
        sink = _Sink(self)
        self.units = [
            EmulatedUnit(i, r, sink, vendor, config.watchdog_s, config.fallback_kw, self.log, clock)
            for i, r in enumerate(ratings)
        ]
        self.meters = [
            EmulatedMeter(name, j, seed=config.seed * 1000 + j)
            for j, name in enumerate(meter_names)
        ]
        self.site = SiteDevice(self._control if config.fault_control else None)
        self.devices: dict[int, Any] = {UNIT_ID_FIRST + i: u for i, u in enumerate(self.units)}
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
        self.p_cmd_kw = np.zeros(len(self.units))
        self.trace = Trace()
        self._last_t: float | None = None
        self.endpoint: ModbusEndpoint | None = None
        #: scripted site load per meter (the bench's programmable load): f(t_s, j) -> kW or None
        self.meter_base_kw: Callable[[float, int], float | None] | None = None
        #: scripted tariff: f(t_s) -> (period code, price yuan/kWh) or None
        self.tariff: Callable[[float], tuple[int, float] | None] | None = None
        self._lock = threading.Lock()

    # -- serving ---------------------------------------------------------------------------
    def serve(self) -> int:
        """Start the Modbus endpoint; returns its port."""
        self.endpoint = ModbusEndpoint(
            self.devices, self.config.host, self.config.port, self.config.allow_remote
        )
        return self.endpoint.start()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()

    # -- commands from the Modbus thread -----------------------------------------------------
    def _set(self, index: int, p_kw: float, q_kvar: float) -> None:
        self.p_cmd_kw[index] = p_kw
        self._set_setpoint(index, p_kw, q_kvar)

    def inject(self, fault: BenchFault) -> None:
        """Start a fault now (on demand); thread-safe. `at_s` is taken as 'now'."""
        self._check_target(fault)
        self._injected.put(fault)

    def _control(self, kind: int, target_id: int, duration_s: float, value: float) -> None:
        """A fault injected over Modbus (site device, bench-control points)."""
        kinds = (
            "comm_loss",
            "frozen_meter",
            "meter_noise",
            "meter_delay",
            "pcs_trip",
            "over_temperature",
        )
        if target_id == 0:
            target = "all"
        elif target_id in self.devices and target_id != SITE_ID:
            target = self.devices[target_id].name
        else:
            self.log.add("site", "reject", f"fault target {target_id}: no such device")
            return
        fault = BenchFault(
            kind=kinds[kind - 1], target=target, duration_s=duration_s or None, value=value
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

    def _fleet(self, action: str, index: int) -> None:
        if self.fleet is not None:
            getattr(self.fleet, action)(index)

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
            elif f.kind == "pcs_trip":
                dev.tripped = on
                if on:
                    self._fleet("trip", dev.index)
                else:
                    self._fleet("reset", dev.index)
                    self._fleet("start", dev.index)
            elif f.kind == "over_temperature":
                dev.over_temp = on
                if on:
                    self._fleet("trip", dev.index)
                else:
                    self._fleet("reset", dev.index)
                    self._fleet("start", dev.index)
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
    def on_step(self, view: Any) -> None:
        """Called by the plant after every step (in the plant's thread)."""
        t_s = float(view.t_s)
        dt_s = 0.0 if self._last_t is None else max(t_s - self._last_t, 0.0)
        self._last_t = t_s
        self.log.t_sim_s = t_s
        while not self._commands.empty():
            index, action = self._commands.get_nowait()
            self._fleet(action, index)
            self.log.add(self.units[index].name, "command", action)
        self._faults_at(t_s)
        n = len(self.units)
        p_ac = np.asarray(view.p_ac_kw, dtype=float)[:n]
        p_aux = np.asarray(getattr(view, "p_aux_kw", np.zeros(n)), dtype=float)[:n]
        soc = np.asarray(view.soc, dtype=float)[:n]
        state = np.asarray(view.pcs_state)[:n]
        extra = self._fleet_limits(n)
        for i, u in enumerate(self.units):
            u.tick()
            m = {
                "p_ac_kw": p_ac[i],
                "q_ac_kvar": float(view.q_ac_kvar[i]),
                "soc": soc[i],
                "soh": float(view.soh[i]),
                "temp_c": float(view.temp_c[i]),
                "pcs_state": int(state[i]),
            }
            for key, arr in extra.items():
                m[key] = float(arr[i])
            u.publish(t_s, dt_s, m)
        pcc_true = np.asarray(view.pcc_kw, dtype=float)[: len(self.meters)].copy()
        pcc_kvar = np.asarray(view.pcc_kvar, dtype=float)[: len(self.meters)]
        if self.meter_base_kw is not None:
            for j in range(len(self.meters)):
                base = self.meter_base_kw(t_s, j)
                if base is not None:
                    own = [i for i in range(n) if self.unit_meter[i] == j]
                    pcc_true[j] = base + float(np.sum(p_ac[own] + p_aux[own]))
        for j, meter in enumerate(self.meters):
            meter.publish(t_s, dt_s, float(pcc_true[j]), float(pcc_kvar[j]))
        code, price = self._tariff(t_s, view)
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
                p_set_kw=np.asarray(view.p_set_kw, dtype=float)[:n],
                p_cmd_kw=self.p_cmd_kw,
                soc=soc,
                pcs_state=state,
                p_charge_max_kw=extra.get("p_charge_max_kw", np.full(n, np.inf)),
                p_discharge_max_kw=extra.get("p_discharge_max_kw", np.full(n, np.inf)),
                reverted=np.array([u.reverted for u in self.units]),
                link_up=np.array([u.link_up for u in self.units]),
                pcc_kw=pcc_true,
                meter_kw=np.array([m.shown_kw for m in self.meters]),
                period=code,
                price=price,
            )

    def _fleet_limits(self, n: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.fleet is None:
            return out
        for key, name in (
            ("p_charge_max_kw", "p_charge_max_kw"),
            ("p_discharge_max_kw", "p_discharge_max_kw"),
        ):
            fn = getattr(self.fleet, name, None)
            if callable(fn):
                try:
                    out[key] = np.asarray(fn(), dtype=float)[:n]
                except Exception:
                    pass
        return out

    def _tariff(self, t_s: float, view: Any) -> tuple[int, float]:
        if self.tariff is not None:
            got = self.tariff(t_s)
            if got is not None:
                return got
        period = getattr(view, "period", "flat")
        if isinstance(period, str):
            code = PERIOD_CODES.get(period.lower().replace(" ", "_").replace("-", "_"), 2)
        else:
            code = int(period)
        price = float(getattr(view, "price", 0.0))
        return code, price if math.isfinite(price) else 0.0
