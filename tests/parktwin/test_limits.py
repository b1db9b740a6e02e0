"""`parktwin.limits`: the shipped limits with their sources, and the pure checkers."""

import math

import numpy as np
import pytest

from parktwin.limits import (
    GridLimits,
    grid_limits,
    high_voltage_margin_pct,
    loading_margin_pct,
    low_voltage_margin_pct,
    overloaded,
    voltage_margin_pct,
    voltage_outside,
)


def test_shipped_limits_are_gbt_12325_and_ratings_with_sources() -> None:
    lim = grid_limits()
    assert (lim.v_min_pu, lim.v_max_pu, lim.loading_max_pct) == (0.93, 1.07, 100.0)
    assert "GB/T 12325" in lim.voltage_source and lim.loading_source
    assert lim.v_half_band_pu == pytest.approx(0.07)
    assert 0 < lim.tol_v_pu < 0.01 and 0 < lim.tol_loading_pct < 5


def test_checkers_flag_strictly_beyond_the_limit_and_never_nan() -> None:
    lim = grid_limits()
    v = np.array([0.93, 0.9299, 1.07, 1.0701, math.nan, 1.0])
    assert voltage_outside(v, lim).tolist() == [False, True, False, True, False, False]
    x = np.array([[100.0, 100.01], [math.nan, 0.0]])
    assert overloaded(x, lim).tolist() == [[False, True], [False, False]]


def test_margins_in_percent_of_each_allowance() -> None:
    lim = GridLimits(v_min_pu=0.93, v_max_pu=1.07, loading_max_pct=100.0)
    # 0.02 p.u. above the floor of a 0.07 p.u. half band; the higher side has more room
    assert voltage_margin_pct(0.95, 1.03, lim) == pytest.approx(0.02 / 0.07 * 100)
    assert voltage_margin_pct(0.92, 1.0, lim) < 0
    assert loading_margin_pct(80.0, lim) == 20.0
    assert loading_margin_pct(104.0, lim) == -4.0
    # each edge alone (a study's element extremes): the band's two sides
    assert low_voltage_margin_pct(0.95, lim) == pytest.approx(0.02 / 0.07 * 100)
    assert high_voltage_margin_pct(1.03, lim) == pytest.approx(0.04 / 0.07 * 100)
    assert high_voltage_margin_pct(1.08, lim) < 0 < low_voltage_margin_pct(1.08, lim)
