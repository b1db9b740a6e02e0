"""Benchmark of profiles: a year of each series, and the bill at several resolutions.

Each row is timed in this process (best of `--repeat`) and given as a ratio to a
reference run in the same process, so the figures compare across machines:

- load_kw (8 industries, a year at 15 min) against one year of the industry shape alone
  (`shape_15min`, the part that is not calibration or resampling);
- pv_kw (a year at 15 min, cold cache) against pvlib's solar position for the same 5-min grid
  (the dominant call of the chain);
- bill (a year) at 15 min, 1 min and 1 s against the 15-min bill.

Timings on a shared machine are noisy: compare the ratios within one run.

    python bench/bench_profiles.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
import pvlib
from rich.console import Console
from rich.table import Table

from profiles import INDUSTRIES, bill, load_kw, pv_kw, tou_series
from profiles.loads import _calibrate, _day_scales, _year_noise, shape_15min
from profiles.pv import _clear_poa
from profiles.weather import _year_intraday, _year_sky, _year_temp_anomaly

START = dt.date(2024, 1, 1)
N15 = 366 * 96


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _clear_caches() -> None:
    for f in (
        _calibrate,
        _day_scales,
        _year_noise,
        _clear_poa,
        _year_sky,
        _year_temp_anomaly,
        _year_intraday,
    ):
        f.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    r = args.repeat
    rows: list[tuple[str, float, str, float]] = []

    def loads() -> None:
        _clear_caches()
        for ind in INDUSTRIES:
            load_kw(ind, START, N15, 900, 10e6, 2500.0, seed=1)

    def shapes() -> None:
        _clear_caches()
        for ind in INDUSTRIES:
            shape_15min(ind, 19723, 366, 1)

    t_ref = _best(shapes, r)
    rows.append(
        ("load_kw x 8 industries, year @ 15 min", _best(loads, r), "shape_15min x 8", t_ref)
    )

    grid = pd.DatetimeIndex(
        pd.to_datetime(np.arange(366 * 288) * 300.0 + 1.7040e9, unit="s", utc=True)
    )

    def solpos() -> None:
        pvlib.solarposition.get_solarposition(grid, 30.9, 119.9, method="nrel_numpy")

    def pv() -> None:
        _clear_caches()
        pv_kw(1000.0, START, N15, 900, seed=1)

    rows.append(
        (
            "pv_kw, year @ 15 min (cold)",
            _best(pv, r),
            "pvlib solar position, 5-min year",
            _best(solpos, r),
        )
    )

    rng = np.random.default_rng(0)
    p15 = rng.uniform(-100, 3000, N15)
    t15 = _best(lambda: bill(p15, START, 900), r)
    rows.append(("bill, year @ 15 min", t15, "itself", t15))
    p1m = np.repeat(p15, 15)
    rows.append(
        ("bill, year @ 1 min", _best(lambda: bill(p1m, START, 60), r), "bill @ 15 min", t15)
    )
    p1s = np.repeat(p15[: 31 * 96], 900)
    rows.append(
        ("bill, January @ 1 s", _best(lambda: bill(p1s, START, 1), r), "bill @ 15 min (year)", t15)
    )
    rows.append(
        (
            "tou_series, year @ 15 min",
            _best(lambda: tou_series(START, N15, 900), r),
            "bill @ 15 min",
            t15,
        )
    )

    table = Table(
        "case", "time s", "reference", "ref s", "ratio", title=f"profiles benchmark (best of {r})"
    )
    for name, t, ref, tr in rows:
        table.add_row(name, f"{t:.3f}", ref, f"{tr:.3f}", f"{t / tr:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
