"""Vendor-style flat register maps (点表) loaded from TOML files.

A file has a ``[device]`` table (vendor, model, default byte and word order) and a list
of ``[[point]]`` tables: name, label, address (0-based PDU address), type (u16, s16,
u32, s32, u64, s64, f32, f64, string + size), scale, unit, access (r/rw), bind (the twin
quantity), gain (register value = gain * quantity, e.g. -1 where the vendor counts
discharge positive), and for writable points the accepted range: ``min``/``max``, or
``limit`` naming the unit rating that bounds it (+-gain*rating), or ``symbols``.
Shipped example: ``hil/data/vendor_pcs.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from hil.codec import DataType, Order
from hil.registers import Point, RegisterImage, RegisterMap, WriteCallback
from parktwin.config import Frozen, load_package_toml, load_toml
from parktwin.errors import InputError


class VendorDevice(Frozen):
    vendor: str = ""
    model: str = ""
    byte_order: Order = "big"
    word_order: Order = "big"


class VendorPoint(Frozen):
    name: str = Field(min_length=1)
    label: str = ""
    address: int = Field(ge=0, le=0xFFFF)
    type: DataType
    size: int | None = Field(None, ge=1)
    scale: float = Field(1.0, gt=0)
    unit: str = ""
    access: Literal["r", "rw"] = "r"
    bind: str | None = None
    gain: float = 1.0
    min: float | None = None
    max: float | None = None
    limit: str | None = None
    symbols: tuple[int, ...] = ()
    byte_order: Order | None = None
    word_order: Order | None = None


class VendorMapFile(Frozen):
    source: str = ""
    device: VendorDevice = VendorDevice()
    point: tuple[VendorPoint, ...] = Field(min_length=1)


def load_vendor_file(path: str | Path | None = None) -> VendorMapFile:
    """A vendor map file (None: the shipped ``hil/data/vendor_pcs.toml``)."""
    if path is None:
        return load_package_toml("hil", "vendor_pcs.toml", VendorMapFile)
    return load_toml(path, VendorMapFile)


def vendor_map(
    spec: VendorMapFile, ratings: Mapping[str, float], source: str = "vendor map"
) -> RegisterMap:
    """The RegisterMap of a vendor file; `ratings` resolves each point's ``limit``."""
    points = []
    for k, vp in enumerate(spec.point):
        where = f"{source}: point[{k}] {vp.name!r} (register {vp.address})"
        lo, hi = vp.min, vp.max
        if vp.limit is not None:
            if vp.limit not in ratings:
                raise InputError(f"{where}: limit {vp.limit!r} is not a known rating")
            bound = abs(vp.gain * ratings[vp.limit])
            lo, hi = -bound, bound
        if vp.access == "r" and (vp.limit or vp.min is not None or vp.max is not None):
            raise InputError(f"{where}: a range is only meaningful on a writable (rw) point")
        try:
            points.append(
                Point(
                    name=vp.name,
                    address=vp.address,
                    dtype=vp.type,
                    size=vp.size,
                    byte_order=vp.byte_order or spec.device.byte_order,
                    word_order=vp.word_order or spec.device.word_order,
                    scale=vp.scale,
                    unit=vp.unit,
                    access=vp.access,
                    bind=vp.bind,
                    gain=vp.gain,
                    min=lo,
                    max=hi,
                    symbols=vp.symbols,
                    description=vp.label,
                )
            )
        except ValueError as exc:  # pydantic's, from Point's own checks
            msg = str(exc).splitlines()
            raise InputError(f"{where}: {msg[1].strip() if len(msg) > 1 else msg[0]}") from exc
    return RegisterMap(points, source=source)


def new_vendor_image(
    spec: VendorMapFile,
    ratings: Mapping[str, float],
    on_write: WriteCallback | None = None,
    source: str = "vendor map",
    writable: frozenset[str] | None = None,
) -> RegisterImage:
    """A register image of a vendor map, all registers 0 until the plant publishes.

    `writable`: the quantities the emulated device acts on; a writable (rw) point bound to
    anything else is an error (the device would accept the write and ignore it).
    """
    regmap = vendor_map(spec, ratings, source)
    if writable is not None:
        for p in regmap.bound("rw"):
            if p.bind not in writable:
                raise InputError(
                    f"{source}: point {p.name!r} (register {p.address}) is writable but bound to"
                    f" {p.bind!r}, which the device cannot act on"
                    f" (it acts on: {', '.join(sorted(writable))})"
                )
        for p in regmap.points:
            if p.access == "rw" and p.bind is None:
                raise InputError(
                    f"{source}: point {p.name!r} (register {p.address}) is writable but bound"
                    " to nothing: make it read-only or bind it"
                )
    return RegisterImage(regmap, on_write=on_write)
