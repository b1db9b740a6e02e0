"""Hypothesis strategies for the devices tests: unit types, states and setpoint sequences."""

from __future__ import annotations

from hypothesis import strategies as st

from devices import load_unit_params, unit_types

unit_names = st.sampled_from(unit_types())
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
