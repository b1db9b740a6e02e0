"""The tasks a study's workers run, and the typed rows they give back.

Every task is a frozen, picklable model with a stable ``key`` and a module-level function
that turns it into one result row, so the same objects run in a local process or on a Dask
worker unchanged (`twin.study.execute`). A row is a frozen dataclass with units in its
field names; it becomes a table row (`as_row`, columns by `columns_of`) only where it
leaves the worker. Hosting bisections are in `twin.study.hosting`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grid.site import Reinforcements
from parktwin.config import Frozen
from parktwin.errors import InputError
from parktwin.limits import GridLimits
from twin.study.candidates import Candidate, stable_key
from twin.study.finance import Capex, Metrics, Projection, capex, metrics, project
from twin.study.fit import first_years, fit_of
from twin.study.model import Finance, StudySettings
from twin.study.verdict import (
    GridVerdict,
    StatusQuo,
    added_by_year,
    combine_extremes,
    grid_verdict,
)
from twin.study.years import YearOutcome, candidate_group, simulate_years

_KINDS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


def columns_of(row_type: type) -> dict[str, str]:
    """The results-table columns of a row dataclass: name -> kind (`twin.study.store`);
    anything but a plain str/int/float/bool (or one of them | None: an empty cell) is
    stored as JSON."""
    return {
        f.name: _KINDS.get(str(f.type).removesuffix(" | None"), "json")
        for f in dataclasses.fields(row_type)
    }


def as_row(row: Any) -> dict[str, Any]:
    """A row dataclass as the results table takes it (tuples as JSON lists)."""
    return {f.name: _plain(getattr(row, f.name)) for f in dataclasses.fields(row)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --- the status quo -------------------------------------------------------------------------
class ReferenceTask(Frozen):
    """The park as it is (no candidate) under `strategy`, over the study's years, as
    dispatched or with the grid-aware guard (`grid_aware`)."""

    settings: StudySettings
    strategy: str
    grid_aware: bool = False

    @property
    def key(self) -> str:
        # as dispatched: the key samples refer to (`twin.study.samples.reference_key`)
        if not self.grid_aware:
            return "status-quo-" + stable_key({"strategy": self.strategy})
        return "status-quo-" + stable_key({"strategy": self.strategy, "aware": True})

    def identity(self) -> dict:
        return {"strategy": self.strategy, "grid_aware": self.grid_aware}


@dataclass(frozen=True)
class ReferenceRow:
    """The status quo under one strategy and dispatch: per-year savings and violations."""

    strategy: str
    grid_aware: bool  # with the grid-aware guard
    savings_yuan_by_year: tuple[float, ...]  # the park's savings [yuan/yr]
    voltage_violations_by_year: tuple[int, ...]  # grid steps [-]
    overload_violations_by_year: tuple[int, ...]  # grid steps [-]
    violations_by_element_by_year: tuple[dict[str, int], ...]  # see `YearOutcome`
    extremes: dict[str, float]  # over the years, see `YearOutcome`
    export_max_kw_by_meter: dict[str, float]  # largest export at each meter (>= 0) [kW]
    v_min_pu: float  # [p.u.]
    v_max_pu: float  # [p.u.]
    line_loading_max_pct: float  # [% of rating]
    trafo_loading_max_pct: float  # [% of rating]
    caused_violations_by_year: tuple[int, ...]  # storage-caused, by the guard's check [-]
    curtailed_kwh_by_year: tuple[float, ...]  # taken away by the grid-aware guard [kWh]


REFERENCE_COLUMNS = columns_of(ReferenceRow)


def reference_row(task: ReferenceTask) -> ReferenceRow:
    """The status quo's years reduced to its row."""
    years = simulate_years(task.settings, task.strategy, grid_aware=task.grid_aware)
    return ReferenceRow(
        strategy=task.strategy,
        grid_aware=task.grid_aware,
        savings_yuan_by_year=tuple(y.savings_yuan for y in years),
        voltage_violations_by_year=tuple(y.voltage_violations for y in years),
        overload_violations_by_year=tuple(y.overload_violations for y in years),
        violations_by_element_by_year=tuple(y.violations_by_element for y in years),
        extremes=combine_extremes([y.extremes for y in years]),
        export_max_kw_by_meter={
            m: max(y.export_by_meter_kw[m] for y in years) for m in years[0].export_by_meter_kw
        },
        v_min_pu=min(y.v_min_pu for y in years),
        v_max_pu=max(y.v_max_pu for y in years),
        line_loading_max_pct=max(y.line_loading_max_pct for y in years),
        trafo_loading_max_pct=max(y.trafo_loading_max_pct for y in years),
        caused_violations_by_year=tuple(y.caused_violations for y in years),
        curtailed_kwh_by_year=tuple(y.curtailed_kwh for y in years),
    )


def run_reference(task: ReferenceTask) -> dict:
    """Row of the status quo (the worker's entry point; see `reference_row`)."""
    return as_row(reference_row(task))


# --- a candidate ----------------------------------------------------------------------------
class CandidateTask(Frozen):
    """A candidate with everything its worker needs, including the status quo's years
    (one per dispatch mode of the study, in `StudySettings.dispatch_modes` order)."""

    candidate: Candidate
    settings: StudySettings
    finance: Finance
    limits: GridLimits
    e_unit_kwh: float
    p_unit_kw: float
    feeder: str
    references: tuple[StatusQuo, ...]
    reinforced: StatusQuo | None = None  # the status quo on the reinforced grid
    reinforcement: Reinforcements | None = None  # its grid changes (None: not planned)

    @property
    def key(self) -> str:
        return self.candidate.key

    def identity(self) -> dict:
        return {**self.candidate.model_dump(), "label": self.candidate.label, "feeder": self.feeder}


@dataclass(frozen=True)
class CandidateRow:
    """One candidate: incremental savings over the status quo, finance, grid verdict, in
    the study's first dispatch mode (`grid_aware`); the ``aware_`` columns are its
    grid-aware run (NaN/None when the study ran one way only); the three verdicts
    (`twin.study.fit`) from both."""

    label: str
    enterprise: str
    feeder: str
    unit_type: str
    units: int  # cabins added [-]
    pcs_kva: float  # per unit [kVA]
    trafo_kva: float  # per unit [kVA]
    strategy: str
    e_kwh: float  # nameplate energy added [kWh]
    p_kw: float  # rated power added [kW]
    savings_yuan_per_year: float  # mean over the years, beyond the status quo [yuan/yr]
    savings_energy_yuan_per_year: float  # its energy-charge part [yuan/yr]
    savings_demand_yuan_per_year: float  # its basic-charge part [yuan/yr]
    savings_yuan_by_year: tuple[float, ...]  # [yuan/yr]
    capex_yuan: float
    opex_yuan_per_year: float
    npv_yuan: float
    irr: float  # [-] (NaN: none)
    simple_payback_years: float
    discounted_payback_years: float
    soh_end: float  # the candidate's units at the last year's end [0..1]
    soh_by_year: tuple[float, ...]  # [0..1]
    efc_per_year: float  # equivalent full cycles per calendar year [-]
    v_min_pu: float
    v_max_pu: float
    line_loading_max_pct: float
    trafo_loading_max_pct: float
    unit_trafo_loading_max_pct: float
    worst_bus: str
    worst_line: str
    worst_trafo: str
    export_max_kw: float
    guard_interventions: int
    voltage_violations: int
    overload_violations: int
    added_violations: int
    added_by_element: dict[str, int]
    grid_margin_pct: float
    margin_element: str
    park_margin_pct: float
    grid_ok: bool
    grid_flags: str
    grid_aware: bool  # the mode of the columns above: with the grid-aware guard
    # the grid-aware run (each beyond the grid-aware status quo)
    aware_savings_yuan_per_year: float  # [yuan/yr]
    aware_savings_yuan_by_year: tuple[float, ...]  # [yuan/yr]
    aware_npv_yuan: float
    aware_irr: float  # [-]
    aware_simple_payback_years: float
    aware_line_loading_max_pct: float  # [% of rating]
    aware_trafo_loading_max_pct: float  # [% of rating]
    aware_v_min_pu: float
    aware_added_violations: int | None  # element-steps beyond the status quo [-]
    aware_added_by_element: dict[str, int] | None
    aware_caused_violations: int | None  # intervals, by the guard's full-power-flow check
    aware_curtailed_kwh_per_year: float  # setpoint energy the guard took away [kWh/yr]
    aware_grid_ok: bool | None
    aware_grid_flags: str | None
    # the three verdicts (`twin.study.fit`)
    fits_as_dispatched: bool | None
    fits_grid_aware: bool | None
    grid_aware_cost_yuan_per_year: float  # savings given up to the guard [yuan/yr]
    reinforce_from_year: dict[str, int]  # element -> first calendar year it is broken
    verdict: str  # "fits", "fits grid-aware", "reinforce" or "open"
    # as dispatched on the status quo's reinforced grid (`twin.study.reinforcement`)
    reinforced_savings_yuan_per_year: float  # beyond the reinforced status quo [yuan/yr]
    reinforced_npv_yuan: float
    reinforced_added_violations: int | None
    reinforced_added_by_element: dict[str, int] | None
    reinforced_grid_flags: str | None
    fits_reinforced: bool | None  # None: no plan made


CANDIDATE_COLUMNS = columns_of(CandidateRow)


def candidate_finance(
    fin: Finance, c: Candidate, e_unit_kwh: float, savings: list[float], sohs: list[float]
) -> tuple[Capex, Projection, Metrics]:
    """A candidate's capex, cash-flow projection and figures of merit from its simulated
    years' savings beyond the status quo [yuan/yr] and SOH [0..1] (the nominal run and each
    sample alike, `twin.study.samples`)."""
    cap = capex(fin, c.units * e_unit_kwh, c.units * c.pcs_kva, c.units * c.trafo_kva)
    proj = project(fin, cap, savings, sohs)
    return cap, proj, metrics(fin, proj)


@dataclass(frozen=True)
class _Way:
    """A candidate's years run one way (as dispatched or grid-aware), judged."""

    years: list[YearOutcome]
    savings: list[float]  # beyond the status quo run the same way [yuan/yr]
    share_energy: list[float]  # energy-charge share of each year's savings [-]
    cap: Capex
    metrics: Metrics
    verdict: GridVerdict
    breaks: dict[str, int]  # element -> first calendar year the candidate breaks it


def _one_way(
    task: CandidateTask,
    grid_aware: bool,
    reference: StatusQuo,
    settings: StudySettings | None = None,
) -> _Way:
    c = task.candidate
    fin = task.finance
    start_year = task.settings.start.year
    years = simulate_years(
        settings or task.settings,
        c.strategy,
        extra=(candidate_group(c, start_year),),
        enterprise=c.enterprise,
        limits=task.limits,
        grid_aware=grid_aware,
    )
    ref = list(reference.savings_yuan)
    if len(ref) != len(years):
        raise InputError("the status quo has a different number of years than the candidate")
    savings = [y.savings_yuan - r for y, r in zip(years, ref, strict=True)]
    # The energy/demand split of the increment is taken from the candidate's run minus the
    # reference in proportion: the reference stores totals only.
    share_e = [
        y.savings_energy_yuan / y.savings_yuan if y.savings_yuan else math.nan for y in years
    ]
    cap, _, m = candidate_finance(fin, c, task.e_unit_kwh, savings, [y.soh_end for y in years])
    breaks = first_years(added_by_year(years, reference, task.limits), start_year)
    return _Way(
        years, savings, share_e, cap, m, grid_verdict(years, reference, task.limits), breaks
    )


def candidate_row(task: CandidateTask) -> CandidateRow:
    """A candidate's years against the status quo, each dispatch mode of the study:
    savings, finance, the grid verdicts and the three verdicts of `twin.study.fit`."""
    c = task.candidate
    fin = task.finance
    modes = task.settings.dispatch_modes
    if len(task.references) != len(modes):
        raise InputError("the status quo has not been run in each dispatch mode of the study")
    ways = {
        aware: _one_way(task, aware, ref) for aware, ref in zip(modes, task.references, strict=True)
    }
    w = ways[modes[0]]
    aw = ways.get(True)
    dispatched = ways.get(False)
    years, savings, cap, m, v = w.years, w.savings, w.cap, w.metrics, w.verdict
    mean_savings = float(np.mean(savings))
    energy = float(np.nanmean([s * f for s, f in zip(savings, w.share_energy, strict=True)]))
    sohs = [y.soh_end for y in years]
    fit = fit_of(
        dispatched.verdict if dispatched is not None else None,
        aw.verdict if aw is not None else None,
        (dispatched or w).breaks,
        float(np.mean(dispatched.savings)) if dispatched is not None else math.nan,
        float(np.mean(aw.savings)) if aw is not None else math.nan,
    )
    n_days = len(years) * task.settings.days
    rw = None  # as dispatched on the reinforced grid
    if task.reinforced is not None and task.reinforcement is not None:
        if task.reinforcement == Reinforcements():  # nothing to reinforce: today's grid
            rw = dispatched or w
        else:
            on = task.settings.model_copy(update={"reinforcement": task.reinforcement})
            rw = _one_way(task, modes[0], task.reinforced, on)
    nan = math.nan
    return CandidateRow(
        label=c.label,
        enterprise=c.enterprise,
        feeder=task.feeder,
        unit_type=c.unit_type,
        units=c.units,
        pcs_kva=c.pcs_kva,
        trafo_kva=c.trafo_kva,
        strategy=c.strategy,
        e_kwh=c.units * task.e_unit_kwh,
        p_kw=c.units * task.p_unit_kw,
        savings_yuan_per_year=mean_savings,
        savings_energy_yuan_per_year=energy,
        savings_demand_yuan_per_year=mean_savings - energy,
        savings_yuan_by_year=tuple(savings),
        capex_yuan=cap.total_yuan,
        opex_yuan_per_year=fin.opex_pct_of_capex_per_year / 100.0 * cap.total_yuan,
        npv_yuan=m.npv_yuan,
        irr=m.irr,
        simple_payback_years=m.simple_payback_years,
        discounted_payback_years=m.discounted_payback_years,
        soh_end=sohs[-1],
        soh_by_year=tuple(sohs),
        # the candidate's units start new; per calendar year even when --days cut the years
        efc_per_year=years[-1].efc / (n_days / 365.0),
        v_min_pu=v.v_min_pu,
        v_max_pu=v.v_max_pu,
        line_loading_max_pct=v.line_loading_max_pct,
        trafo_loading_max_pct=v.trafo_loading_max_pct,
        unit_trafo_loading_max_pct=v.unit_trafo_loading_max_pct,
        worst_bus=v.worst_bus,
        worst_line=v.worst_line,
        worst_trafo=v.worst_trafo,
        export_max_kw=v.export_max_kw,
        guard_interventions=v.guard_interventions,
        voltage_violations=v.voltage_violations,
        overload_violations=v.overload_violations,
        added_violations=v.added_violations,
        added_by_element=v.added_by_element,
        grid_margin_pct=v.grid_margin_pct,
        margin_element=v.margin_element,
        park_margin_pct=v.park_margin_pct,
        grid_ok=v.grid_ok,
        grid_flags=v.grid_flags,
        grid_aware=modes[0],
        aware_savings_yuan_per_year=float(np.mean(aw.savings)) if aw else nan,
        aware_savings_yuan_by_year=tuple(aw.savings) if aw else (),
        aware_npv_yuan=aw.metrics.npv_yuan if aw else nan,
        aware_irr=aw.metrics.irr if aw else nan,
        aware_simple_payback_years=aw.metrics.simple_payback_years if aw else nan,
        aware_line_loading_max_pct=aw.verdict.line_loading_max_pct if aw else nan,
        aware_trafo_loading_max_pct=aw.verdict.trafo_loading_max_pct if aw else nan,
        aware_v_min_pu=aw.verdict.v_min_pu if aw else nan,
        aware_added_violations=aw.verdict.added_violations if aw else None,
        aware_added_by_element=aw.verdict.added_by_element if aw else None,
        aware_caused_violations=sum(y.caused_violations for y in aw.years) if aw else None,
        aware_curtailed_kwh_per_year=(
            sum(y.curtailed_kwh for y in aw.years) / (n_days / 365.0) if aw else nan
        ),
        aware_grid_ok=aw.verdict.grid_ok if aw else None,
        aware_grid_flags=aw.verdict.grid_flags if aw else None,
        fits_as_dispatched=fit.fits_as_dispatched,
        fits_grid_aware=fit.fits_grid_aware,
        grid_aware_cost_yuan_per_year=fit.grid_aware_cost_yuan_per_year,
        reinforce_from_year=fit.reinforce_from_year,
        verdict=fit.verdict,
        reinforced_savings_yuan_per_year=float(np.mean(rw.savings)) if rw else nan,
        reinforced_npv_yuan=rw.metrics.npv_yuan if rw else nan,
        reinforced_added_violations=rw.verdict.added_violations if rw else None,
        reinforced_added_by_element=rw.verdict.added_by_element if rw else None,
        reinforced_grid_flags=rw.verdict.grid_flags if rw else None,
        fits_reinforced=rw.verdict.grid_ok if rw else None,
    )


def run_candidate(task: CandidateTask) -> dict:
    """Row of one candidate (the worker's entry point; see `candidate_row`)."""
    return as_row(candidate_row(task))
