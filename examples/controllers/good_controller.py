"""An example site controller that passes `twin hil verify`.

It speaks SunSpec to the storage units (models 704 for setpoints, 713 for SOC, 802 for
the heartbeat), reads the PCC meter (model 213) and the bench's site device, and every
cycle decides the host's storage power:

1. anti-backflow: discharge at most (site load - margin), so the PCC keeps importing;
2. demand target: charge only below (target - load - headroom), discharge to hold it;
3. SOC window: no discharge below the floor (+ a reserve kept for demand shaving), no
   charge above the ceiling;
4. tariff: charge in valley periods, discharge in peak and sharp ones.

It writes a setpoint and increments the SunSpec controller heartbeat (802 CtrlHb) on every
cycle, and rides through communication loss (it retries and resumes). Endpoints come
from the environment the bench sets (PARKTWIN_HIL_HOST/PORT/UNITS/METER/SITE) or from
--host/--port/--units/--meter/--site.

Run by hand against `twin hil serve`:
    python examples/controllers/good_controller.py --port 5020 --units 1,2,3 --meter 101
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
from sunspec2 import device as ss_device

BASE = 40000
CYCLE_S = 0.1
ARBITRAGE_RESERVE = 0.015  # SOC kept above the floor for demand shaving
FLOOR_MARGIN = 0.003
DEMAND_HEADROOM = 0.05  # charge only up to 95 % of the demand target
CHARGE, DISCHARGE = (0, 1), (3, 4)  # deep valley, valley / peak, sharp

log = logging.getLogger("good_controller")


def offsets(model_id: int) -> dict[str, int]:
    """Register offset of each top-level point from the model's ID register (pysunspec2 defs)."""
    out, off = {}, 0
    for p in ss_device.get_model_def(model_id)["group"]["points"]:
        out[p["name"]] = off
        off += int(p["size"])
    return out


def s16(r: int) -> int:
    return r - 0x10000 if r >= 0x8000 else r


class Link:
    """One Modbus TCP connection; every failure is an exception the loop rides through."""

    def __init__(self, host: str, port: int) -> None:
        self.client = ModbusTcpClient(host, port=port, timeout=1.0, retries=0)

    def read(self, dev: int, address: int, count: int) -> list[int]:
        if not self.client.connected:
            self.client.connect()
        rr = self.client.read_holding_registers(address, count=count, device_id=dev)
        if rr.isError():
            raise ModbusException(f"read {dev}/{address}: {rr}")
        return rr.registers

    def write(self, dev: int, address: int, values: list[int]) -> None:
        rr = self.client.write_registers(address, values, device_id=dev)
        if rr.isError():
            raise ModbusException(f"write {dev}/{address}: {rr}")


def walk(link: Link, dev: int) -> dict[int, int]:
    """SunSpec model id -> address of its ID register, from the device's model chain."""
    if link.read(dev, BASE, 2) != [0x5375, 0x6E53]:
        raise RuntimeError(f"device {dev}: no SunSpec marker at {BASE}")
    models: dict[int, int] = {}
    a = BASE + 2
    while True:
        mid, length = link.read(dev, a, 2)
        if mid == 0xFFFF:
            return models
        models[mid] = a
        a += 2 + length


class Unit:
    """Addresses of one SunSpec storage unit, found by walking its model chain."""

    def __init__(self, link: Link, dev: int) -> None:
        self.dev = dev
        self.models = walk(link, dev)
        o701, o702, o713 = offsets(701), offsets(702), offsets(713)
        o704, o802 = offsets(704), offsets(802)
        a701, a702, self.a713, self.a704, self.a802 = (
            self.models[m] for m in (701, 702, 713, 704, 802)
        )
        self.a_w = a701 + o701["W"]
        self.w_sf = s16(link.read(dev, a701 + o701["W_SF"], 1)[0])
        w, sf = (
            link.read(dev, a702 + o702["WMaxRtg"], 1)[0],
            link.read(dev, a702 + o702["W_SF"], 1)[0],
        )
        if w == 0xFFFF or sf == 0x8000:
            raise RuntimeError(f"unit {dev}: rating not published yet")
        self.p_max_kw = w * 10.0 ** s16(sf) / 1000.0
        self.soc_sf = s16(link.read(dev, self.a713 + o713["Pct_SF"], 1)[0])
        self.o_soc = o713["SoC"]
        self.o_wset = o704["WSet"]
        self.wset_sf = s16(link.read(dev, self.a704 + o704["WSet_SF"], 1)[0])
        self.o_hb = o802["CtrlHb"]
        # remote control: start the PCS, enable the active-power setpoint in watts
        link.write(dev, self.a802 + o802["SetInvState"], [3])
        link.write(dev, self.a704 + o704["WSetEna"], [1, 1])  # WSetEna=ENABLED, WSetMod=WATTS
        self.soc = 0.5
        self.p_kw = 0.0

    def read(self, link: Link) -> None:
        """SOC [0..1] and achieved AC power p_kw [+ charging]."""
        raw = link.read(self.dev, self.a713 + self.o_soc, 1)[0]
        self.soc = raw * 10.0**self.soc_sf / 100.0
        self.p_kw = -s16(link.read(self.dev, self.a_w, 1)[0]) * 10.0**self.w_sf / 1000.0

    def command(self, link: Link, p_kw: float, hb: int) -> None:
        """p_kw + charging; SunSpec WSet counts generation positive, in W."""
        w = round(-p_kw * 1000.0 / 10.0**self.wset_sf)
        link.write(self.dev, self.a704 + self.o_wset, [(w >> 16) & 0xFFFF, w & 0xFFFF])
        link.write(self.dev, self.a802 + self.o_hb, [hb & 0xFFFF])


def decide(period: int, load_kw: float, units: list[Unit], site: dict) -> list[float]:
    """Setpoint of each unit [kW, + charging]."""
    margin, target = site["margin_kw"], site["target_kw"]
    floor, ceiling = site["soc_min"], site["soc_max"]
    p_max = sum(u.p_max_kw for u in units)
    lo = -(load_kw - margin)  # most discharge without export
    hi = target * (1 - DEMAND_HEADROOM) - load_kw  # most charge without a new demand peak
    want = p_max if period in CHARGE else (-p_max if period in DISCHARGE else 0.0)
    shave = target > 0 and hi < 0
    if shave:
        want = min(want, hi)  # hold the demand target whatever the tariff says
    total = max(want, lo)  # anti-backflow first
    if total > 0:
        total = min(total, max(hi, 0.0))  # charging must not set a new demand peak
    out = []
    share = total / len(units)
    for u in units:
        p = min(max(share, -u.p_max_kw), u.p_max_kw)
        reserve = FLOOR_MARGIN if shave else ARBITRAGE_RESERVE
        if p < 0 and u.soc <= floor + reserve:
            p = 0.0
        if p > 0 and u.soc >= ceiling - FLOOR_MARGIN:
            p = 0.0
        out.append(p)
    return out


def read_site(link: Link, dev: int) -> dict:
    r = link.read(dev, 0, 12)
    return {
        "period": r[2],
        "margin_kw": float(r[4]),
        "target_kw": float((r[5] << 16) | r[6]),
        "soc_min": r[7] / 1000.0,
        "soc_max": r[8] / 1000.0,
    }


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

    link = Link(args.host, args.port)
    ids = [int(x) for x in args.units.split(",") if x]
    units: list[Unit] = []
    meter_w = None
    hb = 0
    last_ok = time.monotonic()
    while running[0]:
        t0 = time.monotonic()
        try:
            if not units:
                units = [Unit(link, d) for d in ids]
                meter_w = walk(link, args.meter)[213] + offsets(213)["W"]
                log.info("units %s, P_max %s kW", ids, [round(u.p_max_kw) for u in units])
            site = read_site(link, args.site)
            w = struct.unpack(">f", struct.pack(">HH", *link.read(args.meter, meter_w, 2)))[0]
            for u in units:
                u.read(link)
            # the meter sees load + storage: the load the storage works against
            load_kw = w / 1000.0 - sum(u.p_kw for u in units)
            hb += 1
            for u, pk in zip(units, decide(site["period"], load_kw, units, site), strict=True):
                u.command(link, pk, hb)
            last_ok = time.monotonic()
        except (ModbusException, OSError, RuntimeError, KeyError) as exc:
            if time.monotonic() - last_ok > 1.0:
                log.info("link trouble: %s", exc)
                last_ok = time.monotonic()
            link.client.close()
        time.sleep(max(CYCLE_S - (time.monotonic() - t0), 0.0))
    link.client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
