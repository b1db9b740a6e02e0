"""`RunSummary`: the KPIs of one twin run as a frozen dataclass, units in field names.

Callers read attributes; a renamed field fails loudly. The result leaves the program only
through `RunSummary.as_json` (``summary.json``), which keeps the file's keys: a field whose
attribute name differs from its key says so in its metadata (``key``).

Signs and ranges follow ``docs/nomenclature.md``: power + = charging, ``soh`` 0..1,
``v_*_pu`` per unit of the bus's nominal voltage, loadings in % of rating.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from twin.scenario import Scenario


def _key(name: str) -> dict:
    """Field metadata: the JSON key of a field whose attribute says more (units, names)."""
    return {"key": name}


@dataclass(frozen=True)
class PublishedFigure:
    """One figure of the first project: the published value beside the twin's (same unit)."""

    published: float
    twin: float

    @property
    def deviation(self) -> float:
        """Relative deviation of the twin from the published figure [-] (+ = twin higher)."""
        return self.twin / self.published - 1.0

    def as_json(self) -> dict[str, float]:
        return {"published": self.published, "twin": self.twin, "deviation": self.deviation}


@dataclass(frozen=True)
class PublishedComparison:
    """The twin's figures for the first storage project beside the published ones."""

    nameplate_kwh: PublishedFigure  # [kWh]
    charge_kwh_per_day: PublishedFigure  # AC energy in [kWh/day]
    discharge_kwh_per_day: PublishedFigure  # AC energy out [kWh/day]
    savings_yuan_per_year: PublishedFigure  # the host's bill difference [yuan/yr]
    operating_days: int  # days discharging more than 10 % of nameplate [days]
    comparable: bool  # the run is the published project's year (the deviations mean something)
    target_deviation: float  # the deviation the twin aims to stay within [-]
    sources: dict[str, str]  # where each published figure comes from

    #: the figures compared, in the order they are printed
    FIGURES = (
        "nameplate_kwh",
        "charge_kwh_per_day",
        "discharge_kwh_per_day",
        "savings_yuan_per_year",
    )

    def figure(self, name: str) -> PublishedFigure:
        """One of `FIGURES` by name."""
        if name not in self.FIGURES:
            raise KeyError(name)
        return getattr(self, name)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: self.figure(k).as_json() for k in self.FIGURES}
        out["operating_days"] = self.operating_days
        out["comparable"] = self.comparable
        out["target_deviation"] = self.target_deviation
        out["sources"] = dict(self.sources)
        return out


@dataclass(frozen=True)
class FaultRecord:
    """One entry of the engine's fault log: a fault or its clearing."""

    t_s: float  # simulated time since the start [s]
    event: str  # "pcs_trip", "comm_loss cleared", ...
    unit: str  # the unit's name

    def as_json(self) -> list:
        return [self.t_s, self.event, self.unit]


@dataclass(frozen=True)
class RealtimeStats:
    """How a wall-clock run kept up with the clock."""

    speed: float  # simulated seconds per real second
    max_lag_s: float  # largest delay behind the clock [s]
    intervals_behind: int  # plant intervals that ended more than one interval late

    def as_json(self) -> dict[str, Any]:
        return {
            "speed": self.speed,
            "max_lag_s": self.max_lag_s,
            "intervals_behind": self.intervals_behind,
        }


@dataclass(frozen=True)
class GridGuardStats:
    """What the grid-aware guard (`twin.grid_guard`) did in a run."""

    interventions: int  # grid periods in which it cut a setpoint [-]
    zeroed: int  # ... in which it had to set every unit to zero [-]
    curtailed_kwh: float  # setpoint energy it took away, charge and discharge [kWh]
    caused_violations: int  # intervals in which storage still put an element past its
    # limit (or further past), by full power flows with and without it [-] (0 = promise kept)
    probes: int  # look-ahead power flows it solved [-]

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunSummary:
    """The KPIs of one run (`twin.run.collect`), written as ``summary.json``.

    Per-year figures are the run's figures scaled to 365 days (the basic charge by calendar
    months touched, x 12 / months). Energies are AC at the unit's PCS terminals.
    """

    scenario: Scenario  # the run's (validated) scenario
    days: float  # simulated time [days]
    intervals: int  # plant intervals recorded [-]
    interval_s: float  # one plant interval [s]
    unit_names: tuple[str, ...] = field(metadata=_key("units"))
    host_names: tuple[str, ...] = field(metadata=_key("hosts"))  # meters with storage behind
    nameplate_kwh: float  # the fleet's nameplate energy [kWh]
    basic_charge: str  # the hosts' basis: "capacity", "demand", "contract" (mixed: "a+b")
    strategy: str  # the dispatch strategy's name
    charge_kwh_per_day: float  # AC energy into the units [kWh/day]
    discharge_kwh_per_day: float  # AC energy out of the units [kWh/day]
    aux_kwh_per_day: float  # auxiliaries (HVAC, BMS) [kWh/day]
    savings_yuan_per_year: float  # the hosts' bills without minus with storage [yuan/yr]
    savings_energy_yuan_per_year: float  # its energy-charge part [yuan/yr]
    savings_demand_yuan_per_year: float  # its basic-charge part [yuan/yr]
    savings_power_factor_yuan_per_year: float  # its power-factor part [yuan/yr]
    billing: dict[str, dict]  # host -> basis, capacity_kva, storage_kva, contract_kw
    tariff_schemes: tuple[str, ...]  # the schemes in force over the run, oldest first
    agency_prices: str  # the monthly price file used ("": the schemes' defaults)
    gross_discharge_value_yuan_per_year: float  # discharged energy x price in force [yuan/yr]
    bill_without_storage_yuan_per_year: float  # the hosts' bills without storage [yuan/yr]
    equivalent_full_cycles: float  # mean over the units since new [-]
    equivalent_full_cycles_per_unit: tuple[float, ...]  # [-]
    equivalent_full_cycles_per_year: float  # the mean scaled to 365 days [1/yr]
    comparable_project: dict[str, Any]  # a comparable project's EFC/yr and its source
    availability: dict[str, Any]  # share of unit-intervals available, days out by cause
    soh_end: float  # mean state of health at the end [0..1]
    soh_end_per_unit: tuple[float, ...]  # [0..1]
    round_trip_efficiency: float  # AC out (+ stored change) / AC in [-]
    round_trip_efficiency_with_aux: float  # the same with the auxiliaries as input [-]
    round_trip_efficiency_at_meter: float  # at the host meters (unit transformers') [-]
    round_trip_efficiency_at_meter_with_aux: float  # the same with the auxiliaries [-]
    round_trip_efficiency_by_season: dict[str, dict[str, float]]  # season -> the four [-]
    stored_energy_change_kwh: float  # energy stored at the end minus at the start [kWh]
    max_export_kw: float  # largest export at a host meter (>= 0) [kW]
    max_export_kw_without_storage: float  # the same without storage [kW]
    export_intervals: int  # intervals with any host meter exporting [-]
    guard_interventions: dict[str, int]  # guard name -> interventions [-]
    voltage_violations: int  # intervals with a checked bus outside the voltage band [-]
    overload_violations: int  # intervals with a line or transformer above its limit [-]
    v_min_pu: float  # lowest voltage of a checked bus [p.u.] (NaN: nothing recorded)
    v_max_pu: float  # highest [p.u.]
    line_loading_max_pct: float  # highest line loading [% of rating]
    trafo_loading_max_pct: float  # highest transformer loading [% of rating]
    power_flow_solves: int  # grid solves during the run [-]
    faults: tuple[FaultRecord, ...]  # the fault log, in time order
    published: PublishedComparison | None  # None: the first project is not in the run
    assumptions: dict[str, str]  # what each assumption of the economics rests on
    run_seconds: float  # wall time of the run [s] (measures the machine, not the park)
    note: tuple[str, ...] = ()  # sentences explaining deviations from the published figures
    realtime: RealtimeStats | None = None  # wall-clock runs only
    grid_guard: GridGuardStats | None = None  # runs with guards.grid_limits only
    sensitivity: dict[str, Any] = field(default_factory=dict)  # `twin.sensitivity` ({}: none)

    @property
    def guard_interventions_total(self) -> int:
        """Interventions of all guards together [-]."""
        return int(sum(self.guard_interventions.values()))

    def as_json(self) -> dict[str, Any]:
        """The summary as ``summary.json`` holds it (same keys; NaN stays NaN here)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("realtime", "grid_guard") and value is None:
                continue  # only wall-clock (grid-aware) runs have the key
            out[f.metadata.get("key", f.name)] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    """A field's value as JSON-ready Python (lists, dicts, numbers, strings)."""
    if isinstance(value, Scenario):
        return _finite_or_none(value.model_dump(mode="json"))
    if value is None:
        return {}  # `published`: no comparison
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _finite_or_none(obj: Any) -> Any:
    """The scenario's non-finite floats (none today) as None, as JSON has no NaN."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
