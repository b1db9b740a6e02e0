"""Benchmark of `twin expand`: candidates per minute on 1 and 2 local workers, the scaling
efficiency, and the per-candidate overhead of the Dask path against the local path.

    python bench/bench_study.py [--days 7] [--candidates 6] [--years 1]

The example study (``examples/study-next-20mwh.toml``) is cut to its first N candidates
and D days per year (the same for every configuration), then run from scratch:
  1. on 1 local worker (the reference of the ratios),
  2. on 2 local workers,
  3. on a Dask LocalCluster of 2 single-thread worker processes, started before the clock
     (a cluster exists before a study is sent to it).
Wall times include everything a user waits for (worker start-up, the status quo run,
writing the tables), not the figures. A second part sends 200 empty tasks through each
path to isolate the per-task cost of the execution layer itself.
The machine is shared: timings are noisy; run it twice before reading much into them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class EmptyTask:
    i: int

    @property
    def key(self) -> str:
        return f"empty-{self.i}"


def empty(task: EmptyTask) -> dict:
    return {}


def _study(days: int, n: int, years: int):
    from twin.study import load_study

    study = load_study(ROOT / "examples" / "study-next-20mwh.toml").with_days(days)
    settings = study.study.model_copy(update={"years": years})
    study = study.model_copy(update={"study": settings, "hosting": None})
    return study, n


def _run(study, n: int, **kw) -> tuple[float, int, float]:
    from twin.study import plan_study
    from twin.study.runner import run_plan

    plan = plan_study(study)
    plan.candidates = plan.candidates[:n]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_plan(plan, Path(tmp) / "out", figures=False, **kw)
        wall = time.perf_counter() - t0
    ok = res.results[res.results["status"] == "ok"]
    return wall, len(ok), float(ok["run_seconds"].sum())


def _empty_tasks(executor, n: int = 200) -> float:
    from twin.study.execute import BASE_COLUMNS, TaskRunner
    from twin.study.store import ResultTable

    with tempfile.TemporaryDirectory() as tmp:
        table = ResultTable(Path(tmp) / "t.csv", BASE_COLUMNS)
        runner = TaskRunner(executor)
        runner.add(empty, [EmptyTask(-1)], table)  # warm the workers up
        runner.run()
        t0 = time.perf_counter()
        runner.add(empty, [EmptyTask(i) for i in range(n)], table)
        runner.run()
        return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--candidates", type=int, default=6)
    ap.add_argument("--years", type=int, default=1)
    args = ap.parse_args()
    from distributed import LocalCluster

    from twin.study.execute import DaskExecutor, LocalExecutor

    console = Console()
    study, n = _study(args.days, args.candidates, args.years)
    console.print(
        f"example study: first {n} candidates, {args.years} year(s) of {args.days} days each"
    )
    w1, n1, cpu1 = _run(study, n, workers=1)
    w2, n2, _ = _run(study, n, workers=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        wd, nd, _ = _run(study, n, scheduler=cluster.scheduler_address)
        dask_exec = DaskExecutor(cluster.scheduler_address)
        dask_task = _empty_tasks(dask_exec)
        dask_exec.close(cancel=False)
    local_exec = LocalExecutor(2)
    local_task = _empty_tasks(local_exec)
    local_exec.close(cancel=False)

    rate1, rate2, rated = n1 / w1 * 60, n2 / w2 * 60, nd / wd * 60
    t = Table(title="twin expand: execution", header_style="bold")
    for col in ("path", "workers", "candidates", "wall s", "candidates/min", "vs 1 worker"):
        t.add_column(col, justify="right" if col != "path" else "left")
    t.add_row("local (reference)", "1", str(n1), f"{w1:.1f}", f"{rate1:.1f}", "1.00")
    t.add_row("local", "2", str(n2), f"{w2:.1f}", f"{rate2:.1f}", f"{rate2 / rate1:.2f}")
    t.add_row(
        "Dask LocalCluster", "2", str(nd), f"{wd:.1f}", f"{rated:.1f}", f"{rated / rate1:.2f}"
    )
    console.print(t)
    console.print(
        f"scaling efficiency on 2 workers: {rate2 / rate1 / 2 * 100:.0f} % (aim >= 85 %); "
        f"mean candidate compute {cpu1 / max(n1, 1):.1f} s"
    )
    o = Table(title="per-candidate overhead of the execution path", header_style="bold")
    for col in ("measure", "local", "Dask", "Dask - local"):
        o.add_column(col, justify="right" if col != "measure" else "left")
    o.add_row(
        "study wall / candidate, 2 workers [s]",
        f"{w2 / max(n2, 1):.2f}",
        f"{wd / max(nd, 1):.2f}",
        f"{(wd / max(nd, 1) - w2 / max(n2, 1)):+.2f}",
    )
    o.add_row(
        "empty task round trip [ms]",
        f"{local_task * 1e3:.2f}",
        f"{dask_task * 1e3:.2f}",
        f"{(dask_task - local_task) * 1e3:+.2f}",
    )
    console.print(o)
    console.print("[dim]shared 2-core machine: timings are noisy[/]")


if __name__ == "__main__":
    main()
