"""What a run says in words and tables: the comparison with the published figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from twin.summary import RunSummary

LABELS = {
    "nameplate_kwh": ("nameplate", "kWh"),
    "charge_kwh_per_day": ("charged per day (AC)", "kWh"),
    "discharge_kwh_per_day": ("discharged per day (AC)", "kWh"),
    "savings_yuan_per_year": ("savings per year", "yuan"),
}


def published_note(summary: RunSummary, technology: str = "lfp") -> list[str]:
    """Sentences that explain each deviation beyond the target (empty if none, or no data);
    `technology` is the first project's units' in this run (the battery or the compressed-air
    reading of the report)."""
    from twin.assumptions import assumptions

    pub = summary.published
    if pub is None:
        return []
    if not pub.comparable:
        sc = summary.scenario
        return [
            f"This run is not the published project's year ({summary.days:g} days from"
            f" {sc.start.isoformat()}, strategy {sc.strategy}, {len(summary.unit_names)} units):"
            " the deviations above are no check of the twin; run `twin run` without options."
        ]
    target = pub.target_deviation
    eta = assumptions().economics.one_way_efficiency
    notes = []
    sav = pub.savings_yuan_per_year
    dis = pub.discharge_kwh_per_day
    out_per_year = dis.twin * 365.0
    if abs(sav.deviation) > target and out_per_year > 0:
        gross = summary.gross_discharge_value_yuan_per_year
        pub_per_kwh = sav.published / (dis.published * 365.0)
        net_per_kwh = sav.twin / out_per_year
        gross_per_kwh = gross / out_per_year
        scale = dis.published / dis.twin
        between = sav.twin * scale < sav.published <= gross * scale * 1.15
        reading = (
            " the published number reads like a gross figure (discharge x peak price), not a"
            " bill difference."
            if between
            else " the published number matches neither."
        )
        notes.append(
            f"Savings are {sav.deviation:+.0%} from the published 'nearly 4 M yuan'. That"
            f" figure is {pub_per_kwh:.2f} yuan per kWh discharged (at 10,000 kWh/day). The"
            f" twin bills the host with and without storage: its saving is"
            f" {net_per_kwh:.2f} yuan/kWh, net of the valley energy bought to charge and of the"
            f" losses, while its discharged energy is worth {gross_per_kwh:.2f} yuan/kWh at the"
            f" price in force. At the published throughput the gross value would be"
            f" {gross * scale / 1e6:.2f} M yuan/yr ({gross * scale / sav.published - 1:+.0%})"
            f" and the bill saving {sav.twin * scale / 1e6:.2f} M"
            f" ({sav.twin * scale / sav.published - 1:+.0%}):{reading} Prices: tariff"
            f" scheme(s) {', '.join(summary.tariff_schemes)} at the policy's ratios on the"
            f" documented default flat price (profiles/data, each figure with its source and"
            f" confidence); basic charge by {summary.basic_charge}; availability"
            f" {summary.availability['achieved']:.1%}. Nothing is tuned to the published"
            f" figure: the sensitivity table shows what each assumption moves."
        )
    for key in ("charge_kwh_per_day", "discharge_kwh_per_day"):
        row = pub.figure(key)
        if abs(row.deviation) > target:
            label = LABELS[key][0]
            dod = dis.published / (2.0 * pub.nameplate_kwh.twin * eta)
            if technology == "caes":
                notes.append(_caes_throughput_note(summary, label, row.deviation))
                continue
            notes.append(
                f"{label[0].upper() + label[1:]} is {row.deviation:+.0%} from the published"
                f" ~10,000 kWh/day. The twin cycles twice a day through the cabins' whole"
                f" 5-95 % SOC window at their 0.5 C limit on the days they are available"
                f" ({summary.availability['achieved']:.1%}):"
                f" {pub.charge_kwh_per_day.twin:,.0f} kWh in, {dis.twin:,.0f} kWh out"
                f" (round trip {summary.round_trip_efficiency:.1%} at the PCS,"
                f" {summary.round_trip_efficiency_at_meter:.1%} at the meter), i.e."
                f" {summary.equivalent_full_cycles_per_year:.0f} equivalent full cycles a year"
                f" against ~{summary.comparable_project['equivalent_full_cycles_per_year']:.0f}"
                f" reported by a comparable Zhejiang project. 10,000 kWh out a day would be a"
                f" usable depth of ~{dod:.0%} per cycle (10,000 / (2 x nameplate x"
                f" {eta:.2f})): a narrower window in operation, or days with one cycle. The twin"
                f" keeps the datasheet window and does not tune it to the figure."
            )
    return notes


def _signed_parts(s: RunSummary) -> str:
    """The savings' three parts as a sum that reads to the total: "a + b - c" [yuan/yr]."""
    parts = (
        s.savings_energy_yuan_per_year,
        s.savings_demand_yuan_per_year,
        s.savings_power_factor_yuan_per_year,
    )
    text = f"{parts[0]:,.0f}"
    for v in parts[1:]:
        text += f" - {-v:,.0f}" if v < 0 else f" + {v:,.0f}"
    return text


def print_run(result, out: Path | None, console: Console) -> None:
    """The terminal summary of a run: KPIs, the published comparison, the note."""
    s = result.summary
    kpi = Table(title="Twin run", show_header=False, box=None)
    kpi.add_column("key", style="bold")
    kpi.add_column("value", justify="right")
    sc = result.scenario
    kpi.add_row("period", f"{sc.start} + {s.days:g} days at {s.interval_s:g} s")
    kpi.add_row(
        "strategy / storage",
        f"{sc.strategy} / {len(s.unit_names)} units, "
        f"{s.nameplate_kwh:,.0f} kWh at {', '.join(s.host_names)}",
    )
    kpi.add_row(
        "charged / discharged per day",
        f"{s.charge_kwh_per_day:,.0f} / {s.discharge_kwh_per_day:,.0f} kWh",
    )
    kpi.add_row(
        "savings per year (energy + basic + power factor)",
        f"{s.savings_yuan_per_year:,.0f} yuan ({_signed_parts(s)})",
    )
    kpi.add_row(
        "round trip: PCS (with aux) / meter (with aux)",
        f"{s.round_trip_efficiency:.1%} ({s.round_trip_efficiency_with_aux:.1%}) / "
        f"{s.round_trip_efficiency_at_meter:.1%} "
        f"({s.round_trip_efficiency_at_meter_with_aux:.1%})",
    )
    comp = s.comparable_project["equivalent_full_cycles_per_year"]
    kpi.add_row(
        "cycles / SOH at end",
        f"{s.equivalent_full_cycles:.0f} EFC ({s.equivalent_full_cycles_per_year:.0f}/yr;"
        f" comparable project ~{comp:.0f}/yr) / {s.soh_end:.3f}",
    )
    kpi.add_row(
        "availability / basic charge / schemes",
        f"{s.availability['achieved']:.1%} / {s.basic_charge} / {', '.join(s.tariff_schemes)}",
    )
    kpi.add_row("max export at a host meter", f"{s.max_export_kw:.0f} kW")
    guards = ", ".join(f"{k} {v}" for k, v in s.guard_interventions.items() if v) or "none"
    kpi.add_row("guard interventions", guards)
    kpi.add_row(
        "voltage / overload violations",
        f"{s.voltage_violations} / {s.overload_violations} intervals "
        f"(V {s.v_min_pu:.3f}..{s.v_max_pu:.3f} p.u.)",
    )
    if s.grid_guard is not None:
        g = s.grid_guard
        kpi.add_row(
            "grid-aware guard",
            f"cut {g.interventions} periods, {g.curtailed_kwh:,.0f} kWh curtailed; "
            f"violations caused by storage: {g.caused_violations}",
        )
    kpi.add_row("run time", f"{s.run_seconds:.1f} s")
    console.print(kpi)
    pub = s.published
    if pub is not None:
        t = Table(title="First storage project: twin vs published")
        t.add_column("figure")
        t.add_column("published", justify="right")
        t.add_column("twin", justify="right")
        t.add_column("deviation", justify="right")
        for key, (label, unit) in LABELS.items():
            row = pub.figure(key)
            dev = row.deviation
            style = "green" if abs(dev) <= pub.target_deviation else "yellow"
            t.add_row(
                f"{label} [{unit}]",
                f"{row.published:,.0f}",
                f"{row.twin:,.0f}",
                f"[{style}]{dev:+.1%}[/]",
            )
        console.print(t)
        for line in s.note:
            console.print(f"[yellow]note:[/] {line}", soft_wrap=False)
    sens = s.sensitivity
    if sens:
        t = Table(title=f"Savings per year: one input changed ({sens['method']})")
        for col in ("factor", "value"):
            t.add_column(col)
        for col in ("savings [yuan/yr]", "vs base", "discharged [kWh/day]", "EFC/yr", "avail."):
            t.add_column(col, justify="right")
        for r in sens["rows"]:
            t.add_row(
                r["factor"],
                r["value"],
                f"{r['savings_yuan_per_year']:,.0f}",
                f"{r['change_from_base']:+.0%}",
                f"{r['discharge_kwh_per_day']:,.0f}",
                f"{r['equivalent_full_cycles_per_year']:.0f}",
                f"{r['availability']:.1%}",
            )
        console.print(t)
        now = sens["today_scheme"]
        console.print(
            f"under the scheme in force today ({now['scheme']}, {now['date']}) the same plant"
            f" saves {now['savings_yuan_per_year']:,.0f} yuan/yr (base"
            f" {now['base_savings_yuan_per_year']:,.0f}, same method)",
            highlight=False,
        )
    if out is not None:
        console.print(f"written: {out}/summary.json, units/*.parquet, meters/*.parquet, *.png")


def print_spread(spread, console: Console) -> None:
    """The spread of a run over its samples, and the published figures against its band."""
    t = Table(title=f"Spread over {spread.samples} samples (seed {spread.seed})")
    t.add_column("figure")
    for col in ("P10", "P50", "P90"):
        t.add_column(col, justify="right")
    for label, p, fmt in (
        ("savings per year [yuan]", spread.savings_yuan_per_year, "{:,.0f}"),
        ("equivalent full cycles [-]", spread.equivalent_full_cycles, "{:.0f}"),
        ("SOH at end [-]", spread.soh_end, "{:.4f}"),
    ):
        t.add_row(label, fmt.format(p.p10), fmt.format(p.p50), fmt.format(p.p90))
    console.print(t)
    if spread.published:
        b = Table(title="First storage project: published vs the twin's P10..P90")
        b.add_column("figure")
        b.add_column("published", justify="right")
        b.add_column("twin P10 .. P90", justify="right")
        b.add_column("published inside", justify="right")
        b.add_column("P50 deviation", justify="right")
        for key, (label, unit) in LABELS.items():
            band = spread.published[key]
            style = "green" if band.inside else "yellow"
            dev = band.twin.p50 / band.published - 1.0
            dev_style = "green" if abs(dev) <= spread.target_deviation else "yellow"
            b.add_row(
                f"{label} [{unit}]",
                f"{band.published:,.0f}",
                f"{band.twin.p10:,.0f} .. {band.twin.p90:,.0f}",
                f"[{style}]{'yes' if band.inside else 'no'}[/]",
                f"[{dev_style}]{dev:+.1%}[/]",
            )
        console.print(b)
        if not spread.comparable:
            console.print(
                "[yellow]note:[/] this run is not the published project's year: the band is no"
                " check of the twin."
            )
    console.print("uncertain inputs: " + ", ".join(spread.inputs) + " (ranges in spread.json)")
    console.print("written: spread.json (percentiles, bands, sources), samples.csv (one row each)")


def _caes_throughput_note(summary: RunSummary, label: str, deviation: float) -> str:
    """The throughput deviation of the compressed-air reading of the first project."""
    pub = summary.published
    ch, dis = pub.charge_kwh_per_day.twin, pub.discharge_kwh_per_day.twin
    return (
        f"{label[0].upper() + label[1:]} is {deviation:+.0%} from the published ~10,000"
        f" kWh/day. Read as compressed-air units, the three units fill their air stores in"
        f" the valley and empty them at the peak on the days they are available"
        f" ({summary.availability['achieved']:.1%}): {ch:,.0f} kWh in, {dis:,.0f} kWh out"
        f" (round trip {summary.round_trip_efficiency:.1%} at the machines), i.e."
        f" {summary.equivalent_full_cycles_per_year:.0f} full cycles a year. Charging takes"
        f" {ch / max(dis, 1e-9):.1f} kWh per kWh given back and the compressors need hours to"
        f" fill the stores, so the valleys hold about one cycle a day: the published 'charge"
        f" and discharge about 10,000 kWh a day' (in about equal to out) fits a battery's"
        f" round trip, not this one. The twin does not tune the units to the figure."
    )
