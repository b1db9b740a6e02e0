"""The guard kernel: compiled == plain-Python reference, hand-computed clamps, invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from tests.twin.strategies import guard_inputs
from twin.guards import GUARD_NAMES, guard_kernel, guard_reference

ALL_ON = np.ones(5, dtype=np.int64)


def _call(fn, **kw):
    counts = np.zeros(len(GUARD_NAMES), dtype=np.int64)
    p, q = fn(counts=counts, **kw)
    return p, q, counts


def _one_unit(**over):
    base = {
        "p_req": np.array([0.0]),
        "q_req": np.array([0.0]),
        "p_prev": np.array([0.0]),
        "soc": np.array([0.5]),
        "soc_lo": np.array([0.05]),
        "soc_hi": np.array([0.95]),
        "e_kwh": np.array([2000.0]),
        "p_ch_max": np.array([1000.0]),
        "p_dis_max": np.array([1000.0]),
        "s_max_kva": np.array([1250.0]),
        "ramp_kw_per_s": np.array([1e6]),
        "trafo_kva": np.array([1600.0]),
        "trafo_frac": 1.0,
        "p_aux_kw": np.array([10.0]),
        "unit_ent": np.array([0], dtype=np.int64),
        "net_load_kw": np.array([5000.0]),
        "margin_kw": np.array([100.0]),
        "dt_s": 900.0,
        "eff": 0.9,
        "enable": ALL_ON,
    }
    base.update({k: (np.array(v, float) if isinstance(v, list) else v) for k, v in over.items()})
    return base


@given(guard_inputs())
def test_kernel_equals_reference(kw) -> None:
    p1, q1, c1 = _call(guard_kernel, **kw)
    p2, q2, c2 = _call(guard_reference, **kw)
    np.testing.assert_allclose(p1, p2, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(q1, q2, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(c1, c2)


@given(guard_inputs())
def test_all_guards_on_hold_every_limit(kw) -> None:
    kw["enable"] = ALL_ON
    kw["p_prev"] = np.clip(kw["p_prev"], -kw["p_dis_max"], kw["p_ch_max"])
    p, q, _ = _call(guard_kernel, **kw)
    dt_h = kw["dt_s"] / 3600.0
    tol = 1e-6
    # Rating and apparent power.
    assert np.all(p <= np.maximum(kw["p_ch_max"], 0) + tol)
    assert np.all(p >= -np.maximum(kw["p_dis_max"], 0) - tol)
    assert np.all(np.hypot(p, q) <= kw["s_max_kva"] + tol)
    # Unit transformer: within its limit, unless the auxiliaries alone exceed it (then p = 0).
    s_lim = kw["trafo_kva"] * kw["trafo_frac"]
    ok = np.hypot(p + kw["p_aux_kw"], q) <= s_lim + tol
    assert np.all(ok | ((p == 0.0) & (kw["p_aux_kw"] > s_lim - tol)))
    # SOC window: never more energy than fits, never more than is there.
    room_ch = np.maximum((kw["soc_hi"] - kw["soc"]) * kw["e_kwh"] / dt_h, 0)
    room_dis = np.maximum((kw["soc"] - kw["soc_lo"]) * kw["e_kwh"] * kw["eff"] / dt_h, 0)
    assert np.all(p <= room_ch + tol)
    assert np.all(p >= -room_dis - tol)
    # Anti-backflow: every meter whose units discharge keeps its margin.
    n_ent = len(kw["net_load_kw"])
    est = kw["net_load_kw"] + np.bincount(kw["unit_ent"], p + kw["p_aux_kw"], minlength=n_ent)
    dis = np.bincount(kw["unit_ent"], np.maximum(-p, 0), minlength=n_ent)
    assert np.all((est >= kw["margin_kw"] - 1e-6) | (dis <= 1e-9))


def test_rating_clamps_and_counts() -> None:
    p, q, c = _call(guard_kernel, **_one_unit(p_req=[5000.0], q_req=[900.0]))
    assert p[0] == 1000.0
    assert np.isclose(np.hypot(p[0], q[0]), 1250.0) and q[0] > 0  # q gives way: 750 kvar
    assert np.isclose(q[0], 750.0)
    assert c.tolist() == [1, 0, 0, 0, 0]


def test_ramp_limits_the_step() -> None:
    kw = _one_unit(p_req=[-800.0], p_prev=[100.0], ramp_kw_per_s=[50.0], dt_s=1.0)
    p, _, c = _call(guard_kernel, **kw)
    assert p[0] == 50.0  # 100 - 50 kW/s * 1 s
    assert c[1] == 1


def test_soc_window_hand_computed() -> None:
    # 2000 kWh at SOC 0.10 with floor 0.05: 100 kWh above it, x 0.9 = 90 kWh out in 0.25 h.
    p, _, c = _call(guard_kernel, **_one_unit(p_req=[-1000.0], soc=[0.10]))
    assert np.isclose(p[0], -360.0)
    # At 0.94 only 0.01 x 2000 = 20 kWh fit: 80 kW over 15 min.
    p, _, c = _call(guard_kernel, **_one_unit(p_req=[1000.0], soc=[0.94]))
    assert np.isclose(p[0], 80.0)
    assert c[2] == 1


def test_trafo_loading_hand_computed() -> None:
    kw = _one_unit(p_req=[1000.0], trafo_kva=[800.0], p_ch_max=[2000.0], s_max_kva=[2500.0])
    p, _, c = _call(guard_kernel, **kw)
    assert np.isclose(p[0] + 10.0, 800.0)  # unit draw incl. aux = transformer rating
    assert c[3] == 1


def test_anti_backflow_cuts_discharge_in_proportion() -> None:
    kw = _one_unit(
        p_req=[-1000.0, -500.0, 300.0],
        q_req=[0.0, 0.0, 0.0],
        p_prev=[0.0, 0.0, 0.0],
        soc=[0.5, 0.5, 0.5],
        soc_lo=[0.05] * 3,
        soc_hi=[0.95] * 3,
        e_kwh=[2000.0] * 3,
        p_ch_max=[1000.0] * 3,
        p_dis_max=[1000.0] * 3,
        s_max_kva=[1250.0] * 3,
        ramp_kw_per_s=[1e6] * 3,
        trafo_kva=[1600.0] * 3,
        p_aux_kw=[0.0] * 3,
        unit_ent=np.array([0, 0, 0], dtype=np.int64),
        net_load_kw=[1000.0],
        margin_kw=[100.0],
    )
    p, _, c = _call(guard_kernel, **kw)
    # Without a cut: 1000 - 1500 + 300 = -200 kW (export). Allowed discharge: 1000+300-100.
    assert np.isclose(-(p[0] + p[1]), 1200.0)
    assert np.isclose(p[0] / p[1], 2.0)  # both cut by the same factor
    assert p[2] == 300.0  # charging is never cut by this guard
    assert c[4] == 1


def test_nan_request_becomes_zero() -> None:
    p, q, _ = _call(guard_kernel, **_one_unit(p_req=[np.nan], q_req=[np.inf]))
    assert p[0] == 0.0 and q[0] == 0.0


def test_anti_backflow_cut_keeps_the_transformer_circle() -> None:
    # Found by hypothesis: the transformer guard fills its circle with q at the requested p;
    # anti-backflow then cuts the discharge, p + aux rises, and q must give way again.
    kw = _one_unit(
        p_req=[-0.1],
        q_req=[50.0],
        p_prev=[-0.1],
        p_aux_kw=[1.0],
        trafo_kva=[100.0],
        net_load_kw=[0.0],
        margin_kw=[1.0],
        s_max_kva=[100.0],
    )
    kw["trafo_frac"] = 0.5
    for fn in (guard_kernel, guard_reference):
        p, q, c = _call(fn, **kw)
        assert abs(p[0]) < 1e-12  # the whole discharge is cut (to rounding)
        assert np.hypot(p[0] + 1.0, q[0]) <= 50.0 + 1e-9
        assert c[3] == 2 and c[4] == 1  # the circle was enforced before and after the cut
