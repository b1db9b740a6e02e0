"""The electricity bill of a metered series: energy by TOU period plus the basic charge.

Zhejiang's large-industry bill (two-part tariff) has, each calendar month:

- energy charge: kWh imported in each time-of-use period x that period's price (from the
  month's agency-purchase notice if one is given, else the scheme's defaults);
- basic charge on one of three bases (`parktwin.billing`): capacity (容量): transformer
  kVA x yuan/kVA-month; demand (需量): the month's highest 15-min mean import [kW] x
  yuan/kW-month; contract demand (合同需量): the declared kW (not below the scheme's floor
  share of the capacity) x yuan/kW-month, the part of the month's maximum above 105 % of
  it charged double;
- power-factor adjustment (力调电费), when the reactive series is given: the month's bill
  raised or lowered by the percentage of `profiles.power_factor` for its power factor.

Only import is charged. A user-side meter behind storage should never export (anti-backflow,
防逆流): exported kWh are reported per month (`export_kwh`) but never credited, so a
strategy that exports gains nothing here and is flagged by the twin's checks instead.

The series may have any resolution: energy is split across hours (and so across periods)
by integrating the piecewise-constant series, so a 1-h or 1-day series is billed as
exactly as the data allow. The 15-min demand of a series coarser than 15 min is the mean
of its step (the peak inside the step is not observable); `Bill.demand_resolution_s` says
so. Partial months are billed their energy, and the basic charge of a whole month (the
meter reads a monthly maximum), so a year split into months adds up to the year.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from parktwin.billing import BILLING_BASES, BillingBasis
from parktwin.errors import InputError
from parktwin.tariff_periods import PERIOD_KEYS, Period
from profiles.power_factor import month_power_factor, power_factor_rule
from profiles.tariff import AgencyPrices, TariffScheme, day_tables, tariff_for
from profiles.timebase import (
    DAY_S,
    check_run,
    date_of_day,
    integrate_on_grid,
    local_epoch_s,
    year_month_of_day,
)

DEMAND_WINDOW_S = 900.0


@dataclass(frozen=True)
class BillMonth:
    """One month of a bill. Energy dicts are keyed by period name (``"peak"``)."""

    year: int
    month: int
    energy_kwh: dict[str, float]
    energy_yuan_by_period: dict[str, float]
    export_kwh: float
    max_demand_kw: float
    basic_charge: str  # the basis: "capacity", "demand" or "contract"
    demand_yuan: float  # the basic charge, whichever its basis
    hours_covered: float
    schemes: tuple[str, ...]
    billed_demand_kw: float = 0.0  # kW (or kVA) the basic charge was billed on
    power_factor: float = math.nan  # the month's cos phi (NaN: no reactive series)
    pf_adjustment_yuan: float = 0.0  # + raises the bill

    @property
    def import_kwh(self) -> float:
        return float(sum(self.energy_kwh.values()))

    @property
    def energy_yuan(self) -> float:
        return float(sum(self.energy_yuan_by_period.values()))

    @property
    def total_yuan(self) -> float:
        return self.energy_yuan + self.demand_yuan + self.pf_adjustment_yuan

    def row(self) -> dict[str, float | int | str]:
        """Flat dict (one DataFrame row)."""
        out: dict[str, float | int | str] = {"year": self.year, "month": self.month}
        for k in PERIOD_KEYS:
            out[f"{k}_kwh"] = self.energy_kwh.get(k, 0.0)
        for k in PERIOD_KEYS:
            out[f"{k}_yuan"] = self.energy_yuan_by_period.get(k, 0.0)
        out |= {
            "import_kwh": self.import_kwh,
            "export_kwh": self.export_kwh,
            "max_demand_kw": self.max_demand_kw,
            "basic_charge": self.basic_charge,
            "energy_yuan": self.energy_yuan,
            "demand_yuan": self.demand_yuan,
            "billed_demand_kw": self.billed_demand_kw,
            "power_factor": self.power_factor,
            "pf_adjustment_yuan": self.pf_adjustment_yuan,
            "total_yuan": self.total_yuan,
            "hours_covered": self.hours_covered,
            "schemes": "+".join(self.schemes),
        }
        return out


@dataclass(frozen=True)
class Bill:
    """Month-by-month bill [yuan]; `months` in time order."""

    months: list[BillMonth]
    demand_resolution_s: float = field(default=DEMAND_WINDOW_S)

    @property
    def energy_yuan(self) -> float:
        return float(sum(m.energy_yuan for m in self.months))

    @property
    def demand_yuan(self) -> float:
        return float(sum(m.demand_yuan for m in self.months))

    @property
    def pf_adjustment_yuan(self) -> float:
        return float(sum(m.pf_adjustment_yuan for m in self.months))

    @property
    def total_yuan(self) -> float:
        return self.energy_yuan + self.demand_yuan + self.pf_adjustment_yuan

    @property
    def max_demand_kw(self) -> float:
        """Highest monthly maximum 15-min demand [kW] of the bill."""
        return float(max((m.max_demand_kw for m in self.months), default=0.0))

    @property
    def import_kwh(self) -> float:
        return float(sum(m.import_kwh for m in self.months))

    @property
    def export_kwh(self) -> float:
        return float(sum(m.export_kwh for m in self.months))

    def to_frame(self):
        """The months as a pandas DataFrame (one row per month)."""
        import pandas as pd

        return pd.DataFrame([m.row() for m in self.months])


@dataclass(frozen=True)
class Savings:
    """What storage saves: `without` bill minus `with_` bill, split into its parts [yuan]."""

    energy_yuan: float
    demand_yuan: float
    pf_adjustment_yuan: float = 0.0

    @property
    def total_yuan(self) -> float:
        return self.energy_yuan + self.demand_yuan + self.pf_adjustment_yuan


def savings(without: Bill, with_: Bill) -> Savings:
    """Savings of a run with storage against the same run without, by part of the bill."""
    return Savings(
        energy_yuan=without.energy_yuan - with_.energy_yuan,
        demand_yuan=without.demand_yuan - with_.demand_yuan,
        pf_adjustment_yuan=without.pf_adjustment_yuan - with_.pf_adjustment_yuan,
    )


def basic_charge_yuan(
    basis: str,
    max_demand_kw: float,
    scheme: TariffScheme,
    capacity_kva: float | None = None,
    contract_kw: float | None = None,
) -> tuple[float, float]:
    """One month's basic charge [yuan] and the kW (or kVA) it is billed on.

    capacity: capacity_kva x capacity charge. demand: the month's maximum 15-min demand x
    demand charge. contract: c = max(contract_kw, floor share x capacity_kva); billed c while
    the maximum stays within the threshold (105 %) of c, else the maximum plus the part above
    the threshold once more (charged double).
    """
    bc = scheme.basic_charge
    if basis == "capacity":
        return float(capacity_kva) * bc.capacity_yuan_per_kva_month, float(capacity_kva)
    if basis == "demand":
        return max_demand_kw * bc.demand_yuan_per_kw_month, max_demand_kw
    c = max(float(contract_kw), bc.contract_floor_share * float(capacity_kva or 0.0))
    limit = bc.contract_excess_threshold * c
    billed = (
        c
        if max_demand_kw <= limit
        else (max_demand_kw + (bc.contract_excess_factor - 1.0) * (max_demand_kw - limit))
    )
    return billed * bc.demand_yuan_per_kw_month, billed


def effective_contract_kw(
    contract_kw: float, capacity_kva: float | None, scheme: TariffScheme
) -> float:
    """The contract demand the grid company bills on: not below the floor share of capacity."""
    return max(float(contract_kw), scheme.basic_charge.contract_floor_share * (capacity_kva or 0.0))


def bill(
    import_kw: np.ndarray,
    start: dt.date | dt.datetime,
    step_s: float,
    demand_charge: bool | None = None,
    capacity_kva: float | None = None,
    prices: Mapping[Period | str, float] | None = None,
    scheme: TariffScheme | None = None,
    *,
    basis: BillingBasis | None = None,
    contract_kw: float | None = None,
    notices: AgencyPrices | None = None,
    import_kvar: np.ndarray | None = None,
) -> Bill:
    """Bill a metered series: mean import of each step [kW] (negative = export).

    `basis` is the basic charge's basis (capacity needs `capacity_kva`, contract needs
    `contract_kw`; its floor is a share of `capacity_kva` when given); `demand_charge`
    True/False is the older spelling of "demand"/"capacity". `prices` overrides period
    prices; `scheme` forces one tariff scheme instead of the one in force each day;
    `notices` are the monthly agency-purchase prices. `import_kvar` (reactive power of each
    step [kvar], either sign) adds the power-factor adjustment.
    """
    if basis is None:
        basis = "demand" if demand_charge is None or bool(demand_charge) else "capacity"
    if basis not in BILLING_BASES:
        raise InputError(f"basis: unknown {basis!r}, expected one of {', '.join(BILLING_BASES)}")
    p = np.asarray(import_kw, dtype=np.float64)
    if p.ndim != 1:
        raise InputError(f"import_kw: expected a 1-D series, got shape {p.shape}")
    check_run(int(p.size), step_s)
    if not np.all(np.isfinite(p)):
        k = int(np.flatnonzero(~np.isfinite(p))[0])
        raise InputError(f"import_kw: step {k} is {p[k]} (not a finite power)")
    if basis == "capacity" and (capacity_kva is None or capacity_kva <= 0):
        raise InputError("capacity_kva: needed (> 0) for capacity billing")
    if basis == "contract" and (contract_kw is None or contract_kw <= 0):
        raise InputError("contract_kw: needed (> 0) for contract-demand billing")
    q = None
    if import_kvar is not None:
        q = np.abs(np.asarray(import_kvar, dtype=np.float64))
        if q.shape != p.shape or not np.all(np.isfinite(q)):
            raise InputError(f"import_kvar: expected {p.size} finite values like import_kw")
    if p.size == 0:
        return Bill([])
    t0 = local_epoch_s(start)
    t1 = t0 + p.size * float(step_s)
    imp = np.maximum(p, 0.0)
    exp = np.maximum(-p, 0.0)

    # Energy on the hour grid: each hour has one period.
    h0 = np.floor(t0 / 3600.0) * 3600.0
    nh = int(np.ceil((t1 - h0) / 3600.0 - 1e-9))
    hour_edges = h0 + np.arange(nh + 1) * 3600.0
    e_imp_kwh = integrate_on_grid(t0, step_s, imp, hour_edges)[0] / 3600.0
    e_exp_kwh, covered_s = integrate_on_grid(t0, step_s, exp, hour_edges)
    e_exp_kwh = e_exp_kwh / 3600.0
    hour_start = hour_edges[:-1]
    day = np.floor(hour_start / DAY_S).astype(np.int64)
    hod = ((hour_start - day * DAY_S) // 3600).astype(np.int64)
    d0 = int(day[0])
    days = np.arange(d0, int(day[-1]) + 1)
    periods_d, price_d = day_tables(days, prices, scheme, notices)
    kvarh = integrate_on_grid(t0, step_s, q, hour_edges)[0] / 3600.0 if q is not None else None
    period_h = periods_d[day - d0, hod]
    price_h = price_d[day - d0, hod]
    ym_h = year_month_of_day(day)

    # Demand on the 15-min grid (means over the covered part of each window).
    q0 = np.floor(t0 / DEMAND_WINDOW_S) * DEMAND_WINDOW_S
    nq = int(np.ceil((t1 - q0) / DEMAND_WINDOW_S - 1e-9))
    q_edges = q0 + np.arange(nq + 1) * DEMAND_WINDOW_S
    q_int, q_cov = integrate_on_grid(t0, step_s, imp, q_edges)
    q_kw = np.divide(q_int, q_cov, out=np.zeros_like(q_int), where=q_cov > 0)
    ym_q = year_month_of_day(np.floor(q_edges[:-1] / DAY_S).astype(np.int64))

    months: list[BillMonth] = []
    for ym in np.unique(ym_h):
        sel = ym_h == ym
        year, month = int(ym // 12 + 1970), int(ym % 12 + 1)
        names = sorted({(scheme or tariff_for(date_of_day(d))).name for d in np.unique(day[sel])})
        # Schemes change on the first of a month: the month's first day names its charges.
        mscheme = scheme or tariff_for(date_of_day(int(day[sel][0])))
        e_by, y_by = {}, {}
        for per in Period:
            m = sel & (period_h == per)
            if np.any(m):
                e_by[per.key] = float(e_imp_kwh[m].sum())
                y_by[per.key] = float((e_imp_kwh[m] * price_h[m]).sum())
        max_kw = float(q_kw[ym_q == ym].max(initial=0.0))
        basic, billed_kw = basic_charge_yuan(basis, max_kw, mscheme, capacity_kva, contract_kw)
        pf, pf_yuan = math.nan, 0.0
        if kvarh is not None:
            kwh_m = float(e_imp_kwh[sel].sum())
            pf = month_power_factor(kwh_m, float(kvarh[sel].sum()))
            pct = power_factor_rule().adjustment_pct(pf)
            pf_yuan = pct / 100.0 * (sum(y_by.values()) + basic)
        months.append(
            BillMonth(
                year=year,
                month=month,
                energy_kwh=e_by,
                energy_yuan_by_period=y_by,
                export_kwh=float(e_exp_kwh[sel].sum()),
                max_demand_kw=max_kw,
                basic_charge=basis,
                demand_yuan=float(basic),
                hours_covered=float(covered_s[sel].sum() / 3600.0),
                schemes=tuple(names),
                billed_demand_kw=float(billed_kw),
                power_factor=float(pf),
                pf_adjustment_yuan=float(pf_yuan),
            )
        )
    return Bill(months, demand_resolution_s=max(DEMAND_WINDOW_S, float(step_s)))
