"""Bench: a run solved once: its reference in the loop, and a study's year without a second pass.

Two tables. **The default run** (`--runs`, days): `twin run`'s scenario, simulated and
summarised (`Simulation.run` + `collect`), with the summary's reference power flows (no
storage: `twin.reference`) solved in the loop a chunk at a time, against the same solves
as one batch over the run after the loop (`CHUNK_ROWS` larger than the run: the layout
before the reference moved into the loop). Time is best of `--repeat`; peak memory is
Python's traced allocations over one run (tracemalloc, numpy included), in a separate pass.

**A study's year** (`--days`): a study judges every bus, line and transformer of each simulated year. The engine keeps
their extremes and violation counts as it solves (`parktwin.limits.fold_solve`, one call
per grid solve); the alternative is a second power flow of the year's recorded injections
(`ParkGrid.run`) reduced afterwards. Timed in one process on the whole park (all its
storage, TOU, 15-min steps): the run with its summary, the fold alone, the second power
flow it replaces, and a `ParkGrid` build (which a study now does once per candidate, not
once per year).

    python bench/bench_solve_once.py [--runs 7 30] [--days 365] [--repeat 2] [--no-study]

Best of `--repeat`; on a shared machine compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from rich.console import Console
from rich.table import Table

import twin.engine
from grid import ParkGrid
from twin.engine import Simulation
from twin.recorder import Recorder, grid_elements
from twin.run import collect
from twin.scenario import default_scenario


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def run_and_collect(sc, chunk_rows: int) -> Simulation:
    """`sc` simulated and summarised, the reference solved `chunk_rows` intervals at a time."""
    keep = twin.engine.CHUNK_ROWS
    twin.engine.CHUNK_ROWS = chunk_rows
    try:
        sim = Simulation(sc)
        sim.run()
        collect(sim)
    finally:
        twin.engine.CHUNK_ROWS = keep
    return sim


def peak_mb(fn) -> float:
    """Peak of Python's traced allocations while `fn` runs [MB]."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def default_run_table(days: list[int], repeat: int) -> None:
    sc0 = default_scenario()
    run_and_collect(sc0.model_copy(update={"days": 1}), keep_chunk := twin.engine.CHUNK_ROWS)
    table = Table(title=f"The default run: reference in the loop (chunks of {keep_chunk} rows)")
    for col in (
        "days",
        "intervals",
        "after the loop s",
        "in the loop s",
        "x",
        "peak MB after / in",
    ):
        table.add_column(col, justify="right")
    for d in days:
        sc = sc0.model_copy(update={"days": d})
        rows = sc.n_steps // sc.plant_every
        # alternate the two layouts so a busy machine slows both alike
        t_after, t_in = [], []
        for _ in range(repeat):
            t_after.append(best(lambda sc=sc, r=rows: run_and_collect(sc, r + 1), 1))
            t_in.append(best(lambda sc=sc: run_and_collect(sc, keep_chunk), 1))
        m_after = peak_mb(lambda sc=sc, r=rows: run_and_collect(sc, r + 1))
        m_in = peak_mb(lambda sc=sc: run_and_collect(sc, keep_chunk))
        a, b = min(t_after), min(t_in)
        table.add_row(
            str(d), str(rows), f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}", f"{m_after:.0f} / {m_in:.0f}"
        )
    Console().print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="*", default=[7, 30], help="days of default runs")
    ap.add_argument("--days", type=int, default=365, help="days of the study's year")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-study", action="store_true", help="only the default-run table")
    args = ap.parse_args()
    if args.runs:
        default_run_table(args.runs, args.repeat)
    if args.no_study:
        return
    sc = default_scenario().model_copy(update={"storage_groups": None, "days": args.days})
    Simulation(sc.model_copy(update={"days": 1})).run()  # warm up every JIT

    sims: list[Simulation] = []

    def run() -> None:
        sim = Simulation(sc)
        sim.run()
        collect(sim)
        sims.append(sim)

    t_run = best(run, args.repeat)
    sim = sims[-1]
    net = sim.network
    rec = sim.recorder.trimmed()
    u, inp = rec["units"], sim.inputs
    n = sim.recorder.rows
    load, pv = inp.load_kw[:n], inp.pv_kw[:n]
    storage, q = u["p_ac_kw"] + u["p_aux_kw"], u["q_ac_kvar"]

    def second_power_flow() -> None:
        g = net.run(load, pv, storage, q)
        vm = g.vm_pu[:, net.checked_bus]
        vm.min(axis=0), vm.max(axis=0), g.line_loading_pct.max(axis=0)
        g.trafo_loading_pct.max(axis=0)

    snaps = [net.solve(load[k], pv[k], storage[k], q[k]) for k in range(min(n, 2000))]

    def fold() -> None:
        r = Recorder(1, net.n_units, net.n_enterprises, grid_elements(net, sim.wiring.limits))
        for s in snaps:
            r.record_solve(s)

    t_second = best(second_power_flow, args.repeat)
    t_fold = best(fold, args.repeat) * n / len(snaps)
    t_build = best(lambda: ParkGrid(sim.site), args.repeat)

    table = Table(title=f"A study's year: {n} intervals, {net.n_units} units ({args.days} days)")
    for col in ("part", "s", "x run"):
        table.add_column(col, justify="right" if col != "part" else "left")
    for name, t in (
        ("run + summary (the engine, folding each solve)", t_run),
        ("  of which: folding every solve (fold_solve)", t_fold),
        ("second power flow of the year (replaced)", t_second),
        ("ParkGrid build (now once per candidate)", t_build),
    ):
        table.add_row(name, f"{t:.2f}", f"{t / t_run:.3f}")
    Console().print(table)
    np.testing.assert_equal(sim.recorder.grid_extremes().solves, n)


if __name__ == "__main__":
    main()
