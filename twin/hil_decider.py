"""The twin's dispatch strategies as deciders for `twin hil drive` (`hil.driver`).

`hil` does not import the twin: the CLI hands `twin_decider` to `hil.driver.drive`, which
calls it for any ``--strategy`` beyond ``idle`` and ``hold:KW``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from hil.driver import Decide, DriverConfig
from parktwin.errors import InputError
from parktwin.pcs_states import PcsState
from profiles import tou_series
from twin.strategies import Forecast, Observation, ParkInfo, load_strategy


def twin_decider(config: DriverConfig, p_max_kw: float, e_nom_kwh: float) -> Decide:
    """A twin strategy (``tou``, ``peak_shaving``, ``lp``, "module:Class") run on a one-unit
    park with today's Zhejiang tariff, fed with the observations of the driven unit."""
    return TwinDecider(config.strategy, config.strategy_params, p_max_kw, e_nom_kwh, config)


class TwinDecider:
    """Runs a twin strategy on observations of one real unit (15-min forecast intervals)."""

    def __init__(
        self,
        name: str,
        params: dict[str, object],
        p_max_kw: float,
        e_nom_kwh: float,
        config: DriverConfig,
    ) -> None:
        if not e_nom_kwh:
            raise InputError(
                f"--strategy {name}: needs the unit's energy (--e-nom-kwh or the map's rated_energy)"
            )
        self.strategy = load_strategy(name, params)
        now = (
            dt.datetime.now(dt.UTC)
            .astimezone(dt.timezone(dt.timedelta(hours=8)))
            .replace(tzinfo=None)
        )
        start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        self.start = start
        n = 2 * 96
        tou = tou_series(start, n, 900.0)
        park = ParkInfo(
            enterprise_names=("site",),
            unit_names=("unit",),
            unit_enterprise=np.zeros(1, int),
            e_nom_kwh=np.array([e_nom_kwh]),
            p_max_kw=np.array([p_max_kw]),
            soc_min=np.array([config.soc_min]),
            soc_max=np.array([config.soc_max]),
            start=start,
            step_s=900.0,
            steps_per_day=96,
            demand_yuan_per_kw_month=0.0,
            month_start=np.zeros(n, dtype=np.int64),
        )
        zeros = np.zeros((n, 1))
        self.forecast = Forecast(
            np.asarray(tou.price_yuan_per_kwh, float), np.asarray(tou.period), zeros, zeros
        )
        self.obs = Observation(park=park, forecast=self.forecast)

    def __call__(self, m: dict[str, float | None], t_s: float) -> float:
        k = int(t_s // 900.0)
        o = self.obs
        o.k = k
        o.t_s = t_s
        self.forecast.k = k
        o.soc = np.array([m.get("soc") if m.get("soc") is not None else 0.5])
        o.soh = np.ones(1)
        o.temp_c = np.full(1, 25.0)
        o.pcs_state = np.full(1, int(PcsState.RUNNING))
        o.p_ac_kw = np.array([m.get("p_ac_kw") or 0.0])
        o.p_aux_kw = np.zeros(1)
        o.p_charge_max_kw = np.array([m.get("p_charge_max_kw") or o.park.p_max_kw[0]])
        o.p_discharge_max_kw = np.array([m.get("p_discharge_max_kw") or o.park.p_max_kw[0]])
        o.pcc_kw = np.zeros(1)
        o.pcc_kvar = np.zeros(1)
        o.net_load_kw = np.zeros(1)
        o.month_peak_kw = np.zeros(1)
        o.period = int(self.forecast.period(1)[0])
        o.price_yuan_per_kwh = float(self.forecast.price_yuan_per_kwh(1)[0])
        out = self.strategy.decide(o)
        p = out[0] if isinstance(out, tuple) else out
        return float(np.asarray(p, float)[0])
