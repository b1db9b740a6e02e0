"""A candidate's years: closed-loop twin runs of the whole park, one per simulated year.

A simulated year k (k = 0, 1, ...) is one run of the whole park (all its existing storage
plus the candidate's) from ``start + k years``. The enterprises' loads are grown by their
growth factors (`twin.study.growth`: per enterprise, and new loads connected from their
first year; the twin grows them on within the year) and the fleet starts from the previous
year's final state, so the cells age from year to year.
The twin runs one strategy over the whole park, so a candidate is compared with the status
quo (the park without it) under the same strategy.

Each year is reduced to a `YearOutcome` from what the run recorded as it went (the
summary, the meters, and each grid element's extremes and violation counts): no year is
solved twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parktwin.limits import GridLimits, grid_limits
from twin.study.candidates import Candidate
from twin.study.growth import site_in_year
from twin.study.model import StudySettings

CANDIDATE_GROUP = "study-candidate"  # the candidate's storage group name in the site


@dataclass(frozen=True)
class YearOutcome:
    """What a study keeps of one simulated year (of the whole park)."""

    savings_yuan: float  # the park's hosts, with storage vs without, per year
    savings_energy_yuan: float
    savings_demand_yuan: float
    soh_end: float  # mean over the watched units (NaN if none)
    efc: float  # equivalent full cycles of the watched units since new, at the year's end
    v_min_pu: float  # over the buses the voltage band applies to (10 kV, 0.38 kV)
    v_max_pu: float
    line_loading_max_pct: float
    trafo_loading_max_pct: float
    unit_trafo_loading_max_pct: float  # the watched units' step-up transformers
    export_max_kw: float  # at the watched enterprise's meter (>= 0; 0 = never exported)
    export_by_meter_kw: dict  # meter name -> largest export [kW] (>= 0) at every meter
    voltage_violations: int  # grid steps with a checked bus outside [v_min_pu, v_max_pu]
    overload_violations: int  # grid steps with a line or transformer above loading_max_pct
    violations_by_element: dict  # "bus:NAME" / "line:NAME" / "trafo:NAME" -> steps (> 0 only)
    extremes: dict  # "line:NAME"/"trafo:NAME" -> max loading %, "vmin:BUS"/"vmax:BUS" -> p.u.
    worst_bus: str
    worst_line: str
    worst_trafo: str
    guard_interventions: int
    run_seconds: float
    grid_aware: bool = False  # the run had the grid-aware guard on
    caused_violations: int = 0  # intervals in which storage caused a violation (guard's check)
    curtailed_kwh: float = 0.0  # setpoint energy the grid-aware guard took away [kWh]


# --- the park of year k -------------------------------------------------------------------
@functools.cache
def base_site(path: Path | None):
    """The study's site (its file, or the built-in park), read once per process."""
    from grid import default_site, load_site

    return load_site(path) if path is not None else default_site()


def year_start(start: dt.date, k: int) -> dt.date:
    """`start` moved on by k calendar years (29 Feb -> 28 Feb)."""
    try:
        return start.replace(year=start.year + k)
    except ValueError:
        return start.replace(year=start.year + k, day=28)


def candidate_group(c: Candidate, commissioned: int):
    """The candidate as a `grid.StorageGroup` behind its enterprise."""
    from grid import StorageGroup

    return StorageGroup(
        name=CANDIDATE_GROUP,
        enterprise=c.enterprise,
        unit_type=c.unit_type,
        count=c.units,
        pcs_kva=c.pcs_kva,
        trafo_kva=c.trafo_kva,
        commissioned=commissioned,
        note="expansion candidate",
    )


# --- one year's outcome -------------------------------------------------------------------
def _pick(per: np.ndarray, names: tuple, lowest: bool = False) -> tuple[float, str]:
    """The extreme of per-element values (NaN: never solved) and the element's name."""
    per = np.asarray(per, float)
    if per.size == 0 or not np.isfinite(per).any():
        return math.nan, ""
    per = np.where(np.isfinite(per), per, np.inf if lowest else -np.inf)
    i = int(np.argmin(per) if lowest else np.argmax(per))
    return float(per[i]), names[i]


def _counts(steps: np.ndarray, names: tuple[str, ...], prefix: str) -> dict[str, int]:
    return {f"{prefix}:{names[i]}": int(steps[i]) for i in np.flatnonzero(steps)}


def outcome_of(result, ent_index: int | None, units: slice) -> YearOutcome:
    """One year's `twin.run.RunResult` reduced to a `YearOutcome`.

    Reads the run's summary (savings, SOH, cycles, guards), its recorded meters and unit
    transformer loadings, and its grid extremes (`twin.recorder.GridExtremes`: every bus,
    line and transformer, counted against the limits the run was given). Watches
    enterprise `ent_index`'s meter and the units of `units` (the candidate's last).
    """
    s, g = result.summary, result.grid
    el = g.elements
    v_min, v_min_bus = _pick(g.v_min_pu, el.bus_names, lowest=True)
    v_max, v_max_bus = _pick(g.v_max_pu, el.bus_names)
    worst_bus = v_min_bus if (1.0 - v_min) >= (v_max - 1.0) else v_max_bus
    l_max, l_name = _pick(g.line_loading_max_pct, el.line_names)
    t_max, t_name = _pick(g.trafo_loading_max_pct, el.trafo_names)
    by_element = {
        **_counts(g.bus_violations, el.bus_names, "bus"),
        **_counts(g.line_violations, el.line_names, "line"),
        **_counts(g.trafo_violations, el.trafo_names, "trafo"),
    }
    extremes: dict[str, float] = {}
    if g.solves:
        for prefix, arr, names in (
            ("line", g.line_loading_max_pct, el.line_names),
            ("trafo", g.trafo_loading_max_pct, el.trafo_names),
            ("vmin", g.v_min_pu, el.bus_names),
            ("vmax", g.v_max_pu, el.bus_names),
        ):
            extremes.update(
                {f"{prefix}:{n}": float(x) for n, x in zip(names, arr, strict=True) if x == x}
            )
    pcc = np.asarray(result.series["meters"]["pcc_kw"], float)
    by_meter = np.zeros(pcc.shape[1])
    if pcc.shape[0]:
        by_meter = np.maximum(-np.nanmin(np.where(np.isfinite(pcc), pcc, 0.0), axis=0), 0.0)
    export = float(by_meter[ent_index]) if ent_index is not None else 0.0
    ut = np.asarray(result.series["units"]["unit_trafo_loading_pct"], float)[:, units]
    ut_max = float(np.nanmax(ut)) if ut.size and np.isfinite(ut).any() else math.nan
    return YearOutcome(
        savings_yuan=s.savings_yuan_per_year,
        savings_energy_yuan=s.savings_energy_yuan_per_year,
        savings_demand_yuan=s.savings_demand_yuan_per_year,
        soh_end=float(np.mean(np.asarray(s.soh_end_per_unit, float)[units])),
        efc=float(np.mean(np.asarray(s.equivalent_full_cycles_per_unit, float)[units])),
        v_min_pu=v_min,
        v_max_pu=v_max,
        line_loading_max_pct=l_max,
        trafo_loading_max_pct=t_max,
        unit_trafo_loading_max_pct=ut_max,
        export_max_kw=export,
        export_by_meter_kw={m: float(x) for m, x in zip(result.meter_names, by_meter, strict=True)},
        voltage_violations=g.voltage_violations,
        overload_violations=g.overload_violations,
        violations_by_element=by_element,
        extremes=extremes,
        worst_bus=worst_bus,
        worst_line=l_name,
        worst_trafo=t_name,
        guard_interventions=s.guard_interventions_total,
        run_seconds=s.run_seconds,
        grid_aware=s.grid_guard is not None,
        caused_violations=s.grid_guard.caused_violations if s.grid_guard is not None else 0,
        curtailed_kwh=s.grid_guard.curtailed_kwh if s.grid_guard is not None else 0.0,
    )


def run_year(
    scenario, site, initial_state: dict | None, limits: GridLimits, network=None, tariff=None
):
    """One closed-loop twin run of `site` (a `twin.run.RunResult`, with its grid extremes
    counted against `limits`), on `network` when given (a `grid.ParkGrid` of the same
    feeders and storage, warm start reset) instead of one built for the run. `tariff`: a
    sample's tariff (`twin.study.uncertainty.SampleTariff`) for dispatch and bills alike."""
    from twin.engine import Simulation
    from twin.run import collect

    t0 = time.perf_counter()
    if network is not None:
        network.reset_warm_start()  # as if just built: the same numbers as a new one
    if tariff is None:
        sim = Simulation(
            scenario, site=site, initial_state=initial_state, limits=limits, network=network
        )
    else:
        sim = Simulation(_sample_wiring(scenario, site, initial_state, limits, network, tariff))
    sim.run()
    return collect(sim, t0)


def _sample_wiring(scenario, site, initial_state, limits, network, tariff):
    """The run wired with `tariff`'s series (not the disk cache: a sample's inputs are its
    own) and bills on it."""
    import dataclasses

    from twin.inputs import build_inputs
    from twin.wiring import wire

    n_rows = scenario.n_steps // scenario.plant_every
    inputs = build_inputs(
        site,
        scenario.start,
        n_rows,
        scenario.plant_every * scenario.step_s,
        scenario.seed,
        scenario.load_growth_per_year,
        scheme=tariff,
    )
    w = wire(
        scenario,
        site=site,
        network=network,
        inputs=inputs,
        initial_state=initial_state,
        limits=limits,
    )
    return dataclasses.replace(w, scheme=tariff)


def simulate_years(
    settings: StudySettings,
    strategy: str,
    extra: tuple = (),
    enterprise: str | None = None,
    years: int | None = None,
    start: dt.date | None = None,
    days: int | None = None,
    first_year: int = 0,
    limits: GridLimits | None = None,
    sample=None,
    grid_aware: bool | None = None,
) -> list[YearOutcome]:
    """Closed-loop twin runs of the park (+ `extra` storage groups), one per simulated year,
    aging carried; outcomes watch `enterprise`'s meter and the extra groups' units.
    `sample`: a `twin.study.uncertainty.SampleInputs` whose draws each year takes.
    `grid_aware`: with the grid-aware guard (None: the study's first dispatch mode)."""
    from twin.scenario import GuardConfig, Scenario
    from twin.wiring import site_of

    limits = limits or grid_limits()
    if grid_aware is None:
        grid_aware = settings.dispatch_modes[0]
    base = base_site(settings.site)
    names = [e.name for e in base.enterprises]
    ent_index = names.index(enterprise) if enterprise is not None else None
    n_extra = sum(g.count for g in extra)
    watched = slice(-n_extra, None) if n_extra else slice(0, None)
    start = start or settings.start
    out: list[YearOutcome] = []
    state = None
    # the feeders are the same from year to year until a new load is connected: one grid
    # model per set of connections
    networks: dict[tuple[str, ...], object] = {}
    growth = settings.load_growth
    for k in range(first_year, first_year + (years or settings.years)):
        scenario = Scenario(
            extra_storage=tuple(extra),
            start=year_start(start, k - first_year),
            days=days or settings.days,
            step_s=settings.step_s,
            strategy=strategy,
            strategy_params=dict(settings.strategy_params),
            seed=settings.seed,
            load_growth_per_year=settings.load_growth_per_year,
            guards=GuardConfig(grid_limits=grid_aware),
        )
        grown = site_in_year(base, growth, settings.start.year, k)
        if settings.reinforcement is not None:
            grown = grown.reinforced(settings.reinforcement)
        site = site_of(scenario, base=grown)
        network = None
        if scenario.network == "feeders":
            from grid import ParkGrid

            connections = tuple(e.name for e in site.enterprises)
            if connections not in networks:
                networks[connections] = ParkGrid.cached(site)
            network = networks[connections]
        tariff = None
        if sample is not None:
            scenario, tariff = sample.year(k, scenario, site)
        result = run_year(scenario, site, state, limits, network, tariff)
        state = result.final_state
        out.append(outcome_of(result, ent_index, watched))
    return out
