"""Emulated devices: a storage unit (PCS + BMS), a PCC meter, the bench's site device.

Each device holds register images (SunSpec and, for units, a vendor flat map side by
side in one address space: SunSpec at 40000, the vendor list at 0x1000..0x2000) whose
read-only points the plant thread refreshes after every step (`publish`), and whose
writable points, once a client's write passed the image's checks, become commands
(`on_write` -> a `CommandSink`: setpoints to the twin's `ExternalSetpoints`, start/stop/
reset to the fleet).

Watchdog (SunSpec 704 revert timers ``WSetRvrtTms``/``WSetRvrt``): when no write
(setpoint or heartbeat) has arrived for `revert_s` seconds of WALL-CLOCK time - the
link to the controller lives in wall-clock time even when the plant runs faster - the
unit reverts to its fallback power (0 kW unless configured) until the controller writes
a setpoint again. ``revert_s = 0`` disables it (as SunSpec's 0 = no reversion).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hil import sunspec
from hil.plant import UnitAction, UnitFault, UnitRatings
from hil.registers import Point, RegisterImage
from hil.vendor import VendorMapFile, new_vendor_image
from parktwin.config import load_package_toml
from parktwin.pcs_states import PcsState

# PcsState -> SunSpec enums: 701.InvSt (OFF, STANDBY, STARTING, RUNNING, FAULT) and
# 802.State (DISCONNECTED, STANDBY, INITIALIZING, CONNECTED, FAULT)
_INV_ST = {
    PcsState.OFF: 0,
    PcsState.STANDBY: 7,
    PcsState.STARTING: 2,
    PcsState.RUNNING: 3,
    PcsState.FAULT: 6,
}
_BAT_STATE = {
    PcsState.OFF: 1,
    PcsState.STANDBY: 4,
    PcsState.STARTING: 2,
    PcsState.RUNNING: 3,
    PcsState.FAULT: 99,
}
#: 802.Evt1 bit 1 OVER_TEMP_ALARM; vendor alarm word bits
EVT1_OVER_TEMP = 1 << 1
VENDOR_COMM, VENDOR_OVER_TEMP, VENDOR_TRIP = 1, 2, 4


class CommandSink(Protocol):
    """Where accepted commands go (the bench forwards them to the twin)."""

    def setpoint(self, index: int, p_kw: float, q_kvar: float) -> None: ...
    def command(self, index: int, action: UnitAction) -> None: ...


@dataclass
class Event:
    """Something the bench saw on a device (evidence for the verdicts)."""

    wall_s: float
    t_s: float  # the plant's clock when it happened
    device: str
    kind: str  # "write", "reject", "revert", "resume", "fault", "clear"
    detail: str


class EventLog:
    """Thread-safe list of events (the Modbus thread and the plant thread both log)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.t0 = clock()
        self._lock = threading.Lock()
        self.events: list[Event] = []
        self.t_sim_s = 0.0  # the plant's latest t_s, stamped on events by the bench

    def add(self, device: str, kind: str, detail: str) -> None:
        with self._lock:
            self.events.append(Event(self.clock() - self.t0, self.t_sim_s, device, kind, detail))

    def of(self, kind: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]


class _Served:
    """Link state the server adapter reads (comm-loss and delay faults set it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.images: list[RegisterImage] = []
        self.link_up = True
        self.response_delay_s = 0.0


class EmulatedUnit(_Served):
    """One storage unit (PCS with its BMS) as seen over Modbus."""

    def __init__(
        self,
        index: int,
        ratings: UnitRatings,
        sink: CommandSink,
        vendor: VendorMapFile | None = None,
        watchdog_s: float = 10.0,
        fallback_kw: float = 0.0,
        log: EventLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ratings.name)
        self.index = index
        self.r = ratings
        self.sink = sink
        self.clock = clock
        self.log = log or EventLog(clock)
        self.fallback_kw = fallback_kw
        self.sunspec = sunspec.new_image("unit", ratings.limits(), on_write=self._on_write)
        self.images = [self.sunspec]
        self.vendor: RegisterImage | None = None
        if vendor is not None:
            self.vendor = new_vendor_image(
                vendor,
                ratings.limits(),
                on_write=self._on_write,
                source=f"{ratings.name} vendor map",
            )
            self.images.append(self.vendor)
        self._lock = threading.RLock()
        self.p_cmd_kw = 0.0
        self.q_cmd_kvar = 0.0
        self.wset_ena = False
        self.revert_tms = float(watchdog_s)  # SunSpec WSetRvrtTms / vendor watchdog_s
        self.revert_ena = True  # SunSpec WSetEnaRvrt
        self.last_rx = clock()
        self.reverted = False
        #: unit faults in force (set by the bench, which also trips the plant's PCS)
        self.faults: dict[UnitFault, bool] = {"pcs_trip": False, "over_temperature": False}
        self.sunspec.update({"704.WSetRvrtTms": watchdog_s})
        self.e_in_kwh = 0.0
        self.e_out_kwh = 0.0
        # ratings are known before the plant's first step: a client may read them at once
        static = {
            "unit_type": ratings.unit_type[:32],
            "unit_name": ratings.name[:32],
            "p_max_kw": ratings.p_max_kw,
            "s_max_kva": ratings.s_max_kva,
            "q_max_kvar": ratings.q_max_kvar,
            "e_nom_kwh": ratings.e_nom_kwh,
            "soc_min": ratings.soc_min,
            "soc_max": ratings.soc_max,
            "ah_rtg": ratings.e_nom_kwh * 1000.0 / ratings.v_dc_nom_v,
        }
        for img in self.images:
            publish_bound(img, static)

    # -- writes from the controller (Modbus thread) -------------------------------------
    def _on_write(self, accepted: list[tuple[Point, float | int | str]]) -> None:
        now = self.clock()
        actions: list[str] = []
        new_setpoint = False
        with self._lock:
            self.last_rx = now
            for p, value in accepted:
                q = p.bind
                x = float(value) / p.gain if not isinstance(value, str) else 0.0
                if q == "p_set_kw":
                    self.p_cmd_kw, new_setpoint = x, True
                    if p.name == "p_set":  # a vendor map's setpoint acts at once
                        self.wset_ena = True
                elif q == "p_set_pct":
                    self.p_cmd_kw, new_setpoint = x * self.r.p_max_kw / 100.0, True
                elif q == "q_set_kvar":
                    self.q_cmd_kvar, new_setpoint = x, True
                elif q == "wset_ena":
                    self.wset_ena, new_setpoint = bool(value), True
                elif q == "p_revert_kw":
                    self.fallback_kw = x
                elif q == "revert_s":
                    self.revert_tms = x
                elif q == "revert_ena":
                    self.revert_ena = bool(value)
                elif q in ("set_inv_state", "run_cmd"):
                    start = (q == "run_cmd" and value == 1) or (q == "set_inv_state" and value == 3)
                    actions.append("start" if start else "stop")
                elif q == "alarm_reset" and value:
                    actions.append("reset")
            if new_setpoint and self.reverted:
                self.reverted = False
                self.log.add(self.name, "resume", "controller wrote a setpoint after revert")
            self.log.add(self.name, "write", ", ".join(f"{p.name}={v}" for p, v in accepted))
            p, qv = self._effective()
        if new_setpoint:
            self.sink.setpoint(self.index, p, qv)
        for a in actions:
            self.sink.command(self.index, a)

    @property
    def revert_s(self) -> float:
        """Watchdog time in force [wall-clock s]; 0 = off."""
        return self.revert_tms if self.revert_ena else 0.0

    def _effective(self) -> tuple[float, float]:
        if self.reverted:
            return self.fallback_kw, 0.0
        if not self.wset_ena:
            return 0.0, 0.0
        return self.p_cmd_kw, self.q_cmd_kvar

    # -- the watchdog (plant thread, every step) ----------------------------------------
    def tick(self) -> None:
        """Revert to the fallback when the controller has been silent too long."""
        now = self.clock()
        with self._lock:
            silent = now - self.last_rx
            rem = max(self.revert_s - silent, 0.0) if self.revert_s > 0 else 0.0
            fire = self.revert_s > 0 and silent > self.revert_s and not self.reverted
            if fire:
                self.reverted = True
                self.log.add(
                    self.name, "revert", f"no write for {silent:.1f} s -> {self.fallback_kw:g} kW"
                )
            p, q = self._effective()
        self.sunspec.update({"704.WSetRvrtRem": round(rem)})
        if fire:
            self.sink.setpoint(self.index, p, q)

    # -- measurements (plant thread) -----------------------------------------------------
    def publish(self, t_s: float, dt_s: float, m: dict[str, float]) -> None:
        """Refresh the read-only registers from the plant's quantities for this unit.

        `m` holds at least p_ac_kw, q_ac_kvar, soc, soh, temp_c, pcs_state; optional
        p_charge_max_kw, p_discharge_max_kw, p_dc_kw, ambient_c, efc.
        """
        r = self.r
        p = m["p_ac_kw"]
        qv = m.get("q_ac_kvar", 0.0)
        state = int(m.get("pcs_state", PcsState.RUNNING))
        soc = m["soc"]
        self.e_in_kwh += max(p, 0.0) * dt_s / 3600.0
        self.e_out_kwh += max(-p, 0.0) * dt_s / 3600.0
        s = math.hypot(p, qv)
        temp = m.get("temp_c", 25.0)
        over_temp = self.faults["over_temperature"]
        if over_temp:
            temp = max(temp, 60.0)
        fault = state == PcsState.FAULT
        running = state == PcsState.RUNNING
        if not running:
            cha = 1
        elif soc >= r.soc_max - 1e-3:
            cha = 5
        elif soc <= r.soc_min + 1e-3:
            cha = 2
        elif p > 0.01 * r.p_max_kw:
            cha = 4
        elif p < -0.01 * r.p_max_kw:
            cha = 3
        else:
            cha = 6
        q = {
            "unit_type": r.unit_type[:32],
            "unit_name": r.name[:32],
            "der_on": 1 if running else 0,
            "inv_state": _INV_ST.get(state, 0),
            "alarm_bits": 1 if fault else 0,
            "p_ac_kw": p,
            "q_ac_kvar": qv,
            "s_ac_kva": s,
            "pf": (abs(p) / s) if s > 1e-6 else 1.0,
            "i_ac_a": s * 1000.0 / (math.sqrt(3) * 690.0),
            "e_ac_in_kwh": self.e_in_kwh,
            "e_ac_out_kwh": self.e_out_kwh,
            "temp_c": temp,
            "ambient_c": m.get("ambient_c", 25.0),
            "p_max_kw": r.p_max_kw,
            "s_max_kva": r.s_max_kva,
            "q_max_kvar": r.q_max_kvar,
            "p_charge_max_kw": m.get("p_charge_max_kw", r.p_max_kw),
            "p_discharge_max_kw": m.get("p_discharge_max_kw", r.p_max_kw),
            "e_nom_kwh": r.e_nom_kwh,
            "e_avail_kwh": max(soc - r.soc_min, 0.0) * r.e_nom_kwh * m.get("soh", 1.0),
            "soc": soc,
            "soh": m.get("soh", 1.0),
            "storage_status": 2 if fault else (1 if over_temp else 0),
            "ah_rtg": r.e_nom_kwh * 1000.0 / r.v_dc_nom_v,
            "soc_max": r.soc_max,
            "soc_min": r.soc_min,
            "dod": 1.0 - soc,
            "n_cycles": int(m.get("efc", 0.0)),
            "cha_st": cha,
            "heartbeat_out": int(t_s) & 0xFFFF,
            "bat_state": _BAT_STATE.get(state, 1),
            "bat_events": EVT1_OVER_TEMP if over_temp else 0,
            "p_dc_kw": m.get("p_dc_kw", p),
            "pcs_state": state,
            "vendor_alarms": (VENDOR_OVER_TEMP if over_temp else 0) | (VENDOR_TRIP if fault else 0),
        }
        for img in self.images:
            publish_bound(img, q)


class EmulatedMeter(_Served):
    """A PCC meter (SunSpec 1 + 213): import positive, with frozen/noise/delay faults."""

    def __init__(self, name: str, index: int, seed: int = 0, v_ll_v: float = 10_000.0) -> None:
        super().__init__(name)
        self.index = index
        self.image = sunspec.new_image("meter", {})
        self.images = [self.image]
        self.v_ll_v = v_ll_v
        self.rng = np.random.default_rng(seed)
        self.frozen = False
        self.noise_kw = 0.0
        self.delay_s = 0.0
        self._hist: deque[tuple[float, float, float]] = deque()
        self.e_imp_kwh = 0.0
        self.e_exp_kwh = 0.0
        self.shown_kw = 0.0

    def publish(self, t_s: float, dt_s: float, pcc_kw: float, pcc_kvar: float) -> None:
        """Refresh the registers with the PCC flow (what the meter shows may be faulted)."""
        self.e_imp_kwh += max(pcc_kw, 0.0) * dt_s / 3600.0
        self.e_exp_kwh += max(-pcc_kw, 0.0) * dt_s / 3600.0
        self._hist.append((t_s, pcc_kw, pcc_kvar))
        while len(self._hist) > 1 and self._hist[1][0] <= t_s - self.delay_s:
            self._hist.popleft()
        if self.frozen:
            return
        _, p, q = self._hist[0] if self.delay_s > 0 else (t_s, pcc_kw, pcc_kvar)
        if self.noise_kw > 0:
            p += float(self.rng.normal(0.0, self.noise_kw))
        self.shown_kw = p
        s = math.hypot(p, q)
        publish_bound(
            self.image,
            {
                "meter_name": self.name[:32],
                "pcc_kw": p,
                "pcc_kvar": q,
                "pcc_kva": s,
                "pcc_pf": abs(p) / s if s > 1e-6 else 1.0,
                "v_ll_v": self.v_ll_v,
                "v_ln_v": self.v_ll_v / math.sqrt(3),
                "i_a": s * 1000.0 / (math.sqrt(3) * self.v_ll_v),
                "e_imp_kwh": self.e_imp_kwh,
                "e_exp_kwh": self.e_exp_kwh,
            },
        )


class SiteDevice(_Served):
    """The bench's site-information device (``hil/data/site_map.toml``).

    With `on_control`, its bench-control points (fault injection on demand) are served
    and each accepted write of ``fault_kind`` calls ``on_control(kind, target_id,
    duration_s, value)``; without, those points are not in the map at all.
    """

    CONTROL = ("fault_kind", "fault_target", "fault_duration_s", "fault_value")

    def __init__(self, on_control: Callable[[int, int, float, float], None] | None = None) -> None:
        super().__init__("site")
        spec = load_package_toml("hil", "site_map.toml", VendorMapFile)
        if on_control is None:
            keep = tuple(p for p in spec.point if p.bind not in self.CONTROL)
            spec = spec.model_copy(update={"point": keep})
        self.image = new_vendor_image(spec, {}, on_write=self._on_write, source="bench site map")
        self.images = [self.image]
        self.values: dict[str, float] = {}
        self.on_control = on_control

    def _on_write(self, accepted: list[tuple[Point, float | int | str]]) -> None:
        for p, _ in accepted:
            if p.bind == "fault_kind" and self.on_control is not None:
                img = self.image
                self.on_control(
                    int(img.get("fault_kind")),
                    int(img.get("fault_target")),
                    float(img.get("fault_duration")),
                    float(img.get("fault_value")),
                )

    def publish(self, values: dict[str, float]) -> None:
        self.values.update(values)
        publish_bound(self.image, self.values)


def publish_bound(img: RegisterImage, quantities: dict) -> None:
    """Write every read-only bound point of `img` whose quantity is known: gain * quantity."""
    out = {}
    for pt in img.map.bound("r"):
        if pt.bind in quantities:
            v = quantities[pt.bind]
            out[pt.name] = v if isinstance(v, str) else pt.gain * v
    img.update(out)
