"""`twin run`: one closed-loop run of the park; no arguments = the first storage project."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.cli.common import console, parse_date


def run(
    scenario: Path | None = typer.Option(
        None, "--scenario", help="Scenario TOML file (any field of twin.scenario.Scenario)."
    ),
    site: Path | None = typer.Option(
        None, "--site", help="Site TOML file (default: built-in park)."
    ),
    start: str | None = typer.Option(None, "--start", help="First day, YYYY-MM-DD."),
    days: int | None = typer.Option(None, "--days", help="Number of days to simulate."),
    step: float | None = typer.Option(None, "--step", help="Physics step in seconds (0.1..3600)."),
    strategy: str | None = typer.Option(
        None, "--strategy", help="tou, peak_shaving, lp, idle, or module.path:ClassName."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of every random draw."),
    out: Path = typer.Option(Path("twin-run"), "--out", help="Output folder."),
) -> None:
    """Run the twin: storage physics, feeders and tariff in closed loop under a strategy.

    With no options: the built-in park with its first storage project (3 units at
    Xinsheng), 2025 at 15-min steps, time-of-use strategy; the result is printed beside the
    published figures and written to OUT (summary.json, Parquet series, PNG figures).
    """
    from twin.report import print_run
    from twin.run import run_scenario
    from twin.scenario import default_scenario, load_scenario

    sc = load_scenario(scenario) if scenario is not None else default_scenario()
    update: dict = {}
    if site is not None:
        update["site"] = site.resolve()
        if scenario is None:
            update["storage_groups"] = None  # a user's site: all of its storage
    if start is not None:
        update["start"] = parse_date(start, "--start")
    for key, value in (("days", days), ("step_s", step), ("strategy", strategy), ("seed", seed)):
        if value is not None:
            update[key] = value
    if update:
        sc = sc.model_copy(update=update).revalidated()
    progress = sc.n_steps // sc.plant_every > 5000
    result = run_scenario(sc, out_dir=out, progress=progress)
    print_run(result, out, console)
