"""Hypothesis strategies of the HIL tests: register types, orders, raw values."""

from __future__ import annotations

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
