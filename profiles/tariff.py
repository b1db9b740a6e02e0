"""Zhejiang time-of-use tariffs (large industry, 1-10 kV): schemes as data, picked by date.

Each scheme is one TOML file in ``profiles/data/tariff_*.toml`` with a source note on
every table: the period of every hour by month, the holiday deep-valley hours, the prices
by period (optionally by month, or as ``fixed + ratio * floating``), the demand charge
(yuan per kW of the month's maximum 15-min demand) and the capacity charge (yuan per kVA).
`tariff_for(date)` returns the scheme in force that day; `tou_series` crosses scheme
boundaries by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from parktwin.config import Frozen, load_package_toml, load_toml
from parktwin.errors import InputError
from parktwin.tariff_periods import PERIOD_KEYS, Period, PeriodName
from profiles import cn_calendar
from profiles.timebase import DAY_S, date_of_day, day_index, step_starts_s

Festival = Literal["spring_festival", "labour_day", "national_day"]
SCHEME_FILES = ("tariff_zj_2021.toml", "tariff_zj_2024.toml", "tariff_zj_2026.toml")


class HourTable(Frozen):
    """The period of each hour [h, h+1) of the day for a set of months."""

    months: list[int] = Field(min_length=1)
    periods: list[PeriodName] = Field(min_length=24, max_length=24)

    @field_validator("months")
    @classmethod
    def _months_valid(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1..12, got {bad}")
        return v


class HolidayDeepValley(Frozen):
    """Hours that are deep valley on the days off of the named festivals."""

    festivals: list[Festival] = Field(min_length=1)
    hours: list[int] = Field(min_length=1)
    source: str = Field(min_length=1)

    @field_validator("hours")
    @classmethod
    def _hours_valid(cls, v: list[int]) -> list[int]:
        if any(not 0 <= h <= 23 for h in v):
            raise ValueError(f"hours must be 0..23, got {v}")
        return v


class RatioPrices(Frozen):
    """price = fixed + ratio[period] * floating_flat (the 2026 scheme's float-part ratios)."""

    fixed_yuan_per_kwh: float = Field(ge=0)
    floating_flat_yuan_per_kwh: float = Field(gt=0)
    ratios: dict[PeriodName, float]


class Prices(Frozen):
    """Energy prices by period [yuan/kWh], either a table or a ratio rule, per month optional."""

    source: str = Field(min_length=1)
    yuan_per_kwh: dict[PeriodName, float] | None = None
    ratio: RatioPrices | None = None
    by_month: dict[int, dict[PeriodName, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_rule(self) -> Prices:
        if (self.yuan_per_kwh is None) == (self.ratio is None):
            raise ValueError("give exactly one of yuan_per_kwh or ratio")
        for month in self.by_month:
            if not 1 <= month <= 12:
                raise ValueError(f"by_month: month must be 1..12, got {month}")
        return self

    def base(self) -> dict[str, float]:
        """Prices by period name, before monthly overrides."""
        if self.yuan_per_kwh is not None:
            return dict(self.yuan_per_kwh)
        r = self.ratio
        return {
            k: r.fixed_yuan_per_kwh + v * r.floating_flat_yuan_per_kwh for k, v in r.ratios.items()
        }


class TariffScheme(Frozen):
    """One time-of-use scheme in force from `valid_from` to `valid_to` (inclusive)."""

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: str = Field(min_length=1)
    demand_charge_yuan_per_kw_month: float = Field(ge=0)
    capacity_charge_yuan_per_kva_month: float = Field(ge=0)
    charges_source: str = Field(min_length=1)
    holiday_deep_valley: HolidayDeepValley | None = None
    hours: list[HourTable] = Field(min_length=1)
    prices: Prices

    @model_validator(mode="after")
    def _complete(self) -> TariffScheme:
        seen: dict[int, int] = {}
        for i, table in enumerate(self.hours):
            for m in table.months:
                if m in seen:
                    raise ValueError(f"hours[{i}]: month {m} already in hours[{seen[m]}]")
                seen[m] = i
        missing = sorted(set(range(1, 13)) - set(seen))
        if missing:
            raise ValueError(f"hours: months {missing} have no period table")
        used = {p for t in self.hours for p in t.periods}
        if self.holiday_deep_valley is not None:
            used.add("deep_valley")
        for month in range(1, 13):
            prices = self.prices.base() | dict(self.prices.by_month.get(month, {}))
            lacking = sorted(used - set(prices), key=PERIOD_KEYS.index)
            if lacking:
                raise ValueError(f"prices: month {month} has no price for {', '.join(lacking)}")
            bad = {k: v for k, v in prices.items() if not 0 <= v < 20}
            if bad:
                raise ValueError(f"prices: month {month}: not a price in yuan/kWh: {bad}")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @cached_property
    def period_table(self) -> np.ndarray:
        """int8 [12, 24]: the period of hour h in month m (row m-1), ordinary days."""
        out = np.empty((12, 24), dtype=np.int8)
        for table in self.hours:
            row = [Period.parse(p) for p in table.periods]
            for m in table.months:
                out[m - 1] = row
        return out

    @cached_property
    def price_table(self) -> np.ndarray:
        """float64 [12, 5]: price [yuan/kWh] of period p (column p) in month m (row m-1).

        Periods a scheme does not use are NaN.
        """
        out = np.full((12, len(Period)), np.nan)
        for m in range(1, 13):
            prices = self.prices.base() | dict(self.prices.by_month.get(m, {}))
            for k, v in prices.items():
                out[m - 1, Period.parse(k)] = v
        return out

    def covers(self, day: dt.date) -> bool:
        """Is the scheme in force on `day`?"""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def deep_valley_days(self, year: int) -> frozenset[dt.date]:
        """The festival days off of `year` on which the deep-valley hours apply."""
        if self.holiday_deep_valley is None:
            return frozenset()
        return cn_calendar.festival_days_off(year, tuple(self.holiday_deep_valley.festivals))

    def periods_on(self, day: dt.date) -> np.ndarray:
        """int8 [24]: the period of each hour of `day` (holiday deep valley included)."""
        row = self.period_table[day.month - 1].copy()
        if day in self.deep_valley_days(day.year):
            row[self.holiday_deep_valley.hours] = Period.DEEP_VALLEY
        return row

    def prices_on(self, day: dt.date) -> np.ndarray:
        """float64 [24]: the price [yuan/kWh] of each hour of `day`."""
        return self.price_table[day.month - 1][self.periods_on(day)]


def load_scheme(path: str | Path) -> TariffScheme:
    """A user's tariff scheme file (same layout as the shipped ones)."""
    return load_toml(path, TariffScheme)


@lru_cache(maxsize=1)
def schemes() -> tuple[TariffScheme, ...]:
    """The shipped Zhejiang schemes, oldest first."""
    out = tuple(load_package_toml("profiles", f, TariffScheme) for f in SCHEME_FILES)
    return tuple(sorted(out, key=lambda s: s.valid_from))


def tariff_for(day: dt.date | dt.datetime) -> TariffScheme:
    """The scheme in force on `day` (before 2024-03, 2024-03..2026-06, from 2026-07)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    for scheme in schemes():
        if scheme.covers(day):
            return scheme
    raise InputError(f"date {day}: no tariff scheme in force (the shipped ones start 2000-01-01)")


@dataclass(frozen=True)
class TouSeries:
    """Period and price of each step (period of the hour the step starts in)."""

    period: np.ndarray  # int8, values of Period
    price_yuan_per_kwh: np.ndarray  # float64


def day_tables(
    days: np.ndarray,
    prices: Mapping[Period | str, float] | None = None,
    scheme: TariffScheme | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Periods (int8 [n, 24]) and prices (float64 [n, 24]) of local day numbers `days`.

    `prices` overrides the scheme prices of the named periods; `scheme` forces one scheme
    instead of the one in force each day.
    """
    override = {Period.parse(k): float(v) for k, v in (prices or {}).items()}
    periods = np.empty((len(days), 24), dtype=np.int8)
    price = np.empty((len(days), 24))
    for i, day in enumerate(days):
        date = date_of_day(day)
        s = scheme or tariff_for(date)
        periods[i] = s.periods_on(date)
        price[i] = s.price_table[date.month - 1][periods[i]]
        for p, v in override.items():
            price[i][periods[i] == p] = v
    return periods, price


def tou_series(
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    prices: Mapping[Period | str, float] | None = None,
    scheme: TariffScheme | None = None,
) -> TouSeries:
    """Period and price [yuan/kWh] of each step of a run; holidays get their deep valley.

    A step takes the period of the hour it starts in: with `step_s` dividing 3600 this is
    exact; `bill` splits coarser steps across periods by itself.
    """
    t = step_starts_s(start, n_steps, step_s)
    if n_steps == 0:
        return TouSeries(np.zeros(0, np.int8), np.zeros(0))
    day = day_index(t)
    d0 = int(day[0])
    days = np.arange(d0, int(day[-1]) + 1)
    periods, price = day_tables(days, prices, scheme)
    hour = ((t - day * DAY_S) // 3600).astype(np.int64)
    return TouSeries(periods[day - d0, hour], price[day - d0, hour])


def day_schedule(day: dt.date, scheme: TariffScheme | None = None) -> dict:
    """The day's periods and prices as ``twin tariff show --json`` prints them."""
    s = scheme or tariff_for(day)
    periods, prices = s.periods_on(day), s.prices_on(day)
    return {
        "date": day.isoformat(),
        "scheme": s.name,
        "hours": [
            {
                "hour": h,
                "period": Period(int(periods[h])).key,
                "price_yuan_per_kwh": round(float(prices[h]), 6),
            }
            for h in range(24)
        ],
    }
