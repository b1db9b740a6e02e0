"""Hosting capacity: the most storage units one enterprise bus takes with no limit broken
beyond the status quo, found by bisection (`twin.study.bisect.bisect_largest`)."""

from __future__ import annotations

from dataclasses import dataclass

from parktwin.config import Frozen
from parktwin.limits import GridLimits
from twin.study.bisect import bisect_largest
from twin.study.candidates import Candidate, stable_key
from twin.study.model import HostingSettings, StudySettings
from twin.study.tasks import as_row, columns_of
from twin.study.verdict import added_by_element
from twin.study.years import candidate_group, simulate_years


class HostingTask(Frozen):
    """Bisection over the number of units behind one enterprise (see `HostingSettings`)."""

    enterprise: str
    feeder: str
    hosting: HostingSettings
    settings: StudySettings
    limits: GridLimits
    pcs_kva: float
    trafo_kva: float
    e_unit_kwh: float
    p_unit_kw: float

    @property
    def key(self) -> str:
        return "hosting-" + stable_key({"enterprise": self.enterprise})

    def identity(self) -> dict:
        return {
            "enterprise": self.enterprise,
            "feeder": self.feeder,
            "unit_type": self.hosting.unit_type,
            "max_units": self.hosting.max_units,
        }


@dataclass(frozen=True)
class HostingRow:
    """One enterprise bus: the most units it hosts, and what stopped one more."""

    enterprise: str
    feeder: str
    unit_type: str
    pcs_kva: float  # per unit [kVA]
    trafo_kva: float  # per unit [kVA]
    max_units: int  # the bisection's upper end [-]
    largest_ok_units: int  # [-]
    first_bad_units: int | None  # the fewest units found to break a limit (None: none did)
    hosting_mw: float  # rated power of `largest_ok_units` [MW]
    hosting_mwh: float  # their nameplate energy [MWh]
    at_least: bool  # even `max_units` passed: the capacity is at least this
    limited_by: str  # what `first_bad_units` broke ("voltage;overload (F04);export")
    status_quo_violations: int  # element-steps broken without any added unit [-]
    probes: tuple[tuple[int, bool, str], ...]  # (units, passed, why not) in probe order


HOSTING_COLUMNS = {**columns_of(HostingRow), "first_bad_units": "int"}


def hosting_row(task: HostingTask) -> HostingRow:
    """The most units with no limit broken beyond the status quo, by bisection."""
    h = task.hosting
    start = h.start or task.settings.start
    kw = {
        "years": 1,
        "start": start,
        "days": h.days,
        "first_year": h.year,
        "limits": task.limits,
        "enterprise": task.enterprise,
    }
    base = simulate_years(task.settings, h.strategy, **kw)[0]
    base_bad = sum(base.violations_by_element.values())
    reasons: dict[int, str] = {}

    def passes(n: int) -> bool:
        c = Candidate(
            enterprise=task.enterprise,
            unit_type=h.unit_type,
            units=n,
            pcs_kva=task.pcs_kva,
            trafo_kva=task.trafo_kva,
            strategy=h.strategy,
        )
        y = simulate_years(
            task.settings, h.strategy, extra=(candidate_group(c, start.year),), **kw
        )[0]
        added = added_by_element(
            y.violations_by_element,
            base.violations_by_element,
            task.limits,
            y.extremes,
            base.extremes,
        )
        why = []
        if "voltage" in h.limits and any(e.startswith("bus:") for e in added):
            why.append("voltage")
        if "overload" in h.limits and any(e.startswith(("line:", "trafo:")) for e in added):
            worst = max((e for e in added if not e.startswith("bus:")), key=added.get)
            why.append(f"overload ({worst.split(':', 1)[1]})")
        if "export" in h.limits and y.export_max_kw > base.export_max_kw + h.export_tolerance_kw:
            why.append("export")
        reasons[n] = ";".join(why)
        return not why

    b = bisect_largest(passes, 0, h.max_units)
    n = b.largest_ok
    return HostingRow(
        enterprise=task.enterprise,
        feeder=task.feeder,
        unit_type=h.unit_type,
        pcs_kva=task.pcs_kva,
        trafo_kva=task.trafo_kva,
        max_units=h.max_units,
        largest_ok_units=n,
        first_bad_units=b.first_bad,
        hosting_mw=n * task.p_unit_kw / 1000.0,
        hosting_mwh=n * task.e_unit_kwh / 1000.0,
        at_least=b.first_bad is None,
        limited_by=reasons.get(b.first_bad, "") if b.first_bad is not None else "",
        status_quo_violations=base_bad,
        probes=tuple((size, ok, reasons.get(size, "")) for size, ok in b.probes),
    )


def run_hosting(task: HostingTask) -> dict:
    """Row of one enterprise bus (the worker's entry point; see `hosting_row`)."""
    return as_row(hosting_row(task))
