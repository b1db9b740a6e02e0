"""Huzhou ambient temperature: climatology, diurnal swing, seeded, window independent."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from profiles import ambient_c
from profiles.weather import climate


def test_monthly_means_follow_the_climatology() -> None:
    t = climate().temperature
    clim = 0.5 * (np.array(t.daily_max_c) + np.array(t.daily_min_c))
    runs = np.array([ambient_c(dt.date(2023, 1, 1), 365 * 24, 3600, seed=s) for s in range(6)])
    days = np.arange("2023-01-01", "2024-01-01", dtype="datetime64[h]")
    month = days.astype("datetime64[M]").astype(int) % 12
    means = np.array([runs[:, month == m].mean() for m in range(12)])
    # Interpolating through mid-month smooths the extremes a little; weather adds noise.
    assert means == pytest.approx(clim, abs=1.5)
    assert means[6] - means[0] > 20


def test_afternoon_warmer_than_dawn() -> None:
    a = ambient_c(dt.date(2024, 5, 1), 31 * 24, 3600, seed=2).reshape(31, 24)
    assert (a[:, 14] > a[:, 5]).all()


def test_seeded_and_window_independent() -> None:
    a = ambient_c(dt.date(2024, 1, 1), 366 * 24, 3600, seed=3)
    assert np.array_equal(a, ambient_c(dt.date(2024, 1, 1), 366 * 24, 3600, seed=3))
    w = ambient_c(dt.datetime(2024, 8, 1, 5), 10, 3600, seed=3)
    k = (dt.date(2024, 8, 1) - dt.date(2024, 1, 1)).days * 24 + 5
    assert w == pytest.approx(a[k : k + 10], rel=1e-12)
