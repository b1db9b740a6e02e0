"""Tariff schemes: every hour one period, scheme by date, holiday deep valley, data files."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parktwin.errors import InputError
from profiles import Period, tariff_for, tou_series
from profiles.tariff import load_scheme, read_agency_prices, schemes

from .strategies import dates

ALL_DAYS = [
    dt.date(2020, 1, 1) + dt.timedelta(days=k)
    for k in range((dt.date(2036, 1, 1) - dt.date(2020, 1, 1)).days)
]


def test_every_hour_of_every_day_has_exactly_one_period() -> None:
    for day in ALL_DAYS:
        s = tariff_for(day)
        periods = s.periods_on(day)
        assert periods.shape == (24,)
        assert set(periods.tolist()) <= {int(p) for p in Period}
        prices = s.prices_on(day)
        assert np.all(np.isfinite(prices)) and np.all(prices > 0)


def test_schemes_tile_time_without_overlap() -> None:
    ss = schemes()
    assert [s.name for s in ss] == ["zj-2021", "zj-2024", "zj-2026"]
    for a, b in itertools.pairwise(ss):
        assert a.valid_to + dt.timedelta(days=1) == b.valid_from
    assert ss[-1].valid_to is None


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (dt.date(2023, 12, 31), "zj-2021"),
        (dt.date(2024, 2, 29), "zj-2021"),
        (dt.date(2024, 3, 1), "zj-2024"),
        (dt.date(2026, 6, 30), "zj-2024"),
        (dt.date(2026, 7, 1), "zj-2026"),
        (dt.date(2035, 12, 31), "zj-2026"),
    ],
)
def test_scheme_in_force_by_date(day: dt.date, name: str) -> None:
    assert tariff_for(day).name == name


def _spans(day: dt.date) -> dict[str, list[int]]:
    p = tariff_for(day).periods_on(day)
    return {per.key: [h for h in range(24) if p[h] == per] for per in Period}


def test_2024_scheme_hours_as_published() -> None:
    # park-facts.md, second scheme, an ordinary working day in April and in July.
    apr = _spans(dt.date(2024, 4, 10))
    assert apr["peak"] == [8, 9, 10, 13, 14, 15, 16]
    assert apr["flat"] == list(range(17, 24))
    assert apr["valley"] == [*range(8), 11, 12]
    assert apr["sharp"] == [] and apr["deep_valley"] == []
    jul = _spans(dt.date(2024, 7, 10))
    assert jul["sharp"] == [9, 10, 15, 16]
    assert jul["peak"] == [8, *range(17, 23)]
    assert jul["flat"] == [13, 14, 23]
    assert jul["valley"] == [*range(8), 11, 12]


def test_old_scheme_hours_as_published() -> None:
    jan = _spans(dt.date(2023, 1, 10))
    assert jan["sharp"] == [9, 10, 13, 14, 15, 16]
    assert jan["peak"] == [8, 17, 18, 19, 20, 21]
    assert jan["valley"] == [*range(8), 11, 12, 22, 23]
    mar = _spans(dt.date(2023, 3, 10))
    assert mar["sharp"] == [9, 10, 15, 16]
    assert mar["peak"] == [8, 13, 14, 17, 18, 19, 20, 21]
    assert mar["flat"] == []


def test_2026_scheme_hours_and_ratios() -> None:
    aug = _spans(dt.date(2026, 8, 12))
    assert aug["sharp"] == [18, 19, 20, 21]
    assert aug["peak"] == [16, 17, 22]
    assert aug["valley"] == [*range(7), 11, 12, 13]
    s = tariff_for(dt.date(2026, 8, 12))
    pr = s.prices
    price = s.price_table[7]
    fixed = pr.flat_yuan_per_kwh - pr.floating_flat_yuan_per_kwh
    floating = (price - fixed) / pr.floating_flat_yuan_per_kwh
    assert floating[
        [Period.SHARP, Period.PEAK, Period.FLAT, Period.VALLEY, Period.DEEP_VALLEY]
    ] == pytest.approx([2.05, 1.85, 1.0, 0.4, 0.2])


@pytest.mark.parametrize(
    ("day", "deep"),
    [
        (dt.date(2024, 10, 3), True),  # National Day
        (dt.date(2024, 10, 7), True),  # last day of the National Day span
        (dt.date(2024, 10, 8), False),
        (dt.date(2024, 5, 4), True),  # weekend inside the Labour Day span (May 1-5)
        (dt.date(2024, 5, 11), False),  # adjusted working Saturday
        (dt.date(2025, 1, 29), True),  # Spring Festival
        (dt.date(2024, 6, 10), False),  # Dragon Boat: a holiday, but no deep valley
        (dt.date(2023, 10, 3), False),  # old scheme: no deep valley
    ],
)
def test_2024_holiday_deep_valley(day: dt.date, deep: bool) -> None:
    p = tariff_for(day).periods_on(day)
    assert (p[10:14] == Period.DEEP_VALLEY).all() == deep
    assert (p == Period.DEEP_VALLEY).sum() == (4 if deep else 0)


@pytest.mark.parametrize(
    ("day", "special"),
    [
        (dt.date(2026, 10, 1), True),  # National Day, first three days
        (dt.date(2026, 10, 3), True),
        (dt.date(2026, 10, 4), False),  # fourth day of the span: an ordinary October day
        (dt.date(2027, 5, 1), True),  # Labour Day
        (dt.date(2027, 5, 4), False),
        (dt.date(2027, 2, 10), True),  # Spring Festival: every day off
        (dt.date(2027, 2, 11), False),
    ],
)
def test_2026_holiday_valley_and_deep_valley(day: dt.date, special: bool) -> None:
    p = tariff_for(day).periods_on(day)
    assert tariff_for(day).name == "zj-2026"
    if special:
        assert (p[:9] == Period.VALLEY).all() and (p[9:15] == Period.DEEP_VALLEY).all()
    else:
        assert (p == Period.DEEP_VALLEY).sum() == 0 and p[8] != Period.VALLEY


def test_2024_prices_keep_the_notices_ratios_to_flat() -> None:
    s = tariff_for(dt.date(2025, 7, 1))
    price = s.price_table[6]
    flat = price[Period.FLAT]
    assert price[[Period.SHARP, Period.PEAK, Period.VALLEY, Period.DEEP_VALLEY]] / flat == (
        pytest.approx([1.98, 1.65, 0.38, 0.20])
    )


@given(
    dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)), st.sampled_from([60.0, 300.0, 900.0, 3600.0])
)
def test_tou_series_matches_the_day_table(day: dt.date, step_s: float) -> None:
    n = int(2 * 86400 / step_s)
    tou = tou_series(day, n, step_s)
    for k in range(0, n, max(1, n // 37)):
        t = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=k * step_s)
        s = tariff_for(t.date())
        assert tou.period[k] == s.periods_on(t.date())[t.hour]
        assert tou.price_yuan_per_kwh[k] == s.prices_on(t.date())[t.hour]


def test_tou_series_crosses_scheme_boundary_by_itself() -> None:
    tou = tou_series(dt.date(2024, 2, 29), 48, 3600)
    assert (
        tou.price_yuan_per_kwh[9]
        == tariff_for(dt.date(2024, 2, 29)).prices_on(dt.date(2024, 2, 29))[9]
    )
    assert tou.period[24 + 17] == Period.FLAT  # 2024-03-01 17:00, new scheme
    assert tou.period[17] == Period.PEAK  # 2024-02-29 17:00, old scheme
    assert tou.period.dtype == np.int8


def test_tou_series_price_override() -> None:
    tou = tou_series(dt.date(2024, 7, 1), 24, 3600, prices={"sharp": 2.0, Period.VALLEY: 0.1})
    assert (tou.price_yuan_per_kwh[tou.period == Period.SHARP] == 2.0).all()
    assert (tou.price_yuan_per_kwh[tou.period == Period.VALLEY] == 0.1).all()
    with pytest.raises(InputError, match="unknown 'offpeak'"):
        tou_series(dt.date(2024, 7, 1), 24, 3600, prices={"offpeak": 0.1})


def _write_scheme(tmp_path, text: str):
    p = tmp_path / "scheme.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _shipped_text() -> str:
    from parktwin.config import package_text

    return package_text("profiles", "tariff_zj_2024.toml")


def test_user_scheme_file_loads(tmp_path) -> None:
    s = load_scheme(_write_scheme(tmp_path, _shipped_text()))
    assert s == tariff_for(dt.date(2025, 1, 1))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("months = [1, 7, 8, 12]", "months = [1, 7, 8]"), "months [12] have no period table"),
        (("months = [1, 7, 8, 12]", "months = [1, 7, 8, 12, 3]"), "month 3 already in hours[0]"),
        (("sharp = 1.98, ", ""), "no ratio for sharp"),
        (('"valley", "valley", "peak"', '"valley", "vally", "peak"'), "hours[0].periods[7]"),
        (('confidence = "high"', 'confidence = "sure"'), "confidence"),
        (("flat = 1.0, valley", "flat = 1.1, valley"), "flat must be 1.0"),
        (
            ("demand_yuan_per_kw_month = 40.0", "demand_yuan_per_kw_month = -1"),
            "basic_charge.demand_yuan_per_kw_month",
        ),
    ],
)
def test_bad_scheme_file_is_one_line_naming_the_field(tmp_path, edit, message) -> None:
    text = _shipped_text()
    assert edit[0] in text
    path = _write_scheme(tmp_path, text.replace(edit[0], edit[1], 1))
    with pytest.raises(InputError) as info:
        load_scheme(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and message in msg


NOTICE_HEADER = (
    "month,purchase_yuan_per_kwh,line_loss_yuan_per_kwh,system_operation_yuan_per_kwh,"
    "transmission_yuan_per_kwh,funds_yuan_per_kwh\n"
)


def test_monthly_agency_purchase_prices(tmp_path) -> None:
    # A month's notice sets that month's flat price; the scheme decides which parts float.
    path = tmp_path / "notices.csv"
    path.write_text(
        "# 1-10 kV large industry\n" + NOTICE_HEADER + "2026-08,0.40,0.02,0.03,0.15,0.03\n"
        "2025-07,0.40,0.02,0.03,0.15,0.03\n",
        encoding="utf-8",
    )
    notices = read_agency_prices(path)
    aug26 = tariff_for(dt.date(2026, 8, 12))
    p = aug26.prices_on(dt.date(2026, 8, 12), notices)
    fixed, floating = 0.15 + 0.03, 0.40 + 0.02 + 0.03  # 2026: T&D and funds do not float
    assert p[19] == pytest.approx(fixed + 2.05 * floating)  # sharp 18-22
    assert p[0] == pytest.approx(fixed + 0.4 * floating)
    sep = aug26.prices_on(dt.date(2026, 9, 9), notices)  # no notice: the defaults
    assert sep[0] == pytest.approx(aug26.price_table[8][Period.VALLEY])
    jul25 = tariff_for(dt.date(2025, 7, 9)).prices_on(dt.date(2025, 7, 9), notices)
    assert jul25[0] == pytest.approx(0.38 * 0.63)  # 2024 scheme: the whole flat floats
    tou = tou_series(dt.date(2026, 8, 12), 24, 3600, notices=notices)
    assert tou.price_yuan_per_kwh == pytest.approx(p)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty file"),
        ("month,purchase_yuan_per_kwh\n", "row 1: header missing line_loss_yuan_per_kwh"),
        (NOTICE_HEADER, "no data rows"),
        (NOTICE_HEADER + "2026/08,0.4,0.02,0.03,0.15,0.03\n", "row 2: month '2026/08' is not"),
        (NOTICE_HEADER + "2026-13,0.4,0.02,0.03,0.15,0.03\n", "row 2: month '2026-13'"),
        (NOTICE_HEADER + "2026-08,0.4,0.02,0.03,0.15\n", "row 2: expected 6 fields, got 5"),
        (NOTICE_HEADER + "2026-08,0.4,x,0.03,0.15,0.03\n", "line_loss_yuan_per_kwh 'x'"),
        (NOTICE_HEADER + "2026-08,400,0.02,0.03,0.15,0.03\n", "not a price in yuan/kWh"),
        (
            NOTICE_HEADER + "2026-08,0.4,0.02,0.03,0.15,0.03\n2026-08,0.4,0.02,0.03,0.15,0.03\n",
            "row 3: month 2026-08 given twice",
        ),
    ],
)
def test_bad_agency_price_file_is_one_line(tmp_path, body: str, message: str) -> None:
    path = tmp_path / "notices.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_agency_prices(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and message in msg


def test_every_shipped_table_has_a_source_and_confidence() -> None:
    levels = {"high", "medium", "low"}
    for s in schemes():
        assert s.source and s.hours_source and s.confidence in levels
        assert s.hours_confidence in levels
        p = s.prices
        assert p.ratios_source and p.floating_source and p.default_source
        assert {p.ratios_confidence, p.floating_confidence, p.default_confidence} <= levels
        bc = s.basic_charge
        assert bc.source and bc.contract_source
        assert {bc.confidence, bc.contract_confidence} <= levels
        for rule in s.holidays:
            assert rule.source and rule.confidence in levels
