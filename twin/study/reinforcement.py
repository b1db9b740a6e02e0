"""The status quo's reinforcement need: when and where the park's grid breaks its limits
under the study's growth, and a least-cost reinforcement from an equipment table.

The status quo (the park without any candidate, the study's first strategy, as dispatched)
is run over the study's years. Every element it breaks is an item of the need, with the
first calendar year it breaks. Then, greedily, round by round: in each part of the grid
that the others do not feed (a feeder with its enterprises; the substation), the most
overloaded element (the lowest headroom, `twin.study.verdict.element_margin_pct`) gets the
cheapest option the table offers for it (`twin/study/data/reinforcement.toml`, each cost
with its source and confidence):

- a 10 kV feeder segment: one more circuit over the feeder's route, or a new feeder from
  the substation for a new load on it (`[[study.new_loads]]`), whichever costs less;
- a service cable: one more circuit;
- an enterprise's 10/0.4 kV transformers: one more of its size;
- a 110/10 kV main transformer: the next larger size of the catalogue;
- a low voltage at an enterprise's bus: one more circuit on its feeder.

The status quo is solved again on the reinforced grid, and the rounds go on until nothing
is broken, an element has no option left (``unresolved``), or `MAX_ROUNDS`. Candidates are
then judged on today's grid and on the reinforced one (`twin.study.tasks`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from parktwin.config import Frozen, package_text, parse_toml, validate
from parktwin.limits import GridLimits
from twin.study.model import StudySettings
from twin.study.verdict import combine_extremes, element_margin_pct

#: Rounds of "reinforce the worst element of each part, solve again" at most.
MAX_ROUNDS = 8
#: Most circuits of one feeder or service cable (`grid.Feeder.parallel`).
MAX_CIRCUITS = 4


class _Cost(Frozen):
    source: str
    confidence: str


class PerKm(_Cost):
    yuan_per_km: float = Field(gt=0.0)


class Bay(_Cost):
    bay_yuan: float = Field(ge=0.0)


class PerKva(_Cost):
    yuan_per_kva: float = Field(gt=0.0)


class Each(_Cost):
    yuan_each: float = Field(gt=0.0)


class ReinforcementCosts(Frozen):
    """The equipment table (`twin/study/data/reinforcement.toml`)."""

    parallel_cable: PerKm
    new_feeder: Bay
    service_cable: PerKm
    enterprise_transformer: PerKva
    substation_transformer: Each


def default_costs() -> ReinforcementCosts:
    """The shipped equipment table, with its sources."""
    source = "twin/study/data/reinforcement.toml"
    text = package_text("twin.study", "reinforcement.toml")
    return validate(parse_toml(text, source), ReinforcementCosts, source)


@dataclass(frozen=True)
class Option:
    """One way to relieve an element: what, its cost, the table's source, the change."""

    action: str
    cost_yuan: float
    source: str
    change: Any  # grid.Reinforcements


@dataclass(frozen=True)
class Step:
    """One reinforcement of the plan."""

    element: str  # "line:F09 to forging", "trafo:...", "bus:..."
    year: int  # the first calendar year it is broken
    worst: float  # its worst value before: loading [%] or voltage [p.u.]
    action: str
    cost_yuan: float
    source: str


def _feeder_route(site, feeder: str, upto: str | None = None) -> float:
    """Cable length of `feeder` from the substation to `upto` (None: its last enterprise)."""
    km = 0.0
    for e in site.enterprises:
        if e.feeder == feeder:
            km += e.feeder_km
            if e.name == upto:
                break
    return km


def _enterprise_of(site, name: str):
    """The enterprise an element name starts with (the longest match), or None."""
    best = None
    for e in site.enterprises:
        if (name == e.name or name.startswith(e.name + " ")) and (
            best is None or len(e.name) > len(best.name)
        ):
            best = e
    return best


def part_of(element: str, site) -> str | None:
    """The part of the grid an element belongs to: its feeder, ``substation``, or None (a
    storage unit's own transformer: not the park's grid)."""
    kind, name = element.split(":", 1)
    if kind == "line":
        head = name.split(" to ", 1)[0]
        if any(f.name == head for f in site.feeders) and " to " in name:
            return head
        e = _enterprise_of(site, name.removesuffix(" service"))
        return e.feeder if e is not None else None
    if kind in ("vmin", "vmax", "bus"):
        e = _enterprise_of(site, name)
        if e is not None:
            return e.feeder
        if name.split(" RMU ", 1)[0] in {f.name for f in site.feeders}:
            return name.split(" RMU ", 1)[0]
        return "substation"
    e = _enterprise_of(site, name)
    if e is not None and name == f"{e.name} {e.connection}":
        return e.feeder
    if name.startswith("T") and site.substation.transformer in name:
        return "substation"
    return None


def options(element: str, site, new_loads: tuple[str, ...], costs: ReinforcementCosts, change):
    """The options the table offers for `element` of `site` (reinforced by `change` so far),
    cheapest first. `new_loads`: the names of the study's new loads."""
    from grid import Feeder, Reinforcements

    kind, name = element.split(":", 1)
    out: list[Option] = []
    feeders = {f.name: f for f in site.feeders}
    cable = costs.parallel_cable

    def parallel(feeder: str) -> None:
        f = feeders[feeder]
        if f.parallel < MAX_CIRCUITS:
            km = _feeder_route(site, feeder)
            out.append(
                Option(
                    f"{feeder}: one more circuit ({f.parallel} -> {f.parallel + 1}) over its"
                    f" {km:.1f} km",
                    km * cable.yuan_per_km,
                    cable.source,
                    Reinforcements(feeder_parallel={feeder: f.parallel + 1}),
                )
            )

    def new_feeder(feeder: str) -> None:
        f = feeders[feeder]
        for e in site.enterprises:
            if e.feeder != feeder or e.name not in new_loads:
                continue
            km = _feeder_route(site, feeder, e.name)
            k = len(site.feeders) + 1
            new_name = f"F{k:02d}"
            while new_name in feeders:
                k += 1
                new_name = f"F{k:02d}"
            out.append(
                Option(
                    f"new feeder {new_name} from section {f.section} for {e.name}"
                    f" ({km:.1f} km of {f.cable})",
                    costs.new_feeder.bay_yuan + km * cable.yuan_per_km,
                    f"{costs.new_feeder.source}; cable: {cable.source}",
                    Reinforcements(
                        new_feeders=(
                            Feeder(name=new_name, section=f.section, cable=f.cable, parallel=1),
                        ),
                        moves={e.name: (new_name, km)},
                    ),
                )
            )

    part = part_of(element, site)
    if kind == "line":
        if " to " in name and name.split(" to ", 1)[0] in feeders:
            feeder = name.split(" to ", 1)[0]
            parallel(feeder)
            new_feeder(feeder)
        else:
            e = _enterprise_of(site, name.removesuffix(" service"))
            if e is not None and e.service_parallel < MAX_CIRCUITS:
                n = e.service_parallel
                out.append(
                    Option(
                        f"{e.name}: one more service-cable circuit ({n} -> {n + 1}),"
                        f" {e.service_km:.1f} km",
                        e.service_km * costs.service_cable.yuan_per_km,
                        costs.service_cable.source,
                        Reinforcements(service_parallel={e.name: n + 1}),
                    )
                )
    elif kind in ("bus", "vmin") and part is not None and part in feeders:
        parallel(part)
    elif kind == "trafo" and part == "substation":
        sub = site.substation
        now = site.equipment.transformers[sub.transformer]
        bigger = [
            (t.sn_kva, n)
            for n, t in site.equipment.transformers.items()
            if math.isclose(t.vn_hv_kv, now.vn_hv_kv)
            and math.isclose(t.vn_lv_kv, now.vn_lv_kv)
            and t.sn_kva > now.sn_kva
        ]
        if bigger:
            _, to = min(bigger)
            out.append(
                Option(
                    f"main transformers {sub.transformer} -> {to} (x{sub.count})",
                    sub.count * costs.substation_transformer.yuan_each,
                    costs.substation_transformer.source,
                    Reinforcements(substation_transformer=to),
                )
            )
    elif kind == "trafo" and part is not None:
        e = _enterprise_of(site, name)
        if e is not None and not e.direct_10kv and e.transformer_count < 12:
            out.append(
                Option(
                    f"{e.name}: one more {e.transformer_kva:g} kVA 10/0.4 kV transformer"
                    f" ({e.transformer_count} -> {e.transformer_count + 1})",
                    e.transformer_kva * costs.enterprise_transformer.yuan_per_kva,
                    costs.enterprise_transformer.source,
                    Reinforcements(transformer_count={e.name: e.transformer_count + 1}),
                )
            )
    return sorted(out, key=lambda o: o.cost_yuan)


def first_broken(per_year: list[dict[str, int]], start_year: int) -> dict[str, int]:
    """Element -> the first calendar year it is broken in (violations by element per year)."""
    out: dict[str, int] = {}
    for k, counts in enumerate(per_year):
        for element in counts:
            out.setdefault(element, start_year + k)
    return out


def _worst_key(element: str) -> str:
    """The extremes' key of a violation key ("bus:X" -> "vmin:X")."""
    kind, name = element.split(":", 1)
    return f"vmin:{name}" if kind == "bus" else element


@dataclass(frozen=True)
class ReinforcementPlan:
    """The status quo's reinforcement need and the least-cost plan found for it."""

    need: dict[str, int]  # element -> first calendar year broken, on today's grid
    steps: tuple[Step, ...]
    unresolved: dict[str, int]  # still broken when the rounds ended: element -> first year
    reinforcement: Any  # grid.Reinforcements: all the steps' changes
    rounds: int  # status-quo solves made
    years: list  # the status quo's `YearOutcome`s on the reinforced grid

    @property
    def cost_yuan(self) -> float:
        return float(sum(s.cost_yuan for s in self.steps))


def plan_reinforcement(
    settings: StudySettings,
    strategy: str,
    limits: GridLimits,
    costs: ReinforcementCosts | None = None,
    grid_aware: bool | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> ReinforcementPlan:
    """Greedy least-cost reinforcement of the status quo (see the module doc)."""
    from grid import Reinforcements
    from twin.study.growth import site_in_year
    from twin.study.years import base_site, simulate_years

    costs = costs or default_costs()
    change = settings.reinforcement or Reinforcements()
    new_loads = tuple(n.name for n in settings.new_loads)
    start = settings.start.year
    last = settings.years - 1
    steps: list[Step] = []
    need: dict[str, int] | None = None
    unresolved: dict[str, int] = {}
    rounds = 0
    while True:
        run = settings.model_copy(update={"reinforcement": change})
        years = simulate_years(run, strategy, limits=limits, grid_aware=grid_aware)
        rounds += 1
        broken = first_broken([y.violations_by_element for y in years], start)
        site = site_in_year(base_site(settings.site), settings.load_growth, start, last)
        site = site.reinforced(change)
        # only the park's grid: a storage unit's own transformer is its project's
        broken = {e: y for e, y in broken.items() if part_of(e, site) is not None}
        if need is None:
            need = dict(broken)
        if not broken or rounds > max_rounds:
            unresolved = broken
            break
        extremes = combine_extremes([y.extremes for y in years])
        by_part: dict[str, list[str]] = {}
        for element in broken:
            by_part.setdefault(part_of(element, site), []).append(element)
        progressed = False
        margin = {
            e: element_margin_pct(_worst_key(e), extremes.get(_worst_key(e), math.nan), limits)
            for e in broken
        }
        for part in sorted(by_part):
            for element in sorted(by_part[part], key=lambda e: (margin[e], e)):
                opts = options(element, site, new_loads, costs, change)
                if not opts:
                    unresolved[element] = broken[element]
                    continue
                o = opts[0]
                steps.append(
                    Step(
                        element=element,
                        year=broken[element],
                        worst=extremes.get(_worst_key(element), math.nan),
                        action=o.action,
                        cost_yuan=o.cost_yuan,
                        source=o.source,
                    )
                )
                change = change.merged(o.change)
                progressed = True
                break  # one element per part and round: re-solve before the next
        if not progressed:
            unresolved = broken
            break
    return ReinforcementPlan(
        need=need or {},
        steps=tuple(steps),
        unresolved=unresolved,
        reinforcement=change,
        rounds=rounds,
        years=years,
    )


# --- the study's task -----------------------------------------------------------------------
class ReinforcementTask(Frozen):
    """The status quo's reinforcement plan under `strategy` (a study's worker task)."""

    settings: StudySettings
    strategy: str
    limits: GridLimits
    grid_aware: bool = False

    @property
    def key(self) -> str:
        from twin.study.candidates import stable_key

        return "reinforcement-" + stable_key({"strategy": self.strategy, "aware": self.grid_aware})

    def identity(self) -> dict:
        return {"strategy": self.strategy}


@dataclass(frozen=True)
class ReinforcementRow:
    """The status quo's need and plan, and its years on the reinforced grid (the columns
    `twin.study.verdict.StatusQuo.from_row` reads: candidates are judged against it)."""

    strategy: str
    need: dict[str, int]  # element -> first calendar year broken on today's grid
    steps: tuple[dict, ...]  # `Step`s as tables, in the order taken
    cost_yuan: float  # the plan's total [yuan]
    unresolved: dict[str, int]  # still broken with the plan: element -> first year
    reinforcement: dict  # the grid changes (`grid.Reinforcements`)
    rounds: int  # status-quo solves made [-]
    savings_yuan_by_year: tuple[float, ...]  # the park's savings on the reinforced grid
    voltage_violations_by_year: tuple[int, ...]
    overload_violations_by_year: tuple[int, ...]
    violations_by_element_by_year: tuple[dict[str, int], ...]
    extremes: dict[str, float]
    export_max_kw_by_meter: dict[str, float]


def reinforcement_row(task: ReinforcementTask) -> ReinforcementRow:
    """`plan_reinforcement` of the task, reduced to its row."""
    plan = plan_reinforcement(task.settings, task.strategy, task.limits, grid_aware=task.grid_aware)
    ys = plan.years
    return ReinforcementRow(
        strategy=task.strategy,
        need=plan.need,
        steps=tuple(dataclasses.asdict(s) for s in plan.steps),
        cost_yuan=plan.cost_yuan,
        unresolved=plan.unresolved,
        reinforcement=plan.reinforcement.model_dump(mode="json"),
        rounds=plan.rounds,
        savings_yuan_by_year=tuple(y.savings_yuan for y in ys),
        voltage_violations_by_year=tuple(y.voltage_violations for y in ys),
        overload_violations_by_year=tuple(y.overload_violations for y in ys),
        violations_by_element_by_year=tuple(y.violations_by_element for y in ys),
        extremes=combine_extremes([y.extremes for y in ys]),
        export_max_kw_by_meter={
            m: max(y.export_by_meter_kw[m] for y in ys) for m in ys[0].export_by_meter_kw
        },
    )


def run_reinforcement(task: ReinforcementTask) -> dict:
    """Row of the status quo's reinforcement (the worker's entry point)."""
    from twin.study.tasks import as_row

    return as_row(reinforcement_row(task))


def reinforcement_columns() -> dict[str, str]:
    """The reinforcement table's columns (`twin.study.tasks.columns_of`)."""
    from twin.study.tasks import columns_of

    return columns_of(ReinforcementRow)
