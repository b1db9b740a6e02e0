"""An example site controller with realistic bugs; `twin hil verify` must fail it.

It drives the units through the vendor register list (点表, ``hil/data/vendor_pcs.toml``:
setpoint at 0x2000, discharge positive, 0.1 kW) and reads the PCC meter (SunSpec 213).
Its bugs, each seen on real sites:

- it discharges at full power in peak and sharp periods without looking at the meter, so
  it EXPORTS at the PCC when the host's load drops (no anti-backflow);
- it only knows the BMS's own SOC floor (5 %) and IGNORES THE SITE'S SOC FLOOR;
- it has NO HEARTBEAT: it writes a setpoint only when it is not zero, so while idle the
  PCS watchdog reverts it;
- when the demand target is threatened it sends the whole site's shortfall to the first
  unit, beyond that unit's rating (refused with ILLEGAL DATA VALUE).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import struct
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

P_SET, RUN_CMD, SOC = 0x2000, 0x2002, 0x1002  # vendor map addresses
METER_W = 40000 + 2 + 68 + 28  # model 213 "W" hard-coded for one meter firmware (a bug too)
P_MAX_KW = 1250.0  # from the datasheet's PCS rating, not from the device
CYCLE_S = 0.2

log = logging.getLogger("buggy_controller")


def main() -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=env("PARKTWIN_HIL_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(env("PARKTWIN_HIL_PORT", "5020")))
    ap.add_argument("--units", default=env("PARKTWIN_HIL_UNITS", "1,2,3"))
    ap.add_argument("--meter", type=int, default=int(env("PARKTWIN_HIL_METER", "101")))
    ap.add_argument("--site", type=int, default=int(env("PARKTWIN_HIL_SITE", "200")))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    ids = [int(x) for x in args.units.split(",") if x]
    c = ModbusTcpClient(args.host, port=args.port, timeout=1.0, retries=0)
    started = False
    while running[0]:
        t0 = time.monotonic()
        try:
            if not c.connected:
                c.connect()
            if not started:
                for d in ids:
                    c.write_register(RUN_CMD, 1, device_id=d)
                started = True
            site = c.read_holding_registers(0, count=12, device_id=args.site).registers
            period, target = site[2], (site[5] << 16) | site[6]
            w = c.read_holding_registers(METER_W, count=2, device_id=args.meter).registers
            pcc_kw = struct.unpack(">f", struct.pack(">HH", *w))[0] / 1000.0
            for d in ids:
                soc = c.read_holding_registers(SOC, count=1, device_id=d).registers[0] / 1000.0
                if period in (0, 1):
                    p_dis = -P_MAX_KW  # charge flat out, whatever the demand
                elif period in (3, 4) and soc > 0.05:  # BMS floor only
                    p_dis = P_MAX_KW
                else:
                    p_dis = 0.0
                if d == ids[0] and target and pcc_kw > target:
                    p_dis = pcc_kw - target + P_MAX_KW * (len(ids) - 1)  # the whole shortfall
                if p_dis != 0.0:  # "nothing to say" while idle: no heartbeat
                    raw = round(p_dis * 10.0)
                    c.write_register(
                        P_SET,
                        struct.unpack(">H", struct.pack(">h", max(min(raw, 32767), -32768)))[0],
                        device_id=d,
                    )
        except (ModbusException, OSError, AttributeError, struct.error) as exc:
            log.info("link trouble: %s", exc)
            c.close()
        time.sleep(max(CYCLE_S - (time.monotonic() - t0), 0.0))
    c.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
