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
from collections.abc import Callable, Mapping
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
#: Modbus unit ids on the bench: storage units from 1 (park order), meters from 101
#: (enterprise order), the site-information device 200
UNIT_ID_FIRST = 1
METER_ID_FIRST = 101
SITE_ID = 200
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


@dataclass(frozen=True)
class Setpoint:
    """A controller's setpoint as one accepted write left it (the offline replay's input).

    `t_s` is the plant's time of the instant the write was taken up at (the bench hands
    setpoints to the plant at its step hook, `EventLog.take_setpoints`), `wall_s` when the
    write arrived. `p_kw` [+ charging] and `q_kvar` are what the unit's mode and caps make
    of the controller's registers, before the bench's own interventions (a watchdog
    revert, the SOC reserve).
    """

    wall_s: float
    t_s: float
    unit: int
    p_kw: float
    q_kvar: float


class EventLog:
    """Thread-safe list of events (the Modbus thread and the plant thread both log), and
    the controller's setpoints as its accepted writes left them (`setpoints`).

    `lock` (re-entrant) also makes a write's logged setpoint and the setpoint it puts in
    force one step for the bench: both are taken up at the same plant instant.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.t0 = clock()
        self.lock = threading.RLock()
        self.events: list[Event] = []
        self.setpoints: list[Setpoint] = []
        self._pending: list[tuple[float, int, float, float]] = []
        self.t_sim_s = 0.0  # the plant's latest t_s, stamped on events by the bench

    def add(self, device: str, kind: str, detail: str) -> None:
        with self.lock:
            self.events.append(Event(self.clock() - self.t0, self.t_sim_s, device, kind, detail))

    def add_setpoint(self, unit: int, p_kw: float, q_kvar: float) -> None:
        """Log unit `unit`'s commanded setpoint; `take_setpoints` stamps its plant time."""
        with self.lock:
            self._pending.append((self.clock() - self.t0, unit, p_kw, q_kvar))

    def take_setpoints(self, t_s: float) -> None:
        """The setpoints logged since the last call are taken up at plant time `t_s`."""
        with self.lock:
            for w, i, p, q in self._pending:
                self.setpoints.append(Setpoint(w, t_s, i, p, q))
            self._pending.clear()

    def of(self, kind: str) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e.kind == kind]


class _Served:
    """Link state the server adapter reads (comm-loss and delay faults set it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.images: list[RegisterImage] = []
        self.link_up = True
        self.response_delay_s = 0.0


#: the PCS terminals' nominal line-to-line voltage [V] (702 VNomRtg in hil/data/sunspec.toml)
V_AC_NOM_V = float(sunspec.layouts().unit.static["702.VNomRtg"])
#: 701.Alrm bits: OVER_TEMP (7), MANUFACTURER_ALRM (16, a PCS trip)
ALRM_OVER_TEMP, ALRM_TRIP = 1 << 7, 1 << 16
#: 701.ThrotSrc bits: MAX_W (0), FIXED_W (1), DERATED (14)
THROT_MAX_W, THROT_FIXED_W, THROT_DERATED = 1 << 0, 1 << 1, 1 << 14
#: why the setpoint in force differs from the controller's (vendor ``ctrl_status`` bits)
WHY_REVERTED = 1 << 0  # the watchdog reverted the unit to its fallback
WHY_DISABLED = 1 << 1  # setpoints disabled (704 WSetEna = 0)
WHY_W_LIMIT = 1 << 2  # capped by 702 WMax / 704 WMaxLimPct
WHY_RATE_LIMIT = 1 << 3  # capped by 702 WChaRteMax / WDisChaRteMax
WHY_SOC_RESERVE = 1 << 4  # held at 0 by 802 SoCRsvMin / SocRsvMax
WHY_BMS_LIMIT = 1 << 5  # the BMS allows less than the setpoint (802 WChaRteMax / WDisChaRteMax)
WSET_MOD_PCT, WSET_MOD_WATTS = 0, 1  # 704.WSetMod

#: every quantity a client may write to a unit, and what the write does (the conformance
#: table in the docs is generated from this; a writable point bound to anything else is
#: refused when the map is built)
UNIT_WRITES: dict[str, str] = {
    "p_set_kw": "active power setpoint [kW]; in force while setpoints are enabled and the mode is WATTS (a vendor map's setpoint enables them)",
    "p_set_pct": "active power setpoint in % of WMax; in force while the mode is W_MAX_PCT",
    "wset_mod": "selects the setpoint in force: WATTS (WSet) or W_MAX_PCT (WSetPct)",
    "wset_ena": "enables setpoints; disabled, the unit holds 0 kW",
    "q_set_kvar": "reactive power setpoint [kvar]; in force while VarSetEna is 1 (a vendor map's setpoint enables it)",
    "var_set_ena": "enables the reactive power setpoint; disabled, the unit holds 0 kvar",
    "p_revert_kw": "the fallback power the watchdog reverts to [kW]",
    "revert_s": "watchdog time [s] without a write before the unit reverts",
    "revert_ena": "enables the watchdog",
    "watchdog_s": "watchdog time [s] in force; 0 turns the watchdog off",
    "w_max_kw": "caps the power in force in both directions [kW]",
    "w_max_lim_ena": "enables the WMaxLimPct cap",
    "w_max_lim_pct": "caps the power in force at this % of WMax while enabled",
    "w_cha_max_kw": "caps the charging power in force [kW]",
    "w_dis_max_kw": "caps the discharging power in force [kW]",
    "soc_rsv_min": "no discharge at or below this SOC [%]",
    "soc_rsv_max": "no charge at or above this SOC [%]",
    "run_cmd": "1 starts the PCS, 0 stops it",
    "set_inv_state": "INVERTER_STARTED starts the PCS, INVERTER_STOPPED/STANDBY stop it",
    "set_op": "CONNECT starts the PCS, DISCONNECT stops it",
    "alarm_reset": "a non-zero write acknowledges a trip (FAULT -> STANDBY)",
    "ctrl_hb": "controller heartbeat: feeds the watchdog (as every accepted write does)",
}
UNIT_WRITABLE = frozenset(UNIT_WRITES)


def quantity_ranges(r: UnitRatings) -> dict[str, tuple[float, float]]:
    """The range each bound quantity of a unit can take, from its ratings: every register
    bound to one must show its whole range (checked when the bench starts)."""
    ah = r.e_nom_kwh * 1000.0 / r.v_dc_nom_v
    s, p = r.s_max_kva, r.p_max_kw
    i_max = s * 1000.0 / (math.sqrt(3) * V_AC_NOM_V)
    out: dict[str, tuple[float, float]] = {}
    for q in ("p_ac_kw", "p_set_kw", "p_revert_kw", "p_dc_kw", "q_ac_kvar", "q_set_kvar"):
        out[q] = (-s, s)
    for q in ("p_phase_kw", "q_phase_kvar"):
        out[q] = (-s / 3.0, s / 3.0)
    out["s_phase_kva"] = (0.0, s / 3.0)
    out["i_max_a"] = (0.0, i_max)
    out["a_cha_max_a"] = out["a_dis_max_a"] = (0.0, p * 1000.0 / r.v_dc_nom_v)
    for q in ("s_ac_kva", "s_max_kva"):
        out[q] = (0.0, s)
    for q in ("p_max_kw", "w_max_kw", "w_cha_max_kw", "w_dis_max_kw"):
        out[q] = (0.0, p)
    for q in ("p_charge_max_kw", "p_discharge_max_kw"):
        out[q] = (0.0, p)
    for q in ("soc", "soh", "dod", "soc_min", "soc_max", "soc_rsv_min", "soc_rsv_max"):
        out[q] = (0.0, 1.0)
    out |= {
        "q_max_kvar": (0.0, r.q_max_kvar),
        "i_ac_a": (0.0, i_max),
        "e_nom_kwh": (0.0, r.e_nom_kwh),
        "e_avail_kwh": (0.0, r.e_nom_kwh),
        "ah_rtg": (0.0, ah),
        "p_set_pct": (-100.0, 100.0),
        "w_max_lim_pct": (0.0, 100.0),
        "throttle_pct": (0.0, 100.0),
        "ramp_pct_per_s": (0.0, 100.0 * r.ramp_kw_per_s / p),
        "revert_s": (0.0, 3600.0),
        "watchdog_s": (0.0, 3600.0),
    }
    return out


def check_ranges(img: RegisterImage, ranges: dict[str, tuple[float, float]]) -> None:
    """Raise InputError if a bound point of `img` cannot show its quantity's whole range."""
    for pt in img.map.bound():
        if pt.bind in ranges:
            lo, hi = ranges[pt.bind]
            for x in (lo, hi):
                img.check_fits(pt, pt.gain * x)


class EmulatedUnit(_Served):
    """One storage unit (PCS with its BMS) as seen over Modbus.

    The setpoint in force is the controller's (or, after a watchdog revert, the fallback)
    through the unit's own limits: 702 WMax, 704 WMaxLimPct, 702 WChaRteMax/WDisChaRteMax
    and the 802 SOC reserve. It is recomputed every plant step (the SOC moves), sent to the
    plant when it changes, and shown by the setpoint points with the reason in 701
    ThrotSrc and the vendor map's ``ctrl_status``.
    """

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
        address: int | None = None,
    ) -> None:
        super().__init__(ratings.name)
        self.index = index
        self.address = UNIT_ID_FIRST + index if address is None else address
        self.r = ratings
        self.sink = sink
        self.clock = clock
        self.log = log or EventLog(clock)
        limits = ratings.limits()
        self.sunspec = sunspec.new_image(
            "unit", limits, on_write=self._on_write, writable=UNIT_WRITABLE
        )
        self.images = [self.sunspec]
        self.vendor: RegisterImage | None = None
        if vendor is not None:
            self.vendor = new_vendor_image(
                vendor,
                limits,
                on_write=self._on_write,
                source=f"{ratings.name} vendor map",
                writable=UNIT_WRITABLE,
            )
            self.images.append(self.vendor)
        self._lock = threading.RLock()
        # the controller's commands
        self.p_w_kw = 0.0  # WSet / vendor p_set
        self.p_pct = 0.0  # WSetPct [% of WMax]
        self.wset_mod = WSET_MOD_WATTS
        self.wset_ena = False
        self.q_cmd_kvar = 0.0
        self.var_ena = False
        self.fallback_kw = fallback_kw
        self.revert_tms = float(watchdog_s)  # SunSpec WSetRvrtTms
        self.revert_ena = watchdog_s > 0  # SunSpec WSetEnaRvrt
        # the unit's limits (settings a controller may lower)
        self.w_max_kw = ratings.p_max_kw
        self.w_cha_max_kw = ratings.p_max_kw
        self.w_dis_max_kw = ratings.p_max_kw
        self.lim_ena = False
        self.lim_pct = 100.0
        self.soc_rsv_min = ratings.soc_min
        self.soc_rsv_max = ratings.soc_max
        # what the plant last showed, and what the unit last sent it
        self.soc: float | None = None
        self.hb_in = 0  # the controller's last heartbeat
        self.last_rx = clock()
        self.reverted = False
        self.sent: tuple[float, float] | None = None
        self.commanded: tuple[float, float] | None = None  # last logged (`EventLog.setpoints`)
        self.why = 0
        #: unit faults in force (set by the bench, which also trips the plant's PCS)
        self.faults: dict[UnitFault, bool] = {"pcs_trip": False, "over_temperature": False}
        self.e_in_kwh = 0.0
        self.e_out_kwh = 0.0
        self.e_var_inj_kvarh = 0.0
        self.e_var_abs_kvarh = 0.0
        ranges = quantity_ranges(ratings)
        for img in self.images:
            check_ranges(img, ranges)
        # ratings and settings are known before the plant's first step: a client may read
        # them at once
        static = {
            "unit_type": ratings.unit_type[:32],
            "unit_name": ratings.name[:32],
            "device_address": self.address,
            "p_max_kw": ratings.p_max_kw,
            "s_max_kva": ratings.s_max_kva,
            "q_max_kvar": ratings.q_max_kvar,
            "e_nom_kwh": ratings.e_nom_kwh,
            "soc_min": ratings.soc_min,
            "soc_max": ratings.soc_max,
            "ah_rtg": ratings.e_nom_kwh * 1000.0 / ratings.v_dc_nom_v,
            "ramp_pct_per_s": 100.0 * ratings.ramp_kw_per_s / ratings.p_max_kw,
            "i_max_a": ratings.s_max_kva * 1000.0 / (math.sqrt(3) * V_AC_NOM_V),
        }
        with self._lock:
            static |= self._settings()
        for img in self.images:
            publish_bound(img, static)

    # -- the setpoint in force -----------------------------------------------------------
    @property
    def revert_s(self) -> float:
        """Watchdog time in force [wall-clock s]; 0 = off."""
        return self.revert_tms if self.revert_ena else 0.0

    def _in_force(self, as_commanded: bool = False) -> tuple[float, float, int]:
        """(p_kw, q_kvar, why bits) the unit commands the plant now (call under the lock);
        `as_commanded`: what the controller's registers ask, without a watchdog revert or
        the SOC reserve (the bench's own interventions)."""
        why = 0
        if self.reverted and not as_commanded:
            p, q, why = self.fallback_kw, 0.0, WHY_REVERTED
        elif not self.wset_ena:
            p, q, why = 0.0, 0.0, WHY_DISABLED
        else:
            p = self.p_w_kw if self.wset_mod == WSET_MOD_WATTS else self.p_pct * self.w_max_kw / 100
            q = self.q_cmd_kvar if self.var_ena else 0.0
        cap = self.w_max_kw * (self.lim_pct / 100.0 if self.lim_ena else 1.0)
        hi, lo = min(cap, self.w_cha_max_kw), -min(cap, self.w_dis_max_kw)
        if p > hi or p < lo:
            rate = self.w_cha_max_kw if p > 0 else self.w_dis_max_kw
            why |= WHY_RATE_LIMIT if rate < cap else WHY_W_LIMIT
            p = min(max(p, lo), hi)
        soc = None if as_commanded else self.soc
        if soc is not None and (
            (p < 0 and soc <= self.soc_rsv_min) or (p > 0 and soc >= self.soc_rsv_max)
        ):
            p, why = 0.0, why | WHY_SOC_RESERVE
        return p, q, why

    def _settings(self) -> dict[str, float]:
        """The writable points' values in force (call under the lock)."""
        p, q, _ = self._in_force()
        return {
            "p_set_kw": p,
            "p_set_pct": 100.0 * p / self.w_max_kw if self.w_max_kw > 0 else 0.0,
            "q_set_kvar": q,
            "wset_ena": int(self.wset_ena),
            "wset_mod": self.wset_mod,
            "var_set_ena": int(self.var_ena),
            "p_revert_kw": self.fallback_kw,
            "revert_s": self.revert_tms,
            "revert_ena": int(self.revert_ena),
            "watchdog_s": self.revert_s,
            "w_max_kw": self.w_max_kw,
            "w_cha_max_kw": self.w_cha_max_kw,
            "w_dis_max_kw": self.w_dis_max_kw,
            "w_max_lim_ena": int(self.lim_ena),
            "w_max_lim_pct": self.lim_pct,
            "soc_rsv_min": self.soc_rsv_min,
            "soc_rsv_max": self.soc_rsv_max,
            "ctrl_hb": self.hb_in,
            "alarm_reset": 0,
        }

    def _send(self) -> None:
        """Send the setpoint in force to the plant if it changed. Under the lock: the Modbus
        thread (a write) and the plant thread (the SOC moved) must not cross their sends."""
        with self._lock:
            p, q, self.why = self._in_force()
            if self.sent != (p, q):
                self.sent = (p, q)
                self.sink.setpoint(self.index, p, q)

    # -- writes from the controller (Modbus thread) -------------------------------------
    def _on_write(self, accepted: list[tuple[Point, float | int | str]]) -> None:
        actions: list[UnitAction] = []
        with self._lock:
            self.last_rx = self.clock()
            resumed = False
            for p, value in accepted:
                x = float(value) / p.gain if not isinstance(value, str) else 0.0
                q = p.bind
                if q == "p_set_kw":
                    self.p_w_kw, resumed = x, True
                    if p.name == "p_set":  # a vendor map's setpoint acts at once
                        self.wset_ena, self.wset_mod = True, WSET_MOD_WATTS
                elif q == "p_set_pct":
                    self.p_pct, resumed = x, True
                elif q == "wset_mod":
                    self.wset_mod = int(value)
                elif q == "wset_ena":
                    self.wset_ena, resumed = bool(value), True
                elif q == "q_set_kvar":
                    self.q_cmd_kvar, resumed = x, True
                    if p.name == "q_set":
                        self.var_ena = True
                elif q == "var_set_ena":
                    self.var_ena = bool(value)
                elif q == "p_revert_kw":
                    self.fallback_kw = x
                elif q == "revert_s":
                    self.revert_tms = x
                elif q == "revert_ena":
                    self.revert_ena = bool(value)
                elif q == "watchdog_s":
                    self.revert_tms, self.revert_ena = x, x > 0
                elif q == "w_max_kw":
                    self.w_max_kw = x
                elif q == "w_cha_max_kw":
                    self.w_cha_max_kw = x
                elif q == "w_dis_max_kw":
                    self.w_dis_max_kw = x
                elif q == "w_max_lim_ena":
                    self.lim_ena = bool(value)
                elif q == "w_max_lim_pct":
                    self.lim_pct = x
                elif q == "soc_rsv_min":
                    self.soc_rsv_min = x
                elif q == "soc_rsv_max":
                    self.soc_rsv_max = x
                elif q == "run_cmd":
                    actions.append("start" if value == 1 else "stop")
                elif q == "set_inv_state":
                    actions.append("start" if value == 3 else "stop")
                elif q == "set_op":
                    actions.append("start" if value == 1 else "stop")
                elif q == "alarm_reset":
                    if value:
                        actions.append("reset")
                elif q == "ctrl_hb":  # feeds the watchdog (above), read back as written
                    self.hb_in = int(value)
                else:
                    raise RuntimeError(f"{self.name}: write to {p.name} ({q}) has no handler")
            if resumed and self.reverted:
                self.reverted = False
                self.log.add(self.name, "resume", "controller wrote a setpoint after revert")
            self.log.add(self.name, "write", ", ".join(f"{p.name}={v}" for p, v in accepted))
            p_kw, q_kvar, _ = self._in_force(as_commanded=True)
            with self.log.lock:  # logged and in force: taken up at one plant instant
                if self.commanded != (p_kw, q_kvar):
                    self.commanded = (p_kw, q_kvar)
                    self.log.add_setpoint(self.index, p_kw, q_kvar)
                self._send()
            settings = self._settings()
        for img in self.images:
            publish_bound(img, settings)
        for a in actions:
            self.sink.command(self.index, a)

    # -- the watchdog (plant thread, every step) ----------------------------------------
    def tick(self) -> None:
        """Revert to the fallback when the controller has been silent too long."""
        now = self.clock()
        with self._lock:
            silent = now - self.last_rx
            rem = max(self.revert_s - silent, 0.0) if self.revert_s > 0 else 0.0
            if self.revert_s > 0 and silent > self.revert_s and not self.reverted:
                self.reverted = True
                self.log.add(
                    self.name, "revert", f"no write for {silent:.1f} s -> {self.fallback_kw:g} kW"
                )
        self.sunspec.update({"704.WSetRvrtRem": round(rem)})

    # -- measurements (plant thread) -----------------------------------------------------
    def publish(self, t_s: float, dt_s: float, m: dict[str, float]) -> None:
        """Refresh the registers from the plant's quantities for this unit, and send the
        setpoint in force if it changed (the SOC reserve depends on the SOC).

        `m` holds p_ac_kw, q_ac_kvar, soc, soh, temp_c, ambient_c, pcs_state,
        p_charge_max_kw, p_discharge_max_kw; optionally p_dc_kw and efc.
        """
        r = self.r
        p = m["p_ac_kw"]
        qv = m["q_ac_kvar"]
        state = int(m["pcs_state"])
        soc = m["soc"]
        with self._lock:
            self.soc = soc
        self._send()
        self.e_in_kwh += max(p, 0.0) * dt_s / 3600.0
        self.e_out_kwh += max(-p, 0.0) * dt_s / 3600.0
        self.e_var_abs_kvarh += max(qv, 0.0) * dt_s / 3600.0
        self.e_var_inj_kvarh += max(-qv, 0.0) * dt_s / 3600.0
        s = math.hypot(p, qv)
        temp = m["temp_c"]
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
        ch_max, dis_max = m["p_charge_max_kw"], m["p_discharge_max_kw"]
        with self._lock:
            settings = self._settings()
            why = self.why
            sent_p = self.sent[0] if self.sent is not None else 0.0
            setpoint_active = self.wset_ena or self.reverted
        if sent_p > ch_max + 1e-6 or -sent_p > dis_max + 1e-6:
            why |= WHY_BMS_LIMIT
        throt = (THROT_MAX_W if why & WHY_W_LIMIT else 0) | (
            THROT_FIXED_W if setpoint_active else 0
        )
        if why & (WHY_RATE_LIMIT | WHY_SOC_RESERVE | WHY_BMS_LIMIT):
            throt |= THROT_DERATED
        cap = settings["w_max_kw"] * (settings["w_max_lim_pct"] / 100.0 if self.lim_ena else 1.0)
        q = {
            **settings,
            "unit_type": r.unit_type[:32],
            "unit_name": r.name[:32],
            "device_address": self.address,
            "der_on": 1 if running else 0,
            "inv_state": _INV_ST.get(state, 0),
            "alarm_bits": (ALRM_OVER_TEMP if over_temp else 0) | (ALRM_TRIP if fault else 0),
            "p_ac_kw": p,
            "q_ac_kvar": qv,
            "s_ac_kva": s,
            "pf": (abs(p) / s) if s > 1e-6 else 1.0,
            "i_ac_a": s * 1000.0 / (math.sqrt(3) * V_AC_NOM_V),
            "e_ac_in_kwh": self.e_in_kwh,
            "e_ac_out_kwh": self.e_out_kwh,
            "e_var_inj_kvarh": self.e_var_inj_kvarh,
            "e_var_abs_kvarh": self.e_var_abs_kvarh,
            # a balanced three-phase converter: a third per phase
            "p_phase_kw": p / 3.0,
            "q_phase_kvar": qv / 3.0,
            "s_phase_kva": s / 3.0,
            "e_ac_in_phase_kwh": self.e_in_kwh / 3.0,
            "e_ac_out_phase_kwh": self.e_out_kwh / 3.0,
            "e_var_inj_phase_kvarh": self.e_var_inj_kvarh / 3.0,
            "e_var_abs_phase_kvarh": self.e_var_abs_kvarh / 3.0,
            "i_max_a": r.s_max_kva * 1000.0 / (math.sqrt(3) * V_AC_NOM_V),
            "a_cha_max_a": ch_max * 1000.0 / r.v_dc_nom_v,
            "a_dis_max_a": dis_max * 1000.0 / r.v_dc_nom_v,
            "temp_c": temp,
            "ambient_c": m["ambient_c"],
            "throttle_pct": min(100.0 * cap / r.p_max_kw, 100.0),
            "throttle_src": throt,
            "ctrl_status": why,
            "p_max_kw": r.p_max_kw,
            "s_max_kva": r.s_max_kva,
            "q_max_kvar": r.q_max_kvar,
            "p_charge_max_kw": ch_max,
            "p_discharge_max_kw": dis_max,
            "e_nom_kwh": r.e_nom_kwh,
            "e_avail_kwh": max(soc - r.soc_min, 0.0) * r.e_nom_kwh * m["soh"],
            "soc": soc,
            "soh": m["soh"],
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
            "run_cmd": 1 if state in (PcsState.STARTING, PcsState.RUNNING) else 0,
            "set_inv_state": 3 if running else (2 if state == PcsState.STANDBY else 1),
            "set_op": 1 if running else 2,
            "vendor_alarms": (VENDOR_COMM if why & WHY_REVERTED else 0)
            | (VENDOR_OVER_TEMP if over_temp else 0)
            | (VENDOR_TRIP if fault else 0),
        }
        for img in self.images:
            publish_bound(img, q)


class EmulatedMeter(_Served):
    """A PCC meter (SunSpec 1 + 213): import positive, with frozen/noise/delay faults."""

    def __init__(
        self,
        name: str,
        index: int,
        seed: int = 0,
        v_ll_v: float = 10_000.0,
        address: int | None = None,
    ) -> None:
        super().__init__(name)
        self.index = index
        self.address = METER_ID_FIRST + index if address is None else address
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
                "device_address": self.address,
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
        writable = frozenset(self.CONTROL) if on_control is not None else frozenset()
        self.image = new_vendor_image(
            spec, {}, on_write=self._on_write, source="bench site map", writable=writable
        )
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


def publish_bound(img: RegisterImage, quantities: Mapping[str, float | int | str]) -> None:
    """Write every bound point of `img` whose quantity is known: gain * quantity.

    Writable points are published too: they show the value in force (a setpoint after a
    revert or a clamp, a setting), not merely the last value a client wrote.
    """
    out = {}
    for pt in img.map.bound():
        if pt.bind in quantities:
            v = quantities[pt.bind]
            out[pt.name] = v if isinstance(v, str) else pt.gain * v
    img.update(out)
