"""Time-of-use "two charges, two discharges" (两充两放), windows read from the tariff.

The day is cut where the tariff switches between charging periods (valley, deep valley) and
the rest. In a charging window each unit fills to the top of its SOC window at the even
power that gets there by the window's end (gentler than full power, same energy). In the
span up to the next charging window it plans, at the span's start, to put the energy it
holds into the dearest intervals first, and only into intervals whose price beats the
charging price by more than the round-trip loss. Nothing is hard-coded about hours: under
the 2024 scheme (valley 00-08, 11-13) this gives two cycles around the morning and afternoon
peaks, and under the 2026 scheme (valley 00-07, 11-14) around the flat morning and the
evening peak, and deep-valley holidays charge at noon by themselves.
"""

from __future__ import annotations

import numpy as np

from parktwin.strategy_names import StrategyName
from profiles import Period
from twin.strategies.base import Observation, Strategy
from twin.strategies.demand import DemandCeiling

CHARGE_PERIODS = (int(Period.DEEP_VALLEY), int(Period.VALLEY))


def is_charge_period(period: np.ndarray | int) -> np.ndarray:
    """True where the tariff period is one the strategy charges in."""
    return np.isin(period, CHARGE_PERIODS)


def last_discharge(plan: np.ndarray) -> np.ndarray:
    """Per unit, the last row of a (steps, units) plan with a discharge; -1 if none."""
    busy = plan < 0.0
    last = plan.shape[0] - 1 - np.argmax(busy[::-1], axis=0)
    return np.where(busy.any(axis=0), last, -1).astype(np.int64)


class TimeOfUse(Strategy):
    """Charge in valley windows, discharge into the dearest hours between them.

    Parameters: ``lookahead_h`` (how far to look for the end of a window, h),
    ``respect_demand`` (at meters billed on demand or contract, keep the meter
    ``demand_margin_kw`` under the month's running peak of the load without storage, or the
    contract's free level, `twin.strategies.demand`: charging gives way, and the units
    discharge where the load alone reaches the ceiling; ``demand_reserve`` of each unit's
    window is kept out of the arbitrage plan for that).
    """

    name = StrategyName.TOU.value

    def __init__(
        self,
        lookahead_h: float = 36.0,
        respect_demand: bool = True,
        demand_margin_kw: float = 100.0,
        demand_reserve: float = 0.03,
    ) -> None:
        self.lookahead_h = float(lookahead_h)
        self.respect_demand = bool(respect_demand)
        self.demand_margin_kw = float(demand_margin_kw)
        if not 0.0 <= demand_reserve < 0.5:
            raise TypeError(f"demand_reserve must be within 0..0.5, got {demand_reserve}")
        self.demand_reserve = float(demand_reserve)
        self._ceiling = DemandCeiling(demand_margin_kw)
        self._plan: np.ndarray | None = None
        self._plan_k0 = -1
        self._charge_end = -1
        self._charge_price = 0.0
        # Per unit, so that one unit's plan never moves another's: the last interval of
        # its plan with a discharge, and whether a replan already found nothing to give.
        self._plan_last = np.zeros(0, dtype=np.int64)
        self._replanned_empty = np.zeros(0, dtype=bool)

    def _segment_len(self, obs: Observation, charging: bool) -> int:
        n = max(1, round(self.lookahead_h * 3600.0 / obs.park.step_s))
        cls = is_charge_period(obs.forecast.period(n))
        change = np.flatnonzero(cls != charging)
        return int(change[0]) if len(change) else n

    def decide(self, obs: Observation) -> np.ndarray:
        park = obs.park
        dt_h = park.step_s / 3600.0
        e_now = park.e_nom_kwh * obs.soh
        charging = obs.period in CHARGE_PERIODS
        if charging:
            self._plan = None
            if obs.k >= self._charge_end:
                self._charge_end = obs.k + self._segment_len(obs, True)
                self._charge_price = float(obs.price_yuan_per_kwh)
            left_h = max(self._charge_end - obs.k, 1) * dt_h
            room_kwh = np.maximum(park.soc_max - obs.soc, 0.0) * e_now / park.efficiency
            p = np.minimum(obs.p_charge_max_kw, room_kwh / left_h)
            return self._billed(obs, p)
        if self._plan is None or not (0 <= obs.k - self._plan_k0 < len(self._plan)):
            self._plan = self._plan_discharge(obs, e_now, dt_h)
            self._plan_k0 = obs.k
            self._plan_last = last_discharge(self._plan)
            self._replanned_empty = np.zeros(park.n_units, dtype=bool)
        i = obs.k - self._plan_k0
        # A unit whose planned intervals are over but which delivered less than planned
        # (its power falls near the bottom of the window) puts what is left into the
        # dearest intervals still ahead in this span; the other units keep their plans.
        left_kwh = (obs.soc - park.soc_min - self._reserve(obs)) * e_now
        todo = ~self._replanned_empty & (i > self._plan_last) & (left_kwh > 0.01 * e_now)
        if np.any(todo):
            new = self._plan_discharge(obs, e_now, dt_h)[: len(self._plan) - i]
            self._plan[i:, todo] = 0.0
            self._plan[i : i + len(new), todo] = new[:, todo]
            new_last = last_discharge(new)
            found = todo & (new_last >= 0)
            self._plan_last[found] = new_last[found] + i
            self._replanned_empty[todo & (new_last < 0)] = True
        return self._billed(obs, self._plan[i].copy())

    def _reserve(self, obs: Observation) -> np.ndarray:
        """(n_units,) SOC kept for demand control at demand-billed meters."""
        if not self.respect_demand:
            return np.zeros(obs.park.n_units)
        billed = DemandCeiling.applies(obs)[obs.park.unit_enterprise]
        return np.where(billed, self.demand_reserve, 0.0)

    def _billed(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        """`p` kept under the demand ceiling of each demand-billed meter."""
        if not self.respect_demand or not DemandCeiling.applies(obs).any():
            return p
        return self._ceiling.cap(obs, p)

    def _plan_discharge(self, obs: Observation, e_now: np.ndarray, dt_h: float) -> np.ndarray:
        park = obs.park
        n = self._segment_len(obs, False)
        price = obs.forecast.price_yuan_per_kwh(n)
        # Worth discharging only where the price beats the charging price after losses.
        floor = self._charge_price / park.efficiency**2 if self._charge_price > 0 else 0.0
        order = np.argsort(-price, kind="stable")
        order = order[price[order] > floor]
        usable = obs.soc - park.soc_min - self._reserve(obs)
        energy = np.maximum(usable, 0.0) * e_now * park.efficiency
        p_max = np.minimum(park.p_max_kw, np.maximum(obs.p_discharge_max_kw, 0.0))
        p_max = np.where(p_max > 0.0, p_max, park.p_max_kw)
        plan = np.zeros((n, park.n_units))
        left = energy.copy()
        for j in order:
            give = np.minimum(p_max * dt_h, left)
            plan[j] = -give / dt_h
            left -= give
            if not np.any(left > 1e-9):
                break
        return plan
