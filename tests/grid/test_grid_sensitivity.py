"""`ParkGrid.probe` sensitivities against pandapower's own `runpp` (central differences)."""

from __future__ import annotations

import warnings

import numpy as np
import pandapower as pp

from grid import ParkGrid, default_site

SITE = default_site()
H_KW = 20.0  # central-difference step: its error (~h^2) is far below the tolerance


def _runpp(net, load, pv, st, tan_phi):
    net.load["p_mw"] = load / 1000
    net.load["q_mvar"] = load / 1000 * tan_phi
    net.sgen["p_mw"] = pv / 1000
    net.storage["p_mw"] = st / 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, tolerance_mva=1e-11)
    return (
        net.res_bus.vm_pu.to_numpy().copy(),
        net.res_line.loading_percent.to_numpy().copy(),
        net.res_trafo.loading_percent.to_numpy().copy(),
    )


def test_sensitivities_equal_runpp_central_differences(park: ParkGrid) -> None:
    rng = np.random.default_rng(7)
    peak = np.array([e.peak_kw for e in SITE.enterprises])
    load = peak * rng.uniform(0.4, 0.9, peak.size)
    pv = np.zeros_like(load)
    st = rng.uniform(-300.0, 300.0, park.n_units)
    snap, sens = park.probe(load, pv, st, sensitivity=True)
    assert sens is not None
    net = park.pandapower_net()
    tan_phi = np.tan(np.arccos([e.power_factor for e in SITE.enterprises]))
    vm0, line0, trafo0 = _runpp(net, load, pv, st, tan_phi)
    # the probe is the same solve as runpp's
    np.testing.assert_allclose(snap.vm_pu, vm0, atol=1e-6)
    np.testing.assert_allclose(snap.line_loading_pct, line0, atol=1e-4)
    np.testing.assert_allclose(snap.trafo_loading_pct, trafo0, atol=1e-4)
    for u in (0, park.n_units // 2, park.n_units - 1):
        dp = np.zeros(park.n_units)
        dp[u] = H_KW
        hi = _runpp(net, load, pv, st + dp, tan_phi)
        lo = _runpp(net, load, pv, st - dp, tan_phi)
        for k, got in enumerate(
            (sens.vm_pu_per_kw, sens.line_loading_pct_per_kw, sens.trafo_loading_pct_per_kw)
        ):
            fd = (hi[k] - lo[k]) / (2 * H_KW)
            scale = np.max(np.abs(fd))
            assert scale > 0, "the unit moves nothing: the test would be vacuous"
            np.testing.assert_allclose(got[:, u], fd, rtol=0, atol=1e-3 * scale)


def test_probe_leaves_the_warm_start_of_solve_alone(park: ParkGrid) -> None:
    peak = np.array([e.peak_kw for e in SITE.enterprises])
    park.solve(peak * 0.5, peak * 0, np.zeros(park.n_units))
    before = park._pf._v_last.copy()
    park.probe(peak * 0.9, peak * 0, np.full(park.n_units, 500.0), sensitivity=True)
    np.testing.assert_array_equal(park._pf._v_last, before)
