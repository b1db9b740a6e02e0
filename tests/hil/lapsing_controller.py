"""The example good controller with one deliberate lapse: it stops writing for `PAUSE_S`
wall-clock seconds, `AFTER_S` after its first setpoint, so the PCS watchdog reverts the
units while they are under control (the offline comparison must put that window down to
the watchdog). Run as a script: ``python tests/hil/lapsing_controller.py``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "controllers"))

import good_controller as good

AFTER_S = 1.0
PAUSE_S = 4.0

_command = good.Unit.command
_first: list[float] = []


def command(self: good.Unit, link: good.Link, p_kw: float, hb: int) -> None:
    now = time.monotonic()
    if not _first:
        _first.append(now)
    if AFTER_S <= now - _first[0] < AFTER_S + PAUSE_S:
        return  # the lapse: no setpoint, no heartbeat
    _command(self, link, p_kw, hb)


good.Unit.command = command

if __name__ == "__main__":
    raise SystemExit(good.main())
