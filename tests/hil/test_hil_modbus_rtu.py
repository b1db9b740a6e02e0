"""Modbus RTU over a pseudo-terminal pair: raw frames, pymodbus' serial client, our driver.

Each device on the bus is a device, not a gateway: a frame for another unit id, or with
a bad CRC, gets no answer; a broadcast write acts on every device and is answered by none.
"""

from __future__ import annotations

import time

import pytest
import serial
from pymodbus.client import ModbusSerialClient
from pymodbus.framer import FramerType

from hil.driver import DriverConfig, ModbusDriver
from hil.emulated import EmulatedUnit
from hil.framing import crc16
from hil.server import ModbusEndpoint, RtuConfig
from hil.vendor import load_vendor_file
from tests.hil.modbus_device import Device
from tests.hil.ptypair import PtyPair
from tests.hil.test_hil_server import RATINGS, Sink

H = bytes.fromhex
QUIET_S = 0.3  # no answer within this: the device stayed silent


@pytest.fixture
def bus():
    dev, other = Device(), Device()
    with PtyPair() as pty, ModbusEndpoint({1: dev, 2: other}, rtu=RtuConfig(port=pty.a)):
        line = serial.Serial(pty.b, 9600, timeout=QUIET_S)
        yield line, dev, other
        line.close()


def rtu(uid: int, pdu: bytes) -> bytes:
    frame = bytes((uid,)) + pdu
    return frame + crc16(frame)


def exchange(line: serial.Serial, frame: bytes, expect: int = 256) -> bytes:
    line.reset_input_buffer()
    line.write(frame)
    return line.read(expect)


@pytest.mark.parametrize(
    ("request_pdu", "answer_pdu"),
    [
        ("03 0064 0002", "03 04 0064 0065"),
        ("03 0064 0000", "83 03"),
        ("03 0064 007E", "83 03"),
        ("03 1000 0001", "83 02"),
        ("03 0064 00", "83 03"),  # truncated: taken at the silence after it
        ("06 012C 07D0", "86 03"),
        ("10 012D 0002 04 0001 0002", "10 012D 0002"),
        ("18 0064", "98 01"),  # FIFO: not implemented, no made-up data
        ("2B 0E 01 00", "AB 01"),
        ("63", "E3 01"),
    ],
)
def test_request_gets_the_answer_of_the_spec(bus, request_pdu, answer_pdu):
    line, *_ = bus
    want = rtu(1, H(answer_pdu))
    assert exchange(line, rtu(1, H(request_pdu)), len(want)).hex(" ") == want.hex(" ")


def test_other_unit_ids_and_bad_crcs_get_no_answer(bus):
    line, *_ = bus
    assert exchange(line, rtu(9, H("03 0064 0001"))) == b""
    bad = bytearray(rtu(1, H("03 0064 0001")))
    bad[-1] ^= 0xFF
    assert exchange(line, bytes(bad)) == b""
    # and the line is not confused: the next good frame is answered
    assert exchange(line, rtu(1, H("03 0064 0001")), 7) == rtu(1, H("03 02 0064"))


def test_noise_before_a_frame_is_skipped(bus):
    line, *_ = bus
    noise = H("FF 00 13 37 01 03 DE AD")
    assert exchange(line, noise + rtu(2, H("03 0065 0001")), 7) == rtu(2, H("03 02 0065"))


def test_a_unit_whose_link_is_down_stays_silent(bus):
    line, dev, _ = bus
    dev.link_up = False
    assert exchange(line, rtu(1, H("03 0064 0001"))) == b""
    assert exchange(line, rtu(2, H("03 0064 0001")), 7) == rtu(2, H("03 02 0064"))


def test_a_broadcast_write_acts_on_every_device_and_is_not_answered(bus):
    line, dev, other = bus
    assert exchange(line, rtu(0, H("06 012C 0011"))) == b""
    assert dev.image.get_raw("p_set") == other.image.get_raw("p_set") == 0x11
    assert exchange(line, rtu(0, H("03 0064 0001"))) == b""  # a broadcast read: nothing


def test_pymodbus_serial_client_reads_and_writes(bus):
    line, dev, _ = bus
    port = line.port
    line.close()  # the client takes the line
    c = ModbusSerialClient(port, framer=FramerType.RTU, baudrate=9600, timeout=1, retries=0)
    assert c.connect()
    try:
        rr = c.read_holding_registers(100, count=125, device_id=1)
        assert rr.registers == list(range(100, 225))
        assert not c.write_register(300, 500, device_id=1).isError()
        assert dev.image.get_raw("p_set") == 500
        rr = c.write_register(300, 2000, device_id=1)
        assert rr.isError() and rr.exception_code == 3
        rr = c.read_input_registers(230, count=1, device_id=2)
        assert rr.isError() and rr.exception_code == 2
    finally:
        c.close()


def test_the_drivers_rtu_path_commands_an_emulated_unit():
    # (a pty refuses parity settings: EINVAL; the parity option is pyserial's, untested here)
    sink = Sink()
    unit = EmulatedUnit(0, RATINGS, sink, vendor=load_vendor_file(), watchdog_s=30.0)
    unit.publish(
        100.0,
        1.0,
        {
            "p_ac_kw": -800.0,
            "q_ac_kvar": 0.0,
            "soc": 0.605,
            "soh": 0.99,
            "temp_c": 28.3,
            "ambient_c": 25.0,
            "pcs_state": 3,
            "p_charge_max_kw": 1118.0,
            "p_discharge_max_kw": 1118.0,
        },
    )
    with (
        PtyPair() as pty,
        ModbusEndpoint({1: unit}, rtu=RtuConfig(port=pty.a, baudrate=19200)),
    ):
        drv = ModbusDriver(DriverConfig(serial=pty.b, baudrate=19200, unit_id=1))
        drv.connect()
        try:
            assert drv.read("soc") == pytest.approx(0.605)
            drv.command_kw(300.0)  # charge 300 kW
        finally:
            drv.close()
    assert sink.calls[-1] == ("setpoint", 0, 300.0, 0.0)


def test_a_serial_port_that_does_not_exist_is_one_clear_error():
    from parktwin.errors import ProtocolError

    ep = ModbusEndpoint({1: Device()}, rtu=RtuConfig(port="/dev/does-not-exist-parktwin"))
    t0 = time.monotonic()
    with pytest.raises(ProtocolError, match="/dev/does-not-exist-parktwin"):
        ep.start()
    assert time.monotonic() - t0 < 5


def test_the_bench_serves_its_plant_over_rtu_beside_tcp():
    from pyModbusTCP.client import ModbusClient

    from hil.bench import Bench, BenchConfig
    from hil.serve import BenchRun
    from tests.hil.fleetplant import FleetPlant

    plant = FleetPlant(n=1, speed=2.0)
    with PtyPair() as pty:
        bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0, rtu=RtuConfig(port=pty.a)))
        with BenchRun(bench) as run:
            c = ModbusSerialClient(pty.b, framer=FramerType.RTU, timeout=1, retries=0)
            assert c.connect()
            try:
                assert not c.write_register(8192, 0x10000 - 3000, device_id=1).isError()
                # the bench hands a setpoint to the plant at its next step
                t_end = time.monotonic() + 2.0
                while plant.p[0] != pytest.approx(300.0) and time.monotonic() < t_end:
                    time.sleep(0.02)
                assert plant.p[0] == pytest.approx(300.0)  # -300.0 kW discharge = charge
                sunspec = c.read_holding_registers(40000, count=2, device_id=1)
                assert sunspec.registers == [0x5375, 0x6E53]  # "SunS"
            finally:
                c.close()
            # the same image over TCP
            tcp = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, auto_open=True)
            assert tcp.read_holding_registers(8192, 1) == [0x10000 - 3000]
            tcp.close()


@pytest.mark.slow
def test_twin_hil_serve_rtu_end_to_end():
    """`twin hil serve --rtu PTY`: the real plant, a pymodbus serial client on the other end."""
    import os
    import subprocess
    import sys

    twin = os.path.join(os.path.dirname(sys.executable), "twin")
    with PtyPair() as pty:
        proc = subprocess.Popen(
            [twin, "hil", "serve", "--rtu", pty.a, "--port", "0", "--duration", "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            lines = []
            for line in proc.stdout:  # the plant is built before the ports open
                lines.append(line)
                if "Ctrl-C" in line:
                    break
            assert any(f"Modbus RTU on {pty.a}" in ln for ln in lines), "".join(lines)
            c = ModbusSerialClient(pty.b, framer=FramerType.RTU, timeout=2, retries=1)
            assert c.connect()
            try:
                assert c.read_holding_registers(40000, count=2, device_id=1).registers == [
                    0x5375,
                    0x6E53,
                ]
                rr = c.read_holding_registers(40000, count=2, device_id=101)  # a meter
                assert rr.registers == [0x5375, 0x6E53]
            finally:
                c.close()
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
