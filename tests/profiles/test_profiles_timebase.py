"""Resampling: fast aligned paths equal a plain per-step integral; energy is conserved."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiles.timebase import integrate_on_grid, local_epoch_s, resample_mean, to_local


def _reference(t0, dt_s, values, new_t0, new_dt, n):
    """Mean over each new step by explicit overlap of intervals (plain Python)."""
    out = []
    for k in range(n):
        a, b = new_t0 + k * new_dt, new_t0 + (k + 1) * new_dt
        acc = 0.0
        for j, v in enumerate(values):
            lo, hi = max(a, t0 + j * dt_s), min(b, t0 + (j + 1) * dt_s)
            if hi > lo:
                acc += v * (hi - lo)
        out.append(acc / new_dt)
    return np.array(out)


@given(
    st.lists(st.floats(-1e3, 1e4), min_size=8, max_size=60),
    st.sampled_from([60.0, 300.0, 900.0]),
    st.sampled_from([0.5, 1 / 3, 1.0, 2.0, 3.0, 1.5, 0.7]),
    st.integers(0, 4),
)
def test_resample_matches_plain_reference(values, dt_s, ratio, offset_steps) -> None:
    values = np.array(values)
    t0 = 1.7e9
    new_dt = dt_s * ratio
    new_t0 = t0 + offset_steps * dt_s
    n = int((values.size - offset_steps) * dt_s // new_dt)
    if n < 1:
        return
    got = resample_mean(t0, dt_s, values, new_t0, new_dt, n)
    assert got == pytest.approx(_reference(t0, dt_s, values, new_t0, new_dt, n), rel=1e-9, abs=1e-6)


def test_time_zone_handling() -> None:
    aware = dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC)
    assert to_local(aware) == dt.datetime(2024, 3, 1, 8, 0)
    assert to_local(dt.date(2024, 3, 1)) == dt.datetime(2024, 3, 1)
    assert local_epoch_s(dt.date(1970, 1, 2)) == 86400.0


@given(
    st.lists(st.floats(-1e3, 1e4), min_size=1, max_size=40),
    st.sampled_from([60.0, 900.0]),
    st.lists(st.floats(-2000.0, 40000.0), min_size=2, max_size=12, unique=True),
)
def test_integrate_on_grid_matches_plain_reference(values, dt_s, edges) -> None:
    values = np.array(values)
    t0 = 1.7e9
    edges_s = t0 + np.sort(np.array(edges))
    got, covered = integrate_on_grid(t0, dt_s, values, edges_s)
    for k in range(edges_s.size - 1):
        a, b = edges_s[k], edges_s[k + 1]
        acc = cov = 0.0
        for j, v in enumerate(values):
            lo, hi = max(a, t0 + j * dt_s), min(b, t0 + (j + 1) * dt_s)
            if hi > lo:
                acc += v * (hi - lo)
                cov += hi - lo
        assert got[k] == pytest.approx(acc, rel=1e-9, abs=1e-3)
        assert covered[k] == pytest.approx(cov, rel=1e-9, abs=1e-6)
