"""Emulated devices served by pymodbus on 127.0.0.1 port 0, checked by clients we did not write."""

from __future__ import annotations

import socket
import struct

import pytest
from pyModbusTCP.client import ModbusClient
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from hil.emulated import EmulatedMeter, EmulatedUnit, SiteDevice
from hil.plant import UnitRatings
from hil.server import ModbusEndpoint
from hil.vendor import load_vendor_file
from parktwin.errors import ProtocolError

RATINGS = UnitRatings(
    "xinsheng-1", "lfp280-2236kwh", 1250.0, 1250.0, 2236.0, 0.05, 0.95, 625.0, 1331.2
)


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def setpoint(self, index, p_kw, q_kvar):
        self.calls.append(("setpoint", index, p_kw, q_kvar))

    def command(self, index, action):
        self.calls.append(("command", index, action))


@pytest.fixture
def bench():
    sink = Sink()
    unit = EmulatedUnit(0, RATINGS, sink, vendor=load_vendor_file(), watchdog_s=30.0)
    unit.publish(
        100.0,
        1.0,
        {
            "p_ac_kw": -800.0,
            "q_ac_kvar": 50.0,
            "soc": 0.605,
            "soh": 0.99,
            "temp_c": 28.3,
            "ambient_c": 31.5,
            "pcs_state": 3,
            "p_charge_max_kw": 1100.0,
            "p_discharge_max_kw": 1050.0,
        },
    )
    meter = EmulatedMeter("xinsheng", 0)
    meter.publish(100.0, 1.0, 3500.0, 400.0)
    site = SiteDevice()
    site.publish(
        {
            "t_s": 100,
            "period_code": 3,
            "price_yuan_per_kwh": 1.0462,
            "export_margin_kw": 100,
            "demand_target_kw": 5000,
            "soc_min": 0.05,
            "soc_max": 0.95,
            "n_units": 1,
            "n_meters": 1,
            "watchdog_s": 30,
        }
    )
    ep = ModbusEndpoint({1: unit, 101: meter, 200: site})
    port = ep.start()
    yield port, unit, meter, sink
    ep.stop()


def test_pysunspec2_scans_the_unit_and_finds_sane_values(bench):
    port, *_ = bench
    dev = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        dev.scan()
        assert sorted(k for k in dev.models if isinstance(k, int)) == [1, 701, 702, 704, 713, 802]
        assert dev.common[0].Mn.cvalue == "ParkTwin"
        assert dev.common[0].SN.cvalue == "xinsheng-1"
        meas = dev.DERMeasureAC[0]
        assert meas.W.cvalue == pytest.approx(800_000.0)  # discharging 800 kW = generation
        assert meas.TmpCab.cvalue == pytest.approx(28.3)
        assert dev.DERCapacity[0].WMaxRtg.cvalue == pytest.approx(1_250_000.0)
        assert dev.DERStorageCapacity[0].SoC.cvalue == pytest.approx(60.5)
        assert dev.models[802][0].WHRtg.cvalue == pytest.approx(2_236_000.0)
    finally:
        dev.close()


def test_pysunspec2_writes_a_setpoint_that_reaches_the_plant(bench):
    port, _, _, sink = bench
    dev = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        dev.scan()
        ctl = dev.DERCtlAC[0]
        ctl.WSetEna.value = 1
        ctl.WSetMod.value = 1
        ctl.WSet.cvalue = -600_000.0  # absorb 600 kW = charge
        ctl.write()
    finally:
        dev.close()
    assert sink.calls[-1] == ("setpoint", 0, 600.0, 0.0)


def test_pysunspec2_scans_the_meter(bench):
    port, *_ = bench
    dev = SunSpecModbusClientDeviceTCP(slave_id=101, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        dev.scan()
        assert sorted(k for k in dev.models if isinstance(k, int)) == [1, 213]
        assert dev.models[213][0].W.cvalue == pytest.approx(3_500_000.0)
        assert dev.models[213][0].PPV.cvalue == pytest.approx(10_000.0)
    finally:
        dev.close()


def test_plain_client_reads_and_writes_the_vendor_map(bench):
    port, _, _, sink = bench
    c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
    try:
        p_ac, q_ac, soc = c.read_holding_registers(4096, 3)
        assert q_ac == struct.unpack(">H", struct.pack(">h", -500))[0]  # 50 kvar absorbed
        assert struct.unpack(">h", struct.pack(">H", p_ac))[0] == 8000  # +800.0 kW discharge
        assert soc == 605
        assert c.read_holding_registers(4106, 2) == [0, 0]  # 800 kW for 1 s: 0.22 kWh -> 0
        assert c.write_single_register(8192, struct.unpack(">H", struct.pack(">h", -3000))[0])
        assert sink.calls[-1] == ("setpoint", 0, 300.0, 0.0)  # -300 kW discharge = charge 300
        assert c.write_single_register(8194, 1)
        assert sink.calls[-1] == ("command", 0, "start")
        # out of the 1250 kW rating: ILLEGAL DATA VALUE, the plant never sees it
        n = len(sink.calls)
        assert not c.write_single_register(8192, 20000)
        assert c.last_except == 3
        # read-only telemetry, unknown address, enum out of its symbols
        assert not c.write_single_register(4096, 1)
        assert c.last_except == 2
        assert c.read_holding_registers(5000, 1) is None
        assert c.last_except == 2
        assert not c.write_single_register(8194, 2)
        assert c.last_except == 3
        assert len(sink.calls) == n
        # the site device
        site = ModbusClient(host="127.0.0.1", port=port, unit_id=200, auto_open=True, timeout=5)
        assert site.read_holding_registers(2, 2) == [3, 10462]
        site.close()
    finally:
        c.close()


def test_malformed_frames_never_stop_the_server(bench):
    port, *_ = bench
    for junk in (
        b"\x00\x01\x00\x00\x00\xff\x01\x03",
        b"\xde\xad\xbe\xef" * 64,
        b"\x00\x01\x00\x00\x00\x06\x01\x63\x00\x00\x00\x01",  # unknown function 0x63
        b"\x00\x01\x00\x00\x00\x06\x01\x03\x9c\x40\x00\x00",
    ):  # count 0
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(junk)
            s.settimeout(0.3)
            try:
                s.recv(256)
            except (TimeoutError, ConnectionError):
                pass
    c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
    assert c.read_holding_registers(40000, 2) == [0x5375, 0x6E53]
    c.close()


def test_comm_loss_answers_gateway_no_response(bench):
    port, unit, _, _ = bench
    unit.link_up = False
    c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
    assert c.read_holding_registers(40000, 2) is None
    assert c.last_except == 0x0B
    unit.link_up = True
    assert c.read_holding_registers(40000, 2) == [0x5375, 0x6E53]
    c.close()


def test_binding_off_loopback_must_be_asked_for():
    with pytest.raises(ProtocolError, match="allow_remote"):
        ModbusEndpoint({1: object()}, host="0.0.0.0")


def test_sunspec_revert_timer_points_set_the_watchdog(bench):
    port, unit, _, _ = bench
    ctl = unit.sunspec.map.by_name
    c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
    assert c.write_multiple_registers(ctl["704.WSetRvrtTms"].address, [0, 7])
    assert unit.revert_s == 7.0
    assert c.write_single_register(ctl["704.WSetEnaRvrt"].address, 0)  # DISABLED
    assert unit.revert_s == 0.0
    assert c.write_single_register(ctl["704.WSetEnaRvrt"].address, 1)
    assert unit.revert_s == 7.0
    assert not c.write_multiple_registers(ctl["704.WSetRvrtTms"].address, [0, 4000])  # > 3600 s
    assert c.last_except == 3
    c.close()
