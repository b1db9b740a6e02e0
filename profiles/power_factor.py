"""Power-factor adjustment of the bill (力调电费): the month's power factor against 0.90.

The rule and its table are data (``profiles/data/power_factor.toml``, with its source).
"""

from __future__ import annotations

import math
from functools import lru_cache

from pydantic import Field, model_validator

from parktwin.config import Frozen, load_package_toml
from profiles.tariff import Confidence


class PowerFactorRule(Frozen):
    """Table of [power factor, bill adjustment %] rows, 0.01 apart (+ raises the bill)."""

    standard: float = Field(gt=0.5, le=1.0)
    source: str = Field(min_length=1)
    confidence: Confidence
    base_source: str = Field(min_length=1)
    base_confidence: Confidence
    below_table_pct_per_0_01: float = Field(ge=0)
    below_table_source: str = Field(min_length=1)
    table: list[tuple[float, float]] = Field(min_length=2)

    @model_validator(mode="after")
    def _steps(self) -> PowerFactorRule:
        pfs = [round(pf * 100) for pf, _ in self.table]
        if pfs != list(range(pfs[0], pfs[0] + len(pfs))) or pfs[-1] != 100:
            raise ValueError("table: power factors must run in 0.01 steps up to 1.00")
        return self

    def adjustment_pct(self, power_factor: float) -> float:
        """Bill adjustment [%] for a month's power factor (rounded to 0.01 as billed)."""
        if not math.isfinite(power_factor):
            return 0.0
        hundredths = round(min(max(power_factor, 0.0), 1.0) * 100)
        first = round(self.table[0][0] * 100)
        if hundredths < first:
            return self.table[0][1] + (first - hundredths) * self.below_table_pct_per_0_01
        return self.table[hundredths - first][1]


@lru_cache(maxsize=1)
def power_factor_rule() -> PowerFactorRule:
    """The shipped rule (standard 0.90), validated (cached)."""
    return load_package_toml("profiles", "power_factor.toml", PowerFactorRule)


def month_power_factor(kwh: float, kvarh: float) -> float:
    """cos phi of a month from its active and reactive energy (1.0 with no energy)."""
    s = math.hypot(kwh, kvarh)
    return kwh / s if s > 0 else 1.0
