"""The series that drive a run, made once before it starts (profiles, tariff, weather).

Everything is sampled at the engine's plant interval (one kernel call): interval k covers
``[start + k*interval_s, start + (k+1)*interval_s)`` in local time (Asia/Shanghai) and holds
the mean of its quantity. Each enterprise's load and PV get their own seed, drawn from the
scenario's seed, so a run is reproducible and the enterprises are not copies of each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from grid import Site
from profiles import AgencyPrices, TariffScheme, ambient_c, load_kw, pv_kw, tariff_for, tou_series


@dataclass(frozen=True)
class Inputs:
    """Driving series of one run, (T,) or (T, n_ent) arrays at the plant interval."""

    start: dt.datetime
    interval_s: float
    load_kw: np.ndarray
    pv_kw: np.ndarray
    ambient_c: np.ndarray
    period: np.ndarray
    price_yuan_per_kwh: np.ndarray
    month_start: np.ndarray
    """(T,) index of the first interval of each interval's calendar month."""

    @property
    def n_intervals(self) -> int:
        return len(self.price_yuan_per_kwh)

    @property
    def steps_per_day(self) -> int:
        return round(86400.0 / self.interval_s)

    def demand_yuan_per_kw_month(self) -> float:
        """Demand charge of the scheme in force at the start [yuan/kW-month]."""
        return float(tariff_for(self.start.date()).demand_charge_yuan_per_kw_month)


def month_starts(start: dt.datetime, n: int, interval_s: float) -> np.ndarray:
    """(n,) index of the first interval of the calendar month each interval starts in."""
    t = np.arange(n) * interval_s
    stamps = np.datetime64(start, "s") + (t * 1000).astype("timedelta64[ms]")
    months = stamps.astype("datetime64[M]")
    change = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    return change[np.searchsorted(change, np.arange(n), side="right") - 1]


def enterprise_seed(seed: int, index: int) -> int:
    """A seed of its own for enterprise `index`, derived from the scenario's seed."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def build_inputs(
    site: Site,
    start: dt.date | dt.datetime,
    n_intervals: int,
    interval_s: float,
    seed: int = 0,
    load_growth_per_year: float = 0.0,
    notices: AgencyPrices | None = None,
    scheme: TariffScheme | None = None,
) -> Inputs:
    """Loads, PV, ambient temperature and tariff of a run, from `profiles`."""
    start = start if isinstance(start, dt.datetime) else dt.datetime(*start.timetuple()[:3])
    n_ent = len(site.enterprises)
    load = np.empty((n_intervals, n_ent))
    pv = np.zeros((n_intervals, n_ent))
    for i, e in enumerate(site.enterprises):
        s = enterprise_seed(seed, i)
        load[:, i] = load_kw(
            e.industry,
            start,
            n_intervals,
            interval_s,
            annual_kwh=e.annual_mwh * 1000.0,
            peak_kw=e.peak_kw,
            growth_per_year=load_growth_per_year,
            seed=s,
        )
        if e.pv_kwp > 0:
            pv[:, i] = pv_kw(
                e.pv_kwp,
                start,
                n_intervals,
                interval_s,
                seed=seed,  # one sky over the park: every roof sees the same clouds
                tilt_deg=e.pv_tilt_deg,
                azimuth_deg=e.pv_azimuth_deg,
                latitude=site.latitude,
                longitude=site.longitude,
            )
    tou = tou_series(start, n_intervals, interval_s, notices=notices, scheme=scheme)
    return Inputs(
        start=start,
        interval_s=float(interval_s),
        load_kw=load,
        pv_kw=pv,
        ambient_c=np.asarray(ambient_c(start, n_intervals, interval_s, seed=seed), float),
        period=np.asarray(tou.period, dtype=np.int64),
        price_yuan_per_kwh=np.asarray(tou.price_yuan_per_kwh, float),
        month_start=month_starts(start, n_intervals, interval_s),
    )


def cached_inputs(
    site: Site,
    start: dt.date | dt.datetime,
    n_intervals: int,
    interval_s: float,
    seed: int = 0,
    load_growth_per_year: float = 0.0,
) -> Inputs:
    """`build_inputs`, from the on-disk cache (`parktwin.cache`) when the same site, period,
    seed and growth were built before by the same profile code and data."""
    import json
    from pathlib import Path

    import profiles
    from parktwin.cache import cache_key, cached

    what = {
        "site": json.loads(site.model_dump_json()),
        "start": start.isoformat(),
        "n_intervals": int(n_intervals),
        "interval_s": float(interval_s),
        "seed": int(seed),
        "load_growth_per_year": float(load_growth_per_year),
    }
    # Every file the series come from: the profile code, its data files, this module and
    # the shared vocabulary (industries, tariff periods, the file loader).
    here = Path(profiles.__file__).parent
    sources = sorted(p for p in here.rglob("*") if p.suffix in {".py", ".toml", ".csv"})
    parktwin_dir = Path(cache_key.__code__.co_filename).parent
    sources += [Path(__file__), *sorted(parktwin_dir.glob("*.py"))]
    key = cache_key(
        json.dumps(what, sort_keys=True).encode(),
        sources,
        ("numpy", "scipy", "pandas", "pvlib", "holidays"),
    )
    return cached(
        "inputs",
        key,
        lambda: build_inputs(site, start, n_intervals, interval_s, seed, load_growth_per_year),
    )
