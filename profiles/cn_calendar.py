"""China's working calendar from the maintained `holidays` package (State Council notices).

`holidays.China` carries the statutory holidays and, for the years whose State Council
notice is out (to 2026 in holidays 0.109), the days off moved by 调休 *and* the weekend
days that become working days in exchange (its
``ChinaStaticHolidays.special_public_holidays`` table). For later years (2027-2035) the package estimates the statutory days (lunar
festivals are exact, substitutions follow its observed-day rule); the adjusted working
weekends are then unknown and weekends are simply weekends. Say so in results for those
years; the error is a handful of days a year.

The Spring Festival *shutdown* of a factory is longer than the statutory holiday and is
not in any calendar: it is modelled per industry (days before and after lunar new year,
with ramps) in ``profiles/data/industries.toml``; this module only gives the date of
lunar new year (`spring_festival`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
from holidays.calendars.chinese import _ChineseLunisolar

# English names as the package spells them (language="en_US"), used to find the festivals
# whose holidays carry the tariff's deep valley.
FESTIVAL_NAMES = {
    "spring_festival": ("Chinese New Year (Spring Festival)", "Chinese New Year's Eve"),
    "labour_day": ("Labor Day",),
    "national_day": ("National Day",),
}


@lru_cache(maxsize=64)
def _cn(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year, language="en_US")


@lru_cache(maxsize=64)
def adjusted_workdays(year: int) -> frozenset[dt.date]:
    """Weekend days of `year` that are working days by the State Council notice (调休上班)."""
    from holidays.countries.china import ChinaStaticHolidays

    table = getattr(ChinaStaticHolidays, "special_public_holidays", {})
    out = set()
    # Entries are (month, day off, from month, from day[, from year]); the "from" day is
    # the weekend day worked in exchange. A January day off may be paid by a December
    # weekend of the year before, so the next year's notice is read too.
    for notice_year in (year, year + 1):
        for entry in table.get(notice_year, ()):
            if len(entry) >= 4 and all(isinstance(x, int) for x in entry[2:]):
                from_year = entry[4] if len(entry) == 5 else notice_year
                if from_year == year:
                    out.add(dt.date(from_year, entry[2], entry[3]))
    return frozenset(out)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    """Days off by law in `year`: statutory holidays and the days off moved next to them."""
    return frozenset(_cn(year).keys())


def is_holiday(day: dt.date) -> bool:
    """A public holiday (statutory or moved day off)."""
    return day in public_holidays(day.year)


def is_workday(day: dt.date) -> bool:
    """A working day: Monday-Friday that is no holiday, or an adjusted working weekend day."""
    if day in adjusted_workdays(day.year):
        return True
    return day.weekday() < 5 and not is_holiday(day)


@lru_cache(maxsize=64)
def spring_festival(year: int) -> dt.date:
    """Lunar new year's day (正月初一) of `year`."""
    date, _estimated = _ChineseLunisolar().lunar_new_year_date(year)
    return date


@lru_cache(maxsize=256)
def festival_span(year: int, festival: str) -> tuple[dt.date, ...]:
    """The days-off span of one festival of `year`, in date order.

    The span is the run of consecutive non-working days (holiday, or weekend that is not an
    adjusted working day) around the festival's statutory days, e.g. Labour Day 2024 is
    May 1-5 (May 1-3 off, May 4-5 the weekend). Festival: a key of `FESTIVAL_NAMES`.
    """
    names = FESTIVAL_NAMES[festival]
    seeds = [d for d, name in _cn(year).items() if any(n in name for n in names)]
    out: set[dt.date] = set()
    one = dt.timedelta(days=1)
    for seed in seeds:
        for step in (one, -one):
            day = seed
            while not is_workday(day):
                out.add(day)
                day += step
    return tuple(sorted(d for d in out if d.year == year))


@lru_cache(maxsize=64)
def festival_days_off(
    year: int, festivals: tuple[str, ...], first_days: int | None = None
) -> frozenset[dt.date]:
    """The days off of the named festivals in `year`: each one's whole span, or its first
    `first_days` days (the 2026 tariff's "first three days of Labour Day")."""
    out: set[dt.date] = set()
    for f in festivals:
        span = festival_span(year, f)
        out.update(span if first_days is None else span[:first_days])
    return frozenset(out)
