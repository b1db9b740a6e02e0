"""Replay measured power through the twin's own unit kernel (`devices.kernels.step_units`).

`replay_rows` is the only new numba code: a loop over the measured rows that calls the
twin's kernel once per row (at that row's step) and records what a logger would have seen.
`Replayer` turns a candidate set of unit-type values into the kernel's arrays through the
same `devices.state.pack_params` the twin uses, so a fitted value means in the twin what it
meant in the fit.

Two drives:
- ``"dc"``: the battery and the cabin alone, driven by the measured DC power. The PCS is
  made transparent (no loss, no standby draw, no lag or ramp, never idle), the battery's
  limits wide (a measured power is what happened, whatever a candidate's limits would say)
  and the aging window endless (no fade within a fit);
- ``"ac"``: the whole unit as the twin runs it, driven by the measured AC power.
In a fit (``fit=True``) the battery's limits are wide (a measured power is what happened,
whatever a candidate's limits would say) and the aging window endless (no fade within a fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from devices import kernels as k
from devices.params import UnitParams
from devices.state import initial_state, pack_params
from parktwin.jit import jit
from parktwin.pcs_states import PcsState
from twin.calibrate.settings import settings

# Rows of the replay's output array.
O_V, O_SOC, O_TEMP, O_PAUX, O_PAC, O_PDC = range(6)
NO = 6


@jit
def replay_rows(
    p_set, ambient_c, temp_meas, soc_meas, t_s, restart, force_temp,
    pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc, out,
):  # fmt: skip
    """Step one unit (index 0) row by row at the measured power; out[O_*, j] per row.

    A restart row sets the state from the measured SOC and temperature (RC voltage relaxed)
    and is not simulated (NaN). With `force_temp` the cabin starts each step at the measured
    temperature (the battery's resistance sees the real cell temperature).
    """
    p1 = np.zeros(1)
    q1 = np.zeros(1)
    a1 = np.zeros(1)
    per_h = 0.0
    for j in range(p_set.shape[0]):
        if restart[j]:
            if not math.isnan(soc_meas[j]):
                xs[k.X_SOC, 0] = soc_meas[j]
            xs[k.X_V1, 0] = 0.0
            xs[k.X_TEMP, 0] = temp_meas[j] if not math.isnan(temp_meas[j]) else ambient_c[j]
            xs[k.X_P, 0] = p_set[j]
            for r in range(NO):
                out[r, j] = math.nan
            out[O_SOC, j] = xs[k.X_SOC, 0]
            out[O_TEMP, j] = xs[k.X_TEMP, 0]
            continue
        dt = t_s[j] - t_s[j - 1]
        if force_temp and not math.isnan(temp_meas[j - 1]):
            xs[k.X_TEMP, 0] = temp_meas[j - 1]
        p1[0] = p_set[j]
        a1[0] = ambient_c[j]
        k.step_units(p1, q1, a1, dt, 1, pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc)
        per_h = 3600.0 / dt
        out[O_V, j] = acc[k.A_VDC, 0]
        out[O_SOC, j] = xs[k.X_SOC, 0]
        out[O_TEMP, j] = xs[k.X_TEMP, 0]
        out[O_PAUX, j] = acc[k.A_EAUX, 0] * per_h
        out[O_PAC, j] = (acc[k.A_EIN, 0] - acc[k.A_EOUT, 0]) * per_h
        out[O_PDC, j] = acc[k.A_EDC, 0] * per_h


@dataclass(frozen=True)
class Replayed:
    """What the twin's kernel made of the measured power, one value per row (NaN at restarts)."""

    v_dc_v: np.ndarray
    soc: np.ndarray
    temp_c: np.ndarray
    p_aux_kw: np.ndarray
    p_ac_kw: np.ndarray
    p_dc_kw: np.ndarray


def _nan_or(x: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, np.nan) if x is None else np.ascontiguousarray(x, dtype=np.float64)


class Replayer:
    """Replays the measured rows ``[0, n_rows)`` for candidate unit types."""

    def __init__(
        self, m, drive: str, n_rows: int | None = None, force_temp: bool = False, fit: bool = True
    ):
        n = m.n if n_rows is None else n_rows
        # drive "dc" needs the DC power; without it the AC power drives the whole unit
        self.drive = "dc" if drive == "dc" and m.p_dc_kw is not None else "ac"
        if drive == "ac" and m.p_ac_kw is None:
            self.drive = "dc"
        p = m.p_dc_kw if self.drive == "dc" else m.p_ac_kw
        self.fit = fit
        p = np.asarray(p[:n], dtype=np.float64)
        # noise about a rest is a rest (it would flip the hysteresis branch, wake the PCS)
        p = np.where(np.abs(p) < settings().rest_deadband_kw, 0.0, p)
        self.p = np.ascontiguousarray(p)
        amb = m.ambient_c if m.ambient_c is not None else m.temp_c
        if amb is None:
            amb = np.full(m.n, 25.0)
        self.ambient = np.ascontiguousarray(np.nan_to_num(amb[:n], nan=25.0))
        self.temp = _nan_or(m.temp_c, m.n)[:n].copy()
        self.soc = _nan_or(m.soc, m.n)[:n].copy()
        self.t = np.ascontiguousarray(m.t_s[:n])
        self.restart = np.ascontiguousarray(m.restart[:n])
        self.force_temp = force_temp
        soc0 = self.soc[0] if np.isfinite(self.soc[0]) else 0.5
        self.soc0 = float(soc0)

    def run(self, params: UnitParams) -> Replayed:
        pk = pack_params([params])
        pv = pk.pv.copy()
        ty = pk.ty.copy()
        if self.drive == "dc":
            ty[k.T_LCH] = 0.0
            ty[k.T_LDIS] = 0.0
            pv[k.P_PSB] = 0.0
            pv[k.P_TAU] = 1e-9
            pv[k.P_RAMP] = 1e30
            pv[k.P_TSTART] = 0.0
            pv[k.P_TIDLE] = 1e30
            pv[k.P_S] = 1e30
        if self.fit:
            pv[k.P_ICH] = 1e30
            pv[k.P_IDIS] = 1e30
            pv[k.P_VMAX] = 1e30
            pv[k.P_VMIN] = 0.0
            pv[k.P_SOC_MIN] = 0.0
            pv[k.P_SOC_MAX] = 1.0
            pv[k.P_WIN] = 1e30
        xs, pcs, rf, rfn = initial_state(
            1, np.array([self.soc0]), np.array([25.0]), int(PcsState.RUNNING)
        )
        acc = np.zeros((k.NA, 1))
        out = np.empty((NO, len(self.p)))
        replay_rows(
            self.p, self.ambient, self.temp, self.soc, self.t, self.restart, self.force_temp,
            pv, pk.tx, ty, pk.tn, pk.ua, xs, pcs, rf, rfn, acc, out,
        )  # fmt: skip
        return Replayed(*out)
