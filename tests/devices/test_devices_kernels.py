"""Kernels: hand-computed examples, and compiled kernels against the plain-Python reference."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import Fleet, PcsState, load_unit_params
from devices import kernels as k
from devices.reference import ReferenceUnit, _ocv_integral
from devices.state import pack_params
from tests.devices.strategies import random_unit_sequences, step_sequences

# one table (t = 0) of one unit (i = 0), padded past its 3 points as the packed tables are
TX = np.array([[[0.0, 1.0, 3.0, 0.0]]])
TY = np.array([[[10.0, 20.0, 0.0, 0.0]]])


def test_lookup_by_hand() -> None:
    tn = np.array([[3]])
    assert k.lookup(TX, TY, tn, 0, 0, -1.0) == 10.0  # held below
    assert k.lookup(TX, TY, tn, 0, 0, 0.5) == 15.0
    assert k.lookup(TX, TY, tn, 0, 0, 2.0) == 10.0
    assert k.lookup(TX, TY, tn, 0, 0, 9.0) == 0.0  # held above
    assert k.lookup(TX, TY, np.array([[2]]), 0, 0, 9.0) == 20.0  # only the first n points count


def test_current_for_power_by_hand() -> None:
    # (100 V + 1 Ohm * 20 A) * 20 A = 2400 W
    cur, beyond = k.current_for_power(100.0, 1.0, 2400.0)
    assert cur == pytest.approx(20.0) and not beyond
    # discharge: (100 - 1*10) * -10 = -900 W
    assert k.current_for_power(100.0, 1.0, -900.0)[0] == pytest.approx(-10.0)
    # beyond the maximum power e^2/4r = 2500 W: the current of the maximum, flagged
    assert k.current_for_power(100.0, 1.0, -3000.0) == (pytest.approx(-50.0), True)


def test_stored_energy_of_the_default_cabin_by_hand() -> None:
    p = load_unit_params("lfp280-2236kwh")
    # trapezoids of the park-facts OCV table from SOC 0 to 1 [V]:
    g = (
        (2.0 + 3.05) / 2 * 0.05
        + (3.05 + 3.18) / 2 * 0.05
        + (3.18 + 3.25) / 2 * 0.10
        + (3.25 + 3.29) / 2 * 0.30
        + (3.29 + 3.33) / 2 * 0.30
        + (3.33 + 3.35) / 2 * 0.15
        + (3.35 + 3.58) / 2 * 0.05
    )
    assert g == pytest.approx(3.25175)
    f = Fleet([p], soc0=1.0)
    assert f.e_stored_kwh[0] == pytest.approx(416 * 1680 * g / 1000)  # 2272.6 kWh
    assert _ocv_integral(p.ocv.soc, p.ocv.v_cell, 1.0) == pytest.approx(g)


def test_pcs_loss_and_its_inverse_by_hand() -> None:
    pk = pack_params([load_unit_params("lfp280-2236kwh")])
    # rated charge: eta 0.980 -> 25 kW loss; rated discharge: eta 0.982 -> 1250 (1/0.982 - 1)
    assert k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, 1250.0, 0.0) == pytest.approx(25.0)
    assert k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, -1250.0, 0.0) == pytest.approx(
        1250 * (1 / 0.982 - 1)
    )
    assert k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, 0.0, 0.0) == pytest.approx(2.5)  # no-load
    assert k.ac_for_dc_kw(pk.tx, pk.ty, pk.tn, 0, 1225.0, 0.0) == pytest.approx(1250.0)
    assert k.ac_for_dc_kw(pk.tx, pk.ty, pk.tn, 0, -1250 / 0.982, 0.0) == pytest.approx(-1250.0)
    # DC power -2.5 kW is the no-load loss: zero AC power
    assert k.ac_for_dc_kw(pk.tx, pk.ty, pk.tn, 0, -2.5, 0.0) == pytest.approx(0.0, abs=1e-9)


@given(st.floats(-1400.0, 1400.0), st.floats(-700.0, 700.0))
def test_ac_for_dc_inverts_the_loss(p_ac: float, q: float) -> None:
    pk = pack_params([load_unit_params("lfp280-2236kwh")])
    p_dc = p_ac - k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, p_ac, q)
    back = k.ac_for_dc_kw(pk.tx, pk.ty, pk.tn, 0, p_dc, q)
    back_dc = back - k.pcs_loss_kw(pk.tx, pk.ty, pk.tn, 0, back, q)
    assert back_dc == pytest.approx(p_dc, abs=1e-6)


def test_power_state_step_reproduces_the_power_law() -> None:
    # constant rate: daily steps of q = k x^p add up to the closed form
    q, kk, p = 0.0, 4.7e-4, 0.526
    for _ in range(365):
        q = k.power_state_step(q, kk, p, 1.0)
    assert q == pytest.approx(kk * 365**p, rel=1e-12)


def test_rainflow_counts_a_repeated_triangle_as_half_cycles() -> None:
    rf = np.zeros((1, k.RF_DEPTH))
    rf[0, 0] = 0.05
    rfn = np.ones(1, dtype=np.int64)
    wefc = wdod = 0.0
    for v in [0.95, 0.05] * 4:
        wefc, wdod = k._rainflow_count(rf, rfn, 0, v, wefc, wdod)
    # every reversal after the first closes a half cycle of range 0.9
    assert wefc == pytest.approx(7 * 0.5 * 0.9)
    assert wdod / wefc == pytest.approx(0.9)


def test_rainflow_counts_a_nested_cycle_as_full() -> None:
    rf = np.zeros((1, k.RF_DEPTH))
    rf[0, 0] = 0.1
    rfn = np.ones(1, dtype=np.int64)
    wefc = wdod = 0.0
    for v in [0.9, 0.5, 0.7, 0.0]:  # 0.5-0.7 nested inside 0.9 -> 0.0
        wefc, wdod = k._rainflow_count(rf, rfn, 0, v, wefc, wdod)
    # half 0.1-0.9 (0.8 x 0.5) + full 0.5-0.7 (0.2 x 1)
    assert wefc == pytest.approx(0.4 + 0.2)


FIELDS = (
    ("e_ac_in_kwh", "e_in"),
    ("e_ac_out_kwh", "e_out"),
    ("e_dc_kwh", "e_dc"),
    ("e_aux_kwh", "e_aux"),
    ("loss_pcs_kwh", "l_pcs"),
    ("loss_battery_kwh", "l_bat"),
    ("loss_ohmic_kwh", "l_ohm"),
    ("loss_coulombic_kwh", "l_coul"),
    ("loss_self_discharge_kwh", "l_self"),
    ("e_hvac_kwh", "e_hvac"),
    ("e_fade_kwh", "e_fade"),
)


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-7 * scale)


@given(step_sequences(max_len=10))
def test_compiled_step_equals_the_reference(case) -> None:
    name, soc0, temp0, steps = case
    p = load_unit_params(name)
    fleet = Fleet([p], soc0=soc0, temp0_c=temp0)
    ref = ReferenceUnit(p, soc0, temp0)
    for p_set, q_set, amb, dt, n_sub in steps:
        r = fleet.step([p_set], dt, amb, n_sub=n_sub, q_set_kvar=[q_set])
        acc = ref.step(p_set, q_set, amb, dt, n_sub)
        for ours, theirs in FIELDS:
            assert _close(float(getattr(r, ours)[0]), acc[theirs]), ours
        assert _close(r.soc[0], ref.soc) and _close(r.temp_c[0], ref.temp_c)
        assert _close(r.soh[0], ref.soh) and r.pcs_state[0] == ref.state
        assert _close(r.i_dc_a[0] * dt * n_sub / 3600, acc["ah"])


def test_compiled_aging_equals_the_reference_over_days() -> None:
    # A week of two daily cycles at 15-min steps: fade windows, rainflow, R growth.
    p = load_unit_params("lfp280-2236kwh")
    fleet = Fleet([p], soc0=0.05, pcs_state0=PcsState.RUNNING)
    ref = ReferenceUnit(p, 0.05, 25.0, state=k.RUNNING)
    rng = np.random.default_rng(7)
    for _ in range(7):
        for hours, sign in ((4, 1), (4, 0), (3, -1), (2, 1), (4, -1), (7, 0)):
            p_set = sign * float(rng.uniform(600, 1118))
            fleet.step([p_set], 900.0, 30.0, n_sub=hours * 4)
            ref.step(p_set, 0.0, 30.0, 900.0, hours * 4)
    assert fleet.soh[0] < 1.0
    assert fleet.soh[0] == pytest.approx(ref.soh, rel=1e-10)
    assert fleet.efc[0] == pytest.approx(ref.efc, rel=1e-10)
    assert fleet.resistance_factor[0] == pytest.approx(ref.r_growth, rel=1e-10)


@given(st.sampled_from(["lfp280-2236kwh", "lfp314-5016kwh"]), st.floats(-0.1, 1.1))
def test_cumulative_ocv_table_equals_the_segment_integral(name: str, soc: float) -> None:
    p = load_unit_params(name)
    pk = pack_params([p])
    expected = _ocv_integral(p.ocv.soc, p.ocv.v_cell, min(max(soc, 0.0), 1.0))
    got = k._ocv_integral_at(pk.tx, pk.ty, pk.tn, 0, soc, 1)[0]
    assert got == pytest.approx(expected, abs=1e-12)


@given(random_unit_sequences(max_len=6))
def test_compiled_step_equals_the_reference_on_random_parameters(case) -> None:
    p, soc0, temp0, steps = case
    fleet = Fleet([p], soc0=soc0, temp0_c=temp0)
    ref = ReferenceUnit(p, soc0, temp0)
    for p_set, q_set, amb, dt, n_sub in steps:
        r = fleet.step([p_set], dt, amb, n_sub=n_sub, q_set_kvar=[q_set])
        acc = ref.step(p_set, q_set, amb, dt, n_sub)
        for ours, theirs in FIELDS:
            assert _close(float(getattr(r, ours)[0]), acc[theirs], scale=10.0), ours
        assert _close(r.soc[0], ref.soc) and _close(r.temp_c[0], ref.temp_c)
        assert r.pcs_state[0] == ref.state


@given(step_sequences(max_len=5))
def test_power_limits_equal_the_reference(case) -> None:
    name, soc0, temp0, steps = case
    p = load_unit_params(name)
    fleet = Fleet([p], soc0=soc0, temp0_c=temp0)
    ref = ReferenceUnit(p, soc0, temp0)
    for p_set, q_set, amb, dt, n_sub in steps:
        fleet.step([p_set], dt, amb, n_sub=n_sub, q_set_kvar=[q_set])
        ref.step(p_set, q_set, amb, dt, n_sub)
        ch, dis = ref.power_limits()
        assert _close(fleet.p_charge_max_kw()[0], ch, scale=10.0)
        assert _close(fleet.p_discharge_max_kw()[0], dis, scale=10.0)
