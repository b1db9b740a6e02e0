"""Enterprise loads: reproducible, on target, calendar shapes, windows, growth, errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parktwin.errors import InputError
from profiles import INDUSTRIES, load_kw
from profiles.cn_calendar import spring_festival
from profiles.loads import _calibrate, industry_shapes, natural_load_factor

YEAR_2024 = 366 * 96


@pytest.mark.parametrize("industry", INDUSTRIES)
@pytest.mark.parametrize("year", [2024, 2025])
def test_full_year_hits_energy_and_peak(industry: str, year: int) -> None:
    n = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days * 96
    annual_kwh, peak_kw = 12.0e6, 2500.0
    p = load_kw(industry, dt.date(year, 1, 1), n, 900, annual_kwh, peak_kw, seed=7)
    assert p.sum() * 0.25 == pytest.approx(annual_kwh, rel=1e-9)
    assert p.max() == pytest.approx(peak_kw, rel=1e-9)
    assert (p >= 0).all()


def test_same_seed_same_series_other_seed_other_series() -> None:
    args = ("auto_parts", dt.date(2024, 5, 6), 7 * 96, 900, 8e6, 2000.0)
    a, b = load_kw(*args, seed=3), load_kw(*args, seed=3)
    assert np.array_equal(a, b)
    assert not np.allclose(a, load_kw(*args, seed=4))


@settings(max_examples=15)
@given(
    st.sampled_from(INDUSTRIES),
    st.integers(0, 360 * 24),  # start hour in 2024
    st.sampled_from([60.0, 300.0, 900.0, 3600.0]),
    st.integers(1, 300),
)
def test_a_window_is_a_slice_of_the_year(
    industry: str, start_h: int, step_s: float, n: int
) -> None:
    # The reference runs 300 h past 2024 (the longest window), so a window crossing into
    # 2025 is compared with the series' continuation, not with a truncated slice.
    year = load_kw(industry, dt.date(2024, 1, 1), YEAR_2024 + 1200, 900, 9e6, 1800.0, seed=1)
    start = dt.datetime(2024, 1, 1) + dt.timedelta(hours=start_h)
    win = load_kw(industry, start, n, step_s, 9e6, 1800.0, seed=1)
    # The window's energy equals the year's over the same span (the year is on 15 min).
    # Inside a 15-min block, short steps vary around its mean (fast variation), so a
    # window ending mid-block is compared on its whole blocks only.
    t0 = start_h * 4
    span_15 = n * step_s / 900
    whole, frac = int(span_15), span_15 - int(span_15)
    if step_s < 900:
        reps = int(900 / step_s)
        assert win[: whole * reps].sum() / reps == pytest.approx(
            year[t0 : t0 + whole].sum(), rel=1e-9
        )
    else:
        expect = year[t0 : t0 + whole].sum() + (frac * year[t0 + whole] if frac else 0.0)
        assert win.sum() * step_s / 900 == pytest.approx(expect, rel=1e-9)
    if step_s <= 900:
        reps = int(900 / step_s)
        assert win[: (n // reps) * reps].reshape(-1, reps).mean(1) == pytest.approx(
            year[t0 : t0 + n // reps], rel=1e-9
        )


def _daily_mean(p15: np.ndarray, year: int, day: dt.date) -> float:
    k = (day - dt.date(year, 1, 1)).days
    return float(p15[k * 96 : (k + 1) * 96].mean())


def test_weekly_and_holiday_shape_of_a_two_shift_plant() -> None:
    p = load_kw("auto_parts", dt.date(2024, 1, 1), YEAR_2024, 900, 10e6, 2500.0, seed=2)
    wed, sun = (
        _daily_mean(p, 2024, dt.date(2024, 4, 17)),
        _daily_mean(p, 2024, dt.date(2024, 4, 21)),
    )
    assert sun < 0.5 * wed
    # 2024-04-07 is a Sunday worked in exchange for Qingming (adjusted working day).
    assert _daily_mean(p, 2024, dt.date(2024, 4, 7)) > 0.8 * wed
    # National Day holiday (Thursday 2024-10-03) is much lower than an ordinary Thursday.
    assert _daily_mean(p, 2024, dt.date(2024, 10, 3)) < 0.5 * _daily_mean(
        p, 2024, dt.date(2024, 10, 10)
    )
    # Night (02:00) far below the day shift (10:00) on a working day.
    k = (dt.date(2024, 4, 17) - dt.date(2024, 1, 1)).days * 96
    assert p[k + 8] < 0.5 * p[k + 40]


@pytest.mark.parametrize(
    ("industry", "lo", "hi"), [("auto_parts", 0.0, 0.45), ("magnets", 0.4, 0.9)]
)
def test_spring_festival_shutdown(industry: str, lo: float, hi: float) -> None:
    # At the shape's own load factor, so the shape is kept as drawn (gamma = 1).
    lf = natural_load_factor(industry, 2025, seed=5)
    p = load_kw(industry, dt.date(2025, 1, 1), 365 * 96, 900, lf * 8760 * 2500.0, 2500.0, seed=5)
    cny = spring_festival(2025)
    shut = np.mean([_daily_mean(p, 2025, cny + dt.timedelta(days=k)) for k in range(0, 4)])
    normal = np.mean([_daily_mean(p, 2025, dt.date(2025, 3, d)) for d in (11, 12, 13)])
    assert lo * normal <= shut <= hi * normal  # magnets keep their furnaces warm


def test_gamma_is_one_at_the_natural_load_factor() -> None:
    lf = natural_load_factor("bearings", 2024, seed=9)
    _a, gamma = _calibrate("bearings", 2024, lf * 8784 * 1000.0, 1000.0, 0.0, 9)
    assert gamma == pytest.approx(1.0, rel=1e-6)


def test_growth_compounds_year_on_year() -> None:
    p = load_kw("machining", dt.date(2024, 1, 1), (366 + 365) * 96, 900, 5e6, 1500.0, 0.245, seed=0)
    e24, e25 = p[:YEAR_2024].sum() * 0.25, p[YEAR_2024:].sum() * 0.25
    assert e24 == pytest.approx(5e6, rel=1e-9)
    assert p[:YEAR_2024].max() == pytest.approx(1500.0, rel=1e-9)
    assert 1.2 < e25 / e24 < 1.3


def test_summer_cooling_raises_the_load() -> None:
    p = load_kw("robotics", dt.date(2024, 1, 1), YEAR_2024, 900, 3e6, 1000.0, seed=0)
    jul = p[(dt.date(2024, 7, 1) - dt.date(2024, 1, 1)).days * 96 :][: 31 * 96].mean()
    apr = p[(dt.date(2024, 4, 1) - dt.date(2024, 1, 1)).days * 96 :][: 30 * 96].mean()
    assert jul > 1.05 * apr


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InputError, match="industry: unknown 'steel'"):
        load_kw("steel", dt.date(2024, 1, 1), 96, 900, 1e6, 500.0)
    with pytest.raises(InputError, match="load factor"):
        load_kw("magnets", dt.date(2024, 1, 1), 96, 900, 1e6 * 9, 500.0)  # mean above peak
    with pytest.raises(InputError, match="annual_kwh"):
        load_kw("magnets", dt.date(2024, 1, 1), 96, 900, -1.0, 500.0)
    with pytest.raises(InputError, match="n_steps"):
        load_kw("magnets", dt.date(2024, 1, 1), -1, 900, 1e6, 500.0)


def test_negative_seed_is_an_input_error() -> None:
    from profiles import ambient_c, pv_kw

    with pytest.raises(InputError, match="seed"):
        load_kw("magnets", dt.date(2024, 1, 1), 4, 900, 1e6, 500.0, seed=-1)
    with pytest.raises(InputError, match="seed"):
        pv_kw(10.0, dt.date(2024, 1, 1), 4, 900, seed=-1)
    with pytest.raises(InputError, match="seed"):
        ambient_c(dt.date(2024, 1, 1), 4, 900, seed=-1)


@pytest.mark.parametrize(
    ("industry", "step_s"), [("auto_parts", 1.0), ("magnets", 10.0), ("machining", 60.0)]
)
def test_fast_variation_keeps_the_15min_means(industry: str, step_s: float) -> None:
    day = dt.date(2024, 4, 17)
    p15 = load_kw(industry, day, 96, 900, 10e6, 2500.0, seed=1)
    m = int(900 / step_s)
    fine = load_kw(industry, day, 96 * m, step_s, 10e6, 2500.0, seed=1)
    blocks = fine.reshape(96, m)
    assert blocks.mean(axis=1) == pytest.approx(p15, rel=1e-12)
    assert (fine > 0).all()
    # It does vary inside a block, by about the industry's fast_sd.
    sd = industry_shapes().industries[industry].fast_sd
    rel = (blocks.std(axis=1) / p15).mean()
    assert 0.3 * sd < rel < 2.0 * sd
    # A window at the same step is a slice of the day.
    k = 7 * m + 3
    win = load_kw(
        industry,
        dt.datetime(2024, 4, 17) + dt.timedelta(seconds=k * step_s),
        50,
        step_s,
        10e6,
        2500.0,
        seed=1,
    )
    assert np.array_equal(win, fine[k : k + 50])


def test_a_window_across_new_year_continues_the_series() -> None:
    # Found by hypothesis (ci profile): a 300-h window from hour 8485 of 2024 ends in 2025.
    year = load_kw("magnets", dt.date(2024, 1, 1), YEAR_2024 + 1200, 900, 9e6, 1800.0, seed=1)
    start = dt.datetime(2024, 1, 1) + dt.timedelta(hours=8485)
    win = load_kw("magnets", start, 300, 3600.0, 9e6, 1800.0, seed=1)
    t0 = 8485 * 4
    assert win.sum() * 4 == pytest.approx(year[t0 : t0 + 1200].sum(), rel=1e-9)
