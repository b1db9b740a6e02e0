"""A synthetic commissioning/SCADA log of one unit, made by the twin itself (known truth).

Used by the tests (known-truth recovery), the bench and the example: the unit is run by
`devices.Fleet` at 1-minute steps under a seeded mix of charge and discharge blocks of
varied power between two SOC bounds, with rests, under a daily ambient swing; Gaussian
measurement noise of the given standard deviations is added to each logged channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from devices import Fleet, PcsState, UnitParams


@dataclass(frozen=True)
class LogSpec:
    """What the synthetic log covers and how noisy it is (all values of a test fixture)."""

    days: float = 3.0
    dt_s: float = 60.0
    block_s: float = 1800.0  # each block holds one power (or a rest)
    soc_low: float = 0.15
    soc_high: float = 0.9
    rest_share: float = 0.25
    ambient_mean_c: float = 30.0
    ambient_swing_c: float = 6.0  # half the daily peak-to-peak
    noise_v: float = 0.5
    noise_soc: float = 0.002
    noise_temp_c: float = 0.1
    noise_p_kw: float = 0.3
    start: str = "2026-07-01T00:00:00"
    time_zone: str = "Asia/Shanghai"


def commissioning_log(p: UnitParams, spec: LogSpec = LogSpec(), seed: int = 0):
    """The log as a pandas DataFrame (SCADA-like column names, naive local time stamps).

    Columns: time, P_AC_kW, P_DC_kW, V_DC_V, SOC_pct, T_cabin_C, T_amb_C, P_aux_kW; power +
    charging. Its column mapping is `MAPPING_COLUMNS` with ``--time-zone spec.time_zone``.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = round(spec.days * 86400.0 / spec.dt_s)
    per_block = max(round(spec.block_s / spec.dt_s), 1)
    soc0 = 0.5 * (spec.soc_low + spec.soc_high)
    fleet = Fleet([p], soc0=soc0, temp0_c=spec.ambient_mean_c, pcs_state0=PcsState.RUNNING)
    t = np.arange(1, n + 1) * spec.dt_s
    amb = spec.ambient_mean_c + spec.ambient_swing_c * np.sin(2 * np.pi * (t / 86400.0 - 0.375))
    cols = {k: np.empty(n) for k in ("p_ac", "p_dc", "v", "soc", "temp", "aux")}
    direction = 1.0
    p_set = 0.0
    soc = soc0
    for j in range(n):
        if j % per_block == 0:
            if soc >= spec.soc_high:
                direction = -1.0
            elif soc <= spec.soc_low:
                direction = 1.0
            rest = rng.random() < spec.rest_share
            p_set = 0.0 if rest else direction * rng.uniform(0.2, 1.0) * p.p_max_kw
        if (p_set > 0 and soc >= spec.soc_high) or (p_set < 0 and soc <= spec.soc_low):
            p_set = 0.0
        r = fleet.step([p_set], spec.dt_s, amb[j])
        soc = float(r.soc[0])
        cols["p_ac"][j] = r.p_ac_kw[0]
        cols["p_dc"][j] = r.p_dc_kw[0]
        cols["v"][j] = r.v_dc_v[0]
        cols["soc"][j] = soc
        cols["temp"][j] = r.temp_c[0]
        cols["aux"][j] = r.p_aux_kw[0]
    start = dt.datetime.fromisoformat(spec.start)
    stamps = pd.date_range(
        start + dt.timedelta(seconds=spec.dt_s), periods=n, freq=f"{spec.dt_s:g}s"
    )
    noise = rng.standard_normal((7, n))
    return pd.DataFrame(
        {
            "time": stamps,
            "P_AC_kW": cols["p_ac"] + spec.noise_p_kw * noise[0],
            "P_DC_kW": cols["p_dc"] + spec.noise_p_kw * noise[1],
            "V_DC_V": cols["v"] + spec.noise_v * noise[2],
            "SOC_pct": 100.0 * np.clip(cols["soc"] + spec.noise_soc * noise[3], 0.0, 1.0),
            "T_cabin_C": cols["temp"] + spec.noise_temp_c * noise[4],
            "T_amb_C": amb + spec.noise_temp_c * noise[5],
            "P_aux_kW": cols["aux"] + spec.noise_p_kw * noise[6],
        }
    )


MAPPING_COLUMNS = {
    "time": "time",
    "p_ac_kw": "P_AC_kW",
    "p_dc_kw": "P_DC_kW",
    "v_dc_v": "V_DC_V",
    "soc": "SOC_pct:%",
    "temp_c": "T_cabin_C",
    "ambient_c": "T_amb_C",
    "p_aux_kw": "P_aux_kW",
}
"""The column mapping of `commissioning_log` (channel -> column[:unit])."""
