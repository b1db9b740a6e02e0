"""Fleet: the public API, PCS states and their timing, limits, persistence, hand examples."""

import json
import math

import numpy as np
import pytest

from devices import Fleet, PcsState, StepResult, load_unit_params
from parktwin.errors import InputError

P = load_unit_params("lfp280-2236kwh")
BIG = load_unit_params("lfp314-5016kwh")


def test_step_result_shapes_and_mixed_fleet() -> None:
    f = Fleet([P, BIG, P], soc0=[0.2, 0.5, 0.8], temp0_c=25.0)
    r = f.step(np.array([100.0, 0.0, -100.0]), 1.0, 25.0, n_sub=30)
    assert isinstance(r, StepResult)
    for name in ("p_ac_kw", "q_ac_kvar", "p_dc_kw", "p_aux_kw", "soc", "soh", "pcs_state"):
        assert getattr(r, name).shape == (3,)
    assert f.e_nom_kwh == pytest.approx([P.e_nom_kwh, BIG.e_nom_kwh, P.e_nom_kwh])
    assert list(f.soc) == list(r.soc)
    f.soc[0] = 0.99  # a copy: the fleet's state is not writable from outside
    assert f.soc[0] != 0.99


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_set_kw": [1.0, 2.0]}, "p_set_kw"),
        ({"p_set_kw": [np.nan]}, "p_set_kw"),
        ({"dt_s": 0.0}, "dt_s"),
        ({"n_sub": 0}, "n_sub"),
        ({"ambient_c": [1.0, 2.0, 3.0]}, "ambient_c"),
        ({"q_set_kvar": ["x"]}, "q_set_kvar"),
    ],
)
def test_bad_step_input_is_an_input_error(kwargs, match) -> None:
    f = Fleet([P])
    args = {"p_set_kw": [0.0], "dt_s": 1.0, "ambient_c": 25.0} | kwargs
    with pytest.raises(InputError, match=match):
        f.step(**args)


def test_bad_fleet_input() -> None:
    with pytest.raises(InputError, match="soc0"):
        Fleet([P], soc0=1.5)
    with pytest.raises(InputError):
        Fleet([])
    with pytest.raises(InputError, match="pcs_state0"):
        Fleet([P], pcs_state0=9)


def test_start_up_sequence_from_standby() -> None:
    """A setpoint in STANDBY starts the PCS; power flows after the start-up delay (10 s)."""
    f = Fleet([P])
    log = []
    for t in range(14):
        r = f.step([500.0], 1.0, 25.0)
        log.append((t, PcsState(int(r.pcs_state[0])).name, round(float(r.p_ac_kw[0]), 3)))
    assert log[0] == (0, "STARTING", 0.15)  # sleeping PCS draws its standby power
    assert log[8] == (8, "STARTING", 0.15)
    assert log[9][1] == "RUNNING"  # 10 s elapsed at the end of the 10th second
    assert 0.0 < log[10][2] <= P.ramp_kw_per_s * 1.0  # ramps, lagged, from zero
    assert log[13][2] == pytest.approx(500.0, rel=1e-3)


def test_idle_pcs_goes_to_standby() -> None:
    f = Fleet([P], pcs_state0=PcsState.RUNNING)
    r = f.step([0.0], 1.0, 25.0, n_sub=299)
    assert r.pcs_state[0] == PcsState.RUNNING
    # running at zero power: the no-load loss (2.5 kW) comes from the battery
    assert r.p_dc_kw[0] == pytest.approx(-2.5, rel=1e-9) and r.p_ac_kw[0] == 0.0
    r = f.step([0.0], 1.0, 25.0)
    assert r.pcs_state[0] == PcsState.STANDBY


def test_trip_reset_start_stop() -> None:
    f = Fleet([P, P], pcs_state0=PcsState.RUNNING)
    f.step([800.0, 800.0], 1.0, 25.0, n_sub=5)
    f.trip(0)
    r = f.step([800.0, 800.0], 1.0, 25.0)
    assert r.pcs_state[0] == PcsState.FAULT and r.p_ac_kw[0] == pytest.approx(0.15)
    assert r.p_ac_kw[1] == pytest.approx(800.0, rel=1e-3)
    assert f.p_charge_max_kw()[0] == 0.0 and f.p_discharge_max_kw()[0] == 0.0
    f.start(0)  # a fault needs a reset first
    assert f.pcs_state[0] == PcsState.FAULT
    f.reset(0)
    assert f.pcs_state[0] == PcsState.STANDBY
    f.stop(1)
    r = f.step([800.0, 800.0], 1.0, 25.0)
    assert r.pcs_state[1] == PcsState.OFF and r.p_ac_kw[1] == 0.0  # OFF ignores setpoints
    f.start(1)
    assert f.pcs_state[1] == PcsState.STARTING
    with pytest.raises(InputError, match="unit index"):
        f.trip(2)


def test_power_limits_agree_with_what_a_step_achieves() -> None:
    f = Fleet([P], soc0=0.5, pcs_state0=PcsState.RUNNING)
    ch, dis = f.p_charge_max_kw()[0], f.p_discharge_max_kw()[0]
    # 0.5 C (840 A) limits the cabin to about 1.1-1.2 MW, below the 1250 kVA PCS
    assert 1050.0 < dis < 1150.0 < ch < 1250.0
    r = f.step([-1250.0], 1.0, 25.0, n_sub=5)
    assert -r.p_ac_kw[0] == pytest.approx(dis, rel=5e-3)
    assert r.i_dc_a[0] == pytest.approx(-0.5 * 280 * 6, rel=1e-9)


def test_limits_are_zero_at_the_window_edges() -> None:
    f = Fleet([P, P], soc0=[P.soc_min, P.soc_max])
    assert f.p_discharge_max_kw()[0] == 0.0 and f.p_charge_max_kw()[0] > 0.0
    assert f.p_charge_max_kw()[1] == 0.0 and f.p_discharge_max_kw()[1] > 0.0


def test_pq_circle_gives_q_priority() -> None:
    f = Fleet([P], pcs_state0=PcsState.RUNNING)
    r = f.step([1000.0], 1.0, 25.0, n_sub=20, q_set_kvar=[750.0])
    # sqrt(1250^2 - 750^2) = 1000 kW fits exactly
    assert r.q_ac_kvar[0] == pytest.approx(750.0)
    r = f.step([1200.0], 1.0, 25.0, n_sub=20, q_set_kvar=[750.0])
    assert r.p_ac_kw[0] == pytest.approx(1000.0, rel=1e-6)


def test_self_discharge_and_standby_heat_balance_by_hand() -> None:
    """30 days asleep at 40 C ambient: SOC falls 3 %; the chiller holds ~25 C."""
    f = Fleet([P], soc0=0.5, temp0_c=25.0)
    r = f.step([0.0], 900.0, 40.0, n_sub=30 * 96)
    assert f.soc[0] == pytest.approx(0.5 - 0.03, rel=1e-9)  # 3 %/month of the capacity
    # self-discharge heats the cabin: 416 cells x 1680 Ah x OCV(0.47) x 0.03/month [W]
    ocv = 3.25 + (3.29 - 3.25) * (0.47 - 0.2) / 0.3
    q_sd_w = 416 * 1680 * ocv * 3600 * 0.03 / (30 * 86400)  # V Ah/s x 3600 = W
    assert 90.0 < q_sd_w < 100.0
    # steady state: Q_sd + UA (Ta - T) = kp (T - Tcool)
    t_ss = (60 * 40 + 20000 * 25 + q_sd_w) / 20060
    assert f.temp_c[0] == pytest.approx(t_ss, abs=0.01)
    last = f.step([0.0], 900.0, 40.0)
    # HVAC electric = kp (T - Tcool) / COP, plus BMS/EMS 3 kW
    assert last.p_aux_kw[0] == pytest.approx(3.0 + 20000 * (t_ss - 25) / 3 / 1000, rel=1e-3)
    assert r.e_hvac_kwh[0] > 0


def test_save_and_restore_continue_identically() -> None:
    a = Fleet([P, BIG], soc0=0.3)
    for _ in range(3):
        a.step([900.0, -900.0], 900.0, 30.0, n_sub=40)
    state = json.loads(json.dumps(a.save_state()))  # survives JSON
    b = Fleet.from_state([P, BIG], state)
    ra = a.step([-500.0, 500.0], 60.0, 20.0, n_sub=100)
    rb = b.step([-500.0, 500.0], 60.0, 20.0, n_sub=100)
    for name in ("p_ac_kw", "soc", "soh", "temp_c", "loss_battery_kwh"):
        assert np.array_equal(getattr(ra, name), getattr(rb, name)), name
    assert np.array_equal(a.efc, b.efc)
    with pytest.raises(InputError, match="unit_types"):
        Fleet.from_state([P, P], state)
    bad = dict(state, xs=[[2.0] * 2 if r == 0 else row for r, row in enumerate(state["xs"])])
    with pytest.raises(InputError, match="soc"):
        Fleet.from_state([P, BIG], bad)
    with pytest.raises(InputError, match="pcs"):
        Fleet.from_state([P, BIG], dict(state, pcs=[7, 1]))


def test_result_rows_follow_the_step_result_fields() -> None:
    from devices import caes_kernels as ck
    from devices import kernels as k
    from devices.fleet import RESULT_FIELDS

    assert RESULT_FIELDS == (*k.R_FIELDS[:12], "pcs_state", *k.R_FIELDS[12:], *ck.R_EXTRA)
    assert len(k.R_FIELDS) + len(ck.R_EXTRA) == ck.NR
    f = Fleet([P], pcs_state0=PcsState.RUNNING)
    r = f.step([500.0], np.float64(10.0), 25.0, n_sub=np.int64(6))
    # 60 s: mean power from the energies, by hand
    assert r.p_ac_kw[0] == pytest.approx((r.e_ac_in_kwh[0] - r.e_ac_out_kwh[0]) * 60.0)
    assert r.soc[0] == f.soc[0] and r.temp_c[0] == f.temp_c[0] and r.soh[0] == f.soh[0]
    assert r.pcs_state.dtype.kind == "i"


@pytest.mark.parametrize("field", ["p_set_kw", "q_set_kvar", "ambient_c"])
def test_a_setpoint_that_is_not_finite_is_refused_before_any_unit_moves(field: str) -> None:
    p = load_unit_params("lfp280-2236kwh")
    fleet = Fleet([p, p], soc0=0.5)
    before = fleet.save_state()
    good = {"p_set_kw": np.array([100.0, 200.0]), "q_set_kvar": np.zeros(2)}
    good["ambient_c"] = np.full(2, 25.0)
    good[field] = np.array([0.0, math.nan]) if field != "ambient_c" else np.array([math.inf, 1.0])
    with pytest.raises(InputError, match=rf"^{field}: values must be finite$"):
        fleet.step(good["p_set_kw"], 1.0, good["ambient_c"], q_set_kvar=good["q_set_kvar"])
    with pytest.raises(InputError, match=r"^p_set_kw: values must be finite$"):
        fleet.step([math.nan, 0.0], 1.0, 25.0)  # a list takes the converting path
    assert fleet.save_state() == before
