"""Which assumption moves the answer most: the run's savings with one input changed at a time.

Every run can carry a table of variants of its own scenario (`twin run` prints it and
writes it to ``summary.json``): the basic charge billed on each basis (capacity, demand,
contract), with and without the availability losses, and the same year under each tariff
scheme. Each variant is a closed-loop run, so the dispatch answers the bill and the
scheme as it would. To keep this cheap the variants, and a base row made the same way,
run on the copper plate at 1-h steps (`QUICK`): compare the rows with each other, not with
the run's headline figure (the feeder model at the run's own step).

The variants share what the base row built: the site and the input series (loads, PV,
weather); a tariff-scheme variant only swaps the period and price series, which are all
that a scheme changes in the inputs. So the table costs its closed-loop runs, not a fresh
build of the park's profiles per row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from parktwin.billing import BILLING_BASES
from profiles import read_agency_prices, schemes, tariff_for, tou_series
from profiles.tariff import scheme_named
from twin.inputs import Inputs
from twin.scenario import Scenario
from twin.summary import RunSummary

QUICK = {"network": "copper_plate", "step_s": 3600.0, "control_s": None, "grid_s": None}
METHOD = "variants of the run's scenario on the copper plate at 1-h steps, one input changed"
KEYS = (
    "savings_yuan_per_year",
    "savings_energy_yuan_per_year",
    "savings_demand_yuan_per_year",
    "discharge_kwh_per_day",
    "equivalent_full_cycles_per_year",
)


def _row(factor: str, value: str, summary: RunSummary) -> dict:
    out = {"factor": factor, "value": value}
    out |= {k: float(getattr(summary, k)) for k in KEYS}
    out["availability"] = float(summary.availability["achieved"])
    return out


def _with_tariff(inputs: Inputs, sc: Scenario) -> Inputs:
    """`inputs` with the period and price series of `sc`'s tariff (scheme, agency prices),
    made as `twin.inputs.build_inputs` makes them; loads, PV and weather do not depend on
    the tariff."""
    notices = read_agency_prices(sc.agency_prices) if sc.agency_prices else None
    scheme = scheme_named(sc.tariff_scheme) if sc.tariff_scheme else None
    tou = tou_series(
        inputs.start, inputs.n_intervals, inputs.interval_s, notices=notices, scheme=scheme
    )
    return dataclasses.replace(
        inputs,
        period=np.asarray(tou.period, dtype=np.int64),
        price_yuan_per_kwh=np.asarray(tou.price_yuan_per_kwh, float),
    )


def sensitivity(scenario: Scenario, today: dt.date | None = None) -> dict:
    """The table of variants, and what the same plant earns under the scheme in force
    `today` (default: the date of the run)."""
    from twin.engine import Simulation
    from twin.run import collect

    today = today or dt.date.today()
    base_sc = scenario.model_copy(update=QUICK).revalidated()
    built: dict = {}

    def run(update: dict) -> RunSummary:
        sc = base_sc.model_copy(update=update).revalidated() if update else base_sc
        if not built:
            sim = Simulation(sc)
            built.update(site=sim.site, inputs=sim.inputs)
        else:
            inputs = built["inputs"]
            if "tariff_scheme" in update:
                inputs = _with_tariff(inputs, sc)
            sim = Simulation(sc, site=built["site"], inputs=inputs)
        sim.run()
        return collect(sim).summary

    base = run({})
    rows = [_row("base", "as the run", base)]
    for basis in BILLING_BASES:
        same = base.basic_charge == basis
        rows.append(_row("basic charge", basis, base if same else run({"basic_charge": basis})))
    av = scenario.availability
    flip = av.model_copy(update={"enabled": not av.enabled})
    flipped = run({"availability": flip})
    on, off = (base, flipped) if av.enabled else (flipped, base)
    rows.append(_row("availability", "with losses", on))
    rows.append(_row("availability", "every day", off))
    in_force = list(base.tariff_schemes)
    by_scheme = {}
    for s in schemes():
        only = in_force == [s.name] and not scenario.tariff_scheme
        by_scheme[s.name] = base if only else run({"tariff_scheme": s.name})
        rows.append(_row("tariff scheme", s.name, by_scheme[s.name]))
    base_sav = base.savings_yuan_per_year
    for r in rows:
        r["change_from_base"] = r["savings_yuan_per_year"] / base_sav - 1.0 if base_sav else 0.0
    now = tariff_for(today).name
    return {
        "method": METHOD,
        "rows": rows,
        "today_scheme": {
            "date": today.isoformat(),
            "scheme": now,
            "savings_yuan_per_year": by_scheme[now].savings_yuan_per_year,
            "base_savings_yuan_per_year": base_sav,
            "method": METHOD,
        },
    }
