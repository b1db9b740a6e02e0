"""Time-of-use tariff periods: the codes stored in arrays and on the HIL registers, and the
lower-case names used in TOML and JSON.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal, get_args

from parktwin.errors import InputError

#: A period's name as written in tariff, scenario and bench files.
PeriodName = Literal["deep_valley", "valley", "flat", "peak", "sharp"]

#: Every period name, cheapest first (the order of the `Period` codes).
PERIOD_KEYS: tuple[str, ...] = get_args(PeriodName)


class Period(IntEnum):
    """Time-of-use period; JSON and TOML use the lower-case name (``deep_valley``)."""

    DEEP_VALLEY = 0
    VALLEY = 1
    FLAT = 2
    PEAK = 3
    SHARP = 4

    @property
    def key(self) -> str:
        """Lower-case name used in files and JSON."""
        return self.name.lower()

    @classmethod
    def parse(cls, name: str | int | Period) -> Period:
        """Period from its lower-case name, its value, or itself."""
        if isinstance(name, str):
            try:
                return cls[name.upper()]
            except KeyError as exc:
                raise InputError(
                    f"period: unknown {name!r}, expected one of {', '.join(PERIOD_KEYS)}"
                ) from exc
        return cls(int(name))


#: Period code by name (``{"deep_valley": 0, ...}``).
PERIOD_CODES: dict[str, int] = {p.key: int(p) for p in Period}
