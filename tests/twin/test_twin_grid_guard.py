"""The grid-aware guard: storage causes no violation of the park's grid limits.

Checked by full AC power flows of every interval (`grid.ParkGrid.run`, the batch solver
that equals pandapower's runpp) with and without the storage's dispatch, on a park whose
load has grown 20 % (its feeders near their ratings) and a 20 MWh candidate that, left to
its tariff strategy, overloads them.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from grid import ParkGrid, StorageGroup, default_site
from parktwin.errors import InputError
from parktwin.limits import grid_limits
from twin.engine import Simulation
from twin.grid_guard import GridGuard, caused_violations
from twin.run import RunResult, collect
from twin.scenario import GuardConfig, Scenario

GROWTH = 1.2  # the park's load x 1.2: no violation without storage in the days below
CANDIDATE = StorageGroup(
    name="cand",
    enterprise="xinsheng",
    unit_type="lfp314-5016kwh",
    count=4,
    pcs_kva=2500.0,
    trafo_kva=2750.0,
    commissioned=2026,
)


def _grown_site(folder: Path) -> Path:
    site = default_site()
    ents = tuple(
        e.model_copy(update={"annual_mwh": e.annual_mwh * GROWTH, "peak_kw": e.peak_kw * GROWTH})
        for e in site.enterprises
    )
    path = folder / "site.toml"
    grown = site.model_copy(update={"enterprises": ents})
    path.write_text(tomli_w.dumps(grown.model_dump(mode="json", exclude_none=True)), "utf-8")
    return path


def _run(site: Path, grid_limits: bool) -> tuple[RunResult, Simulation]:
    sc = Scenario(
        site=site,
        extra_storage=(CANDIDATE,),
        start=dt.date(2025, 7, 7),
        days=2,
        guards=GuardConfig(grid_limits=grid_limits),
    )
    sim = Simulation(sc)
    sim.run()
    return collect(sim, time.perf_counter()), sim


def _caused(result: RunResult, sim: Simulation) -> np.ndarray:
    """Independent of the summary: two full power flows of every interval."""
    u, inp = result.series["units"], result.series["inputs"]
    lim = grid_limits()
    aux, p_ac = u["p_aux_kw"], u["p_ac_kw"]
    undispatched = aux + np.where(u["p_set_kw"] == 0.0, p_ac, 0.0)
    net = sim.network
    with_ = net.run(inp["load_kw"], inp["pv_kw"], p_ac + aux, u["q_ac_kvar"])
    without = net.run(inp["load_kw"], inp["pv_kw"], undispatched)
    assert with_.converged.all() and without.converged.all()
    # nothing is past its limit without the dispatch: every violation is the storage's
    v_lo, v_hi = lim.v_min_pu, lim.v_max_pu
    assert np.nanmax(without.line_loading_pct) < lim.loading_max_pct
    assert np.nanmin(without.v_min_pu) > v_lo and np.nanmax(without.v_max_pu) < v_hi
    return caused_violations(
        with_,
        without,
        net.checked_bus,
        v_min_pu=v_lo,
        v_max_pu=v_hi,
        loading_max_pct=lim.loading_max_pct,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[bool, tuple[RunResult, Simulation]]:
    site = _grown_site(tmp_path_factory.mktemp("grown"))
    return {on: _run(site, on) for on in (False, True)}


def test_without_the_guard_the_candidate_overloads_the_feeders(runs) -> None:
    result, sim = runs[False]
    assert _caused(result, sim).sum() > 0  # else the next test would prove nothing
    assert result.summary.grid_guard is None
    assert "grid_limits" not in result.summary.guard_interventions


def test_with_the_guard_storage_causes_no_violation(runs) -> None:
    result, sim = runs[True]
    assert _caused(result, sim).sum() == 0
    stats = result.summary.grid_guard
    assert stats is not None and stats.caused_violations == 0
    assert stats.interventions > 0 and stats.curtailed_kwh > 0.0
    assert result.summary.guard_interventions["grid_limits"] == stats.interventions
    assert result.summary.as_json()["grid_guard"]["curtailed_kwh"] == stats.curtailed_kwh


def test_the_guard_costs_savings_and_the_run_reports_it(runs) -> None:
    off, on = runs[False][0].summary, runs[True][0].summary
    assert on.savings_yuan_per_year < off.savings_yuan_per_year
    assert on.charge_kwh_per_day < off.charge_kwh_per_day
    assert "grid_guard" not in off.as_json()


def test_cap_moves_only_toward_zero_and_meets_every_target() -> None:
    park = ParkGrid(default_site())
    lim = grid_limits()
    guard = GridGuard(
        park,
        v_min_pu=lim.v_min_pu,
        v_max_pu=lim.v_max_pu,
        loading_max_pct=lim.loading_max_pct,
        margin_pct=1.0,
        margin_v_pu=0.002,
    )
    load = np.array([e.peak_kw for e in default_site().enterprises]) * 1.1
    pv = np.zeros_like(load)
    aux = np.full(park.n_units, 10.0)
    q = np.zeros(park.n_units)
    # a request that fits passes unchanged
    small = np.full(park.n_units, 1.0)
    p, _ = guard.cap(load, pv, aux, small, q)
    np.testing.assert_array_equal(p, small)
    assert guard.interventions == 0
    # every unit charging at 1.2 MW overloads the feeders at peak load; the cap fixes it
    big = np.full(park.n_units, 1200.0)
    before, _ = park.probe(load, pv, aux + big, q)
    assert np.nanmax(before.line_loading_pct) > lim.loading_max_pct
    p, _ = guard.cap(load, pv, aux, big, q)
    assert np.all((p >= 0.0) & (p <= big))
    assert guard.interventions == 1
    after, _ = park.probe(load, pv, aux + p, q)
    tg = guard.targets
    assert np.all(after.line_loading_pct <= tg.line_max_pct + 1e-6)
    assert np.all(after.trafo_loading_pct <= tg.trafo_max_pct + 1e-6)
    vm = after.vm_pu[park.checked_bus]
    assert np.all(vm >= tg.v_min_pu[park.checked_bus] - 1e-9)
    assert p.sum() > 0.0  # it cuts, it does not simply stop everything


def test_grid_limits_on_a_copper_plate_is_refused() -> None:
    sc = Scenario(days=1, network="copper_plate", guards=GuardConfig(grid_limits=True))
    with pytest.raises(InputError, match=r"guards\.grid_limits"):
        Simulation(sc)
