"""The Newton-Raphson kernels (`grid.newton`) and the general fast path against runpp:
block LU against a dense solve, the Jacobian against finite differences, pandapower's
example nets with every element, and random nets drawn by Hypothesis."""

from __future__ import annotations

import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from grid import TimeSeriesPowerFlow, newton
from tests.grid.runpp_compare import assert_matches_runpp
from tests.grid.strategies import random_nets


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@settings(max_examples=25)
@given(n=st.integers(2, 30), seed=st.integers(0, 2**32 - 1))
def test_block_lu_equals_dense_solve(n, seed) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(1, n):  # a tree plus a few chords: a grid's pattern
        j = int(rng.integers(0, i))
        rows += [i, j]
        cols += [j, i]
    for _ in range(n // 4):
        i, j = rng.integers(0, n, 2)
        rows += [i, j]
        cols += [j, i]
    pat = sp.csr_matrix((np.ones(len(rows) + n), (rows + list(range(n)), cols + list(range(n)))))
    pat.sum_duplicates()
    pat.sort_indices()
    f_ptr, f_idx = newton.symbolic(n, pat.indptr.astype(np.int64), pat.indices.astype(np.int64))
    keys = np.repeat(np.arange(n), np.diff(f_ptr)) * n + f_idx
    f_diag = np.searchsorted(keys, np.arange(n) * (n + 1))
    dense = np.zeros((2 * n, 2 * n))
    f_val = np.zeros((len(f_idx), 4))
    for i in range(n):
        for k in range(pat.indptr[i], pat.indptr[i + 1]):
            j = pat.indices[k]
            blk = rng.normal(size=4) + (np.array([8.0, 0, 0, 8.0]) * n if i == j else 0)
            f_val[np.searchsorted(keys, i * n + j)] = blk
            dense[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = blk.reshape(2, 2)
    b = rng.normal(size=(n, 2))
    x = b.copy()
    assert newton.factor(f_ptr, f_idx, f_diag, f_val, np.zeros((n, 4)), np.zeros((n, 4)))
    dinv = np.zeros((n, 4))
    f_val2 = np.zeros_like(f_val)
    for i in range(n):
        for k in range(pat.indptr[i], pat.indptr[i + 1]):
            j = pat.indices[k]
            f_val2[np.searchsorted(keys, i * n + j)] = dense[
                2 * i : 2 * i + 2, 2 * j : 2 * j + 2
            ].ravel()
    newton.factor(f_ptr, f_idx, f_diag, f_val2, dinv, np.zeros((n, 4)))
    newton.block_solve(f_ptr, f_idx, f_diag, f_val2, dinv, x)
    np.testing.assert_allclose(x.ravel(), np.linalg.solve(dense, b.ravel()), rtol=1e-9, atol=1e-10)


def _system(pf, v):
    values, _ = pf._values({})
    d = pf._demand(values, 1)[0]
    gp = pf._gen_p(None)[0]
    s_gen = np.zeros(pf._n, complex)
    np.add.at(s_gen, pf._gen_bus[pf._gen_on], gp[pf._gen_on])
    return d, s_gen


@pytest.mark.parametrize("name", ["case9", "example_multivoltage"])
def test_jacobian_equals_finite_differences(name) -> None:
    net = _quiet(getattr(pn, name))
    if name == "case9":  # voltage-dependent shares on every load
        net.load["const_z_p_percent"] = 30.0
        net.load["const_i_q_percent"] = 40.0
    pf = _quiet(TimeSeriesPowerFlow, net)
    n, y = pf._n, pf._sys
    rng = np.random.default_rng(1)
    va = np.angle(pf._start[0]) + 0.01 * rng.normal(size=n)
    vm = np.abs(pf._start[0]) * (1 + 0.01 * rng.normal(size=n))
    d, s_gen = _system(pf, vm * np.exp(1j * va))

    def f_of(a, m):
        f = np.zeros((n, 2))
        newton.mismatch(
            y[0],
            y[1],
            y[2],
            m * np.exp(1j * a),
            m,
            s_gen,
            d,
            pf._cvd,
            pf._btype,
            np.zeros(n, complex),
            f,
        )
        return f.ravel()

    f_val = np.zeros_like(y[7])
    newton.jacobian(y[0], y[1], y[2], y[3], vm * np.exp(1j * va), vm, d, pf._cvd, pf._btype, f_val)
    jac = np.zeros((2 * n, 2 * n))
    for i in range(n):
        for k in range(y[4][i], y[4][i + 1]):
            j = y[5][k]
            jac[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = f_val[k].reshape(2, 2)
    h = 1e-7
    num = np.zeros_like(jac)
    for j in range(n):
        a, m = va.copy(), vm.copy()
        a[j] += h
        num[:, 2 * j] = (f_of(a, vm) - f_of(va, vm)) / h
        m[j] += h
        num[:, 2 * j + 1] = (f_of(va, m) - f_of(va, vm)) / h
    eq = np.array(
        [(t != newton.REF) if c == 0 else (t == newton.PQ) for t in pf._btype for c in (0, 1)]
    )
    scale = np.abs(num).max()
    np.testing.assert_allclose(jac[np.ix_(eq, eq)], num[np.ix_(eq, eq)], atol=1e-5 * scale)


#: pandapower example nets with the elements the fast path gained: gens (PV with reactive
#: limits), shunts, trafo3w, impedance, xward, every switch kind, MATPOWER cases.
EXAMPLES = [
    "example_multivoltage",
    "example_simple",
    "create_cigre_network_mv",
    "case9",
    "case14",
    "case30",
    "case57",
    "case118",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_nets_match_runpp(name) -> None:
    net = _quiet(getattr(pn, name))
    pf = _quiet(TimeSeriesPowerFlow, net)
    rng = np.random.default_rng(5)
    steps = 3
    inputs = {"load_p_mw": net.load.p_mw.to_numpy() * rng.uniform(0.6, 1.1, (steps, len(net.load)))}
    if len(net.sgen):
        inputs["sgen_p_mw"] = net.sgen.p_mw.to_numpy() * rng.uniform(0, 1, (steps, len(net.sgen)))
    if len(net.gen):
        inputs["gen_p_mw"] = net.gen.p_mw.to_numpy() * rng.uniform(0.8, 1.0, (steps, len(net.gen)))
    assert_matches_runpp(net, pf.run(**inputs), inputs)


def test_cigre_mv_with_switches_open_and_closed_matches_runpp() -> None:
    net = _quiet(pn.create_cigre_network_mv, with_der="pv_wind")
    net.switch.loc[net.switch.index[net.switch.et == "l"][0], "closed"] = True  # one ring closed
    t_sw = pp.create_switch(net, net.trafo.hv_bus.iloc[1], net.trafo.index[1], et="t", closed=False)
    pf = _quiet(TimeSeriesPowerFlow, net)
    inputs = {"sgen_p_mw": net.sgen.p_mw.to_numpy()[None] * np.array([[0.2], [1.0]])}
    assert_matches_runpp(net, pf.run(**inputs), inputs)
    net.switch.loc[t_sw, "closed"] = True
    pf = _quiet(TimeSeriesPowerFlow, net)
    assert_matches_runpp(net, pf.run(**inputs), inputs)


def test_reactive_limits_bind_as_in_runpp() -> None:
    net = _quiet(pn.case14)
    net.gen["max_q_mvar"] = net.gen.max_q_mvar.clip(upper=5.0)
    net.gen["min_q_mvar"] = net.gen.min_q_mvar.clip(lower=-2.0)
    pf = _quiet(TimeSeriesPowerFlow, net)
    loads = net.load.p_mw.to_numpy() * np.array([[0.5], [1.0], [1.3]])
    res = pf.run(load_p_mw=loads)
    assert_matches_runpp(net, res, {"load_p_mw": loads})
    assert np.isclose(res.gen_q_mvar, 5.0).any()  # a limit really bound
    free = _quiet(TimeSeriesPowerFlow, net, enforce_q_lims=False).run(load_p_mw=loads)
    assert_matches_runpp(net, free, {"load_p_mw": loads}, enforce_q_lims=False)
    assert (free.gen_q_mvar > 5.0 + 1e-3).any()


def test_voltage_dependent_loads_shunt_steps_wards_and_out_of_service_match_runpp() -> None:
    net = _quiet(pn.example_simple)
    net.load["const_z_p_percent"] = 40.0
    net.load["const_i_q_percent"] = 30.0
    pp.create_shunt(net, 6, q_mvar=-0.4, p_mw=0.0, step=2, max_step=3)
    pp.create_shunt(net, 5, q_mvar=1.0, in_service=False)
    pp.create_ward(net, 4, ps_mw=0.3, qs_mvar=0.1, pz_mw=0.05, qz_mvar=-0.02)
    pp.create_xward(
        net, 6, ps_mw=0.2, qs_mvar=0.0, pz_mw=0.0, qz_mvar=0.0, r_ohm=0.5, x_ohm=2.0, vm_pu=1.01
    )
    pp.create_gen(net, 5, p_mw=0.5, vm_pu=1.0, in_service=False)
    pp.create_impedance(net, 3, 4, rft_pu=0.01, xft_pu=0.05, sn_mva=10.0)
    pf = _quiet(TimeSeriesPowerFlow, net)
    inputs = {"load_p_mw": net.load.p_mw.to_numpy()[None] * np.array([[0.3], [1.2]])}
    assert_matches_runpp(net, pf.run(**inputs), inputs)


def test_de_energised_branches_are_nan_as_in_runpp() -> None:
    net = _quiet(pn.example_multivoltage)
    net.trafo3w.loc[net.trafo3w.index[0], "in_service"] = False  # cuts off 21 buses
    pf = _quiet(TimeSeriesPowerFlow, net)
    res = pf.run()
    assert np.isnan(res.line_loading_percent).any()
    assert_matches_runpp(net, res, {"load_p_mw": net.load.p_mw.to_numpy()[None]})


@settings(max_examples=12)
@given(case=random_nets())
def test_random_nets_match_runpp(case) -> None:
    net, inputs = case
    pf = _quiet(TimeSeriesPowerFlow, net)
    assert_matches_runpp(net, pf.run(**inputs), inputs)
