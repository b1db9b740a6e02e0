"""What storage saves its hosts: their bills with storage against the same park without it.

The baseline is computed, not assumed: the same loads, PV and tariff, the park's power
flow solved again with every storage unit at 0 kW (one batched `ParkGrid.run`), and each
host enterprise billed on its meter both ways by `profiles.bill` (import only; energy by
time-of-use period, the basic charge on the host's basis, the power-factor adjustment).
Savings split into the energy part, the basic-charge part and the power-factor part.

Each host's basis (`BillingTerms`): the run's choice (``--billing``, the scenario's
``basic_charge``) if given, else the site file's ``billing`` of the enterprise, else the
assumption in ``twin/data/first_project.toml``. Under capacity billing the basic charge
does not move unless the storage transformers are counted in the capacity base (a
switchable assumption, ``storage_in_capacity_base``): then storage adds their kVA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from grid import Site
from profiles import AgencyPrices, Bill, TariffScheme, bill


@dataclass(frozen=True)
class BillingTerms:
    """How one host pays its basic charge, without and with its storage."""

    basis: str  # "capacity", "demand" or "contract"
    capacity_kva: float  # the enterprise's own transformers [kVA]
    storage_kva: float  # storage transformers counted in the capacity base [kVA] (0: not)
    contract_kw: float | None  # declared demand (contract basis) [kW]

    def bill_kwargs(self, with_storage: bool) -> dict:
        """Keyword arguments of `profiles.bill` for the bill without / with storage."""
        kva = self.capacity_kva + (self.storage_kva if with_storage else 0.0)
        return {
            "basis": self.basis,
            "capacity_kva": kva if kva > 0 else None,
            "contract_kw": self.contract_kw,
        }


def billing_terms(
    site: Site,
    enterprise_names: tuple[str, ...],
    hosts: np.ndarray,
    unit_enterprise: np.ndarray,
    unit_trafo_kva: np.ndarray,
    run_basis: str | None,
    default_basis: str,
    storage_in_capacity_base: bool,
) -> dict[int, BillingTerms]:
    """Each host's terms: the run's basis, else the site's, else the default.

    A host supplied directly at 10 kV (no transformer of its own to bill by capacity) is
    billed by demand when capacity is asked for. Contract billing without a declared demand
    takes the enterprise's `peak_kw`.
    """
    by_name = {e.name: e for e in site.enterprises}
    out = {}
    for e in hosts:
        ent = by_name[enterprise_names[e]]
        basis = run_basis or ent.billing or default_basis
        own_kva = float(ent.transformer_total_kva)
        if basis == "capacity" and own_kva <= 0:
            basis = "demand"
        storage_kva = float(unit_trafo_kva[unit_enterprise == e].sum())
        out[int(e)] = BillingTerms(
            basis=basis,
            capacity_kva=own_kva,
            storage_kva=storage_kva if storage_in_capacity_base else 0.0,
            contract_kw=(ent.contract_demand_kw or ent.peak_kw) if basis == "contract" else None,
        )
    return out


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
    def pf_savings_yuan(self) -> float:
        return self.without.pf_adjustment_yuan - self.with_storage.pf_adjustment_yuan

    @property
    def savings_yuan(self) -> float:
        return self.energy_savings_yuan + self.demand_savings_yuan + self.pf_savings_yuan

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
                    "pf_adjustment_yuan": a.pf_adjustment_yuan - b.pf_adjustment_yuan,
                    "max_demand_without_kw": a.max_demand_kw,
                    "max_demand_with_kw": b.max_demand_kw,
                }
            )
        return out


def host_bills(
    names: tuple[str, ...],
    hosts: np.ndarray,
    terms: dict[int, BillingTerms],
    pcc_without_kw: np.ndarray,
    pcc_with_kw: np.ndarray,
    start: dt.datetime,
    interval_s: float,
    notices: AgencyPrices | None = None,
    scheme: TariffScheme | None = None,
    pcc_without_kvar: np.ndarray | None = None,
    pcc_with_kvar: np.ndarray | None = None,
) -> list[HostBills]:
    """Bill each host meter both ways on its `terms`; with the reactive series (both or
    neither), the power-factor adjustment too."""
    out = []
    for e in hosts:
        t = terms[int(e)]
        q0 = None if pcc_without_kvar is None else pcc_without_kvar[:, e]
        q1 = None if pcc_with_kvar is None else pcc_with_kvar[:, e]
        out.append(
            HostBills(
                enterprise=names[e],
                without=bill(
                    pcc_without_kw[:, e],
                    start,
                    interval_s,
                    notices=notices,
                    scheme=scheme,
                    import_kvar=q0,
                    **t.bill_kwargs(False),
                ),
                with_storage=bill(
                    pcc_with_kw[:, e],
                    start,
                    interval_s,
                    notices=notices,
                    scheme=scheme,
                    import_kvar=q1,
                    **t.bill_kwargs(True),
                ),
            )
        )
    return out
