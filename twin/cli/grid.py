"""`twin grid`: the park's feeders: show the network and its ratings, export it to pandapower."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from twin.cli.common import console

app = typer.Typer(
    help="The park's 10 kV feeders: show ratings, export the pandapower model, import your own.",
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
_TEXT = {
    "type",
    "voltage",
    "cable",
    "industry",
    "feeder",
    "connection",
    "enterprise",
    "unit type",
    "loads",
    "meter",
    "storage bus",
}


def _f(x: float | None, fmt: str = ".0f") -> str:
    return "-" if x is None else format(x, fmt)


@app.command("show")
def show(
    site: Path = typer.Option(None, "--site", help=_SITE_HELP),
) -> None:
    """Print the substation, feeders, enterprises and storage with their ratings."""
    from grid.describe import describe_site

    s = _site(site)
    if s.network is not None:
        _show_net_site(s)
        return
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

    _print_storage(d.storage)
    tot = d.totals
    console.print(
        f"{tot['enterprises']} enterprises on {tot['feeders']} feeders, sum of peaks"
        f" {tot['peak_kw_sum'] / 1000:.1f} MW, {tot['annual_mwh'] / 1000:.0f} GWh/yr, PV"
        f" {tot['pv_kwp'] / 1000:.1f} MWp; storage {tot['storage_units']} units,"
        f" {tot['storage_mwh']:.1f} MWh, {tot['storage_pcs_kva'] / 1000:.2f} MVA PCS"
    )


def _print_storage(rows: list[dict]) -> None:
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
    for r in rows:
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


def _show_net_site(s) -> None:
    """`show` for a site on its own net: the net, the enterprises' elements, the storage."""
    from grid.importer import describe_net_site

    d = describe_net_site(s)
    n = d.network
    console.print(f"[bold]{s.name}[/] ({s.latitude:g} N, {s.longitude:g} E)")
    kv = ", ".join(f"{v:g}" for v in n["voltages_kv"])
    console.print(
        f"network {n['file']}: {n['bus']} buses ({kv} kV), {n['line']} lines,"
        f" {n['trafo']} transformers, {n['trafo3w']} three-winding, {n['switch']} switches,"
        f" {n['load']} loads, {n['sgen']} sgens, {n['gen']} gens, {n['ext_grid']} ext_grids;"
        f" park exchange at {n['pcc']}"
    )
    from parktwin.limits import grid_limits

    lim = s.limits or grid_limits()
    console.print(
        f"limits{'' if s.limits else ' (ParkTwin defaults)'}: voltage {lim.v_min_pu:g}.."
        f"{lim.v_max_pu:g} p.u. on every bus of the net but the ext_grids', loading"
        f" {lim.loading_max_pct:g} %"
    )
    t = _table(
        "enterprise",
        "industry",
        "loads",
        "meter",
        "storage bus",
        "peak kW",
        "mean kW",
        "PV kWp",
        "ESS kVA",
        title="Enterprises (elements of the net; meter: the branch and end it reads)",
    )
    for r in d.enterprises:
        t.add_row(
            r["name"],
            r["industry"],
            r["loads"],
            r["meter"],
            r["storage_bus"],
            _f(r["peak_kw"]),
            _f(r["mean_kw"]),
            _f(r["pv_kwp"]),
            _f(r["storage_kva"]),
        )
    console.print(t)
    _print_storage(d.storage)
    tot = d.totals
    console.print(
        f"{tot['enterprises']} enterprises, sum of peaks {tot['peak_kw_sum'] / 1000:.1f} MW,"
        f" {tot['annual_mwh'] / 1000:.1f} GWh/yr, PV {tot['pv_kwp'] / 1000:.2f} MWp; storage"
        f" {tot['storage_units']} units, {tot['storage_pcs_kva'] / 1000:.2f} MVA PCS"
    )


@app.command("import")
def import_(
    net: Path = typer.Argument(
        ..., help="The net: pandapower JSON (.json) or a MATPOWER case (.m, .mat)."
    ),
    map_file: Path = typer.Option(
        ...,
        "--map",
        help="Mapping file (TOML): enterprises, meters, storage; see docs/grid-import.md.",
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Site folder to write (site.toml + net.json), or a site file NAME.toml (its net"
        " beside it as NAME.net.json).",
    ),
) -> None:
    """Make an engineer's own net the park: check the mapping against it and write a site
    that twin run --site, twin grid show --site and twin expand take."""
    from grid.importer import import_network
    from profiles.loads import natural_load_factor
    from twin.cli.common import output_dir, output_file

    if out.suffix.lower() == ".toml":
        output_file(out, "--out")
        output_file(out.with_name(f"{out.stem}.net.json"), "--out")
    else:
        output_dir(out, "--out")
    r = import_network(net, map_file, out, natural_load_factor)
    s = r.site
    console.print(
        f"wrote {r.site_file} and {r.net_file.name}: {r.buses} buses, {r.lines} lines,"
        f" {r.trafos} transformers; {len(s.enterprises)} enterprises,"
        f" {sum(g.count for g in s.storage)} storage units"
    )
    console.print(f"next: twin grid show --site {r.site_file}")
