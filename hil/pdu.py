"""The Modbus requests the bench's devices answer, by the spec: PDU in, PDU out.

Modbus Application Protocol v1.1b3 (MBAP v1.1b3), sec. 6 and the request-processing
figures: a request is checked in the spec's order (function code supported, then
quantity and length, then address, then the device's own checks) and refused with the
first exception that applies, as ``fc | 0x80`` and one exception code:

| function | quantity | answer when wrong |
| --- | --- | --- |
| 0x03 read holding, 0x04 read input | 1..125 registers | 03 ILLEGAL DATA VALUE |
| 0x06 write single | one register | address/value refused by the image: 02/03 |
| 0x10 write multiple | 1..123 registers, byte count = 2 x quantity | 03 |
| 0x16 mask write | one register | 02/03 as 0x06 |
| 0x17 read/write multiple | read 1..125, write 1..121, byte count = 2 x write quantity | 03 |
| any other code (coils, diagnostics, FIFO 0x18, identification 0x2B, ...) | | 01 ILLEGAL FUNCTION |

A PDU whose length does not match its function code (truncated, or bytes past its end)
is a malformed quantity field: 03. The devices hold registers only; input registers
(0x04) read the same image as holding registers (0x03), as many PCS do.

Pure: no I/O and no locks of its own (the images hold theirs); the transports in
`hil.server` frame the PDUs and decide what an absent or unreachable device answers.
"""

from __future__ import annotations

import logging
import struct
from typing import Protocol

from hil.registers import (
    DEVICE_FAILURE,
    ILLEGAL_ADDRESS,
    ILLEGAL_FUNCTION,
    ILLEGAL_VALUE,
    RegisterError,
    RegisterImage,
)

log = logging.getLogger(__name__)

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10
MASK_WRITE = 0x16
READ_WRITE_MULTIPLE = 0x17
#: every function code a bench device implements; the rest answer ILLEGAL FUNCTION
FUNCTIONS = (
    READ_HOLDING,
    READ_INPUT,
    WRITE_SINGLE,
    WRITE_MULTIPLE,
    MASK_WRITE,
    READ_WRITE_MULTIPLE,
)
#: request PDUs that write (a serial broadcast acts on these only)
WRITES = (WRITE_SINGLE, WRITE_MULTIPLE, MASK_WRITE, READ_WRITE_MULTIPLE)

#: quantity limits (MBAP v1.1b3 sec. 6.3, 6.12, 6.17): they keep a response within 253 bytes
MAX_READ = 125
MAX_WRITE = 123
MAX_RW_WRITE = 121

_HEAD = struct.Struct(">BHH")  # function code, address, quantity (or value)


class Device(Protocol):
    """What a PDU needs of a device: its register images."""

    images: list[RegisterImage]


def exception(fc: int, code: int) -> bytes:
    """The exception response PDU to function `fc`: ``fc | 0x80``, then the code."""
    return bytes(((fc | 0x80) & 0xFF, code))


def _image(dev: Device, address: int, count: int) -> RegisterImage:
    for img in dev.images:
        if img.map.start <= address and address + count <= img.map.stop:
            return img
    raise RegisterError(
        f"registers {address}..{address + count - 1} are not defined", ILLEGAL_ADDRESS
    )


def _read(dev: Device, address: int, count: int) -> bytes:
    regs = _image(dev, address, count).read(address, count)
    return struct.pack(f">{count}H", *regs)


def _write(dev: Device, address: int, values: list[int]) -> None:
    _image(dev, address, len(values)).write(address, values)


def answer(dev: Device, pdu: bytes) -> bytes:
    """The response PDU of `dev` to request `pdu` (never empty: a PDU has a function code).

    An unexpected error of the device (a bug, a plant callback that raised) answers
    04 SERVER DEVICE FAILURE and is logged with its traceback, never swallowed.
    """
    fc = pdu[0]
    n = len(pdu)
    try:
        if fc == READ_HOLDING or fc == READ_INPUT:
            if n != 5:
                return exception(fc, ILLEGAL_VALUE)
            _, address, count = _HEAD.unpack(pdu)
            if not 1 <= count <= MAX_READ:
                return exception(fc, ILLEGAL_VALUE)
            return bytes((fc, 2 * count)) + _read(dev, address, count)
        if fc == WRITE_SINGLE:
            if n != 5:
                return exception(fc, ILLEGAL_VALUE)
            _, address, value = _HEAD.unpack(pdu)
            _write(dev, address, [value])
            return pdu  # the echo of the request
        if fc == WRITE_MULTIPLE:
            if n < 6:
                return exception(fc, ILLEGAL_VALUE)
            _, address, count = _HEAD.unpack_from(pdu)
            if not 1 <= count <= MAX_WRITE or pdu[5] != 2 * count or n != 6 + 2 * count:
                return exception(fc, ILLEGAL_VALUE)
            _write(dev, address, list(struct.unpack_from(f">{count}H", pdu, 6)))
            return pdu[:5]
        if fc == MASK_WRITE:
            if n != 7:
                return exception(fc, ILLEGAL_VALUE)
            _, address, and_mask, or_mask = struct.unpack(">BHHH", pdu)
            (current,) = _image(dev, address, 1).read(address, 1)
            # MBAP v1.1b3 sec. 6.16: (current AND and_mask) OR (or_mask AND NOT and_mask)
            _write(dev, address, [(current & and_mask) | (or_mask & ~and_mask & 0xFFFF)])
            return pdu
        if fc == READ_WRITE_MULTIPLE:
            if n < 10:
                return exception(fc, ILLEGAL_VALUE)
            _, r_addr, r_count, w_addr, w_count, w_bytes = struct.unpack_from(">BHHHHB", pdu)
            if (
                not 1 <= r_count <= MAX_READ
                or not 1 <= w_count <= MAX_RW_WRITE
                or w_bytes != 2 * w_count
                or n != 10 + w_bytes
            ):
                return exception(fc, ILLEGAL_VALUE)
            _image(dev, r_addr, r_count)  # both ranges exist before anything is written
            # sec. 6.17: the write is performed before the read
            _write(dev, w_addr, list(struct.unpack_from(f">{w_count}H", pdu, 10)))
            return bytes((fc, 2 * r_count)) + _read(dev, r_addr, r_count)
        return exception(fc, ILLEGAL_FUNCTION)
    except RegisterError as exc:
        return exception(fc, exc.code)
    except Exception:
        log.exception("device failed on request %s", pdu.hex(" "))
        return exception(fc, DEVICE_FAILURE)
