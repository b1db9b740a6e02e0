"""What a dispatch strategy sees and returns, and how one is found by name.

A strategy is a small class with one method, ``decide(obs) -> p_kw`` (or ``(p_kw, q_kvar)``):
arrays over the park's storage units, + = charging, kW at the PCS terminals. It sees what a
site controller can see: the meters of the last power-flow solve (closed loop), each unit's
SOC, SOH and what it can do now, the tariff period and price, and a forecast (prices are
published; load and PV are perfect or persistence, per the scenario). The guards
(`twin.guards`) clamp whatever it returns, so a strategy may be naive about limits.

The engine reuses one `Observation` and updates its arrays in place each control period: a
strategy must copy what it wants to keep.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field

import numpy as np

from parktwin.errors import InputError
from parktwin.strategy_names import StrategyName


@dataclass(frozen=True)
class ParkInfo:
    """Static facts about the park that a controller knows (arrays over units / meters)."""

    enterprise_names: tuple[str, ...]
    unit_names: tuple[str, ...]
    unit_enterprise: np.ndarray
    """(n_units,) index into `enterprise_names` of each unit's meter."""
    e_nom_kwh: np.ndarray
    p_max_kw: np.ndarray
    """(n_units,) rated AC power of each unit's PCS [kW]."""
    soc_min: np.ndarray
    soc_max: np.ndarray
    start: dt.datetime
    step_s: float
    """Length of one interval of the forecast and of `Observation.k` [s]."""
    steps_per_day: int
    demand_yuan_per_kw_month: float
    """0 when the hosts pay the basic charge by capacity (storage cannot change it)."""
    efficiency: float = 0.94
    """One-way AC-to-stored efficiency a planner assumes (round trip ~0.88, park-facts)."""
    eta_spread: float = 0.0
    """How much lower the marginal efficiency of the upper half of the power range is than
    that of the lower half (convex losses, for planners)."""
    month_start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """(n_intervals,) index of the first interval of each interval's calendar month."""
    demand_billed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """(n_ent,) True where the meter pays its basic charge on demand (demand or contract
    basis); empty = every meter when `demand_yuan_per_kw_month` > 0."""
    free_demand_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_ent,) import the basic charge does not see [kW]: the contract's threshold
    (105 % of the contract demand) on a contract basis, 0 otherwise."""

    @property
    def n_units(self) -> int:
        return len(self.unit_names)

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprise_names)


class Forecast:
    """Look-ahead from the coming interval `k`, in intervals of `ParkInfo.step_s`.

    Prices and periods are the published tariff (exact); load and PV are the scenario's
    forecast: the actual series (``lag=0``: perfect), or the same time `lag` intervals
    before (persistence: ``lag`` = one day; the first day, which has no yesterday, sees
    itself). Views into the series, no copies. Beyond the end of the run the last day
    repeats (``day`` intervals; without it, the last value).
    """

    def __init__(
        self,
        price: np.ndarray,
        period: np.ndarray,
        load_kw: np.ndarray,
        pv_kw: np.ndarray,
        lag: int = 0,
        day: int | None = None,
    ) -> None:
        self._price = price
        self.day = day
        self._period = period
        self._load = load_kw
        self._pv = pv_kw
        self.lag = int(lag)
        self.k = 0

    def _window(self, arr: np.ndarray, n: int, lag: int = 0) -> np.ndarray:
        k0 = self.k - lag if self.k >= lag else self.k
        k1 = k0 + n
        if k1 <= len(arr):
            return arr[k0:k1]
        idx = np.arange(k0, k1)
        beyond = idx >= len(arr)
        if self.day is not None and len(arr) >= self.day:
            back = (idx[beyond] - len(arr)) // self.day + 1  # whole days back into the run
            idx[beyond] -= back * self.day
        else:
            idx[beyond] = len(arr) - 1
        return arr[idx]

    def price_yuan_per_kwh(self, n: int) -> np.ndarray:
        """(n,) energy price of the next n intervals [yuan/kWh]."""
        return self._window(self._price, n)

    def period(self, n: int) -> np.ndarray:
        """(n,) tariff period (`profiles.Period` codes) of the next n intervals."""
        return self._window(self._period, n)

    def load_kw(self, n: int) -> np.ndarray:
        """(n, n_ent) forecast load of each meter's enterprise [kW]."""
        return self._window(self._load, n, self.lag)

    def pv_kw(self, n: int) -> np.ndarray:
        """(n, n_ent) forecast PV output behind each meter [kW]."""
        return self._window(self._pv, n, self.lag)

    def net_load_kw(self, n: int) -> np.ndarray:
        """(n, n_ent) forecast load minus PV (what the meter would see without storage)."""
        return self.load_kw(n) - self.pv_kw(n)


@dataclass(eq=False)
class Observation:
    """What the controller sees at the start of interval `k` (arrays updated in place)."""

    park: ParkInfo
    forecast: Forecast
    k: int = 0
    t_s: float = 0.0
    soc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    soh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temp_c: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pcs_state: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    p_ac_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_units,) achieved AC power over the last interval [kW]."""
    p_aux_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_charge_max_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_discharge_max_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pcc_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_ent,) import at each meter from the last power-flow solve [kW]."""
    pcc_kvar: np.ndarray = field(default_factory=lambda: np.zeros(0))
    net_load_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_ent,) measured import minus the storage behind each meter: the load the storage
    works against, as the last solve saw it [kW]."""
    fast_net_load_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_ent,) the same, as a fast local loop (the EMS reading its meter every second) sees
    it during the coming interval: at a 15-min step, the interval's own load minus PV.
    Anti-backflow and demand control act on this; planning should use the forecast."""
    month_peak_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(n_ent,) highest import so far this calendar month (the billed demand) [kW]."""
    period: int = 2
    price_yuan_per_kwh: float = 0.0

    def load_now_kw(self, fast: bool = True) -> np.ndarray:
        """(n_ent,) the load the storage works against: the fast loop's reading when `fast`
        and the engine gives one, else the last power-flow solve's."""
        if fast and len(self.fast_net_load_kw) == len(self.net_load_kw):
            return self.fast_net_load_kw
        return self.net_load_kw

    @property
    def when(self) -> dt.datetime:
        """Local time (Asia/Shanghai) of the start of the coming interval."""
        return self.park.start + dt.timedelta(seconds=self.t_s)


class Strategy:
    """Base of dispatch strategies: override `decide`. Parameters come as keyword arguments."""

    name = "strategy"

    def decide(self, obs: Observation) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Setpoints for the coming control period: (n_units,) p_kw, optionally q_kvar."""
        raise NotImplementedError


class Idle(Strategy):
    """Never dispatches: the baseline of a park with storage installed but unused."""

    name = StrategyName.IDLE.value

    def decide(self, obs: Observation) -> np.ndarray:
        return np.zeros(obs.park.n_units)


def load_strategy(spec: str | Strategy, params: dict | None = None) -> Strategy:
    """A strategy instance from a built-in name, "module.path:ClassName", or an instance."""
    if isinstance(spec, Strategy) or (not isinstance(spec, str) and hasattr(spec, "decide")):
        return spec  # type: ignore[return-value]
    params = dict(params or {})
    from twin.strategies import BUILTIN

    if spec in BUILTIN:
        cls = BUILTIN[spec]
    else:
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"strategy: cannot import module {module_name!r}: {exc}") from exc
        cls = getattr(module, class_name, None)
        if cls is None:
            raise InputError(f"strategy: module {module_name!r} has no {class_name!r}")
        if not callable(getattr(cls, "decide", None)):
            raise InputError(f"strategy: {spec} has no decide(obs) method")
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"strategy_params: {spec}: {exc}") from exc
