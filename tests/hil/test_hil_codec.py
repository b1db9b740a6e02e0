"""The codec: exact round-trips (hypothesis), known wire layouts, range errors."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.codec import CodecError, decode_raw, encode_raw, to_physical, to_raw
from tests.hil.strategies import float_values, int_values, orders, scales, sfs, strings


@given(int_values(), orders, orders)
def test_integer_round_trip_is_exact(tv, bo, wo):
    dtype, raw = tv
    regs = encode_raw(raw, dtype, byte_order=bo, word_order=wo)
    assert all(0 <= r <= 0xFFFF for r in regs)
    assert decode_raw(regs, dtype, bo, wo) == raw


@given(float_values(), orders, orders)
def test_float_round_trip_is_exact(tv, bo, wo):
    dtype, value = tv
    regs = encode_raw(value, dtype, byte_order=bo, word_order=wo)
    assert decode_raw(regs, dtype, bo, wo) == value


@given(strings, orders)
def test_string_round_trip(sv, bo):
    size, text = sv
    regs = encode_raw(text, "string", size, byte_order=bo)
    assert len(regs) == size
    assert decode_raw(regs, "string", bo) == text.rstrip("\0")


@given(int_values(), scales, sfs)
def test_scaled_round_trip_recovers_the_raw_value(tv, scale, sf):
    dtype, raw = tv
    if abs(raw) > 2**50:  # floats carry 53 bits: beyond that scaled values are inexact
        raw = raw >> 14
    physical = to_physical(raw, scale, sf)
    assert to_raw(physical, dtype, scale, sf) == raw


def test_known_wire_layouts():
    # 0x12345678 as u32: big/big ABCD, little word order CDAB, little bytes BADC
    assert encode_raw(0x12345678, "u32") == [0x1234, 0x5678]
    assert encode_raw(0x12345678, "u32", word_order="little") == [0x5678, 0x1234]
    assert encode_raw(0x12345678, "u32", byte_order="little") == [0x3412, 0x7856]
    assert encode_raw(-2, "s16") == [0xFFFE]
    assert encode_raw("SunS", "string", 2) == [0x5375, 0x6E53]
    f = struct.unpack(">I", struct.pack(">f", 1.5))[0]
    assert encode_raw(1.5, "f32") == [f >> 16, f & 0xFFFF]


def test_sunssf_scaling():
    # SunSpec: W = 12500 with W_SF = 2 -> 1.25 MW; SoC 605 with SF -1 -> 60.5 %
    assert to_physical(12500, sf=2) == 1_250_000
    assert to_physical(605, sf=-1) == pytest.approx(60.5, abs=0)
    assert to_raw(60.5, "u16", sf=-1) == 605
    assert to_raw(-800_000.0, "s16", sf=2) == -8000


@pytest.mark.parametrize(
    ("dtype", "raw"), [("u16", -1), ("u16", 0x10000), ("s16", 40000), ("u32", 2**32)]
)
def test_out_of_range_raises_naming_the_register(dtype, raw):
    with pytest.raises(CodecError, match="WSet"):
        encode_raw(raw, dtype, name="WSet")


def test_string_too_long_and_nan_rejected():
    with pytest.raises(CodecError):
        encode_raw("x" * 5, "string", 2)
    with pytest.raises(CodecError):
        to_raw(math.nan, "s16")


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_any_two_registers_decode_as_f32_and_back(a, b):
    v = decode_raw([a, b], "f32")
    if not math.isnan(v):
        assert encode_raw(v, "f32") == [a, b]
