"""Peak shaving against a monthly demand target at each storage-hosting meter (需量控制).

Each month every meter with storage gets a target: given (``target_kw``, by enterprise
name) or derived from the forecast as the month's highest load minus ``shave_fraction`` of
the storage's rated power behind the meter. Demand control is a fast loop in a real EMS
(it reads the meter every second), so by default it acts on `Observation.fast_net_load_kw`;
``sensing="last_meter"`` makes it act on the last power-flow solve only (one control period
late: right at 1-s control periods). When the load the storage works against is above the
target the units discharge the difference;
below it they recharge with the headroom left under the target (outside peak and sharp
hours), so recharging never sets a new peak. At meters billed on demand or contract the
result is also kept under the month's running demand ceiling (`twin.strategies.demand`),
so that the storage (its auxiliaries included) never lifts the billed demand; shaving
keeps ``demand_reserve`` of each unit's SOC window for that.
"""

from __future__ import annotations

import numpy as np

from parktwin.strategy_names import StrategyName
from profiles import Period
from twin.strategies.base import Observation, Strategy
from twin.strategies.demand import DemandCeiling

NO_RECHARGE = (int(Period.PEAK), int(Period.SHARP))


class PeakShaving(Strategy):
    """Discharge above the monthly target, recharge below it."""

    name = StrategyName.PEAK_SHAVING.value

    def __init__(
        self,
        target_kw: dict[str, float] | None = None,
        shave_fraction: float = 0.5,
        recharge_margin_kw: float = 50.0,
        sensing: str = "fast_loop",
        demand_margin_kw: float = 100.0,
        demand_reserve: float = 0.03,
    ) -> None:
        if sensing not in ("fast_loop", "last_meter"):
            raise TypeError(f"sensing must be 'fast_loop' or 'last_meter', got {sensing!r}")
        self.sensing = sensing
        if not 0.0 <= shave_fraction <= 1.0:
            raise TypeError(f"shave_fraction must be within 0..1, got {shave_fraction}")
        self.target_by_name = dict(target_kw or {})
        self.shave_fraction = float(shave_fraction)
        self.recharge_margin_kw = float(recharge_margin_kw)
        self.target_kw: np.ndarray | None = None
        self._month_k0 = -1
        self._ceiling = DemandCeiling(demand_margin_kw)
        if not 0.0 <= demand_reserve < 0.5:
            raise TypeError(f"demand_reserve must be within 0..0.5, got {demand_reserve}")
        self.demand_reserve = float(demand_reserve)

    def _targets(self, obs: Observation) -> np.ndarray:
        park = obs.park
        k0 = int(park.month_start[obs.k]) if len(park.month_start) else 0
        if self.target_kw is not None and k0 == self._month_k0:
            return self.target_kw
        n_month = max(1, round(31 * 86400.0 / park.step_s))
        ends = np.flatnonzero(park.month_start[obs.k :] != k0) if len(park.month_start) else []
        if len(ends):
            n_month = int(ends[0])
        peak = obs.forecast.net_load_kw(n_month).max(axis=0)
        p_rated = np.bincount(
            park.unit_enterprise, weights=park.p_max_kw, minlength=park.n_enterprises
        )
        target = peak - self.shave_fraction * p_rated
        for i, name in enumerate(park.enterprise_names):
            if name in self.target_by_name:
                target[i] = float(self.target_by_name[name])
        self.target_kw = target
        self._month_k0 = k0
        return target

    def decide(self, obs: Observation) -> np.ndarray:
        park = obs.park
        target = self._targets(obs)
        aux = np.bincount(park.unit_enterprise, weights=obs.p_aux_kw, minlength=len(target))
        net = obs.load_now_kw(fast=self.sensing == "fast_loop")
        excess = net + aux - target  # > 0: above target without storage power
        ent = park.unit_enterprise
        dis_cap = np.maximum(obs.p_discharge_max_kw, 0.0)
        billed = DemandCeiling.applies(obs)
        dt_h = park.step_s / 3600.0
        if billed.any():  # keep `demand_reserve` of the window for the demand ceiling
            spare = obs.soc - park.soc_min - self.demand_reserve * billed[ent]
            dis_cap = np.minimum(dis_cap, np.maximum(spare, 0.0) * park.e_nom_kwh * obs.soh / dt_h)
        dis_sum = np.bincount(ent, weights=dis_cap, minlength=len(target))
        share_dis = dis_cap / np.maximum(dis_sum[ent], 1e-9)
        p = -np.maximum(excess[ent], 0.0) * share_dis
        if obs.period not in NO_RECHARGE:
            headroom = np.maximum(-excess - self.recharge_margin_kw, 0.0)
            room = np.maximum(park.soc_max - obs.soc, 0.0) * park.e_nom_kwh * obs.soh / dt_h
            ch_cap = np.minimum(np.maximum(obs.p_charge_max_kw, 0.0), room)
            ch_sum = np.bincount(ent, weights=ch_cap, minlength=len(target))
            p_ch = np.minimum(headroom[ent] * ch_cap / np.maximum(ch_sum[ent], 1e-9), ch_cap)
            p = np.where(excess[ent] > 0.0, p, p_ch)
        if billed.any():
            p = self._ceiling.cap(obs, p)
        return p
