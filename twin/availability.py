"""When each storage unit can run: planned maintenance, forced outages, grid-ordered stops.

A seeded, reproducible draw per calendar year of the run, whole days (local time):

- planned maintenance: per unit, one block of ``planned_maintenance_days_per_year`` days
  (rounded) starting on a random day of the year;
- forced outages: per unit and day, out with probability ``forced_outage_rate``;
- grid-ordered stops: ``grid_stop_days_per_year`` (rounded) random days on which every unit
  of the park stands still.

The PCS sits out an unavailable interval (setpoint 0; the cabin's standby auxiliaries
still draw). Defaults, with their sources: ``[availability]`` in
``twin/data/first_project.toml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AvailabilityDraw:
    """(n_intervals, n_units) True where a unit may run, and the days out by cause."""

    available: np.ndarray
    planned_unit_days: int
    forced_unit_days: int
    grid_stop_days: int

    @property
    def achieved(self) -> float:
        """Share of unit-intervals available (0..1)."""
        return float(self.available.mean()) if self.available.size else 1.0


def _stream(seed: int, year: int, k: int) -> np.random.Generator:
    """Child stream `k` of `year`'s draw: 0 the park's grid-ordered stops, 1 + u unit u's
    maintenance and outages. One stream each, so a unit's days and the park's stop days do
    not depend on how many units the run has: a study's candidate (its units come last)
    and the status quo see the same days for the park's own units (common random numbers)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0xA7A1, year], spawn_key=(k,)))


def draw_availability(
    n_units: int,
    start: dt.datetime,
    n_intervals: int,
    interval_s: float,
    seed: int,
    planned_days: float,
    forced_rate: float,
    grid_stop_days: float,
) -> AvailabilityDraw:
    """The availability mask of a run (every draw from `seed`: per calendar year, one stream
    for the park's stop days and one per unit, see `_stream`)."""
    steps_per_day = round(86400.0 / interval_s)
    n_days = -(-n_intervals // steps_per_day)
    first = start.date()
    out_days = np.zeros((n_days, n_units), dtype=bool)
    counts = [0, 0, 0]
    d = 0
    while d < n_days:
        year = (first + dt.timedelta(days=d)).year
        y0 = dt.date(year, 1, 1)
        year_len = (dt.date(year + 1, 1, 1) - y0).days
        planned = np.zeros((year_len, n_units), dtype=bool)
        forced = np.zeros((year_len, n_units), dtype=bool)
        k = min(round(planned_days), year_len)
        for u in range(n_units):
            rng = _stream(seed, year, 1 + u)
            if k > 0:
                s = int(rng.integers(0, year_len - k + 1))
                planned[s : s + k, u] = True
            forced[:, u] = rng.random(year_len) < forced_rate
        grid = np.zeros(year_len, dtype=bool)
        g = min(round(grid_stop_days), year_len)
        if g > 0:
            grid[_stream(seed, year, 0).choice(year_len, size=g, replace=False)] = True
        # the part of this year the run covers
        off = (first + dt.timedelta(days=d) - y0).days
        span = min(year_len - off, n_days - d)
        sl = slice(off, off + span)
        out_days[d : d + span] = planned[sl] | forced[sl] | grid[sl, None]
        counts[0] += int(planned[sl].sum())
        counts[1] += int((forced[sl] & ~planned[sl]).sum())
        counts[2] += int(grid[sl].sum())
        d += span
    available = np.repeat(~out_days, steps_per_day, axis=0)[:n_intervals]
    return AvailabilityDraw(available, *counts)


def availability_of(scenario, n_intervals: int, interval_s: float, inputs, n_units: int):
    """The scenario's draw (its figures, else the defaults in twin/data/first_project.toml);
    None when its availability is off."""
    from twin.assumptions import assumptions

    av, av0 = scenario.availability, assumptions().availability
    if not av.enabled:
        return None

    def _or(value, default):
        return default if value is None else value

    return draw_availability(
        n_units,
        inputs.start,
        n_intervals,
        interval_s,
        scenario.seed,
        _or(av.planned_maintenance_days_per_year, av0.planned_maintenance_days_per_year),
        _or(av.forced_outage_rate, av0.forced_outage_rate),
        _or(av.grid_stop_days_per_year, av0.grid_stop_days_per_year),
    )
