"""The study file: candidates, years, load growth, economics, hosting capacity (validated).

A study is a TOML file with four tables (only ``[[candidates]]`` is required)::

    [study]                        # how each candidate is simulated
    name = "next-20mwh"
    start = 2025-01-01             # first simulated year starts here
    years = 3                      # simulated years, aging carried from one to the next
    days = 365                     # days simulated per year (`--days N` overrides)
    load_growth_per_year = 0.245   # the park's growth; 0.245 = +24.5 %/yr
                                   # per enterprise and new loads: twin.study.growth

    [finance]                      # overrides of twin/study/data/finance.toml
    discount_rate = 0.06

    [[candidates]]                 # a grid of options; each list/range multiplies
    enterprises = ["xinsheng", "xunchi"]   # or "all": every enterprise of the site
    unit_type = "lfp314-5016kwh"
    units = { min = 2, max = 4 }           # an int, a list or a range {min, max, step}
    pcs_kva = [2500.0, 1250.0]             # per unit; omitted = the unit type's rating
    trafo_kva = [2500.0]                   # per unit (its own step-up transformer)
    strategy = ["tou", "peak_shaving"]

    [hosting]                      # hosting capacity per enterprise bus (optional)
    enterprises = "all"
    unit_type = "lfp314-5016kwh"
    max_units = 12

Every error is one line naming the file and the field (`parktwin.config.load_toml`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from grid.site import Reinforcements
from parktwin.config import Frozen, load_toml, package_text, parse_toml, validate
from parktwin.errors import InputError
from parktwin.files import unit_type_beside
from twin.study.growth import Growth, GrowthSpec, NewLoad, check_rates
from twin.study.uncertainty import StudyUncertainty

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class IntRange(Frozen):
    """An inclusive integer range ``{min, max, step}`` (e.g. units = {min = 1, max = 4})."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    step: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def values(self) -> tuple[int, ...]:
        return tuple(range(self.min, self.max + 1, self.step))


class FloatRange(Frozen):
    """An inclusive float range ``{min, max, step}`` (e.g. pcs_kva = {min=1000, max=2500, step=500})."""

    min: float = Field(gt=0.0)
    max: float = Field(gt=0.0)
    step: float = Field(gt=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        if (self.max - self.min) / self.step > 1000:
            raise ValueError("more than 1000 values: widen the step")
        return self

    def values(self) -> tuple[float, ...]:
        n = int((self.max - self.min) / self.step + 1e-9)
        return tuple(round(self.min + k * self.step, 6) for k in range(n + 1))


def _as_tuple(value: Any) -> Any:
    """A scalar becomes a 1-tuple, a list a tuple; ranges pass through (validated later)."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return (value,)
    return value


def _range_values(value: Any, kind: type[IntRange] | type[FloatRange]) -> Any:
    """A ``{min, max, step}`` table becomes the tuple of its values; a scalar a 1-tuple."""
    if isinstance(value, dict):
        try:
            return kind.model_validate(value).values()
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"range {where + ': ' if where else ''}{msg}") from None
    return _as_tuple(value)


class CandidateGrid(Frozen):
    """One ``[[candidates]]`` table: the cartesian product of its lists and ranges."""

    enterprises: Literal["all"] | Annotated[tuple[str, ...], Field(min_length=1)]
    unit_type: Annotated[tuple[str, ...], Field(min_length=1)]
    units: Annotated[tuple[Annotated[int, Field(ge=1, le=200)], ...], Field(min_length=1)]
    pcs_kva: Annotated[tuple[Annotated[float, Field(gt=0.0)], ...], Field(min_length=1)] | None = (
        None
    )
    trafo_kva: (
        Annotated[tuple[Annotated[float, Field(gt=0.0)], ...], Field(min_length=1)] | None
    ) = None
    strategy: Annotated[tuple[str, ...], Field(min_length=1)] = ("tou",)
    note: str = ""

    @field_validator("enterprises", mode="before")
    @classmethod
    def _enterprises(cls, value: Any) -> Any:
        return value if value == "all" else _as_tuple(value)

    @field_validator("unit_type", "strategy", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("units", mode="before")
    @classmethod
    def _int_range(cls, value: Any) -> Any:
        return _range_values(value, IntRange)

    @field_validator("pcs_kva", "trafo_kva", mode="before")
    @classmethod
    def _float_range(cls, value: Any) -> Any:
        return _range_values(value, FloatRange)


class StudySettings(Frozen):
    """How every candidate is simulated: period, resolution, growth, the reference park."""

    name: str = "study"
    site: Path | None = None
    start: dt.date = dt.date(2025, 1, 1)
    years: int = Field(default=1, ge=1, le=30)
    days: int = Field(default=365, ge=1, le=366)
    step_s: float = Field(default=900.0, ge=60.0, le=3600.0)
    load_growth_per_year: float = Field(default=0.245, ge=-0.5, le=2.0)
    """Every enterprise's growth per year, unless `growth` gives it its own (0.245 = +24.5 %)."""
    growth: dict[str, GrowthSpec] = Field(default_factory=dict)
    """Per enterprise: its own rate per year, or its load by calendar year x today's
    (`twin.study.growth`)."""
    new_loads: tuple[NewLoad, ...] = ()
    """Loads connected in later years: new enterprises on their feeders (`twin.study.growth`)."""
    reinforce: bool = True
    """Plan the status quo's least-cost reinforcement for the study's growth and judge every
    candidate on the reinforced grid too (`twin.study.reinforcement`)."""
    reinforcement: Reinforcements | None = None
    """Grid changes every run of the study is made on (the reinforced grid's runs set it)."""
    seed: int = 0
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    grid_aware: bool | None = None
    """How storage is dispatched in the study's runs. Unset (the default): both ways, as
    dispatched and with the grid-aware guard (`twin.grid_guard`: storage never puts a
    line, transformer or bus voltage past its limit), which gives each candidate its
    three verdicts (`twin.study.fit`). ``true``: grid-aware only; ``false``: as
    dispatched only (half the runs; the verdict that was not run is left open)."""

    @field_validator("growth")
    @classmethod
    def _growth_rates(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_rates(value)

    @property
    def load_growth(self) -> Growth:
        """The park's growth: the default rate, per-enterprise specs and new loads."""
        return Growth(
            rate_per_year=self.load_growth_per_year,
            enterprises=self.growth,
            new_loads=self.new_loads,
        )

    @property
    def dispatch_modes(self) -> tuple[bool, ...]:
        """The grid-aware flags the study runs every candidate with: (False, True) both
        ways, else the one mode chosen. The first is the mode of the rows' plain columns."""
        return (False, True) if self.grid_aware is None else (self.grid_aware,)


class Finance(Frozen):
    """Economics of a candidate. Defaults: `twin/study/data/finance.toml` (with sources).

    Keys ``<field>_source`` (in the data file or a study's ``[finance]``) document a value
    and are kept in `sources`.
    """

    capex_yuan_per_kwh: float = Field(ge=0.0)
    capex_yuan_per_kw: float = Field(ge=0.0)
    capex_trafo_yuan_per_kva: float = Field(ge=0.0)
    capex_fixed_yuan: float = Field(ge=0.0)
    opex_pct_of_capex_per_year: float = Field(ge=0.0, le=50.0)
    discount_rate: float = Field(gt=-0.5, le=1.0)
    lifetime_years: int = Field(ge=1, le=40)
    degradation: Literal["soh_scaled", "hold"]
    replace_at_soh: Fraction
    replacement_cost_fraction: float = Field(ge=0.0, le=2.0)
    sources: dict[str, str] = Field(default_factory=dict)
    technology: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Overrides for the candidates of one storage technology (``[technology.caes]``: any
    field above, with its ``_source``); the fields above are the LFP candidates'."""

    @model_validator(mode="after")
    def _technologies_valid(self) -> Finance:
        for tech in self.technology:
            if tech not in ("lfp", "caes"):
                raise ValueError(f"technology.{tech}: expected lfp or caes")
            self.for_technology(tech)  # raises naming the field
        return self

    def for_technology(self, technology: str) -> Finance:
        """The economics of a candidate of `technology` ("lfp" or "caes")."""
        over = self.technology.get(technology)
        if not over:
            return self
        data = self.model_dump()
        del data["technology"]
        base_sources = data.pop("sources")
        try:
            fin = Finance.model_validate({**data, **over})
        except ValueError as exc:
            raise ValueError(f"technology.{technology}: {exc}".splitlines()[0]) from None
        return fin.model_copy(update={"sources": {**base_sources, **fin.sources}})

    @model_validator(mode="before")
    @classmethod
    def _split_sources(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        sources = dict(data.pop("sources", {}) or {})
        for key in [k for k in data if k.endswith("_source")]:
            field = key.removesuffix("_source")
            if field not in cls.model_fields:
                raise ValueError(f"{key}: documents an unknown field {field!r}")
            sources[field] = str(data.pop(key))
        data["sources"] = sources
        return data


def default_finance() -> Finance:
    """The shipped economics (`twin/study/data/finance.toml`)."""
    source = "twin/study/data/finance.toml"
    return validate(parse_toml(package_text("twin.study", "finance.toml"), source), Finance, source)


class HostingSettings(Frozen):
    """Hosting capacity: per enterprise bus, the most units of `unit_type` with no limit broken.

    Each probe is a twin run of `days` days from `start` (default: the study's start) with the
    load grown to year `year` of the study; a limit counts as broken when the run breaks it
    in more grid steps than the same run without the added storage (the status quo). The
    feeders' limits are voltage and overload (lines and transformers, the units' own
    included); ``"export"`` in `limits` also counts export at the meter beyond the status
    quo's by more than `export_tolerance_kw` (the anti-backflow guard's work, not the
    feeders': at 15-min control it lags the load by one interval).
    """

    enterprises: Literal["all"] | tuple[str, ...] = "all"
    unit_type: str = "lfp314-5016kwh"
    pcs_kva: float | None = Field(default=None, gt=0.0)
    trafo_kva: float | None = Field(default=None, gt=0.0)
    max_units: int = Field(default=12, ge=1, le=200)
    strategy: str = "tou"
    start: dt.date | None = None
    days: int = Field(default=7, ge=1, le=366)
    year: int = Field(default=0, ge=0, le=30)
    limits: tuple[Literal["voltage", "overload", "export"], ...] = ("voltage", "overload")
    export_tolerance_kw: float = Field(default=1.0, ge=0.0)

    @field_validator("enterprises", mode="before")
    @classmethod
    def _enterprises(cls, value: Any) -> Any:
        return value if value == "all" else _as_tuple(value)


class Study(Frozen):
    """A whole study file, validated."""

    study: StudySettings = Field(default_factory=StudySettings)
    finance: Finance = Field(default_factory=default_finance)
    candidates: tuple[CandidateGrid, ...] = Field(min_length=1)
    hosting: HostingSettings | None = None
    uncertainty: StudyUncertainty | None = None
    """Uncertain inputs and the number of samples (`twin.study.uncertainty`)."""

    @model_validator(mode="before")
    @classmethod
    def _finance_over_defaults(cls, data: Any) -> Any:
        # [finance] overrides the shipped defaults field by field (missing keys keep them).
        if isinstance(data, dict) and isinstance(data.get("finance"), dict):
            base = default_finance().model_dump()
            sources = {**base.pop("sources"), **dict(data["finance"].get("sources", {}))}
            data = {**data, "finance": {**base, **data["finance"], "sources": sources}}
        return data

    def with_days(self, days: int | None) -> Study:
        """The same study with every run shortened to `days` (``--days``): each simulated
        year, and the hosting probes if longer; None: unchanged."""
        if days is None:
            return self
        if not 1 <= days <= 366:
            raise InputError(f"--days: expected 1..366, got {days}")
        update: dict[str, Any] = {"study": self.study.model_copy(update={"days": days})}
        if self.hosting is not None and self.hosting.days > days:
            update["hosting"] = self.hosting.model_copy(update={"days": days})
        return self.model_copy(update=update)

    def with_samples(self, samples: int | None) -> Study:
        """The same study with `samples` samples (``--samples``; 0: none, the nominal runs
        only); None: unchanged. Without ``[uncertainty]`` more than 0 is refused."""
        if samples is None:
            return self
        if not 0 <= samples <= 10_000:
            raise InputError(f"--samples: expected 0..10000, got {samples}")
        if samples == 0:
            return self.model_copy(update={"uncertainty": None})
        if self.uncertainty is None:
            raise InputError("--samples: the study file has no [uncertainty] table")
        unc = self.uncertainty.model_copy(update={"samples": samples})
        return self.model_copy(update={"uncertainty": unc})


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; a relative `site` or unit-type file is taken relative
    to the file."""
    path = Path(path)
    study = load_toml(path, Study)
    site = study.study.site
    if site is not None and not site.is_absolute():
        settings = study.study.model_copy(update={"site": (path.parent / site).resolve()})
        study = study.model_copy(update={"study": settings})
    grids = tuple(
        g.model_copy(update={"unit_type": tuple(unit_type_beside(u, path) for u in g.unit_type)})
        for g in study.candidates
    )
    update: dict[str, Any] = {"candidates": grids}
    if study.uncertainty is not None:
        update["uncertainty"] = study.uncertainty.resolved(path)
    if study.hosting is not None:
        hosting_type = unit_type_beside(study.hosting.unit_type, path)
        update["hosting"] = study.hosting.model_copy(update={"unit_type": hosting_type})
    return study.model_copy(update=update)
