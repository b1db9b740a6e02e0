"""The spread of one scenario: N seeded draws of its uncertain inputs, P10/P50/P90 of the KPIs.

`twin run --samples N` runs the scenario as given (the nominal run, its output folder as
usual) and then N samples, each the same scenario with its uncertain inputs drawn from the
ranges in ``twin/data/uncertainty.toml`` (each with its source): the profiles' seed, the load
growth and each unit's availability (whole-day outages). Sample ``i`` draws only from
``SeedSequence([seed, i])``, so the same seed gives the same draws, and a sample's draws do
not depend on how many samples there are.

Percentiles are numpy's default (linear interpolation between order statistics): P10 of
0, 1, ..., 100 is 10.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from parktwin.config import Frozen, load_package_toml, load_toml
from parktwin.files import write_json, write_text
from twin.scenario import FaultSpec, Scenario
from twin.summary import PublishedComparison, RunSummary


class Range(Frozen):
    """A uniform range of one uncertain input, with where it comes from."""

    low: float
    high: float
    source: str
    confidence: str

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not be above high ({self.high})")
        return self


class ProfileDraw(Frozen):
    vary: bool
    source: str
    confidence: str


class AvailabilityRange(Range):
    low: Annotated[float, Field(gt=0.0, le=1.0)]
    high: Annotated[float, Field(gt=0.0, le=1.0)]


class GrowthRange(Range):
    low: Annotated[float, Field(ge=-0.5, le=2.0)]
    high: Annotated[float, Field(ge=-0.5, le=2.0)]


class RunUncertainty(Frozen):
    """The uncertain inputs of one run and their ranges (``twin/data/uncertainty.toml``)."""

    profiles: ProfileDraw
    load_growth_per_year: GrowthRange  # [1/yr]
    availability: AvailabilityRange  # share of days a unit is available [0..1]

    def sources(self) -> dict[str, str]:
        """Input name -> its range, source and confidence, in words."""
        out = {"profiles": f"{self.profiles.source} (confidence {self.profiles.confidence})"}
        for name in ("load_growth_per_year", "availability"):
            r = getattr(self, name)
            out[name] = f"{r.low:g}..{r.high:g}: {r.source} (confidence {r.confidence})"
        return out


@lru_cache(maxsize=1)
def shipped_uncertainty() -> RunUncertainty:
    """The shipped ranges, validated (cached)."""
    return load_package_toml("twin", "uncertainty.toml", RunUncertainty)


def load_uncertainty(path: str | Path | None) -> RunUncertainty:
    """A user's file of ranges (same form as the shipped one), or the shipped one (None)."""
    return shipped_uncertainty() if path is None else load_toml(path, RunUncertainty)


@dataclass(frozen=True)
class Draw:
    """The uncertain inputs of one sample."""

    sample: int  # its number, 0..N-1 [-]
    profile_seed: int  # seed of the sample's load, PV and weather [-]
    load_growth_per_year: float  # [1/yr]
    availability: float  # share of days each unit is available [0..1]
    outage_days: tuple[tuple[int, ...], ...]  # per unit: days (from the start) it is out


def sample_rng(seed: int, sample: int, *stream: int) -> np.random.Generator:
    """The generator of sample `sample` under `seed`: ``SeedSequence([seed, sample])``, or its
    independent child stream `stream` (e.g. a study's year: ``spawn_key=(k,)``)."""
    return np.random.default_rng(np.random.SeedSequence([seed, sample], spawn_key=stream))


def draw_common(
    unc: RunUncertainty, rng: np.random.Generator, seed: int
) -> tuple[int, float, float]:
    """The inputs every kind of sample draws first, in this order: profile seed, load growth
    [1/yr], availability [0..1] (a run's `draw`, a study's sample)."""
    profile_seed = int(rng.integers(0, 2**32 - 1))
    if not unc.profiles.vary:
        profile_seed = seed
    g, a = unc.load_growth_per_year, unc.availability
    growth = float(rng.uniform(g.low, g.high))
    avail = float(rng.uniform(a.low, a.high))
    return profile_seed, growth, avail


def outage_days(
    rng: np.random.Generator, availability: float, days: int, n_units: int
) -> tuple[tuple[int, ...], ...]:
    """Per unit, the ``round((1 - availability) x days)`` days (from the start) it is out,
    drawn unit after unit: a unit's days do not depend on how many units follow it."""
    n_out = round((1.0 - availability) * days)
    return tuple(
        tuple(sorted(int(d) for d in rng.permutation(days)[:n_out])) for _ in range(n_units)
    )


def draw(unc: RunUncertainty, seed: int, sample: int, days: int, n_units: int) -> Draw:
    """Sample `sample`'s inputs: from ``SeedSequence([seed, sample])`` alone, in a fixed order
    (profiles, growth, availability, then each unit's outage days), so that two scenarios
    with the same seed see the same draws (common random numbers)."""
    rng = sample_rng(seed, sample)
    profile_seed, growth, avail = draw_common(unc, rng, seed)
    return Draw(sample, profile_seed, growth, avail, outage_days(rng, avail, days, n_units))


def outage_faults(
    units: Sequence[int | str], days_out: Sequence[Sequence[int]]
) -> tuple[FaultSpec, ...]:
    """Whole-day outages (a PCS trip for the day) of `units` on their `days_out`."""
    return tuple(
        FaultSpec(kind="pcs_trip", unit=u, at_s=day * 86400.0, duration_s=86400.0)
        for u, days in zip(units, days_out, strict=True)
        for day in days
    )


def sample_scenario(sc: Scenario, d: Draw, unit_names: tuple[str, ...]) -> Scenario:
    """`sc` with the draw's seed, load growth and outages (added to its own faults).

    The draw's availability is the unit's whole availability, so the scenario's own
    availability draw (`twin.availability`) is off in a sample: both would count the same
    maintenance and outage days twice."""
    outages = outage_faults(unit_names, d.outage_days)
    return sc.model_copy(
        update={
            "seed": d.profile_seed,
            "load_growth_per_year": d.load_growth_per_year,
            "faults": sc.faults + outages,
            "availability": sc.availability.model_copy(update={"enabled": False}),
        }
    ).revalidated()


@dataclass(frozen=True)
class Percentiles:
    """P10, P50 and P90 of one figure over the samples (its unit)."""

    p10: float
    p50: float
    p90: float

    def as_json(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def percentiles(values) -> Percentiles:
    """P10/P50/P90 of `values` (numpy's linear interpolation between order statistics).

    Infinite values take part as the order statistics they are (a payback that never comes
    is +inf, so a P90 may be +inf); a percentile that falls exactly on a finite order
    statistic is that value even beside an infinite neighbour (numpy would give NaN)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0 or np.isnan(x).any():
        return Percentiles(math.nan, math.nan, math.nan)
    if np.isfinite(x).all():
        p = np.percentile(x, [10.0, 50.0, 90.0])
        return Percentiles(float(p[0]), float(p[1]), float(p[2]))
    out = []
    for q in (0.1, 0.5, 0.9):
        h = (x.size - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        frac = h - lo
        if frac == 0.0 or x[lo] == x[hi]:
            out.append(float(x[lo]))
        elif math.isinf(x[lo]) or math.isinf(x[hi]):
            out.append(float(x[hi] if math.isinf(x[hi]) else x[lo]))
        else:
            out.append(float(x[lo] + (x[hi] - x[lo]) * frac))
    return Percentiles(*out)


@dataclass(frozen=True)
class SampleRow:
    """One sample's inputs and KPIs."""

    draw: Draw
    savings_yuan_per_year: float
    equivalent_full_cycles: float  # mean over the units [-]
    soh_end: float  # mean state of health at the end [0..1]
    published: dict[str, float]  # figure -> the twin's value (empty: no comparison)

    def flat(self) -> dict[str, Any]:
        """The row as one CSV line (outage days counted, not listed)."""
        d = self.draw
        return {
            "sample": d.sample,
            "profile_seed": d.profile_seed,
            "load_growth_per_year": d.load_growth_per_year,
            "availability": d.availability,
            "outage_days_per_unit": len(d.outage_days[0]) if d.outage_days else 0,
            "savings_yuan_per_year": self.savings_yuan_per_year,
            "equivalent_full_cycles": self.equivalent_full_cycles,
            "soh_end": self.soh_end,
            **{f"published_twin_{k}": v for k, v in self.published.items()},
        }


@dataclass(frozen=True)
class PublishedBand:
    """One published figure against the twin's P10..P90 over the samples."""

    published: float
    twin: Percentiles

    @property
    def inside(self) -> bool:
        """The published figure lies within the twin's P10..P90."""
        return self.twin.p10 <= self.published <= self.twin.p90

    def as_json(self) -> dict[str, Any]:
        return {"published": self.published, "twin": self.twin.as_json(), "inside": self.inside}


@dataclass(frozen=True)
class RunSpread:
    """The spread of one scenario's KPIs over N samples (``spread.json``)."""

    samples: int  # [-]
    seed: int  # the scenario's seed the draws derive from [-]
    savings_yuan_per_year: Percentiles  # [yuan/yr]
    equivalent_full_cycles: Percentiles  # [-]
    soh_end: Percentiles  # [0..1]
    published: dict[str, PublishedBand]  # figure -> band (empty: the first project is not in)
    comparable: bool  # the nominal run is the published project's year
    target_deviation: float  # the deviation the twin aims to stay within [-] (0: no comparison)
    inputs: dict[str, str]  # uncertain input -> range, source, confidence
    rows: tuple[SampleRow, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "seed": self.seed,
            "savings_yuan_per_year": self.savings_yuan_per_year.as_json(),
            "equivalent_full_cycles": self.equivalent_full_cycles.as_json(),
            "soh_end": self.soh_end.as_json(),
            "published": {k: b.as_json() for k, b in self.published.items()},
            "comparable": self.comparable,
            "target_deviation": self.target_deviation,
            "inputs": dict(self.inputs),
        }

    def csv_text(self) -> str:
        buf = io.StringIO()
        rows = [r.flat() for r in self.rows]
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()

    def write(self, folder: Path) -> None:
        """``spread.json`` and ``samples.csv`` into `folder`."""
        write_json(folder / "spread.json", self.as_json())
        write_text(folder / "samples.csv", self.csv_text())


def _published_twin(pub: PublishedComparison | None) -> dict[str, float]:
    return {} if pub is None else {k: pub.figure(k).twin for k in PublishedComparison.FIGURES}


def run_samples(
    nominal: RunSummary,
    n: int,
    unc: RunUncertainty,
    run: Callable[[Scenario], RunSummary],
    on_sample: Callable[[SampleRow], None] | None = None,
) -> RunSpread:
    """Run `n` samples of the nominal run's scenario through `run` and collect the spread."""
    sc = nominal.scenario
    rows = []
    for i in range(n):
        d = draw(unc, sc.seed, i, sc.days, len(nominal.unit_names))
        s = run(sample_scenario(sc, d, nominal.unit_names))
        row = SampleRow(
            d, s.savings_yuan_per_year, s.equivalent_full_cycles, s.soh_end,
            _published_twin(s.published),
        )  # fmt: skip
        rows.append(row)
        if on_sample is not None:
            on_sample(row)
    return spread_of(nominal, tuple(rows), unc)


def spread_of(nominal: RunSummary, rows: tuple[SampleRow, ...], unc: RunUncertainty) -> RunSpread:
    """P10/P50/P90 of the rows' KPIs, and the published figures against their bands."""
    pub = nominal.published
    bands = {}
    if pub is not None and all(r.published for r in rows):
        for k in PublishedComparison.FIGURES:
            bands[k] = PublishedBand(
                pub.figure(k).published, percentiles([r.published[k] for r in rows])
            )
    return RunSpread(
        samples=len(rows),
        seed=nominal.scenario.seed,
        savings_yuan_per_year=percentiles([r.savings_yuan_per_year for r in rows]),
        equivalent_full_cycles=percentiles([r.equivalent_full_cycles for r in rows]),
        soh_end=percentiles([r.soh_end for r in rows]),
        published=bands,
        comparable=bool(pub is not None and pub.comparable),
        target_deviation=pub.target_deviation if pub is not None else 0.0,
        inputs=unc.sources(),
        rows=rows,
    )
