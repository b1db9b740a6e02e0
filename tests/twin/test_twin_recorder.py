"""The recorder's grid extremes, kept during the run, against a power flow of the same day.

The engine folds each grid solve into per-element extremes and violation counts; nothing
solves the run again. Checked here against `grid.check_limits` on `ParkGrid.run` (the batch
solver) of the injections the run recorded: the same extremes to the solvers' tolerance and
the same counts, with a band and loading limit tight enough that elements break them.
"""

import datetime as dt

import numpy as np
import pytest

from grid import check_limits
from parktwin.limits import GridLimits
from twin.engine import Simulation
from twin.run import collect
from twin.scenario import default_scenario

TIGHT = GridLimits(v_min_pu=0.985, v_max_pu=1.015, loading_max_pct=40.0)


@pytest.fixture(scope="module")
def day():
    sc = default_scenario().model_copy(update={"days": 1, "start": dt.date(2025, 7, 15)})
    sim = Simulation(sc, limits=TIGHT)
    sim.run()
    return sim, collect(sim)


def test_extremes_and_counts_match_a_batch_power_flow(day) -> None:
    sim, result = day
    u, inp = result.series["units"], result.series["inputs"]
    net = sim.network
    batch = net.run(inp["load_kw"], inp["pv_kw"], u["p_ac_kw"] + u["p_aux_kw"], u["q_ac_kvar"])
    g = result.grid
    assert g.solves == sim.n_solves == 96
    vm = batch.vm_pu[:, net.checked_bus]
    np.testing.assert_allclose(g.v_min_pu, vm.min(axis=0), atol=1e-8)
    np.testing.assert_allclose(g.v_max_pu, vm.max(axis=0), atol=1e-8)
    np.testing.assert_allclose(
        g.line_loading_max_pct, batch.line_loading_pct.max(axis=0), atol=1e-6
    )
    np.testing.assert_allclose(
        g.trafo_loading_max_pct, batch.trafo_loading_pct.max(axis=0), atol=1e-6
    )
    rep = check_limits(batch, net, limits=TIGHT)
    assert g.voltage_violations == rep.voltage_violations > 0
    assert g.overload_violations == int((rep.line_overload | rep.trafo_overload).sum()) > 0
    assert g.bus_violations.sum() > 0 and g.line_violations.sum() > 0
    assert g.elements.line_names == net.line_names


def test_the_summary_counts_against_the_runs_limits(day) -> None:
    _, result = day
    park = result.series["park"]
    s = result.summary
    assert s.voltage_violations == int(
        ((park["v_min_pu"] < TIGHT.v_min_pu) | (park["v_max_pu"] > TIGHT.v_max_pu)).sum()
    )
    assert s.voltage_violations > 0
