"""Ranking and the terminal tables of a study (rich)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from twin.study.fit import FITS, FITS_GRID_AWARE, OPEN, REINFORCE, reinforce_text

_TIERS = {FITS: 0, FITS_GRID_AWARE: 1, OPEN: 2, REINFORCE: 3}


def ranked(results: pd.DataFrame) -> pd.DataFrame:
    """Candidates best first, by their verdict (`twin.study.fit`): those that fit as
    dispatched by NPV, then those that fit grid-aware by their grid-aware NPV, then those
    whose grid-aware run was not made, then those that need reinforcement (by NPV as
    dispatched: flagged, not dropped), then the failed ones. Adds a 1-based ``rank``.

    With samples (a ``npv_p50_yuan`` column, `twin.study.samples`) the NPV as dispatched
    ranked by is the P50 over the samples (the nominal NPV where a candidate has none)."""
    if results.empty:
        return results.assign(rank=pd.Series([], dtype="Int64"))
    ok = results["status"] == "ok"
    if "verdict" in results:
        verdicts = results["verdict"]
    else:  # a table of grid flags only: fits or not
        grid_ok = results["grid_ok"].astype("boolean").fillna(False).astype(bool)
        verdicts = pd.Series(np.where(grid_ok, FITS, REINFORCE), index=results.index)
    tier = np.where(ok, verdicts.map(_TIERS).fillna(len(_TIERS)).astype(int), len(_TIERS) + 1)
    npv = results["npv_yuan"].astype(float)
    if "npv_p50_yuan" in results:
        npv = results["npv_p50_yuan"].astype(float).fillna(npv)
    aware = verdicts == FITS_GRID_AWARE
    if aware.any():
        npv = npv.where(~aware, results["aware_npv_yuan"].astype(float))
    npv = npv.fillna(-math.inf)
    order = results.assign(_tier=tier, _npv=npv).sort_values(
        ["_tier", "_npv", "key"], ascending=[True, False, True], kind="mergesort"
    )
    order = order.drop(columns=["_tier", "_npv"]).reset_index(drop=True)
    return order.assign(rank=range(1, len(order) + 1))


def verdict_text(row: pd.Series) -> str:
    """The verdict as the ranked table prints it: ``fits``, ``grid-aware`` (with what the
    guard costs), or ``reinforce`` with the elements and the year each breaks."""
    v = row["verdict"]
    if v == FITS:
        return "[green]fits[/]"
    if v == FITS_GRID_AWARE:
        cost = row["grid_aware_cost_yuan_per_year"]
        change = "-" if cost is None or not math.isfinite(cost) else f"{-cost / 1e6:+.2f}"
        return f"[yellow]grid-aware[/] ({change} M¥/yr)"
    where = reinforce_text(_table(row["reinforce_from_year"]))
    flags = row["grid_flags"] or ""
    on = row.get("fits_reinforced")
    after = " [green](fits the reinforced grid)[/]" if on is True or on == "true" else ""
    if v == OPEN:
        return f"[red]breaks as dispatched[/] {where or flags}{after}"
    return f"[red]reinforce[/] {where or flags}{after}"


def _table(cell) -> dict:
    """A JSON table cell as the frame holds it (text, a dict, or empty)."""
    if isinstance(cell, dict):
        return cell
    if isinstance(cell, str) and cell:
        return json.loads(cell)
    return {}


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


def _storage(row: pd.Series) -> str:
    units = int(row["units"])
    e_unit = row["e_kwh"] / units / 1000.0 if units and pd.notna(row.get("e_kwh")) else math.nan
    size = f"{e_unit:.1f}MWh" if math.isfinite(e_unit) else str(row["unit_type"])
    return f"{units}x{size}{_air(row['unit_type'])} {row['pcs_kva']:g}kVA"


def _air(unit_type: object) -> str:
    """ " air" for a compressed-air unit type (a study ranks both technologies), else ""."""
    from devices import load_unit_params
    from parktwin.errors import InputError

    try:
        return " air" if load_unit_params(str(unit_type)).technology == "caes" else ""
    except InputError:  # a unit-type file gone since the study ran: no tag
        return ""


def candidates_table(results: pd.DataFrame, top: int | None = 20) -> Table:
    """The ranked candidates (first `top`): size, finance as dispatched, and the verdict.

    The full detail (capex, the grid-aware run's figures, worst voltage and loadings,
    export, guard interventions, per-year savings and SOH) is in results.csv /
    results.parquet; failed candidates are listed by `failures`.
    """
    r = ranked(results)
    r = r[r["status"] == "ok"] if len(r) else r
    t = Table(
        title="Expansion candidates by verdict, then NPV",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        show_edge=False,
    )
    strategies = len(r) > 0 and r["strategy"].nunique() > 1
    sampled = "npv_p50_yuan" in r
    cols = ["#", "enterprise", "feeder", "storage", "strategy", "M¥/yr", "NPV M¥", "IRR%"]
    cols += ["payback"]
    if sampled:
        t.title = "Expansion candidates by verdict, then P50 NPV over the samples"
        cols += ["NPV P10/P50/P90 M¥", "IRR% P50", "payback P50", "P>sq", "P>next"]
    cols += ["aware NPV", "margin%", "verdict"]
    if not strategies:
        cols.remove("strategy")
    for col in cols:
        left = col in ("enterprise", "feeder", "storage", "strategy", "verdict")
        # names and flags fold rather than lose their ends to an ellipsis
        t.add_column(col, justify="left" if left else "right", overflow="fold")
    shown = r if top is None else r.head(top)
    for _, row in shown.iterrows():
        cells = {
            "#": str(row["rank"]),
            "enterprise": str(row["enterprise"]),
            "feeder": str(row["feeder"]),
            "storage": _storage(row),
            "strategy": str(row["strategy"]),
            "M¥/yr": _m(row["savings_yuan_per_year"]),
            "NPV M¥": _m(row["npv_yuan"]),
            "IRR%": _pct(row["irr"]),
            "payback": _yrs(row["simple_payback_years"]),
            "aware NPV": _m(row["aware_npv_yuan"]),
            "margin%": f"{row['grid_margin_pct']:.0f}",
            "verdict": verdict_text(row),
        }
        if sampled:
            cells.update(_sampled_cells(row))
        t.add_row(*(cells[c] for c in cols))
    if top is not None and len(r) > top:
        t.caption = f"{len(r) - top} more in results.csv / results.parquet"
    return t


def _share(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.2f}"


def _sampled_cells(row: pd.Series) -> dict[str, str]:
    """The spread's cells of a candidate (`twin.study.samples.CandidateSpread`)."""
    if pd.isna(row.get("samples")):
        return dict.fromkeys(
            ("NPV P10/P50/P90 M¥", "IRR% P50", "payback P50", "P>sq", "P>next"), "-"
        )
    npv = "/".join(_m(row[f"npv_{p}_yuan"], fmt="{:.1f}") for p in ("p10", "p50", "p90"))
    irr = row["irr_p50"]
    return {
        "NPV P10/P50/P90 M¥": npv,
        "IRR% P50": _pct(irr) if math.isfinite(irr) else ("none" if irr < 0 else "-"),
        "payback P50": _yrs(row["payback_p50_years"]),
        "P>sq": _share(row["p_beat_status_quo"]),
        "P>next": _share(row["p_beat_next"]),
    }


def failures(frame: pd.DataFrame) -> list[str]:
    """One line per failed row: what it was and the error."""
    if frame.empty:
        return []
    bad = frame[frame["status"] == "failed"]
    out = []
    for _, row in bad.iterrows():
        what = row.get("label") or row.get("enterprise") or row.get("strategy") or row["key"]
        if "sample" in row and pd.notna(row["sample"]):
            what = f"{what} (sample {int(row['sample'])})"
        out.append(f"{what}: {row['error']}")
    return out


def hosting_table(hosting: pd.DataFrame) -> Table:
    """Hosting capacity of each enterprise bus, by feeder."""
    t = Table(
        title="Hosting capacity per enterprise bus",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        show_edge=False,
    )
    for col in ("feeder", "enterprise", "units ok", "first bad", "MW", "MWh", "limited by"):
        t.add_column(
            col, justify="left" if col in ("feeder", "enterprise", "limited by") else "right"
        )
    if hosting.empty:
        return t
    for _, row in hosting.sort_values(["feeder", "enterprise"]).iterrows():
        if row["status"] != "ok":
            cells = (str(row["feeder"] or ""), str(row["enterprise"] or row["key"]))
            t.add_row(*cells, "", "", "", "", "[red]failed (see below)[/]")
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
            str(row["limited_by"] or ("whole range passed" if row["at_least"] else "")),
        )
    return t


def _by_year(cell: object) -> list[float]:
    """A per-year column's cell (the tables keep JSON columns as their text)."""
    import json

    return [float(x) for x in (json.loads(cell) if isinstance(cell, str) else cell)]


def nominal_outliers(results: pd.DataFrame, samples: pd.DataFrame, days: int) -> list[str]:
    """One line per candidate whose nominal NPV lies outside its samples' P10..P90, naming
    the driver: the simulated year whose nominal savings stand furthest from the samples'
    median of that year.

    The nominal run is one draw among many (its own availability draw: maintenance, forced
    outages, the park's stop days; the study's profiles seed; no price or scheme draw), so
    it may fall outside the band; in a short year (`days` < 365, each day ``1 / days`` of
    the year) a single outage or stop day moves a year's savings by several percent.
    """
    need = {"npv_p10_yuan", "npv_p90_yuan", "npv_yuan", "savings_yuan_by_year"}
    if results.empty or samples.empty or not need <= set(results.columns):
        return []
    ok = samples[samples["status"] == "ok"]
    out = []
    for _, row in ranked(results).iterrows():
        lo, hi, nom = row["npv_p10_yuan"], row["npv_p90_yuan"], row["npv_yuan"]
        if row["status"] != "ok" or not all(math.isfinite(x) for x in (lo, hi, nom)):
            continue
        if lo <= nom <= hi:
            continue
        own = ok[ok["candidate"] == row["key"]]
        years = np.array([_by_year(c) for c in own["savings_yuan_by_year"]], float)
        nominal = np.asarray(_by_year(row["savings_yuan_by_year"]), float)
        where = f"{row['enterprise']} {_storage(row)}"
        line = (
            f"{where}: nominal NPV {_m(nom)} M¥ lies outside its samples' P10..P90"
            f" ({_m(lo, fmt='{:.1f}')}..{_m(hi, fmt='{:.1f}')} M¥)"
        )
        if years.ndim == 2 and years.shape[1] == nominal.size and nominal.size:
            med = np.median(years, axis=0)
            k = int(np.argmax(np.abs(nominal - med) / np.maximum(np.abs(med), 1.0)))
            line += (
                f"; driver: its nominal year {k + 1} saves {_m(nominal[k])} M¥/yr against"
                f" {_m(med[k])} in the samples' median"
            )
        line += (
            " (the nominal run's own availability draw and inputs, one draw among many"
            + (f"; at {days} days a year each day is 1/{days} of the year" if days < 365 else "")
            + "): read the P10..P90"
        )
        out.append(line)
    return out


def reinforcement_table(reinforcement: pd.DataFrame) -> Table:
    """The status quo's reinforcement need (what breaks, from when) and the least-cost plan
    (`twin.study.reinforcement`), per strategy."""
    t = Table(
        title="The status quo's reinforcement: what its growth breaks, and the least-cost plan",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        show_edge=False,
    )
    for col in ("year", "element", "worst", "reinforcement", "M¥"):
        t.add_column(col, justify="right" if col in ("year", "worst", "M¥") else "left")
    if reinforcement.empty:
        return t
    for _, row in reinforcement.iterrows():
        if row["status"] != "ok":
            t.add_row("", str(row.get("strategy") or row["key"]), "", "[red]failed[/]", "")
            continue
        steps = row["steps"]
        steps = json.loads(steps) if isinstance(steps, str) else list(steps or [])
        for st in sorted(steps, key=lambda x: (x["year"], x["element"])):
            worst = st["worst"]
            unit = " p.u." if st["element"].startswith("bus:") else " %"
            t.add_row(
                str(st["year"]),
                st["element"],
                "-"
                if worst is None or worst != worst
                else f"{worst:.{3 if unit == ' p.u.' else 0}f}{unit}",
                st["action"],
                _m(st["cost_yuan"]),
            )
        left = _table(row["unresolved"])
        for element, year in sorted(left.items(), key=lambda kv: kv[1]):
            t.add_row(str(year), element, "", "[red]no option in the table[/]", "")
        t.caption = (
            f"{row['strategy']}: {len(steps)} reinforcements, {_m(row['cost_yuan'])} M¥ in all"
            f" ({row['rounds']} status-quo solves); costs and sources:"
            " twin/study/data/reinforcement.toml"
        )
    return t
