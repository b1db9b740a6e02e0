"""Bench: where the fixed costs of a `twin run` go, part by part, against the aims.

    python bench/bench_run.py [--days 1] [--repeat 2] [--no-walls]

First the `twin` command as a user types it (child processes, warm caches: numba, the grid
model, the input series): the default run (a year) and a one-day run, against their aims
(under 5 s and 1.5 s wall). Then the parts of one run of `--days` days, each timed in this
process (best of `--repeat`, wall and CPU): the imports a run needs (a child process),
building the park (`Simulation`: grid model and inputs from the cache), the closed loop,
the KPIs, the sensitivity table, the Parquet files and the four figures. Each part is
shown as a share of their sum, so a slower or busier machine still shows which part to
work on. Timings on a shared machine are noisy: compare the shares and ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = "import twin.cli.run, twin.run, twin.engine"


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best wall and CPU time [s] of `fn()` over `repeat` calls."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(max(1, repeat)):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def _child(code_or_argv: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU time [s] of a child `python ARGV`."""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *code_or_argv],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)


def walls(repeat: int, env: dict) -> Table:
    """The `twin run` command in a child process, warm caches, best of `repeat`."""
    table = Table(title="`twin run` as typed (child process, warm caches, wall)")
    for col in ("case", "aim [s]", "wall [s]", "wall / aim", "CPU [s]"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for label, argv, aim in (
        ("default `twin run` (a year)", ["run"], 5.0),
        ("one day `twin run --days 1`", ["run", "--days", "1"], 1.5),
    ):
        with tempfile.TemporaryDirectory() as out:
            cmd = ["-c", "from twin.cli import main; main()", *argv, "--out", out]
            _child(cmd, env)  # fills the caches
            wall, cpu = min(_child(cmd, env) for _ in range(max(1, repeat)))
        table.add_row(label, f"{aim:g}", f"{wall:.2f}", f"{wall / aim:.2f}", f"{cpu:.2f}")
    return table


def parts(days: int, repeat: int, env: dict) -> Table:
    """One run of `days` days taken apart, each part timed in this process."""
    from twin import figures
    from twin.engine import Simulation
    from twin.figures import write_figures
    from twin.run import _write_folder, collect
    from twin.scenario import default_scenario
    from twin.sensitivity import sensitivity

    sc = default_scenario().model_copy(update={"days": days}).revalidated()
    Simulation(sc.model_copy(update={"days": 1}).revalidated()).run()  # JIT and caches warm
    rows: list[tuple[str, float, float]] = []
    w, c = min(_child(["-c", IMPORTS], env) for _ in range(max(1, repeat)))
    w0, c0 = min(_child(["-c", "pass"], env) for _ in range(max(1, repeat)))
    rows.append(("imports a run needs (child process, less a bare python)", w - w0, c - c0))
    sims: list = []
    rows.append(
        (
            "build: grid model, inputs, fleet (cached)",
            *_best(lambda: sims.append(Simulation(sc)), repeat),
        )
    )
    rows.append(("closed loop", *_best(lambda: sims.pop().run(), 1)))
    sim = Simulation(sc)
    sim.run()
    results: list = []
    rows.append(("KPIs (collect)", *_best(lambda: results.append(collect(sim)), repeat)))
    result = results[-1]
    sensitivity(sc)  # the quick variants' own inputs (1-h steps) into the cache
    rows.append(
        ("sensitivity table (6 quick variants + base)", *_best(lambda: sensitivity(sc), repeat))
    )
    ref = _best(lambda: _sensitivity_from_scratch(sc), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows.append(("figures (4 PNG)", *_best(lambda: write_figures(result, out), repeat)))
        figures.write_figures = lambda *_: []  # the rest of the folder alone
        try:
            rows.append(
                ("Parquet + summary.json", *_best(lambda: _write_folder(result, out), repeat))
            )
        finally:
            figures.write_figures = write_figures
    total = sum(r[1] for r in rows)
    table = Table(
        title=f"parts of one default run of {days} day(s), in this process (best of {repeat})"
    )
    for col in ("part", "wall [s]", "CPU [s]", "share of wall"):
        table.add_column(col, justify="left" if col == "part" else "right")
    for label, wall, cpu in rows:
        table.add_row(label, f"{wall:.2f}", f"{cpu:.2f}", f"{wall / total:.0%}")
    table.add_row("sum", f"{total:.2f}", f"{sum(r[2] for r in rows):.2f}", "100%")
    table.add_row(
        "reference: the same variants each built from scratch (`run_scenario`)",
        f"{ref[0]:.2f}",
        f"{ref[1]:.2f}",
        f"shared / scratch {rows[4][1] / ref[0]:.2f}",
    )
    return table


def _sensitivity_from_scratch(sc) -> None:
    """The sensitivity table's runs, each a `run_scenario` that builds its own site and
    inputs (the reference the shared build is measured against)."""
    from parktwin.billing import BILLING_BASES
    from profiles import schemes
    from twin.run import run_scenario
    from twin.sensitivity import QUICK

    base = sc.model_copy(update=QUICK).revalidated()
    updates = [{}, {"availability": sc.availability.model_copy(update={"enabled": False})}]
    updates += [{"basic_charge": b} for b in BILLING_BASES[1:]]
    updates += [{"tariff_scheme": s.name} for s in schemes()[:2]]
    for u in updates:
        run_scenario(base.model_copy(update=u).revalidated() if u else base)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=1, help="length of the run taken apart")
    ap.add_argument("--repeat", type=int, default=2, help="best of N")
    ap.add_argument("--no-walls", action="store_true", help="only the parts, no child runs")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PARKTWIN_CACHE", None)
    console = Console()
    if not args.no_walls:
        console.print(walls(args.repeat, env))
    console.print(parts(args.days, args.repeat, env))


if __name__ == "__main__":
    main()
