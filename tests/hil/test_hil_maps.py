"""Register maps: SunSpec layout from pysunspec2's definitions, vendor files, checked writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil import sunspec
from hil.emulated import UNIT_WRITABLE
from hil.registers import (
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    Point,
    RegisterError,
    RegisterImage,
    RegisterMap,
)
from hil.vendor import load_vendor_file, vendor_map
from parktwin.errors import InputError

RATINGS = {
    "p_max_kw": 1118.0,
    "s_max_kva": 1250.0,
    "q_max_kvar": 400.0,
    "hundred": 100.0,
    "revert_max_s": 3600.0,
}
# lengths of the models (L) as the SunSpec specification gives them (park-facts.md)
SPEC_LENGTHS = {1: 66, 701: 153, 702: 50, 704: 65, 713: 7, 802: 62, 213: 124}


def _walk_models(img: RegisterImage) -> list[tuple[int, int]]:
    a = sunspec.BASE_ADDRESS
    assert img.read(a, 2) == [0x5375, 0x6E53]
    a += 2
    found = []
    while True:
        mid, length = img.read(a, 2)
        if mid == sunspec.END_MODEL_ID:
            assert length == 0
            return found
        found.append((mid, length))
        a += 2 + length


@pytest.mark.parametrize("kind", ["unit", "meter"])
def test_sunspec_layout_matches_the_specification(kind):
    img = sunspec.new_image(kind, RATINGS)
    models = _walk_models(img)
    assert [m for m, _ in models] == list(sunspec.layouts().__getattribute__(kind).models)
    for mid, length in models:
        assert length == SPEC_LENGTHS[mid], mid


def test_static_and_scaled_values():
    img = sunspec.new_image("unit", RATINGS, writable=UNIT_WRITABLE)
    assert img.get("1.Mn") == "ParkTwin"
    assert img.get_raw("701.W_SF") == 2
    img.set("701.W", -800_000.0)
    assert img.get_raw("701.W") == -8000
    assert img.get("701.W") == -800_000
    # not implemented until published
    assert img.get_raw("713.SoC") == 0xFFFF


def test_writes_are_checked_point_by_point():
    img = sunspec.new_image("unit", RATINGS, writable=UNIT_WRITABLE)
    p = img.map.by_name["704.WSet"]
    with pytest.raises(RegisterError) as e:
        img.write(p.address, [0x0000, 0x0000, 0x0000])  # WSet then half of WSetRvrt
    assert e.value.code == ILLEGAL_ADDRESS
    with pytest.raises(RegisterError) as e:
        img.write(p.address + 1, [0])  # the low word alone
    assert e.value.code == ILLEGAL_ADDRESS
    with pytest.raises(RegisterError) as e:
        img.write(img.map.by_name["701.W"].address, [0])  # read-only
    assert e.value.code == ILLEGAL_ADDRESS
    with pytest.raises(RegisterError) as e:  # 1.3 MW > 1250 kW rating
        img.write(p.address, [0x0013, 0xD620])
    assert e.value.code == ILLEGAL_VALUE
    ena = img.map.by_name["704.WSetEna"]
    with pytest.raises(RegisterError) as e:
        img.write(ena.address, [7])  # enum: DISABLED 0 / ENABLED 1 only
    assert e.value.code == ILLEGAL_VALUE
    assert img.write_count == 0 and len(img.rejected) == 5
    accepted = img.write(p.address, [0xFFF8, 0x5EE0])  # -500000 W
    assert [(q.name, v) for q, v in accepted] == [("704.WSet", -500_000)]


@given(st.integers(-1_250_000, 1_250_000))
def test_any_in_range_setpoint_is_accepted_and_reads_back(w):
    seen = []
    img = sunspec.new_image("unit", RATINGS, on_write=seen.append, writable=UNIT_WRITABLE)
    p = img.map.by_name["704.WSet"]
    regs = [(w >> 16) & 0xFFFF, w & 0xFFFF]
    img.write(p.address, regs)
    assert img.read(p.address, 2) == regs
    assert seen[-1][0][1] == w


def test_vendor_map_loads_and_uses_its_orders():
    spec = load_vendor_file()
    m = vendor_map(spec, RATINGS)
    img = RegisterImage(m)
    img.set("e_charged", 0x12345)
    a = m.by_name["e_charged"].address
    assert img.read(a, 2) == [0x2345, 0x0001]  # low word first, as the file says
    assert m.by_name["p_set"].max == pytest.approx(1250.0)


def test_vendor_map_errors_name_the_register(tmp_path):
    bad = tmp_path / "pcs.toml"
    bad.write_text(
        '[[point]]\nname = "a"\naddress = 10\ntype = "u32"\n'
        '[[point]]\nname = "b"\naddress = 11\ntype = "u16"\n'
    )
    with pytest.raises(InputError, match="register 11 of 'b' overlaps 'a'"):
        vendor_map(load_vendor_file(bad), {})
    bad.write_text('[[point]]\nname = "a"\naddress = 10\ntype = "u17"\n')
    with pytest.raises(InputError, match=r"pcs.toml: point\[0\].type"):
        load_vendor_file(bad)
    bad.write_text(
        '[[point]]\nname = "a"\naddress = 10\ntype = "s16"\naccess = "rw"\nlimit = "p_max_kw"\n'
    )
    with pytest.raises(InputError, match=r"register 10.*not a known rating"):
        vendor_map(load_vendor_file(bad), {})


def test_map_rejects_dangling_scale_factor():
    with pytest.raises(InputError, match="scale factor"):
        RegisterMap([Point(name="W", address=0, dtype="s16", sf="W_SF")])
