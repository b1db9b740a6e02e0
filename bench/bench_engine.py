"""Bench: the whole park in closed loop for a year at 15-min steps, against its parts.

The engine run (all ~65 MWh of the park's storage dispatching under TOU, the feeders
solved every interval, guards, recorder) is timed against the sum of its parts measured
alone in the same process: the same number of `Fleet.step` kernel calls with the same
setpoints, and the same `ParkGrid.solve` calls with the same injections. The difference is
the engine's own overhead (simpy events, observation, strategy, guards, recording).

    python bench/bench_engine.py [--days 365] [--repeat 2] [--fixed-costs-only] [--fresh]

First the fixed costs a user waits for: the `twin` command itself, in a child process as
typed, with the cache of built inputs warm (`parktwin.cache`: the grid model and the input
series read back instead of built): the default `twin run` and a one-day run. `--fresh`
adds a first run as on a fresh install (empty numba and input caches, in temporary
folders; a minute or more).

Each figure is the best of `--repeat` runs. Timings on a shared machine are noisy: compare
the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from devices import Fleet
from twin.engine import Simulation
from twin.scenario import default_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=2, help="best of N, engine and parts alike")
    ap.add_argument("--fixed-costs-only", action="store_true", help="only the `twin run` walls")
    ap.add_argument("--fresh", action="store_true", help="also a first run on a fresh install")
    args = ap.parse_args()
    console = Console()
    console.print(fixed_costs(args.repeat, args.fresh))
    if args.fixed_costs_only:
        return
    sc = default_scenario().model_copy(update={"storage_groups": None, "days": args.days})

    # Warm up every JIT (kernels, guards, power flow) on a short run.
    Simulation(sc.model_copy(update={"days": 1})).run()

    t_build = time.perf_counter()
    sims = [Simulation(sc) for _ in range(args.repeat)]
    t_build = (time.perf_counter() - t_build) / args.repeat
    t_engine = np.inf
    for sim in sims:
        t0 = time.perf_counter()
        sim.run()
        t_engine = min(t_engine, time.perf_counter() - t0)
    sim = sims[-1]
    n = sim.recorder.rows
    u = sim.recorder.units
    inp = sim.inputs

    # Part 1: the kernel calls alone, same setpoints, same ambient.
    p_set = np.ascontiguousarray(u["p_set_kw"])
    q0 = np.zeros(sim.layout.n_units)
    t_fleet = np.inf
    for _ in range(args.repeat):
        fleet = Fleet(list(sim.layout.unit_params), soc0=sc.soc0, temp0_c=float(inp.ambient_c[0]))
        t0 = time.perf_counter()
        for k in range(n):
            fleet.step(
                p_set[k], sc.step_s, float(inp.ambient_c[k]), n_sub=sim.plant_every, q_set_kvar=q0
            )
        t_fleet = min(t_fleet, time.perf_counter() - t0)

    # Part 2: the power-flow solves alone, same injections.
    storage = np.ascontiguousarray(u["p_ac_kw"] + u["p_aux_kw"])
    q = np.ascontiguousarray(u["q_ac_kvar"])
    park = sim.network
    t_grid = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for k in range(n):
            park.solve(inp.load_kw[k], inp.pv_kw[k], storage[k], q[k])
        t_grid = min(t_grid, time.perf_counter() - t0)

    parts = t_fleet + t_grid
    overhead = t_engine / parts - 1.0
    scale = 365.0 / args.days
    table = Table(
        title=f"twin engine: whole park ({sim.layout.n_units} units, "
        f"{sim.park_info.e_nom_kwh.sum() / 1000:.1f} MWh), {args.days} days at "
        f"{sc.step_s:g} s, closed loop, {n} intervals"
    )
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("us / interval", justify="right")
    table.add_column("share of engine", justify="right")
    rows = [
        ("Fleet.step kernel calls alone", t_fleet),
        ("ParkGrid.solve alone", t_grid),
        ("sum of parts", parts),
        ("engine run (closed loop)", t_engine),
        ("engine overhead (run - parts)", t_engine - parts),
    ]
    for label, t in rows:
        table.add_row(label, f"{t:.3f}", f"{t / n * 1e6:.1f}", f"{t / t_engine:.0%}")
    table.add_row("building the run (profiles, grid model)", f"{t_build:.2f}", "", "")
    console.print(table)
    verdict = Table(show_header=True, title="targets (issue 5)")
    verdict.add_column("target")
    verdict.add_column("measured", justify="right")
    verdict.add_column("met")
    year = t_engine * scale
    verdict.add_row("a year of the whole park < 3 s", f"{year:.2f} s", "yes" if year < 3 else "no")
    verdict.add_row(
        "engine overhead < 30 % of the parts", f"{overhead:.0%}", "yes" if overhead < 0.3 else "no"
    )
    console.print(verdict)
    console.print(
        f"guards: {sim.guard_report()}  |  simpy events ~{4 * n} ({sim.n_solves} solves, "
        f"{sim.n_decisions} decisions)"
    )
    console.print(where_the_overhead_goes(sc.model_copy(update={"days": min(args.days, 30)})))


def _twin_wall(argv: list[str], env: dict | None = None) -> float:
    """Wall time [s] of `twin ARGV --out TMP` in a child process, as a user runs it."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from twin.cli import main; main()", *argv, "--out", out],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        return time.perf_counter() - t0


def fixed_costs(repeat: int, fresh: bool) -> Table:
    """The aims on what a user waits for, each the best of `repeat` warm runs."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PARKTWIN_CACHE", None)
    cases = [("default `twin run` (a year), warm cache", ["run"], 5.0)]
    cases.append(("one-day `twin run --days 1`, warm cache", ["run", "--days", "1"], 1.5))
    table = Table(title="fixed costs: the `twin` command as typed (child process, wall)")
    for col in ("aim", "measured", "met"):
        table.add_column(col, justify="right" if col != "aim" else "left")
    for label, argv, aim in cases:
        _twin_wall(argv, env)  # fills the caches (numba, grid model, inputs)
        wall = min(_twin_wall(argv, env) for _ in range(max(1, repeat)))
        table.add_row(f"{label} < {aim:g} s", f"{wall:.2f} s", _yes(wall < aim))
    if fresh:
        with tempfile.TemporaryDirectory() as numba_dir, tempfile.TemporaryDirectory() as cdir:
            cold = {**env, "NUMBA_CACHE_DIR": numba_dir, "PARKTWIN_CACHE_DIR": cdir}
            wall = _twin_wall(["run", "--days", "1"], cold)
        table.add_row(
            "first run on a fresh install (one day) < 40 s", f"{wall:.1f} s", _yes(wall < 40)
        )
    return table


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def where_the_overhead_goes(sc) -> Table:
    """A second, instrumented run: time spent in each piece of the engine per interval
    (the timers themselves add ~1 us per wrapped call)."""
    import twin.engine as engine

    sim = Simulation(sc)
    spent: dict[str, int] = {}

    def timed(obj, name: str, key: str) -> None:
        fn = getattr(obj, name)

        def wrapper(*a, **kw):
            t0 = time.perf_counter_ns()
            out = fn(*a, **kw)
            spent[key] = spent.get(key, 0) + time.perf_counter_ns() - t0
            return out

        setattr(obj, name, wrapper)

    timed(sim.fleet, "step", "Fleet.step (part)")
    timed(sim.network, "solve", "ParkGrid.solve (part)")
    timed(sim, "_decide", "controller: observation + strategy + guards")
    timed(sim.strategy, "decide", "  of which the strategy")
    timed(sim, "_power_limits", "  of which Fleet power limits")
    timed(sim.recorder, "record_plant", "recorder: unit row")
    timed(sim.recorder, "record_grid", "recorder: meter/park row")
    kernel = engine.guard_kernel

    def guard(*a):
        t0 = time.perf_counter_ns()
        out = kernel(*a)
        spent["  of which the guard kernel"] = (
            spent.get("  of which the guard kernel", 0) + time.perf_counter_ns() - t0
        )
        return out

    engine.guard_kernel = guard
    try:
        t0 = time.perf_counter()
        sim.run()
        total = time.perf_counter() - t0
    finally:
        engine.guard_kernel = kernel
    n = sim.recorder.rows
    table = Table(title=f"where an interval's time goes ({sc.days} days, instrumented)")
    table.add_column("piece")
    table.add_column("us / interval", justify="right")
    order = [
        "Fleet.step (part)",
        "ParkGrid.solve (part)",
        "controller: observation + strategy + guards",
        "  of which the strategy",
        "  of which Fleet power limits",
        "  of which the guard kernel",
        "recorder: unit row",
        "recorder: meter/park row",
    ]
    for key in order:
        table.add_row(key, f"{spent.get(key, 0) / n / 1e3:.1f}")
    inner = sum(v for k, v in spent.items() if not k.startswith("  "))
    table.add_row("simpy events, process bodies, timers", f"{(total * 1e9 - inner) / n / 1e3:.1f}")
    table.add_row("total", f"{total / n * 1e6:.1f}")
    return table


if __name__ == "__main__":
    main()
