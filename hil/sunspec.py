"""SunSpec register maps laid out from the model definitions pysunspec2 ships.

Layout (SunSpec Information Model Specification): at the base register (40000) the
marker "SunS" (0x5375 0x6E53), then each model as ``ID, L, L registers of points``, then
the end model ``0xFFFF, 0``. Point types, sizes, scale factors, enum symbols and access
come from pysunspec2's JSON definitions, never typed by hand here. Which models a device
carries, the static values and the bindings to twin quantities are data
(``hil/data/sunspec.toml``).

Unimplemented points hold SunSpec's "not implemented" values (0x8000 for int16 and
sunssf, 0xFFFF for uint16/enum16, NaN for float32, ...), which clients read as None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import Field

from hil.codec import DataType
from hil.registers import Point, RegisterImage, RegisterMap, WriteCallback
from parktwin.config import Frozen, load_package_toml
from parktwin.errors import InputError

BASE_ADDRESS = 40000
MARKER = "SunS"
END_MODEL_ID = 0xFFFF

# SunSpec type -> (our type, "not implemented" raw value)
_TYPES: dict[str, tuple[DataType, int | float | str]] = {
    "int16": ("s16", -0x8000),
    "uint16": ("u16", 0xFFFF),
    "count": ("u16", 0),
    "acc16": ("u16", 0),
    "enum16": ("u16", 0xFFFF),
    "bitfield16": ("u16", 0xFFFF),
    "pad": ("u16", 0x8000),
    "sunssf": ("s16", -0x8000),
    "int32": ("s32", -0x8000_0000),
    "uint32": ("u32", 0xFFFF_FFFF),
    "acc32": ("u32", 0),
    "enum32": ("u32", 0xFFFF_FFFF),
    "bitfield32": ("u32", 0xFFFF_FFFF),
    "ipaddr": ("u32", 0),
    "int64": ("s64", -0x8000_0000_0000_0000),
    "uint64": ("u64", 0xFFFF_FFFF_FFFF_FFFF),
    "acc64": ("u64", 0),
    "float32": ("f32", math.nan),
    "float64": ("f64", math.nan),
    "string": ("string", ""),
}


class DeviceLayout(Frozen):
    """Models, static values, bindings and rated write limits of one kind of device."""

    models: tuple[int, ...] = Field(min_length=1)
    static: dict[str, int | float | str] = Field(default_factory=dict)
    bind: dict[str, tuple[str, float]] = Field(default_factory=dict)
    limits: dict[str, tuple[str, float]] = Field(default_factory=dict)
    upper: dict[str, tuple[str, float]] = Field(default_factory=dict)


class SunSpecLayouts(Frozen):
    source: str
    unit: DeviceLayout
    meter: DeviceLayout


@cache
def layouts() -> SunSpecLayouts:
    """The shipped layouts (``hil/data/sunspec.toml``)."""
    return load_package_toml("hil", "sunspec.toml", SunSpecLayouts)


def model_definition(model_id: int) -> dict:
    """pysunspec2's definition of a model (its shipped JSON)."""
    from sunspec2 import device as ss_device
    from sunspec2 import mdef

    try:
        return ss_device.get_model_def(model_id)
    except mdef.ModelDefinitionError as exc:
        raise InputError(f"SunSpec model {model_id}: no definition in pysunspec2") from exc


def _walk(group: dict, prefix: str, out: list[tuple[str, dict]]) -> None:
    for p in group.get("points", []):
        out.append((f"{prefix}.{p['name']}", p))
    for g in group.get("groups", []):
        count = g.get("count", 1)
        if not isinstance(count, int):
            count = 1  # repeating groups sized by a point: the emulated devices use one
        for k in range(count):
            name = g["name"] if count == 1 else f"{g['name']}[{k}]"
            _walk(g, f"{prefix}.{name}", out)


def model_points(model_id: int, address: int) -> tuple[list[Point], dict[str, int | float | str]]:
    """Points of one model placed from `address` (its ID register), with not-implemented values."""
    mdef = model_definition(model_id)
    flat: list[tuple[str, dict]] = []
    _walk(mdef["group"], str(model_id), flat)
    points: list[Point] = []
    initial: dict[str, int | float | str] = {}
    a = address
    for name, pd in flat:
        stype = pd["type"]
        if stype not in _TYPES:
            raise InputError(f"SunSpec model {model_id}: point {name}: type {stype} not supported")
        dtype, not_impl = _TYPES[stype]
        size = int(pd.get("size", 1))
        sf = pd.get("sf")
        symbols = (
            tuple(int(s["value"]) for s in pd.get("symbols", []))
            if stype.startswith("enum")
            else ()
        )
        points.append(
            Point(
                name=name,
                address=a,
                dtype=dtype,
                size=size if dtype == "string" else None,
                sf=f"{model_id}.{sf}" if isinstance(sf, str) else None,
                unit=str(pd.get("units", "")),
                access="rw" if pd.get("access") == "RW" else "r",
                symbols=symbols,
                reserved=None if isinstance(not_impl, str | float) else not_impl,
                description=str(pd.get("desc", pd.get("label", ""))),
            )
        )
        initial[name] = not_impl
        a += size
    return points, initial


def device_map(
    kind: Literal["unit", "meter"],
    ratings: Mapping[str, float],
    base: int = BASE_ADDRESS,
    writable: frozenset[str] = frozenset(),
) -> tuple[RegisterMap, dict[str, int | float | str]]:
    """The SunSpec map of a unit or a meter, and the raw values to start its image with.

    `ratings` gives the quantities named in the layout's ``limits`` and ``upper`` (e.g.
    ``p_max_kw``): a writable point bound to a rating accepts ``-gain*rating ..
    +gain*rating`` (``limits``) or ``0 .. gain*rating`` (``upper``). Only points bound to a
    quantity in `writable` (what the emulated device acts on) stay writable; every other
    point the model defines as RW is served read-only, so a write to it is refused
    (ILLEGAL DATA ADDRESS) instead of being echoed and ignored.
    """
    lay = getattr(layouts(), kind)
    points: list[Point] = [
        Point(name="SunS", address=base, dtype="string", size=2, description="SunSpec marker")
    ]
    initial: dict[str, int | float | str] = {"SunS": MARKER}
    a = base + 2
    for mid in lay.models:
        mpts, minit = model_points(mid, a)
        length = sum(p.regs for p in mpts) - 2  # ID and L are not counted in L
        minit[mpts[0].name] = mid
        minit[mpts[1].name] = length
        points.extend(mpts)
        initial.update(minit)
        a += length + 2
    points.append(Point(name="end.ID", address=a, dtype="u16"))
    points.append(Point(name="end.L", address=a + 1, dtype="u16"))
    initial["end.ID"] = END_MODEL_ID
    initial["end.L"] = 0
    by_name = {p.name: p for p in points}
    for key in (*lay.bind, *lay.static, *lay.limits, *lay.upper):
        if key not in by_name:
            raise InputError(f"hil/data/sunspec.toml: {kind}: no SunSpec point {key!r}")
    out: list[Point] = []
    for p in points:
        update: dict = {}
        if p.name in lay.bind:
            q, gain = lay.bind[p.name]
            update.update(bind=q, gain=gain)
        for table, lower in ((lay.limits, -1.0), (lay.upper, 0.0)):
            if p.name in table:
                q, gain = table[p.name]
                if q not in ratings:
                    raise InputError(f"SunSpec {kind}: {p.name}: rating {q!r} not given")
                bound = abs(gain * ratings[q])
                update.update(min=lower * bound, max=bound)
        if p.access == "rw" and update.get("bind") not in writable:
            update.update(access="r", min=None, max=None)
        out.append(p.model_copy(update=update) if update else p)
    return RegisterMap(out, source=f"SunSpec {kind}"), initial


def new_image(
    kind: Literal["unit", "meter"],
    ratings: Mapping[str, float],
    on_write: WriteCallback | None = None,
    writable: frozenset[str] = frozenset(),
) -> RegisterImage:
    """A register image of a SunSpec unit or meter with its static values in place."""
    regmap, initial = device_map(kind, ratings, writable=writable)
    img = RegisterImage(regmap, on_write=on_write)
    for name, raw in initial.items():
        img.set_raw(name, raw)
    static = getattr(layouts(), kind).static
    # scale factors first: the scaled static values depend on them
    for name, value in sorted(static.items(), key=lambda kv: not kv[0].endswith("_SF")):
        if name.endswith("_SF"):
            img.set_raw(name, int(value))
        else:
            img.set(name, value)
    return img
