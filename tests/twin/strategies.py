"""Hypothesis strategies and hand-made days for the twin's tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import strategies as st

from profiles import Period
from twin.inputs import Inputs, month_starts

V, F, P, S, D = (
    int(Period.VALLEY),
    int(Period.FLAT),
    int(Period.PEAK),
    int(Period.SHARP),
    int(Period.DEEP_VALLEY),
)
PRICE = {D: 0.15, V: 0.33, F: 0.68, P: 1.06, S: 1.30}

# Zhejiang 2024-03 scheme, Feb-Jun/Sep-Nov: valley 00-08, 11-13; peak 08-11, 13-17; flat 17-24.
SPRING_2024 = [V] * 8 + [P] * 3 + [V] * 2 + [P] * 4 + [F] * 7
# Same scheme, Jan/Jul/Aug/Dec: sharp 09-11, 15-17; peak 08-09, 17-23; flat 13-15, 23-24.
SUMMER_2024 = [V] * 8 + [P] + [S] * 2 + [V] * 2 + [F] * 2 + [S] * 2 + [P] * 6 + [F]
# 2026-07 draft, spring/autumn: valley 00-07 and 11-14, peak 16-23, else flat.
SPRING_2026 = [V] * 7 + [F] * 4 + [V] * 3 + [F] * 2 + [P] * 7 + [F]


def hand_day(
    n_ent: int,
    hours: list[int],
    load_kw: float | np.ndarray = 6000.0,
    host: int = 0,
    days: int = 1,
    interval_s: float = 900.0,
    start: dt.datetime = dt.datetime(2025, 4, 7),
    pv_kw: float | np.ndarray = 0.0,
) -> Inputs:
    """Inputs of `days` identical hand-made days: the tariff period of each hour, a load."""
    per_h = round(3600 / interval_s)
    period = np.repeat(np.asarray(hours * days, dtype=np.int64), per_h)
    n = len(period)
    load = np.full((n, n_ent), 1000.0)
    load[:, host] = load_kw
    pv = np.zeros((n, n_ent))
    pv[:, host] = pv_kw
    return Inputs(
        start=start,
        interval_s=interval_s,
        load_kw=load,
        pv_kw=pv,
        ambient_c=np.full(n, 25.0),
        period=period,
        price_yuan_per_kwh=np.array([PRICE[p] for p in period]),
        month_start=month_starts(start, n, interval_s),
    )


@st.composite
def adversarial_setpoints(draw, n_units: int, n_steps: int):
    """(n_steps, n_units) setpoints a broken controller might send: huge, tiny, NaN, flips."""
    kind = draw(st.sampled_from(["random", "extreme", "flip", "nan"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "random":
        p = rng.uniform(-5000.0, 5000.0, (n_steps, n_units))
    elif kind == "extreme":
        p = rng.choice([-1e9, 1e9, -3000.0, 3000.0], (n_steps, n_units))
    elif kind == "flip":
        p = np.where(np.arange(n_steps)[:, None] % 2 == 0, 1e5, -1e5) * np.ones((1, n_units))
    else:
        p = rng.uniform(-3000.0, 3000.0, (n_steps, n_units))
        p[rng.random((n_steps, n_units)) < 0.2] = np.nan
        p[rng.random((n_steps, n_units)) < 0.1] = -np.inf
    return p


@st.composite
def guard_inputs(draw):
    """Random arguments of `twin.guards.guard_kernel` (within physical ranges)."""
    n = draw(st.integers(1, 6))
    n_ent = draw(st.integers(1, 3))
    f = st.floats(-3000.0, 3000.0, allow_nan=False)
    pos = st.floats(0.0, 3000.0, allow_nan=False)

    def arr(elem, size=n):
        return np.array(draw(st.lists(elem, min_size=size, max_size=size)), dtype=float)

    soc_lo = arr(st.floats(0.0, 0.3))
    return {
        "p_req": arr(f),
        "q_req": arr(st.floats(-1500.0, 1500.0)),
        "p_prev": arr(f),
        "soc": arr(st.floats(0.0, 1.0)),
        "soc_lo": soc_lo,
        "soc_hi": soc_lo + arr(st.floats(0.4, 0.7)),
        "e_kwh": arr(st.floats(100.0, 6000.0)),
        "p_ch_max": arr(pos),
        "p_dis_max": arr(pos),
        "s_max_kva": arr(st.floats(100.0, 3000.0)),
        "ramp_kw_per_s": arr(st.floats(0.1, 500.0)),
        "trafo_kva": arr(st.floats(100.0, 3000.0)),
        "trafo_frac": draw(st.floats(0.5, 1.2)),
        "p_aux_kw": arr(st.floats(0.0, 30.0)),
        "unit_ent": np.array(
            draw(st.lists(st.integers(0, n_ent - 1), min_size=n, max_size=n)), dtype=np.int64
        ),
        "net_load_kw": arr(st.floats(-500.0, 5000.0), n_ent),
        "margin_kw": arr(st.floats(0.0, 200.0), n_ent),
        "dt_s": draw(st.sampled_from([0.1, 1.0, 60.0, 900.0])),
        "eff": draw(st.floats(0.8, 1.0)),
        "enable": np.array(draw(st.lists(st.integers(0, 1), min_size=5, max_size=5)), np.int64),
    }


def hand_sim(
    hours: list[int],
    strategy=None,
    load_kw: float | np.ndarray = 6000.0,
    days: int = 1,
    interval_s: float = 900.0,
    pv_kw: float | np.ndarray = 0.0,
    trace: bool = False,
    **update,
):
    """A `Simulation` of the first project on hand-made days, on a copper plate (no feeders).

    The host (Xinsheng) gets `load_kw`; every other meter a flat 1 MW. The units are
    always available (no maintenance or outage days) unless `update` says otherwise: these
    days test the engine's mechanics.
    """
    from grid import default_site
    from twin.engine import Simulation
    from twin.scenario import AvailabilitySpec, default_scenario

    site = default_site()
    host = [e.name for e in site.enterprises].index("xinsheng")
    inputs = hand_day(len(site.enterprises), hours, load_kw, host, days, interval_s, pv_kw=pv_kw)
    sc = default_scenario().model_copy(
        update={
            "days": days,
            "step_s": interval_s,
            "network": "copper_plate",
            "start": inputs.start.date(),
            "availability": AvailabilitySpec(enabled=False),
            **update,
        }
    )
    return Simulation(sc, strategy=strategy, inputs=inputs, trace=trace), host
