"""What storage saves its hosts: their bills with storage against the same park without it.

The baseline is computed, not assumed: the same loads, PV and tariff, the park's power
flow solved again with every storage unit at 0 kW (one batched `ParkGrid.run`), and each
host enterprise billed on its meter both ways by `profiles.bill` (import only; energy by
time-of-use period plus the basic charge). Savings split into the energy part and the
basic-charge part; under capacity billing the latter is zero by construction (storage
does not change the transformers' kVA).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from profiles import Bill, bill


@dataclass(frozen=True)
class HostBills:
    """Bills of one host enterprise without and with storage."""

    enterprise: str
    without: Bill
    with_storage: Bill

    @property
    def energy_savings_yuan(self) -> float:
        return self.without.energy_yuan - self.with_storage.energy_yuan

    @property
    def demand_savings_yuan(self) -> float:
        return self.without.demand_yuan - self.with_storage.demand_yuan

    @property
    def savings_yuan(self) -> float:
        return self.energy_savings_yuan + self.demand_savings_yuan

    def monthly_savings(self) -> list[dict]:
        """Per month: year, month, energy and demand savings [yuan]."""
        out = []
        for a, b in zip(self.without.months, self.with_storage.months, strict=True):
            out.append(
                {
                    "year": a.year,
                    "month": a.month,
                    "energy_yuan": a.energy_yuan - b.energy_yuan,
                    "demand_yuan": a.demand_yuan - b.demand_yuan,
                    "max_demand_without_kw": a.max_demand_kw,
                    "max_demand_with_kw": b.max_demand_kw,
                }
            )
        return out


def host_bills(
    names: tuple[str, ...],
    hosts: np.ndarray,
    trafo_kva: np.ndarray,
    pcc_without_kw: np.ndarray,
    pcc_with_kw: np.ndarray,
    start: dt.datetime,
    interval_s: float,
    basic_charge: str,
) -> list[HostBills]:
    """Bill each host meter both ways. A host supplied directly at 10 kV (no transformer of
    its own to bill by capacity) is billed by demand whatever `basic_charge` says."""
    out = []
    for e in hosts:
        by_demand = basic_charge == "demand" or trafo_kva[e] <= 0
        kw = {"demand_charge": by_demand, "capacity_kva": None if by_demand else trafo_kva[e]}
        out.append(
            HostBills(
                enterprise=names[e],
                without=bill(pcc_without_kw[:, e], start, interval_s, **kw),
                with_storage=bill(pcc_with_kw[:, e], start, interval_s, **kw),
            )
        )
    return out
