"""Hypothesis strategies of the HIL tests: register types, orders, raw values."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from hil.codec import INT_RANGE

int_types = st.sampled_from(sorted(INT_RANGE))
orders = st.sampled_from(["big", "little"])


@st.composite
def int_values(draw):
    """(dtype, raw) with raw inside the type's range."""
    dtype = draw(int_types)
    lo, hi = INT_RANGE[dtype]
    return dtype, draw(st.integers(lo, hi))


@st.composite
def float_values(draw):
    dtype = draw(st.sampled_from(["f32", "f64"]))
    width = 32 if dtype == "f32" else 64
    return dtype, draw(st.floats(allow_nan=False, width=width))


strings = st.tuples(
    st.integers(1, 16),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x7E), max_size=32),
).filter(lambda t: len(t[1].encode()) <= 2 * t[0])
scales = st.sampled_from([1.0, 0.1, 0.01, 0.001, 10.0])
sfs = st.integers(-4, 4)


@st.composite
def rtu_requests(draw):
    """(unit id, request PDU) of a function code whose frame length its bytes tell."""
    uid = draw(st.integers(1, 247))
    fc = draw(st.sampled_from([0x03, 0x04, 0x06, 0x10, 0x16, 0x17]))
    head = bytes([fc]) + draw(st.binary(min_size=4, max_size=4))
    if fc == 0x10:
        n = draw(st.integers(1, 123))
        pdu = (
            head[:3]
            + n.to_bytes(2, "big")
            + bytes([2 * n])
            + draw(st.binary(min_size=2 * n, max_size=2 * n))
        )
    elif fc == 0x17:
        n = draw(st.integers(1, 121))
        data = draw(st.binary(min_size=2 * n, max_size=2 * n))
        pdu = (
            head
            + draw(st.binary(min_size=2, max_size=2))
            + n.to_bytes(2, "big")
            + bytes([2 * n])
            + data
        )
    elif fc == 0x16:
        pdu = head + draw(st.binary(min_size=2, max_size=2))
    else:
        pdu = head
    return uid, pdu


mbap_frames = st.tuples(
    st.integers(0, 0xFFFF), st.integers(0, 255), st.binary(min_size=1, max_size=253)
)


@st.composite
def cuts(draw, data: bytes) -> list[bytes]:
    """`data` cut into pieces at random places (as TCP segments or serial reads arrive)."""
    points = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=8)))
    edges = [0, *(p for p in points if p < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]
