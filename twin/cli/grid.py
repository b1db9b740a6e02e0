"""`twin grid`: the park's feeders: show the network and its ratings, export it to pandapower."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from twin.cli.common import console

app = typer.Typer(
    help="The park's 10 kV feeders: show ratings, export the pandapower model.",
    no_args_is_help=True,
)

_SITE_HELP = "Site file (TOML); default: the shipped park."


def _site(path: Path | None):
    from grid import default_site, load_site

    return default_site() if path is None else load_site(path)


def _table(*columns: str, title: str | None = None) -> Table:
    """A compact table whose first column (the name) is never cut."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for k, c in enumerate(columns):
        if k == 0 or c in _KEEP:
            t.add_column(c, no_wrap=True, min_width=max(len(c), 8))
        else:
            t.add_column(c, justify="left" if c in _TEXT else "right", overflow="fold")
    return t


_KEEP = {"unit type", "type", "cable"}  # values that must stay readable whole
_TEXT = {"type", "voltage", "cable", "industry", "feeder", "connection", "enterprise", "unit type"}


def _f(x: float | None, fmt: str = ".0f") -> str:
    return "-" if x is None else format(x, fmt)


@app.command("show")
def show(
    site: Path = typer.Option(None, "--site", help=_SITE_HELP),
) -> None:
    """Print the substation, feeders, enterprises and storage with their ratings."""
    from grid.describe import describe_site

    s = _site(site)
    d = describe_site(s)
    console.print(f"[bold]{s.name}[/] ({s.latitude:g} N, {s.longitude:g} E)")

    t = _table("transformer", "type", "MVA", "voltage", "uk %", "tap", "sum of peaks MVA")
    for r in d.substation:
        t.add_row(
            r["name"],
            r["type"],
            _f(r["rating_mva"], ".0f"),
            r["voltage"],
            _f(r["vk_percent"], ".1f"),
            str(r["tap_pos"]),
            _f(r["peak_mva"], ".1f"),
        )
    console.print(t)

    t = _table(
        "feeder",
        "section",
        "cable",
        "km",
        "rating MVA",
        "ent.",
        "peak MVA",
        "at peak %",
        "ESS kVA",
        title="10 kV feeders (loading = sum of peaks, no diversity)",
    )
    for r in d.feeders:
        t.add_row(
            r["name"],
            str(r["section"]),
            r["cable"],
            _f(r["length_km"], ".1f"),
            _f(r["rating_mva"], ".1f"),
            str(r["enterprises"]),
            _f(r["peak_mva"], ".1f"),
            _f(r["loading_at_peak_pct"], ".0f"),
            _f(r["storage_kva"]),
        )
    console.print(t)

    t = _table(
        "enterprise",
        "industry",
        "feeder",
        "connection",
        "peak kW",
        "mean kW",
        "PV kWp",
        "trafo at peak %",
        "ESS kVA",
        title="Enterprises (PCC = their 10 kV bus)",
    )
    for r in d.enterprises:
        t.add_row(
            r["name"],
            r["industry"],
            r["feeder"],
            r["connection"],
            _f(r["peak_kw"]),
            _f(r["mean_kw"]),
            _f(r["pv_kwp"]),
            _f(r["trafo_loading_at_peak_pct"]),
            _f(r["storage_kva"]),
        )
    console.print(t)

    t = _table(
        "storage",
        "enterprise",
        "unit type",
        "units",
        "MWh",
        "PCS kVA",
        "trafo kVA",
        "AC kV",
        "year",
        title="Storage (one PCS + step-up transformer per unit)",
    )
    for r in d.storage:
        t.add_row(
            r["name"],
            r["enterprise"],
            r["unit_type"],
            str(r["count"]),
            _f(r["energy_mwh"], ".2f"),
            _f(r["pcs_kva"]),
            _f(r["trafo_kva"]),
            _f(r["ac_kv"], ".2f"),
            str(r["commissioned"]),
        )
    console.print(t)
    tot = d.totals
    console.print(
        f"{tot['enterprises']} enterprises on {tot['feeders']} feeders, sum of peaks"
        f" {tot['peak_kw_sum'] / 1000:.1f} MW, {tot['annual_mwh'] / 1000:.0f} GWh/yr, PV"
        f" {tot['pv_kwp'] / 1000:.1f} MWp; storage {tot['storage_units']} units,"
        f" {tot['storage_mwh']:.1f} MWh, {tot['storage_pcs_kva'] / 1000:.2f} MVA PCS"
    )


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="pandapower JSON file to write."),
    site: Path = typer.Option(None, "--site", help=_SITE_HELP),
) -> None:
    """Write the park's pandapower net (peak-load snapshot) as JSON for other tools."""
    from grid.network import export_json
    from twin.cli.common import output_file

    output_file(out, "--out")
    path = export_json(_site(site), out)
    console.print(f"wrote {path} (load with pandapower.from_json)")
