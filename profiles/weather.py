"""Huzhou weather: ambient temperature and the daily sky (clear-sky index), seeded.

Climatology and model parameters live in ``profiles/data/climate_huzhou.toml`` (with
sources). Random draws are made per calendar year from ``default_rng([seed, year, tag])``,
so a given seed gives the same weather for a given date whatever the run's window is.
The ambient temperature and the PV cloud model share the daily clear-sky index: a cloudy
day is cooler in the afternoon and its diurnal swing is narrower.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from pydantic import Field

from parktwin.config import Frozen, load_package_toml
from profiles.timebase import DAY_S, check_run, check_seed, local_epoch_s, resample_mean

BASE_DT_S = 300.0
_TAG_SKY, _TAG_TEMP, _TAG_INTRADAY = 101, 102, 103
_MID_MONTH_DOY = np.array([15.5, 45, 74.5, 105, 135.5, 166, 196.5, 227.5, 258, 288.5, 319, 349.5])


class Temperature(Frozen):
    source: str = Field(min_length=1)
    daily_max_c: list[float] = Field(min_length=12, max_length=12)
    daily_min_c: list[float] = Field(min_length=12, max_length=12)
    anomaly_sd_k: float = Field(ge=0)
    anomaly_ar1: float = Field(ge=0, lt=1)
    max_hour: float = Field(ge=0, lt=24)
    cloudy_swing_fraction: float = Field(ge=0, le=1)


class Sky(Frozen):
    source: str = Field(min_length=1)
    clear_sky_index_mean: list[float] = Field(min_length=12, max_length=12)
    concentration: float = Field(gt=0)
    day_ar1: float = Field(ge=0, lt=1)
    intraday_sd: float = Field(ge=0)
    intraday_tau_s: float = Field(gt=0)
    min_clear_sky_index: float = Field(ge=0, lt=1)


class Climate(Frozen):
    temperature: Temperature
    sky: Sky


@lru_cache(maxsize=1)
def climate() -> Climate:
    """The shipped Huzhou climate."""
    return load_package_toml("profiles", "climate_huzhou.toml", Climate)


def monthly_on_days(monthly: list[float] | np.ndarray, days: np.ndarray) -> np.ndarray:
    """A 12-value monthly climatology interpolated (cyclically, through mid-month) to days."""
    d = np.asarray(days, dtype="datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(np.float64) + 0.5
    x = np.concatenate((_MID_MONTH_DOY - 365, _MID_MONTH_DOY, _MID_MONTH_DOY + 365))
    y = np.tile(np.asarray(monthly, dtype=np.float64), 3)
    return np.interp(doy, x, y)


def _year_days(year: int) -> np.ndarray:
    d0 = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
    d1 = (dt.date(year + 1, 1, 1) - dt.date(1970, 1, 1)).days
    return np.arange(d0, d1)


def _ar1(z: np.ndarray, phi: float, axis: int = -1) -> np.ndarray:
    """Stationary unit-variance AR(1) driven by white noise `z` along `axis`."""
    zi_shape = list(z.shape)
    zi_shape[axis] = 1
    first = np.take(z, [0], axis=axis)
    # Start in the stationary state: e0 = z0, then e_k = phi e_{k-1} + sqrt(1-phi^2) z_k.
    zi = first * phi
    rest = np.sqrt(1 - phi * phi) * z
    from scipy.signal import lfilter  # on first use: importing scipy.signal costs a second

    out = lfilter([1.0], [1.0, -phi], rest, axis=axis, zi=zi)[0]
    idx = [slice(None)] * z.ndim
    idx[axis] = 0
    out[tuple(idx)] = first.reshape(out[tuple(idx)].shape)
    return out


@lru_cache(maxsize=64)
def _year_sky(seed: int, year: int) -> np.ndarray:
    """Daily clear-sky index of each day of `year` (Beta marginals, AR(1) copula)."""
    from scipy import special, stats  # on first use: importing scipy.stats costs seconds

    sky = climate().sky
    days = _year_days(year)
    rng = np.random.default_rng([seed, year, _TAG_SKY])
    u = special.ndtr(_ar1(rng.standard_normal(days.size), sky.day_ar1))
    mean = np.clip(monthly_on_days(sky.clear_sky_index_mean, days), 0.02, 0.98)
    a, b = mean * sky.concentration, (1 - mean) * sky.concentration
    return np.clip(stats.beta.ppf(u, a, b), sky.min_clear_sky_index, 1.0)


@lru_cache(maxsize=64)
def _year_temp_anomaly(seed: int, year: int) -> np.ndarray:
    t = climate().temperature
    rng = np.random.default_rng([seed, year, _TAG_TEMP])
    return t.anomaly_sd_k * _ar1(rng.standard_normal(_year_days(year).size), t.anomaly_ar1)


@lru_cache(maxsize=64)
def _year_intraday(seed: int, year: int) -> np.ndarray:
    """Unit AR(1) noise on the 5-min grid of `year`, shape (days, 288)."""
    sky = climate().sky
    n_day = int(DAY_S / BASE_DT_S)
    rng = np.random.default_rng([seed, year, _TAG_INTRADAY])
    z = rng.standard_normal(_year_days(year).size * n_day)
    return _ar1(z, float(np.exp(-BASE_DT_S / sky.intraday_tau_s))).reshape(-1, n_day)


def _per_day(fn, seed: int, days: np.ndarray) -> np.ndarray:
    """Concatenate per-year arrays `fn(seed, year)` over the local day numbers `days`."""
    dates = np.asarray(days, dtype="datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    out = []
    for year in np.unique(years):
        sel = days[years == year]
        out.append(fn(int(seed), int(year))[sel - _year_days(int(year))[0]])
    return np.concatenate(out)


def daily_clear_sky_index(seed: int, days: np.ndarray) -> np.ndarray:
    """Daily clear-sky index [0..1] of local day numbers `days`."""
    return _per_day(_year_sky, seed, np.asarray(days, dtype=np.int64))


def clear_sky_index_base(seed: int, d0: int, n_days: int) -> np.ndarray:
    """Clear-sky index on the 5-min grid of whole days from local day `d0` (flat array)."""
    sky = climate().sky
    days = np.arange(d0, d0 + n_days)
    kd = daily_clear_sky_index(seed, days)[:, None]
    noise = _per_day(_year_intraday, seed, days)
    # Broken cloud varies most at middling index; clear and overcast days are steady.
    k = kd + sky.intraday_sd * 4 * kd * (1 - kd) * noise
    return np.clip(k, sky.min_clear_sky_index, 1.0).ravel()


def ambient_base(seed: int, d0: int, n_days: int) -> np.ndarray:
    """Ambient temperature [degC] on the 5-min grid (sample midpoints) of whole days."""
    t = climate().temperature
    days = np.arange(d0, d0 + n_days)
    tmax = monthly_on_days(t.daily_max_c, days)
    tmin = monthly_on_days(t.daily_min_c, days)
    kd = daily_clear_sky_index(seed, days)
    kmean = monthly_on_days(climate().sky.clear_sky_index_mean, days)
    f = t.cloudy_swing_fraction
    swing = (tmax - tmin) * np.clip(f + (1 - f) * kd / kmean, f, 1.6)
    mean = 0.5 * (tmax + tmin) + _per_day(_year_temp_anomaly, seed, days)
    hour = (np.arange(int(DAY_S / BASE_DT_S)) + 0.5) * BASE_DT_S / 3600.0
    shape = np.cos(2 * np.pi * (hour - t.max_hour) / 24.0)
    return (mean[:, None] + 0.5 * swing[:, None] * shape[None, :]).ravel()


def base_window(start: dt.date | dt.datetime, n_steps: int, step_s: float) -> tuple[int, int]:
    """(first local day, number of days) of the whole days that cover a run."""
    check_run(n_steps, step_s)
    t0 = local_epoch_s(start)
    t1 = t0 + n_steps * float(step_s)
    d0 = int(np.floor(t0 / DAY_S))
    d1 = max(d0 + 1, int(np.ceil(t1 / DAY_S)))
    return d0, d1 - d0


def ambient_c(
    start: dt.date | dt.datetime, n_steps: int, step_s: float, seed: int = 0
) -> np.ndarray:
    """Ambient air temperature at the park [degC], mean of each step (Huzhou climate)."""
    d0, nd = base_window(start, n_steps, step_s)
    base = ambient_base(check_seed(seed), d0, nd)
    return to_run(base, d0, start, n_steps, step_s)


def to_run(
    base: np.ndarray, d0: int, start: dt.date | dt.datetime, n_steps: int, step_s: float
) -> np.ndarray:
    """A 5-min base series of whole days from day `d0` as means over the run's steps.

    Steps of at least 5 min get exact means; shorter steps read the base linearly
    interpolated at their midpoints (weather and PV vary smoothly at that scale).
    """
    t0 = local_epoch_s(start)
    if step_s >= BASE_DT_S:
        return resample_mean(d0 * DAY_S, BASE_DT_S, base, t0, step_s, n_steps)
    mid = t0 + (np.arange(n_steps) + 0.5) * float(step_s)
    grid = d0 * DAY_S + (np.arange(base.size) + 0.5) * BASE_DT_S
    return np.interp(mid, grid, base)
