"""Faults the bench injects, on a schedule (scenario seconds) or on demand.

| kind | target | what the controller sees |
| --- | --- | --- |
| ``comm_loss`` | a unit, a meter or ``all`` | every request answered GATEWAY TARGET FAILED TO RESPOND (0x0B), as a Modbus TCP gateway whose RS-485 link to the device is cut; the unit's watchdog then reverts it |
| ``frozen_meter`` | a meter | the meter's registers stop updating (stale values) |
| ``meter_noise`` | a meter | Gaussian noise of ``value`` kW (1 sigma) on active power, seeded |
| ``meter_delay`` | a meter | readings ``value`` seconds old, and each response ``value``/10 s late |
| ``pcs_trip`` | a unit | the PCS trips (FAULT); reset and restarted when the fault ends |
| ``over_temperature`` | a unit | BMS over-temperature alarm (802 Evt1 bit 1, cell temperature >= 60 C), the BMS opens and the PCS trips |
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from parktwin.config import Frozen

FaultKind = Literal[
    "comm_loss", "frozen_meter", "meter_noise", "meter_delay", "pcs_trip", "over_temperature"
]
#: in the order of the site device's ``fault_kind`` codes 1..6
FAULT_KINDS: tuple[FaultKind, ...] = (
    "comm_loss",
    "frozen_meter",
    "meter_noise",
    "meter_delay",
    "pcs_trip",
    "over_temperature",
)
UNIT_FAULTS = ("pcs_trip", "over_temperature")
METER_FAULTS = ("frozen_meter", "meter_noise", "meter_delay")


class BenchFault(Frozen):
    """One fault: what, on which device, when (scenario seconds) and for how long."""

    kind: FaultKind
    target: str = Field("all", description="unit or meter name, or 'all'")
    at_s: float = Field(0.0, ge=0.0)
    duration_s: float | None = Field(None, gt=0.0, description="None: until the end")
    value: float = Field(0.0, ge=0.0, description="noise sigma [kW] or delay [s]")

    @property
    def end_s(self) -> float:
        return float("inf") if self.duration_s is None else self.at_s + self.duration_s


def parse_fault(text: str) -> BenchFault:
    """``KIND:TARGET@AT[+DURATION][=VALUE]``, e.g. ``comm_loss:all@120+60`` (CLI form)."""
    from parktwin.config import validate
    from parktwin.errors import InputError

    kind, sep, rest = text.partition(":")
    if not sep:
        raise InputError(f"--fault {text!r}: expected KIND:TARGET@AT[+DURATION][=VALUE]")
    rest, _, value = rest.partition("=")
    target, _, when = rest.partition("@")
    at, _, dur = when.partition("+")
    try:
        data = {
            "kind": kind,
            "target": target or "all",
            "at_s": float(at or 0.0),
            "duration_s": float(dur) if dur else None,
            "value": float(value) if value else 0.0,
        }
    except ValueError as exc:
        raise InputError(f"--fault {text!r}: times and values must be numbers") from exc
    return validate(data, BenchFault, f"--fault {text!r}")
