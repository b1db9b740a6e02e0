"""Ranking and the terminal tables of a study (rich)."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table


def ranked(results: pd.DataFrame) -> pd.DataFrame:
    """Candidates best first: those within every grid limit by NPV, then the flagged ones by
    NPV (flagged, not dropped), then the failed ones. Adds a 1-based ``rank`` column."""
    if results.empty:
        return results.assign(rank=pd.Series([], dtype="Int64"))
    ok = results["status"] == "ok"
    grid_ok = results["grid_ok"].astype("boolean").fillna(False).astype(bool)
    tier = (~ok).astype(int) * 2 + (ok & ~grid_ok).astype(int)
    npv = results["npv_yuan"].fillna(-math.inf)
    order = results.assign(_tier=tier, _npv=npv).sort_values(
        ["_tier", "_npv", "key"], ascending=[True, False, True], kind="mergesort"
    )
    order = order.drop(columns=["_tier", "_npv"]).reset_index(drop=True)
    return order.assign(rank=range(1, len(order) + 1))


def _m(x: float, scale: float = 1e6, fmt: str = "{:.2f}") -> str:
    return (
        "-"
        if x is None or (isinstance(x, float) and not math.isfinite(x))
        else fmt.format(x / scale)
    )


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}"


def _yrs(x: float) -> str:
    return "never" if x is None or not math.isfinite(x) else f"{x:.1f}"


def candidates_table(results: pd.DataFrame, top: int | None = 20) -> Table:
    """The ranked candidates (first `top`), with finance and the grid verdict."""
    r = ranked(results)
    t = Table(title="Expansion candidates, ranked", header_style="bold")
    for col, just in (
        ("#", "right"),
        ("enterprise", "left"),
        ("feeder", "left"),
        ("units", "left"),
        ("MWh", "right"),
        ("MW", "right"),
        ("strategy", "left"),
        ("savings M¥/yr", "right"),
        ("capex M¥", "right"),
        ("NPV M¥", "right"),
        ("IRR %", "right"),
        ("payback yr", "right"),
        ("SOH end", "right"),
        ("V min..max pu", "right"),
        ("load max %", "right"),
        ("export kW", "right"),
        ("guards", "right"),
        ("grid", "left"),
    ):
        t.add_column(col, justify=just)
    shown = r if top is None else r.head(top)
    for _, row in shown.iterrows():
        if row["status"] != "ok":
            t.add_row(
                str(row["rank"]),
                str(row["enterprise"]),
                str(row.get("feeder") or ""),
                f"{row['units']}x{row['unit_type']}",
                "",
                "",
                str(row["strategy"]),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                f"[red]failed: {row['error']}[/]",
            )
            continue
        load = max(row["line_loading_max_pct"], row["trafo_loading_max_pct"])
        grid = "[green]ok[/]" if row["grid_ok"] else f"[red]{row['grid_flags']}[/]"
        if row["grid_ok"] and row.get("added_violations"):
            grid = "[yellow]ok*[/]"
        t.add_row(
            str(row["rank"]),
            str(row["enterprise"]),
            str(row["feeder"]),
            f"{row['units']}x{row['unit_type']} {row['pcs_kva']:g}kVA",
            f"{row['e_kwh'] / 1000:.1f}",
            f"{row['p_kw'] / 1000:.1f}",
            str(row["strategy"]),
            _m(row["savings_yuan_per_year"]),
            _m(row["capex_yuan"]),
            _m(row["npv_yuan"]),
            _pct(row["irr"]),
            _yrs(row["simple_payback_years"]),
            f"{row['soh_end']:.3f}",
            f"{row['v_min_pu']:.3f}..{row['v_max_pu']:.3f}",
            f"{load:.0f}",
            f"{row['export_max_kw']:.0f}",
            f"{int(row['guard_interventions'] or 0)}",
            grid,
        )
    if top is not None and len(r) > top:
        t.caption = f"{len(r) - top} more in results.csv / results.parquet"
    return t


def hosting_table(hosting: pd.DataFrame) -> Table:
    """Hosting capacity of each enterprise bus, by feeder."""
    t = Table(title="Hosting capacity per enterprise bus", header_style="bold")
    for col in ("feeder", "enterprise", "units ok", "first bad", "MW", "MWh", "limited by"):
        t.add_column(
            col, justify="left" if col in ("feeder", "enterprise", "limited by") else "right"
        )
    if hosting.empty:
        return t
    for _, row in hosting.sort_values(["feeder", "enterprise"]).iterrows():
        if row["status"] != "ok":
            t.add_row(
                str(row["feeder"] or ""),
                str(row["enterprise"] or row["key"]),
                "",
                "",
                "",
                "",
                f"[red]failed: {row['error']}[/]",
            )
            continue
        ge = ">=" if row["at_least"] else ""
        first_bad = "-" if pd.isna(row["first_bad_units"]) else str(row["first_bad_units"])
        t.add_row(
            str(row["feeder"]),
            str(row["enterprise"]),
            f"{ge}{row['largest_ok_units']}",
            first_bad,
            f"{ge}{row['hosting_mw']:.1f}",
            f"{ge}{row['hosting_mwh']:.1f}",
            str(row["limited_by"] or ("max_units reached" if row["at_least"] else "")),
        )
    return t
