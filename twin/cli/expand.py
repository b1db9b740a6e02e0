"""`twin expand STUDY.toml --out DIR`: rank where and how much storage to add.

Thin: the options become a validated study, `twin.study.run_study` does the work (local
worker processes, or a Dask cluster with ``--scheduler``), and the results are printed
with rich. Stopping it (Ctrl-C) loses nothing: run the same command again to resume.
"""

from __future__ import annotations

from pathlib import Path

import typer

from twin.cli.common import check_range, console, err_console, output_dir

app = typer.Typer(add_completion=False)


@app.command("expand")
def expand(
    study_file: Path = typer.Argument(..., metavar="STUDY.toml", help="The study file (TOML)."),
    out: Path = typer.Option(..., "--out", help="Folder of the results (resumed if it exists)."),
    days: int | None = typer.Option(
        None, "--days", help="Simulate only N days of each year (a quick look)."
    ),
    samples: int | None = typer.Option(
        None,
        "--samples",
        help="Samples of the study's [uncertainty] (default: its samples = N; 0: none).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Local worker processes (default: one per core)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Run on an existing Dask cluster: tcp://HOST:PORT."
    ),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Run candidates that failed before again."
    ),
    top: int = typer.Option(20, "--top", help="Rows of the ranked table to print."),
    check: bool = typer.Option(
        False, "--check", help="Check the study file, options and OUT; run nothing."
    ),
) -> None:
    """Run an expansion study: every candidate a closed-loop twin run over the years; rank them."""
    from parktwin.errors import InputError
    from twin.study import load_study, plan_study
    from twin.study.execute import check_scheduler_address
    from twin.study.progress import StudyProgress
    from twin.study.report import (
        candidates_table,
        failures,
        hosting_table,
        nominal_outliers,
        reinforcement_table,
    )
    from twin.study.runner import run_plan

    # Everything is checked before anything is written: a refused start leaves no trace
    # that would make the corrected command look like a resume with other settings.
    check_range(days, "--days", 1, 366)
    check_range(workers, "--workers", 1, 4096)
    check_range(top, "--top", 0, 1_000_000)
    if workers is not None and scheduler is not None:
        raise InputError("--workers: not with --scheduler (the Dask cluster has its workers)")
    if scheduler is not None:
        check_scheduler_address(scheduler)
    check_range(samples, "--samples", 0, 10_000)
    plan = plan_study(load_study(study_file).with_days(days).with_samples(samples))
    unc = plan.study.uncertainty
    n_samples = unc.samples if unc is not None else 0
    output_dir(out, "--out", resumable=True)
    if check:
        console.print(
            f"ok: {plan.study.study.name}: {len(plan.candidates)} candidates,"
            f" {len(plan.hosting)} hosting bisections, {n_samples} samples -> {out}",
            highlight=False,
        )
        return
    where = f"the Dask cluster at {scheduler}" if scheduler else "local workers"
    err_console.print(
        f"[bold]{plan.study.study.name}[/]: {len(plan.candidates)} candidates, "
        f"{len(plan.hosting)} hosting bisections, {plan.study.study.years} year(s) of "
        f"{plan.study.study.days} days each"
        + (f", {n_samples} samples of each" if n_samples else "")
        + f", on {where} -> {out}",
        highlight=False,
    )
    result = run_plan(
        plan,
        out,
        workers=workers,
        scheduler=scheduler,
        retry_failed=retry_failed,
        progress_factory=lambda: StudyProgress(console=err_console, description="tasks"),
    )
    c = result.counts
    if not result.reinforcement.empty:
        console.print(reinforcement_table(result.reinforcement))
    console.print(candidates_table(result.results, top=top))
    if not result.hosting.empty:
        console.print(hosting_table(result.hosting))
    for line in nominal_outliers(result.results, result.samples, plan.study.study.days):
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    console.print(
        f"{c.done} run ({c.failed} failed), {c.skipped} already done; "
        f"{result.workers} worker(s). Results: {out / 'results.parquet'} and .csv"
        + ("; spread.csv and samples.csv" if n_samples else "")
        + "; "
        f"figures: {', '.join(p.name for p in result.figures) or 'none'}"
    )
    failed = [
        *failures(result.status_quo),
        *failures(result.results),
        *failures(result.hosting),
        *failures(result.status_quo_samples),
        *failures(result.reinforcement),
        *failures(result.samples),
    ]
    for line in failed:
        err_console.print(f"[red]failed:[/] {line}", highlight=False, soft_wrap=True)
    if failed:
        err_console.print("[yellow]--retry-failed runs the failed ones again[/]")
