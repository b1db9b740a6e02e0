"""Discrete tap control in the fast path (`grid.taps`) against pandapower's own
`DiscreteTapControl` run in `run_timeseries`: the same tap positions step for step and
voltages within runpp's tolerance; the delay and step limit against a plain-Python loop
around runpp (`grid.reference.tap_series_reference`)."""

from __future__ import annotations

import copy
import itertools
import warnings

import numpy as np
import pandapower as pp
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from pandapower.control import ConstControl, DiscreteTapControl
from pandapower.timeseries import DFData, OutputWriter, run_timeseries

from grid import TimeSeriesPowerFlow
from grid.errors import PowerFlowError, UnsupportedNetError
from grid.reference import tap_series_reference
from grid.taps import TapControl, tap_controls_of
from tests.grid.runpp_compare import TOL_LOADING_PP, TOL_VM_PU
from tests.grid.strategies import random_nets

STEPS = 48


def _feeder_net() -> pp.pandapowerNet:
    """110 kV grid, a 110/20 kV OLTC (tap on the HV side) feeding a 20 kV feeder with loads
    and PV, and a 20/0.4 kV transformer with its tap on the LV side feeding a LV load."""
    net = pp.create_empty_network(sn_mva=1.0)
    hv = pp.create_bus(net, 110.0)
    pp.create_ext_grid(net, hv, vm_pu=1.01)
    mv = [pp.create_bus(net, 20.0) for _ in range(5)]
    pp.create_transformer_from_parameters(
        net, hv, mv[0], sn_mva=16.0, vn_hv_kv=110.0, vn_lv_kv=20.0, vkr_percent=0.4,
        vk_percent=12.0, pfe_kw=20.0, i0_percent=0.05, tap_side="hv", tap_neutral=0,
        tap_min=-9, tap_max=9, tap_step_percent=1.5, tap_pos=0, tap_changer_type="Ratio",
    )  # fmt: skip
    for a, b in itertools.pairwise(mv):
        pp.create_line_from_parameters(
            net, a, b, length_km=4.0, r_ohm_per_km=0.16, x_ohm_per_km=0.12,
            c_nf_per_km=250.0, max_i_ka=0.4,
        )  # fmt: skip
    for b in mv[1:]:
        pp.create_load(net, b, p_mw=3.0, q_mvar=1.5)
        pp.create_sgen(net, b, p_mw=2.0)
    lv = pp.create_bus(net, 0.4)
    pp.create_transformer_from_parameters(
        net, mv[4], lv, sn_mva=0.63, vn_hv_kv=20.0, vn_lv_kv=0.4, vkr_percent=1.0,
        vk_percent=6.0, pfe_kw=1.0, i0_percent=0.2, tap_side="lv", tap_neutral=0,
        tap_min=-2, tap_max=2, tap_step_percent=2.5, tap_pos=0, tap_changer_type="Ratio",
    )  # fmt: skip
    pp.create_load(net, lv, p_mw=0.4, q_mvar=0.1)
    return net


def _profiles(net, steps: int = STEPS) -> dict[str, np.ndarray]:
    """Load from 10 % to 150 % and PV from 0 to 120 %: the voltages cross the bands; the
    second half in a shuffled order (jumps that move a tap by several positions)."""
    x = np.linspace(0.0, 2.0 * np.pi, steps)
    rng = np.random.default_rng(7)
    x[steps // 2 :] = rng.permutation(x[steps // 2 :])
    load = (0.8 + 0.7 * np.sin(x))[:, None] * rng.uniform(0.9, 1.1, (steps, len(net.load)))
    pv = np.clip(1.2 * np.sin(x + 2.0), 0, None)[:, None] * np.ones((steps, len(net.sgen)))
    return {
        "load_p_mw": load * net.load.p_mw.to_numpy(),
        "load_q_mvar": load * net.load.q_mvar.to_numpy(),
        "sgen_p_mw": pv * net.sgen.p_mw.to_numpy(),
    }


def _pandapower_series(net, inputs: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """run_timeseries with ConstControls for `inputs` and the net's own controllers."""
    net = copy.deepcopy(net)
    steps = next(iter(inputs.values())).shape[0]
    frames, cols = [], []
    for arg, x in inputs.items():
        cols += [f"{arg}_{j}" for j in range(x.shape[1])]
        frames.append(x)
    ds = DFData(pd.DataFrame(np.hstack(frames), columns=cols))
    for arg, x in inputs.items():
        el, var = arg.split("_", 1)
        ConstControl(
            net, element=el, variable=var, element_index=net[el].index, data_source=ds,
            profile_name=[f"{arg}_{j}" for j in range(x.shape[1])],
        )  # fmt: skip
    ow = OutputWriter(net, time_steps=range(steps), output_path=None)
    for table, var in (
        ("res_bus", "vm_pu"),
        ("trafo", "tap_pos"),
        ("res_trafo", "loading_percent"),
    ):
        ow.log_variable(table, var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_timeseries(net, time_steps=range(steps), verbose=False, tolerance_mva=1e-10)
    return ow.output


def _assert_parity(net, controls, inputs) -> np.ndarray:
    out = _pandapower_series(net, inputs)
    pf = TimeSeriesPowerFlow(net, tap_control=controls)
    res = pf.run(**inputs)
    trafos = [c.trafo for c in controls]
    want = out["trafo.tap_pos"][trafos].to_numpy()
    np.testing.assert_array_equal(res.tap_pos, want)
    assert np.abs(res.vm_pu - out["res_bus.vm_pu"].to_numpy()).max() < TOL_VM_PU
    d = np.abs(res.trafo_loading_percent - out["res_trafo.loading_percent"].to_numpy())
    assert d.max() < TOL_LOADING_PP
    return res.tap_pos


def test_same_taps_as_pandapower_discrete_tap_control() -> None:
    net = _feeder_net()
    DiscreteTapControl(net, 0, vm_lower_pu=0.99, vm_upper_pu=1.01, side="lv")
    DiscreteTapControl(net, 1, vm_lower_pu=0.97, vm_upper_pu=1.02, side="lv")
    controls = tap_controls_of(net)
    assert [c.trafo for c in controls] == [0, 1]
    taps = _assert_parity(net, controls, _profiles(net))
    # the profiles move both taps both ways, the 20 kV one by several positions in a step
    for c in range(2):
        assert (np.diff(taps[:, c]) > 0).any() and (np.diff(taps[:, c]) < 0).any()
    assert np.abs(np.diff(taps[:, 0])).max() >= 2


def test_set_point_mode_and_hv_side_as_pandapower() -> None:
    """``from_tap_step_percent`` (band from the step and `tol`), and a controller of the HV
    side of a step-up transformer (the grid on its LV side)."""
    net = pp.create_empty_network(sn_mva=1.0)
    lv = pp.create_bus(net, 10.0)
    pp.create_ext_grid(net, lv, vm_pu=1.0)
    hv = [pp.create_bus(net, 35.0) for _ in range(3)]
    pp.create_transformer_from_parameters(
        net, hv[0], lv, sn_mva=20.0, vn_hv_kv=35.0, vn_lv_kv=10.0, vkr_percent=0.5,
        vk_percent=8.0, pfe_kw=10.0, i0_percent=0.1, tap_side="hv", tap_neutral=0,
        tap_min=-8, tap_max=8, tap_step_percent=1.25, tap_pos=0, tap_changer_type="Ratio",
    )  # fmt: skip
    for a, b in itertools.pairwise(hv):
        pp.create_line_from_parameters(
            net, a, b, length_km=8.0, r_ohm_per_km=0.2, x_ohm_per_km=0.35, c_nf_per_km=10.0,
            max_i_ka=0.5,
        )  # fmt: skip
    for b in hv[1:]:
        pp.create_load(net, b, p_mw=6.0, q_mvar=2.0)
        pp.create_sgen(net, b, p_mw=5.0)
    DiscreteTapControl.from_tap_step_percent(net, 0, vm_set_pu=1.0, side="hv", tol=0.002)
    controls = (TapControl.from_set_point(net, 0, 1.0, side="hv", tol=0.002),)
    assert controls[0].vm_upper_pu == pytest.approx(tap_controls_of(net)[0].vm_upper_pu)
    taps = _assert_parity(net, controls, _profiles(net))
    assert len(np.unique(taps)) >= 3


@pytest.mark.parametrize(("delay", "max_steps"), [(2, None), (1, 1)])
def test_delay_and_step_limit_as_the_reference_loop(delay, max_steps) -> None:
    net = _feeder_net()
    controls = (
        TapControl(0, 0.98, 1.02, delay_intervals=delay, max_steps=max_steps),
        TapControl(1, 0.97, 1.02, delay_intervals=delay, max_steps=max_steps),
    )
    inputs = _profiles(net, 24)
    ref_pos, ref_vm = tap_series_reference(net, controls, inputs)
    res = TimeSeriesPowerFlow(net, tap_control=controls).run(**inputs)
    np.testing.assert_array_equal(res.tap_pos, ref_pos)
    assert np.abs(res.vm_pu - ref_vm).max() < TOL_VM_PU
    free = TimeSeriesPowerFlow(net, tap_control=(TapControl(0, 0.98, 1.02),))
    assert not np.array_equal(free.run(**inputs).tap_pos[:, 0], res.tap_pos[:, 0])
    if max_steps == 1:
        assert np.abs(np.diff(res.tap_pos, axis=0)).max() <= 1


def test_solve_carries_taps_and_delay_from_call_to_call() -> None:
    net = _feeder_net()
    controls = (TapControl(0, 0.98, 1.02, delay_intervals=1), TapControl(1, 0.97, 1.02))
    inputs = _profiles(net, 24)
    pf = TimeSeriesPowerFlow(net, tap_control=controls)
    batch = pf.run(**inputs)
    for t in range(24):
        one = pf.solve(**{k: v[t] for k, v in inputs.items()})
        np.testing.assert_array_equal(one.tap_pos, batch.tap_pos[t])
        assert np.abs(one.vm_pu - batch.vm_pu[t]).max() < 1e-9
    pf.tap_reset()
    first = pf.solve(**{k: v[0] for k, v in inputs.items()})
    np.testing.assert_array_equal(first.tap_pos, batch.tap_pos[0])


def test_hunting_band_raises_naming_the_step() -> None:
    net = _feeder_net()
    with pytest.raises(PowerFlowError, match="tap control in step"):
        TimeSeriesPowerFlow(net, tap_control=(TapControl(0, 0.999, 1.001),)).run(
            **_profiles(net, 4)
        )


@pytest.mark.parametrize(
    ("control", "match"),
    [
        (TapControl(9, 0.98, 1.02), "no trafo 9"),
        (TapControl(0, 0.98, 1.02, side="hv"), None),  # the slack's side: does nothing
    ],
)
def test_bad_or_idle_controls(control, match) -> None:
    net = _feeder_net()
    if match:
        with pytest.raises(UnsupportedNetError, match=match):
            TimeSeriesPowerFlow(net, tap_control=(control,))
        return
    res = TimeSeriesPowerFlow(net, tap_control=(control,)).run(**_profiles(net, 8))
    assert (res.tap_pos == 0).all()


def test_band_checked_at_the_boundary() -> None:
    with pytest.raises(UnsupportedNetError, match="band"):
        TapControl(0, 1.02, 0.98)
    with pytest.raises(UnsupportedNetError, match="max_steps"):
        TapControl(0, 0.98, 1.02, max_steps=0)


# --- the park: ParkGrid.solve's one-call step with the main transformers' OLTC ----------


def _park_with_band(lower: float, upper: float, delay_s: float = 0.0):
    from grid import ParkGrid, default_site
    from grid.site import TapControlSpec

    site = default_site()
    spec = TapControlSpec(vm_lower_pu=lower, vm_upper_pu=upper, delay_s=delay_s)
    sub = site.substation.model_copy(update={"tap_control": spec})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ParkGrid(site.model_copy(update={"substation": sub}))


def _park_day(park, steps: int = 24, seed: int = 3):
    """Hourly load (30-110 % of peak), PV and storage swings [kW]."""
    rng = np.random.default_rng(seed)
    h = np.arange(steps)
    peak = np.array([e.peak_kw for e in park.site.enterprises])
    kwp = np.array([e.pv_kwp for e in park.site.enterprises])
    shape = 0.3 + 0.8 * ((h % 24 >= 8) & (h % 24 < 20)) * rng.uniform(0.7, 1.0, steps)
    load = peak * shape[:, None] * rng.uniform(0.9, 1.0, (steps, len(peak)))
    sun = np.clip(np.sin((h % 24 - 6) / 12 * np.pi), 0, None)
    pv = kwp * sun[:, None]
    storage = rng.uniform(-1.0, 1.0, (steps, park.n_units)) * 1000.0
    return load, pv, storage


def test_park_solve_moves_taps_as_pandapower() -> None:
    """The park's step (Z-bus, packed) with a band the day crosses: the same positions as
    pandapower's DiscreteTapControl on the park's own net, step for step."""
    park = _park_with_band(1.025, 1.045)
    load, pv, storage = _park_day(park)
    snaps = [park.solve(load[t], pv[t], storage[t]) for t in range(len(load))]
    taps = np.array([s.tap_pos for s in snaps])
    net = park.pandapower_net()
    for t in park.substation_trafo:
        DiscreteTapControl(net, int(t), vm_lower_pu=1.025, vm_upper_pu=1.045, side="lv")
    mw = park._inputs(load, pv, storage, None, len(load))
    out = _pandapower_series(net, mw)
    want = out["trafo.tap_pos"][park.substation_trafo].to_numpy()
    np.testing.assert_array_equal(taps, want)
    assert len(np.unique(taps)) >= 2  # the band made them move
    vm = np.array([s.vm_pu for s in snaps])
    assert np.abs(vm - out["res_bus.vm_pu"].to_numpy()).max() < TOL_VM_PU
    # the batch path (Newton, same controllers) agrees, and a reset starts over
    series = park.run(load, pv, storage)
    np.testing.assert_array_equal(series.tap_pos, taps)
    park.reset_warm_start()
    np.testing.assert_array_equal(park.solve(load[0], pv[0], storage[0]).tap_pos, taps[0])


def test_park_probe_leaves_taps_and_delay_counts_periods() -> None:
    park = _park_with_band(1.025, 1.045, delay_s=1800.0)
    park.set_interval(900.0)  # two periods outside the band before a move
    load, pv, storage = _park_day(park)
    ref = _park_with_band(1.025, 1.045, delay_s=1800.0)
    ref.set_interval(900.0)
    for t in range(len(load)):
        park.probe(load[t] * 1.5, pv[t], storage[t])
        a = park.solve(load[t], pv[t], storage[t])
        b = ref.solve(load[t], pv[t], storage[t])
        np.testing.assert_array_equal(a.tap_pos, b.tap_pos)
        assert np.abs(a.vm_pu - b.vm_pu).max() < 1e-9
    fast = _park_with_band(1.025, 1.045)
    moves = [fast.solve(load[t], pv[t], storage[t]).tap_pos for t in range(len(load))]
    delayed = park.run(load, pv, storage).tap_pos
    assert not np.array_equal(np.array(moves), delayed)  # the delay held some moves back


def test_park_tap_band_checked_in_the_site_file() -> None:
    from grid.site import TapControlSpec

    with pytest.raises(ValueError, match=r"vm_lower_pu 1\.07 must be below"):
        TapControlSpec(vm_lower_pu=1.07, vm_upper_pu=1.0)


@settings(max_examples=4, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(case=random_nets(), delay=st.integers(0, 1), limit=st.sampled_from([None, 1]))
def test_random_nets_tap_control_as_the_reference_loop(case, delay, limit) -> None:
    """Random radial and meshed nets with every element: the 110/20 kV tap controlled on a
    band around its bus's base voltage matches the plain loop around runpp."""
    net, inputs = case
    ctl = (TapControl(0, 0.995, 1.015, delay_intervals=delay, max_steps=limit),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = TimeSeriesPowerFlow(net, tap_control=ctl).run(**inputs)
    ref_pos, ref_vm = tap_series_reference(net, ctl, inputs)
    np.testing.assert_array_equal(res.tap_pos, ref_pos)
    ok = ~np.isnan(ref_vm)
    assert np.array_equal(ok, ~np.isnan(res.vm_pu))
    assert np.abs(res.vm_pu[ok] - ref_vm[ok]).max() < TOL_VM_PU
