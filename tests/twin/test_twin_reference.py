"""`twin.reference`: the summary's reference power flows are solved during the run, a chunk
behind it, and give what one batch of power flows over the run gives."""

from __future__ import annotations

import datetime as dt

import numpy as np

import twin.engine
from twin.engine import Simulation
from twin.grid_guard import caused_violations
from twin.recorder import INTERVAL_FIELD
from twin.reference import ReferenceSolves
from twin.run import collect
from twin.scenario import default_scenario

DAYS = 3
CHUNK = 96  # a day at 15 min: a three-day run is three chunks


def _scenario(**update):
    sc = default_scenario()
    return sc.model_copy(update={"days": DAYS, "start": dt.date(2025, 7, 14), **update})


def _run(sc, monkeypatch, chunk: int = CHUNK) -> tuple[Simulation, list[tuple[int, int]]]:
    """The run with chunks of `chunk` rows, and (rows recorded, rows solved) at each step."""
    monkeypatch.setattr(twin.engine, "CHUNK_ROWS", chunk)
    sim = Simulation(sc)
    seen: list[tuple[int, int]] = []
    sim.add_step_hook(lambda v: seen.append((v.k + 1, sim.reference.rows_solved)))
    sim.run()
    return sim, seen


def _batch(sim: Simulation, storage_kw, storage_kvar):
    """One power flow of every recorded interval, as a batch from the no-load state."""
    n = sim.recorder.rows
    return sim.network.run(sim.inputs.load_kw[:n], sim.inputs.pv_kw[:n], storage_kw, storage_kvar)


def test_reference_is_solved_in_the_loop_and_equals_one_batch(monkeypatch) -> None:
    sim, seen = _run(_scenario(), monkeypatch)
    n = sim.recorder.rows
    assert n == DAYS * 96
    # during the run: never more than a chunk behind; all solved when the loop ends
    assert all(rec - solved < CHUNK for rec, solved in seen)
    assert {solved for _, solved in seen} == {0, 96, 192, 288}
    assert sim.reference.rows_solved == n
    zero = np.zeros((n, sim.layout.n_units))
    batch = _batch(sim, zero, zero)
    m = sim.recorder.trimmed()["meters"]
    # chained chunks converge to the batch's solutions (each to the Newton tolerance)
    np.testing.assert_allclose(m["pcc_without_storage_kw"], batch.pcc_kw, rtol=0, atol=1e-6)
    np.testing.assert_allclose(m["pcc_without_storage_kvar"], batch.pcc_kvar, rtol=0, atol=1e-6)
    # the first chunk is the batch's first steps, bit for bit
    np.testing.assert_array_equal(m["pcc_without_storage_kw"][:CHUNK], batch.pcc_kw[:CHUNK])
    # storage differs from the reference at its host meter
    host = sim.layout.hosts[0]
    assert np.abs(m["pcc_kw"][:, host] - m["pcc_without_storage_kw"][:, host]).max() > 1000.0


def test_one_chunk_run_is_the_batch_bit_for_bit(monkeypatch) -> None:
    sim, _ = _run(_scenario(days=1), monkeypatch, chunk=10_000)
    n = sim.recorder.rows
    zero = np.zeros((n, sim.layout.n_units))
    batch = _batch(sim, zero, zero)
    result = collect(sim)
    np.testing.assert_array_equal(result.series["meters"]["pcc_without_storage_kw"], batch.pcc_kw)


def test_held_grid_bills_each_interval_on_its_own_solve(monkeypatch) -> None:
    sim, _ = _run(_scenario(grid_s=3600.0), monkeypatch)
    u = sim.recorder.trimmed()["units"]
    m = sim.recorder.trimmed()["meters"]
    own = _batch(sim, u["p_ac_kw"] + u["p_aux_kw"], u["q_ac_kvar"])
    np.testing.assert_allclose(m[INTERVAL_FIELD], own.pcc_kw, rtol=0, atol=1e-6)
    # the held meters repeat over the hour; the interval's own solve follows the plant
    assert np.abs(m[INTERVAL_FIELD] - m["pcc_kw"]).max() > 1.0


def test_caused_violations_are_counted_chunk_by_chunk(monkeypatch) -> None:
    """The grid guard's check, counted a chunk at a time, against one batch of each case; with
    a loading limit the storage does break (the run's own guard would prevent it)."""
    sim, _ = _run(_scenario(), monkeypatch)
    u = sim.recorder.trimmed()["units"]
    aux, p_ac = u["p_aux_kw"], u["p_ac_kw"]
    idle = u["p_set_kw"] == 0.0
    with_ = _batch(sim, p_ac + aux, u["q_ac_kvar"])
    without = _batch(sim, aux + np.where(idle, p_ac, 0.0), np.zeros_like(aux))
    worst = float(np.nanmax(with_.trafo_loading_pct[:, sim.network.unit_trafo]))
    tight = sim.wiring.limits.model_copy(update={"loading_max_pct": worst - 5.0})
    ref = ReferenceSolves(
        sim.network, sim.inputs, sim.recorder, held=False, limits=tight, chunk_rows=CHUNK
    )
    for k in range(1, sim.recorder.rows + 1):
        ref.advance(k)
    assert ref.rows_solved == sim.recorder.rows
    expected = caused_violations(
        with_,
        without,
        sim.network.checked_bus,
        v_min_pu=tight.v_min_pu,
        v_max_pu=tight.v_max_pu,
        loading_max_pct=tight.loading_max_pct,
    ).sum()
    assert expected > 0
    assert ref.caused_violations == expected


def test_a_stopped_run_solves_its_last_rows_in_collect(monkeypatch) -> None:
    monkeypatch.setattr(twin.engine, "CHUNK_ROWS", CHUNK)
    sim = Simulation(_scenario())
    sim.run(until_s=1.5 * 86400)
    rows = sim.recorder.rows
    assert rows == 144 and sim.reference.rows_solved == 144  # the run ended at its until_s
    sim.stop()
    result = collect(sim)
    assert np.isfinite(result.series["meters"]["pcc_without_storage_kw"]).all()
    assert result.summary.intervals == 144


def test_copper_plate_reference_is_load_minus_pv(monkeypatch) -> None:
    sim, _ = _run(_scenario(network="copper_plate"), monkeypatch)
    n = sim.recorder.rows
    m = sim.recorder.trimmed()["meters"]
    expected = sim.inputs.load_kw[:n] - sim.inputs.pv_kw[:n]
    np.testing.assert_array_equal(m["pcc_without_storage_kw"], expected)
