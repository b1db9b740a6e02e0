"""numba kernels of grid/ against their plain-Python references (grid.reference)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from grid import TimeSeriesPowerFlow, kernels, reference
from grid.network import build_net
from grid.powerflow import _csr
from grid.site import default_site
from tests.grid.strategies import operating_points


def _factor(a: sp.csc_matrix):
    from scipy.sparse.linalg import splu

    lu = splu(a.tocsc(), permc_spec="MMD_AT_PLUS_A")  # with pivoting: general perm_r
    return (
        *_csr(sp.tril(lu.L, k=-1)),
        *_csr(sp.triu(lu.U, k=1)),
        1.0 / lu.U.diagonal().astype(np.complex128),
        lu.perm_r.astype(np.int64),
        lu.perm_c.astype(np.int64),
    )


@st.composite
def admittance_like(draw):
    """A random connected, diagonally dominant complex sparse matrix (a grid's Ypp shape)."""
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for i in range(1, n):  # a random tree plus a few extra branches
        j = int(rng.integers(0, i))
        y = complex(rng.uniform(1, 50), -rng.uniform(1, 100))
        rows += [i, j]
        cols += [j, i]
        vals += [-y, -y]
    a = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    diag = -np.asarray(a.sum(axis=1)).ravel() + complex(rng.uniform(0.5, 5), -rng.uniform(1, 10))
    return (a + sp.diags(diag)).tocsc(), rng


@settings(max_examples=30)
@given(case=admittance_like())
def test_lu_solve_equals_dense_solve(case) -> None:
    a, rng = case
    n = a.shape[0]
    b = rng.normal(size=n) + 1j * rng.normal(size=n)
    x = np.empty(n, complex)
    kernels.lu_solve(*_factor(a), b, np.empty(n, complex), x)
    np.testing.assert_allclose(
        x, reference.lu_solve_reference(a.toarray(), b), rtol=1e-10, atol=1e-12
    )


@settings(max_examples=30)
@given(case=admittance_like(), load=st.floats(0.0, 0.2))
def test_zbus_solve_equals_reference(case, load) -> None:
    a, rng = case
    n = a.shape[0]
    w = np.ones(n, complex)
    s = -load * (rng.uniform(0, 1, n) + 0.3j * rng.uniform(0, 1, n))  # consumption
    v = w.copy()
    it, mism = kernels.zbus_solve(_factor(a), *_csr(a), w, s, v, 1e-12, 1e-11, 200)
    v_ref, it_ref = reference.zbus_solve_reference(a.toarray(), w, s, w, 1e-12, 1e-11, 200)
    assert (it > 0) == (it_ref > 0)
    if it > 0:
        np.testing.assert_allclose(v, v_ref, atol=1e-10)
        assert mism < 1e-11
        assert reference.power_mismatch_reference(a.toarray(), v, w, s) < 1e-10


@pytest.fixture(scope="module")
def pf() -> TimeSeriesPowerFlow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net, _ = build_net(default_site())
        return TimeSeriesPowerFlow(net)


def _results_kwargs(pf: TimeSeriesPowerFlow) -> dict:
    """`reference.results_reference`'s net arguments, from the solver's extracted net."""
    return {
        "bus_ppci": pf._bus_ppci,
        "yf": pf._yf,
        "yt": pf._yt,
        "ybus": pf._ybus,
        "br_f": pf._f,
        "br_t": pf._t,
        "kv_f": pf._kv_f,
        "kv_t": pf._kv_t,
        "br_is": pf._br_is,
        "line_rows": pf._line_rows,
        "line_imax": pf._line_imax,
        "trafo_rows": pf._trafo_rows,
        "trafo_vn": pf._trafo_vn,
        "trafo_sn": pf._trafo_sn,
        "trafo_div": pf._trafo_div,
        "trafo_by_current": pf._trafo_loading == "current",
        "eg_bus": pf._eg_bus,
        "base_mva": pf._base_mva,
    }


def test_add_demand_skips_inactive_elements() -> None:
    d = np.zeros((2, 3), complex)
    p = np.array([[1.0, 2.0], [3.0, 4.0]])
    q = np.array([[0.5, 0.5], [0.0, 1.0]])
    kernels.add_demand(d, p, q, np.array([2, -1], dtype=np.int64), np.array([0.1, 0.1]))
    np.testing.assert_allclose(d, [[0, 0, 0.1 + 0.05j], [0, 0, 0.3]])


SITE = default_site()
N_UNITS = sum(g.count for g in SITE.storage)


@settings(max_examples=10, deadline=None)
@given(data=operating_points(n_load=27, n_sgen=27, n_storage=N_UNITS, steps=1))
def test_park_step_kernel_equals_numpy_reference(park, data) -> None:
    """`ParkGrid.solve`'s one kernel (demand, fixed point, snapshot) against numpy."""
    load_f, pv_f, st_f = data
    peak = np.array([e.peak_kw for e in SITE.enterprises])
    pv_kwp = np.array([e.pv_kwp for e in SITE.enterprises])
    pcs = np.concatenate([[g.pcs_kva] * g.count for g in SITE.storage])
    load, pv, sto = load_f[0] * peak, pv_f[0] * pv_kwp, st_f[0] * pcs
    kvar = -0.3 * sto
    pf = park._pf
    v0 = pf._v0.copy()
    v_kernel = v0.copy()
    bad, it, _, block = kernels.park_step(*park._packed, load, pv, sto, kvar, v_kernel)
    ref = reference.park_step_reference(
        load,
        pv,
        sto,
        kvar,
        tan_phi=park._tan_phi,
        inj=pf._inj,
        n=pf._n,
        pq=pf._pq,
        ref=pf._ref,
        v_ref=pf._v_ref,
        ypp=pf._ybus[pf._pq][:, pf._pq].toarray(),
        w=pf._w,
        v0=v0,
        tol_v=pf.tol_v,
        tol_s=pf.tol_s,
        max_iter=pf.max_iter,
        pcc_line=park._service,
        checked_bus=np.flatnonzero(park.checked_bus),
        unit_trafo=park.unit_trafo,
        results=_results_kwargs(pf),
    )
    assert bad == -1 and it > 0 and ref is not None
    np.testing.assert_allclose(v_kernel, ref.pop("v_pq"), atol=1e-12)  # the warm start
    c = park._cuts
    arrays = ["pcc_kw", "pcc_kvar", "vm_pu", "line_loading_pct", "trafo_loading_pct"]
    arrays.append("unit_trafo_loading_pct")
    got = {name: block[c[k] : c[k + 1]] for k, name in enumerate(arrays)}
    scalars = ["v_min_pu", "v_max_pu", "ext_grid_kw", "ext_grid_kvar", "losses_kw"]
    got.update(zip(scalars, block[c[-1] :], strict=True))
    assert got.keys() == ref.keys()
    for name, y in ref.items():
        # kW from p.u. voltages equal to 1e-12: agree to 1e-6 kW (1 mW)
        np.testing.assert_allclose(got[name], y, rtol=1e-10, atol=1e-6, err_msg=name)


def test_park_step_names_the_first_non_finite_input(park) -> None:
    ok = [np.zeros(27), np.zeros(27), np.zeros(N_UNITS), np.zeros(N_UNITS)]
    v = park._pf._v0.copy()
    for k in range(4):
        args = [a.copy() for a in ok]
        args[k][-1] = np.nan
        bad, it, _, _ = kernels.park_step(*park._packed, *args, v)
        assert (bad, it) == (k, -1)
    np.testing.assert_array_equal(v, park._pf._v0)  # nothing solved, warm start untouched
