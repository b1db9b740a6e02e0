"""Load growth where it happens: per enterprise, and new loads on new connections.

A park grows mostly by new factories on new connections, not only by its enterprises
drawing more. A study says both (`StudySettings`)::

    [study]
    load_growth_per_year = 0.10          # every enterprise without a rate of its own

    [study.growth]                       # per enterprise: a rate per year ...
    hangzhou_bearing = 0.15
    cathode = { 2028 = 1.05, 2029 = 1.30 }   # ... or its load by calendar year, x today's

    [[study.new_loads]]                  # a new factory on a new connection
    name = "motor_stator"
    industry = "auto_parts"
    feeder = "F05"                       # after the feeder's last enterprise
    feeder_km = 1.2
    annual_mwh = 32000                   # or peak_kw (or both)
    transformer_kva = 2500
    transformer_count = 3
    first_year = 2028

Year k of a study (calendar year ``start.year + k``) scales each enterprise's annual energy
and peak by its factor: ``(1 + rate)^k``, or its table's value for that year (the last
earlier value holds; 1 before the first). A new load is connected from its `first_year`
(a new enterprise on its feeder: `grid.Site.with_loads`) at its declared size, growing at
its own rate (default: the study's) after that. Within each simulated year every load grows
on at ``load_growth_per_year`` (the twin's smooth growth); the factors above set each
year's level. The status quo and every candidate grow the same way: they run the same
years of the same sites.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from parktwin.config import Frozen
from parktwin.errors import InputError
from parktwin.industries import Industry

#: A rate per year [1/yr], or a table calendar year -> factor on today's load [-].
GrowthSpec = float | dict[int, Annotated[float, Field(gt=0.0, le=20.0)]]


class NewLoad(Frozen):
    """A load the park gets in a later year: a new enterprise on a new connection."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    industry: Industry
    feeder: str
    first_year: int = Field(ge=2000, le=2100)  # connected on 1 January of this year
    annual_mwh: float | None = Field(default=None, gt=0.0)  # in its first year
    peak_kw: float | None = Field(default=None, gt=0.0)  # in its first year
    feeder_km: float = Field(default=1.0, gt=0.0, le=20.0)  # from the feeder's last enterprise
    service_km: float = Field(default=0.2, gt=0.0, le=5.0)
    service_parallel: int = Field(default=1, ge=1, le=4)
    transformer_kva: float = Field(default=0.0, ge=0.0)  # per transformer; 0: direct 10 kV
    transformer_count: int = Field(default=0, ge=0, le=12)
    power_factor: float = Field(default=0.95, gt=0.5, le=1.0)
    growth_per_year: float | None = Field(default=None, ge=-0.5, le=2.0)  # None: the study's
    source: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _size(self) -> NewLoad:
        if self.annual_mwh is None and self.peak_kw is None:
            raise ValueError("needs annual_mwh or peak_kw (or both)")
        return self


class Growth(Frozen):
    """How the park's load grows (`StudySettings.load_growth`): a default rate, per-enterprise
    rates or tables, new loads."""

    rate_per_year: float = Field(default=0.245, ge=-0.5, le=2.0)
    enterprises: dict[str, GrowthSpec] = Field(default_factory=dict)
    new_loads: tuple[NewLoad, ...] = ()


def check_rates(value: dict[str, Any]) -> dict[str, Any]:
    """A per-enterprise rate is within -0.5..2.0 (a table's factors are checked by type)."""
    for name, spec in value.items():
        if isinstance(spec, float) and not -0.5 <= spec <= 2.0:
            raise ValueError(f"{name}: a rate per year in -0.5..2.0, got {spec}")
    return value


def factor(spec: GrowthSpec, start_year: int, k: int) -> float:
    """An enterprise's load in year k of a study starting in `start_year`, x today's [-]."""
    if isinstance(spec, dict):
        year = start_year + k
        earlier = [y for y in spec if y <= year]
        return float(spec[max(earlier)]) if earlier else 1.0
    return (1.0 + float(spec)) ** k


def _load_factor(site, industry: str) -> float | None:
    """Mean load over peak of the site's enterprises of `industry` (None: none)."""
    same = [e for e in site.enterprises if e.industry == industry]
    if not same:
        return None
    return sum(e.mean_kw / e.peak_kw for e in same) / len(same)


def new_enterprise(site, load: NewLoad, scale: float):
    """`load` as a `grid.Enterprise` of `site`, its energy and peak x `scale`. A missing
    energy or peak is taken at the load factor (mean over peak) of the site's enterprises of
    the same industry."""
    from grid import Enterprise

    lf = _load_factor(site, load.industry)
    annual, peak = load.annual_mwh, load.peak_kw
    if annual is None or peak is None:
        if lf is None:
            raise InputError(
                f"study.new_loads: {load.name}: give both annual_mwh and peak_kw (the site has"
                f" no {load.industry} enterprise to take a load factor from)"
            )
        annual = annual if annual is not None else peak * 8.76 * lf
        peak = peak if peak is not None else annual * 1000.0 / 8760.0 / lf
    return Enterprise(
        name=load.name,
        label=load.name.replace("_", " "),
        industry=load.industry,
        feeder=load.feeder,
        feeder_km=load.feeder_km,
        service_km=load.service_km,
        service_parallel=load.service_parallel,
        annual_mwh=annual * scale,
        peak_kw=peak * scale,
        power_factor=load.power_factor,
        transformer_kva=load.transformer_kva,
        transformer_count=load.transformer_count,
        source=load.source,
        note=load.note or f"new load from {load.first_year} (study)",
    )


def site_in_year(site, growth: Growth, start_year: int, k: int):
    """The park of year k: every enterprise scaled by its factor, the new loads connected
    by then added on their feeders (`grid.Site.with_loads`)."""
    ents = tuple(
        e.model_copy(
            update={
                "annual_mwh": e.annual_mwh * (f := factor(spec_of(growth, e.name), start_year, k)),
                "peak_kw": e.peak_kw * f,
            }
        )
        for e in site.enterprises
    )
    grown = site.model_copy(update={"enterprises": ents})
    year = start_year + k
    new = [
        new_enterprise(
            site,
            n,
            (1.0 + (growth.rate_per_year if n.growth_per_year is None else n.growth_per_year))
            ** (year - n.first_year),
        )
        for n in growth.new_loads
        if n.first_year <= year
    ]
    return grown.with_loads(new)


def spec_of(growth: Growth, enterprise: str) -> GrowthSpec:
    """An enterprise's growth: its own rate or table, else the study's rate."""
    return growth.enterprises.get(enterprise, growth.rate_per_year)


def check_growth(site, growth: Growth, start_year: int, years: int) -> None:
    """Every name in `growth` is known, every new load can be connected (its feeder, its
    transformer size, no clash of names): a one-line InputError otherwise."""
    names = {e.name for e in site.enterprises}
    for name in growth.enterprises:
        if name not in names:
            raise InputError(
                f"study.growth: unknown enterprise {name!r} (the site has {', '.join(sorted(names))})"
            )
    feeders = {f.name for f in site.feeders}
    seen: set[str] = set()
    for i, n in enumerate(growth.new_loads):
        where = f"study.new_loads[{i}]"
        if n.name in names or n.name in seen:
            raise InputError(f"{where}.name: {n.name!r} is already an enterprise of the park")
        seen.add(n.name)
        if n.feeder not in feeders:
            raise InputError(
                f"{where}.feeder: unknown feeder {n.feeder!r} (have {', '.join(sorted(feeders))})"
            )
    last = start_year + years - 1
    try:
        site_in_year(site, growth, start_year, last - start_year)
    except InputError as exc:
        raise InputError(f"study.new_loads: {exc}") from exc
