"""Hypothesis strategies for the devices tests: unit types, states and setpoint sequences."""

from __future__ import annotations

from hypothesis import strategies as st

from devices import load_unit_params, unit_types

unit_names = st.sampled_from(unit_types("lfp"))
soc0s = st.floats(0.0, 1.0)
temps = st.floats(-20.0, 45.0)
dts = st.sampled_from([1.0, 5.0, 60.0, 900.0])


@st.composite
def setpoints(draw, s_kva: float = 1250.0, with_q: bool = True) -> tuple[float, float]:
    """An AC setpoint (p kW, q kvar), sometimes zero, sometimes beyond the PCS rating."""
    p = draw(st.one_of(st.just(0.0), st.floats(-1.3 * s_kva, 1.3 * s_kva)))
    q = draw(st.floats(-0.6 * s_kva, 0.6 * s_kva)) if with_q and draw(st.booleans()) else 0.0
    return p, q


@st.composite
def step_sequences(draw, max_len: int = 12, with_q: bool = True):
    """(unit name, soc0, temp0, [(p, q, ambient, dt, n_sub), ...])."""
    name = draw(unit_names)
    s = load_unit_params(name).pcs_kva
    n = draw(st.integers(1, max_len))
    steps = []
    for _ in range(n):
        p, q = draw(setpoints(s, with_q))
        steps.append((p, q, draw(temps), draw(dts), draw(st.integers(1, 4))))
    return name, draw(soc0s), draw(temps), steps


@st.composite
def unit_params(draw):
    """A shipped unit type with its physics parameters redrawn over plausible ranges."""
    from devices import UnitParams

    data = load_unit_params(draw(unit_names)).model_dump()
    cell, pack, pcs, th = data["cell"], data["pack"], data["pcs"], data["thermal"]
    cell["capacity_ah"] = draw(st.floats(50.0, 600.0))
    cell["r0_mohm"] = draw(st.floats(0.1, 2.0))
    cell["r1_mohm"] = draw(st.floats(0.0, 1.5))
    cell["tau1_s"] = draw(st.floats(2.0, 600.0))
    cell["c_rate_charge_max"] = draw(st.floats(0.2, 2.0))
    cell["c_rate_discharge_max"] = draw(st.floats(0.2, 2.0))
    cell["coulombic_eff"] = draw(st.floats(0.98, 1.0))
    cell["hysteresis_mv"] = draw(st.floats(0.0, 40.0))
    cell["self_discharge_per_month"] = draw(st.floats(0.0, 0.1))
    pack["cells_series"] = draw(st.integers(100, 450))
    pack["racks_parallel"] = draw(st.integers(1, 16))
    pack["soc_min"] = draw(st.floats(0.0, 0.2))
    pack["soc_max"] = draw(st.floats(0.8, 1.0))
    pcs["s_kva"] = draw(st.floats(100.0, 4000.0))
    pcs["p_noload_kw"] = draw(st.floats(0.0, 0.005)) * pcs["s_kva"]
    pcs["ramp_pu_per_s"] = draw(st.floats(0.05, 3.0))
    pcs["tau_s"] = draw(st.floats(0.05, 3.0))
    pcs["t_start_s"] = draw(st.floats(0.0, 60.0))
    th["c_th_kj_per_k"] = draw(st.floats(2000.0, 50000.0))
    th["kp_kw_per_k"] = draw(st.floats(1.0, 50.0))
    th["q_cool_max_kw"] = draw(st.floats(0.0, 100.0))
    return UnitParams.model_validate(data)


@st.composite
def random_unit_sequences(draw, max_len: int = 10):
    """(params, soc0, temp0, [(p, q, ambient, dt, n_sub), ...]) on random parameters."""
    p = draw(unit_params())
    steps = []
    for _ in range(draw(st.integers(1, max_len))):
        sp, sq = draw(setpoints(p.pcs_kva))
        steps.append((sp, sq, draw(temps), draw(dts), draw(st.integers(1, 4))))
    return p, draw(soc0s), draw(temps), steps
