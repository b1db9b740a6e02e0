"""The run's time base: local time (Asia/Shanghai, UTC+8, no DST) as float seconds.

A run is ``(start, n_steps, step_s)``; step k covers ``[start + k*step_s, start + (k+1)*step_s)``
and every series holds the *mean* of its quantity over each step. Inside `profiles/` times
are "local epoch seconds": seconds since 1970-01-01 00:00 *local* time, so the day index is
``t // 86400`` and the hour ``(t % 86400) // 3600`` with no time-zone arithmetic in hot paths.
China has kept UTC+8 without DST since 1991, so local = UTC + 8 h exactly.

Resampling between resolutions integrates the piecewise-constant series over the new
steps: exact for any pair of step lengths, aligned or not, and it conserves energy by
construction.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np

from parktwin.errors import InputError

TZ = ZoneInfo("Asia/Shanghai")
DAY_S = 86400.0
UTC_OFFSET_S = 8 * 3600.0  # local = UTC + 8 h, no DST since 1991
_EPOCH = dt.datetime(1970, 1, 1)


def to_local(start: dt.date | dt.datetime) -> dt.datetime:
    """`start` as a naive local (Asia/Shanghai) datetime; a date means its midnight."""
    if isinstance(start, dt.datetime):
        if start.tzinfo is not None:
            return start.astimezone(TZ).replace(tzinfo=None)
        return start
    if isinstance(start, dt.date):
        return dt.datetime(start.year, start.month, start.day)
    raise InputError(f"start: expected a date or datetime, got {type(start).__name__}")


def local_epoch_s(start: dt.date | dt.datetime) -> float:
    """Seconds since 1970-01-01 00:00 local time."""
    return (to_local(start) - _EPOCH).total_seconds()


def from_local_epoch_s(t_s: float) -> dt.datetime:
    """Inverse of `local_epoch_s` (naive local datetime)."""
    return _EPOCH + dt.timedelta(seconds=float(t_s))


def check_run(n_steps: int, step_s: float) -> None:
    """Refuse a run that cannot exist (one line naming the argument)."""
    if not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise InputError(f"n_steps: expected an integer >= 0, got {n_steps!r}")
    if not (isinstance(step_s, int | float | np.number) and math.isfinite(step_s) and step_s > 0):
        raise InputError(f"step_s: expected a number of seconds > 0, got {step_s!r}")


def check_seed(seed: int) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed: expected an integer >= 0, got {seed!r}")
    return int(seed)


def step_starts_s(start: dt.date | dt.datetime, n_steps: int, step_s: float) -> np.ndarray:
    """Local epoch seconds of the start of each step, float64 [s]."""
    check_run(n_steps, step_s)
    return local_epoch_s(start) + np.arange(n_steps, dtype=np.float64) * float(step_s)


def day_index(t_s: np.ndarray) -> np.ndarray:
    """Local day number (days since 1970-01-01) of each time, int64."""
    return np.floor(np.asarray(t_s) / DAY_S).astype(np.int64)


def month_of_day(day: np.ndarray) -> np.ndarray:
    """Calendar month 1..12 of each local day number, int64."""
    d = np.asarray(day, dtype="datetime64[D]")
    return (d.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)


def year_month_of_day(day: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each local day number (``year*12 + month-1 - 1970*12``)."""
    return np.asarray(day, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def date_of_day(day: int) -> dt.date:
    """The calendar date of a local day number."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def resample_mean(
    t0_s: float, dt_s: float, values: np.ndarray, new_t0_s: float, new_dt_s: float, n: int
) -> np.ndarray:
    """Means over ``n`` steps of ``new_dt_s`` from ``new_t0_s`` of a piecewise-constant series.

    `values[k]` is the mean over ``[t0 + k*dt, t0 + (k+1)*dt)``. The new window must lie
    inside the old one (to rounding). Exact for any pair of resolutions (it integrates),
    so energy is conserved.
    """
    values = np.asarray(values, dtype=np.float64)
    if n == 0:
        return np.zeros(0)
    # Aligned grids (the usual case) are block means or repeats: exact and fast.
    offset = (new_t0_s - t0_s) / dt_s
    if offset == round(offset) and offset >= 0:
        k0 = round(offset)
        ratio = new_dt_s / dt_s
        if ratio == round(ratio) and k0 + n * round(ratio) <= values.size:
            m = round(ratio)
            return values[k0 : k0 + n * m].reshape(n, m).mean(axis=1)
        inv = dt_s / new_dt_s
        if inv == round(inv):
            m = round(inv)
            need = -(-n // m)
            if k0 + need <= values.size:
                return np.repeat(values[k0 : k0 + need], m)[:n].copy()
    edges = new_t0_s + np.arange(n + 1, dtype=np.float64) * new_dt_s
    tol = 1e-6 * dt_s
    if edges[0] < t0_s - tol or edges[-1] > t0_s + values.size * dt_s + tol:
        raise ValueError("resample_mean: the new window is outside the series")
    return integrate_on_grid(t0_s, dt_s, values, edges)[0] / new_dt_s


def integrate_on_grid(
    t0_s: float, dt_s: float, values: np.ndarray, edges_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integral of a piecewise-constant series over each interval of a grid.

    `values[k]` holds on ``[t0 + k*dt, t0 + (k+1)*dt)``; `edges_s` (increasing, len m+1)
    bound m grid intervals. Returns (integral [value*s], covered [s]) per interval: the
    parts of the grid outside the series count zero and are not covered. Whole steps are
    summed locally (``np.add.reduceat``), not by differencing a long cumulative sum, so a
    year of 1-s data keeps full precision in each interval.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    pos = np.clip((np.asarray(edges_s, dtype=np.float64) - t0_s) / dt_s, 0.0, float(n))
    lo, hi = pos[:-1], pos[1:]
    i_lo = np.minimum(np.ceil(lo).astype(np.int64), n)
    i_hi = np.maximum(np.floor(hi).astype(np.int64), 0)
    padded = np.concatenate((values, [0.0]))
    whole = np.zeros(lo.size)
    has_whole = i_hi > i_lo
    if has_whole.any():
        idx = np.ravel(np.column_stack((i_lo[has_whole], i_hi[has_whole])))
        whole[has_whole] = np.add.reduceat(padded, idx)[::2]
    head = np.where(i_lo > lo, (i_lo - lo) * padded[np.maximum(i_lo - 1, 0)], 0.0)
    tail = np.where(hi > i_hi, (hi - i_hi) * padded[np.minimum(i_hi, n)], 0.0)
    total = whole + head + tail
    # An interval inside one step: head and tail above would both count that step.
    inside = i_lo > i_hi
    total[inside] = (hi[inside] - lo[inside]) * padded[
        np.minimum(np.floor(lo[inside]).astype(np.int64), n)
    ]
    return total * dt_s, (hi - lo) * dt_s
