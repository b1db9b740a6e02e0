"""Zhejiang time-of-use tariffs (large industry, 1-10 kV): schemes as data, picked by date.

Each scheme is one TOML file in ``profiles/data/tariff_*.toml``; every table carries its
``source`` (document number, date, what was read) and ``confidence``: the dates in force,
the period of every hour by month, the holiday rules, the time-of-use ratios and which
parts of the flat price they apply to, the default flat price, and the basic charge
(capacity, demand, contract demand). Prices are ``fixed + ratio[period] * floating``,
where the flat price's components come from the grid company's monthly agency-purchase
notice (`read_agency_prices`) or, without one, the scheme's documented defaults.
`tariff_for(date)` returns the scheme in force that day; `tou_series` crosses scheme
boundaries by itself.
"""

from __future__ import annotations

import datetime as dt
import math
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


Confidence = Literal["high", "medium", "low"]
Component = Literal["purchase", "line_loss", "system_operation", "transmission", "funds"]
COMPONENTS: tuple[str, ...] = (
    "purchase",
    "line_loss",
    "system_operation",
    "transmission",
    "funds",
)
"""The parts of the flat price as the grid company's monthly agency-purchase notice lists
them: purchase price (代理购电价格 / 上网电价), line loss (上网环节线损费用), system operation
(系统运行费用), transmission and distribution energy price (输配电价, without the basic
charge), government funds and surcharges (政府性基金及附加)."""


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


class HolidayRule(Frozen):
    """Hours that take another period on the days off of the named festivals.

    `first_days` None: every day of each festival's official days-off span; else only its
    first `first_days` days.
    """

    festivals: list[Festival] = Field(min_length=1)
    first_days: int | None = Field(default=None, ge=1, le=10)
    periods: dict[PeriodName, list[int]] = Field(min_length=1)
    source: str = Field(min_length=1)
    confidence: Confidence

    @field_validator("periods")
    @classmethod
    def _hours_valid(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        seen: set[int] = set()
        for name, hours in v.items():
            if any(not 0 <= h <= 23 for h in hours):
                raise ValueError(f"{name}: hours must be 0..23, got {hours}")
            if seen & set(hours):
                raise ValueError(f"{name}: hours {sorted(seen & set(hours))} given twice")
            seen |= set(hours)
        return v


class Prices(Frozen):
    """Energy prices: price[period] = fixed + ratio[period] * floating [yuan/kWh].

    The flat price is the sum of the notice's components (`COMPONENTS`); `floating` names
    the ones the time-of-use ratios apply to (all of them in the 2021 and 2024 schemes, the
    market part only from 2026), fixed = flat - floating. Without a monthly notice the
    defaults hold: `flat_yuan_per_kwh` and `floating_flat_yuan_per_kwh` (None = all of flat).
    """

    ratios: dict[PeriodName, float]
    ratios_source: str = Field(min_length=1)
    ratios_confidence: Confidence
    floating: list[Component] = Field(min_length=1)
    floating_source: str = Field(min_length=1)
    floating_confidence: Confidence
    flat_yuan_per_kwh: float = Field(gt=0, lt=5)
    floating_flat_yuan_per_kwh: float | None = Field(default=None, gt=0, lt=5)
    default_source: str = Field(min_length=1)
    default_confidence: Confidence

    @model_validator(mode="after")
    def _consistent(self) -> Prices:
        if self.ratios.get("flat", 1.0) != 1.0:
            raise ValueError(f"ratios: flat must be 1.0 (the base), got {self.ratios['flat']}")
        bad = {k: v for k, v in self.ratios.items() if not 0 < v < 10}
        if bad:
            raise ValueError(f"ratios: not a ratio to the flat price: {bad}")
        f = self.floating_flat_yuan_per_kwh
        if f is not None and f > self.flat_yuan_per_kwh:
            raise ValueError(
                f"floating_flat_yuan_per_kwh {f} is above flat_yuan_per_kwh {self.flat_yuan_per_kwh}"
            )
        if f is not None and set(self.floating) == set(COMPONENTS) and f != self.flat_yuan_per_kwh:
            raise ValueError("every component floats: floating_flat_yuan_per_kwh must equal flat")
        return self

    def by_period(self, flat_yuan_per_kwh: float, floating_yuan_per_kwh: float) -> np.ndarray:
        """float64 [5]: price [yuan/kWh] of each period (NaN where the scheme has no ratio)."""
        out = np.full(len(Period), np.nan)
        fixed = flat_yuan_per_kwh - floating_yuan_per_kwh
        for k, r in self.ratios.items():
            out[Period.parse(k)] = fixed + r * floating_yuan_per_kwh
        return out

    def default(self) -> np.ndarray:
        """float64 [5]: the prices without a monthly notice."""
        flat = self.flat_yuan_per_kwh
        return self.by_period(flat, self.floating_flat_yuan_per_kwh or flat)


class BasicCharge(Frozen):
    """The basic charge of the two-part tariff, its three bases (`parktwin.billing`)."""

    demand_yuan_per_kw_month: float = Field(ge=0)
    capacity_yuan_per_kva_month: float = Field(ge=0)
    source: str = Field(min_length=1)
    confidence: Confidence
    contract_excess_threshold: float = Field(ge=1.0, le=2.0)
    """Above this multiple of the contract demand, the excess is charged `contract_excess_factor`
    times (1.05: the part above 105 %)."""
    contract_excess_factor: float = Field(ge=1.0, le=5.0)
    contract_floor_share: float = Field(ge=0.0, le=1.0)
    """The contract demand is at least this share of the capacity (kVA, taken as kW)."""
    contract_source: str = Field(min_length=1)
    contract_confidence: Confidence


class TariffScheme(Frozen):
    """One time-of-use scheme in force from `valid_from` to `valid_to` (inclusive)."""

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: str = Field(min_length=1)
    """The document, its date, what was read (dates and scope)."""
    confidence: Confidence
    hours_source: str = Field(min_length=1)
    hours_confidence: Confidence
    hours: list[HourTable] = Field(min_length=1)
    holidays: list[HolidayRule] = Field(default_factory=list)
    prices: Prices
    basic_charge: BasicCharge

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
        for rule in self.holidays:
            used |= set(rule.periods)
        lacking = sorted(used - set(self.prices.ratios), key=PERIOD_KEYS.index)
        if lacking:
            raise ValueError(f"prices.ratios: no ratio for {', '.join(lacking)}")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @property
    def demand_charge_yuan_per_kw_month(self) -> float:
        """Demand charge [yuan per kW of the month's maximum 15-min demand]."""
        return self.basic_charge.demand_yuan_per_kw_month

    @property
    def capacity_charge_yuan_per_kva_month(self) -> float:
        """Capacity charge [yuan per kVA of transformer capacity and month]."""
        return self.basic_charge.capacity_yuan_per_kva_month

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
        """float64 [12, 5]: default price [yuan/kWh] of period p (column p) in month m (row
        m-1), without a monthly notice. Periods a scheme does not use are NaN."""
        return np.tile(self.prices.default(), (12, 1))

    def month_prices(
        self, year: int, month: int, notices: AgencyPrices | None = None
    ) -> np.ndarray:
        """float64 [5]: price of each period in (year, month): the notice's, else the default."""
        comp = notices.get(year, month) if notices is not None else None
        if comp is None:
            return self.price_table[month - 1]
        floating = sum(getattr(comp, c) for c in self.prices.floating)
        return self.prices.by_period(comp.flat_yuan_per_kwh, floating)

    def covers(self, day: dt.date) -> bool:
        """Is the scheme in force on `day`?"""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def periods_on(self, day: dt.date) -> np.ndarray:
        """int8 [24]: the period of each hour of `day` (holiday rules applied)."""
        row = self.period_table[day.month - 1].copy()
        for rule in self.holidays:
            days = cn_calendar.festival_days_off(day.year, tuple(rule.festivals), rule.first_days)
            if day in days:
                for name, hours in rule.periods.items():
                    row[hours] = Period.parse(name)
        return row

    def prices_on(self, day: dt.date, notices: AgencyPrices | None = None) -> np.ndarray:
        """float64 [24]: the price [yuan/kWh] of each hour of `day`."""
        return self.month_prices(day.year, day.month, notices)[self.periods_on(day)]


@dataclass(frozen=True)
class NoticeMonth:
    """The components of one month's flat price [yuan/kWh] from the agency-purchase notice."""

    purchase: float
    line_loss: float
    system_operation: float
    transmission: float
    funds: float

    @property
    def flat_yuan_per_kwh(self) -> float:
        return (
            self.purchase + self.line_loss + self.system_operation + self.transmission + self.funds
        )


@dataclass(frozen=True)
class AgencyPrices:
    """Monthly agency-purchase notices (`read_agency_prices`): (year, month) -> components."""

    source: str
    months: Mapping[tuple[int, int], NoticeMonth]

    def get(self, year: int, month: int) -> NoticeMonth | None:
        return self.months.get((year, month))

    def __hash__(self) -> int:
        return hash((self.source, tuple(sorted(self.months.items()))))


NOTICE_COLUMNS = ("month", *(f"{c}_yuan_per_kwh" for c in COMPONENTS))


def read_agency_prices(path: str | Path) -> AgencyPrices:
    """Read the grid company's monthly agency-purchase prices from a CSV file.

    Format (``#`` lines are comments; one row per month, any months, any order)::

        month,purchase_yuan_per_kwh,line_loss_yuan_per_kwh,system_operation_yuan_per_kwh,transmission_yuan_per_kwh,funds_yuan_per_kwh
        2026-07,0.4012,0.0139,0.0287,0.1466,0.0296

    The figures are those of the 1-10 kV large-industry (two-part) row of the notice
    (国网浙江省电力有限公司代理购电工商业用户电价表). The first problem is raised as one line
    naming the file, the row and the column.
    """
    import csv

    from parktwin.files import read_user_text

    src = str(path)
    text = read_user_text(Path(path), "an agency-purchase price CSV", encoding="utf-8-sig")
    rows = [
        (n, r)
        for n, r in enumerate(csv.reader(text.splitlines()), start=1)
        if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")
    ]
    if not rows:
        raise InputError(f"{src}: empty file, expected a header {','.join(NOTICE_COLUMNS)}")
    line, header = rows[0]
    header = [c.strip().lower() for c in header]
    if tuple(header) != NOTICE_COLUMNS:
        missing = [c for c in NOTICE_COLUMNS if c not in header]
        extra = [c for c in header if c not in NOTICE_COLUMNS]
        what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
        if not missing and not extra:
            what = "columns out of order"
        raise InputError(f"{src}: row {line}: header {what}; expected {','.join(NOTICE_COLUMNS)}")
    months: dict[tuple[int, int], NoticeMonth] = {}
    for line, row in rows[1:]:
        if len(row) != len(NOTICE_COLUMNS):
            raise InputError(
                f"{src}: row {line}: expected {len(NOTICE_COLUMNS)} fields, got {len(row)}"
            )
        cell = row[0].strip()
        try:
            year, month = (int(x) for x in cell.split("-"))
            dt.date(year, month, 1)
        except ValueError:
            raise InputError(f"{src}: row {line}: month {cell!r} is not YYYY-MM") from None
        if (year, month) in months:
            raise InputError(f"{src}: row {line}: month {cell} given twice")
        values = []
        for col, raw in zip(NOTICE_COLUMNS[1:], row[1:], strict=True):
            try:
                v = float(raw)
            except ValueError:
                raise InputError(
                    f"{src}: row {line}: {col} {raw.strip()!r} is not a number"
                ) from None
            if not (math.isfinite(v) and 0.0 <= v < 5.0):
                raise InputError(
                    f"{src}: row {line}: {col} {raw.strip()} is not a price in yuan/kWh (0..5)"
                )
            values.append(v)
        if values[0] <= 0.0:
            raise InputError(f"{src}: row {line}: purchase_yuan_per_kwh must be > 0")
        months[(year, month)] = NoticeMonth(*values)
    if not months:
        raise InputError(f"{src}: no data rows after the header")
    return AgencyPrices(src, months)


def load_scheme(path: str | Path) -> TariffScheme:
    """A user's tariff scheme file (same layout as the shipped ones)."""
    return load_toml(path, TariffScheme)


@lru_cache(maxsize=1)
def schemes() -> tuple[TariffScheme, ...]:
    """The shipped Zhejiang schemes, oldest first."""
    out = tuple(load_package_toml("profiles", f, TariffScheme) for f in SCHEME_FILES)
    return tuple(sorted(out, key=lambda s: s.valid_from))


def scheme_named(name: str) -> TariffScheme:
    """The shipped scheme called `name` (one-line InputError naming the known ones)."""
    for s in schemes():
        if s.name == name:
            return s
    known = ", ".join(s.name for s in schemes())
    raise InputError(f"tariff_scheme: unknown {name!r}, expected one of {known}")


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
    notices: AgencyPrices | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Periods (int8 [n, 24]) and prices (float64 [n, 24]) of local day numbers `days`.

    `prices` overrides the scheme prices of the named periods; `scheme` forces one scheme
    instead of the one in force each day; `notices` gives the monthly agency-purchase prices
    (the scheme's defaults hold for the months it lacks).
    """
    override = {Period.parse(k): float(v) for k, v in (prices or {}).items()}
    periods = np.empty((len(days), 24), dtype=np.int8)
    price = np.empty((len(days), 24))
    for i, day in enumerate(days):
        date = date_of_day(day)
        s = scheme or tariff_for(date)
        periods[i] = s.periods_on(date)
        price[i] = s.month_prices(date.year, date.month, notices)[periods[i]]
        for p, v in override.items():
            price[i][periods[i] == p] = v
    return periods, price


def tou_series(
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    prices: Mapping[Period | str, float] | None = None,
    scheme: TariffScheme | None = None,
    notices: AgencyPrices | None = None,
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
    periods, price = day_tables(days, prices, scheme, notices)
    hour = ((t - day * DAY_S) // 3600).astype(np.int64)
    return TouSeries(periods[day - d0, hour], price[day - d0, hour])


def day_schedule(
    day: dt.date, scheme: TariffScheme | None = None, notices: AgencyPrices | None = None
) -> dict:
    """The day's periods and prices as ``twin tariff show --json`` prints them."""
    s = scheme or tariff_for(day)
    periods, prices = s.periods_on(day), s.prices_on(day, notices)
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
