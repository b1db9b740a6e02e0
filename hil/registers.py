"""Register maps as data: points, a validated map, and the live register image.

A `Point` is one value in a device's register space (shape after pymodbus' `SimData`:
address, type, access, validated when made). A `RegisterMap` is the points of one
device, checked for overlaps and dangling scale-factor references. A `RegisterImage`
holds the 16-bit registers of one device behind a lock: the plant thread writes
measurements into it, the Modbus server reads it, and a client's write is checked
point by point (unknown or read-only address, partial point, out-of-range or unknown
enum value) before anything reaches the plant.

Binding: a point's `bind` names the twin quantity it shows or commands; the register's
physical value is ``gain * quantity`` (e.g. SunSpec 701 ``W`` = -1000 * ``p_ac_kw``:
watts, generation positive, while the twin's power is kW with charging positive).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from pydantic import Field, model_validator

from hil.codec import (
    INT_RANGE,
    CodecError,
    DataType,
    Order,
    decode_raw,
    encode_raw,
    n_regs,
    to_physical,
    to_raw,
)
from parktwin.config import Frozen
from parktwin.errors import InputError

#: Modbus exception codes (protocol constants, Modbus Application Protocol v1.1b3, sec. 7)
ILLEGAL_FUNCTION = 0x01
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03
DEVICE_FAILURE = 0x04
GATEWAY_NO_RESPONSE = 0x0B


class RegisterError(InputError):
    """A request the device refuses; `code` is the Modbus exception code to answer with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Point(Frozen):
    """One value in a device's register space."""

    name: str = Field(min_length=1)
    address: int = Field(ge=0, le=0xFFFF, description="first register (0-based PDU address)")
    dtype: DataType
    size: int | None = Field(None, ge=1, description="registers, strings only")
    byte_order: Order = "big"
    word_order: Order = "big"
    scale: float = Field(1.0, gt=0, description="vendor multiplier: physical = raw * scale")
    sf: str | None = Field(None, description="name of the SunSpec sunssf point scaling this one")
    unit: str = ""
    access: Literal["r", "rw"] = "r"
    bind: str | None = Field(None, description="twin quantity shown or commanded")
    gain: float = Field(1.0, description="physical register value = gain * quantity")
    min: float | None = None
    max: float | None = None
    symbols: tuple[int, ...] = Field((), description="allowed raw values of an enum")
    reserved: int | None = Field(
        None, description="raw value no measurement may take (SunSpec's 'not implemented')"
    )
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Point:
        if self.dtype == "string" and self.size is None:
            raise ValueError(f"{self.name}: a string needs size (registers)")
        if self.address + self.regs > 0x10000:
            raise ValueError(f"{self.name}: runs past register 65535")
        if self.gain == 0:
            raise ValueError(f"{self.name}: gain must not be 0")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min {self.min} > max {self.max}")
        return self

    @property
    def regs(self) -> int:
        """Registers this point takes."""
        return n_regs(self.dtype, self.size)

    @property
    def end(self) -> int:
        """One past the last register."""
        return self.address + self.regs


class RegisterMap:
    """The points of one device, checked: no overlaps, scale factors resolvable."""

    def __init__(self, points: Iterable[Point], source: str = "register map") -> None:
        self.source = source
        self.points: tuple[Point, ...] = tuple(sorted(points, key=lambda p: p.address))
        if not self.points:
            raise InputError(f"{source}: no points")
        self.by_name: dict[str, Point] = {}
        self.owner: dict[int, Point] = {}
        for p in self.points:
            if p.name in self.by_name:
                raise InputError(f"{source}: point {p.name!r} defined twice")
            self.by_name[p.name] = p
            for a in range(p.address, p.end):
                if a in self.owner:
                    raise InputError(
                        f"{source}: register {a} of {p.name!r} overlaps {self.owner[a].name!r}"
                    )
                self.owner[a] = p
        for p in self.points:
            if p.sf is not None:
                sf = self.by_name.get(p.sf)
                if sf is None or sf.dtype != "s16":
                    raise InputError(
                        f"{source}: {p.name}: scale factor {p.sf!r} is not an s16 point"
                    )
        self.start = self.points[0].address
        self.stop = max(p.end for p in self.points)
        runs: list[tuple[int, int]] = []
        for p in self.points:
            if runs and runs[-1][0] + runs[-1][1] == p.address:
                runs[-1] = (runs[-1][0], runs[-1][1] + p.regs)
            else:
                runs.append((p.address, p.regs))
        self._runs = runs
        self._run_starts = [a for a, _ in runs]

    def blocks(self) -> list[tuple[int, int]]:
        """Contiguous runs of defined registers as (first address, count)."""
        return list(self._runs)

    def covers(self, address: int, count: int) -> bool:
        """True if every register of [address, address+count) is defined."""
        k = bisect.bisect_right(self._run_starts, address) - 1
        if k < 0:
            return False
        first, n = self._runs[k]
        return address + count <= first + n

    def bound(self, access: str | None = None) -> list[Point]:
        """Points bound to a twin quantity (optionally of one access)."""
        return [p for p in self.points if p.bind and (access is None or p.access == access)]

    def __len__(self) -> int:
        return len(self.points)


def _fmt(x: float | None, none: str) -> str:
    return none if x is None else f"{x:g}"


WriteCallback = Callable[[list[tuple[Point, float | int | str]]], None]


class RegisterImage:
    """The live 16-bit registers of one device, guarded by a lock.

    `on_write` is called (outside the lock) with the accepted ``(point, physical value)``
    pairs of each client write, after the write passed every check.
    """

    def __init__(self, regmap: RegisterMap, on_write: WriteCallback | None = None) -> None:
        self.map = regmap
        self.on_write = on_write
        self.lock = threading.RLock()
        self._base = regmap.start
        self._regs = [0] * (regmap.stop - regmap.start)
        self.write_count = 0
        self.rejected: list[tuple[int, int, str]] = []  # (address, code, message)
        self.on_reject: Callable[[RegisterError], None] | None = None

    # -- raw access -----------------------------------------------------------------
    def read(self, address: int, count: int) -> list[int]:
        """Registers [address, address+count); an undefined one is ILLEGAL DATA ADDRESS."""
        if not self.map.covers(address, count):
            bad = next(a for a in range(address, address + count) if a not in self.map.owner)
            raise RegisterError(
                f"{self.map.source}: register {bad} is not defined", ILLEGAL_ADDRESS
            )
        i = address - self._base
        with self.lock:
            return self._regs[i : i + count]

    def _sf_of(self, p: Point) -> int:
        if p.sf is None:
            return 0
        sfp = self.map.by_name[p.sf]
        i = sfp.address - self._base
        raw = self._regs[i]
        return raw - 0x10000 if raw >= 0x8000 else raw

    def set_raw(self, name: str, raw: int | float | str) -> None:
        """Store a raw (unscaled) value in a point."""
        p = self.map.by_name[name]
        regs = encode_raw(raw, p.dtype, p.size, p.byte_order, p.word_order, name=name)
        i = p.address - self._base
        with self.lock:
            self._regs[i : i + len(regs)] = regs

    def get_raw(self, name: str) -> int | float | str:
        """The raw (unscaled) value of a point."""
        p = self.map.by_name[name]
        i = p.address - self._base
        with self.lock:
            regs = self._regs[i : i + p.regs]
        return decode_raw(regs, p.dtype, p.byte_order, p.word_order)

    # -- physical values --------------------------------------------------------------
    def encode(self, p: Point, value: float | int | str) -> list[int]:
        """Registers of a physical value of point `p` (clamped to the type's range)."""
        if p.dtype == "string":
            return encode_raw(str(value), "string", p.size, p.byte_order, name=p.name)
        raw = to_raw(value, p.dtype, p.scale, self._sf_of(p), name=p.name)
        if p.dtype not in ("f32", "f64"):
            lo, hi = self._raw_range(p)
            raw = min(max(raw, lo), hi)  # a measurement past full scale reads full scale
        return encode_raw(raw, p.dtype, p.size, p.byte_order, p.word_order, name=p.name)

    @staticmethod
    def _raw_range(p: Point) -> tuple[int, int]:
        """Raw values a measurement may take: the type's range less the reserved marker."""
        lo, hi = INT_RANGE[p.dtype]
        if p.reserved == hi:
            hi -= 1
        elif p.reserved == lo:
            lo += 1
        return lo, hi

    def check_fits(self, p: Point, value: float) -> None:
        """Raise CodecError unless `value` encodes in `p` as itself: within the type's range
        at the point's scale, and not the not-implemented marker (no silent clamp)."""
        if p.dtype in ("f32", "f64", "string"):
            return
        sf = self._sf_of(p)
        raw = to_raw(value, p.dtype, p.scale, sf, name=p.name)
        lo, hi = self._raw_range(p)
        if not lo <= raw <= hi:
            scale = f"scale factor {sf}" if p.sf else f"scale {p.scale:g}"
            raise CodecError(
                f"{self.map.source}: {p.name} (register {p.address}) cannot show "
                f"{value:.10g} {p.unit}: {p.dtype} at {scale} holds "
                f"{to_physical(lo, p.scale, sf):.10g}..{to_physical(hi, p.scale, sf):.10g}"
                " (choose a larger scale)"
            )

    def decode(self, p: Point, regs: list[int]) -> float | int | str:
        """Physical value of point `p` from its registers."""
        raw = decode_raw(regs, p.dtype, p.byte_order, p.word_order)
        if p.dtype == "string":
            return raw
        return to_physical(raw, p.scale, self._sf_of(p))

    def set(self, name: str, value: float | int | str) -> None:
        """Store a physical value (scaled by the point's scale and SunSpec sf)."""
        p = self.map.by_name[name]
        with self.lock:
            regs = self.encode(p, value)
            i = p.address - self._base
            self._regs[i : i + len(regs)] = regs

    def update(self, values: Mapping[str, float | int | str]) -> None:
        """Store many physical values under one lock acquisition."""
        by_name = self.map.by_name
        with self.lock:
            for name, value in values.items():
                p = by_name[name]
                regs = self.encode(p, value)
                i = p.address - self._base
                self._regs[i : i + len(regs)] = regs

    def get(self, name: str) -> float | int | str:
        """Physical value of a point."""
        p = self.map.by_name[name]
        i = p.address - self._base
        with self.lock:
            return self.decode(p, self._regs[i : i + p.regs])

    # -- client writes ------------------------------------------------------------------
    def check_write(self, address: int, values: list[int]) -> list[tuple[Point, float | int | str]]:
        """Decode and check a client's write; raise RegisterError (with the code) if refused."""
        src = self.map.source
        owner = self.map.owner
        out: list[tuple[Point, float | int | str]] = []
        a = address
        end = address + len(values)
        while a < end:
            p = owner.get(a)
            if p is None:
                raise RegisterError(f"{src}: register {a} is not defined", ILLEGAL_ADDRESS)
            if p.address != a or p.end > end:
                raise RegisterError(
                    f"{src}: write to register {a} covers only part of {p.name} "
                    f"({p.address}..{p.end - 1})",
                    ILLEGAL_ADDRESS,
                )
            if p.access != "rw":
                raise RegisterError(f"{src}: {p.name} (register {a}) is read-only", ILLEGAL_ADDRESS)
            regs = values[a - address : p.end - address]
            raw = decode_raw(regs, p.dtype, p.byte_order, p.word_order)
            if p.symbols and raw not in p.symbols:
                raise RegisterError(
                    f"{src}: {p.name} = {raw} is not one of {list(p.symbols)}", ILLEGAL_VALUE
                )
            if p.dtype != "string":
                if isinstance(raw, float) and not math.isfinite(raw):
                    raise RegisterError(f"{src}: {p.name} = {raw} is not finite", ILLEGAL_VALUE)
                value = to_physical(raw, p.scale, self._sf_of(p))
                if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
                    raise RegisterError(
                        f"{src}: {p.name} = {value:g} {p.unit} outside "
                        f"{_fmt(p.min, '-inf')}..{_fmt(p.max, 'inf')}",
                        ILLEGAL_VALUE,
                    )
            else:
                value = raw
            out.append((p, value))
            a = p.end
        return out

    def write(self, address: int, values: list[int]) -> list[tuple[Point, float | int | str]]:
        """A client's write: all points are checked first, then all stored, then `on_write`."""
        try:
            accepted = self.check_write(address, values)
        except RegisterError as exc:
            with self.lock:
                self.rejected.append((address, exc.code, str(exc)))
            if self.on_reject is not None:
                self.on_reject(exc)
            raise
        i = address - self._base
        with self.lock:
            self._regs[i : i + len(values)] = list(values)
            self.write_count += 1
        if self.on_write is not None:
            self.on_write(accepted)
        return accepted
