"""The grid verdict of a candidate: what it breaks beyond the status quo, and its margins.

The park may break a limit without any candidate (loads grow year on year; the existing
storage charges at night), so the comparison is element by element, year by year, with
the status quo (the park without the candidate, under the same strategy). The limits and
the tolerances of "materially worse" are `parktwin.limits.GridLimits`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from parktwin.config import Frozen
from parktwin.limits import (
    GridLimits,
    high_voltage_margin_pct,
    loading_margin_pct,
    low_voltage_margin_pct,
    voltage_margin_pct,
)
from twin.study.years import YearOutcome


class StatusQuo(Frozen):
    """What a candidate is compared with: the status quo's years under its strategy."""

    savings_yuan: tuple[float, ...]  # per year
    voltage_violations: tuple[int, ...]  # grid steps, per year
    overload_violations: tuple[int, ...]
    violations_by_element: tuple[dict[str, int], ...] = ()  # per year, see YearOutcome
    extremes: dict[str, float] = Field(default_factory=dict)  # over the years, see YearOutcome
    export_kw: float = 0.0  # largest export at the candidate's meter without it

    @classmethod
    def from_row(cls, row: dict, enterprise: str) -> StatusQuo:
        """From a status-quo row as the results table gives it back, for a candidate at
        `enterprise` (the table is the boundary: its cells are typed by its columns)."""
        return cls(
            savings_yuan=tuple(float(x) for x in row["savings_yuan_by_year"]),
            voltage_violations=tuple(int(x) for x in row["voltage_violations_by_year"]),
            overload_violations=tuple(int(x) for x in row["overload_violations_by_year"]),
            violations_by_element=tuple(row["violations_by_element_by_year"] or ()),
            extremes=dict(row["extremes"] or {}),
            export_kw=float((row["export_max_kw_by_meter"] or {}).get(enterprise, 0.0)),
        )


@dataclass(frozen=True)
class GridVerdict:
    """Worst values over a candidate's years, its margins and flags (see `grid_verdict`)."""

    v_min_pu: float  # lowest checked bus voltage over the years [p.u.]
    v_max_pu: float  # highest [p.u.]
    line_loading_max_pct: float  # [% of rating]
    trafo_loading_max_pct: float  # [% of rating]
    unit_trafo_loading_max_pct: float  # the candidate's step-up transformers [% of rating]
    worst_line: str
    worst_trafo: str
    worst_bus: str
    export_max_kw: float  # largest export at the candidate's meter (>= 0) [kW]
    guard_interventions: int  # over the years [-]
    voltage_violations: int  # grid steps, summed over the years [-]
    overload_violations: int  # [-]
    added_violations: int  # element-steps broken beyond the status quo [-]
    added_by_element: dict[str, int]  # the ten elements with most added steps
    park_margin_pct: float  # the whole park's tightest headroom (`grid_margin_pct`) [%]
    grid_margin_pct: float  # the tightest headroom on the elements it changes [%]
    margin_element: str  # the element of `grid_margin_pct` ("line:F04", "vmin:bus", ...)
    grid_flags: str  # "voltage;overload;export", the limits it breaks ("" = none)
    grid_ok: bool  # no flag


def combine_extremes(per_year: list[dict[str, float]]) -> dict[str, float]:
    """Element extremes over several years: the highest loading and vmax, the lowest vmin."""
    out: dict[str, float] = {}
    for ex in per_year:
        for k, v in ex.items():
            if k not in out:
                out[k] = v
            else:
                out[k] = min(out[k], v) if k.startswith("vmin:") else max(out[k], v)
    return out


def element_margin_pct(key: str, value: float, limits: GridLimits) -> float:
    """Headroom of one element extreme, in % of its allowance (see `grid_margin_pct`)."""
    if key.startswith("vmin:"):
        return low_voltage_margin_pct(value, limits)
    if key.startswith("vmax:"):
        return high_voltage_margin_pct(value, limits)
    return loading_margin_pct(value, limits)


def _moved(key: str, mine: float, ref: float, limits: GridLimits) -> bool:
    """The element's extreme moved by more than the materiality tolerance."""
    tol = limits.tol_v_pu if key.startswith(("vmin:", "vmax:")) else limits.tol_loading_pct
    return abs(mine - ref) > tol


def local_margin(
    mine: dict[str, float], ref: dict[str, float], limits: GridLimits
) -> tuple[float, str]:
    """The tightest headroom over the elements the candidate changes, and which one.

    "Changes": an element new with it (its transformers and buses) or whose extreme moves by
    more than the limits' materiality tolerances (`tol_loading_pct` points of loading,
    `tol_v_pu` of voltage): its own feeder, its enterprise's buses, its substation section.
    Without any, the whole park's tightest.
    """
    touched = {k: v for k, v in mine.items() if k not in ref or _moved(k, v, ref[k], limits)}
    pool = touched or mine
    if not pool:
        return math.nan, ""
    key = min(pool, key=lambda k: element_margin_pct(k, pool[k], limits))
    return float(element_margin_pct(key, pool[key], limits)), key


def grid_margin_pct(
    v_min_pu: float, v_max_pu: float, loading_pct: float, limits: GridLimits
) -> float:
    """The tightest headroom, in % of each limit's allowance: 100 % - worst loading for
    lines/transformers, and the voltage's distance to the band edge over the band's
    half-width (0.07 p.u.) x 100. Negative: a limit is broken."""
    v_head = voltage_margin_pct(v_min_pu, v_max_pu, limits)
    return float(min(v_head, loading_margin_pct(loading_pct, limits)))


def _worse(key: str, mine: dict[str, float], ref: dict[str, float], limits: GridLimits) -> bool:
    """True when the element of a violation key ("bus:X", "line:X", "trafo:X") is new with
    the candidate or its worst value got materially worse than the status quo's."""
    kind, name = key.split(":", 1)
    if kind == "bus":
        lo, hi = mine.get(f"vmin:{name}"), mine.get(f"vmax:{name}")
        if f"vmin:{name}" not in ref:
            return True
        return (lo is not None and lo < ref[f"vmin:{name}"] - limits.tol_v_pu) or (
            hi is not None and hi > ref[f"vmax:{name}"] + limits.tol_v_pu
        )
    if key not in ref:
        return True
    return mine.get(key, -math.inf) > ref[key] + limits.tol_loading_pct


def added_by_element(
    mine: dict[str, int],
    ref: dict[str, int],
    limits: GridLimits,
    mine_extremes: dict[str, float] | None = None,
    ref_extremes: dict[str, float] | None = None,
) -> dict[str, int]:
    """Steps each element is broken beyond the status quo (> 0 entries only).

    With the extremes given, an element counts only where the candidate made its worst
    value materially worse (the limits' `tol_loading_pct`, `tol_v_pu`) or brought it (its
    own transformers): a feeder already at its limit that the candidate moves by a hair,
    in a section it shares, is not the candidate's doing.
    """
    out = {e: n - ref.get(e, 0) for e, n in mine.items()}
    out = {e: n for e, n in out.items() if n > 0}
    if mine_extremes is not None and ref_extremes is not None:
        out = {e: n for e, n in out.items() if _worse(e, mine_extremes, ref_extremes, limits)}
    return out


def added_by_year(
    years: list[YearOutcome], reference: StatusQuo, limits: GridLimits
) -> list[dict[str, int]]:
    """Per simulated year, the steps each element is broken beyond the status quo
    (`added_by_element`, judged on the extremes over all the years)."""
    refs = list(reference.violations_by_element) + [{}] * len(years)
    mine = combine_extremes([y.extremes for y in years])
    return [
        added_by_element(y.violations_by_element, ref, limits, mine, reference.extremes)
        for y, ref in zip(years, refs, strict=False)
    ]


def grid_verdict(
    years: list[YearOutcome],
    reference: StatusQuo,
    limits: GridLimits,
    export_tolerance_kw: float = 1.0,
) -> GridVerdict:
    """Worst values over the years, the grid margins, and the flags: what the candidate breaks.

    A violation is the candidate's when it breaks an element in more steps than the status
    quo and makes that element's worst value materially worse (`added_by_element`).
    ``grid_margin_pct`` is the tightest headroom on the elements the candidate changes
    (`local_margin`), ``park_margin_pct`` the whole park's (`grid_margin_pct`).

    Flags: ``voltage`` when a bus is outside the band in more steps than without the
    candidate, ``overload`` when a line or transformer (its own step-up transformers
    included) is above its rating in more steps, ``export`` when its meter exports more
    than without it (anti-backflow failed). `added_violations` sums those extra
    element-steps. The worst values are absolute (what the engineer will see on the feeders).
    """
    mine = combine_extremes([y.extremes for y in years])
    added: dict[str, int] = {}
    for steps in added_by_year(years, reference, limits):
        for e, n in steps.items():
            added[e] = added.get(e, 0) + n
    worst = max(years, key=lambda y: max(y.line_loading_max_pct, y.trafo_loading_max_pct))
    v_min = min(y.v_min_pu for y in years)
    v_max = max(y.v_max_pu for y in years)
    line = max(y.line_loading_max_pct for y in years)
    trafo = max(y.trafo_loading_max_pct for y in years)
    export = max(y.export_max_kw for y in years)
    margin, element = local_margin(mine, reference.extremes, limits)
    flags = []
    if any(e.startswith("bus:") for e in added):
        flags.append("voltage")
    if any(e.startswith(("line:", "trafo:")) for e in added):
        flags.append("overload")
    if export > max(reference.export_kw, 0.0) + export_tolerance_kw:
        flags.append("export")
    return GridVerdict(
        v_min_pu=v_min,
        v_max_pu=v_max,
        line_loading_max_pct=line,
        trafo_loading_max_pct=trafo,
        unit_trafo_loading_max_pct=max(y.unit_trafo_loading_max_pct for y in years),
        worst_line=max(years, key=lambda y: y.line_loading_max_pct).worst_line,
        worst_trafo=max(years, key=lambda y: y.trafo_loading_max_pct).worst_trafo,
        worst_bus=worst.worst_bus,
        export_max_kw=export,
        guard_interventions=sum(y.guard_interventions for y in years),
        voltage_violations=sum(y.voltage_violations for y in years),
        overload_violations=sum(y.overload_violations for y in years),
        added_violations=int(sum(added.values())),
        added_by_element=dict(sorted(added.items(), key=lambda kv: -kv[1])[:10]),
        park_margin_pct=grid_margin_pct(v_min, v_max, max(line, trafo), limits),
        grid_margin_pct=margin,
        margin_element=element,
        grid_flags=";".join(flags),
        grid_ok=not flags,
    )
