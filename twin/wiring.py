"""What a simulation runs on, built once from a scenario: `Wiring` and `wire`.

`wire` turns a scenario into the site, its layout, the grid model, the input series, the
fleet (new or carried on from a saved state), the strategy, the guards' settings and what
the controller is told about the park. The engine (`twin.engine.Simulation`) only runs the
loop over it; a study that runs the same park many times builds each piece once here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices import Fleet
from grid import Site, default_site, load_site
from parktwin.errors import InputError, SimulationError
from parktwin.limits import GridLimits, grid_limits
from profiles import AgencyPrices, TariffScheme, read_agency_prices, tariff_for
from profiles.bill import effective_contract_kw
from profiles.tariff import scheme_named
from twin.assumptions import assumptions
from twin.economics import billing_terms
from twin.inputs import Inputs, build_inputs, cached_inputs
from twin.layout import CopperPlate, ParkLayout, layout_from_site
from twin.scenario import Scenario
from twin.strategies import Forecast, ParkInfo, Strategy, load_strategy


@dataclass(frozen=True, eq=False)
class GuardSettings:
    """The safety layer's settings per unit, as `twin.guards.guard_kernel` takes them."""

    enable: np.ndarray  # (5,) int, 1 = on, in `twin.guards.GUARD_NAMES` order
    soc_min: np.ndarray  # (n_units,) the SOC window the guards keep [0..1]
    soc_max: np.ndarray
    pcs_kva: np.ndarray  # (n_units,) PCS rating [kVA]
    ramp_kw_per_s: np.ndarray  # (n_units,) inf when the ramp guard is off
    backflow_margin_kw: np.ndarray  # (n_ent,) import kept at each meter [kW]
    trafo_loading_max: float  # of the unit transformer's rating [0..1]
    fast_loop: bool  # anti-backflow on the fast loop's net load (else the last solve's)
    soc_efficiency: float  # one-way efficiency the SOC guard plans with [-]


@dataclass(frozen=True, eq=False)
class Wiring:
    """A park ready to simulate: everything `Simulation` needs that the loop does not change
    (the fleet's state and the strategy's memory change; they start here)."""

    scenario: Scenario
    site: Site
    layout: ParkLayout
    network: object  # `grid.ParkGrid` or `twin.layout.CopperPlate` (same solve/run shape)
    inputs: Inputs
    fleet: Fleet
    strategy: Strategy
    guards: GuardSettings
    park_info: ParkInfo
    forecast: Forecast
    basic_charge: str  # the hosts' basis: "capacity", "demand", "contract" (mixed: "a+b")
    limits: GridLimits
    plant_every: int  # physics steps per plant interval
    interval_s: float  # one plant interval [s]
    n_rows: int  # plant intervals in the run
    billing: dict  # host index -> `twin.economics.BillingTerms`
    notices: AgencyPrices | None = None  # the monthly agency-purchase prices, if given
    scheme: TariffScheme | None = None  # one scheme forced over the run, if any


def site_of(scenario: Scenario, base: Site | None = None) -> Site:
    """The scenario's site: `base` (default: its file or the built-in park), only the chosen
    storage groups, plus the extra storage."""
    if base is not None:
        site = base
    else:
        site = load_site(scenario.site) if scenario.site is not None else default_site()
    if scenario.storage_groups is not None:
        known = {g.name for g in site.storage}
        unknown = [n for n in scenario.storage_groups if n not in known]
        if unknown:
            raise InputError(
                f"storage_groups: no group {unknown[0]!r} in the site"
                f" (groups: {', '.join(sorted(known))})"
            )
        keep = tuple(g for g in site.storage if g.name in scenario.storage_groups)
        site = site.model_copy(update={"storage": keep})
    if scenario.extra_storage:
        site = site.with_storage(list(scenario.extra_storage))
    if scenario.unit_types:
        known = {g.name for g in site.storage}
        unknown = [n for n in scenario.unit_types if n not in known]
        if unknown:
            raise InputError(
                f"unit_types: no storage group {unknown[0]!r} in the site"
                f" (groups: {', '.join(sorted(known))})"
            )
        groups = tuple(
            g.model_copy(update={"unit_type": scenario.unit_types[g.name]})
            if g.name in scenario.unit_types
            else g
            for g in site.storage
        )
        site = site.model_copy(update={"storage": groups})
    return site


def wire(
    scenario: Scenario,
    strategy: str | Strategy | None = None,
    *,
    site: Site | None = None,
    network=None,
    inputs: Inputs | None = None,
    initial_state: dict | None = None,
    limits: GridLimits | None = None,
) -> Wiring:
    """Build what `scenario` describes; the keyword arguments replace what it would build.

    `strategy`: a name, "module.path:ClassName" or an instance (default: the scenario's).
    `site`: the park (default: the scenario's file or the built-in one, see `site_of`).
    `network`, `inputs`: a grid model and input series (tests: a hand-made day on a
    `CopperPlate`). `initial_state`: a `Fleet.save_state()` to carry aging on. `limits`:
    the grid limits the run counts violations against (default: the site's own, else the
    shipped ones).
    """
    sc = scenario.revalidated()
    if site is None:
        site = site_of(sc)
    lay = layout_from_site(site)
    if lay.n_units == 0:
        raise InputError("site: no storage units to simulate")
    if network is None and sc.network == "copper_plate":
        network = CopperPlate(lay)
    elif network is None:
        from grid import ParkGrid

        network = ParkGrid.cached(site)
    if tuple(network.unit_names) != lay.unit_names:
        raise SimulationError("the grid model's storage units differ from the site's")
    if hasattr(network, "set_interval"):  # the tap control's delay counts grid periods
        network.set_interval(sc.grid_every * sc.step_s)
    plant_every = sc.plant_every
    interval_s = plant_every * sc.step_s
    n_rows = sc.n_steps // plant_every
    notices = read_agency_prices(sc.agency_prices) if sc.agency_prices else None
    scheme = scheme_named(sc.tariff_scheme) if sc.tariff_scheme else None
    if inputs is None:
        if notices is None and scheme is None:
            # the default tariff: the series depend only on what the cache key holds
            inputs = cached_inputs(
                site, sc.start, n_rows, interval_s, sc.seed, sc.load_growth_per_year
            )
        else:
            inputs = build_inputs(
                site,
                sc.start,
                n_rows,
                interval_s,
                sc.seed,
                sc.load_growth_per_year,
                notices=notices,
                scheme=scheme,
            )
    if inputs.n_intervals < n_rows or inputs.load_kw.shape[1] != lay.n_enterprises:
        raise InputError("inputs: series shorter than the run or not one column per meter")
    params = list(lay.unit_params)
    if initial_state is not None:
        fleet = Fleet.from_state(params, initial_state)
    else:
        fleet = Fleet(params, soc0=sc.soc0, temp0_c=float(inputs.ambient_c[0]))
    if strategy is None or isinstance(strategy, str):
        strategy = load_strategy(strategy or sc.strategy, sc.strategy_params)
    econ = assumptions().economics
    in_base = sc.storage_in_capacity_base
    billing = billing_terms(
        site,
        lay.enterprise_names,
        lay.hosts,
        lay.unit_enterprise,
        lay.unit_trafo_kva,
        sc.basic_charge,
        econ.basic_charge,
        econ.storage_in_capacity_base if in_base is None else in_base,
    )
    bases = sorted({t.basis for t in billing.values()})
    basic_charge = bases[0] if len(bases) == 1 else "+".join(bases)
    demand_billed = np.array(
        [
            e in billing and billing[e].basis in ("demand", "contract")
            for e in range(lay.n_enterprises)
        ]
    )
    guards = _guard_settings(sc, lay)
    forecast = Forecast(
        inputs.price_yuan_per_kwh,
        inputs.period,
        inputs.load_kw,
        inputs.pv_kw,
        lag=0 if sc.forecast == "perfect" else inputs.steps_per_day,
        day=inputs.steps_per_day,
    )
    demand_price = inputs.demand_yuan_per_kw_month() if demand_billed.any() else 0.0
    park_info = ParkInfo(
        enterprise_names=lay.enterprise_names,
        unit_names=lay.unit_names,
        unit_enterprise=lay.unit_enterprise,
        e_nom_kwh=np.array([p.e_nom_kwh for p in params], float),
        p_max_kw=np.array([p.p_max_kw for p in params], float),
        soc_min=guards.soc_min.copy(),
        soc_max=guards.soc_max.copy(),
        start=inputs.start,
        step_s=interval_s,
        steps_per_day=inputs.steps_per_day,
        demand_yuan_per_kw_month=demand_price,
        efficiency=econ.one_way_efficiency,
        eta_spread=econ.efficiency_spread,
        month_start=inputs.month_start,
        demand_billed=demand_billed,
        free_demand_kw=_free_demand_kw(billing, scheme or tariff_for(inputs.start.date()), lay),
    )
    return Wiring(
        scenario=sc,
        site=site,
        layout=lay,
        network=network,
        inputs=inputs,
        fleet=fleet,
        strategy=strategy,
        guards=guards,
        park_info=park_info,
        forecast=forecast,
        basic_charge=basic_charge,
        limits=limits or site.limits or grid_limits(),
        plant_every=plant_every,
        interval_s=interval_s,
        n_rows=n_rows,
        billing=billing,
        notices=notices,
        scheme=scheme,
    )


def _free_demand_kw(billing: dict, scheme: TariffScheme, lay: ParkLayout) -> np.ndarray:
    """(n_ent,) import a contract-billed meter may reach at no extra charge [kW]."""
    out = np.zeros(lay.n_enterprises)
    for e, t in billing.items():
        if t.basis == "contract":
            c = effective_contract_kw(t.contract_kw, t.capacity_kva, scheme)
            out[e] = scheme.basic_charge.contract_excess_threshold * c
    return out


def _guard_settings(sc: Scenario, lay: ParkLayout) -> GuardSettings:
    g = sc.guards
    params = lay.unit_params
    ramp = np.array([p.ramp_kw_per_s for p in params], float)
    if not g.ramp:
        ramp[:] = np.inf
    return GuardSettings(
        enable=np.array([g.pcs_rating, g.ramp, True, True, g.anti_backflow], dtype=np.int64),
        soc_min=np.array(
            [g.soc_min if g.soc_min is not None else p.soc_min for p in params], float
        ),
        soc_max=np.array(
            [g.soc_max if g.soc_max is not None else p.soc_max for p in params], float
        ),
        pcs_kva=np.array([p.pcs_kva for p in params], float),
        ramp_kw_per_s=ramp,
        backflow_margin_kw=np.maximum(
            g.backflow_margin_kw, g.backflow_margin_pct / 100.0 * lay.enterprise_trafo_kva
        ),
        trafo_loading_max=g.trafo_loading_max_pct / 100.0,
        fast_loop=g.backflow_sensing == "fast_loop",
        soc_efficiency=g.soc_efficiency,
    )
