"""The twin's engine as the bench's plant: samples, faults through the engine's one fault
path, operator commands, readiness, and wall-clock pacing after a stall."""

from __future__ import annotations

import time

import numpy as np
import pytest

from devices import PcsState
from hil.bench import Bench, BenchConfig
from hil.faults import BenchFault
from hil.plant import PlantSample
from tests.twin.strategies import SPRING_2024, hand_sim
from twin.hil_plant import EnginePlant
from twin.strategies import ExternalSetpoints


def plant(speed: float) -> EnginePlant:
    ext = ExternalSetpoints()
    sim, _ = hand_sim(SPRING_2024, ext, realtime_speed=speed)
    return EnginePlant(sim, ext)


def test_prepare_takes_the_first_step_and_samples_carry_the_ambient() -> None:
    p = plant(90000.0)  # 10 ms per 900-s interval
    seen: list[PlantSample] = []
    p.add_step_hook(seen.append)
    p.prepare()
    assert len(seen) == 1 and p.sim.recorder.rows == 1
    s = seen[0]
    assert s.t_s == pytest.approx(900.0)
    assert s.ambient_c == pytest.approx(float(p.sim.inputs.ambient_c[0]))
    assert s.p_charge_max_kw.shape == (len(p.ratings),)
    p.prepare()  # once only
    assert len(seen) == 1
    p.run(until_s=3 * 900.0)
    assert p.sim.recorder.rows == 3
    assert [x.ambient_c for x in seen] == pytest.approx(list(p.sim.inputs.ambient_c[:3]))


def test_bench_faults_go_through_the_engine_fault_log() -> None:
    p = plant(90000.0)
    bench = Bench(p, BenchConfig(port=0))
    name = p.ratings[1].name
    bench.faults.append(
        BenchFault(kind="over_temperature", target=name, at_s=900.0, duration_s=900.0)
    )
    states: list[int] = []
    p.add_step_hook(lambda s: states.append(int(s.pcs_state[1])))
    p.run(until_s=4 * 900.0)
    kinds = [(k, n) for _, k, n in p.sim.fault_log]
    assert kinds == [("over_temperature", name), ("over_temperature cleared", name)]
    assert PcsState.FAULT in states  # the engine's fleet tripped
    assert bench.units[1].faults["over_temperature"] is False


def test_operate_goes_through_the_engine() -> None:
    p = plant(90000.0)
    p.prepare()
    p.operate(0, "stop")
    assert int(p.sim.fleet.pcs_state[0]) == PcsState.OFF
    with pytest.raises(Exception, match="unknown action"):
        p.sim.operate(0, "explode")


def test_a_late_plant_carries_on_from_now_instead_of_sprinting() -> None:
    p = plant(18000.0)  # 50 ms of wall clock per 900-s interval
    stamps: list[float] = []

    def hook(s: PlantSample) -> None:
        stamps.append(time.monotonic())
        if len(stamps) == 3:
            time.sleep(0.5)  # a stall of 10 intervals

    p.add_step_hook(hook)
    p.run(until_s=10 * 900.0)
    gaps = np.diff(stamps)
    # after the stall, no burst of back-to-back intervals to catch up: each keeps its 50 ms
    assert gaps[2] >= 0.5
    assert np.all(gaps[3:] > 0.035), gaps
    assert p.max_lag_s >= 0.4
