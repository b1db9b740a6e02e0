"""The bench over a running plant: setpoints reach the physics, the watchdog reverts, faults act."""

from __future__ import annotations

import struct
import time

import pytest
from pyModbusTCP.client import ModbusClient

from hil.bench import METER_ID_FIRST, Bench, BenchConfig
from hil.faults import BenchFault, parse_fault
from hil.serve import BenchRun
from parktwin.errors import InputError
from tests.hil.fleetplant import FleetPlant


def _s16(v: int) -> int:
    return struct.unpack(">H", struct.pack(">h", v))[0]


def _signed(r: int) -> int:
    return struct.unpack(">h", struct.pack(">H", r))[0]


def make(plant: FleetPlant, **cfg) -> Bench:
    return Bench(plant, BenchConfig(port=0, record=True, **cfg))


def wait_until(pred, timeout=15.0):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_setpoint_written_over_modbus_drives_the_plant():
    plant = FleetPlant(n=1, speed=4.0)
    bench = make(plant, watchdog_s=30.0)
    with BenchRun(bench) as run:
        c = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, auto_open=True, timeout=5)
        assert c.write_single_register(8194, 1)  # start
        assert c.write_single_register(8192, _s16(5000))  # discharge 500.0 kW
        # the PCS starts (start-up delay), ramps, and the vendor map shows it (discharge +)
        assert wait_until(lambda: (r := c.read_holding_registers(4096, 1)) and _signed(r[0]) > 4900)
        meter = ModbusClient(
            host="127.0.0.1", port=run.port, unit_id=METER_ID_FIRST, auto_open=True
        )
        # the meter (SunSpec 213 float W, import +) shows load 4000 kW less the discharge
        regs = meter.read_holding_registers(bench.meters[0].image.map.by_name["213.W"].address, 2)
        w = struct.unpack(">f", struct.pack(">HH", *regs))[0]
        assert 3400e3 < w < 3600e3
        c.close()
        meter.close()
    tr = bench.trace.arrays()
    assert tr["p_cmd_kw"][-1, 0] == pytest.approx(-500.0)


def test_watchdog_reverts_a_silent_unit_to_its_fallback():
    plant = FleetPlant(n=1, speed=2.0)
    bench = make(plant, watchdog_s=1.0)
    with BenchRun(bench) as run:
        c = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, auto_open=True, timeout=5)
        c.write_single_register(8194, 1)
        c.write_single_register(8192, _s16(-4000))  # charge 400 kW
        assert wait_until(lambda: plant.p[0] == pytest.approx(400.0), 2.0)
        # no more writes: after 1 s of silence the unit reverts to 0 kW
        assert wait_until(lambda: bench.units[0].reverted, 5.0)
        assert plant.p[0] == 0.0
        assert bench.log.of("revert")
        # a new setpoint resumes control
        c.write_single_register(8192, _s16(-1000))
        assert wait_until(lambda: plant.p[0] == pytest.approx(100.0), 2.0)
        assert not bench.units[0].reverted
        c.close()


def test_scheduled_comm_loss_and_pcs_trip():
    plant = FleetPlant(n=2, speed=4.0)
    faults = (
        BenchFault(kind="comm_loss", target="xinsheng-1", at_s=1.0, duration_s=2.0),
        BenchFault(kind="pcs_trip", target="xinsheng-2", at_s=1.0, duration_s=100.0),
        BenchFault(kind="frozen_meter", target="xinsheng", at_s=1.0),
    )
    bench = make(plant, watchdog_s=30.0, faults=faults)
    with BenchRun(bench) as run:
        c1 = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, auto_open=True, timeout=5)
        c2 = ModbusClient(host="127.0.0.1", port=run.port, unit_id=2, auto_open=True, timeout=5)
        assert wait_until(lambda: plant.t_s > 1.5)
        assert c1.read_holding_registers(4096, 1) is None and c1.last_except == 0x0B
        assert wait_until(lambda: (r := c2.read_holding_registers(4352, 1)) and r[0] == 4)  # FAULT
        assert c2.read_holding_registers(4353, 1)[0] & 4  # vendor alarm word: PCS trip
        assert wait_until(lambda: plant.t_s > 3.5)
        assert c1.read_holding_registers(4096, 1) is not None  # link back
        c1.close()
        c2.close()
    kinds = [(e.device, e.kind) for e in bench.log.events]
    assert ("xinsheng-1", "fault") in kinds and ("xinsheng-1", "clear") in kinds
    assert ("xinsheng-2", "fault") in kinds


def test_fault_parsing_and_targets():
    f = parse_fault("meter_noise:xinsheng@60+30=15")
    assert (f.kind, f.target, f.at_s, f.duration_s, f.value) == (
        "meter_noise",
        "xinsheng",
        60,
        30,
        15,
    )
    with pytest.raises(InputError, match="kind"):
        parse_fault("meltdown:all@1")
    plant = FleetPlant(n=1)
    with pytest.raises(InputError, match="not a storage unit"):
        make(plant, faults=(BenchFault(kind="pcs_trip", target="xinsheng"),))


def test_fault_on_demand_over_modbus():
    plant = FleetPlant(n=2, speed=4.0)
    bench = make(plant, watchdog_s=30.0)
    with BenchRun(bench) as run:
        site = ModbusClient(host="127.0.0.1", port=run.port, unit_id=200, auto_open=True, timeout=5)
        # pcs_trip on unit id 2 for 100 s: target, duration, value, then kind
        assert site.write_multiple_registers(101, [2, 100, 0])
        assert site.write_single_register(100, 5)
        c2 = ModbusClient(host="127.0.0.1", port=run.port, unit_id=2, auto_open=True, timeout=5)
        assert wait_until(lambda: (r := c2.read_holding_registers(4352, 1)) and r[0] == 4)
        # a kind outside 1..6 is refused, the plant never sees it
        assert not site.write_single_register(100, 9)
        assert site.last_except == 3
        site.close()
        c2.close()
    assert ("xinsheng-2", "fault") in [(e.device, e.kind) for e in bench.log.events]


def test_the_port_opens_only_once_the_plant_took_its_first_step():
    plant = FleetPlant(n=1, speed=1.0, soc0=0.42)
    bench = make(plant, watchdog_s=30.0)
    run = BenchRun(bench)
    assert not plant.prepared
    port = run.start()
    try:
        assert plant.prepared and plant.t_s > 0.0
        # the very first read already holds the plant's measurement (vendor SOC, 0.1 %)
        c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
        assert c.read_holding_registers(4098, 1) == [420]
        c.close()
    finally:
        run.stop()
