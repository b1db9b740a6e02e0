"""The conformance table, enforced: every point read by pysunspec2 over a real socket with
the right value, every writable point acting on the plant (shown in the plant's own
trajectory) or refused, and the docs page current."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from pyModbusTCP.client import ModbusClient
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from devices import load_unit_params
from hil import conformance
from hil.bench import Bench, BenchConfig
from hil.emulated import (
    UNIT_WRITABLE,
    UNIT_WRITES,
    WHY_BMS_LIMIT,
    WHY_RATE_LIMIT,
    WHY_REVERTED,
    WHY_SOC_RESERVE,
    WHY_W_LIMIT,
    EmulatedUnit,
)
from hil.plant import PlantSample, ratings_of
from hil.registers import ILLEGAL_ADDRESS
from hil.serve import BenchRun
from hil.vendor import load_vendor_file
from parktwin.errors import InputError
from tests.hil.fleetplant import FleetPlant

ROOT = Path(__file__).resolve().parents[2]
UNIT_TYPES = ("lfp280-2236kwh", "lfp314-5016kwh")


def wait_until(pred, timeout=10.0) -> bool:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if pred():
            return True
        time.sleep(0.05)
    return False


class Recorder:
    """The plant's own trajectory, from its step hook."""

    def __init__(self, plant: FleetPlant) -> None:
        self.rows: list[tuple[float, float, float, int]] = []
        plant.add_step_hook(self)

    def __call__(self, s: PlantSample) -> None:
        self.rows.append((s.t_s, float(s.p_ac_kw[0]), float(s.q_ac_kvar[0]), int(s.pcs_state[0])))

    def since(self, t_s: float) -> np.ndarray:
        return np.array([r for r in self.rows if r[0] >= t_s])


def scan(port: int, unit_id: int = 1) -> SunSpecModbusClientDeviceTCP:
    dev = SunSpecModbusClientDeviceTCP(slave_id=unit_id, ipaddr="127.0.0.1", ipport=port, timeout=5)
    dev.scan()
    return dev


# ----------------------------------------------------------------------------- the table
def test_the_docs_page_is_current() -> None:
    page = (ROOT / "docs" / "bench-conformance.md").read_text(encoding="utf-8")
    assert page == conformance.markdown(), (
        "run: python -m hil.conformance docs/bench-conformance.md"
    )


def test_every_point_says_what_it_reads_and_every_writable_point_what_it_does() -> None:
    rows = conformance.rows()
    assert {r.device for r in rows} == {"unit SunSpec", "unit vendor map", "meter SunSpec", "site"}
    for r in rows:
        assert r.reads and r.invalid, r
        assert bool(r.write) == (r.access == "rw"), r
    # every write the unit handles is reachable from its maps, and nothing else is writable
    unit = EmulatedUnit(0, conformance.example_ratings(), _Sink(), vendor=load_vendor_file())
    served = {p.bind for img in unit.images for p in img.map.bound("rw")}
    assert served == set(UNIT_WRITES)
    assert all(
        p.bind in UNIT_WRITABLE for img in unit.images for p in img.map.points if p.access == "rw"
    )


class _Sink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def setpoint(self, index, p_kw, q_kvar):
        self.calls.append(("setpoint", p_kw, q_kvar))

    def command(self, index, action):
        self.calls.append(("command", action))


def test_every_writable_point_changes_what_the_unit_commands_or_holds() -> None:
    """A write to any writable point of either map changes the unit's setpoint in force,
    its settings or its commands to the plant: no write is accepted and ignored."""
    ratings = conformance.example_ratings()
    for img_index in (0, 1):
        probe = EmulatedUnit(0, ratings, _Sink(), vendor=load_vendor_file())
        for p in probe.images[img_index].map.bound("rw"):
            sink = _Sink()
            unit = EmulatedUnit(0, ratings, sink, vendor=load_vendor_file())
            unit.soc = 0.5
            img = unit.images[img_index]
            with unit._lock:
                before = unit._settings()
            if p.symbols:
                cur = img.get_raw(p.name)
                value = next(s for s in p.symbols if s != cur)
            else:
                lo = p.min if p.min is not None else 0.0
                hi = p.max if p.max is not None else 1000.0
                value = lo + 0.37 * (hi - lo) if p.bind != "ctrl_hb" else 7
                if img.get(p.name) == pytest.approx(value):
                    value = lo + 0.61 * (hi - lo)
            img.write(p.address, img.encode(p, value))
            with unit._lock:
                after = unit._settings()
            assert after != before or sink.calls, f"{img.map.source}: {p.name} changed nothing"


@pytest.mark.parametrize("unit_type", UNIT_TYPES)
def test_pysunspec2_reads_every_point_of_every_model_right(unit_type: str) -> None:
    plant = FleetPlant(n=2, speed=4.0, unit_type=unit_type, soc0=0.6, ambient_c=2.8)
    bench = Bench(plant, BenchConfig(port=0))
    r = plant.ratings[0]
    table = {(row.device, row.point): row for row in conformance.rows(r)}
    with BenchRun(bench) as run:
        time.sleep(0.3)
        dev = scan(run.port, 2)
        try:
            for mid in (1, 701, 702, 704, 713, 802):
                model = dev.models[mid][0]
                for name, point in model.points.items():
                    row = table[("unit SunSpec", f"{mid}.{name}")]
                    lacking = row.reads.startswith("not implemented")
                    assert (point.cvalue is None) == lacking, (mid, name, point.cvalue, row.reads)
            m1, m701, m702 = dev.models[1][0], dev.models[701][0], dev.models[702][0]
            m704, m713, m802 = dev.models[704][0], dev.models[713][0], dev.models[802][0]
            assert m1.DA.cvalue == 2 and m1.SN.cvalue == "xinsheng-2"
            assert m701.TmpAmb.cvalue == pytest.approx(2.8)  # the plant's ambient
            e_wh = r.e_nom_kwh * 1000.0
            assert m713.WHRtg.cvalue == pytest.approx(e_wh, abs=50.0)
            assert m802.WHRtg.cvalue == pytest.approx(e_wh, abs=500.0)
            soc = bench.units[1].soc
            soh = float(plant.fleet.soh[1])
            e_avail = (soc - r.soc_min) * e_wh * soh
            assert m713.WHAvail.cvalue == pytest.approx(e_avail, abs=100.0)
            assert m713.SoC.cvalue == pytest.approx(100 * soc, abs=0.1)
            for name, watts in (
                ("WMaxRtg", r.p_max_kw),
                ("WMax", r.p_max_kw),
                ("VAMaxRtg", r.s_max_kva),
                ("VAMax", r.s_max_kva),
                ("WChaRteMaxRtg", r.p_max_kw),
                ("WChaRteMax", r.p_max_kw),
                ("WDisChaRteMaxRtg", r.p_max_kw),
                ("WDisChaRteMax", r.p_max_kw),
            ):
                assert getattr(m702, name).cvalue == pytest.approx(1000 * watts, abs=100), name
            assert m704.WSetRvrtTms.cvalue == 10 and m704.WSetEnaRvrt.cvalue == 1
            assert m802.SoCRsvMin.cvalue == pytest.approx(100 * r.soc_min)
        finally:
            dev.close()
        meter = scan(run.port, 101)
        try:
            for mid in (1, 213):
                for name, point in meter.models[mid][0].points.items():
                    row = table[("meter SunSpec", f"{mid}.{name}")]
                    lacking = row.reads.startswith("not implemented")
                    assert (point.cvalue is None) == lacking, (mid, name, point.cvalue)
            assert meter.models[1][0].DA.cvalue == 101
        finally:
            meter.close()


def test_a_rating_a_register_cannot_show_stops_the_bench() -> None:
    big = dataclasses.replace(conformance.example_ratings(), e_nom_kwh=7000.0)
    with pytest.raises(
        InputError,
        match=r"713\.WHRtg \(register \d+\) cannot show 7000000 WH: u16 at scale factor 2",
    ):
        EmulatedUnit(0, big, _Sink())


def test_model_1_da_is_the_unit_id_and_read_only() -> None:
    plant = FleetPlant(n=2, speed=4.0)
    bench = Bench(plant, BenchConfig(port=0))
    da = bench.units[1].sunspec.map.by_name["1.DA"].address
    with BenchRun(bench) as run:
        c = ModbusClient(host="127.0.0.1", port=run.port, unit_id=2, auto_open=True, timeout=5)
        assert c.read_holding_registers(da, 1) == [2]
        assert not c.write_single_register(da, 7)
        assert c.last_except == ILLEGAL_ADDRESS
        assert c.read_holding_registers(da, 1) == [2]
        c.close()


# ----------------------------------------------------------------------------- writes act
def _start(dev, plant: FleetPlant) -> None:
    """Start the PCS (802 SetInvState = INVERTER_STARTED) and wait out its start-up delay."""
    bat = dev.models[802][0]
    bat.SetInvState.value = 3
    bat.write()
    assert wait_until(lambda: int(plant.fleet.pcs_state[0]) == 3, 15.0)


def _enable(ctl) -> None:
    ctl.WSetEna.value = 1
    ctl.WSetMod.value = 1


def test_702_wmax_caps_the_achieved_power_and_the_points_say_why() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    rec = Recorder(plant)
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            dev.models[702][0].WMax.cvalue = 500_000.0
            dev.models[702][0].write()
            ctl = dev.DERCtlAC[0]
            _enable(ctl)
            ctl.WSet.cvalue = -1_000_000.0  # absorb 1 MW = charge 1000 kW
            ctl.write()
            t0 = plant.t_s
            assert wait_until(lambda: plant.t_s > t0 + 3.0)
            ctl.read()
            assert ctl.WSet.cvalue == pytest.approx(-500_000.0)  # the setpoint in force
            dev.models[701][0].read()
            assert dev.models[701][0].ThrotSrc.cvalue & 1  # MAX_W
            assert bench.units[0].vendor.get("ctrl_status") & WHY_W_LIMIT
        finally:
            dev.close()
    tr = rec.since(t0)
    assert tr[:, 1].max() <= 500.0 + 1e-6  # never above WMax
    assert tr[-1, 1] == pytest.approx(500.0, rel=0.01)  # and there at the end


def test_702_charge_and_discharge_rate_caps() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    rec = Recorder(plant)
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            caps = dev.models[702][0]
            caps.WChaRteMax.cvalue = 300_000.0
            caps.WDisChaRteMax.cvalue = 200_000.0
            caps.write()
            ctl = dev.DERCtlAC[0]
            _enable(ctl)
            ctl.WSet.cvalue = -900_000.0  # charge 900 kW
            ctl.write()
            t0 = plant.t_s
            assert wait_until(lambda: plant.t_s > t0 + 4.0)
            ctl.WSet.cvalue = 900_000.0  # discharge 900 kW
            ctl.write()
            t1 = plant.t_s
            assert wait_until(lambda: plant.t_s > t1 + 4.0)
            assert bench.units[0].vendor.get("ctrl_status") & WHY_RATE_LIMIT
        finally:
            dev.close()
    charge, discharge = rec.since(t0), rec.since(t1)
    assert charge[:, 1].max() <= 300.0 + 1e-6
    # the plant's first-order response settles onto the cap, within 1 %
    assert charge[charge[:, 0] < t1 - 0.5][-1, 1] == pytest.approx(300.0, rel=0.01)
    assert discharge[:, 1].min() >= -200.0 - 1e-6
    assert discharge[-1, 1] == pytest.approx(-200.0, rel=0.01)


def test_704_wmaxlimpct_caps_only_while_enabled_and_varsetena_gates_reactive_power() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    rec = Recorder(plant)
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            ctl = dev.DERCtlAC[0]
            _enable(ctl)
            ctl.WMaxLimPct.cvalue = 40.0
            ctl.WSet.cvalue = -800_000.0  # charge 800 kW
            ctl.VarSet.cvalue = -200_000.0  # absorb 200 kvar, but VarSetEna is 0
            ctl.write()
            t0 = plant.t_s
            assert wait_until(lambda: plant.t_s > t0 + 4.0)
            t_off = plant.t_s  # before the next write
            ctl.WMaxLimPctEna.value = 1
            ctl.VarSetEna.value = 1
            ctl.write()
            t1 = plant.t_s
            assert wait_until(lambda: plant.t_s > t1 + 4.0)
        finally:
            dev.close()
    off, on = rec.since(t0), rec.since(t1)
    off = off[off[:, 0] <= t_off]
    cap = 0.4 * plant.ratings[0].p_max_kw
    assert off[-1, 1] == pytest.approx(800.0, rel=0.01)  # not enabled: no cap
    assert np.abs(off[:, 2]).max() < 1.0  # VarSetEna 0: no reactive power
    assert on[-1, 1] == pytest.approx(cap, rel=0.01)  # enabled: 40 % of WMax
    assert on[-1, 2] == pytest.approx(200.0, rel=0.01)  # enabled: the VarSet acts


def test_802_soc_reserve_holds_discharge_and_charge() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    rec = Recorder(plant)
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            bat = dev.models[802][0]
            bat.SoCRsvMin.cvalue = 60.0  # above the SOC: no discharge
            bat.write()
            ctl = dev.DERCtlAC[0]
            _enable(ctl)
            ctl.WSet.cvalue = 500_000.0  # discharge 500 kW
            ctl.write()
            t0 = plant.t_s
            assert wait_until(lambda: plant.t_s > t0 + 4.0)
            assert bench.units[0].vendor.get("ctrl_status") & WHY_SOC_RESERVE
            ctl.read()
            assert ctl.WSet.cvalue == 0.0
            bat.SocRsvMax.cvalue = 40.0  # below the SOC: no charge
            bat.write()
            ctl.WSet.cvalue = -500_000.0  # charge 500 kW
            ctl.write()
            t1 = plant.t_s
            assert wait_until(lambda: plant.t_s > t1 + 4.0)
        finally:
            dev.close()
    held = rec.since(t0)
    held = held[held[:, 0] < t1]
    assert np.abs(held[:, 1]).max() < 1e-6
    assert np.abs(rec.since(t1)[:, 1]).max() < 1e-6


def test_wsetpct_acts_in_percent_mode() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    rec = Recorder(plant)
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            ctl = dev.DERCtlAC[0]
            ctl.WSetEna.value = 1
            ctl.WSetMod.value = 0  # W_MAX_PCT
            ctl.WSetPct.cvalue = -50.0  # absorb 50 % of WMax
            ctl.write()
            t0 = plant.t_s
            assert wait_until(lambda: plant.t_s > t0 + 4.0)
        finally:
            dev.close()
    assert rec.since(t0)[-1, 1] == pytest.approx(0.5 * plant.ratings[0].p_max_kw, rel=0.01)


def test_after_a_watchdog_revert_the_points_show_the_fallback_and_why() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=1.0))
    rec = Recorder(plant)
    unit = bench.units[0]
    vendor = unit.vendor
    with BenchRun(bench) as run:
        c = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, auto_open=True, timeout=5)
        wd = vendor.map.by_name["watchdog_s"].address
        assert c.read_holding_registers(wd, 1) == [1]  # the watchdog in force
        assert c.write_single_register(wd, 30)
        assert c.write_single_register(vendor.map.by_name["run_cmd"].address, 1)
        assert wait_until(lambda: int(plant.fleet.pcs_state[0]) == 3, 15.0)
        assert c.write_single_register(vendor.map.by_name["p_set"].address, 3000)  # 300 kW out
        assert wait_until(lambda: rec.rows[-1][1] < -290.0)
        assert c.write_single_register(wd, 1)
        assert wait_until(lambda: unit.reverted, 5.0)
        t0 = plant.t_s
        assert wait_until(lambda: plant.t_s > t0 + 3.0)
        assert c.read_holding_registers(vendor.map.by_name["p_set"].address, 1) == [0]
        status = c.read_holding_registers(vendor.map.by_name["ctrl_status"].address, 1)[0]
        assert status & WHY_REVERTED
        assert c.read_holding_registers(vendor.map.by_name["alarm_word"].address, 1)[0] & 1
        assert unit.sunspec.get("704.WSet") == 0
        # watchdog 0 turns it off: accepted, read back, and no further revert
        assert c.write_single_register(wd, 0)
        assert c.read_holding_registers(wd, 1) == [0]
        assert c.write_single_register(vendor.map.by_name["p_set"].address, 2000)
        t1 = plant.t_s
        assert wait_until(lambda: plant.t_s > t1 + 2.5)
        assert not unit.reverted
        c.close()
    reverted = rec.since(t0)
    assert abs(reverted[reverted[:, 0] < t1][-1, 1]) < 5.0  # the plant went to the fallback
    assert rec.since(t1)[-1, 1] == pytest.approx(-200.0, rel=0.01)


def test_commands_start_stop_and_reset_the_plant() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.5)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            bat = dev.models[802][0]
            bat.SetInvState.value = 1  # INVERTER_STOPPED
            bat.write()
            assert wait_until(lambda: int(plant.fleet.pcs_state[0]) == 0)  # OFF
            bat.SetOp.value = 1  # CONNECT
            bat.write()
            assert wait_until(lambda: int(plant.fleet.pcs_state[0]) in (2, 3))
            bench.inject(conformance_fault())
            assert wait_until(lambda: int(plant.fleet.pcs_state[0]) == 4)  # FAULT
            bench.units[0].faults["pcs_trip"] = False
            plant.fault_log.clear()
            bat.AlmRst.value = 1
            bat.write()
            assert wait_until(lambda: int(plant.fleet.pcs_state[0]) != 4)
        finally:
            dev.close()


def conformance_fault():
    from hil.faults import BenchFault

    return BenchFault(kind="pcs_trip", target="xinsheng-1", duration_s=1000.0)


def test_bms_limit_is_reported() -> None:
    plant = FleetPlant(n=1, speed=8.0, soc0=0.95)  # at the BMS ceiling: no charge allowed
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=30.0))
    with BenchRun(bench) as run:
        dev = scan(run.port)
        _start(dev, plant)
        try:
            bat = dev.models[802][0]
            bat.SocRsvMax.cvalue = 100.0  # no reserve: the BMS is what holds the unit
            bat.write()
            ctl = dev.DERCtlAC[0]
            _enable(ctl)
            ctl.WSet.cvalue = -500_000.0
            ctl.write()
            assert wait_until(lambda: bench.units[0].vendor.get("ctrl_status") & WHY_BMS_LIMIT)
        finally:
            dev.close()


def test_both_unit_types_have_ratings_that_fit() -> None:
    for unit_type in UNIT_TYPES:
        EmulatedUnit(0, ratings_of(load_unit_params(unit_type), "u"), _Sink(), load_vendor_file())
