"""A compressed-air unit on the bench answers SunSpec 701/713/802 like any storage
(pysunspec2, a client we did not write, over loopback on port 0)."""

from __future__ import annotations

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from hil.bench import Bench, BenchConfig
from hil.serve import BenchRun
from tests.hil.fleetplant import FleetPlant
from tests.hil.test_hil_bench import wait_until


def test_a_compressed_air_unit_answers_sunspec_like_any_storage() -> None:
    # 10-s plant steps, 400x wall clock: the expander's 3-min start takes under half a second
    plant = FleetPlant(n=1, dt_s=10.0, speed=400.0, unit_type="caes-2236kwh")
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=600.0))
    with BenchRun(bench) as run:
        dev = SunSpecModbusClientDeviceTCP(
            slave_id=1, ipaddr="127.0.0.1", ipport=run.port, timeout=5
        )
        try:
            dev.scan()
            assert {701, 713, 802} <= {k for k in dev.models if isinstance(k, int)}
            assert dev.models[802][0].WHRtg.cvalue == pytest.approx(2_236_000.0)
            assert dev.DERCapacity[0].WMaxRtg.cvalue == pytest.approx(1_250_000.0)
            assert dev.DERStorageCapacity[0].SoC.cvalue == pytest.approx(50.0, abs=0.5)
            ctl = dev.DERCtlAC[0]
            ctl.WSetEna.value = 1
            ctl.WSetMod.value = 1
            ctl.WSet.cvalue = 600_000.0  # generate 600 kW = discharge
            ctl.write()

            def generating() -> bool:
                dev.DERMeasureAC[0].read()
                return dev.DERMeasureAC[0].W.cvalue > 590_000.0

            assert wait_until(generating)  # after the expander's start-up and ramp
            dev.DERStorageCapacity[0].read()
            assert dev.DERStorageCapacity[0].SoC.cvalue < 50.0  # the air store empties
        finally:
            dev.close()
