"""What the bill lets storage add to a meter: the month's billed demand is not to rise.

Under demand (需量) billing the month's highest 15-min import is paid for; under contract
(合同需量) billing an import up to the contract's threshold (105 %) costs nothing more.
A strategy that knows the bill keeps each such meter at or below a ceiling: the higher of
that free level and the highest net load (load - PV, what the meter would read without
storage) seen so far this month, less a margin for what the storage draws besides its
setpoint (unit-transformer losses, auxiliaries' swings). The running peak is the fast
loop's reading, so the ceiling never anticipates the month: it only ever rises with the
load itself, and the meter's monthly maximum with storage stays at or under the one
without.
"""

from __future__ import annotations

import numpy as np

from twin.strategies.base import Observation


class DemandCeiling:
    """Per meter, the import the storage must not push the meter above this month."""

    def __init__(self, margin_kw: float) -> None:
        self.margin_kw = float(margin_kw)
        self._peak = np.zeros(0)
        self._month_k0 = -1

    @staticmethod
    def applies(obs: Observation) -> np.ndarray:
        """(n_ent,) bool: meters billed on their demand (demand or contract basis)."""
        park = obs.park
        if len(park.demand_billed) == park.n_enterprises:
            return park.demand_billed
        return np.full(park.n_enterprises, park.demand_yuan_per_kw_month > 0.0)

    def ceiling_kw(self, obs: Observation) -> np.ndarray:
        """(n_ent,) highest meter import the storage may cause now [kW] (inf: not billed)."""
        park = obs.park
        net = obs.load_now_kw()
        k0 = int(park.month_start[obs.k]) if len(park.month_start) > obs.k else 0
        if k0 != self._month_k0 or len(self._peak) != len(net):
            self._peak = np.maximum(net, 0.0).astype(float)
            self._month_k0 = k0
        else:
            np.maximum(self._peak, net, out=self._peak)
        free = park.free_demand_kw if len(park.free_demand_kw) == len(net) else 0.0
        level = np.maximum(self._peak, free) - self.margin_kw
        return np.where(self.applies(obs), level, np.inf)

    def cap(self, obs: Observation, p_kw: np.ndarray) -> np.ndarray:
        """`p_kw` (+ = charging) limited so that each billed meter stays under its ceiling;
        where the load alone is above it, the units discharge the difference."""
        park = obs.park
        ent = park.unit_enterprise
        room = self.ceiling_kw(obs) - obs.load_now_kw()
        aux = np.bincount(ent, weights=obs.p_aux_kw, minlength=len(room))
        allowed = room - aux  # storage power the meter can take [kW]
        want = np.bincount(ent, weights=p_kw, minlength=len(room))
        over = np.isfinite(allowed) & (want > allowed)
        if not np.any(over[ent]):
            return p_kw
        out = np.asarray(p_kw, dtype=float)
        # Charging units give way first (in proportion), then units discharge evenly.
        charge = np.maximum(p_kw, 0.0)
        c_sum = np.bincount(ent, weights=charge, minlength=len(room))
        excess = np.where(over, want - allowed, 0.0)
        cut = np.minimum(excess, c_sum)
        keep = 1.0 - cut / np.maximum(c_sum, 1e-9)
        out = np.where(out > 0.0, out * keep[ent], out)
        more = excess - cut  # still too high: discharge
        if np.any(more > 0.0):
            dis = np.maximum(obs.p_discharge_max_kw, 0.0)
            d_sum = np.bincount(ent, weights=dis, minlength=len(room))
            share = np.where(d_sum[ent] > 0, dis / np.maximum(d_sum[ent], 1e-9), 0.0)
            out -= np.where(over[ent], more[ent] * share, 0.0)
        return out
