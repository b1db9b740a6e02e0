"""Project finance of a candidate: capex, yearly cash flows, NPV, IRR, paybacks.

Conventions: cash flow ``cf[0]`` falls at the start (t = 0, the capex, negative), ``cf[k]``
at the end of year k; amounts in yuan; `rate` a fraction per year (0.06 = 6 %).
``npv(rate, cf) = sum_k cf[k] / (1 + rate)**k``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from twin.study.model import Finance


def npv(rate: float, cash_flows: Sequence[float]) -> float:
    """Net present value [yuan] of yearly `cash_flows` (``cf[0]`` undiscounted)."""
    cf = np.asarray(cash_flows, dtype=float)
    k = np.arange(cf.size, dtype=float)
    return float(np.sum(cf / (1.0 + rate) ** k))


def irr(cash_flows: Sequence[float], lo: float = -0.99, hi: float = 100.0) -> float:
    """Internal rate of return [1/yr]: the rate where NPV = 0, or NaN where there is none.

    Scans [lo, hi] for the first sign change of the NPV (from the low-rate end) and polishes
    it with Brent's method (scipy `brentq`), so a flow with several sign changes (a mid-life
    replacement) still gets the economically meaningful lowest root.
    """
    cf = np.asarray(cash_flows, dtype=float)
    if cf.size < 2 or np.all(cf >= 0) or np.all(cf <= 0):
        return math.nan
    grid = np.concatenate([np.linspace(lo, 0.0, 100, endpoint=False), np.geomspace(1e-4, hi, 400)])
    values = np.array([npv(r, cf) for r in grid])
    for i in range(grid.size):
        if values[i] == 0.0:
            return float(grid[i])
        if i + 1 < grid.size and values[i] * values[i + 1] < 0.0:
            return float(brentq(npv, grid[i], grid[i + 1], args=(cf,), xtol=1e-12, rtol=1e-12))
    return math.nan


def payback_years(cash_flows: Sequence[float], rate: float = 0.0) -> float:
    """Years until the cumulative (discounted at `rate`) cash flow turns non-negative.

    Linear within the year it turns (cash of a year taken as spread evenly over it); NaN
    if it never does within the flows; a later dip (a replacement) after the first
    crossing does not reset it.
    """
    cf = np.asarray(cash_flows, dtype=float)
    disc = cf / (1.0 + rate) ** np.arange(cf.size, dtype=float)
    cum = np.cumsum(disc)
    if cum[0] >= 0.0:
        return 0.0
    for k in range(1, cf.size):
        if cum[k] >= 0.0:
            return float(k - 1 + (-cum[k - 1]) / disc[k])
    return math.nan


@dataclass(frozen=True)
class Capex:
    """Capital cost of a candidate [yuan], by part."""

    battery_yuan: float
    pcs_yuan: float
    trafo_yuan: float
    fixed_yuan: float

    @property
    def total_yuan(self) -> float:
        return self.battery_yuan + self.pcs_yuan + self.trafo_yuan + self.fixed_yuan


def capex(finance: Finance, e_kwh: float, pcs_kva: float, trafo_kva: float) -> Capex:
    """Capex of `e_kwh` of cabins, `pcs_kva` of PCS and `trafo_kva` of transformers (totals)."""
    return Capex(
        battery_yuan=finance.capex_yuan_per_kwh * e_kwh,
        pcs_yuan=finance.capex_yuan_per_kw * pcs_kva,
        trafo_yuan=finance.capex_trafo_yuan_per_kva * trafo_kva,
        fixed_yuan=finance.capex_fixed_yuan if e_kwh > 0 else 0.0,
    )


@dataclass(frozen=True)
class Projection:
    """Yearly projection over the finance horizon (index k = year k+1)."""

    savings_yuan: tuple[float, ...]
    soh_end: tuple[float, ...]
    replacement_yuan: tuple[float, ...]
    cash_flows: tuple[float, ...]  # cf[0] = -capex, cf[k] = end of year k


def project(
    finance: Finance,
    cap: Capex,
    savings_yuan_per_year: Sequence[float],
    soh_end_per_year: Sequence[float],
) -> Projection:
    """Cash flows over `finance.lifetime_years` from the simulated years.

    Simulated years (savings and SOH at each year's end, aging carried) are used as they
    are. After them, with ``degradation = "soh_scaled"`` the SOH keeps losing the last
    simulated year's fade each year and the savings scale with the year's mean SOH over the
    last simulated year's mean SOH; with ``"hold"`` savings stay at the last simulated
    year's. When the SOH falls below `replace_at_soh` the cells are replaced at the end of
    that year (cost `replacement_cost_fraction` x battery capex), the SOH returns to 1 and
    the simulated fade sequence starts again. Opex is a share of the initial capex.
    """
    sav = [float(x) for x in savings_yuan_per_year]
    soh_sim = [float(x) for x in soh_end_per_year]
    if not sav or len(sav) != len(soh_sim):
        raise ValueError("savings and SOH need one value per simulated year")
    fades = [1.0 - soh_sim[0]] + [soh_sim[i - 1] - soh_sim[i] for i in range(1, len(soh_sim))]
    fades = [max(f, 0.0) for f in fades]
    mean_soh_last = (soh_sim[-2] if len(soh_sim) > 1 else 1.0) + soh_sim[-1]
    mean_soh_last /= 2.0
    opex = finance.opex_pct_of_capex_per_year / 100.0 * cap.total_yuan
    savings, sohs, repl = [], [], []
    soh = 1.0
    age = 0  # years since the cells were new (indexes the fade sequence)
    for year in range(finance.lifetime_years):
        fade = fades[age] if age < len(fades) else fades[-1]
        soh_start, soh = soh, soh - fade
        if year < len(sav):
            s = sav[year]
            soh = soh_sim[year] if age == year else soh
        elif finance.degradation == "hold":
            s = sav[-1]
        else:
            s = sav[-1] * ((soh_start + soh) / 2.0) / max(mean_soh_last, 1e-9)
        r = 0.0
        age += 1
        if soh < finance.replace_at_soh and year < finance.lifetime_years - 1:
            r = finance.replacement_cost_fraction * cap.battery_yuan
            soh, age = 1.0, 0
        savings.append(s)
        sohs.append(soh)
        repl.append(r)
    cf = [-cap.total_yuan] + [s - opex - r for s, r in zip(savings, repl, strict=True)]
    return Projection(tuple(savings), tuple(sohs), tuple(repl), tuple(cf))


@dataclass(frozen=True)
class Metrics:
    """The figures of merit of one cash-flow projection."""

    npv_yuan: float
    irr: float
    simple_payback_years: float
    discounted_payback_years: float


def metrics(finance: Finance, proj: Projection) -> Metrics:
    """NPV at the study's discount rate, IRR and both paybacks of `proj`."""
    return Metrics(
        npv_yuan=npv(finance.discount_rate, proj.cash_flows),
        irr=irr(proj.cash_flows),
        simple_payback_years=payback_years(proj.cash_flows),
        discounted_payback_years=payback_years(proj.cash_flows, finance.discount_rate),
    )
