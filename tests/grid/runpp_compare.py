"""Compare `TimeSeriesPowerFlow` results with pandapower's own `runpp`, step by step."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp

from grid.powerflow import PowerFlowResult

# The acceptance tolerances (never loosened to make a test pass).
TOL_VM_PU = 1e-6
TOL_VA_DEG = 1e-4
TOL_LOADING_PP = 1e-4
TOL_EXT_GRID_MW = 1e-6


def _wrap_deg(d: np.ndarray) -> np.ndarray:
    return (d + 180.0) % 360.0 - 180.0


def _close_with_nans(got: np.ndarray, ref, tol: float, what: str) -> None:
    """Equal NaN pattern (a de-energised element) and |difference| < tol elsewhere."""
    ref = np.asarray(ref, dtype=float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{what}: NaN pattern")
    ok = ~np.isnan(ref)
    d = np.abs(got[ok] - ref[ok])
    assert d.max(initial=0) < tol, f"{what} {np.flatnonzero(ok)[np.argmax(d)]}: {d.max()}"


def assert_matches_runpp(
    net, res: PowerFlowResult, inputs: dict[str, np.ndarray], *, enforce_q_lims: bool = True
) -> None:
    """Run runpp (tightened: tolerance_mva 1e-10) on a copy of `net` for every step of
    `inputs` and compare with `res`: voltages, branch results with runpp's NaNs, powers."""
    net = copy.deepcopy(net)
    steps = next(iter(inputs.values())).shape[0]
    for t in range(steps):
        for arg, x in inputs.items():
            el, col = arg.split("_", 1)
            net[el][col] = x[t]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net, enforce_q_lims=enforce_q_lims, tolerance_mva=1e-10, max_iteration=50)
        r = res.step(t)
        assert bool(r.converged)
        _close_with_nans(r.vm_pu, net.res_bus.vm_pu, TOL_VM_PU, "bus vm_pu")
        ok = net.res_bus.vm_pu.notna().to_numpy()
        dva = _wrap_deg(r.va_degree[ok] - net.res_bus.va_degree.to_numpy()[ok])
        assert np.max(np.abs(dva), initial=0) < TOL_VA_DEG
        if len(net.line):
            _close_with_nans(
                r.line_loading_percent, net.res_line.loading_percent, TOL_LOADING_PP, "line"
            )
            _close_with_nans(r.line_p_from_mw, net.res_line.p_from_mw, 1e-6, "line p_from")
            _close_with_nans(r.line_p_to_mw, net.res_line.p_to_mw, 1e-6, "line p_to")
        if len(net.trafo):
            _close_with_nans(
                r.trafo_loading_percent, net.res_trafo.loading_percent, TOL_LOADING_PP, "trafo"
            )
        if len(net.trafo3w):
            _close_with_nans(
                r.trafo3w_loading_percent,
                net.res_trafo3w.loading_percent,
                TOL_LOADING_PP,
                "trafo3w",
            )
        _close_with_nans(r.ext_grid_p_mw, net.res_ext_grid.p_mw, TOL_EXT_GRID_MW, "ext_grid p")
        _close_with_nans(r.ext_grid_q_mvar, net.res_ext_grid.q_mvar, TOL_EXT_GRID_MW, "ext_grid q")
        if len(net.gen):
            _close_with_nans(r.gen_q_mvar, net.res_gen.q_mvar, TOL_EXT_GRID_MW, "gen q")
        pp_losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
        pp_losses += net.res_trafo3w.pl_mw.sum() + net.res_impedance.pl_mw.sum()
        if not len(net.xward) and not (len(net.switch) and (net.switch.z_ohm > 0).any()):
            assert abs(float(r.losses_mw) - pp_losses) < 1e-6
