"""`twin expand STUDY.toml --out DIR`: rank where and how much storage to add.

Thin: the options become a validated study, `twin.study.run_study` does the work (local
worker processes, or a Dask cluster with ``--scheduler``), and the results are printed
with rich. Stopping it (Ctrl-C) loses nothing: run the same command again to resume.
"""

from __future__ import annotations

from pathlib import Path

import typer

from twin.cli.common import console, err_console

app = typer.Typer(add_completion=False)


@app.command("expand")
def expand(
    study_file: Path = typer.Argument(..., metavar="STUDY.toml", help="The study file (TOML)."),
    out: Path = typer.Option(..., "--out", help="Folder of the results (resumed if it exists)."),
    days: int | None = typer.Option(
        None, "--days", help="Simulate only N days of each year (a quick look)."
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
) -> None:
    """Run an expansion study: every candidate a closed-loop twin run over the years; rank them."""
    from parktwin.errors import InputError
    from twin.study import load_study, run_study
    from twin.study.progress import StudyProgress
    from twin.study.report import candidates_table, hosting_table

    if days is not None and not 1 <= days <= 366:
        raise InputError(f"--days: expected 1..366, got {days}")
    if workers is not None and scheduler is not None:
        raise InputError("--workers: not with --scheduler (the Dask cluster has its workers)")
    study = load_study(study_file).with_days(days)
    where = f"Dask cluster {scheduler}" if scheduler else "local workers"
    err_console.print(f"[bold]{study.study.name}[/]: {study_file} -> {out} on {where}")
    result = run_study(
        study,
        out,
        workers=workers,
        scheduler=scheduler,
        retry_failed=retry_failed,
        progress_factory=lambda: StudyProgress(console=err_console, description="candidates"),
    )
    c = result.counts
    console.print(candidates_table(result.results, top=top))
    if not result.hosting.empty:
        console.print(hosting_table(result.hosting))
    console.print(
        f"{c.done} run ({c.failed} failed), {c.skipped} already done; "
        f"{result.workers} worker(s). Results: {out / 'results.parquet'} and .csv; "
        f"figures: {', '.join(p.name for p in result.figures) or 'none'}"
    )
    failed = int((result.results["status"] == "failed").sum()) if len(result.results) else 0
    if failed:
        err_console.print(
            f"[yellow]{failed} candidate(s) failed (see the error column); "
            "--retry-failed runs them again[/]"
        )
