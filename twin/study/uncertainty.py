"""A study's ``[uncertainty]``: the uncertain inputs, their ranges, and each sample's draw.

    [uncertainty]
    samples = 20
    load_growth_per_year = { low = 0.05, high = 0.245, source = "...", confidence = "low" }
    degradation = { low = 0.8, high = 1.5, source = "...", confidence = "low" }
    [uncertainty.price_multipliers]      # per tariff period: x the period's energy price
    sharp = { low = 0.85, high = 1.15, source = "...", confidence = "low" }
    [uncertainty.scheme_change]          # a future tariff scheme, from a drawn date on
    scheme = "zj-2026"                   # a shipped scheme's name or a scheme file
    ratios = { sharp = 1.8, peak = 1.6 } # optional: its price ratios replaced
    dates = [2028-07-01, 2029-07-01, "never"]   # or date = { low = ..., high = ... }
    weights = [0.3, 0.3, 0.4]
    source = "..."
    confidence = "low"

Omitted, `profiles`, `load_growth_per_year` and `availability` take the ranges of
``twin/data/uncertainty.toml`` (the ones ``twin run --samples`` draws, with their sources);
``false`` holds one at the study's value. Price multipliers, the scheme change and the
degradation multiplier have no shipped range: omitted, they are not uncertain.

Sample ``i`` of a study with seed ``s`` draws from ``SeedSequence([s, i])`` alone, in a fixed
order (that of `twin.spread.draw_common`, then one uniform per tariff period in
`PERIOD_KEYS` order, one for the scheme change date, one for the degradation), drawn
whether declared or not, so declaring one more input does not move the others; year k's
outage days come from the child stream ``spawn_key=(k,)``, unit after unit. Every
candidate, and the status quo, runs sample i with these same draws (common random
numbers): the park's own units are out on the same days in all of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from parktwin.config import Frozen, describe_validation_error
from parktwin.errors import InputError
from parktwin.tariff_periods import PERIOD_KEYS, PeriodName
from twin.spread import (
    AvailabilityRange,
    GrowthRange,
    ProfileDraw,
    Range,
    RunUncertainty,
    draw_common,
    outage_days,
    outage_faults,
    sample_rng,
    shipped_uncertainty,
)

Confidence = Literal["high", "medium", "low"]


class MultiplierRange(Range):
    """A uniform range of a multiplier [-] (1 = as the study says)."""

    low: Annotated[float, Field(gt=0.0, le=10.0)]
    high: Annotated[float, Field(gt=0.0, le=10.0)]


class DateRange(Frozen):
    low: dt.date
    high: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not be after high ({self.high})")
        return self


class SchemeChange(Frozen):
    """A future tariff scheme and when it may come into force.

    `scheme`: a shipped scheme's name (e.g. "zj-2026") or a scheme file (relative to the
    study file); `ratios` replaces some of its price ratios to flat. The date is drawn from
    `dates` (with `weights`; "never": not within the study) or uniformly among the first
    days of the months in `date` (schemes come into force on the 1st of a month).
    """

    scheme: str = Field(min_length=1)
    ratios: dict[PeriodName, Annotated[float, Field(gt=0.0, lt=10.0)]] = Field(default_factory=dict)
    dates: tuple[dt.date | Literal["never"], ...] | None = None
    weights: tuple[Annotated[float, Field(ge=0.0)], ...] | None = None
    date: DateRange | None = None
    source: str = Field(min_length=1)
    confidence: Confidence

    @model_validator(mode="after")
    def _one_form(self) -> SchemeChange:
        if (self.dates is None) == (self.date is None):
            raise ValueError("give either dates (with weights) or date = {low, high}")
        if self.dates is not None:
            if not self.dates:
                raise ValueError("dates: empty")
            if self.weights is None or len(self.weights) != len(self.dates):
                raise ValueError("weights: one per date")
            days = [d for d in self.dates if d != "never" and d.day != 1]
            if days:
                raise ValueError(
                    f"dates: {days[0]} is not the 1st of a month (schemes come into force on"
                    " the 1st: a month's prices are one scheme's)"
                )
            if abs(sum(self.weights) - 1.0) > 1e-6:
                raise ValueError(
                    f"weights: must add up to 1 (they add up to {sum(self.weights):g})"
                )
        elif self.weights is not None:
            raise ValueError("weights: only with dates")
        if "flat" in self.ratios and self.ratios["flat"] != 1.0:
            raise ValueError("ratios: flat is the base (1.0)")
        return self

    def months(self) -> list[dt.date]:
        """The first days of the months in `date` (the range form)."""
        assert self.date is not None
        d = dt.date(self.date.low.year, self.date.low.month, 1)
        if d < self.date.low:
            d = _next_month(d)
        out = []
        while d <= self.date.high:
            out.append(d)
            d = _next_month(d)
        return out or [dt.date(self.date.low.year, self.date.low.month, 1)]

    def pick(self, u: float) -> dt.date | None:
        """The date at quantile `u` (0..1) of the declared distribution; None: never."""
        if self.dates is not None:
            cum = np.cumsum(np.asarray(self.weights, float))
            i = min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(self.dates) - 1)
            d = self.dates[i]
            return None if d == "never" else d
        months = self.months()
        return months[min(int(u * len(months)), len(months) - 1)]


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


class StudyUncertainty(Frozen):
    """A study's ``[uncertainty]`` table, validated (see the module doc)."""

    samples: int = Field(ge=1, le=10_000)
    profiles: ProfileDraw | bool | None = None
    load_growth_per_year: GrowthRange | bool | None = None
    availability: AvailabilityRange | bool | None = None
    price_multipliers: dict[PeriodName, MultiplierRange] = Field(default_factory=dict)
    scheme_change: SchemeChange | None = None
    degradation: MultiplierRange | None = None
    """Multiplies the cells' simulated fade (1 - SOH) in the cash-flow projection."""

    @model_validator(mode="before")
    @classmethod
    def _no_true(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for k in ("profiles", "load_growth_per_year", "availability"):
                if data.get(k) is True:
                    raise ValueError(f"{k}: a range table, false, or omitted (the shipped range)")
        return data

    def run_ranges(self) -> RunUncertainty:
        """The inputs shared with ``twin run --samples``: declared, shipped, or held (false)."""
        base = shipped_uncertainty()
        held = "held at the study's value"
        prof = self.profiles
        if prof is False:
            prof = ProfileDraw(vary=False, source=held, confidence="high")
        g = self.load_growth_per_year
        a = self.availability
        return RunUncertainty(
            profiles=prof if isinstance(prof, ProfileDraw) else base.profiles,
            # held inputs are drawn from a zero-width range (the draw order stays the same)
            load_growth_per_year=(
                g
                if isinstance(g, GrowthRange)
                else GrowthRange(low=0.0, high=0.0, source=held, confidence="high")
                if g is False
                else base.load_growth_per_year
            ),
            availability=(
                a
                if isinstance(a, AvailabilityRange)
                else AvailabilityRange(low=1.0, high=1.0, source=held, confidence="high")
                if a is False
                else base.availability
            ),
        )

    @property
    def growth_held(self) -> bool:
        return self.load_growth_per_year is False

    @property
    def availability_held(self) -> bool:
        return self.availability is False

    def sources(self) -> dict[str, str]:
        """Each uncertain input: its range, source and confidence, in words."""
        out = self.run_ranges().sources()
        if self.growth_held:
            out["load_growth_per_year"] = "held at the study's value"
        if self.availability_held:
            out["availability"] = "held: the scenario's own availability draw"
        for k, r in self.price_multipliers.items():
            out[f"price_multiplier_{k}"] = (
                f"{r.low:g}..{r.high:g}: {r.source} (confidence {r.confidence})"
            )
        if self.scheme_change is not None:
            c = self.scheme_change
            when = (
                ", ".join(f"{d} ({w:g})" for d, w in zip(c.dates, c.weights or (), strict=True))
                if c.dates is not None
                else f"a month from {c.date.low} to {c.date.high}"  # type: ignore[union-attr]
            )
            out["scheme_change"] = f"{c.scheme} from {when}: {c.source} (confidence {c.confidence})"
        if self.degradation is not None:
            r = self.degradation
            out["degradation"] = f"{r.low:g}..{r.high:g}: {r.source} (confidence {r.confidence})"
        return out

    def resolved(self, study_file: Path) -> StudyUncertainty:
        """A scheme file named relative to the study file made absolute."""
        c = self.scheme_change
        if c is None or not c.scheme.endswith(".toml") or Path(c.scheme).is_absolute():
            return self
        path = (study_file.parent / c.scheme).resolve()
        return self.model_copy(update={"scheme_change": c.model_copy(update={"scheme": str(path)})})


@dataclass(frozen=True)
class StudyDraw:
    """The uncertain inputs of one sample of a study (the same for every candidate)."""

    sample: int  # 0..N-1 [-]
    seed: int  # the study's seed the draws derive from [-]
    profile_seed: int  # seed of the sample's load, PV and weather [-]
    load_growth_per_year: float  # [1/yr]; NaN: held at the study's
    availability: float  # share of days each unit is available [0..1]; NaN: held
    price_multipliers: tuple[float, ...]  # per `Period` (sharp .. deep valley) [-]
    scheme_change: dt.date | None  # the future scheme from this day on (None: not in the study)
    degradation: float  # multiplier of the cells' fade [-]

    def flat(self) -> dict[str, Any]:
        """The draw as table columns."""
        return {
            "sample": self.sample,
            "profile_seed": self.profile_seed,
            "load_growth_per_year": self.load_growth_per_year,
            "availability": self.availability,
            **{f"price_x_{k}": m for k, m in zip(PERIOD_KEYS, self.price_multipliers, strict=True)},
            "scheme_change": self.scheme_change.isoformat() if self.scheme_change else "",
            "degradation": self.degradation,
        }


def _uniform(r: Range | None, u: float, default: float = 1.0) -> float:
    return default if r is None else r.low + (r.high - r.low) * u


def study_draw(unc: StudyUncertainty, seed: int, sample: int) -> StudyDraw:
    """Sample `sample`'s draw (see the module doc for the order)."""
    rng = sample_rng(seed, sample)
    profile_seed, growth, avail = draw_common(unc.run_ranges(), rng, seed)
    mult = tuple(_uniform(unc.price_multipliers.get(k), float(rng.random())) for k in PERIOD_KEYS)
    u_change, u_deg = float(rng.random()), float(rng.random())
    change = unc.scheme_change.pick(u_change) if unc.scheme_change is not None else None
    return StudyDraw(
        sample=sample,
        seed=seed,
        profile_seed=profile_seed,
        load_growth_per_year=float("nan") if unc.growth_held else growth,
        availability=float("nan") if unc.availability_held else avail,
        price_multipliers=mult,
        scheme_change=change,
        degradation=_uniform(unc.degradation, u_deg),
    )


def year_outages(d: StudyDraw, year: int, days: int, n_units: int) -> tuple[tuple[int, ...], ...]:
    """The outage days of each unit in simulated year `year` (its own child stream)."""
    return outage_days(sample_rng(d.seed, d.sample, year), d.availability, days, n_units)


def future_scheme(change: SchemeChange):
    """The scheme `change` brings in (a `profiles.TariffScheme`), its ratios replaced."""
    from profiles.tariff import load_scheme, scheme_named

    where = "uncertainty.scheme_change"
    try:
        if change.scheme.endswith(".toml"):
            s = load_scheme(change.scheme)
        else:
            s = scheme_named(change.scheme)
    except InputError as exc:
        raise InputError(f"{where}.scheme: {exc}") from exc
    if not change.ratios:
        return s
    data = {**s.prices.model_dump(), "ratios": {**s.prices.ratios, **change.ratios}}
    try:
        prices = type(s.prices).model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(f"{where}.ratios", exc)) from exc
    # A new model, not `model_copy`: a copy would carry the shipped scheme's cached
    # `price_table` (computed by any earlier use of that scheme), i.e. its old prices.
    return type(s).model_validate(
        {**s.model_dump(), "name": f"{s.name}*", "prices": prices.model_dump()}
    )


@dataclass(frozen=True)
class SampleTariff:
    """The tariff of one sample's simulated year, in the shape the twin asks of a scheme
    (`profiles.TariffScheme`: `periods_on`, `month_prices`, `basic_charge`, `name`).

    Each day takes the scheme in force (`profiles.tariff_for`), or `future` from `change_on`
    on; each period's price is multiplied by its multiplier. The basic charge is that of
    the scheme in force at the year's start `start` (the shipped schemes share theirs).
    """

    start: dt.date
    multipliers: tuple[float, ...]  # per `Period` [-]
    future: Any = None  # a TariffScheme, or None
    change_on: dt.date | None = None

    def _scheme(self, day: dt.date):
        from profiles.tariff import tariff_for

        if self.future is not None and self.change_on is not None and day >= self.change_on:
            return self.future
        return tariff_for(day)

    @property
    def name(self) -> str:
        return self._scheme(self.start).name + "(sample)"

    @property
    def basic_charge(self):
        return self._scheme(self.start).basic_charge

    @property
    def demand_charge_yuan_per_kw_month(self) -> float:
        return self.basic_charge.demand_yuan_per_kw_month

    @property
    def capacity_charge_yuan_per_kva_month(self) -> float:
        return self.basic_charge.capacity_yuan_per_kva_month

    def periods_on(self, day: dt.date) -> np.ndarray:
        return self._scheme(day).periods_on(day)

    def month_prices(self, year: int, month: int, notices=None) -> np.ndarray:
        base = self._scheme(dt.date(year, month, 1)).month_prices(year, month, notices)
        return base * np.asarray(self.multipliers, float)


def sample_tariff(d: StudyDraw, change: SchemeChange | None, start: dt.date) -> SampleTariff | None:
    """The tariff of draw `d` for a year starting `start`; None when it is the shipped one."""
    moved = any(m != 1.0 for m in d.price_multipliers)
    if not moved and d.scheme_change is None:
        return None
    future = future_scheme(change) if change is not None and d.scheme_change else None
    return SampleTariff(start, d.price_multipliers, future, d.scheme_change if future else None)


@dataclass(frozen=True)
class SampleInputs:
    """What a worker needs to run sample `draw` of a study's years (picklable)."""

    draw: StudyDraw
    change: SchemeChange | None = None

    def settings(self, settings):
        """The study's settings with the sample's profile seed and load growth."""
        update: dict[str, Any] = {"seed": self.draw.profile_seed}
        if self.draw.load_growth_per_year == self.draw.load_growth_per_year:  # not held
            update["load_growth_per_year"] = self.draw.load_growth_per_year
        return settings.model_copy(update=update)

    def year(self, k: int, scenario, site):
        """Year `k`'s scenario with the sample's outages (the scenario's own availability
        draw off, as in `twin.spread.sample_scenario`), and its tariff (None: shipped)."""
        d = self.draw
        if d.availability == d.availability:  # drawn (not NaN: held)
            n_units = sum(g.count for g in site.storage)
            days_out = year_outages(d, k, scenario.days, n_units)
            scenario = scenario.model_copy(
                update={
                    "faults": scenario.faults + outage_faults(range(n_units), days_out),
                    "availability": scenario.availability.model_copy(update={"enabled": False}),
                }
            ).revalidated()
        return scenario, sample_tariff(d, self.change, scenario.start)

    def soh(self, soh_by_year) -> list[float]:
        """The simulated SOH per year with the fade scaled by the degradation multiplier."""
        m = self.draw.degradation
        if m == 1.0:  # as simulated, to the bit
            return [float(s) for s in soh_by_year]
        return [max(1.0 - m * (1.0 - float(s)), 0.0) for s in soh_by_year]


def draws(unc: StudyUncertainty, seed: int) -> list[SampleInputs]:
    """Every sample's inputs, 0..N-1."""
    return [SampleInputs(study_draw(unc, seed, i), unc.scheme_change) for i in range(unc.samples)]


__all__ = [
    "SampleInputs",
    "SampleTariff",
    "SchemeChange",
    "StudyDraw",
    "StudyUncertainty",
    "draws",
    "study_draw",
]
