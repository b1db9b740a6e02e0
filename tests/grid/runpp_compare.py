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


def assert_matches_runpp(net, res: PowerFlowResult, inputs: dict[str, np.ndarray]) -> None:
    """Run runpp on a copy of `net` for every step of `inputs` and compare with `res`."""
    net = copy.deepcopy(net)
    steps = next(iter(inputs.values())).shape[0]
    for t in range(steps):
        for arg, x in inputs.items():
            el, col = arg.split("_", 1)
            net[el][col] = x[t]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net)
        r = res.step(t)
        assert bool(r.converged)
        ok = net.res_bus.vm_pu.notna().to_numpy()
        np.testing.assert_array_equal(np.isnan(r.vm_pu), ~ok)
        assert np.max(np.abs(r.vm_pu[ok] - net.res_bus.vm_pu.to_numpy()[ok]), initial=0) < TOL_VM_PU
        dva = _wrap_deg(r.va_degree[ok] - net.res_bus.va_degree.to_numpy()[ok])
        assert np.max(np.abs(dva), initial=0) < TOL_VA_DEG
        if len(net.line):
            ref = net.res_line.loading_percent.to_numpy()
            d = np.abs(np.nan_to_num(r.line_loading_percent) - np.nan_to_num(ref))
            assert d.max() < TOL_LOADING_PP, f"line {np.argmax(d)}: {d.max()}"
            assert (
                np.max(np.abs(np.nan_to_num(r.line_p_from_mw) - net.res_line.p_from_mw.fillna(0)))
                < 1e-6
            )
            assert (
                np.max(np.abs(np.nan_to_num(r.line_p_to_mw) - net.res_line.p_to_mw.fillna(0)))
                < 1e-6
            )
        if len(net.trafo):
            ref = net.res_trafo.loading_percent.to_numpy()
            d = np.abs(np.nan_to_num(r.trafo_loading_percent) - np.nan_to_num(ref))
            assert d.max() < TOL_LOADING_PP, f"trafo {np.argmax(d)}: {d.max()}"
        assert np.max(np.abs(r.ext_grid_p_mw - net.res_ext_grid.p_mw.to_numpy())) < TOL_EXT_GRID_MW
        assert (
            np.max(np.abs(r.ext_grid_q_mvar - net.res_ext_grid.q_mvar.to_numpy())) < TOL_EXT_GRID_MW
        )
        pp_losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
        assert abs(float(r.losses_mw) - pp_losses) < 1e-6
