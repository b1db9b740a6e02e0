"""A small served device for the protocol tests: plain register images, no plant.

Registers (unit 1 unless a test says otherwise):
- 100..229 read-only u16, value = address (a block long enough for a 125-register read)
- 300 ``p_set`` u16 rw, 0..1000; 301..302 ``e_set`` u32 rw; 303 ``mode`` u16 rw, 0 or 1
"""

from __future__ import annotations

from hil.registers import Point, RegisterImage, RegisterMap

RO_FIRST, RO_COUNT = 100, 130
P_SET, E_SET, MODE = 300, 301, 303


class Device:
    """Served by `hil.server.ModbusEndpoint`: images, link state, response delay."""

    def __init__(self) -> None:
        points = [Point(name=f"ro{a}", address=a, dtype="u16") for a in range(RO_FIRST, 230)]
        points += [
            Point(name="p_set", address=P_SET, dtype="u16", access="rw", min=0, max=1000),
            Point(name="e_set", address=E_SET, dtype="u32", access="rw"),
            Point(name="mode", address=MODE, dtype="u16", access="rw", symbols=(0, 1)),
        ]
        self.image = RegisterImage(RegisterMap(points, "test device"))
        for a in range(RO_FIRST, RO_FIRST + RO_COUNT):
            self.image.set_raw(f"ro{a}", a)
        self.images = [self.image]
        self.link_up = True
        self.response_delay_s = 0.0
