"""Rooftop PV: zero at night, under the clear-sky envelope, plausible yield, seeded."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pvlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parktwin.errors import InputError
from profiles import pv_kw
from profiles.pv import pv_clear_sky_kw, pv_system

from .strategies import dates


def _sun_elevation(times_local: list[dt.datetime]) -> np.ndarray:
    # pvlib's ephemeris algorithm, independent of the NREL SPA used by the model.
    idx = pd.DatetimeIndex(times_local).tz_localize("Asia/Shanghai")
    return pvlib.solarposition.get_solarposition(idx, 30.9, 119.9, method="ephemeris")[
        "elevation"
    ].to_numpy()


@settings(max_examples=12)
@given(dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)), st.sampled_from([300.0, 900.0, 3600.0]))
def test_zero_at_night(day: dt.date, step_s: float) -> None:
    n = int(86400 / step_s)
    p = pv_kw(1000.0, day, n, step_s, seed=day.toordinal())
    t0 = dt.datetime(day.year, day.month, day.day)
    starts = [t0 + dt.timedelta(seconds=k * step_s) for k in range(n)]
    ends = [t + dt.timedelta(seconds=step_s) for t in starts]
    dark = (_sun_elevation(starts) < -1.0) & (_sun_elevation(ends) < -1.0)
    assert dark.sum() >= n // 4
    assert (p[dark] == 0.0).all()
    assert (p >= 0).all()
    # and it does produce in daylight
    assert p.max() > 0


@settings(max_examples=10)
@given(st.integers(0, 10_000), st.sampled_from([(20.0, 180.0), (5.0, 90.0), (30.0, 250.0)]))
def test_never_above_the_clear_sky_envelope(seed: int, orientation) -> None:
    tilt, az = orientation
    start = dt.date(2024, 1, 1) + dt.timedelta(days=seed % 360)
    kw = dict(seed=seed, tilt_deg=tilt, azimuth_deg=az)
    p = pv_kw(500.0, start, 7 * 96, 900, **kw)
    env = pv_clear_sky_kw(500.0, start, 7 * 96, 900, **kw)
    # Equal where the sky is clear; the only difference there is summation rounding.
    assert (p <= env * (1 + 1e-12) + 1e-9).all()
    assert env.max() <= 500.0 / pv_system().inverter.dc_ac_ratio + 1e-9


def test_annual_yield_is_plausible_for_huzhou() -> None:
    yields = [pv_kw(1.0, dt.date(2024, 1, 1), 366 * 24, 3600, seed=s).sum() for s in range(3)]
    # Northern Zhejiang: roughly 1000-1250 kWh/kWp a year for a south roof at 20 degrees.
    assert all(950 < y < 1300 for y in yields), yields
    clear = pv_clear_sky_kw(1.0, dt.date(2024, 1, 1), 366 * 24, 3600).sum()
    assert 1700 < clear < 2200  # clear every day: the envelope


def test_south_beats_north() -> None:
    south = pv_kw(
        100.0, dt.date(2024, 12, 1), 31 * 24, 3600, seed=1, azimuth_deg=180.0, tilt_deg=25
    )
    north = pv_kw(100.0, dt.date(2024, 12, 1), 31 * 24, 3600, seed=1, azimuth_deg=0.0, tilt_deg=25)
    assert north.sum() < 0.8 * south.sum()


def test_seeded_and_window_independent() -> None:
    a = pv_kw(300.0, dt.date(2024, 6, 1), 30 * 96, 900, seed=11)
    assert np.array_equal(a, pv_kw(300.0, dt.date(2024, 6, 1), 30 * 96, 900, seed=11))
    assert not np.allclose(a, pv_kw(300.0, dt.date(2024, 6, 1), 30 * 96, 900, seed=12))
    day = pv_kw(300.0, dt.datetime(2024, 6, 10, 6), 12 * 4, 900, seed=11)
    assert day == pytest.approx(a[9 * 96 + 24 : 9 * 96 + 72], rel=1e-9, abs=1e-9)


def test_fine_steps_keep_the_energy() -> None:
    coarse = pv_kw(200.0, dt.date(2024, 8, 3), 24, 3600, seed=4)
    fine = pv_kw(200.0, dt.date(2024, 8, 3), 24 * 3600, 1.0, seed=4)
    # 1-s steps read the 5-min base interpolated: energy agrees to well under 1 %.
    assert fine.sum() / 3600 == pytest.approx(coarse.sum(), rel=5e-3)


def test_zero_kwp_and_bad_arguments() -> None:
    assert (pv_kw(0.0, dt.date(2024, 6, 1), 96, 900) == 0).all()
    with pytest.raises(InputError, match="tilt_deg"):
        pv_kw(10.0, dt.date(2024, 6, 1), 96, 900, tilt_deg=95)
    with pytest.raises(InputError, match="kwp"):
        pv_kw(-1.0, dt.date(2024, 6, 1), 96, 900)
