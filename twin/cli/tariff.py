"""`twin tariff`: the Zhejiang time-of-use tariff of a day."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from twin.cli.common import console, parse_date

app = typer.Typer(
    help="Zhejiang time-of-use tariffs (large industry, 1-10 kV).", no_args_is_help=True
)

_STYLE = {
    "deep_valley": "cyan",
    "valley": "blue",
    "flat": "white",
    "peak": "yellow",
    "sharp": "red",
}


@app.command("show")
def show(
    date: str = typer.Option(..., "--date", help="Day to show, YYYY-MM-DD (local time)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print the day's period and price [yuan/kWh] of each hour, and the scheme in force."""
    from profiles.tariff import day_schedule, tariff_for

    day = parse_date(date, "--date")
    schedule = day_schedule(day)
    if as_json:
        typer.echo(json.dumps(schedule))
        return
    scheme = tariff_for(day)
    console.print(f"{day}: {scheme.title} ({scheme.name})", highlight=False)
    table = Table("hour", "period", "yuan/kWh")
    for row in schedule["hours"]:
        style = _STYLE[row["period"]]
        table.add_row(
            f"{row['hour']:02d}-{row['hour'] + 1:02d}",
            f"[{style}]{row['period']}[/]",
            f"{row['price_yuan_per_kwh']:.4f}",
        )
    console.print(table)
    console.print(
        f"demand charge {scheme.demand_charge_yuan_per_kw_month:g} yuan/kW-month "
        f"(max 15-min demand), or capacity charge "
        f"{scheme.capacity_charge_yuan_per_kva_month:g} yuan/kVA-month",
        highlight=False,
    )
