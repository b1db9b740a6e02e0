"""TimeSeriesPowerFlow against pandapower's runpp: the park and pandapower's example nets."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
from hypothesis import given, settings

from grid import PowerFlowError, TimeSeriesPowerFlow, UnsupportedNetError
from grid.network import build_net
from grid.site import default_site
from parktwin.errors import InputError, SolverError
from tests.grid.runpp_compare import assert_matches_runpp
from tests.grid.strategies import operating_points


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _example(name: str):
    return _quiet(getattr(pn, name))


# Example nets that hold only supported elements (checked by test_examples_are_supported).
SUPPORTED_EXAMPLES = [
    "mv_oberrhein",  # 2 ext_grids, open line switches (rings), tap positions, PV sgens
    "create_cigre_network_lv",  # bus-bus switches, 3 trafos
    "simple_mv_open_ring_net",
    "panda_four_load_branch",
    "four_loads_with_branches_out",
    "simple_four_bus_system",
    "create_synthetic_voltage_control_lv_network",
]


def _inputs(net, load_f, sgen_f, storage_f) -> dict[str, np.ndarray]:
    """Scale each element's nominal power by the drawn factors (base: the net's values,
    or sn_mva / 1 MW when the net's value is zero)."""
    out = {}
    for el, f in (("load", load_f), ("sgen", sgen_f), ("storage", storage_f)):
        tab = net[el]
        if len(tab) == 0:
            continue
        base = tab.p_mw.abs().to_numpy(float)
        sn = tab.sn_mva.to_numpy(float) if "sn_mva" in tab else np.full(len(tab), np.nan)
        base = np.where(base > 0, base, np.nan_to_num(sn, nan=0.5))
        out[f"{el}_p_mw"] = f * base
        out[f"{el}_q_mvar"] = f * base * (0.3 if el == "load" else 0.0)
    return out


@pytest.fixture(scope="module")
def park_net():
    net, _ = _quiet(build_net, default_site())
    return net


@pytest.fixture(scope="module")
def park_pf(park_net):
    return _quiet(TimeSeriesPowerFlow, park_net)


@settings(max_examples=15)
@given(data=operating_points(n_load=27, n_sgen=27, n_storage=19, steps=2))
def test_park_matches_runpp(park_net, park_pf, data) -> None:
    load_f, sgen_f, storage_f = data
    site = default_site()
    peak = np.array([e.peak_kw for e in site.enterprises]) / 1000.0
    pv = np.array([e.pv_kwp for e in site.enterprises]) / 1000.0
    pcs = park_net.storage.sn_mva.to_numpy()
    inputs = {
        "load_p_mw": load_f * peak,
        "load_q_mvar": load_f * peak * 0.33,
        "sgen_p_mw": sgen_f * pv,
        "storage_p_mw": storage_f * pcs,
        "storage_q_mvar": storage_f[:, ::-1] * pcs * 0.3,
    }
    res = park_pf.run(**inputs)
    assert_matches_runpp(park_net, res, inputs)


@pytest.mark.parametrize("name", SUPPORTED_EXAMPLES)
def test_examples_are_supported(name) -> None:
    net = _example(name)
    pf = _quiet(TimeSeriesPowerFlow, net)
    res = pf.run()  # the net's own values
    assert_matches_runpp(net, res, {"load_p_mw": net.load.p_mw.to_numpy()[None]})


@pytest.mark.parametrize("name", SUPPORTED_EXAMPLES)
@settings(max_examples=4)
@given(data=operating_points(n_load=1, n_sgen=1, n_storage=1, steps=2))
def test_examples_match_runpp(name, data) -> None:
    net = _example(name)
    pf = _quiet(TimeSeriesPowerFlow, net)
    rng = np.random.default_rng(int(data[0][0, 0] * 1e6))
    steps = 2
    load_f = rng.uniform(0.0, 1.3, (steps, len(net.load)))
    sgen_f = rng.uniform(0.0, 1.0, (steps, len(net.sgen)))
    storage_f = rng.uniform(-1.0, 1.0, (steps, len(net.storage)))
    inputs = _inputs(net, load_f, sgen_f, storage_f)
    res = pf.run(**inputs)
    assert_matches_runpp(net, res, inputs)


def test_out_of_service_elements_scaling_and_base_follow_pandapower() -> None:
    net = _example("mv_oberrhein")
    net.load.loc[net.load.index[:10], "in_service"] = False
    net.sgen.loc[net.sgen.index[:5], "scaling"] = 0.5
    net.line.loc[net.line.index[3], "in_service"] = False
    net.load["scaling"] = 0.8
    net.sn_mva = 10.0  # p.u. base other than 1 MVA
    pf = _quiet(TimeSeriesPowerFlow, net)
    rng = np.random.default_rng(7)
    inputs = _inputs(
        net, rng.uniform(0, 1.2, (2, len(net.load))), rng.uniform(0, 1, (2, len(net.sgen))), None
    )
    assert_matches_runpp(net, pf.run(**inputs), inputs)


def test_omitted_arguments_keep_the_nets_values(park_net, park_pf) -> None:
    net = copy.deepcopy(park_net)
    net.load["p_mw"] = 0.5
    net.load["q_mvar"] = 0.1
    pf = _quiet(TimeSeriesPowerFlow, net)
    given_p = np.full((1, len(net.load)), 0.5)
    a = pf.run(sgen_p_mw=np.zeros((1, len(net.sgen))))
    b = pf.run(load_p_mw=given_p, load_q_mvar=np.full((1, len(net.load)), 0.1))
    np.testing.assert_allclose(a.vm_pu, b.vm_pu, atol=1e-9)
    assert a.ext_grid_p_mw.sum() > 27 * 0.5  # the loads were really there


def test_single_step_equals_batch(park_pf) -> None:
    rng = np.random.default_rng(3)
    lp = rng.uniform(0, 3, (4, 27))
    batch = park_pf.run(load_p_mw=lp)
    for t in range(4):
        one = park_pf.solve(load_p_mw=lp[t])
        np.testing.assert_allclose(one.vm_pu, batch.vm_pu[t], atol=1e-8)
        np.testing.assert_allclose(
            one.line_loading_percent, batch.line_loading_percent[t], atol=1e-6
        )
        assert one.vm_pu.shape == (len(batch.vm_pu[t]),)


def test_refused_elements_are_named() -> None:
    net = _example("example_simple")
    pp.create_dcline(
        net, 1, 3, p_mw=1.0, loss_percent=1.0, loss_mw=0.01, vm_from_pu=1.0, vm_to_pu=1.0
    )
    with pytest.raises(UnsupportedNetError, match=r"net\.dcline: 1 element"):
        _quiet(TimeSeriesPowerFlow, net)


def test_no_slack_is_refused() -> None:
    net = _example("panda_four_load_branch")
    net.ext_grid["in_service"] = False
    with pytest.raises(UnsupportedNetError, match="ext_grid"):
        _quiet(TimeSeriesPowerFlow, net)


def test_non_convergence_raises_and_can_be_flagged(park_pf) -> None:
    lp = np.full((3, 27), 2.0)
    lp[1] = 400.0  # 10.8 GW: beyond the voltage-collapse point of any feeder
    with pytest.raises(PowerFlowError, match="step 1 did not converge") as info:
        park_pf.run(load_p_mw=lp)
    assert isinstance(info.value, SolverError)
    res = park_pf.run(load_p_mw=lp, raise_on_failure=False)
    assert res.converged.tolist() == [True, False, True]
    assert np.isnan(res.vm_pu[1]).all() and np.isfinite(res.vm_pu[[0, 2]]).all()
    # the step after the failure restarts cleanly and equals a fresh solve
    fresh = park_pf.run(load_p_mw=lp[2:])
    np.testing.assert_allclose(res.vm_pu[2], fresh.vm_pu[0], atol=1e-8)


def test_bad_shapes_and_values_are_input_errors(park_pf) -> None:
    with pytest.raises(InputError, match=r"load_p_mw: expected shape \(steps, 27\)"):
        park_pf.run(load_p_mw=np.zeros((2, 5)))
    with pytest.raises(InputError, match="sgen_p_mw: 3 steps, other arguments have 2"):
        park_pf.run(load_p_mw=np.zeros((2, 27)), sgen_p_mw=np.zeros((3, 27)))
    with pytest.raises(InputError, match="NaN"):
        park_pf.run(load_p_mw=np.full((1, 27), np.nan))


def test_input_net_is_not_modified() -> None:
    net = _example("simple_four_bus_system")
    before = pp.to_json(net)
    _quiet(TimeSeriesPowerFlow, net).run(load_p_mw=1.5 * net.load.p_mw.to_numpy()[None])
    assert pp.to_json(net) == before
