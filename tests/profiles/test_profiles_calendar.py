"""China's calendar from the holidays package: coverage 2020-2035, adjusted days, festivals."""

from __future__ import annotations

import datetime as dt

import pytest

from profiles import cn_calendar


@pytest.mark.parametrize("year", range(2020, 2036))
def test_statutory_holidays_every_year(year: int) -> None:
    hol = cn_calendar.public_holidays(year)
    for day in (
        dt.date(year, 1, 1),
        dt.date(year, 5, 1),
        dt.date(year, 10, 1),
        dt.date(year, 10, 3),
    ):
        assert day in hol
    assert cn_calendar.spring_festival(year) in hol
    assert len(hol) >= 11  # the statutory days alone


@pytest.mark.parametrize(
    ("year", "cny"),
    [
        (2020, (1, 25)),
        (2024, (2, 10)),
        (2025, (1, 29)),
        (2026, (2, 17)),
        (2030, (2, 3)),
        (2035, (2, 8)),
    ],
)
def test_lunar_new_year(year: int, cny: tuple[int, int]) -> None:
    assert cn_calendar.spring_festival(year) == dt.date(year, *cny)


def test_adjusted_working_days_of_2024_and_2025() -> None:
    # State Council notices: weekends worked in exchange for longer holidays.
    assert sorted(cn_calendar.adjusted_workdays(2024)) == [
        dt.date(2024, m, d)
        for m, d in ((2, 4), (2, 18), (4, 7), (4, 28), (5, 11), (9, 14), (9, 29), (10, 12))
    ]
    assert dt.date(2025, 1, 26) in cn_calendar.adjusted_workdays(2025)
    assert cn_calendar.is_workday(dt.date(2024, 2, 4))  # a Sunday
    assert not cn_calendar.is_workday(dt.date(2024, 2, 15))  # a Thursday off
    assert not cn_calendar.is_workday(dt.date(2024, 2, 17))  # a Saturday


def test_festival_days_off_spans() -> None:
    span = cn_calendar.festival_days_off(2024, ("spring_festival", "labour_day", "national_day"))
    assert {d for d in span if d.month == 2} == {dt.date(2024, 2, d) for d in range(10, 18)}
    assert {d for d in span if d.month == 5} == {dt.date(2024, 5, d) for d in range(1, 6)}
    assert {d for d in span if d.month == 10} == {dt.date(2024, 10, d) for d in range(1, 8)}
