"""The engine: event order and timing (a log of (tag, t_s) as simpy's own tests), faults,
wall-clock mode, stop, step hooks, guards against adversarial strategies, determinism."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from devices import PcsState
from tests.twin.strategies import SPRING_2024, adversarial_setpoints, hand_sim
from twin.strategies import ExternalSetpoints, Strategy


class Constant(Strategy):
    def __init__(self, p_kw: float) -> None:
        self.p_kw = p_kw

    def decide(self, obs):
        return np.full(obs.park.n_units, self.p_kw)


def test_order_of_processes_at_equal_periods() -> None:
    sim, _ = hand_sim(SPRING_2024, Constant(0.0), trace=True)
    sim.run(until_s=3 * 900)
    assert sim.events_log == [
        ("control", 0.0),
        ("plant", 900.0),
        ("grid", 900.0),
        ("record", 900.0),
        ("control", 900.0),
        ("plant", 1800.0),
        ("grid", 1800.0),
        ("record", 1800.0),
        ("control", 1800.0),
        ("plant", 2700.0),
        ("grid", 2700.0),
        ("record", 2700.0),
    ]


def test_periods_differ_from_the_physics_step() -> None:
    # 60 s physics, grid every 120 s, control every 180 s: plant intervals of gcd = 60 s.
    sim, _ = hand_sim(
        SPRING_2024,
        Constant(100.0),
        interval_s=60.0,
        control_s=180.0,
        grid_s=120.0,
        trace=True,
        faults=({"kind": "pcs_trip", "unit": 1, "at_s": 120.0, "duration_s": 120.0},),
    )
    sim.run(until_s=360.0)
    log = [e for e in sim.events_log if e[1] <= 360.0]
    assert log == [
        ("control", 0.0),
        ("plant", 60.0),
        ("record", 60.0),
        ("plant", 120.0),
        ("grid", 120.0),
        ("record", 120.0),
        ("pcs_trip:xinsheng-ess-2", 120.0),  # acts on the interval that starts now
        ("plant", 180.0),
        ("record", 180.0),
        ("control", 180.0),
        ("plant", 240.0),
        ("grid", 240.0),
        ("record", 240.0),
        ("pcs_trip:xinsheng-ess-2:end", 240.0),
        ("plant", 300.0),
        ("record", 300.0),
        ("plant", 360.0),
        ("grid", 360.0),
        ("record", 360.0),
    ]  # run(until_s) ends with the interval that ends then; the next decision is the next run's
    assert sim.n_solves == 3 and sim.n_decisions == 2


def test_tariff_changes_are_events() -> None:
    sim, _ = hand_sim(SPRING_2024, Constant(0.0), trace=True)
    sim.run()
    changes = [t for tag, t in sim.events_log if tag == "tariff"]
    # valley->peak 08, peak->valley 11, valley->peak 13, peak->flat 17
    assert changes == [8 * 3600.0, 11 * 3600.0, 13 * 3600.0, 17 * 3600.0]


def test_pcs_trip_stops_the_unit_until_reset() -> None:
    sim, _ = hand_sim(
        SPRING_2024,
        Constant(-400.0),
        faults=(
            {"kind": "pcs_trip", "unit": "xinsheng-ess-1", "at_s": 3600.0, "duration_s": 3600.0},
        ),
    )
    sim.run()
    u = sim.recorder.units
    k_trip, k_reset = 4, 8
    assert np.all(np.abs(u["p_ac_kw"][k_trip:k_reset, 0]) < 1.0)  # its standby draw only
    assert np.all(u["pcs_state"][k_trip:k_reset, 0] == int(PcsState.FAULT))
    assert np.all(u["p_ac_kw"][k_trip:k_reset, 1] < -300.0)  # the others go on
    assert np.any(u["p_ac_kw"][k_reset + 1 :, 0] < -300.0)  # restarted after the reset
    assert sim.fault_log[0][1:] == ("pcs_trip", "xinsheng-ess-1")


@pytest.mark.parametrize("fallback,expected", [("zero", 0.0), ("hold", -200.0)])
def test_comm_loss_falls_back(fallback: str, expected: float) -> None:
    ext = ExternalSetpoints()
    for i in range(3):
        ext.set(i, -200.0)
    sim, _ = hand_sim(
        SPRING_2024,
        ext,
        faults=(
            {
                "kind": "comm_loss",
                "unit": 2,
                "at_s": 7200.0,
                "duration_s": 3600.0,
                "fallback": fallback,
            },
        ),
    )
    sim.run(until_s=7200.0)
    ext.set(2, 300.0)  # never delivered while the link is down
    sim.run(until_s=10800.0)
    p_set = sim.recorder.units["p_set_kw"]
    assert np.all(p_set[8:12, 2] == expected)
    sim.run()
    assert np.all(p_set[13:20, 2] == 300.0)  # link back: the new setpoint arrives


def test_step_hook_sees_every_interval() -> None:
    seen = []
    sim, _ = hand_sim(SPRING_2024, Constant(200.0))
    sim.add_step_hook(lambda v: seen.append((v.t_s, v.k, v.p_set_kw.copy(), v.pcc_kw.copy())))
    sim.run(until_s=4 * 900)
    assert [s[0] for s in seen] == [900.0, 1800.0, 2700.0, 3600.0]
    assert [s[1] for s in seen] == [0, 1, 2, 3]
    np.testing.assert_array_equal(seen[0][2], np.full(3, 200.0))
    assert len(seen[0][3]) == len(sim.layout.enterprise_names)


def test_wall_clock_mode_waits_and_measures_its_lag() -> None:
    import time

    # 900 s intervals at 9000x: 0.1 s of wall clock per interval, 8 intervals.
    sim, _ = hand_sim(SPRING_2024, Constant(0.0), realtime_speed=9000.0)
    t0 = time.monotonic()
    sim.run(until_s=8 * 900.0)
    assert time.monotonic() - t0 >= 0.7  # it waited for the wall clock
    assert sim.recorder.rows == 8
    assert sim.lag_s >= 0.0 and sim.max_lag_s >= sim.lag_s


def test_stop_from_another_thread() -> None:
    # 0.2 s of wall clock per interval: a whole day would take 19 s
    sim, _ = hand_sim(SPRING_2024, Constant(0.0), realtime_speed=4500.0)
    th = threading.Thread(target=sim.run)
    th.start()
    while sim.recorder.rows < 3 and th.is_alive():
        threading.Event().wait(0.01)
    sim.stop()
    th.join(timeout=5.0)
    assert not th.is_alive()
    assert 3 <= sim.recorder.rows < 96


class Replay(Strategy):
    def __init__(self, p: np.ndarray) -> None:
        self.p = p
        self.i = 0

    def decide(self, obs):
        out = self.p[self.i % len(self.p)]
        self.i += 1
        return out


@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    adversarial_setpoints(n_units=3, n_steps=96),
    __import__("hypothesis").strategies.integers(0, 2**31),
)
def test_guards_hold_under_adversarial_strategies(p, seed) -> None:
    rng = np.random.default_rng(seed)
    # A host whose load wanders between 1.5 and 4 MW, with 0-1 MW of PV at noon.
    load = rng.uniform(1500.0, 4000.0, 96)
    pv = np.where((np.arange(96) > 36) & (np.arange(96) < 64), rng.uniform(0, 1000.0, 96), 0.0)
    sim, host = hand_sim(
        SPRING_2024, Replay(p), load_kw=load, pv_kw=pv, soc0=float(rng.uniform(0.05, 0.95))
    )
    sim.run()
    pcc = sim.recorder.meters["pcc_kw"][:, host]
    soc = sim.recorder.units["soc"]
    lo, hi = sim.park_info.soc_min, sim.park_info.soc_max
    margin = sim.scenario.guards.backflow_margin_kw
    assert pcc.min() >= margin - 30.0  # never exports (aux estimate one interval old)
    assert np.all(soc <= hi + 1e-6)
    # Below the floor only by self-discharge while idle (3 %/month: ~1e-5 per interval),
    # never by a discharge the guards let through.
    assert np.all(soc >= lo - 2e-3)
    p_set = sim.recorder.units["p_set_kw"]
    soc_before = np.vstack([np.full((1, soc.shape[1]), sim.scenario.soc0), soc[:-1]])
    discharging = p_set < 0.0
    assert np.all(soc_before[discharging] >= np.broadcast_to(lo, soc.shape)[discharging])
    asked = np.where(np.isfinite(p), p, 0.0)
    done = sim.recorder.units["p_set_kw"]
    if np.any(np.abs(asked - done) > 1e-3):
        assert sum(sim.guard_report().values()) > 0  # every clamp is counted


def test_bad_strategy_output_is_a_simulation_error() -> None:
    from parktwin.errors import SimulationError

    class Wrong(Strategy):
        def decide(self, obs):
            return np.zeros(2)

    sim, _ = hand_sim(SPRING_2024, Wrong())
    with pytest.raises(SimulationError, match=r"shape \(2,\)"):
        sim.run()


def test_wall_clock_mode_reports_falling_behind(caplog) -> None:
    import logging
    import time

    # 10 ms of wall clock per interval, but a hook that takes 30 ms: it must fall behind,
    # go on (strict=False), and say so.
    sim, _ = hand_sim(SPRING_2024, Constant(0.0), realtime_speed=90000.0)
    sim.add_step_hook(lambda v: time.sleep(0.03))
    with caplog.at_level(logging.WARNING, logger="twin.engine"):
        sim.run(until_s=6 * 900.0)
    assert sim.recorder.rows == 6
    assert sim.intervals_behind > 0 and sim.max_lag_s > 0.01
    assert any("behind" in r.message for r in caplog.records)
