"""What a run says in words and tables: the comparison with the published figures."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

LABELS = {
    "nameplate_kwh": ("nameplate", "kWh"),
    "charge_kwh_per_day": ("charged per day (AC)", "kWh"),
    "discharge_kwh_per_day": ("discharged per day (AC)", "kWh"),
    "savings_yuan_per_year": ("savings per year", "yuan"),
}


def published_note(summary: dict) -> list[str]:
    """Sentences that explain each deviation beyond the target (empty if none, or no data)."""
    pub = summary.get("published") or {}
    if not pub:
        return []
    target = pub["target_deviation"]
    notes = []
    sav = pub["savings_yuan_per_year"]
    if abs(sav["deviation"]) > target:
        gross = summary["gross_discharge_value_yuan_per_year"]
        notes.append(
            f"Savings are {sav['deviation']:+.0%} from the published 'nearly 4 M yuan'. The"
            f" twin bills the host with and without storage, so the saving is net of the"
            f" energy bought to charge (valley price) and of the round-trip losses. The gross"
            f" value of the energy discharged, at the price in force, is {gross / 1e6:.2f} M"
            f" yuan/yr ({gross / sav['published'] - 1:+.0%} from the published figure): the"
            f" published number matches a gross figure (discharge x peak price) better than a"
            f" bill difference. Prices are the 2024-2026 Zhejiang agency-purchase tariff"
            f" (profiles/data, low-confidence prices); basic charge by"
            f" {summary['basic_charge']}, so the storage changes only the energy bill."
        )
    for key in ("charge_kwh_per_day", "discharge_kwh_per_day"):
        row = pub[key]
        if abs(row["deviation"]) > target:
            notes.append(
                f"{LABELS[key][0][0].upper() + LABELS[key][0][1:]} is {row['deviation']:+.0%} from the published"
                f" ~10,000 kWh/day: two full cycles a day of 3 x 2.236 MWh between 5 % and 95 %"
                f" SOC at the battery's 0.5 C limit move ~12 MWh of AC energy in (losses"
                f" included, round trip {summary['round_trip_efficiency']:.1%}) and"
                f" {pub['discharge_kwh_per_day']['twin']:,.0f} kWh out. The published figure is"
                f" a round number for one day's cycle; the twin does not tune its SOC window or"
                f" power to meet it."
            )
    return notes


def print_run(result, out: Path | None, console: Console) -> None:
    """The terminal summary of a run: KPIs, the published comparison, the note."""
    s = result.summary
    kpi = Table(title="Twin run", show_header=False, box=None)
    kpi.add_column("key", style="bold")
    kpi.add_column("value", justify="right")
    sc = result.scenario
    kpi.add_row("period", f"{sc.start} + {s['days']:g} days at {s['interval_s']:g} s")
    kpi.add_row(
        "strategy / storage",
        f"{sc.strategy} / {len(s['units'])} units, "
        f"{s['nameplate_kwh']:,.0f} kWh at {', '.join(s['hosts'])}",
    )
    kpi.add_row(
        "charged / discharged per day",
        f"{s['charge_kwh_per_day']:,.0f} / {s['discharge_kwh_per_day']:,.0f} kWh",
    )
    kpi.add_row(
        "savings per year (energy + basic)",
        f"{s['savings_yuan_per_year']:,.0f} yuan "
        f"({s['savings_energy_yuan_per_year']:,.0f} + {s['savings_demand_yuan_per_year']:,.0f})",
    )
    kpi.add_row(
        "round trip (AC / with aux)",
        f"{s['round_trip_efficiency']:.1%} / {s['round_trip_efficiency_with_aux']:.1%}",
    )
    kpi.add_row(
        "cycles / SOH at end", f"{s['equivalent_full_cycles']:.0f} EFC / {s['soh_end']:.3f}"
    )
    kpi.add_row("max export at a host meter", f"{s['max_export_kw']:.0f} kW")
    guards = ", ".join(f"{k} {v}" for k, v in s["guard_interventions"].items() if v) or "none"
    kpi.add_row("guard interventions", guards)
    kpi.add_row(
        "voltage / overload violations",
        f"{s['voltage_violations']} / {s['overload_violations']} intervals "
        f"(V {s['v_min_pu']:.3f}..{s['v_max_pu']:.3f} p.u.)",
    )
    kpi.add_row("run time", f"{s['run_seconds']:.1f} s")
    console.print(kpi)
    pub = s.get("published") or {}
    if pub:
        t = Table(title="First storage project: twin vs published")
        t.add_column("figure")
        t.add_column("published", justify="right")
        t.add_column("twin", justify="right")
        t.add_column("deviation", justify="right")
        for key, (label, unit) in LABELS.items():
            row = pub[key]
            dev = row["deviation"]
            style = "green" if abs(dev) <= pub["target_deviation"] else "yellow"
            t.add_row(
                f"{label} [{unit}]",
                f"{row['published']:,.0f}",
                f"{row['twin']:,.0f}",
                f"[{style}]{dev:+.1%}[/]",
            )
        console.print(t)
        for line in s.get("note", []):
            console.print(f"[yellow]note:[/] {line}", soft_wrap=False)
    if out is not None:
        console.print(f"written: {out}/summary.json, units/*.parquet, meters/*.parquet, *.png")
