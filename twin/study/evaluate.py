"""What runs on a worker: a candidate's years of closed-loop twin runs, the status quo, hosting.

Every task here is a frozen, picklable model with a stable ``key`` and a module-level
function that turns it into one result row, so the same objects run in a local process
or on a Dask worker unchanged.

A simulated year k (k = 0, 1, ...) is one `twin.run.run_scenario` of the whole park (all
its existing storage plus the candidate's) from ``start + k years``. The enterprises'
loads are grown by ``(1 + g)^k`` (their annual energy and peak; the twin grows them on
within the year) and the fleet starts from the previous year's final state, so the cells
age from year to year. The twin runs one strategy over the whole park, so a candidate is
compared with the status quo (the park without it) under the same strategy: the
difference of the two is what the added storage earns and what it does to the feeders.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from parktwin.config import Frozen
from parktwin.errors import InputError
from twin.study.bisect import bisect_largest
from twin.study.candidates import Candidate, stable_key
from twin.study.finance import capex, metrics, project
from twin.study.model import Finance, HostingSettings, StudySettings

CANDIDATE_GROUP = "study-candidate"  # the candidate's storage group name in the site


class GridLimits(Frozen):
    """Limits a candidate's grid margin is measured against (default: the twin's own,
    ``twin/data/first_project.toml`` [limits], with their sources)."""

    v_min_pu: float
    v_max_pu: float
    loading_max_pct: float
    voltage_source: str = ""
    loading_source: str = ""


@functools.cache
def default_limits() -> GridLimits:
    from twin.assumptions import assumptions

    lim = assumptions().limits
    return GridLimits(
        v_min_pu=lim.voltage_min_pu,
        v_max_pu=lim.voltage_max_pu,
        loading_max_pct=lim.loading_max_pct,
        voltage_source=lim.voltage_source,
        loading_source=lim.loading_source,
    )


# --- the park of year k -------------------------------------------------------------------
@functools.cache
def _base_site(path: Path | None):
    from grid import default_site, load_site

    return load_site(path) if path is not None else default_site()


def grown_site(site, factor: float):
    """`site` with every enterprise's annual energy and peak scaled by `factor`."""
    ents = tuple(
        e.model_copy(update={"annual_mwh": e.annual_mwh * factor, "peak_kw": e.peak_kw * factor})
        for e in site.enterprises
    )
    return site.model_copy(update={"enterprises": ents})


def _site_file(site, folder: Path) -> Path:
    path = folder / "site.toml"
    path.write_text(tomli_w.dumps(site.model_dump(mode="json", exclude_none=True)), "utf-8")
    return path


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
@dataclass(frozen=True)
class YearOutcome:
    """What a study keeps of one simulated year (of the whole park)."""

    savings_yuan: float  # the park's hosts, with storage vs without, per year
    savings_energy_yuan: float
    savings_demand_yuan: float
    soh_end: float  # mean over the watched units (NaN if none)
    efc: float  # equivalent full cycles of the watched units since new, at the year's end
    v_min_pu: float
    v_max_pu: float
    line_loading_max_pct: float
    trafo_loading_max_pct: float
    unit_trafo_loading_max_pct: float  # the watched units' step-up transformers
    export_max_kw: float  # at the watched enterprise's meter (>= 0; 0 = never exported)
    voltage_violations: int  # grid steps outside [v_min_pu, v_max_pu]
    overload_violations: int  # grid steps with a line or transformer above loading_max_pct
    guard_interventions: int
    run_seconds: float


def _num(summary: dict, *names: str, default: float = math.nan) -> float:
    for n in names:
        if n in summary and summary[n] is not None:
            v = summary[n]
            if isinstance(v, dict):
                return float(sum(v.values()))
            return float(v)
    return default


def _nanmax(a: np.ndarray) -> float:
    a = np.asarray(a, float)
    return float(np.nanmax(a)) if a.size and np.isfinite(a).any() else math.nan


def _nanmin(a: np.ndarray) -> float:
    a = np.asarray(a, float)
    return float(np.nanmin(a)) if a.size and np.isfinite(a).any() else math.nan


def outcome_of(result, ent_index: int | None, units: slice, limits: GridLimits) -> YearOutcome:
    """A `twin.run.RunResult` reduced to a `YearOutcome`, watching one enterprise's meter and
    the units of `units` (the twin's unit order: the candidate's are last)."""
    s = result.summary
    series = result.series
    park, meters, unit = series["park"], series["meters"], series["units"]
    vmin, vmax = np.asarray(park["v_min_pu"], float), np.asarray(park["v_max_pu"], float)
    line = np.asarray(park["line_loading_max_pct"], float)
    trafo = np.asarray(park["trafo_loading_max_pct"], float)
    solved = np.isfinite(vmin)
    v_bad = solved & ((vmin < limits.v_min_pu) | (vmax > limits.v_max_pu))
    o_bad = solved & ((line > limits.loading_max_pct) | (trafo > limits.loading_max_pct))
    export = 0.0
    if ent_index is not None:
        pcc = np.asarray(meters["pcc_kw"], float)[:, ent_index]
        export = max(0.0, -_nanmin(pcc)) if pcc.size else 0.0
    soh = np.asarray(unit["soh"], float)[:, units]
    if "soh_end_per_unit" in s:
        soh_end = float(np.mean(np.asarray(s["soh_end_per_unit"], float)[units]))
    else:
        soh_end = float(np.nanmean(soh[-1])) if soh.size else math.nan
    efc = math.nan
    if "equivalent_full_cycles_per_unit" in s:
        efc = float(np.mean(np.asarray(s["equivalent_full_cycles_per_unit"], float)[units]))
    ut = np.asarray(unit["unit_trafo_loading_pct"], float)[:, units]
    return YearOutcome(
        savings_yuan=_num(s, "savings_yuan_per_year"),
        savings_energy_yuan=_num(s, "savings_energy_yuan_per_year"),
        savings_demand_yuan=_num(s, "savings_demand_yuan_per_year"),
        soh_end=soh_end,
        efc=efc,
        v_min_pu=_nanmin(vmin),
        v_max_pu=_nanmax(vmax),
        line_loading_max_pct=_nanmax(line),
        trafo_loading_max_pct=_nanmax(trafo),
        unit_trafo_loading_max_pct=_nanmax(ut) if ut.size else math.nan,
        export_max_kw=export,
        voltage_violations=int(v_bad.sum()),
        overload_violations=int(o_bad.sum()),
        guard_interventions=int(_num(s, "guard_interventions", default=0.0)),
        run_seconds=_num(s, "run_seconds"),
    )


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
) -> list[YearOutcome]:
    """Closed-loop twin runs of the park (+ `extra` storage groups), one per simulated year,
    aging carried; outcomes watch `enterprise`'s meter and the extra groups' units."""
    from twin.run import run_scenario
    from twin.scenario import Scenario

    limits = limits or default_limits()
    base = _base_site(settings.site)
    names = [e.name for e in base.enterprises]
    ent_index = names.index(enterprise) if enterprise is not None else None
    n_extra = sum(g.count for g in extra)
    watched = slice(-n_extra, None) if n_extra else slice(0, None)
    start = start or settings.start
    out: list[YearOutcome] = []
    state = None
    with tempfile.TemporaryDirectory(prefix="parktwin-study-") as tmp:
        for k in range(first_year, first_year + (years or settings.years)):
            growth = (1.0 + settings.load_growth_per_year) ** k
            site_path = _site_file(grown_site(base, growth), Path(tmp))
            scenario = Scenario(
                site=site_path,
                extra_storage=tuple(extra),
                start=year_start(start, k - first_year),
                days=days or settings.days,
                step_s=settings.step_s,
                strategy=strategy,
                strategy_params=dict(settings.strategy_params),
                seed=settings.seed,
                load_growth_per_year=settings.load_growth_per_year,
            )
            result = run_scenario(scenario, out_dir=None, progress=False, initial_state=state)
            state = result.final_state
            out.append(outcome_of(result, ent_index, watched, limits))
    return out


# --- the status quo -------------------------------------------------------------------------
class ReferenceTask(Frozen):
    """The park as it is (no candidate) under `strategy`, over the study's years."""

    settings: StudySettings
    strategy: str

    @property
    def key(self) -> str:
        return "status-quo-" + stable_key({"strategy": self.strategy})

    def identity(self) -> dict:
        return {"strategy": self.strategy}


REFERENCE_COLUMNS = {
    "strategy": "str",
    "savings_yuan_by_year": "json",
    "voltage_violations_by_year": "json",
    "overload_violations_by_year": "json",
    "v_min_pu": "float",
    "v_max_pu": "float",
    "line_loading_max_pct": "float",
    "trafo_loading_max_pct": "float",
}


def run_reference(task: ReferenceTask) -> dict:
    """Row of the status quo: per-year savings and violation counts of the existing park."""
    years = simulate_years(task.settings, task.strategy)
    return {
        "strategy": task.strategy,
        "savings_yuan_by_year": [y.savings_yuan for y in years],
        "voltage_violations_by_year": [y.voltage_violations for y in years],
        "overload_violations_by_year": [y.overload_violations for y in years],
        "v_min_pu": min(y.v_min_pu for y in years),
        "v_max_pu": max(y.v_max_pu for y in years),
        "line_loading_max_pct": max(y.line_loading_max_pct for y in years),
        "trafo_loading_max_pct": max(y.trafo_loading_max_pct for y in years),
    }


# --- a candidate ----------------------------------------------------------------------------
class CandidateTask(Frozen):
    """A candidate with everything its worker needs, including the status quo's years."""

    candidate: Candidate
    settings: StudySettings
    finance: Finance
    limits: GridLimits
    e_unit_kwh: float
    p_unit_kw: float
    feeder: str
    reference_savings_yuan: tuple[float, ...]
    reference_violations: tuple[int, ...]  # voltage + overload steps of the status quo, per year

    @property
    def key(self) -> str:
        return self.candidate.key

    def identity(self) -> dict:
        return {**self.candidate.model_dump(), "label": self.candidate.label, "feeder": self.feeder}


CANDIDATE_COLUMNS = {
    "label": "str",
    "enterprise": "str",
    "feeder": "str",
    "unit_type": "str",
    "units": "int",
    "pcs_kva": "float",
    "trafo_kva": "float",
    "strategy": "str",
    "e_kwh": "float",
    "p_kw": "float",
    "savings_yuan_per_year": "float",
    "savings_energy_yuan_per_year": "float",
    "savings_demand_yuan_per_year": "float",
    "savings_yuan_by_year": "json",
    "capex_yuan": "float",
    "opex_yuan_per_year": "float",
    "npv_yuan": "float",
    "irr": "float",
    "simple_payback_years": "float",
    "discounted_payback_years": "float",
    "soh_end": "float",
    "soh_by_year": "json",
    "efc_per_year": "float",
    "v_min_pu": "float",
    "v_max_pu": "float",
    "line_loading_max_pct": "float",
    "trafo_loading_max_pct": "float",
    "unit_trafo_loading_max_pct": "float",
    "export_max_kw": "float",
    "guard_interventions": "int",
    "voltage_violations": "int",
    "overload_violations": "int",
    "added_violations": "int",
    "grid_margin_pct": "float",
    "grid_ok": "bool",
    "grid_flags": "str",
}


def grid_margin_pct(
    v_min_pu: float, v_max_pu: float, loading_pct: float, limits: GridLimits
) -> float:
    """The tightest headroom, in % of each limit's allowance: 100 % - worst loading for
    lines/transformers, and the voltage's distance to the band edge over the band's
    half-width (0.07 p.u.) x 100. Negative: a limit is broken."""
    half = (limits.v_max_pu - limits.v_min_pu) / 2.0
    v_head = min(v_min_pu - limits.v_min_pu, limits.v_max_pu - v_max_pu) / half * 100.0
    return float(min(v_head, limits.loading_max_pct - loading_pct))


def grid_verdict(
    years: list[YearOutcome], reference_violations: tuple[int, ...], limits: GridLimits
) -> dict[str, Any]:
    """Worst values over the years, the margin, and the flags (what the candidate breaks).

    A flag is raised for a limit the candidate breaks (even if the status quo breaks it
    too, because load grows), export at its meter (anti-backflow failed), and
    `added_violations` counts the grid steps broken beyond the status quo's.
    """
    w = {
        "v_min_pu": min(y.v_min_pu for y in years),
        "v_max_pu": max(y.v_max_pu for y in years),
        "line_loading_max_pct": max(y.line_loading_max_pct for y in years),
        "trafo_loading_max_pct": max(y.trafo_loading_max_pct for y in years),
        "unit_trafo_loading_max_pct": max(y.unit_trafo_loading_max_pct for y in years),
        "export_max_kw": max(y.export_max_kw for y in years),
        "guard_interventions": sum(y.guard_interventions for y in years),
        "voltage_violations": sum(y.voltage_violations for y in years),
        "overload_violations": sum(y.overload_violations for y in years),
    }
    mine = [y.voltage_violations + y.overload_violations for y in years]
    ref = list(reference_violations) + [0] * (len(mine) - len(reference_violations))
    w["added_violations"] = int(sum(max(0, a - b) for a, b in zip(mine, ref, strict=False)))
    loading = max(w["line_loading_max_pct"], w["trafo_loading_max_pct"])
    w["grid_margin_pct"] = grid_margin_pct(w["v_min_pu"], w["v_max_pu"], loading, limits)
    flags = []
    if w["v_min_pu"] < limits.v_min_pu:
        flags.append("undervoltage")
    if w["v_max_pu"] > limits.v_max_pu:
        flags.append("overvoltage")
    if w["line_loading_max_pct"] > limits.loading_max_pct:
        flags.append("line")
    if w["trafo_loading_max_pct"] > limits.loading_max_pct:
        flags.append("trafo")
    if w["export_max_kw"] > 1.0:
        flags.append("export")
    w["grid_flags"] = ";".join(flags)
    w["grid_ok"] = not flags
    return w


def run_candidate(task: CandidateTask) -> dict:
    """Row of one candidate: incremental savings over the status quo, finance, grid verdict."""
    c = task.candidate
    fin = task.finance
    start_year = task.settings.start.year
    years = simulate_years(
        task.settings,
        c.strategy,
        extra=(candidate_group(c, start_year),),
        enterprise=c.enterprise,
        limits=task.limits,
    )
    ref = list(task.reference_savings_yuan)
    if len(ref) != len(years):
        raise InputError("the status quo has a different number of years than the candidate")
    savings = [y.savings_yuan - r for y, r in zip(years, ref, strict=True)]
    # The energy/demand split of the increment is taken from the candidate's run minus the
    # reference in proportion: the reference stores totals only.
    tot = [y.savings_yuan for y in years]
    share_e = [
        y.savings_energy_yuan / t if t else math.nan for y, t in zip(years, tot, strict=True)
    ]
    e_kwh = c.units * task.e_unit_kwh
    cap = capex(fin, e_kwh, c.units * c.pcs_kva, c.units * c.trafo_kva)
    sohs = [y.soh_end for y in years]
    proj = project(fin, cap, savings, sohs)
    m = metrics(fin, proj)
    mean_savings = float(np.mean(savings))
    energy = float(np.nanmean([s * f for s, f in zip(savings, share_e, strict=True)]))
    row = {
        "label": c.label,
        "enterprise": c.enterprise,
        "feeder": task.feeder,
        "unit_type": c.unit_type,
        "units": c.units,
        "pcs_kva": c.pcs_kva,
        "trafo_kva": c.trafo_kva,
        "strategy": c.strategy,
        "e_kwh": e_kwh,
        "p_kw": c.units * task.p_unit_kw,
        "savings_yuan_per_year": mean_savings,
        "savings_energy_yuan_per_year": energy,
        "savings_demand_yuan_per_year": mean_savings - energy,
        "savings_yuan_by_year": savings,
        "capex_yuan": cap.total_yuan,
        "opex_yuan_per_year": fin.opex_pct_of_capex_per_year / 100.0 * cap.total_yuan,
        **asdict(m),
        "soh_end": sohs[-1],
        "soh_by_year": sohs,
        "efc_per_year": years[-1].efc / len(years),  # the candidate's units start new
    }
    row.update(grid_verdict(years, task.reference_violations, task.limits))
    return row


# --- hosting capacity -------------------------------------------------------------------------
class HostingTask(Frozen):
    """Bisection over the number of units behind one enterprise (see `HostingSettings`)."""

    enterprise: str
    feeder: str
    hosting: HostingSettings
    settings: StudySettings
    limits: GridLimits
    pcs_kva: float
    trafo_kva: float
    e_unit_kwh: float
    p_unit_kw: float

    @property
    def key(self) -> str:
        return "hosting-" + stable_key({"enterprise": self.enterprise})

    def identity(self) -> dict:
        return {
            "enterprise": self.enterprise,
            "feeder": self.feeder,
            "unit_type": self.hosting.unit_type,
            "max_units": self.hosting.max_units,
        }


HOSTING_COLUMNS = {
    "enterprise": "str",
    "feeder": "str",
    "unit_type": "str",
    "pcs_kva": "float",
    "trafo_kva": "float",
    "max_units": "int",
    "largest_ok_units": "int",
    "first_bad_units": "int",
    "hosting_mw": "float",
    "hosting_mwh": "float",
    "at_least": "bool",
    "limited_by": "str",
    "status_quo_bad_steps": "int",
    "probes": "json",
}


def run_hosting(task: HostingTask) -> dict:
    """Row of one enterprise bus: the most units with no limit broken beyond the status quo."""
    h = task.hosting
    start = h.start or task.settings.start
    kw = {
        "years": 1,
        "start": start,
        "days": h.days,
        "first_year": h.year,
        "limits": task.limits,
        "enterprise": task.enterprise,
    }
    base = simulate_years(task.settings, h.strategy, **kw)[0]
    base_bad = base.voltage_violations + base.overload_violations
    reasons: dict[int, str] = {}

    def passes(n: int) -> bool:
        c = Candidate(
            enterprise=task.enterprise,
            unit_type=h.unit_type,
            units=n,
            pcs_kva=task.pcs_kva,
            trafo_kva=task.trafo_kva,
            strategy=h.strategy,
        )
        y = simulate_years(
            task.settings, h.strategy, extra=(candidate_group(c, start.year),), **kw
        )[0]
        why = []
        if y.voltage_violations > base.voltage_violations:
            why.append("voltage")
        if y.overload_violations > base.overload_violations:
            why.append("loading")
        if y.export_max_kw > h.export_tolerance_kw:
            why.append("export")
        if y.unit_trafo_loading_max_pct > task.limits.loading_max_pct:
            why.append("unit trafo")
        reasons[n] = ";".join(why)
        return not why

    b = bisect_largest(passes, 0, h.max_units)
    n = b.largest_ok
    return {
        "enterprise": task.enterprise,
        "feeder": task.feeder,
        "unit_type": h.unit_type,
        "pcs_kva": task.pcs_kva,
        "trafo_kva": task.trafo_kva,
        "max_units": h.max_units,
        "largest_ok_units": n,
        "first_bad_units": b.first_bad,
        "hosting_mw": n * task.p_unit_kw / 1000.0,
        "hosting_mwh": n * task.e_unit_kwh / 1000.0,
        "at_least": b.first_bad is None,
        "limited_by": reasons.get(b.first_bad, "") if b.first_bad is not None else "",
        "status_quo_bad_steps": base_bad,
        "probes": [[size, ok, reasons.get(size, "")] for size, ok in b.probes],
    }
