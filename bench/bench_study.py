"""Benchmark of `twin expand`: candidates per minute on 1 and 2 local workers, the scaling
efficiency, and the per-candidate overhead of the Dask path against the local path.

    python bench/bench_study.py [--days 14] [--candidates 6] [--years 1]

The example study (``examples/study-next-20mwh.toml``) is cut to its first N candidates and
D days per year, and its status quo is computed once in this process. Each execution path
is then started and warmed up (worker processes spawned, ParkTwin imported, numba's
cached kernels loaded: a fixed cost of a study, reported on its own), and the clock runs
over the N candidates alone, written to a results table as `twin expand` does:
  1. 1 local worker (the reference of the ratios),
  2. 2 local workers,
  3. a Dask LocalCluster of 2 single-thread worker processes.
"task s" is a candidate's mean time inside its worker: if it grows from 1 to 2 workers, the
two workers did not get two free cores (other work on the machine, memory bandwidth);
"cores used" is the workers' CPU seconds over the wall seconds: what the machine gave.
A second part sends 200 empty tasks through each path (table included) to isolate the
execution layer's own cost per task, and appends 200 rows to a table alone.
The machine is shared with other work: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
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


def _tasks(days: int, n: int, years: int):
    """The first `n` candidates of the example study as worker tasks, status quo included."""
    from twin.study import load_study, plan_study
    from twin.study.tasks import CandidateTask, ReferenceTask, run_reference
    from twin.study.verdict import StatusQuo

    study = load_study(ROOT / "examples" / "study-next-20mwh.toml").with_days(days)
    study = study.model_copy(
        update={"study": study.study.model_copy(update={"years": years}), "hosting": None}
    )
    plan = plan_study(study)

    def refs_of(settings) -> list[dict]:
        """The status quo in each dispatch mode of the study (as dispatched, grid-aware)."""
        return [
            run_reference(ReferenceTask(settings=settings, strategy="tou", grid_aware=aware))
            for aware in settings.dispatch_modes
        ]

    refs = refs_of(study.study)

    def task(c, settings):
        u = plan.units[(c.unit_type, c.pcs_kva)]
        return CandidateTask(
            candidate=c,
            settings=settings,
            finance=study.finance,
            limits=plan.limits,
            e_unit_kwh=u.e_kwh,
            p_unit_kw=u.p_kw,
            feeder=plan.feeders[c.enterprise],
            references=tuple(StatusQuo.from_row(r, c.enterprise) for r in refs),
        )

    cands = [c for c in plan.candidates if c.strategy == "tou"][:n]
    work = [task(c, study.study) for c in cands]
    # warm-up: the same candidates over one day (other keys: the settings differ)
    one_day = study.study.model_copy(update={"days": 1, "years": 1})
    refs1 = refs_of(one_day)
    warm = [
        CandidateTask(
            **{
                **t.model_dump(),
                "settings": one_day,
                "references": tuple(StatusQuo.from_row(r, t.candidate.enterprise) for r in refs1),
            }
        )
        for t in work
    ]
    return work, warm


def _timed(executor, work, warm) -> tuple[float, float, float, float]:
    """(start-up + warm-up s, candidates' wall s, mean task s inside a worker, cores used:
    the workers' CPU seconds over the wall seconds)."""
    from twin.study.execute import BASE_COLUMNS, TaskRunner
    from twin.study.store import ResultTable
    from twin.study.tasks import CANDIDATE_COLUMNS, run_candidate

    cols = {**BASE_COLUMNS, **CANDIDATE_COLUMNS}
    with tempfile.TemporaryDirectory() as tmp:
        runner = TaskRunner(executor)
        t0 = time.perf_counter()
        runner.add(
            run_candidate, warm[: 2 * executor.workers], ResultTable(Path(tmp) / "w.csv", cols)
        )
        runner.run()
        t1 = time.perf_counter()
        table = ResultTable(Path(tmp) / "r.csv", cols)
        runner.add(run_candidate, work, table)
        counts = runner.run()
        t2 = time.perf_counter()
        frame = table.frame()
        task_s = float(frame["run_seconds"].mean())
        cpu_s = float(frame["cpu_seconds"].sum())
    if counts.failed:
        raise SystemExit(f"{counts.failed} candidates failed")
    return t1 - t0, t2 - t1, task_s, cpu_s / (t2 - t1)


def _empty_tasks(executor, n: int = 200) -> float:
    from twin.study.execute import BASE_COLUMNS, TaskRunner
    from twin.study.store import ResultTable

    with tempfile.TemporaryDirectory() as tmp:
        table = ResultTable(Path(tmp) / "t.csv", BASE_COLUMNS)
        runner = TaskRunner(executor)
        runner.add(empty, [EmptyTask(-i - 1) for i in range(2 * executor.workers)], table)
        runner.run()
        t0 = time.perf_counter()
        runner.add(empty, [EmptyTask(i) for i in range(n)], table)
        runner.run()
        return (time.perf_counter() - t0) / n


def _store_append(n: int = 200) -> float:
    from twin.study.execute import BASE_COLUMNS
    from twin.study.store import ResultTable
    from twin.study.tasks import CANDIDATE_COLUMNS

    with tempfile.TemporaryDirectory() as tmp:
        table = ResultTable(Path(tmp) / "t.csv", {**BASE_COLUMNS, **CANDIDATE_COLUMNS})
        t0 = time.perf_counter()
        for i in range(n):
            table.append({"key": f"k{i}", "status": "ok", "npv_yuan": 1.0 * i, "units": 4})
        table.flush()
        return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--candidates", type=int, default=6)
    ap.add_argument("--years", type=int, default=1)
    args = ap.parse_args()
    from distributed import LocalCluster

    from twin.study.execute import DaskExecutor, LocalExecutor

    console = Console()
    load0 = os.getloadavg()[0]
    work, warm = _tasks(args.days, args.candidates, args.years)
    n = len(work)
    console.print(
        f"example study: {n} candidates x {args.years} year(s) of {args.days} days; "
        f"load average {load0:.1f} on {os.cpu_count()} cores"
    )
    rows = []
    for label, make in (
        ("local (reference)", lambda: LocalExecutor(1)),
        ("local", lambda: LocalExecutor(2)),
    ):
        ex = make()
        start, wall, task_s, cores = _timed(ex, work, warm)
        ex.close(cancel=False)
        rows.append((label, ex.workers, start, wall, task_s, cores))
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        t0 = time.perf_counter()
        ex = DaskExecutor(cluster.scheduler_address)
        connect = time.perf_counter() - t0
        start, wall, task_s, cores = _timed(ex, work, warm)
        rows.append(("Dask LocalCluster", ex.workers, start + connect, wall, task_s, cores))
        dask_task = _empty_tasks(ex)
        ex.close(cancel=False)
    ex = LocalExecutor(2)
    local_task = _empty_tasks(ex)
    ex.close(cancel=False)
    store = _store_append()

    t = Table(title="twin expand: candidates (steady state, after the start-up)")
    cols = ("path", "workers", "start-up s", "wall s", "task s", "cores used", "cand/min", "vs 1")
    for col in cols:
        t.add_column(col, justify="left" if col == "path" else "right")
    rate1 = n / rows[0][3] * 60
    for label, w, start, wall, task_s, cores in rows:
        rate = n / wall * 60
        t.add_row(
            label,
            str(w),
            f"{start:.1f}",
            f"{wall:.1f}",
            f"{task_s:.2f}",
            f"{cores:.2f}",
            f"{rate:.1f}",
            f"{rate / rate1:.2f}",
        )
    console.print(t)
    rate2 = n / rows[1][3] * 60
    console.print(
        f"scaling efficiency, 2 local workers: {rate2 / rate1 / 2 * 100:.0f} % (aim >= 85 %); "
        f"a candidate's own time (task s) went {rows[0][4]:.2f} -> {rows[1][4]:.2f} s from 1 to "
        "2 workers: that ratio is what the cores left to us allowed"
    )
    o = Table(title="per-candidate overhead: Dask path against the local path")
    for col in ("measure", "local", "Dask", "Dask - local"):
        o.add_column(col, justify="left" if col == "measure" else "right")
    per_l, per_d = rows[1][3] / n, rows[2][3] / n
    o.add_row(
        "candidate wall, 2 workers [s]", f"{per_l:.2f}", f"{per_d:.2f}", f"{per_d - per_l:+.2f}"
    )
    o.add_row(
        "empty task, table row incl. [ms]",
        f"{local_task * 1e3:.1f}",
        f"{dask_task * 1e3:.1f}",
        f"{(dask_task - local_task) * 1e3:+.1f}",
    )
    o.add_row("table append alone [ms/row]", f"{store * 1e3:.2f}", "", "")
    console.print(o)
    console.print(
        f"[dim]load average {load0:.1f} -> {os.getloadavg()[0]:.1f}: the machine is shared, "
        "timings are noisy[/]"
    )


if __name__ == "__main__":
    main()
