"""The driver: its safety envelope (hypothesis), dry-run, allowlist, stop on comm loss."""

from __future__ import annotations

import itertools
import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.driver import DriverConfig, ModbusDriver, drive, envelope
from hil.faults import BenchFault
from hil.serve import BenchRun
from parktwin.errors import InputError, ProtocolError
from tests.hil.fleetplant import FleetPlant
from tests.hil.test_hil_bench import make, wait_until
from twin.hil_decider import twin_decider

kw = st.floats(-5000, 5000, allow_nan=False)


@given(
    kw,
    st.floats(-1250, 1250),
    st.floats(0.01, 5.0),
    st.floats(1.0, 2000.0),
    st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_envelope_holds_every_limit(p_req, p_prev, dt_s, ramp, soc):
    p, why = envelope(p_req, p_prev, dt_s, -1250.0, 1250.0, ramp, soc, 0.1, 0.9)
    assert abs(p - p_prev) <= ramp * dt_s + 1e-9
    # from inside the range, the ramp never leads outside it
    assert -1250.0 - 1e-9 <= p <= 1250.0 + 1e-9
    if soc is not None and soc <= 0.1:
        assert p >= min(0.0, p_prev)  # never more discharge than before at the floor
    if p != p_req:
        assert why


def test_envelope_examples():
    assert envelope(-800.0, 0.0, 1.0, -1000, 1000, 100.0, 0.5, 0.1, 0.9) == (-100.0, ["ramp"])
    assert envelope(-800.0, 0.0, 1.0, -1000, 1000, 1e4, 0.05, 0.1, 0.9)[0] == 0.0
    assert envelope(5000.0, 990.0, 1.0, -1000, 1000, 1e4, 0.5, 0.1, 0.9) == (1000.0, ["rating"])
    assert envelope(math.nan, 10.0, 1.0, -1000, 1000, 1e4, 0.5, 0.1, 0.9)[0] == 0.0


def _cfg(port: int, **kw) -> DriverConfig:
    base = dict(
        host="127.0.0.1",
        port=port,
        unit_id=1,
        period_s=0.1,
        ramp_kw_per_s=2000.0,
        backoff_s=0.1,
        backoff_max_s=0.2,
        comm_timeout_s=1.0,
    )
    return DriverConfig(**(base | kw))


def test_dry_run_logs_and_sends_nothing():
    plant = FleetPlant(n=1, speed=2.0)
    bench = make(plant, watchdog_s=30.0)
    with BenchRun(bench) as run:
        out = drive(_cfg(run.port, strategy="hold:-300", dry_run=True, duration_s=1.0))
    assert out.writes and not any(sent for *_, sent in out.writes)
    assert bench.units[0].vendor.write_count == 0
    assert plant.p[0] == 0.0


def test_drive_holds_a_setpoint_with_heartbeat_and_clamps_to_the_rating():
    plant = FleetPlant(n=1, speed=2.0)
    bench = make(plant, watchdog_s=30.0)
    with BenchRun(bench) as run:
        out = drive(_cfg(run.port, strategy="hold:-5000", duration_s=1.5))
        assert plant.p[0] == pytest.approx(-1118.0)  # rated power read from the device
    names = {name for _, name, _, sent in out.writes if sent}
    assert names == {"p_set", "heartbeat"}
    assert out.clamps > 0


def test_allowlist_refuses_before_sending():
    plant = FleetPlant(n=1)
    bench = make(plant)
    with BenchRun(bench) as run:
        drv = ModbusDriver(_cfg(run.port))
        drv.connect()
        with pytest.raises(ProtocolError, match="allowlist"):
            drv.write("fault_reset", 1)
        with pytest.raises(ProtocolError, match="allowlist"):
            drv.write("watchdog_s", 1)
        drv.close()
    assert bench.units[0].vendor.write_count == 0
    with pytest.raises(InputError, match="allow"):
        ModbusDriver(_cfg(1, allow=("no_such_point",)))


def test_comm_loss_longer_than_the_timeout_stops_at_zero():
    plant = FleetPlant(n=1, speed=1.0)
    bench = make(
        plant,
        watchdog_s=30.0,
        faults=(BenchFault(kind="comm_loss", target="all", at_s=1.0, duration_s=2.5),),
    )
    with BenchRun(bench) as run:
        t0 = time.monotonic()
        out = drive(_cfg(run.port, strategy="hold:200", duration_s=15.0))
        assert time.monotonic() - t0 < 10.0
        assert "communication lost" in out.stopped
        assert out.reconnects > 0
        assert out.writes[-1][1:] == ("p_set", 0.0, True)
        assert wait_until(lambda: plant.p[0] == 0.0, 2.0)


def test_driver_config_needs_exactly_one_transport():
    with pytest.raises(ValueError, match="either host"):
        DriverConfig()
    with pytest.raises(ValueError, match="either host"):
        DriverConfig(host="127.0.0.1", serial="/dev/ttyUSB0")


@pytest.mark.parametrize("strategy", ["tou", "peak_shaving", "lp"])
def test_twin_strategies_drive_a_unit_in_dry_run(strategy):
    plant = FleetPlant(n=1, speed=2.0)
    bench = make(plant, watchdog_s=30.0)
    with BenchRun(bench) as run:
        out = drive(
            _cfg(run.port, strategy=strategy, dry_run=True, duration_s=1.0, ramp_kw_per_s=500.0),
            strategies=twin_decider,
        )
    sets = [(t, v) for t, name, v, _ in out.writes if name == "p_set"]
    assert len(sets) >= 3
    for (t0, v0), (t1, v1) in itertools.pairwise(sets):
        assert abs(v1 - v0) <= 500.0 * (t1 - t0) + 1e-6  # the ramp clamp held
        assert abs(v1) <= 1118.0
