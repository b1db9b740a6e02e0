"""`twin profiles`: a site's load and PV profiles, and checks of meter files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from parktwin.errors import InputError
from twin.cli.common import check_seed, console, output_file, parse_date

app = typer.Typer(help="Enterprise load and PV profiles; meter-file checks.", no_args_is_help=True)


@app.command("show")
def show(
    site: Path = typer.Option(None, "--site", help="Site file (TOML); default: the shipped park."),
    png: Path = typer.Option(None, "--png", help="Also plot the profiles to this PNG."),
    days: int = typer.Option(7, "--days", help="Length of the window in days (1..366)."),
    start: str = typer.Option("2024-07-08", "--start", help="First day, YYYY-MM-DD."),
    step: float = typer.Option(900.0, "--step", help="Step in seconds (60..3600)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the loads' noise and the weather."),
) -> None:
    """Per enterprise: load energy and peak, PV energy and peak, lowest net import."""
    import grid
    from profiles.figures import plot_profiles
    from profiles.site_profiles import enterprise_profiles, summary_rows

    if not 1 <= days <= 366:
        raise InputError(f"--days: expected 1..366, got {days}")
    if not 60 <= step <= 3600:
        raise InputError(f"--step: expected 60..3600 s, got {step:g}")
    first = parse_date(start, "--start")
    check_seed(seed)
    from profiles.coverage import check_covered

    check_covered(first, days, "--start")
    if png is not None:
        output_file(png, "--png")
    the_site = grid.load_site(site) if site is not None else grid.default_site()
    n = round(days * 86400 / step)
    with console.status("computing profiles..."):
        profiles = enterprise_profiles(
            the_site.enterprises,
            first,
            n,
            step,
            seed,
            latitude=the_site.latitude,
            longitude=the_site.longitude,
        )
    table = Table(
        "enterprise",
        "industry",
        "load MWh",
        "load peak kW",
        "PV MWh",
        "PV peak kW",
        "min net kW",
        title=f"{days} days from {first} (step {step:g} s, seed {seed})",
    )
    for r in summary_rows(profiles, step):
        table.add_row(
            r["name"],
            r["industry"],
            f"{r['load_mwh']:.1f}",
            f"{r['load_peak_kw']:.0f}",
            f"{r['pv_mwh']:.1f}",
            f"{r['pv_peak_kw']:.0f}",
            f"{r['net_min_kw']:.0f}",
        )
    console.print(table)
    if png is not None:
        console.print(f"wrote {plot_profiles(profiles, first, step, png)}")


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Meter CSV: timestamp,power_kw (or power_w, power_mw)."),
    label: str = typer.Option(
        "start", "--label", help="Timestamps mark the interval 'start' or 'end'."
    ),
) -> None:
    """Validate a meter file; print its resolution, span, energy and peak, or the error."""
    from profiles.meter import read_meter_csv

    m = read_meter_csv(file, label=label)
    res = f"{m.resolution_s / 60:g} min" if m.resolution_s >= 60 else f"{m.resolution_s:g} s"
    mean = "15-min" if m.resolution_s <= 900 else res  # the peak is of 15-min means
    console.print(
        f"{file}: resolution {res}, {m.n_steps} intervals, "
        f"{m.start:%Y-%m-%d %H:%M} to {m.end:%Y-%m-%d %H:%M} local "
        f"({m.span_s / 86400:.2f} days); import {m.energy_kwh:,.1f} kWh, export "
        f"{m.export_kwh:,.1f} kWh; peak {m.peak_kw:,.1f} kW ({mean} mean)",
        highlight=False,
        soft_wrap=True,
    )
