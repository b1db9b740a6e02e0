"""ParkGrid (the twin's API) against runpp on the exported net; limit checks."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandapower as pp
import pytest
from hypothesis import given, settings

from grid import GridSeries, GridSnapshot, ParkGrid, PowerFlowError, check_limits, default_site
from parktwin.errors import InputError
from tests.grid.strategies import operating_points

SITE = default_site()
PEAK = np.array([e.peak_kw for e in SITE.enterprises])
PV = np.array([e.pv_kwp for e in SITE.enterprises])
N_UNITS = sum(g.count for g in SITE.storage)
PCS = np.concatenate([[g.pcs_kva] * g.count for g in SITE.storage])


def test_names_and_orders(park: ParkGrid) -> None:
    assert park.enterprise_names == tuple(e.name for e in SITE.enterprises)
    assert park.unit_names[:3] == ("xinsheng-ess-1", "xinsheng-ess-2", "xinsheng-ess-3")
    assert len(park.unit_names) == N_UNITS == park.unit_enterprise.shape[0]
    for name, i in zip(park.unit_names, park.unit_enterprise, strict=True):
        group = next(g for g in SITE.storage if name.startswith(g.name + "-"))
        assert park.enterprise_names[i] == group.enterprise


@settings(max_examples=8)
@given(data=operating_points(n_load=27, n_sgen=27, n_storage=N_UNITS, steps=2))
def test_pcc_and_results_match_runpp_on_the_exported_net(park, tmp_path_factory, data) -> None:
    load_f, pv_f, st_f = data
    load, pv, st = load_f * PEAK, pv_f * PV, st_f * PCS
    series = park.run(load, pv, st)
    path = park.export_json(tmp_path_factory.mktemp("x") / "park.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(str(path))
    service = [net.line.index[net.line.name == f"{n} service"][0] for n in park.enterprise_names]
    for t in range(2):
        net.load["p_mw"] = load[t] / 1000
        net.load["q_mvar"] = (
            load[t] / 1000 * np.tan(np.arccos([e.power_factor for e in SITE.enterprises]))
        )
        net.sgen["p_mw"] = pv[t] / 1000
        net.storage["p_mw"] = st[t] / 1000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net)
        snap = series.step(t)
        # the engine's single-step path (its own kernel) against runpp too
        for s in (snap, park.solve(load[t], pv[t], st[t])):
            pcc_ref = -net.res_line.p_to_mw.loc[service].to_numpy() * 1000
            np.testing.assert_allclose(s.pcc_kw, pcc_ref, atol=1e-3)  # 1 W
            np.testing.assert_allclose(s.vm_pu, net.res_bus.vm_pu.to_numpy(), atol=1e-6)
            assert abs(s.ext_grid_kw - net.res_ext_grid.p_mw.sum() * 1000) < 1e-3
            np.testing.assert_allclose(
                s.line_loading_pct, net.res_line.loading_percent.to_numpy(), atol=1e-4
            )
            np.testing.assert_allclose(
                s.trafo_loading_pct, net.res_trafo.loading_percent.to_numpy(), atol=1e-4
            )
            np.testing.assert_allclose(
                s.unit_trafo_loading_pct,
                net.res_trafo.loading_percent.to_numpy()[park.unit_trafo],
                atol=1e-4,
            )
        # PCC = what the enterprise draws behind its meter, plus its own losses (>= 0)
        behind = load[t] - pv[t] + np.bincount(park.unit_enterprise, st[t], minlength=27)
        # (a direct-10-kV enterprise has no losses behind its meter: PCC = load, to within
        # the solver's power tolerance of 1e-8 MW = 1e-5 kW)
        assert np.all(snap.pcc_kw - behind > -1e-5)
        # and those losses are a small share of what flows through the transformers
        gross = load[t] + pv[t] + np.bincount(park.unit_enterprise, np.abs(st[t]), minlength=27)
        assert np.all(snap.pcc_kw - behind < 0.03 * gross + 30)


def test_solve_equals_run(park: ParkGrid) -> None:
    rng = np.random.default_rng(11)
    load = PEAK * rng.uniform(0.2, 1.0, (3, 27))
    pv = PV * rng.uniform(0, 1, (3, 27))
    st = PCS * rng.uniform(-1, 1, (3, N_UNITS))
    kvar = PCS * rng.uniform(-0.3, 0.3, (3, N_UNITS))
    series = park.run(load, pv, st, kvar)
    assert isinstance(series, GridSeries) and series.steps == 3
    for t in range(3):
        snap = park.solve(load[t], pv[t], st[t], kvar[t])
        assert isinstance(snap, GridSnapshot) and snap.converged
        np.testing.assert_allclose(snap.pcc_kw, series.pcc_kw[t], atol=1e-5)
        np.testing.assert_allclose(snap.pcc_kvar, series.pcc_kvar[t], atol=1e-5)
        assert snap.v_min_pu == pytest.approx(series.v_min_pu[t], abs=1e-9)
        assert snap.losses_kw == pytest.approx(series.losses_kw[t], abs=1e-4)


def test_series_in_pieces_equals_one_run(park: ParkGrid) -> None:
    """`ParkGrid.series`: pieces continue the warm-start chain of one batch; the first piece
    is the batch's first steps bit for bit, the rest agree to the solver's tolerance, and
    `solve`'s own warm start is left alone."""
    rng = np.random.default_rng(12)
    load = PEAK * rng.uniform(0.2, 1.0, (12, 27))
    pv = PV * rng.uniform(0, 1, (12, 27))
    st = PCS * rng.uniform(-1, 1, (12, N_UNITS))
    whole = park.run(load, pv, st)
    before = park._pf._v_last.copy()
    chain = park.series()
    pieces = [chain.run(load[a:b], pv[a:b], st[a:b]) for a, b in ((0, 5), (5, 6), (6, 12))]
    np.testing.assert_array_equal(pieces[0].vm_pu, whole.vm_pu[:5])
    # the steps converge to mismatches below 1e-10 p.u. (0.1 W): they agree far closer
    for name, atol in (
        ("pcc_kw", 1e-6),
        ("pcc_kvar", 1e-6),
        ("vm_pu", 1e-10),
        ("line_loading_pct", 1e-8),
        ("losses_kw", 1e-6),
    ):
        joined = np.concatenate([getattr(p, name) for p in pieces])
        np.testing.assert_allclose(joined, getattr(whole, name), rtol=0, atol=atol)
    np.testing.assert_array_equal(park._pf._v_last, before)
    # a second chain starts from the no-load state again, as `run` does
    again = park.series().run(load[:5], pv[:5], st[:5])
    np.testing.assert_array_equal(again.pcc_kw, pieces[0].pcc_kw)


def test_a_kept_snapshot_is_not_overwritten_by_the_next_step(park: ParkGrid) -> None:
    first = park.solve(PEAK * 0.3, PV * 0, np.zeros(N_UNITS))
    kept = {k: np.copy(v) for k, v in first._asdict().items()}
    second = park.solve(PEAK * 0.9, PV * 0, PCS * 0.5)
    for k, v in first._asdict().items():
        np.testing.assert_array_equal(v, kept[k], err_msg=k)
    assert second.ext_grid_kw > first.ext_grid_kw + 1000
    assert not np.shares_memory(first.pcc_kw, second.pcc_kw)


def test_solve_accepts_lists_and_strided_arrays(park: ParkGrid) -> None:
    load = np.stack([PEAK * 0.5, PEAK * 0.5], axis=1)  # columns: strided views
    pv = np.stack([PV * 0.2, PV * 0.2], axis=1)
    st = np.stack([PCS * 0.1, PCS * 0.1], axis=1)
    a = park.solve(load[:, 0], pv[:, 0], st[:, 0], (st[:, 0] * 0).tolist())
    b = park.solve((PEAK * 0.5).tolist(), PV * 0.2, PCS * 0.1, np.zeros(N_UNITS))
    np.testing.assert_allclose(a.pcc_kw, b.pcc_kw, atol=1e-5)
    assert a.v_min_pu == pytest.approx(b.v_min_pu, abs=1e-9)


def test_failed_step_keeps_the_warm_start(park: ParkGrid) -> None:
    before = park.solve(PEAK * 0.6, PV * 0.3, PCS * 0.2)
    warm = park._pf._v_last.copy()
    with pytest.raises(PowerFlowError, match="did not converge"):
        park.solve(PEAK * 1000, PV * 0, np.zeros(N_UNITS))
    np.testing.assert_array_equal(park._pf._v_last, warm)
    after = park.solve(PEAK * 0.6, PV * 0.3, PCS * 0.2)
    np.testing.assert_allclose(after.vm_pu, before.vm_pu, atol=1e-9)


def test_reactive_power_of_storage_moves_voltage(park: ParkGrid) -> None:
    base = park.solve(PEAK * 0.5, PV * 0, np.zeros(N_UNITS))
    absorb = park.solve(PEAK * 0.5, PV * 0, np.zeros(N_UNITS), np.full(N_UNITS, 1000.0))
    assert absorb.v_max_pu < base.v_max_pu  # absorbing vars lowers voltage
    assert np.all(absorb.pcc_kvar >= base.pcc_kvar - 1e-6)


def test_bad_inputs(park: ParkGrid) -> None:
    with pytest.raises(InputError, match=r"storage_kw: expected shape \(19,\)"):
        park.solve(PEAK, PV, np.zeros(3))
    with pytest.raises(InputError, match=r"pv_kw: expected shape \(2, 27\)"):
        park.run(np.zeros((2, 27)), np.zeros((3, 27)), np.zeros((2, N_UNITS)))
    with pytest.raises(InputError, match=r"load_kw: expected shape \(steps, 27\), got \(27,\)"):
        park.run(PEAK, PV, np.zeros(N_UNITS))
    with pytest.raises(InputError, match="load_kw: contains NaN or inf"):
        park.solve(PEAK * np.nan, PV, np.zeros(N_UNITS))
    with pytest.raises(InputError, match="pv_kw: contains NaN or inf"):
        park.solve(PEAK, np.full(27, np.inf), np.zeros(N_UNITS))
    with pytest.raises(InputError, match="storage_kw: contains NaN or inf"):
        park.solve(PEAK, PV, np.full(N_UNITS, np.nan))
    with pytest.raises(InputError, match="storage_kvar: contains NaN or inf"):
        park.solve(PEAK, PV, np.zeros(N_UNITS), np.full(N_UNITS, -np.inf))
    with pytest.raises(InputError, match=r"storage_kvar: expected shape \(19,\)"):
        park.solve(PEAK, PV, np.zeros(N_UNITS), np.zeros(2))
    with pytest.raises(PowerFlowError):
        park.solve(PEAK * 1000, PV * 0, np.zeros(N_UNITS))


def test_limits_flag_backflow_overload_and_exchange(park: ParkGrid) -> None:
    steps = 4
    load = np.tile(PEAK * 0.6, (steps, 1))
    pv = np.zeros((steps, 27))
    st = np.zeros((steps, N_UNITS))
    x = park.enterprise_names.index("xinsheng")
    # step 1: Xinsheng's storage discharges 3 x 1250 kW while its load is 500 kW: export
    load[1, x] = 500.0
    st[1, park.unit_enterprise == x] = -1250.0
    # step 2: one unit charges at 2.5 MW through its 1600 kVA transformer: overload
    st[2, 0] = 2500.0
    # step 3: the whole park at 1.2 x peak
    load[3] = PEAK * 1.2
    series = park.run(load, pv, st)
    rep = check_limits(series, park, dt_s=900.0)
    assert rep.backflow[:, x].tolist() == [False, True, False, False]
    assert rep.backflow_steps[x] == 1
    expected_export = -series.pcc_kw[1, x]
    assert rep.max_export_kw[x] == pytest.approx(expected_export) and 2000 < expected_export < 3250
    assert rep.trafo_overload.tolist()[2] and rep.max_trafo.startswith("xinsheng-ess-1")
    assert rep.max_trafo_loading_pct > 150
    assert not rep.ok
    summary = rep.summary()
    assert summary["backflow"]["xinsheng"]["steps"] == 1
    assert summary["trafo_overloads"] == rep.trafo_overloads >= 1
    assert summary["exchange"]["import_kwh"] == pytest.approx(rep.exchange_import_kwh)
    json.dumps(summary, allow_nan=False)  # JSON-able as it is
    e_imp = np.clip(series.ext_grid_kw, 0, None).sum() * 0.25
    assert rep.exchange_import_kwh == pytest.approx(e_imp)
    assert rep.exchange_export_kwh == 0.0
    assert rep.exchange_max_import_kw == pytest.approx(series.ext_grid_kw.max())


def test_limits_voltage_band(park: ParkGrid) -> None:
    light = park.solve(np.zeros(27), np.zeros(27), np.zeros(N_UNITS))
    rep = check_limits(light, park)
    assert rep.voltage_violations == 0 and rep.ok
    assert (
        rep.summary()["exchange"]["import_kwh"] is None
    )  # no dt_s: no energies  # no-load voltages stay in the band
    assert rep.v_max_pu <= 1.07
    # a tighter band of +-1 % catches the same snapshot, naming the highest bus
    tight = check_limits(light, park, v_band_pu=(0.99, 1.01))
    assert tight.voltage_violation_steps == 1 and tight.v_max_bus
    peak = check_limits(park.solve(PEAK, np.zeros(27), np.zeros(N_UNITS)), park)
    assert peak.voltage_violation_steps == 0  # the design holds the band at full peak
    assert peak.line_overload_steps == 0 and peak.trafo_overload_steps == 0


@settings(max_examples=10)
@given(data=operating_points(n_load=27, n_sgen=27, n_storage=N_UNITS, steps=4))
def test_limit_flags_agree_with_the_series(park: ParkGrid, data) -> None:
    load_f, pv_f, st_f = data
    series = park.run(load_f * PEAK, pv_f * PV, st_f * PCS * 1.5)  # up to 150 % PCS: overloads
    rep = check_limits(series, park, dt_s=900.0)
    np.testing.assert_array_equal(rep.backflow, series.pcc_kw < 0)
    v_bad = (series.v_min_pu < 0.93) | (series.v_max_pu > 1.07)
    np.testing.assert_array_equal(rep.voltage_violation, v_bad)
    np.testing.assert_array_equal(rep.trafo_overload, series.trafo_loading_pct.max(axis=1) > 100)
    np.testing.assert_array_equal(rep.line_overload, series.line_loading_pct.max(axis=1) > 100)
    assert rep.v_min_pu == pytest.approx(series.v_min_pu.min())
    assert rep.max_trafo_loading_pct == pytest.approx(series.trafo_loading_pct.max())
    exported = np.clip(-series.ext_grid_kw, 0, None).sum() * 0.25
    assert rep.exchange_export_kwh == pytest.approx(exported)
    assert rep.ok == (
        not (
            v_bad.any() or rep.backflow.any() or rep.trafo_overload.any() or rep.line_overload.any()
        )
    )
