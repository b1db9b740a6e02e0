"""What one twin run is: site, period, resolution, strategy, guards, faults, seed.

A scenario is a frozen, validated model. `default_scenario()` is the park's first storage
project as published (the built-in park, one year from 2025-01-01 at 15-min steps under the
2024-2026 Zhejiang tariff, time-of-use strategy, seed 0); a user's TOML file overrides any
field (`load_scenario`), and studies make variations with ``scenario.model_copy(update=...)``.

Time base: the physics step ``step_s`` is the finest; the control period ``control_s`` and the
grid period ``grid_s`` are whole multiples of it (default: equal to it). Times inside the
engine are counted in physics steps, so the events of different processes that fall on the
same instant coincide exactly (no float drift at 10 Hz).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from grid import StorageGroup
from parktwin.billing import BillingBasis
from parktwin.config import Frozen, describe_validation_error, load_toml
from parktwin.errors import InputError
from parktwin.files import unit_type_beside
from parktwin.strategy_names import BUILTIN_STRATEGIES


def _loading_limit_pct() -> float:
    """The grid limits' loading limit [%] (imported on first use: it brings numba in)."""
    from parktwin.limits import grid_limits

    return grid_limits().loading_max_pct


class GuardConfig(Frozen):
    """The safety layer applied over every strategy (each intervention is counted)."""

    anti_backflow: bool = True
    backflow_margin_kw: Annotated[float, Field(ge=0.0)] = 100.0
    """Import kept at each storage-hosting meter (park-facts: 50-100 kW or 2-5 % of the
    transformer rating, GB/T 43526-2023 practice). The larger of this and the percentage."""
    backflow_margin_pct: Annotated[float, Field(ge=0.0, le=50.0)] = 0.0
    backflow_sensing: Literal["fast_loop", "last_meter"] = "fast_loop"
    """What the anti-backflow guard knows of the load it must not exceed. ``fast_loop``: the
    EMS reads the meter every second (GB/T 36547: response <= 2 s), far faster than a
    15-min interval, so the guard gets the interval's own load and PV (what that loop
    tracks). ``last_meter``: only the last power-flow solve, one control period old (right
    at 1-s control periods, where that solve is the fast loop itself)."""
    soc_min: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    """SOC window of the guard; None = the unit type's own window."""
    soc_max: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    soc_efficiency: Annotated[float, Field(gt=0.5, le=1.0)] = 0.92
    """One-way efficiency assumed when turning SOC headroom into a power limit: lower than the
    real ~0.95 so the guard stays on the safe side of the window."""
    ramp: bool = True
    pcs_rating: bool = True
    trafo_loading_max_pct: Annotated[
        float, Field(gt=0.0, le=200.0, default_factory=lambda: _loading_limit_pct())
    ]
    """Limit of each unit's step-up transformer loading, % of its kVA; default the grid
    limits' loading limit (`parktwin.limits`, the one the run counts overloads against)."""
    grid_limits: bool = False
    """Grid-aware dispatch: cap charging and discharging where they would push a line, a
    transformer or a bus voltage of the park's feeders past its limit (or one already past
    it by grown load further past), by a look-ahead power flow and its sensitivities
    (`twin.grid_guard`). Needs ``network = "feeders"``."""
    grid_margin_pct: Annotated[float, Field(ge=0.0, le=20.0)] = 1.0
    """Loading headroom the grid-aware guard keeps below each limit [percentage points]: it
    absorbs the plant's deviation from its setpoints within the period."""
    grid_margin_v_pu: Annotated[float, Field(ge=0.0, le=0.05)] = 0.002
    """Voltage headroom the grid-aware guard keeps inside the band [p.u.]."""

    @model_validator(mode="after")
    def _window(self) -> GuardConfig:
        if self.soc_min is not None and self.soc_max is not None and self.soc_min >= self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        return self


class FaultSpec(Frozen):
    """A scheduled fault on one storage unit (index in the park's unit order, or its name)."""

    kind: Literal["pcs_trip", "comm_loss", "over_temperature"]
    unit: int | str
    at_s: Annotated[float, Field(ge=0.0)]
    """Simulated seconds from the run's start."""
    duration_s: Annotated[float, Field(gt=0.0)] | None = None
    """None = until the end of the run. A tripped PCS is reset after it (then restarts)."""
    fallback: Literal["zero", "hold"] = "zero"
    """comm_loss only: what the PCS does without setpoints (SunSpec 704 revert: 0 kW), or
    keep the last setpoint it received."""


class AvailabilitySpec(Frozen):
    """Unavailability of the storage units (`twin.availability`); a figure left None takes
    the default in twin/data/first_project.toml (with its source). Wall-clock (bench) runs
    draw none: they test a controller, and its PCS is always there."""

    enabled: bool = True
    planned_maintenance_days_per_year: Annotated[float, Field(ge=0.0, le=365.0)] | None = None
    forced_outage_rate: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    grid_stop_days_per_year: Annotated[float, Field(ge=0.0, le=365.0)] | None = None


class Scenario(Frozen):
    """One twin run. ``Scenario()`` is the built-in park with all of its storage over 2025 at
    15 min under TOU; `default_scenario()` keeps only the first project (the published one)."""

    site: Path | None = None
    """Site TOML file; None = the built-in park (`grid.default_site()`)."""
    storage_groups: tuple[str, ...] | None = None
    """Which of the site's storage groups exist in this run (None = all of them);
    `extra_storage` comes on top. `default_scenario()` keeps only the first project."""
    extra_storage: tuple[StorageGroup, ...] = ()
    unit_types: dict[str, str] = Field(default_factory=dict)
    """Another unit type for some storage groups, ``{group name: unit type}`` (a shipped
    name or a unit-type file), same count, power and transformers: e.g. the first project's
    units read as compressed-air units (``examples/first-project-caes.toml``)."""
    start: dt.date = dt.date(2025, 1, 1)
    days: Annotated[int, Field(ge=1, le=366 * 30)] = 365
    step_s: Annotated[float, Field(ge=0.1, le=3600.0)] = 900.0
    control_s: Annotated[float, Field(ge=0.1)] | None = None
    """None = `step_s`; else a whole multiple of it."""
    grid_s: Annotated[float, Field(ge=0.1)] | None = None
    """None = `step_s`; else a whole multiple of it."""
    strategy: str = "tou"
    """A built-in name (tou, peak_shaving, lp, idle, external) or "module.path:ClassName"."""
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    forecast: Literal["perfect", "persistence"] = "persistence"
    """What forecasting strategies see of load and PV: the actual series, or the day before."""
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    """Of every random draw (numpy's seeds are non-negative)."""
    load_growth_per_year: Annotated[float, Field(ge=-0.5, le=2.0)] = 0.0
    soc0: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    basic_charge: BillingBasis | None = None
    """How every host pays the basic charge (capacity, demand, contract); None = each
    enterprise's ``billing`` in the site file, else the assumption in
    twin/data/first_project.toml."""
    storage_in_capacity_base: bool | None = None
    """Do the storage transformers count in a capacity-billed host's kVA? None = the
    assumption in twin/data/first_project.toml."""
    tariff_scheme: str | None = None
    """Force one tariff scheme (by name, e.g. "zj-2026") over the whole run instead of the one
    in force each day: what the same year would earn under another scheme."""
    availability: AvailabilitySpec = AvailabilitySpec()
    """Planned maintenance, forced outages and grid-ordered stops (seeded draw)."""
    agency_prices: Path | None = None
    """The grid company's monthly agency-purchase prices (CSV, `profiles.read_agency_prices`);
    None = the tariff schemes' documented defaults."""
    guards: GuardConfig = GuardConfig()
    faults: tuple[FaultSpec, ...] = ()
    network: Literal["feeders", "copper_plate"] = "feeders"
    """The park's power flow (pandapower model, `grid.ParkGrid`), or a copper plate (meter =
    load - PV + storage; no voltages, no loadings: quick looks and strategy tests)."""
    realtime_speed: Annotated[float, Field(gt=0.0)] | None = None
    """Wall-clock mode: simulated seconds per real second (1.0 = real time); None = as fast
    as possible."""

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        if value in BUILTIN_STRATEGIES:
            return value
        module, _, name = value.partition(":")
        if not module or not name or not all(p.isidentifier() for p in module.split(".")):
            raise ValueError(
                f"expected one of {', '.join(BUILTIN_STRATEGIES)} or 'module.path:ClassName'"
            )
        return value

    @model_validator(mode="after")
    def _periods(self) -> Scenario:
        for name in ("control_s", "grid_s"):
            value = getattr(self, name)
            if value is None:
                continue
            ratio = value / self.step_s
            if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
                raise ValueError(f"{name} ({value} s) must be a whole multiple of step_s")
        from profiles.coverage import check_covered

        check_covered(self.start, self.days, "start")
        total = self.days * 86400.0 / self.step_s
        if abs(total - round(total)) > 1e-6:
            raise ValueError(f"a day must hold a whole number of steps (step_s={self.step_s})")
        return self

    # --- derived counts (in physics steps) -------------------------------------------
    @property
    def n_steps(self) -> int:
        """Physics steps in the run."""
        return round(self.days * 86400.0 / self.step_s)

    @property
    def control_every(self) -> int:
        """Physics steps per control period."""
        return round((self.control_s or self.step_s) / self.step_s)

    @property
    def grid_every(self) -> int:
        """Physics steps per grid period."""
        return round((self.grid_s or self.step_s) / self.step_s)

    @property
    def plant_every(self) -> int:
        """Physics steps per plant (kernel) call: the gcd of the control and grid periods."""
        return math.gcd(self.control_every, self.grid_every)

    @property
    def end_s(self) -> float:
        """Length of the run [s]."""
        return self.days * 86400.0

    def identity(self) -> dict[str, Any]:
        """What identifies a run of this scenario in its output folder's summary.json.

        ``scenario_sha256``: of the scenario's canonical JSON and, for a user's site file,
        of that file's bytes (the same path with other content is another run);
        ``version``: ParkTwin's; ``seed``.
        """
        import hashlib
        import json
        from importlib.metadata import PackageNotFoundError, version

        h = hashlib.sha256(
            json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str).encode()
        )
        if self.site is not None and self.site.is_file():
            h.update(self.site.read_bytes())
        try:
            ours = version("parktwin")
        except PackageNotFoundError:  # a source tree without an install
            ours = "unknown"
        return {"scenario_sha256": h.hexdigest(), "version": ours, "seed": self.seed}

    def revalidated(self) -> Scenario:
        """This scenario validated again (``model_copy(update=...)`` skips validation)."""
        try:
            return Scenario.model_validate(dict(self))
        except ValidationError as exc:
            raise InputError(describe_validation_error("scenario", exc)) from exc


def default_scenario() -> Scenario:
    """The park's first storage project: built-in park with only its 3 units at Xinsheng,
    2025 at 15-min steps, TOU, seed 0."""
    from twin.assumptions import assumptions

    return Scenario(storage_groups=(assumptions().published.storage_group,))


def load_scenario(path: str | Path) -> Scenario:
    """A scenario TOML file, validated (one-line `InputError` naming the file and field).

    A relative ``site`` path (and a relative unit-type file in ``unit_types``) is taken
    relative to the scenario file.
    """
    path = Path(path)
    scenario = load_toml(path, Scenario)
    if scenario.site is not None and not scenario.site.is_absolute():
        scenario = scenario.model_copy(update={"site": (path.parent / scenario.site).resolve()})
    if scenario.site is not None and not scenario.site.is_file():
        raise InputError(f"{path}: site: no such file {scenario.site}")
    if scenario.unit_types:
        beside = {g: unit_type_beside(t, path) for g, t in scenario.unit_types.items()}
        scenario = scenario.model_copy(update={"unit_types": beside})
    prices = scenario.agency_prices
    if prices is not None and not prices.is_absolute():
        scenario = scenario.model_copy(update={"agency_prices": (path.parent / prices).resolve()})
    return scenario
