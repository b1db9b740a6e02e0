"""`twin run`: one closed-loop run of the park; no arguments = the first storage project."""

from __future__ import annotations

from pathlib import Path

import typer

from parktwin.billing import BILLING_BASES
from parktwin.errors import InputError
from twin.cli.common import (
    check_range,
    check_seed,
    console,
    err_console,
    output_dir,
    parse_date,
)


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
    billing: str | None = typer.Option(
        None,
        "--billing",
        help="Basic charge of every host: capacity, demand or contract (default: the site "
        "file's per enterprise, else capacity).",
    ),
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help="CSV of the grid company's monthly agency-purchase prices "
        "(month,purchase_yuan_per_kwh,...; see docs/economics.md).",
    ),
    storage_in_capacity_base: bool | None = typer.Option(
        None,
        "--storage-in-capacity-base/--storage-not-in-capacity-base",
        help="Count the storage transformers in a capacity-billed host's kVA.",
    ),
    with_sensitivity: bool = typer.Option(
        True,
        "--sensitivity/--no-sensitivity",
        help="Add the table of variants (each basic-charge basis, availability, each tariff "
        "scheme; quick runs on the copper plate at 1-h steps).",
    ),
    out: Path = typer.Option(Path("twin-run"), "--out", help="Output folder."),
    max_memory: float = typer.Option(
        2.0, "--max-memory", help="Refuse a run estimated to need more memory than this [GB]."
    ),
    samples: int | None = typer.Option(
        None,
        "--samples",
        help="Also run N samples of the uncertain inputs (twin/data/uncertainty.toml) and"
        " give P10/P50/P90 of savings, cycles and SOH (spread.json, samples.csv in OUT).",
    ),
    uncertainty: Path | None = typer.Option(
        None,
        "--uncertainty",
        help="TOML file of the uncertain inputs' ranges (default: twin/data/uncertainty.toml).",
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Check the scenario, options and OUT; print the run's size; run nothing.",
    ),
) -> None:
    """Run the twin: storage physics, feeders and tariff in closed loop under a strategy.

    With no options: the built-in park with its first storage project (3 units at
    Xinsheng), 2025 at 15-min steps, time-of-use strategy; the result is printed beside the
    published figures and written to OUT (summary.json, Parquet series, PNG figures).
    OUT is replaced as a whole at the end: an interrupted or failed run leaves the previous
    OUT as it was.
    """
    from twin.budget import check_run_memory
    from twin.scenario import default_scenario, load_scenario

    check_seed(seed)
    check_range(days, "--days", 1, 366 * 30)
    check_range(step, "--step", 0.1, 3600.0, " s")
    check_range(samples, "--samples", 1, 10_000)
    check_range(max_memory, "--max-memory", 0.0, 1e6, " GB", above=True)
    sc = load_scenario(scenario) if scenario is not None else default_scenario()
    update: dict = {}
    if site is not None:
        update["site"] = site.resolve()
        if scenario is None:
            update["storage_groups"] = None  # a user's site: all of its storage
    if start is not None:
        update["start"] = parse_date(start, "--start")
        from profiles.coverage import check_covered

        check_covered(update["start"], days or sc.days, "--start")
    if billing is not None:
        if billing not in BILLING_BASES:
            raise InputError(
                f"--billing: expected one of {', '.join(BILLING_BASES)}, got {billing!r}"
            )
        update["basic_charge"] = billing
    if prices is not None:
        if not prices.is_file():
            raise InputError(f"--prices: no such file {prices}")
        from profiles import read_agency_prices

        read_agency_prices(prices)  # a bad file stops here, before any work
        update["agency_prices"] = prices.resolve()
    if storage_in_capacity_base is not None:
        update["storage_in_capacity_base"] = storage_in_capacity_base
    for key, value in (("days", days), ("step_s", step), ("strategy", strategy), ("seed", seed)):
        if value is not None:
            update[key] = value
    if update:
        sc = sc.model_copy(update=update).revalidated()
    if uncertainty is not None and samples is None:
        raise InputError("--uncertainty: needs --samples N")
    unc = None
    if samples is not None:
        from twin.spread import load_uncertainty

        unc = load_uncertainty(uncertainty)
    size = check_run_memory(sc, max_memory)
    output_dir(out, "--out", need_bytes=size.output_bytes)
    if check:
        console.print(
            f"ok: {sc.days} days from {sc.start} at {size.interval_s:g} s, {size.intervals:,}"
            f" intervals, about {size.memory_bytes / 1e9:.1f} GB of memory and"
            f" {size.output_bytes / 1e6:,.0f} MB of output at most -> {out}"
            + (f"; then {samples} samples of the same size" if samples else ""),
            highlight=False,
        )
        return
    # A line from the first second: building the grid model, the inputs and (first time)
    # compiling the kernels take a while before the progress bar of the run itself.
    err_console.print(
        f"twin run: {sc.days} days at {size.interval_s:g} s ({size.intervals:,} intervals,"
        f" about {size.memory_bytes / 1e9:.1f} GB); building the park and its inputs...",
        highlight=False,
        soft_wrap=True,
    )
    progress = size.intervals > 5000
    from parktwin.jit import when_compiling

    with when_compiling(_say_compiling):
        _run(sc, out, progress, with_sensitivity, samples, unc)


def _say_compiling() -> None:
    err_console.print(
        "twin run: compiling the kernels (once after an install or an update: a minute or"
        " more; later runs load them from the cache)...",
        highlight=False,
        soft_wrap=True,
    )


def _run(sc, out: Path, progress: bool, with_sensitivity: bool, samples, unc) -> None:
    from twin.report import print_run
    from twin.run import run_scenario

    if samples is None:
        result = run_scenario(sc, out_dir=out, progress=progress, sensitivity=with_sensitivity)
        print_run(result, out, console)
        return
    from twin.report import print_spread
    from twin.run import write_outputs
    from twin.spread import run_samples

    result = run_scenario(sc, progress=progress, sensitivity=with_sensitivity)
    err_console.print(f"twin run: nominal run done; {samples} samples follow", highlight=False)

    def one(sample_sc):
        return run_scenario(sample_sc).summary

    def said(row) -> None:
        err_console.print(
            f"  sample {row.draw.sample + 1}/{samples}: savings"
            f" {row.savings_yuan_per_year:,.0f} yuan/yr, {row.equivalent_full_cycles:.0f} EFC,"
            f" SOH {row.soh_end:.4f}",
            highlight=False,
        )

    spread = run_samples(result.summary, samples, unc, one, on_sample=said)
    write_outputs(result, out, extra=spread.write)
    print_run(result, out, console)
    print_spread(spread, console)
