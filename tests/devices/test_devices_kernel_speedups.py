"""The shortcuts of `step_units` (segment hints, exp memo, locals) against the plain forms."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import Fleet, PcsState, load_unit_params
from devices import kernels as k
from devices.state import pack_params

UNITS = ("lfp280-2236kwh", "lfp314-5016kwh")
PACKED = {name: pack_params([load_unit_params(name)]) for name in UNITS}
TABLES = (k.T_OCV, k.T_RSOC, k.T_RTEMP, k.T_LCH, k.T_LDIS)


@given(
    st.sampled_from(UNITS),
    st.sampled_from(TABLES),
    st.floats(0.0, 1.0),
    st.integers(1, 7),
    st.booleans(),
)
def test_lookup_from_any_hint_is_the_scan_bit_for_bit(name, t, u, hint, on_knot) -> None:
    pk = PACKED[name]
    n = int(pk.tn[t, 0])
    lo, hi = pk.tx[t, 0, 0], pk.tx[t, 0, n - 1]
    # across and beyond the table, and exactly on its knots (where the segment choice shows)
    x = (
        float(pk.tx[t, 0, min(hint, n - 1)])
        if on_knot
        else lo - 0.1 * (hi - lo) + 1.2 * u * (hi - lo)
    )
    value, seg = k._lookup_at(pk.tx, pk.ty, pk.tn, t, 0, x, min(hint, n - 1))
    assert value == k.lookup(pk.tx, pk.ty, pk.tn, t, 0, x)
    assert 1 <= seg <= n - 1


@given(st.sampled_from(UNITS), st.floats(-0.05, 1.05), st.integers(1, 7))
def test_ocv_integral_from_any_hint_is_the_scan_bit_for_bit(name, soc, hint) -> None:
    pk = PACKED[name]
    hint = min(hint, int(pk.tn[k.T_OCV, 0]) - 1)
    value, _ = k._ocv_integral_at(pk.tx, pk.ty, pk.tn, 0, soc, hint)
    assert value == k._ocv_integral_at(pk.tx, pk.ty, pk.tn, 0, soc, 1)[0]


@given(st.sampled_from(UNITS), st.floats(-3000.0, 3000.0), st.integers(1, 8), st.integers(1, 8))
def test_pcs_inverse_from_any_hints_is_the_scan_and_inverts_the_loss(name, p_ac, kc, kd) -> None:
    pk = PACKED[name]
    n = int(pk.tn[k.T_LCH, 0])
    p_dc = p_ac - k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, p_ac, 0.0)
    back, kc2, kd2 = k._ac_for_dc_at(pk.tx, pk.ty, pk.tn, 0, p_dc, min(kc, n), min(kd, n))
    scan, _, _ = k._ac_for_dc_at(pk.tx, pk.ty, pk.tn, 0, p_dc, 1, 1)
    assert back == scan
    assert back == pytest.approx(p_ac, rel=1e-12, abs=1e-9)
    assert 1 <= kc2 <= n and 1 <= kd2 <= n


@given(st.floats(-60.0, 0.0), st.floats(-0.99, 0.99))
def test_exp_memo_equals_exp_to_rounding(x0: float, frac: float) -> None:
    e0 = math.exp(x0)
    x = x0 + frac * k.EXP_MEMO_DX
    e, x0_new, e0_new = k._exp_memo(x, x0, e0)
    # reused: the memo stays; the Taylor remainder (< 1.7e-19) is far below these few ulps
    assert (x0_new, e0_new) == (x0, e0)
    assert e == pytest.approx(math.exp(x), rel=4e-16, abs=0.0)


def test_exp_memo_recomputes_beyond_its_reach() -> None:
    x = -20.0 + 3.0 * k.EXP_MEMO_DX
    e, x0, e0 = k._exp_memo(x, -20.0, math.exp(-20.0))
    assert e == math.exp(x) and x0 == x and e0 == e
    e, x0, _ = k._exp_memo(-21.0, math.inf, 0.0)  # the empty memo
    assert e == math.exp(-21.0) and x0 == -21.0


@pytest.mark.parametrize("name", UNITS)
def test_one_call_of_n_substeps_equals_n_calls_of_one(name: str) -> None:
    # The kernel keeps the state in locals within a call: every field must reach the arrays,
    # and the hints and memos must not carry anything between calls that changes a result.
    p = load_unit_params(name)
    one = Fleet([p] * 3, soc0=[0.05, 0.5, 0.93], temp0_c=[10.0, 25.0, 38.0])
    many = Fleet([p] * 3, soc0=[0.05, 0.5, 0.93], temp0_c=[10.0, 25.0, 38.0])
    one.stop(2)
    many.stop(2)
    schedule = [
        ([0.8 * p.p_max_kw, -0.6 * p.p_max_kw, 300.0], 400),  # start-up, charge, discharge
        ([0.0, 0.0, 0.0], 700),  # rest: idle to standby
        ([-p.p_max_kw, p.p_max_kw, 0.0], 2000),  # to the SOC window's edges: limited
    ]
    for p_set, n in schedule:
        r1 = one.step(p_set, 1.0, 31.0, n_sub=n, q_set_kvar=[0.0, 200.0, 0.0])
        e_in = np.zeros(3)
        for _ in range(n):
            r = many.step(p_set, 1.0, 31.0, q_set_kvar=[0.0, 200.0, 0.0])
            e_in += r.e_ac_in_kwh
        assert np.allclose(r1.e_ac_in_kwh, e_in, rtol=1e-12, atol=1e-12)
        assert np.allclose(one._xs, many._xs, rtol=1e-12, atol=1e-15)
        assert np.array_equal(one.pcs_state, many.pcs_state)
    # a daily aging window: fade applied in both
    for f in (one, many):
        f.step([0.0, 0.0, 0.0], 900.0, 31.0, n_sub=100)
    assert np.array_equal(one.pcs_state, many.pcs_state)
    assert one.pcs_state[2] == PcsState.OFF
    s1, s2 = one.save_state(), many.save_state()
    for key in ("xs", "pcs", "rf", "rfn"):
        a, b = np.asarray(s1[key], dtype=float), np.asarray(s2[key], dtype=float)
        assert np.allclose(a, b, rtol=1e-12, atol=1e-15), key
    assert (one.soh < 1.0).all()
