"""`run_scenario`: one twin run from scenario to KPIs, and (optionally) its output folder.

Output folder: ``summary.json`` (KPIs, the comparison with the published figures, the
assumptions), ``units/<unit>.parquet`` and ``meters/<meter>.parquet`` (time series),
``park.parquet`` (voltages, loadings, losses), ``monthly_savings.parquet``, and PNG
figures (see `twin.figures`). The folder is written as one unit (`parktwin.files.staged_dir`:
a staging folder beside it, swapped in at the end), so it never mixes two runs and an
interrupted run leaves the previous one as it was; ``summary.json``'s ``run`` names the run
(`Scenario.identity`: scenario hash, version, seed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parktwin.files import atomic_path, staged_dir, write_json
from parktwin.limits import overloaded, voltage_outside
from twin.assumptions import assumptions
from twin.economics import HostBills, host_bills
from twin.engine import Simulation
from twin.recorder import INTERVAL_FIELD, GridExtremes
from twin.report import published_note
from twin.scenario import Scenario
from twin.summary import (
    FaultRecord,
    GridGuardStats,
    PublishedComparison,
    PublishedFigure,
    RealtimeStats,
    RunSummary,
)


@dataclass
class RunResult:
    """KPIs, final fleet state (to carry aging on) and recorded series of one run."""

    scenario: Scenario
    summary: RunSummary
    final_state: dict
    series: dict
    unit_names: tuple[str, ...]
    meter_names: tuple[str, ...]
    bills: list[HostBills] = field(default_factory=list)
    monthly: list[dict] = field(default_factory=list)
    grid: GridExtremes | None = None  # each element's extremes over the run's grid solves


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    progress: bool = False,
    initial_state: dict | None = None,
    sensitivity: bool = False,
) -> RunResult:
    """Run `scenario` to its end; write the output folder if `out_dir` is given.

    `sensitivity` adds the table of variants (`twin.sensitivity`) to the summary."""
    t0 = time.perf_counter()
    sim = Simulation(scenario, progress=progress, initial_state=initial_state)
    sim.run()
    result = collect(sim, t0)
    if sensitivity:
        from twin.sensitivity import sensitivity as table

        summary = dataclasses.replace(result.summary, sensitivity=table(scenario))
        result = dataclasses.replace(result, summary=summary)
    if out_dir is not None:
        write_outputs(result, Path(out_dir))
    return result


def collect(sim: Simulation, t0: float | None = None) -> RunResult:
    """KPIs of a finished (or stopped) simulation, against its no-storage reference (solved
    during the run, `twin.reference`; a stopped run's last rows are solved here)."""
    sc, lay, inp = sim.scenario, sim.layout, sim.inputs
    rows = sim.recorder.rows
    sim.reference.finish(rows)
    rec = sim.recorder.trimmed()
    units, meters, park = rec["units"], rec["meters"], rec["park"]
    load, pv = inp.load_kw[:rows], inp.pv_kw[:rows]
    pcc_without = meters.pop("pcc_without_storage_kw")
    q_without = meters.pop("pcc_without_storage_kvar")
    # with a grid period longer than the plant interval the meters were held between
    # solves: bill on every interval's own solve
    pcc_with = meters.pop(INTERVAL_FIELD, meters["pcc_kw"])
    hosts = lay.hosts
    # The power-factor adjustment needs the loads' reactive power: only the feeder model
    # has it, and only on every interval's own solve.
    feeders = sc.network == "feeders" and sc.grid_every == sc.plant_every
    q_with = meters["pcc_kvar"] if feeders else None
    bills = host_bills(
        lay.enterprise_names,
        hosts,
        sim.billing,
        pcc_without,
        pcc_with,
        inp.start,
        inp.interval_s,
        notices=sim.notices,
        scheme=sim.scheme,
        pcc_without_kvar=q_without if q_with is not None else None,
        pcc_with_kvar=q_with,
    )
    days = rows * inp.interval_s / 86400.0
    per_year = 365.0 / days if days > 0 else 0.0
    a = assumptions()
    lim = sim.wiring.limits
    e_in = units["e_ac_in_kwh"].sum(axis=0)
    e_out = units["e_ac_out_kwh"].sum(axis=0)
    e_aux = units["e_aux_kwh"].sum(axis=0)
    e_nom = sim.park_info.e_nom_kwh
    price = inp.price_yuan_per_kwh[:rows]
    export_with = np.maximum(-pcc_with[:, hosts], 0.0).max() if rows else 0.0
    export_without = np.maximum(-pcc_without[:, hosts], 0.0).max() if rows else 0.0
    # intervals (not solves: a held solve counts each interval it stands for)
    v_bad = voltage_outside(park["v_min_pu"], lim) | voltage_outside(park["v_max_pu"], lim)
    overload = overloaded(park["line_loading_max_pct"], lim) | overloaded(
        park["trafo_loading_max_pct"], lim
    )
    unit_trafo_over = overloaded(units["unit_trafo_loading_pct"], lim)
    energy_sav = sum(b.energy_savings_yuan for b in bills)
    demand_sav = sum(b.demand_savings_yuan for b in bills)
    pf_sav = sum(b.pf_savings_yuan for b in bills)
    # The basic charge is paid per calendar month whatever part of it the run covers: it is
    # scaled to a year by months (x 12 / months touched), the energy part by days.
    n_months = len(bills[0].without.months) if bills else 0
    per_year_demand = 12.0 / n_months if n_months else 0.0
    final = sim.fleet.save_state()
    # Round trip over the run, corrected for the energy left in (or taken from) the batteries:
    # the change in stored energy counts as the AC output it would give (or gave), at the
    # planning one-way efficiency.
    eta = a.economics.one_way_efficiency
    d_stored = float(np.sum(sim.fleet.e_stored_kwh - sim.e_stored0_kwh))
    rte = efficiency_at_boundaries(
        units, pcc_with[:, hosts] - pcc_without[:, hosts], inp.start, inp.interval_s, d_stored, eta
    )
    summary = RunSummary(
        scenario=sc,
        days=days,
        intervals=rows,
        interval_s=inp.interval_s,
        unit_names=tuple(lay.unit_names),
        host_names=tuple(lay.enterprise_names[e] for e in hosts),
        nameplate_kwh=float(e_nom.sum()),
        basic_charge=sim.basic_charge,
        strategy=sc.strategy,
        charge_kwh_per_day=float(e_in.sum() / days) if days else 0.0,
        discharge_kwh_per_day=float(e_out.sum() / days) if days else 0.0,
        aux_kwh_per_day=float(e_aux.sum() / days) if days else 0.0,
        savings_yuan_per_year=(energy_sav + pf_sav) * per_year + demand_sav * per_year_demand,
        savings_energy_yuan_per_year=energy_sav * per_year,
        savings_demand_yuan_per_year=demand_sav * per_year_demand,
        savings_power_factor_yuan_per_year=pf_sav * per_year,
        billing={
            lay.enterprise_names[e]: {
                k: v for k, v in dataclasses.asdict(t).items() if v is not None
            }
            for e, t in sim.billing.items()
        },
        tariff_schemes=(
            (sim.scheme.name,)
            if sim.scheme
            else tuple(tariff_schemes_used(inp.start, rows, inp.interval_s))
        ),
        agency_prices=sim.notices.source if sim.notices is not None else "",
        gross_discharge_value_yuan_per_year=float(
            (units["e_ac_out_kwh"].sum(axis=1) * price).sum() * per_year
        ),
        bill_without_storage_yuan_per_year=(
            sum(b.without.energy_yuan + b.without.pf_adjustment_yuan for b in bills) * per_year
            + sum(b.without.demand_yuan for b in bills) * per_year_demand
        ),
        equivalent_full_cycles=float(np.mean(sim.fleet.efc)),
        equivalent_full_cycles_per_unit=tuple(float(x) for x in sim.fleet.efc),
        equivalent_full_cycles_per_year=float(np.mean(sim.fleet.efc)) * per_year,
        comparable_project={
            "equivalent_full_cycles_per_year": a.comparable.equivalent_full_cycles_per_year,
            "source": a.comparable.source,
        },
        availability=_availability(sim),
        soh_end=float(np.mean(sim.fleet.soh)),
        soh_end_per_unit=tuple(float(x) for x in sim.fleet.soh),
        round_trip_efficiency=rte["round_trip_efficiency"],
        round_trip_efficiency_with_aux=rte["round_trip_efficiency_with_aux"],
        round_trip_efficiency_at_meter=rte["round_trip_efficiency_at_meter"],
        round_trip_efficiency_at_meter_with_aux=rte["round_trip_efficiency_at_meter_with_aux"],
        round_trip_efficiency_by_season=rte["round_trip_efficiency_by_season"],
        stored_energy_change_kwh=d_stored,
        max_export_kw=float(export_with),
        max_export_kw_without_storage=float(export_without),
        export_intervals=int((pcc_with[:, hosts] < -1e-6).any(axis=1).sum()),
        guard_interventions=sim.guard_report(),
        voltage_violations=int(v_bad.sum()),
        overload_violations=int(overload.sum() + unit_trafo_over.any(axis=1).sum()),
        v_min_pu=float(np.nanmin(park["v_min_pu"])) if rows else math.nan,
        v_max_pu=float(np.nanmax(park["v_max_pu"])) if rows else math.nan,
        line_loading_max_pct=float(np.nanmax(park["line_loading_max_pct"])) if rows else 0.0,
        trafo_loading_max_pct=float(np.nanmax(park["trafo_loading_max_pct"])) if rows else 0.0,
        power_flow_solves=sim.n_solves,
        faults=tuple(FaultRecord(t, event, unit) for t, event, unit in sim.fault_log),
        published=_published(sim, units, bills, days, per_year, per_year_demand),
        assumptions={
            "basic_charge": a.economics.basic_charge_source,
            "planning_efficiency": a.economics.one_way_efficiency_source,
            "operating_days": a.economics.operating_days_note,
            "prices_and_charges": "profiles/data/tariff_zj_*.toml (each table with its source)",
            "voltage_limits": lim.voltage_source,
        },
        run_seconds=(time.perf_counter() - t0) if t0 is not None else sim.wall_s,
        realtime=(
            RealtimeStats(sim.realtime_speed, sim.max_lag_s, sim.intervals_behind)
            if sim.realtime_speed
            else None
        ),
        grid_guard=(
            GridGuardStats(
                interventions=sim.grid_guard.interventions,
                zeroed=sim.grid_guard.zeroed,
                curtailed_kwh=sim.grid_guard_curtailed_kwh,
                caused_violations=sim.reference.caused_violations,
                probes=sim.grid_guard.probes,
            )
            if sim.grid_guard is not None
            else None
        ),
    )
    pub_group = assumptions().published.storage_group
    techs = {
        p.technology
        for p, n in zip(sim.layout.unit_params, sim.layout.unit_names, strict=True)
        if n.rsplit("-", 1)[0] == pub_group
    }
    technology = techs.pop() if len(techs) == 1 else "lfp"
    summary = dataclasses.replace(summary, note=tuple(published_note(summary, technology)))
    monthly = []
    for b in bills:
        for row in b.monthly_savings():
            monthly.append({"enterprise": b.enterprise, **row})
    series = {
        "time": np.datetime64(inp.start, "ms")
        + (np.arange(rows) * inp.interval_s * 1000).astype("timedelta64[ms]"),
        "units": units,
        "meters": {**meters, "pcc_without_storage_kw": pcc_without},
        "park": park,
        "inputs": {
            "load_kw": load,
            "pv_kw": pv,
            "ambient_c": inp.ambient_c[:rows],
            "price_yuan_per_kwh": price,
            "period": inp.period[:rows],
        },
    }
    return RunResult(
        scenario=sc,
        summary=summary,
        final_state=final,
        series=series,
        unit_names=lay.unit_names,
        meter_names=lay.enterprise_names,
        bills=bills,
        monthly=monthly,
        grid=sim.recorder.grid_extremes(),
    )


def _published(
    sim: Simulation,
    units: dict,
    bills: list,
    days: float,
    per_year: float,
    per_year_demand: float,
) -> PublishedComparison | None:
    """The twin's figures for the first project beside the published ones (if it is here)."""
    pub = assumptions().published
    names = sim.layout.unit_names
    idx = [i for i, n in enumerate(names) if n.rsplit("-", 1)[0] == pub.storage_group]
    host = [b for b in bills if b.enterprise == pub.enterprise]
    if not idx or not host or days <= 0:
        return None
    e_nom = float(sim.park_info.e_nom_kwh[idx].sum())
    ch = float(units["e_ac_in_kwh"][:, idx].sum() / days)
    dis = float(units["e_ac_out_kwh"][:, idx].sum() / days)
    h = host[0]
    sav = (h.energy_savings_yuan + h.pf_savings_yuan) * per_year
    sav += h.demand_savings_yuan * per_year_demand
    daily_out = units["e_ac_out_kwh"][:, idx].sum(axis=1)
    per_day = round(86400.0 / sim.interval_s)
    n_days = len(daily_out) // per_day
    by_day = daily_out[: n_days * per_day].reshape(n_days, per_day).sum(axis=1)
    # the published figures describe a year of the first project under time-of-use dispatch
    sc = sim.scenario
    return PublishedComparison(
        nameplate_kwh=PublishedFigure(pub.nameplate_kwh, e_nom),
        charge_kwh_per_day=PublishedFigure(pub.throughput_kwh_per_day, ch),
        discharge_kwh_per_day=PublishedFigure(pub.throughput_kwh_per_day, dis),
        savings_yuan_per_year=PublishedFigure(pub.savings_yuan_per_year, sav),
        operating_days=int((by_day > 0.1 * e_nom).sum()),
        comparable=bool(
            days >= 365
            and sc.strategy == "tou"
            and len(idx) == len(names)
            and not sc.extra_storage
            and sc.tariff_scheme is None
        ),
        target_deviation=pub.target_deviation,
        sources={
            "published": pub.source,
            "nameplate": pub.nameplate_note,
            "throughput": pub.throughput_note,
            "savings": pub.savings_note,
        },
    )


SEASONS = {"winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11)}


def _round_trip(e_in: float, e_out: float) -> float:
    return e_out / e_in if e_in > 0 else 0.0


def efficiency_at_boundaries(
    units: dict,
    delta_meter_kw: np.ndarray,
    start: dt.datetime,
    interval_s: float,
    d_stored_kwh: float,
    eta: float,
) -> dict:
    """Round trip at the PCS terminals and at the host meters, with and without the cabins'
    auxiliaries, over the run and per season.

    At the PCS: AC energy out / in. At the meter: what storage takes from and gives to the
    host meters (the meter with storage minus the meter without), so the unit transformers'
    losses count; "without auxiliaries" takes the auxiliaries' draw out of that difference.
    The run's figures count the energy left in (or taken from) the batteries at the
    planning efficiency; the seasons' do not (a season's change is small against its
    throughput).
    """
    h = interval_s / 3600.0
    e_in = units["e_ac_in_kwh"].sum(axis=1)
    e_out = units["e_ac_out_kwh"].sum(axis=1)
    e_aux = units["e_aux_kwh"].sum(axis=1)
    d = delta_meter_kw.sum(axis=1) * h  # kWh per interval, + = storage drew from the meter
    d_no_aux = d - e_aux
    months = (
        np.datetime64(start, "s") + (np.arange(len(e_in)) * interval_s).astype("timedelta64[s]")
    ).astype("datetime64[M]").astype(int) % 12 + 1

    def four(sel: np.ndarray, extra_kwh: float) -> dict:
        m_in, m_out = float(np.maximum(d[sel], 0).sum()), float(np.maximum(-d[sel], 0).sum())
        n_in = float(np.maximum(d_no_aux[sel], 0).sum())
        n_out = float(np.maximum(-d_no_aux[sel], 0).sum())
        pin, pout, paux = float(e_in[sel].sum()), float(e_out[sel].sum()), float(e_aux[sel].sum())
        return {
            "pcs": _round_trip(pin, pout + extra_kwh),
            "pcs_with_aux": _round_trip(pin + paux, pout + extra_kwh),
            "meter": _round_trip(n_in, n_out + extra_kwh),
            "meter_with_aux": _round_trip(m_in, m_out + extra_kwh),
        }

    whole = four(np.ones(len(e_in), dtype=bool), d_stored_kwh * eta)
    seasons = {}
    for name, ms in SEASONS.items():
        sel = np.isin(months, ms)
        if sel.any():
            seasons[name] = four(sel, 0.0)
    return {
        "round_trip_efficiency": whole["pcs"],
        "round_trip_efficiency_with_aux": whole["pcs_with_aux"],
        "round_trip_efficiency_at_meter": whole["meter"],
        "round_trip_efficiency_at_meter_with_aux": whole["meter_with_aux"],
        "round_trip_efficiency_by_season": seasons,
    }


def _availability(sim: Simulation) -> dict:
    """Availability the run achieved and the days out by cause, with the sources."""
    draw = sim.availability
    src = assumptions().availability
    if draw is None:
        return {"enabled": False, "achieved": 1.0}
    return {
        "enabled": True,
        "achieved": draw.achieved,
        "planned_maintenance_unit_days": draw.planned_unit_days,
        "forced_outage_unit_days": draw.forced_unit_days,
        "grid_stop_days": draw.grid_stop_days,
        "sources": {
            "planned": src.planned_source,
            "forced": src.forced_source,
            "grid_stop": src.grid_stop_source,
        },
    }


def tariff_schemes_used(start: dt.datetime, n: int, interval_s: float) -> list[str]:
    """Names of the tariff schemes in force over the run's intervals, oldest first."""
    from profiles import tariff_for

    if n == 0:
        return []
    last = start + dt.timedelta(seconds=(n - 1) * interval_s)
    names, day = [], start.date()
    while day <= last.date():
        s = tariff_for(day)
        if s.name not in names:
            names.append(s.name)
        day = (s.valid_to or last.date()) + dt.timedelta(days=1)
    return names


def _clean(obj):
    """Non-finite floats (a stopped run's NaN) become None so the JSON stays valid."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_outputs(
    result: RunResult, out: Path, extra: Callable[[Path], None] | None = None
) -> None:
    """summary.json, Parquet per unit / meter / park, monthly savings, PNG figures; staged.
    `extra` writes more files into the staging folder (a run's spread), swapped in with it."""
    with staged_dir(out) as stage:
        _write_folder(result, stage)
        if extra is not None:
            extra(stage)


def _write_folder(result: RunResult, out: Path) -> None:
    import pandas as pd

    from twin.figures import write_figures

    s = result.series
    time_index = pd.to_datetime(s["time"])
    for i, name in enumerate(result.unit_names):
        df = pd.DataFrame({"time": time_index})
        for f, arr in s["units"].items():
            df[f] = arr[:, i].astype(np.int8) if f == "pcs_state" else arr[:, i]
        _parquet(df, out / "units" / f"{name}.parquet")
    for j, name in enumerate(result.meter_names):
        df = pd.DataFrame(
            {
                "time": time_index,
                "load_kw": s["inputs"]["load_kw"][:, j],
                "pv_kw": s["inputs"]["pv_kw"][:, j],
                "pcc_kw": s["meters"]["pcc_kw"][:, j],
                "pcc_kvar": s["meters"]["pcc_kvar"][:, j],
                "pcc_without_storage_kw": s["meters"]["pcc_without_storage_kw"][:, j],
                "price_yuan_per_kwh": s["inputs"]["price_yuan_per_kwh"],
                "period": s["inputs"]["period"].astype(np.int8),
            }
        )
        _parquet(df, out / "meters" / f"{name}.parquet")
    park = pd.DataFrame({"time": time_index, **s["park"], "ambient_c": s["inputs"]["ambient_c"]})
    _parquet(park, out / "park.parquet")
    if result.monthly:
        _parquet(pd.DataFrame(result.monthly), out / "monthly_savings.parquet")
    write_figures(result, out)
    summary = {**_clean(result.summary.as_json()), "run": result.scenario.identity()}
    write_json(out / "summary.json", summary)


def _parquet(df, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
