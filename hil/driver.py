"""A driver that lets the twin's strategies command real (or emulated) PCS units, safely.

One vendor flat map (`hil.vendor`) says where the setpoint, run command, heartbeat and the
measurements are. Every cycle the driver reads the unit, asks the strategy for a power,
passes it through the safety envelope and writes it:

- setpoint clamp to the unit's range (the map's range, narrowed by ``--p-max-kw``) and a
  ramp clamp (``ramp_kw_per_s``), no discharge below the SOC floor, no charge above the
  ceiling (`envelope`, a pure function);
- an allowlist of writable points (default: setpoint, heartbeat, run command); a write to
  anything else is refused before it leaves the process;
- dry-run: every write is logged, none is sent (reads still happen);
- reconnect with exponential backoff; if the link stays down longer than
  ``comm_timeout_s`` the driver stops: on the next contact it writes P = 0 and ends
  (the unit's own watchdog reverts it meanwhile).

Transport: Modbus TCP (``host``/``port``) or RTU (``serial``, ``baudrate``, ``parity``),
both pymodbus sync clients; their exceptions become `ProtocolError`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from hil.codec import decode_raw, to_physical
from hil.registers import Point, RegisterImage
from hil.vendor import load_vendor_file, vendor_map
from parktwin.config import Frozen
from parktwin.errors import InputError, ProtocolError

log = logging.getLogger("parktwin.hil.driver")


class DriverConfig(Frozen):
    """How `twin hil drive` reaches and commands one unit."""

    map: Path | None = None
    host: str | None = None
    port: int = Field(502, ge=1, le=65535)
    serial: str | None = None
    baudrate: int = Field(9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    unit_id: int = Field(1, ge=0, le=255)
    strategy: str = "idle"
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    period_s: float = Field(1.0, ge=0.05, le=60.0)
    p_max_kw: float | None = Field(None, gt=0.0)
    e_nom_kwh: float | None = Field(None, gt=0.0)
    ramp_kw_per_s: float = Field(100.0, gt=0.0)
    soc_min: float = Field(0.10, ge=0.0, le=1.0)
    soc_max: float = Field(0.90, ge=0.0, le=1.0)
    allow: tuple[str, ...] = ("p_set", "heartbeat", "run_cmd")
    comm_timeout_s: float = Field(5.0, gt=0.0)
    timeout_s: float = Field(1.0, gt=0.0)
    backoff_s: float = Field(0.5, gt=0.0)
    backoff_max_s: float = Field(10.0, gt=0.0)
    duration_s: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _transport(self) -> DriverConfig:
        if (self.host is None) == (self.serial is None):
            raise ValueError("give either host (Modbus TCP) or serial (Modbus RTU)")
        if self.soc_min >= self.soc_max:
            raise ValueError("soc_min must be below soc_max")
        return self


#: decide(measurements by twin quantity, seconds since the start) -> setpoint [kW, + charging]
Decide = Callable[[dict[str, float | None], float], float]
#: a factory of deciders for strategy names the driver does not know itself:
#: (config, rated power kW, energy kWh) -> Decide
DeciderFactory = Callable[[DriverConfig, float, float], Decide]


def envelope(
    p_req_kw: float,
    p_prev_kw: float,
    dt_s: float,
    p_min_kw: float,
    p_max_kw: float,
    ramp_kw_per_s: float,
    soc: float | None,
    soc_min: float,
    soc_max: float,
) -> tuple[float, list[str]]:
    """The setpoint the driver may send [kW, + charging] and why it differs from the request.

    Order: SOC window (no discharge at/below the floor, no charge at/above the ceiling),
    then the rating range, then the ramp from the previous sent setpoint. A non-finite
    request becomes 0.
    """
    why: list[str] = []
    p = p_req_kw
    if not math.isfinite(p):
        return 0.0, ["request not finite"]
    if soc is not None and p < 0 and soc <= soc_min:
        p, why = 0.0, [*why, f"SOC {soc:.3f} at floor {soc_min:g}"]
    if soc is not None and p > 0 and soc >= soc_max:
        p, why = 0.0, [*why, f"SOC {soc:.3f} at ceiling {soc_max:g}"]
    if p > p_max_kw or p < p_min_kw:
        p, why = min(max(p, p_min_kw), p_max_kw), [*why, "rating"]
    step = ramp_kw_per_s * dt_s
    if abs(p - p_prev_kw) > step:
        p, why = p_prev_kw + math.copysign(step, p - p_prev_kw), [*why, "ramp"]
    return p, why


@dataclass
class DriverLog:
    """What the driver did, for the operator and the tests."""

    writes: list[tuple[float, str, float, bool]] = field(
        default_factory=list
    )  # t, point, value, sent
    clamps: int = 0
    reconnects: int = 0
    stopped: str = ""


class ModbusDriver:
    """One unit behind a vendor map, over Modbus TCP or RTU."""

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        spec = load_vendor_file(config.map)
        self.spec = spec
        probe = vendor_map(
            spec, _LimitProbe(), source=str(config.map or "hil/data/vendor_pcs.toml")
        )
        self.map = probe
        setp = self._bound("p_set_kw", "rw")
        if setp is None:
            raise InputError(f"{probe.source}: no writable point bound to p_set_kw (the setpoint)")
        self.setpoint = setp
        lo, hi = _range_kw(setp)
        if config.p_max_kw is not None:
            lo, hi = max(lo, -config.p_max_kw), min(hi, config.p_max_kw)
        self.p_min_kw, self.p_max_kw = lo, hi
        for name in config.allow:
            if name not in probe.by_name:
                raise InputError(f"allow: no point {name!r} in {probe.source}")
        self._img = RegisterImage(probe)  # decoding helper (scale factors, orders)
        self.client = self._client()
        self.log = DriverLog()
        self.p_sent_kw = 0.0
        self.hb = 0
        self._t_cycle: float | None = None  # start of the current cycle: the writes' stamp

    # -- map helpers ------------------------------------------------------------------
    def _bound(self, quantity: str, access: str | None = None) -> Point | None:
        for p in self.map.points:
            if p.bind == quantity and (access is None or p.access == access):
                return p
        return None

    def _client(self) -> Any:
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient
        from pymodbus.framer import FramerType

        c = self.config
        if c.serial is not None:
            return ModbusSerialClient(
                c.serial,
                framer=FramerType.RTU,
                baudrate=c.baudrate,
                parity=c.parity,
                timeout=c.timeout_s,
                retries=0,
            )
        return ModbusTcpClient(c.host, port=c.port, timeout=c.timeout_s, retries=0)

    def _where(self) -> str:
        c = self.config
        return f"{c.serial}" if c.serial else f"{c.host}:{c.port}"

    # -- I/O -----------------------------------------------------------------------------
    def connect(self) -> None:
        from pymodbus.exceptions import ModbusException

        try:
            ok = self.client.connect()
        except (ModbusException, OSError) as exc:
            raise ProtocolError(f"{self._where()}: cannot connect: {exc}") from exc
        if not ok:
            raise ProtocolError(f"{self._where()}: cannot connect")

    def close(self) -> None:
        self.client.close()

    def read(self, quantity: str) -> float | None:
        """A measurement by its twin quantity (None if the map has no such point)."""
        from pymodbus.exceptions import ModbusException

        p = self._bound(quantity)
        if p is None:
            return None
        try:
            rr = self.client.read_holding_registers(
                p.address, count=p.regs, device_id=self.config.unit_id
            )
        except (ModbusException, OSError) as exc:
            raise ProtocolError(
                f"{self._where()}: read {p.name} (register {p.address}): {exc}"
            ) from exc
        if rr.isError():
            raise ProtocolError(f"{self._where()}: read {p.name} (register {p.address}): {rr}")
        raw = decode_raw(rr.registers, p.dtype, p.byte_order, p.word_order)
        return None if isinstance(raw, str) else to_physical(raw, p.scale) / p.gain

    def write(self, name: str, value: float) -> None:
        """Write a physical value to an allowed point (logged only in dry-run)."""
        from pymodbus.exceptions import ModbusException

        p = self.map.by_name.get(name)
        if p is None or name not in self.config.allow:
            raise ProtocolError(
                f"write {name!r} refused: not in the allowlist {list(self.config.allow)}"
            )
        if p.access != "rw":
            raise ProtocolError(f"write {name!r} refused: register {p.address} is read-only")
        lo = -math.inf if p.min is None else p.min
        hi = math.inf if p.max is None else p.max
        if not lo <= value <= hi:
            raise ProtocolError(f"write {name}={value:g} refused: outside {lo:g}..{hi:g}")
        regs = self._img.encode(p, value)
        t = self._t_cycle if self._t_cycle is not None else time.monotonic()
        if self.config.dry_run:
            self.log.writes.append((t, name, value, False))
            log.info("dry-run: %s (register %d) <- %g %s %s", name, p.address, value, p.unit, regs)
            return
        try:
            rr = self.client.write_registers(p.address, regs, device_id=self.config.unit_id)
        except (ModbusException, OSError) as exc:
            raise ProtocolError(
                f"{self._where()}: write {name} (register {p.address}): {exc}"
            ) from exc
        if rr.isError():
            raise ProtocolError(f"{self._where()}: write {name} (register {p.address}): {rr}")
        self.log.writes.append((t, name, value, True))

    def command_kw(self, p_kw: float) -> None:
        """Send a setpoint [kW, + charging] through the map's gain (e.g. discharge positive)."""
        self.write(self.setpoint.name, p_kw * self.setpoint.gain)
        self.p_sent_kw = p_kw

    def heartbeat(self) -> None:
        hb = self._bound("ctrl_hb", "rw")
        if hb is not None and hb.name in self.config.allow:
            self.hb = (self.hb + 1) & 0x7FFF
            self.write(hb.name, self.hb)

    # -- the loop --------------------------------------------------------------------------
    def run(
        self,
        decide: Decide,
        stop: Callable[[], bool] = lambda: False,
    ) -> DriverLog:
        """Cycle until `duration_s`, `stop()`, or a communication loss longer than the timeout."""
        c = self.config
        t_start = time.monotonic()
        last_ok = t_start
        backoff = c.backoff_s
        connected = False
        lost = False
        t_prev = t_start
        while not stop() and (c.duration_s is None or time.monotonic() - t_start < c.duration_s):
            t0 = time.monotonic()
            self._t_cycle = t0
            try:
                if not connected:
                    self.connect()
                    connected = True
                    backoff = c.backoff_s
                    if lost:  # back after a long loss: safe state, then stop
                        self.command_kw(0.0)
                        self.log.stopped = "communication lost longer than comm_timeout_s; P=0 written on reconnect"
                        break
                meas = {
                    q: self.read(q)
                    for q in ("p_ac_kw", "soc", "p_charge_max_kw", "p_discharge_max_kw")
                }
                want = decide(meas, t0 - t_start)
                p, why = envelope(
                    want,
                    self.p_sent_kw,
                    max(t0 - t_prev, 1e-3),
                    self.p_min_kw,
                    self.p_max_kw,
                    c.ramp_kw_per_s,
                    meas.get("soc"),
                    c.soc_min,
                    c.soc_max,
                )
                if why:
                    self.log.clamps += 1
                    log.info("envelope: %.1f -> %.1f kW (%s)", want, p, ", ".join(why))
                self.command_kw(p)
                self.heartbeat()
                last_ok = time.monotonic()
                t_prev = t0
            except ProtocolError as exc:
                log.warning("%s", exc)
                self.client.close()
                connected = False
                self.log.reconnects += 1
                if time.monotonic() - last_ok > c.comm_timeout_s:
                    lost = True
                time.sleep(backoff)
                backoff = min(backoff * 2.0, c.backoff_max_s)
                continue
            time.sleep(max(c.period_s - (time.monotonic() - t0), 0.0))
        self.close()
        return self.log


class _LimitProbe(dict):
    """Ratings stand-in while loading a map for the driver: every `limit` resolves, and the
    writable range is taken from the map's explicit min/max or from ``--p-max-kw``."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> float:
        return 1e9


def _range_kw(p: Point) -> tuple[float, float]:
    """The setpoint range a map allows, in kW + charging."""
    lo = -math.inf if p.min is None else p.min / p.gain
    hi = math.inf if p.max is None else p.max / p.gain
    lo, hi = min(lo, hi), max(lo, hi)
    full = {"s16": 0x7FFF, "s32": 0x7FFF_FFFF}.get(p.dtype, 0xFFFF) * p.scale / abs(p.gain)
    return max(lo, -full), min(hi, full)


# ------------------------------------------------------------------------------ strategies
def make_decider(
    config: DriverConfig, p_max_kw: float, e_nom_kwh: float, more: DeciderFactory | None = None
) -> Decide:
    """The decide function of the driver's ``--strategy``: ``idle`` (0 kW), ``hold:KW`` (a
    constant), or whatever `more` makes of the name (the twin's strategies)."""
    name = config.strategy
    if name == "idle":
        return lambda m, t: 0.0
    if name.startswith("hold:"):
        try:
            value = float(name.split(":", 1)[1])
        except ValueError as exc:
            raise InputError(f"--strategy {name!r}: expected hold:KW") from exc
        return lambda m, t: value
    if more is None:
        raise InputError(f"--strategy {name!r}: expected idle or hold:KW")
    return more(config, p_max_kw, e_nom_kwh)


def drive(
    config: DriverConfig,
    stop: Callable[[], bool] = lambda: False,
    strategies: DeciderFactory | None = None,
) -> DriverLog:
    """Connect, learn the unit's rating, run the strategy inside the envelope, stop safely.

    The setpoint range is the narrowest of: the map's range, the rated power the device
    reports (a point bound to ``p_max_kw``), and ``--p-max-kw``; with none of the last two
    the driver refuses to start (it will not guess a real PCS's rating). `strategies`
    makes deciders for strategy names beyond ``idle`` and ``hold:KW``.
    """
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # our own messages say it once
    drv = ModbusDriver(config)
    drv.connect()
    rated = drv.read("p_max_kw")
    caps = [x for x in (rated, config.p_max_kw) if x is not None and x > 0]
    if not caps:
        drv.close()
        raise InputError("--p-max-kw: the map reports no rated power; give the unit's rating")
    cap = min(caps)
    drv.p_min_kw, drv.p_max_kw = max(drv.p_min_kw, -cap), min(drv.p_max_kw, cap)
    e_nom = config.e_nom_kwh or drv.read("e_nom_kwh") or 0.0
    decide = make_decider(config, cap, e_nom, strategies)
    log.info(
        "driving %s unit %d: %s, %.0f..%.0f kW, ramp %g kW/s%s",
        drv._where(),
        config.unit_id,
        config.strategy,
        drv.p_min_kw,
        drv.p_max_kw,
        config.ramp_kw_per_s,
        " (DRY RUN)" if config.dry_run else "",
    )
    return drv.run(decide, stop)
