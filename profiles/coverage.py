"""Which dates the shipped data can drive: the calendar and the tariff schemes.

The working calendar (`profiles.cn_calendar`) needs the lunar new year of a day's year and
of the next one (the Spring Festival shutdown of late January belongs to the next lunar
year), and the `holidays` package tables it from 1901 to 2100: days of 1901-2099 are
covered. The State Council's holiday notices (the moved working weekends) are known to
the newest year in the `holidays` package; later years are estimated. The tariff schemes
(``profiles/data/tariff_zj_*.toml``) cover from the first one's ``valid_from`` on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from parktwin.errors import InputError


@dataclass(frozen=True)
class Coverage:
    """The first and last day the shipped data drive, and what limits each end."""

    first: dt.date
    last: dt.date
    calendar_years: tuple[int, int]
    notices_to: int
    tariff_from: dt.date

    def describe(self) -> str:
        y0, y1 = self.calendar_years
        return (
            f"the calendar covers {y0}-{y1} (holiday notices to {self.notices_to}, later"
            f" years estimated), the tariff data {self.tariff_from} onwards"
        )


@lru_cache(maxsize=1)
def coverage() -> Coverage:
    """The span of days the shipped calendar and tariff data cover."""
    from holidays.calendars.chinese import _ChineseLunisolar
    from holidays.countries.china import ChinaStaticHolidays

    from profiles.tariff import schemes

    lunar = _ChineseLunisolar.LUNAR_NEW_YEAR_DATES
    years = (min(lunar), max(lunar) - 1)  # a day needs its year's and the next new year
    notices = max(getattr(ChinaStaticHolidays, "special_public_holidays", {0: ()}))
    tariff_from = min(s.valid_from for s in schemes())
    first = max(dt.date(years[0], 1, 1), tariff_from)
    return Coverage(first, dt.date(years[1], 12, 31), years, notices, tariff_from)


def check_covered(first: dt.date, days: int, source: str) -> None:
    """`days` days from `first` inside `coverage()`, else a one-line InputError."""
    cov = coverage()
    try:
        last = first + dt.timedelta(days=days - 1)
    except OverflowError:
        last = dt.date.max
    if first < cov.first or last > cov.last:
        span = f"{first}" if days == 1 else f"{first} .. {last}"
        raise InputError(f"{source}: {span} is outside the data's coverage: {cov.describe()}")
