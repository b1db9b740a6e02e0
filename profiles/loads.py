"""Synthetic enterprise loads by industry, scaled to annual energy and peak demand.

Shapes are data (``profiles/data/industries.toml``): a continuous base, hourly shift
activity, Saturday/Sunday/holiday factors, the Spring Festival shutdown around lunar new
year, cooling and heating by month, and seeded noise. The calendar (holidays, adjusted
working weekends, lunar new year) is `profiles.cn_calendar`, from the `holidays` package.

Scaling: the shape x(t) >= 0 is computed on the 15-min grid of the *calendar year of the
run's start* (the reference year), with yearly growth ``G(t) = (1 + g)^(years since Jan 1 of
that year)``. The load is ``a * x^gamma * G``: gamma bends the shape's load factor to the
target's (``annual_kwh / (hours * peak_kw)``; gamma = 1 when they agree) and a scales it,
so over the reference year the energy is `annual_kwh` and the highest 15-min mean is
`peak_kw`, exactly. Other years follow from G. Draws come from
``default_rng([seed, industry, year, tag])``: a seed gives the same load at the same
moment whatever the window, and a window of a longer run equals the shorter run.

Steps shorter than 15 min that divide it (and start on the step grid) get the industry's
fast variation (`fast_factor`): a lognormal AR(1) normalised to mean 1 over each 15-min
block, so 15-min means, energy and peak are those of the 15-min series. Other short
steps hold the 15-min mean.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from pydantic import Field, field_validator

from parktwin.config import Frozen, load_package_toml
from parktwin.errors import InputError
from parktwin.industries import INDUSTRIES
from profiles import cn_calendar
from profiles.timebase import (
    DAY_S,
    check_run,
    check_seed,
    date_of_day,
    local_epoch_s,
    resample_mean,
)
from profiles.weather import monthly_on_days

STEP15_S = 900.0
N15 = 96
_TAG_DAY, _TAG_AR, _TAG_FAST = 201, 202, 203
_YEAR_S = 365.25 * DAY_S


class SpringFestival(Frozen):
    days_before: int = Field(ge=0, le=30)
    days_after: int = Field(ge=0, le=30)
    ramp_days: int = Field(ge=0, le=10)
    base_scale: float = Field(ge=0, le=1)


class IndustryShape(Frozen):
    description: str = Field(min_length=1)
    base: float = Field(ge=0, le=1)
    activity: list[float] = Field(min_length=24, max_length=24)
    saturday: float = Field(ge=0, le=1.5)
    sunday: float = Field(ge=0, le=1.5)
    holiday: float = Field(ge=0, le=1.5)
    cooling: float = Field(ge=0, le=1)
    heating: float = Field(ge=0, le=1)
    day_sd: float = Field(ge=0, le=0.5)
    ar_sd: float = Field(ge=0, le=0.5)
    ar_tau_s: float = Field(gt=0)
    fast_sd: float = Field(ge=0, le=0.3)
    fast_tau_s: float = Field(gt=0)
    spring_festival: SpringFestival

    @field_validator("activity")
    @classmethod
    def _activity_range(cls, v: list[float]) -> list[float]:
        if any(not 0 <= a <= 1 for a in v):
            raise ValueError("activity values must be 0..1")
        return v


class IndustryFile(Frozen):
    source: str = Field(min_length=1)
    industries: dict[str, IndustryShape]

    @field_validator("industries")
    @classmethod
    def _all_present(cls, v: dict[str, IndustryShape]) -> dict[str, IndustryShape]:
        missing = [k for k in INDUSTRIES if k not in v]
        if missing:
            raise ValueError(f"missing industries {missing}")
        return v


@lru_cache(maxsize=1)
def industry_shapes() -> IndustryFile:
    """The shipped industry shapes."""
    return load_package_toml("profiles", "industries.toml", IndustryFile)


def _shape_of(industry: str) -> IndustryShape:
    if industry not in INDUSTRIES:
        raise InputError(f"industry: unknown {industry!r}, expected one of {', '.join(INDUSTRIES)}")
    return industry_shapes().industries[industry]


def _shutdown_weight(day: dt.date, sf: SpringFestival) -> float:
    """1 inside the Spring Festival shutdown, ramping linearly to 0 over ramp_days outside."""
    w = 0.0
    for year in (day.year, day.year + 1):
        o = (day - cn_calendar.spring_festival(year)).days
        if -sf.days_before <= o <= sf.days_after:
            return 1.0
        if sf.ramp_days > 0:
            dist = (-sf.days_before - o) if o < 0 else (o - sf.days_after)
            w = max(w, 1.0 - dist / (sf.ramp_days + 1))
    return max(w, 0.0)


@lru_cache(maxsize=256)
def _day_scales(industry: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """(activity scale, base scale) of each day of `year`."""
    s = _shape_of(industry)
    d = dt.date(year, 1, 1)
    act, base = [], []
    while d.year == year:
        if cn_calendar.is_holiday(d):
            a = s.holiday
        elif cn_calendar.is_workday(d):
            a = 1.0
        else:
            a = s.saturday if d.weekday() == 5 else s.sunday
        w = _shutdown_weight(d, s.spring_festival)
        act.append(a * (1 - w))
        base.append(1 - w * (1 - s.spring_festival.base_scale))
        d += dt.timedelta(days=1)
    return np.array(act), np.array(base)


@lru_cache(maxsize=256)
def _year_noise(industry: str, seed: int, year: int) -> np.ndarray:
    """Multiplicative noise (days, 96) of one year: lognormal day factor x (1 + AR(1))."""
    s = _shape_of(industry)
    n_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    idx = INDUSTRIES.index(industry)
    rng_day = np.random.default_rng([seed, idx, year, _TAG_DAY])
    rng_ar = np.random.default_rng([seed, idx, year, _TAG_AR])
    day = np.exp(s.day_sd * rng_day.standard_normal(n_days) - 0.5 * s.day_sd**2)
    phi = float(np.exp(-STEP15_S / s.ar_tau_s))
    z = rng_ar.standard_normal(n_days * N15)
    from scipy.signal import lfilter  # on first use: importing scipy.signal costs a second

    ar = lfilter([np.sqrt(1 - phi * phi)], [1.0, -phi], z, zi=[phi * z[0]])[0]
    ar[0] = z[0]
    return day[:, None] * np.maximum(1.0 + s.ar_sd * ar.reshape(n_days, N15), 0.0)


def shape_15min(industry: str, d0: int, n_days: int, seed: int = 0) -> np.ndarray:
    """The relative shape x >= 0 on the 15-min grid of whole days from local day `d0`."""
    from profiles.weather import climate

    s = _shape_of(industry)
    days = np.arange(d0, d0 + n_days)
    first, last = date_of_day(d0), date_of_day(d0 + n_days - 1)
    act_d, base_d, noise = [], [], []
    for year in range(first.year, last.year + 1):
        a, b = _day_scales(industry, year)
        nz = _year_noise(industry, int(seed), year)
        y0 = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
        lo, hi = max(d0, y0) - y0, min(d0 + n_days, y0 + a.size) - y0
        act_d.append(a[lo:hi])
        base_d.append(b[lo:hi])
        noise.append(nz[lo:hi])
    act_d, base_d, noise = np.concatenate(act_d), np.concatenate(base_d), np.concatenate(noise)
    activity = np.repeat(np.asarray(s.activity), 4)[None, :] * act_d[:, None]
    t = climate().temperature
    t_mean = monthly_on_days(0.5 * (np.array(t.daily_max_c) + np.array(t.daily_min_c)), days)
    t_hot = 0.5 * (max(t.daily_max_c) + max(t.daily_min_c))
    t_cold = 0.5 * (min(t.daily_max_c) + min(t.daily_min_c))
    cool = s.cooling * np.clip((t_mean - 22.0) / (t_hot - 22.0), 0, 1)
    heat = s.heating * np.clip((12.0 - t_mean) / (12.0 - t_cold), 0, 1)
    hvac = (cool + heat)[:, None] * (0.4 + 0.6 * activity)
    x = (s.base * base_d[:, None] + (1 - s.base) * activity) * (1 + hvac) * noise
    return x.ravel()


def _growth(t_s: np.ndarray, ref_t0_s: float, growth_per_year: float) -> np.ndarray:
    return (1.0 + growth_per_year) ** ((t_s - ref_t0_s) / _YEAR_S)


@lru_cache(maxsize=256)
def _calibrate(
    industry: str, year: int, annual_kwh: float, peak_kw: float, growth_per_year: float, seed: int
) -> tuple[float, float]:
    """(a, gamma) so that a * x^gamma * G has `annual_kwh` and `peak_kw` over `year`."""
    d0 = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
    n_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    x = shape_15min(industry, d0, n_days, seed)
    t_mid = d0 * DAY_S + (np.arange(x.size) + 0.5) * STEP15_S
    log_g = np.log(_growth(t_mid, d0 * DAY_S, growth_per_year))
    with np.errstate(divide="ignore"):
        log_x = np.log(x)
    target = annual_kwh / (n_days * 24.0) / peak_kw

    def load_factor(log_gamma: float) -> float:
        ly = np.exp(log_gamma) * log_x + log_g
        ly -= ly.max()
        return float(np.exp(ly).mean())

    lo, hi = np.log(0.02), np.log(40.0)
    lf_lo, lf_hi = load_factor(lo), load_factor(hi)
    if not lf_hi <= target <= lf_lo:
        raise InputError(
            f"annual_kwh/peak_kw: load factor {target:.3f} is out of reach of the {industry} "
            f"shape ({lf_hi:.3f}..{lf_lo:.3f}); check the units (kWh a year, kW)"
        )
    from scipy.optimize import brentq

    log_gamma = brentq(lambda v: load_factor(v) - target, lo, hi, xtol=1e-12, rtol=1e-12)
    gamma = float(np.exp(log_gamma))
    y = np.exp(gamma * log_x + log_g)
    return peak_kw / float(y.max()), gamma


def load_kw(
    industry: str,
    start: dt.date | dt.datetime,
    n_steps: int,
    step_s: float,
    annual_kwh: float,
    peak_kw: float,
    growth_per_year: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Mean load of each step [kW] >= 0 of an enterprise of `industry`.

    Over the calendar year of `start` the energy is `annual_kwh` [kWh] and the highest
    15-min mean is `peak_kw` [kW]; later years grow by `growth_per_year` (0.245 = +24.5 %/yr).
    """
    check_run(n_steps, step_s)
    seed = check_seed(seed)
    for name, v in (("annual_kwh", annual_kwh), ("peak_kw", peak_kw)):
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}: expected a number > 0, got {v!r}")
    if not (np.isfinite(growth_per_year) and growth_per_year > -1):
        raise InputError(f"growth_per_year: expected a number > -1, got {growth_per_year!r}")
    t0 = local_epoch_s(start)
    year = date_of_day(int(np.floor(t0 / DAY_S))).year
    a, gamma = _calibrate(
        industry, year, float(annual_kwh), float(peak_kw), float(growth_per_year), int(seed)
    )
    if n_steps == 0:
        return np.zeros(0)
    t1 = t0 + n_steps * float(step_s)
    d0 = int(np.floor(t0 / DAY_S))
    n_days = max(1, int(np.ceil(t1 / DAY_S)) - d0)
    x = shape_15min(industry, d0, n_days, seed)
    t_mid = d0 * DAY_S + (np.arange(x.size) + 0.5) * STEP15_S
    ref_t0 = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days * DAY_S
    p15 = a * x**gamma * _growth(t_mid, ref_t0, growth_per_year)
    m = STEP15_S / float(step_s)
    k0 = (t0 - d0 * DAY_S) / float(step_s)
    if m > 1 and m == round(m) and k0 == round(k0):
        return _with_fast_variation(industry, seed, p15, d0, n_days, round(m), round(k0), n_steps)
    return resample_mean(d0 * DAY_S, STEP15_S, p15, t0, step_s, n_steps)


def fast_factor(industry: str, seed: int, day: int, per_block: int) -> np.ndarray:
    """Multiplicative variation inside each 15-min block of local day `day`, shape
    (96, per_block): lognormal AR(1), mean exactly 1 over each block."""
    s = _shape_of(industry)
    step_s = STEP15_S / per_block
    rng = np.random.default_rng([seed, INDUSTRIES.index(industry), day, per_block, _TAG_FAST])
    z = rng.standard_normal(N15 * per_block)
    phi = float(np.exp(-step_s / s.fast_tau_s))
    from scipy.signal import lfilter  # on first use: importing scipy.signal costs a second

    ar = lfilter([np.sqrt(1 - phi * phi)], [1.0, -phi], z, zi=[phi * z[0]])[0]
    ar[0] = z[0]
    w = np.exp(s.fast_sd * ar).reshape(N15, per_block)
    return w / w.mean(axis=1, keepdims=True)


def _with_fast_variation(
    industry: str, seed: int, p15: np.ndarray, d0: int, n_days: int, m: int, k0: int, n: int
) -> np.ndarray:
    """Steps of 900/m s aligned to the 15-min grid: each block's mean times its variation.

    Drawn per day (``default_rng([seed, industry, day, m, tag])``), so a window at a
    given step is a slice of a longer run at that step.
    """
    out = np.empty(n)
    per_day = N15 * m
    first, last = k0 // per_day, (k0 + n - 1) // per_day
    for d in range(first, min(last + 1, n_days)):
        day_p = np.repeat(p15[d * N15 : (d + 1) * N15], m).reshape(N15, m)
        day_p = (day_p * fast_factor(industry, seed, d0 + d, m)).ravel()
        lo, hi = max(k0, d * per_day), min(k0 + n, (d + 1) * per_day)
        out[lo - k0 : hi - k0] = day_p[lo - d * per_day : hi - d * per_day]
    return out


def natural_load_factor(industry: str, year: int = 2024, seed: int = 0) -> float:
    """Mean / highest 15-min value of the industry's own shape over `year` (gamma = 1).

    Targets near it keep the shape as drawn; far from it the shape is bent (gamma != 1):
    a flat process asked for a low load factor loses its base, and the reverse.
    """
    d0 = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
    n_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    x = shape_15min(industry, d0, n_days, seed)
    return float(x.mean() / x.max())
