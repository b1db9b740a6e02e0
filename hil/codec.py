"""One codec for every register map: typed values <-> 16-bit Modbus registers.

A value of type u16/s16/u32/s32/u64/s64/f32/f64/string is packed into big-endian bytes,
then reordered for the map's byte order (within a register: ``big`` = AB, the Modbus
norm; ``little`` = BA) and word order (``big`` = most significant register first, as
SunSpec; ``little`` = least significant first, as many Chinese PCS point tables ship).

Scaling: ``physical = raw * scale * 10**sf`` where `scale` is a vendor map's multiplier
(倍率, e.g. 0.1) and `sf` a SunSpec scale-factor exponent (``sunssf``, an s16 in -10..10).
With ``scale == 1`` and ``sf >= 0`` integers stay integers, so round-trips are exact.
"""

from __future__ import annotations

import math
import struct
from typing import Literal

from parktwin.errors import InputError

DataType = Literal["u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64", "string"]
Order = Literal["big", "little"]

#: registers per value of each fixed-size type
TYPE_REGS: dict[str, int] = {
    "u16": 1, "s16": 1, "u32": 2, "s32": 2, "u64": 4, "s64": 4, "f32": 2, "f64": 4,
}  # fmt: skip
_STRUCT = {"u16": "H", "s16": "h", "u32": "I", "s32": "i", "u64": "Q", "s64": "q",
           "f32": "f", "f64": "d"}  # fmt: skip
#: (min, max) raw integer of each integer type
INT_RANGE: dict[str, tuple[int, int]] = {
    "u16": (0, 0xFFFF),
    "s16": (-0x8000, 0x7FFF),
    "u32": (0, 0xFFFF_FFFF),
    "s32": (-0x8000_0000, 0x7FFF_FFFF),
    "u64": (0, 0xFFFF_FFFF_FFFF_FFFF),
    "s64": (-0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
}


class CodecError(InputError):
    """A value does not fit its register type (names the register in the message)."""


def _reorder(data: bytes, byte_order: Order, word_order: Order) -> bytes:
    """Big-endian bytes -> wire bytes in the given orders (an involution: also the inverse)."""
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return b"".join(words)


def _to_regs(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _from_regs(regs: list[int] | tuple[int, ...]) -> bytes:
    return b"".join(int(r).to_bytes(2, "big") for r in regs)


def n_regs(dtype: DataType, size: int | None = None) -> int:
    """Registers taken by one value; `size` (registers) is required for strings."""
    if dtype == "string":
        if not size or size < 1:
            raise CodecError("string: size (registers) must be >= 1")
        return size
    return TYPE_REGS[dtype]


def encode_raw(
    raw: int | float | str,
    dtype: DataType,
    size: int | None = None,
    byte_order: Order = "big",
    word_order: Order = "big",
    name: str = "value",
) -> list[int]:
    """Raw (unscaled) value -> registers. Integers must fit the type; strings the size."""
    if dtype == "string":
        count = n_regs(dtype, size)
        data = str(raw).encode("utf-8")
        if len(data) > 2 * count:
            raise CodecError(f"{name}: string of {len(data)} bytes exceeds {count} registers")
        data = data.ljust(2 * count, b"\0")
        # strings are byte streams: word order does not apply, byte order does
        return _to_regs(_reorder(data, byte_order, "big"))
    if dtype in INT_RANGE:
        lo, hi = INT_RANGE[dtype]
        if isinstance(raw, float):
            if not math.isfinite(raw) or raw != int(raw):
                raise CodecError(f"{name}: {raw!r} is not an integer for {dtype}")
            raw = int(raw)
        if not lo <= raw <= hi:
            raise CodecError(f"{name}: {raw} outside {dtype} range {lo}..{hi}")
    data = struct.pack(">" + _STRUCT[dtype], raw)
    return _to_regs(_reorder(data, byte_order, word_order))


def decode_raw(
    regs: list[int] | tuple[int, ...],
    dtype: DataType,
    byte_order: Order = "big",
    word_order: Order = "big",
) -> int | float | str:
    """Registers -> raw (unscaled) value; strings lose their trailing NULs."""
    if dtype == "string":
        data = _reorder(_from_regs(regs), byte_order, "big")
        return data.rstrip(b"\0").decode("utf-8", errors="replace")
    if len(regs) != TYPE_REGS[dtype]:
        raise CodecError(f"{dtype}: expected {TYPE_REGS[dtype]} registers, got {len(regs)}")
    data = _reorder(_from_regs(regs), byte_order, word_order)
    return struct.unpack(">" + _STRUCT[dtype], data)[0]


def to_physical(raw: int | float, scale: float = 1.0, sf: int = 0) -> int | float:
    """``raw * scale * 10**sf``; stays an int when scale is 1 and sf >= 0."""
    if scale == 1.0 and sf >= 0 and isinstance(raw, int):
        return raw * 10**sf
    value = raw * scale
    # divide by 10**-sf rather than multiply by 10**sf: 10**-n is inexact in binary
    return value * 10**sf if sf >= 0 else value / 10 ** (-sf)


def to_raw(
    value: float, dtype: DataType, scale: float = 1.0, sf: int = 0, name: str = "value"
) -> int | float:
    """Physical value -> raw register value (rounded to the nearest step for integers)."""
    if dtype in ("f32", "f64"):
        return to_physical_inverse_float(value, scale, sf)
    if not math.isfinite(value):
        raise CodecError(f"{name}: {value!r} is not a finite number")
    if scale == 1.0 and sf <= 0 and isinstance(value, int):
        return value * 10 ** (-sf)
    scaled = value / scale
    scaled = scaled / 10**sf if sf >= 0 else scaled * 10 ** (-sf)
    return round(scaled)


def to_physical_inverse_float(value: float, scale: float, sf: int) -> float:
    """Float registers carry physical values; a scale other than 1 is applied as for ints."""
    scaled = value / scale
    return scaled / 10**sf if sf >= 0 else scaled * 10 ** (-sf)
