"""Day-ahead optimal schedule: a linear program per storage-hosting meter, solved by HiGHS.

At the first interval of each day (and whenever the plan runs out) the units behind each
meter are pooled into one battery and scheduled over the next ``horizon_h`` hours:

    minimise   sum_t price_t * (c_t - d_t) * dt_h  +  lambda * (D - M)  -  v * e_N
    subject to e_t = e_{t-1} + sum_j (eta_j c_jt - d_jt / eta_j) dt_h,  e_min <= e_t <= e_max
               0 <= c_t <= C,  0 <= d_t <= min(P, max(0, net_t - margin))   (no export)
               net_t + c_t - d_t <= D,  D >= M                              (demand)

c, d: charging / discharging AC power [kW], each split in four parts of the power range
with falling marginal efficiency (losses rise with power: convex, still linear); net: forecast load minus PV [kW]; M: the
month's peak import so far; lambda: demand charge [yuan/kW-month] (0 under capacity
billing, then the demand rows are left out); v: value of energy left at the horizon, the
cheapest price of the horizon divided by eta (what it would cost to buy it back). Prices are
the published tariff; load and PV come from the scenario's forecast (perfect or
persistence). The pooled power is split over the units in proportion to their capacity;
under demand billing a real-time limiter cuts charging where the actual load (the EMS's fast
loop) would lift the import above the level the plan accepted, since the plan was made on a
forecast. The guards then clamp each unit.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from parktwin.errors import SolverError
from parktwin.strategy_names import StrategyName
from twin.strategies.base import Observation, Strategy
from twin.strategies.demand import DemandCeiling


def solve_day(
    price: np.ndarray,
    net_kw: np.ndarray,
    dt_h: float,
    e0_kwh: float,
    e_min_kwh: float,
    e_max_kwh: float,
    p_charge_kw: float,
    p_discharge_kw: float,
    eta: float,
    demand_yuan_per_kw: float = 0.0,
    month_peak_kw: float = 0.0,
    margin_kw: float = 0.0,
    eta_spread: float = 0.0,
    segments: int = 4,
    return_energy: bool = False,
    terminal_yuan_per_kwh: float | None = None,
) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, np.ndarray]:
    """Optimal pooled power (+ charging) per interval [kW], and the objective [yuan]; with
    `return_energy` also the stored energy planned at the end of each interval [kWh].
    `terminal_yuan_per_kwh` values the energy left at the end (default: the horizon's
    cheapest price / eta, what buying it back would cost).

    `eta_spread` > 0 makes losses rise with power (convex, so still an LP): the power range
    is cut into `segments` equal parts whose marginal efficiency falls linearly from
    ``eta + spread/2`` (lowest part) to ``eta - spread/2`` (highest): the PCS loss curve and
    I^2 R both grow faster than the power, so the plan spreads energy as the physics rewards. Raises `SolverError` if HiGHS
    finds no optimum (never silently returns a bad plan).
    """
    n = len(price)
    use_d = demand_yuan_per_kw > 0.0
    if eta_spread <= 0.0 or segments < 2:
        etas: tuple[float, ...] = (eta,)
    else:  # marginal efficiency falls linearly from the lowest to the highest segment
        etas = tuple(eta + eta_spread * (0.5 - j / (segments - 1)) for j in range(segments))
    m = len(etas)
    # variables: c (m x n), d (m x n), e (n), [D]
    nv = 2 * m * n + n + (1 if use_d else 0)
    ie = 2 * m * n  # first e
    cost = np.zeros(nv)
    for j in range(m):
        cost[j * n : (j + 1) * n] = price * dt_h
        cost[(m + j) * n : (m + j + 1) * n] = -price * dt_h
    v_end = float(np.min(price)) / eta if terminal_yuan_per_kwh is None else terminal_yuan_per_kwh
    cost[ie + n - 1] = -v_end
    if use_d:
        cost[-1] = demand_yuan_per_kw
    eye = sparse.identity(n, format="csr")
    shift = sparse.eye(n, k=-1, format="csr")
    # e_t - e_{t-1} - sum_j eta_j c_jt dt + sum_j d_jt dt / eta_j = 0   (e_{-1} = e0)
    blocks = [-etas[j] * dt_h * eye for j in range(m)]
    blocks += [(dt_h / etas[j]) * eye for j in range(m)]
    blocks.append(eye - shift)
    if use_d:
        blocks.append(sparse.csr_matrix((n, 1)))
    a_eq = sparse.hstack(blocks, format="csr")
    b_eq = np.zeros(n)
    b_eq[0] = e0_kwh
    d_cap = np.minimum(p_discharge_kw, np.maximum(net_kw - margin_kw, 0.0))
    e_lo = min(e_min_kwh, e0_kwh)
    e_hi = max(e_max_kwh, e0_kwh)
    bounds = []
    for _ in range(m):
        bounds += [(0.0, p_charge_kw / m)] * n
    for _ in range(m):
        bounds += [(0.0, float(d) / m) for d in d_cap]
    bounds += [(e_lo, e_hi)] * n
    if use_d:
        bounds.append((month_peak_kw, None))
    a_ub = b_ub = None
    if use_d:
        # net_t + sum_j c_jt - sum_j d_jt - D <= 0
        row = (
            [eye] * m
            + [-eye] * m
            + [sparse.csr_matrix((n, n)), sparse.csr_matrix(-np.ones((n, 1)))]
        )
        a_ub = sparse.hstack(row, format="csr")
        b_ub = -np.asarray(net_kw, float)
    from scipy.optimize import linprog  # on first use: importing it costs a second

    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise SolverError(f"day-ahead LP: HiGHS did not find an optimum: {res.message}")
    x = res.x
    charge = x[: m * n].reshape(m, n).sum(axis=0)
    discharge = x[m * n : 2 * m * n].reshape(m, n).sum(axis=0)
    objective = float(res.fun)
    if use_d:
        objective -= demand_yuan_per_kw * month_peak_kw
    if return_energy:
        return charge - discharge, objective, x[ie : ie + n].copy()
    return charge - discharge, objective


def demand_level(p_kw: np.ndarray, net_kw: np.ndarray, month_peak_kw: float) -> float:
    """The import ceiling a schedule implies: max of the month's peak and net + p [kW]."""
    return float(max(month_peak_kw, np.max(net_kw + p_kw)))


class DayAheadLP(Strategy):
    """Optimal day-ahead schedule per meter (HiGHS); re-planned at each local midnight, and
    for the rest of the day whenever a meter's batteries drift from the planned stored
    energy by more than ``replan_tolerance`` of their capacity (the plan's efficiencies are
    a model: the units deliver a little more or less). `solves` counts the LPs solved."""

    name = StrategyName.LP.value

    def __init__(
        self,
        horizon_h: float = 24.0,
        margin_kw: float = 100.0,
        eta_spread: float | None = None,
        demand_margin_kw: float = 100.0,
        replan_tolerance: float = 0.01,
    ) -> None:
        self.demand_margin_kw = float(demand_margin_kw)
        self.replan_tolerance = float(replan_tolerance)
        if horizon_h <= 0:
            raise TypeError(f"horizon_h must be > 0, got {horizon_h}")
        self.horizon_h = float(horizon_h)
        self.eta_spread = eta_spread
        self.margin_kw = float(margin_kw)
        self._plan: np.ndarray | None = None
        self._ceiling = np.zeros(0)
        self._e_plan: dict[int, np.ndarray] = {}
        self._k0 = -1
        self.solves = 0

    def decide(self, obs: Observation) -> np.ndarray:
        park = obs.park
        offset = obs.k - self._k0
        if (
            self._plan is None
            or offset >= len(self._plan)
            or (obs.k % park.steps_per_day == 0 and offset > 0)
        ):
            n = max(1, round(self.horizon_h * 3600 / park.step_s))
            self._plan = np.zeros((n, park.n_units))
            self._ceiling = np.full(park.n_enterprises, np.inf)
            self._e_plan = {}
            self._make_plan(obs, np.unique(park.unit_enterprise))
            self._k0 = obs.k
            offset = 0
        elif offset > 0:
            drifted = self._drifted(obs, offset)
            if drifted:  # the rest of the day again, for those meters only; same end
                self._plan = self._plan[offset:].copy()
                self._e_plan = {e: v[offset:] for e, v in self._e_plan.items()}
                self._k0 = obs.k
                offset = 0
                self._make_plan(obs, drifted)
        p = self._plan[offset].copy()
        if DemandCeiling.applies(obs).any():
            p = self._hold_demand(obs, p)
        return p

    def _hold_demand(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        """Real-time demand limiter over the plan: the load the plan was made on is a
        forecast, so charging is cut where the actual load would lift the import above the
        level the plan accepted (the month's peak, or the plan's own)."""
        park = obs.park
        ent = park.unit_enterprise
        ceiling = np.maximum(self._ceiling, obs.month_peak_kw) - self.demand_margin_kw
        if len(park.free_demand_kw) == len(ceiling):  # a contract's free level
            ceiling = np.maximum(ceiling, park.free_demand_kw - self.demand_margin_kw)
        ceiling = np.where(DemandCeiling.applies(obs), ceiling, np.inf)
        draw = np.bincount(ent, weights=p + obs.p_aux_kw, minlength=len(ceiling))
        room = ceiling - obs.load_now_kw()
        over = (draw > room) & (draw > 0.0)
        if not over.any():
            return p
        charging = np.maximum(p, 0.0)
        ch_sum = np.bincount(ent, weights=charging, minlength=len(ceiling))
        cut = np.where(over, np.minimum(draw - room, ch_sum), 0.0)
        keep = np.where(ch_sum > 0, 1.0 - cut / np.maximum(ch_sum, 1e-9), 1.0)
        return np.where(p > 0.0, p * keep[ent], p)

    def _drifted(self, obs: Observation, offset: int) -> list[int]:
        """Meters whose stored energy left the plan by more than the tolerance."""
        park = obs.park
        cap = park.e_nom_kwh * obs.soh
        out = []
        for e, planned in self._e_plan.items():
            units = park.unit_enterprise == e
            actual = float(np.sum(obs.soc[units] * cap[units]))
            if abs(actual - planned[offset]) > self.replan_tolerance * float(cap[units].sum()):
                out.append(e)
        return out

    def _make_plan(self, obs: Observation, meters) -> None:
        """(Re)plan `meters` from now to the end of `self._plan`, in place."""
        park = obs.park
        n = len(self._plan)
        plan = self._plan
        dt_h = park.step_s / 3600.0
        price = obs.forecast.price_yuan_per_kwh(n)
        net = obs.forecast.net_load_kw(n)
        # Energy left at the end is worth buying back at the cheapest price of a full horizon
        # from now (a re-plan's shorter horizon may hold no valley at all).
        full = max(n, round(self.horizon_h * 3600 / park.step_s))
        v_end = float(np.min(obs.forecast.price_yuan_per_kwh(full))) / park.efficiency
        ent = park.unit_enterprise
        e_now = park.e_nom_kwh * obs.soh
        billed = DemandCeiling.applies(obs)
        for e in meters:
            units = np.flatnonzero(ent == e)
            cap = e_now[units]
            p_units = park.p_max_kw[units]
            e0 = float(np.sum(obs.soc[units] * cap))
            pooled, _, e_end = solve_day(
                price,
                net[:, e],
                dt_h,
                e0_kwh=e0,
                e_min_kwh=float(np.sum(park.soc_min[units] * cap)),
                e_max_kwh=float(np.sum(park.soc_max[units] * cap)),
                p_charge_kw=float(np.sum(p_units)),
                p_discharge_kw=float(np.sum(p_units)),
                eta=park.efficiency,
                demand_yuan_per_kw=park.demand_yuan_per_kw_month if billed[e] else 0.0,
                month_peak_kw=max(
                    float(obs.month_peak_kw[e]),
                    float(park.free_demand_kw[e]) if len(park.free_demand_kw) else 0.0,
                ),
                margin_kw=self.margin_kw,
                eta_spread=park.eta_spread if self.eta_spread is None else self.eta_spread,
                return_energy=True,
                terminal_yuan_per_kwh=v_end,
            )
            self._e_plan[int(e)] = np.concatenate([[e0], e_end[:-1]])  # at each start
            plan[:, units] = pooled[:, None] * (cap / cap.sum())[None, :]
            self._ceiling[e] = demand_level(pooled, net[:, e], float(obs.month_peak_kw[e]))
            self.solves += 1
