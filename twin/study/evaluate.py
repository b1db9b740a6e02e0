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
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from pydantic import Field

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


def _worst(a: np.ndarray, names: tuple[str, ...], lowest: bool = False) -> tuple[float, str]:
    """Extreme value of a (T, n) array over steps and elements, and the element's name."""
    a = np.asarray(a, float)
    if a.size == 0 or not np.isfinite(a).any():
        return math.nan, ""
    per = np.nanmin(a, axis=0) if lowest else np.nanmax(a, axis=0)
    per = np.where(np.isfinite(per), per, np.inf if lowest else -np.inf)
    i = int(np.argmin(per) if lowest else np.argmax(per))
    return float(per[i]), names[i]


def _counts(bad: np.ndarray, names: tuple[str, ...], prefix: str) -> dict[str, int]:
    n = bad.sum(axis=0)
    return {f"{prefix}:{names[i]}": int(n[i]) for i in np.flatnonzero(n)}


def outcome_of(
    result,
    grid,
    network,
    ent_index: int | None,
    units: slice,
    limits: GridLimits,
) -> YearOutcome:
    """One year reduced to a `YearOutcome`.

    `result`: the twin's `RunResult` (savings, SOH, cycles, guards); `grid`: a
    `grid.GridSeries` of the run's own injections (every line, transformer and bus);
    `network`: the `grid.ParkGrid` (element names, which buses the band applies to).
    Watches enterprise `ent_index`'s meter and the units of `units` (the candidate's last).
    """
    s = result.summary
    lo, hi, lim = limits.v_min_pu, limits.v_max_pu, limits.loading_max_pct
    checked = np.asarray(network.checked_bus, bool)
    bus_names = tuple(n for n, c in zip(network.bus_names, checked, strict=True) if c)
    vm = np.asarray(grid.vm_pu, float)[:, checked]
    line = np.asarray(grid.line_loading_pct, float)
    trafo = np.asarray(grid.trafo_loading_pct, float)
    with np.errstate(invalid="ignore"):
        v_bad = (vm < lo) | (vm > hi)
        l_bad = line > lim
        t_bad = trafo > lim
    v_min, v_min_bus = _worst(vm, bus_names, lowest=True)
    v_max, v_max_bus = _worst(vm, bus_names)
    worst_bus = v_min_bus if (1.0 - v_min) >= (v_max - 1.0) else v_max_bus
    l_max, l_name = _worst(line, tuple(network.line_names))
    t_max, t_name = _worst(trafo, tuple(network.trafo_names))
    by_element = {
        **_counts(v_bad, bus_names, "bus"),
        **_counts(l_bad, tuple(network.line_names), "line"),
        **_counts(t_bad, tuple(network.trafo_names), "trafo"),
    }
    extremes = {}
    if vm.shape[0]:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (unsolved)
            for prefix, arr, names in (
                ("line", np.nanmax(line, axis=0), network.line_names),
                ("trafo", np.nanmax(trafo, axis=0), network.trafo_names),
                ("vmin", np.nanmin(vm, axis=0), bus_names),
                ("vmax", np.nanmax(vm, axis=0), bus_names),
            ):
                extremes.update(
                    {f"{prefix}:{n}": float(x) for n, x in zip(names, arr, strict=True) if x == x}
                )
    pcc = np.asarray(grid.pcc_kw, float)
    by_meter = np.zeros(pcc.shape[1])
    if pcc.shape[0]:
        by_meter = np.maximum(-np.nanmin(np.where(np.isfinite(pcc), pcc, 0.0), axis=0), 0.0)
    meters = tuple(network.enterprise_names)
    export = float(by_meter[ent_index]) if ent_index is not None else 0.0
    ut = np.asarray(grid.unit_trafo_loading_pct, float)[:, units]
    soh_end = float(np.mean(np.asarray(s.soh_end_per_unit, float)[units]))
    efc = float(np.mean(np.asarray(s.equivalent_full_cycles_per_unit, float)[units]))
    return YearOutcome(
        savings_yuan=s.savings_yuan_per_year,
        savings_energy_yuan=s.savings_energy_yuan_per_year,
        savings_demand_yuan=s.savings_demand_yuan_per_year,
        soh_end=soh_end,
        efc=efc,
        v_min_pu=v_min,
        v_max_pu=v_max,
        line_loading_max_pct=l_max,
        trafo_loading_max_pct=t_max,
        unit_trafo_loading_max_pct=_worst(ut, tuple(range(ut.shape[1])))[0],
        export_max_kw=export,
        export_by_meter_kw={m: float(x) for m, x in zip(meters, by_meter, strict=True)},
        voltage_violations=int(v_bad.any(axis=1).sum()),
        overload_violations=int((l_bad.any(axis=1) | t_bad.any(axis=1)).sum()),
        violations_by_element=by_element,
        extremes=extremes,
        worst_bus=worst_bus,
        worst_line=l_name,
        worst_trafo=t_name,
        guard_interventions=s.guard_interventions_total,
        run_seconds=s.run_seconds,
    )


def run_year(scenario, initial_state: dict | None):
    """One closed-loop twin run (as `twin.run.run_scenario`) and the power flow of its own
    injections on every element: ``(RunResult, GridSeries, ParkGrid)``."""
    import time

    from twin.engine import Simulation
    from twin.run import collect

    t0 = time.perf_counter()
    sim = Simulation(scenario, initial_state=initial_state)
    sim.run()
    result = collect(sim, t0)
    u, inp = result.series["units"], result.series["inputs"]
    grid = sim.network.run(
        inp["load_kw"], inp["pv_kw"], u["p_ac_kw"] + u["p_aux_kw"], u["q_ac_kvar"]
    )
    return result, grid, sim.network


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
            result, grid, network = run_year(scenario, state)
            state = result.final_state
            out.append(outcome_of(result, grid, network, ent_index, watched, limits))
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
    "violations_by_element_by_year": "json",
    "extremes": "json",
    "export_max_kw_by_meter": "json",
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
        "violations_by_element_by_year": [y.violations_by_element for y in years],
        "extremes": combine_extremes([y.extremes for y in years]),
        "export_max_kw_by_meter": {
            m: max(y.export_by_meter_kw[m] for y in years) for m in years[0].export_by_meter_kw
        },
        "v_min_pu": min(y.v_min_pu for y in years),
        "v_max_pu": max(y.v_max_pu for y in years),
        "line_loading_max_pct": max(y.line_loading_max_pct for y in years),
        "trafo_loading_max_pct": max(y.trafo_loading_max_pct for y in years),
    }


# --- a candidate ----------------------------------------------------------------------------
class StatusQuo(Frozen):
    """What a candidate is compared with: the status quo's years under its strategy."""

    savings_yuan: tuple[float, ...]  # per year
    voltage_violations: tuple[int, ...]  # grid steps, per year
    overload_violations: tuple[int, ...]
    violations_by_element: tuple[dict[str, int], ...] = ()  # per year, see YearOutcome
    extremes: dict[str, float] = Field(default_factory=dict)  # over the years, see YearOutcome
    export_kw: float = 0.0  # largest export at the candidate's meter without it

    @classmethod
    def from_row(cls, row: dict, enterprise: str) -> StatusQuo:
        """From a (typed) status-quo row, for a candidate at `enterprise`."""
        return cls(
            savings_yuan=tuple(float(x) for x in row["savings_yuan_by_year"]),
            voltage_violations=tuple(int(x) for x in row["voltage_violations_by_year"]),
            overload_violations=tuple(int(x) for x in row["overload_violations_by_year"]),
            violations_by_element=tuple(row.get("violations_by_element_by_year") or ()),
            extremes=dict(row.get("extremes") or {}),
            export_kw=float((row.get("export_max_kw_by_meter") or {}).get(enterprise, 0.0)),
        )


class CandidateTask(Frozen):
    """A candidate with everything its worker needs, including the status quo's years."""

    candidate: Candidate
    settings: StudySettings
    finance: Finance
    limits: GridLimits
    e_unit_kwh: float
    p_unit_kw: float
    feeder: str
    reference: StatusQuo

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
    "worst_bus": "str",
    "worst_line": "str",
    "worst_trafo": "str",
    "export_max_kw": "float",
    "guard_interventions": "int",
    "voltage_violations": "int",
    "overload_violations": "int",
    "added_violations": "int",
    "added_by_element": "json",
    "grid_margin_pct": "float",
    "margin_element": "str",
    "park_margin_pct": "float",
    "grid_ok": "bool",
    "grid_flags": "str",
}


def combine_extremes(per_year: list[dict[str, float]]) -> dict[str, float]:
    """Element extremes over several years: the highest loading and vmax, the lowest vmin."""
    out: dict[str, float] = {}
    for ex in per_year:
        for k, v in ex.items():
            if k not in out:
                out[k] = v
            else:
                out[k] = min(out[k], v) if k.startswith("vmin:") else max(out[k], v)
    return out


def element_margin_pct(key: str, value: float, limits: GridLimits) -> float:
    """Headroom of one element extreme, in % of its allowance (see `grid_margin_pct`)."""
    half = (limits.v_max_pu - limits.v_min_pu) / 2.0
    if key.startswith("vmin:"):
        return (value - limits.v_min_pu) / half * 100.0
    if key.startswith("vmax:"):
        return (limits.v_max_pu - value) / half * 100.0
    return limits.loading_max_pct - value


def local_margin(
    mine: dict[str, float],
    ref: dict[str, float],
    limits: GridLimits,
    tol_pct: float = 0.5,
    tol_pu: float = 5e-4,
) -> tuple[float, str]:
    """The tightest headroom over the elements the candidate changes, and which one.

    "Changes": an element new with it (its transformers and buses) or whose extreme moves by
    more than `tol_pct` points of loading or `tol_pu` of voltage: its own feeder, its
    enterprise's buses, its substation section. Without any, the whole park's tightest.
    """
    touched = {
        k: v
        for k, v in mine.items()
        if k not in ref
        or abs(v - ref[k]) > (tol_pu if k.startswith(("vmin:", "vmax:")) else tol_pct)
    }
    pool = touched or mine
    if not pool:
        return math.nan, ""
    key = min(pool, key=lambda k: element_margin_pct(k, pool[k], limits))
    return float(element_margin_pct(key, pool[key], limits)), key


def grid_margin_pct(
    v_min_pu: float, v_max_pu: float, loading_pct: float, limits: GridLimits
) -> float:
    """The tightest headroom, in % of each limit's allowance: 100 % - worst loading for
    lines/transformers, and the voltage's distance to the band edge over the band's
    half-width (0.07 p.u.) x 100. Negative: a limit is broken."""
    half = (limits.v_max_pu - limits.v_min_pu) / 2.0
    v_head = min(v_min_pu - limits.v_min_pu, limits.v_max_pu - v_max_pu) / half * 100.0
    return float(min(v_head, limits.loading_max_pct - loading_pct))


TOL_LOADING_PCT = 0.5  # an element's worst loading moved by more than this: the candidate's doing
TOL_V_PU = 5e-4  # the same for a bus voltage


def _worse(key: str, mine: dict[str, float], ref: dict[str, float]) -> bool:
    """True when the element of a violation key ("bus:X", "line:X", "trafo:X") is new with
    the candidate or its worst value got materially worse than the status quo's."""
    kind, name = key.split(":", 1)
    if kind == "bus":
        lo, hi = mine.get(f"vmin:{name}"), mine.get(f"vmax:{name}")
        if f"vmin:{name}" not in ref:
            return True
        return (lo is not None and lo < ref[f"vmin:{name}"] - TOL_V_PU) or (
            hi is not None and hi > ref[f"vmax:{name}"] + TOL_V_PU
        )
    if key not in ref:
        return True
    return mine.get(key, -math.inf) > ref[key] + TOL_LOADING_PCT


def added_by_element(
    mine: dict[str, int],
    ref: dict[str, int],
    mine_extremes: dict[str, float] | None = None,
    ref_extremes: dict[str, float] | None = None,
) -> dict[str, int]:
    """Steps each element is broken beyond the status quo (> 0 entries only).

    With the extremes given, an element counts only where the candidate made its worst
    value materially worse (`TOL_LOADING_PCT`, `TOL_V_PU`) or brought it (its own
    transformers): a feeder already at its limit that the candidate moves by a hair, in a
    section it shares, is not the candidate's doing.
    """
    out = {e: n - ref.get(e, 0) for e, n in mine.items()}
    out = {e: n for e, n in out.items() if n > 0}
    if mine_extremes is not None and ref_extremes is not None:
        out = {e: n for e, n in out.items() if _worse(e, mine_extremes, ref_extremes)}
    return out


def grid_verdict(
    years: list[YearOutcome],
    reference: StatusQuo,
    limits: GridLimits,
    export_tolerance_kw: float = 1.0,
) -> dict[str, Any]:
    """Worst values over the years, the grid margins, and the flags: what the candidate breaks.

    A violation is the candidate's when it breaks an element in more steps than the status
    quo and makes that element's worst value materially worse (`added_by_element`).
    ``grid_margin_pct`` is the tightest headroom on the elements the candidate changes
    (`local_margin`), ``park_margin_pct`` the whole park's (`grid_margin_pct`).

    The park may break a limit without any candidate (loads grow 24.5 %/yr; the existing
    storage charges at night), so the comparison is element by element, year by year, with
    the status quo: ``voltage`` when a bus is outside the band in more steps than without
    the candidate, ``overload`` when a line or transformer (its own step-up transformers
    included) is above its rating in more steps, ``export`` when its meter exports more than
    without it (anti-backflow failed). `added_violations` sums those extra element-steps.
    The worst values are absolute (what the engineer will see on the feeders).
    """
    refs = list(reference.violations_by_element) + [{}] * len(years)
    mine = combine_extremes([y.extremes for y in years])
    added: dict[str, int] = {}
    for y, ref in zip(years, refs, strict=False):
        steps = added_by_element(y.violations_by_element, ref, mine, reference.extremes)
        for e, n in steps.items():
            added[e] = added.get(e, 0) + n
    worst = max(years, key=lambda y: max(y.line_loading_max_pct, y.trafo_loading_max_pct))
    w = {
        "v_min_pu": min(y.v_min_pu for y in years),
        "v_max_pu": max(y.v_max_pu for y in years),
        "line_loading_max_pct": max(y.line_loading_max_pct for y in years),
        "trafo_loading_max_pct": max(y.trafo_loading_max_pct for y in years),
        "unit_trafo_loading_max_pct": max(y.unit_trafo_loading_max_pct for y in years),
        "worst_line": max(years, key=lambda y: y.line_loading_max_pct).worst_line,
        "worst_trafo": max(years, key=lambda y: y.trafo_loading_max_pct).worst_trafo,
        "worst_bus": worst.worst_bus,
        "export_max_kw": max(y.export_max_kw for y in years),
        "guard_interventions": sum(y.guard_interventions for y in years),
        "voltage_violations": sum(y.voltage_violations for y in years),
        "overload_violations": sum(y.overload_violations for y in years),
        "added_violations": int(sum(added.values())),
        "added_by_element": dict(sorted(added.items(), key=lambda kv: -kv[1])[:10]),
    }
    loading = max(w["line_loading_max_pct"], w["trafo_loading_max_pct"])
    w["park_margin_pct"] = grid_margin_pct(w["v_min_pu"], w["v_max_pu"], loading, limits)
    w["grid_margin_pct"], w["margin_element"] = local_margin(mine, reference.extremes, limits)
    flags = []
    if any(e.startswith("bus:") for e in added):
        flags.append("voltage")
    if any(e.startswith(("line:", "trafo:")) for e in added):
        flags.append("overload")
    if w["export_max_kw"] > max(reference.export_kw, 0.0) + export_tolerance_kw:
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
    ref = list(task.reference.savings_yuan)
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
        # the candidate's units start new; per calendar year even when --days cut the years
        "efc_per_year": years[-1].efc / (len(years) * task.settings.days / 365.0),
    }
    row.update(grid_verdict(years, task.reference, task.limits))
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
    "status_quo_violations": "int",
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
    base_bad = sum(base.violations_by_element.values())
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
        added = added_by_element(
            y.violations_by_element, base.violations_by_element, y.extremes, base.extremes
        )
        why = []
        if "voltage" in h.limits and any(e.startswith("bus:") for e in added):
            why.append("voltage")
        if "overload" in h.limits and any(e.startswith(("line:", "trafo:")) for e in added):
            worst = max((e for e in added if not e.startswith("bus:")), key=added.get)
            why.append(f"overload ({worst.split(':', 1)[1]})")
        if "export" in h.limits and y.export_max_kw > base.export_max_kw + h.export_tolerance_kw:
            why.append("export")
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
        "status_quo_violations": base_bad,
        "probes": [[size, ok, reasons.get(size, "")] for size, ok in b.probes],
    }
