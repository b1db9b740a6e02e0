"""Strategies on hand-made days with known right answers (real unit physics, copper plate)."""

from __future__ import annotations

import numpy as np
import pytest

from parktwin.errors import InputError
from tests.twin.strategies import PRICE, SPRING_2024, SPRING_2026, SUMMER_2024, hand_sim
from twin.strategies import DayAheadLP, PeakShaving, TimeOfUse, load_strategy, solve_day


def _hourly(x: np.ndarray) -> np.ndarray:
    """(96,) quarter-hour values -> (24,) hourly means."""
    return x.reshape(24, 4).mean(axis=1)


def _run(hours, strategy, **kw):
    sim, host = hand_sim(hours, strategy, **kw)
    sim.run()
    return sim, host


def test_tou_2024_spring_two_charges_two_discharges() -> None:
    sim, _ = _run(SPRING_2024, TimeOfUse(), soc0=0.05)
    p = _hourly(sim.recorder.units["p_ac_kw"].sum(axis=1))
    soc = sim.recorder.units["soc"].mean(axis=1)
    valley = [h for h, per in enumerate(SPRING_2024) if per == 1]
    peak = [h for h, per in enumerate(SPRING_2024) if per == 3]
    assert np.all(p[valley] > -1.0)  # never discharges in the valley
    assert np.all(p[peak] < 50.0)  # never charges in the peak (aux aside)
    assert p[0:8].mean() > 500.0 and p[11:13].mean() > 2000.0  # charges in both valleys
    assert p[8] < -2000.0 and p[13] < -2000.0  # discharges at the start of both peaks
    assert np.all(np.abs(p[17:24]) < 60.0)  # flat evening: battery already spent
    # full before each discharge, near the floor after it
    assert soc[8 * 4 - 1] > 0.9 and soc[13 * 4 - 1] > 0.85
    assert soc[11 * 4 - 1] < 0.15 and soc[17 * 4 - 1] < 0.15


def test_tou_2024_summer_discharges_into_sharp_hours_first() -> None:
    sim, _ = _run(SUMMER_2024, TimeOfUse(), soc0=0.05)
    p = _hourly(sim.recorder.units["p_ac_kw"].sum(axis=1))
    assert abs(p[8]) < 60.0  # peak hour 08-09 left for the dearer sharp 09-11
    assert p[9] < -2000.0 and p[10] < -2000.0
    assert np.all(np.abs(p[13:15]) < 60.0)  # flat 13-15 skipped
    assert p[15] < -2000.0 and p[16] < -1000.0  # sharp 15-17 first


def test_tou_follows_the_2026_windows_by_itself() -> None:
    sim, _ = _run(SPRING_2026, TimeOfUse(), soc0=0.05)
    p = _hourly(sim.recorder.units["p_ac_kw"].sum(axis=1))
    assert p[0:7].mean() > 500.0 and p[11:14].mean() > 500.0  # valleys 00-07, 11-14
    assert p[7] < -2000.0  # first discharge: the flat morning after the night valley
    assert p[16] < -2000.0  # second: the evening peak
    assert np.all(np.abs(p[14:16]) < 60.0)  # flat 14-16 kept for the peak


def test_peak_shaving_holds_an_explicit_target() -> None:
    load = np.full(96, 6000.0)
    load[40:48] = 8500.0  # a 2-h, 2.5 MW bump at 10:00
    sim, host = _run([2] * 24, PeakShaving(target_kw={"xinsheng": 7000.0}), load_kw=load, soc0=0.9)
    pcc = sim.recorder.meters["pcc_kw"][:, host]
    assert pcc[40:48].max() <= 7000.0 + 30.0  # aux estimate one interval old
    assert pcc[:40].max() <= 7000.0 + 30.0  # recharging never sets a new peak
    assert sim.recorder.units["p_ac_kw"][40:48].sum(axis=1).max() < -1400.0


def test_peak_shaving_derives_its_monthly_target() -> None:
    ps = PeakShaving(shave_fraction=0.5)
    load = np.full(96, 6000.0)
    load[40:44] = 8000.0
    sim, host = _run([2] * 24, ps, load_kw=load, soc0=0.9, forecast="perfect")
    rated = sim.park_info.p_max_kw.sum()
    assert ps.target_kw[host] == pytest.approx(8000.0 - 0.5 * rated)
    assert sim.recorder.meters["pcc_kw"][:, host].max() <= ps.target_kw[host] + 30.0


def test_lp_two_cycles_hand_computed() -> None:
    # prices 1, 3, 1, 3 yuan/kWh, 1-h steps, a lossless 1 kWh / 1 kW battery, empty.
    p, cost = solve_day(
        np.array([1.0, 3.0, 1.0, 3.0]),
        np.full(4, 100.0),
        dt_h=1.0,
        e0_kwh=0.0,
        e_min_kwh=0.0,
        e_max_kwh=1.0,
        p_charge_kw=1.0,
        p_discharge_kw=1.0,
        eta=1.0,
    )
    np.testing.assert_allclose(p, [1.0, -1.0, 1.0, -1.0], atol=1e-9)
    assert cost == pytest.approx(-4.0)


def test_lp_does_not_cycle_when_losses_eat_the_spread() -> None:
    # spread 1.0 -> 1.2 is below the loss of a 0.9 x 0.9 round trip: stay idle
    p, _ = solve_day(np.array([1.0, 1.2]), np.full(2, 100.0), 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, eta=0.9)
    np.testing.assert_allclose(p, 0.0, atol=1e-9)


def test_lp_shaves_demand_when_it_pays() -> None:
    # flat price, load 5 then 10 kW, a full 2 kWh battery, demand 40 yuan/kW: all 2 kWh
    # go into hour 2 (energy-neutral, 80 yuan less demand), the peak falls from 10 to 8 kW.
    p, _ = solve_day(
        np.array([1.0, 1.0]),
        np.array([5.0, 10.0]),
        1.0,
        e0_kwh=2.0,
        e_min_kwh=0.0,
        e_max_kwh=2.0,
        p_charge_kw=5.0,
        p_discharge_kw=5.0,
        eta=1.0,
        demand_yuan_per_kw=40.0,
        month_peak_kw=0.0,
    )
    assert p[1] == pytest.approx(-2.0)
    assert max(5.0 + p[0], 10.0 + p[1]) == pytest.approx(8.0)


def test_lp_never_exports() -> None:
    p, _ = solve_day(
        np.array([0.3, 1.3]),
        np.array([50.0, 50.0]),
        1.0,
        1000.0,
        0.0,
        1000.0,
        500.0,
        500.0,
        0.95,
        margin_kw=10.0,
    )
    assert p[1] >= -40.0 - 1e-9  # net 50 - margin 10


@pytest.mark.parametrize("hours", [SPRING_2024, SUMMER_2024, SPRING_2026])
def test_lp_is_never_worse_than_tou_on_the_same_day(hours) -> None:
    costs = {}
    for name, strat in (("tou", TimeOfUse()), ("lp", DayAheadLP())):
        sim, host = _run(hours, strat, soc0=0.05, forecast="perfect")
        pcc = sim.recorder.meters["pcc_kw"][:, host]
        costs[name] = float((pcc * sim.inputs.price_yuan_per_kwh).sum() * 0.25)
        costs[name + "_end_soc"] = float(sim.fleet.soc.mean())
    # Energy left at the end is worth what it would cost to buy back at the valley price.
    buy_back = PRICE[1] / 0.94
    value = {
        k: costs[k] - (costs[k + "_end_soc"] - 0.05) * 3 * 2236 * buy_back for k in ("tou", "lp")
    }
    assert value["lp"] <= value["tou"] + 1e-6 * abs(value["tou"])


def test_load_strategy_by_name_and_module_path() -> None:
    assert isinstance(load_strategy("tou"), TimeOfUse)
    s = load_strategy("twin.strategies.peak_shaving:PeakShaving", {"shave_fraction": 0.3})
    assert isinstance(s, PeakShaving) and s.shave_fraction == 0.3
    with pytest.raises(InputError, match="cannot import module"):
        load_strategy("no_such_module:Thing")
    with pytest.raises(InputError, match="has no 'Nope'"):
        load_strategy("twin.strategies:Nope")
    with pytest.raises(InputError, match="strategy_params"):
        load_strategy("tou", {"bogus": 1})


@pytest.mark.parametrize("name", ["tou", "peak_shaving", "lp", "idle"])
def test_strategies_run_on_a_hand_built_observation(name) -> None:
    """A controller outside the engine (the HIL driver) builds its own observation, without
    the engine's fast-loop reading; every built-in strategy still decides."""
    import datetime as dt

    from twin.strategies import Forecast, Observation, ParkInfo

    n = 192
    period = np.array(([1] * 32 + [3] * 12 + [1] * 8 + [3] * 16 + [2] * 28) * 2)
    price = np.array([PRICE[p] for p in period])
    park = ParkInfo(
        enterprise_names=("site",),
        unit_names=("unit",),
        unit_enterprise=np.zeros(1, int),
        e_nom_kwh=np.array([2236.0]),
        p_max_kw=np.array([1118.0]),
        soc_min=np.array([0.05]),
        soc_max=np.array([0.95]),
        start=dt.datetime(2025, 4, 7),
        step_s=900.0,
        steps_per_day=96,
        demand_yuan_per_kw_month=40.0,
        month_start=np.zeros(n, dtype=np.int64),
    )
    load = np.full((n, 1), 3000.0)
    obs = Observation(park=park, forecast=Forecast(price, period, load, np.zeros((n, 1))))
    ones = np.ones(1)
    for k in (0, 40):
        obs.k = obs.forecast.k = k
        obs.soc, obs.soh, obs.temp_c = 0.5 * ones, ones, 25 * ones
        obs.p_ac_kw, obs.p_aux_kw = 0 * ones, 0 * ones
        obs.p_charge_max_kw = obs.p_discharge_max_kw = 1118 * ones
        obs.pcc_kw = obs.net_load_kw = obs.month_peak_kw = 3000 * ones
        obs.pcc_kvar = 0 * ones
        obs.period, obs.price_yuan_per_kwh = int(period[k]), float(price[k])
        p = np.asarray(load_strategy(name).decide(obs), float)
        assert p.shape == (1,) and np.isfinite(p).all()


def test_persistence_forecast_is_the_day_before() -> None:
    from twin.strategies import Forecast

    load = np.arange(300.0).reshape(-1, 1)  # interval k has load k
    fc = Forecast(np.zeros(300), np.zeros(300, int), load, np.zeros((300, 1)), lag=96)
    fc.k = 10  # first day: no yesterday, it sees itself
    np.testing.assert_array_equal(fc.load_kw(3)[:, 0], [10.0, 11.0, 12.0])
    fc.k = 100  # yesterday, same time
    np.testing.assert_array_equal(fc.net_load_kw(3)[:, 0], [4.0, 5.0, 6.0])
    perfect = Forecast(np.zeros(300), np.zeros(300, int), load, np.zeros((300, 1)))
    perfect.k = 298  # beyond the end: the last value, or the last day with `day`
    np.testing.assert_array_equal(perfect.load_kw(4)[:, 0], [298.0, 299.0, 299.0, 299.0])
    daily = Forecast(np.zeros(300), np.zeros(300, int), load, np.zeros((300, 1)), day=96)
    daily.k = 298
    np.testing.assert_array_equal(daily.load_kw(4)[:, 0], [298.0, 299.0, 204.0, 205.0])


def test_tou_crosses_from_the_2024_to_the_2026_scheme_by_itself() -> None:
    """Real tariff data: 2026-06-30 is the last day of the 2024 scheme (valley 00-08,
    11-13), 2026-07-01 the first of the 2026 one (valley 00-07, 11-14, summer sharp 18-22)."""
    import datetime as dt

    from twin.engine import Simulation
    from twin.scenario import default_scenario

    sc = default_scenario().model_copy(
        update={"days": 2, "start": dt.date(2026, 6, 30), "network": "copper_plate"}
    )
    sim = Simulation(sc)
    sim.run()
    p = sim.recorder.units["p_ac_kw"].sum(axis=1).reshape(2, 24, 4).mean(axis=2)
    june, july = p[0], p[1]
    assert june[7] > 100.0 and july[7] < -1000.0  # 07-08: valley in June, flat in July
    assert june[13] < -1000.0  # 13-14: peak in June (2024 scheme)
    assert july[13] > 1000.0  # ... valley in July (2026 scheme)
    assert july[18] < -1000.0  # the 2026 summer sharp hours 18-22 come first in the evening
    assert np.all(np.abs(july[16:18]) < 60.0)  # the cheaper 16-18 peak is left alone


@pytest.mark.parametrize("name", ["tou", "lp"])
def test_demand_billing_does_not_ratchet_the_peak(name) -> None:
    """Under demand billing, charging must not lift the month's peak import day after day."""
    import datetime as dt

    from twin.run import run_scenario
    from twin.scenario import default_scenario

    sc = default_scenario().model_copy(
        update={
            "days": 10,
            "start": dt.date(2025, 7, 1),
            "network": "copper_plate",
            "strategy": name,
            "basic_charge": "demand",
        }
    )
    month = run_scenario(sc).monthly[0]
    # The standby auxiliaries of three cabins (~10 kW) may sit on top of the natural peak.
    assert month["max_demand_with_kw"] <= month["max_demand_without_kw"] + 30.0


@pytest.mark.parametrize(
    ("name", "basis"),
    [("tou", "demand"), ("peak_shaving", "demand"), ("tou", "contract")],
)
def test_storage_never_raises_the_billed_demand(name: str, basis: str) -> None:
    """Over a month boundary: each month's maximum 15-min import with storage never exceeds
    the one without (demand billing), and the billed demand never rises (contract)."""
    import datetime as dt

    from twin.run import run_scenario
    from twin.scenario import default_scenario

    sc = default_scenario().model_copy(
        update={
            "days": 35,
            "start": dt.date(2025, 1, 10),
            "network": "copper_plate",
            "strategy": name,
            "basic_charge": basis,
        }
    )
    result = run_scenario(sc)
    (host,) = result.bills
    assert len(host.without.months) == 2
    for a, b in zip(host.without.months, host.with_storage.months, strict=True):
        assert b.billed_demand_kw <= a.billed_demand_kw
        if basis == "demand":
            assert b.max_demand_kw <= a.max_demand_kw
    assert result.summary.discharge_kwh_per_day > 300.0  # it still dispatches


def _tou_decisions(e_nom_kwh: list[float], deliver: list[float]) -> np.ndarray:
    """TOU's setpoints over a spring day for units at their own meters; unit u delivers the
    fraction deliver[u] of its setpoint (a real unit falls short near the window's bottom)."""
    import datetime as dt

    from twin.strategies import Forecast, Observation, ParkInfo

    n_units, n = len(e_nom_kwh), 192
    period = np.array(([1] * 32 + [3] * 12 + [1] * 8 + [3] * 16 + [2] * 28) * 2)
    price = np.array([PRICE[p] for p in period])
    park = ParkInfo(
        enterprise_names=tuple(f"e{u}" for u in range(n_units)),
        unit_names=tuple(f"u{u}" for u in range(n_units)),
        unit_enterprise=np.arange(n_units),
        e_nom_kwh=np.array(e_nom_kwh),
        p_max_kw=np.full(n_units, 1000.0),
        soc_min=np.full(n_units, 0.05),
        soc_max=np.full(n_units, 0.95),
        start=dt.datetime(2025, 4, 7),
        step_s=900.0,
        steps_per_day=96,
        demand_yuan_per_kw_month=0.0,
        month_start=np.zeros(n, dtype=np.int64),
    )
    load = np.full((n, n_units), 8000.0)
    obs = Observation(park=park, forecast=Forecast(price, period, load, np.zeros((n, n_units))))
    tou, ones = TimeOfUse(), np.ones(n_units)
    soc, out = np.full(n_units, 0.95), []
    for k in range(32, 96):
        obs.k = obs.forecast.k = k
        obs.soc, obs.soh, obs.temp_c = soc.copy(), ones, 25 * ones
        obs.p_ac_kw, obs.p_aux_kw = 0 * ones, 0 * ones
        obs.p_charge_max_kw = obs.p_discharge_max_kw = 1000 * ones
        obs.pcc_kw = obs.net_load_kw = obs.month_peak_kw = load[k].copy()
        obs.pcc_kvar = 0 * ones
        obs.period, obs.price_yuan_per_kwh = int(period[k]), float(price[k])
        p = np.asarray(tou.decide(obs), float)
        soc = soc + p * np.array(deliver) * 0.25 / np.array(e_nom_kwh)
        out.append(p)
    return np.array(out)


def test_tou_units_at_other_meters_do_not_move_each_others_plans() -> None:
    """A unit's dispatch must not depend on which other units the park has (expansion
    studies compare parks that differ by one candidate): found when adding storage at one
    enterprise changed the replanning of every other unit in the park."""
    alone = _tou_decisions([2236.0], deliver=[0.9])
    beside = _tou_decisions([2236.0, 5016.0], deliver=[0.9, 0.5])
    assert np.any(alone[:, 0] < 0)  # it does discharge
    np.testing.assert_array_equal(beside[:, 0], alone[:, 0])
