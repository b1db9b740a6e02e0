"""Sensitivities of a solved power flow: how each storage unit's active power moves every
bus voltage and every line and transformer loading, to first order.

At a solved state V (PQ buses) the Z-bus fixed point reads ``V = w + Zpp I(V)`` with the
PQ current injections ``I = -conj(d / V)`` (d = bus demand [p.u.], + = consumption).
A small change dd of the demand changes the voltages by dV with

    dV = Zpp (-conj(dd) / conj(V) + conj(d) conj(dV) / conj(V)^2)

which is solved by the same fixed point on the already factored Ypp (a few sparse
triangular solves per unit; no Jacobian is built). Branch currents follow from
``dI_f = Yf dV``; loadings and magnitudes from the first-order change of |x|,
``d|x| = Re(conj(x) dx) / |x|``, taking the end (from/to) that sets the loading now,
as pandapower's loading definitions (``results_branch.py``) do.

The results are exact derivatives of the solved power flow; over a finite change they
are a linearisation: a line's current magnitude is convex in the injections, so callers
that must never exceed a limit re-check with a full solve (`twin.grid_guard` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import splu

_SQRT3 = math.sqrt(3.0)
#: Most fixed-point iterations of the linearised solve; the update shrinks like the power
#: flow's own and stops at 1e-12 of the first one (the park needs < 10).
_ITERATIONS = 30


@dataclass(frozen=True)
class GridSensitivity:
    """First-order change of the park's limit quantities per kW of each storage unit's
    active power (+ = charging), at one solved state; rows in ``ParkGrid`` name order.

    Out-of-service buses and branches have NaN rows.
    """

    vm_pu_per_kw: np.ndarray  # (n_bus, n_units) [p.u./kW]
    line_loading_pct_per_kw: np.ndarray  # (n_line, n_units) [%/kW]
    trafo_loading_pct_per_kw: np.ndarray  # (n_trafo, n_units) [%/kW]


class SensitivitySolver:
    """The linearised solve of one `grid.powerflow.TimeSeriesPowerFlow`'s net.

    Holds its own SuperLU of Ypp (built on first use: scipy's factor object neither pickles
    nor is kept by the power flow, whose numba kernels take the factors as plain arrays).
    """

    def __init__(self, pf) -> None:
        self._pf = pf
        self._lu = None
        n = pf._n
        self._pq_pos = np.full(n, -1, dtype=np.int64)
        self._pq_pos[pf._pq] = np.arange(pf._pq.size)
        ppci_rows = np.flatnonzero(pf._br_is)
        self._ppci_of_row = np.full(pf._n_br, -1, dtype=np.int64)
        self._ppci_of_row[ppci_rows] = np.arange(ppci_rows.size)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_lu"] = None
        return state

    def _factor(self):
        if self._lu is None:
            pf = self._pf
            ypp = pf._ybus[pf._pq][:, pf._pq].tocsc()
            self._lu = splu(ypp, permc_spec="MMD_AT_PLUS_A")
        return self._lu

    def full_voltage(self, v_pq: np.ndarray) -> np.ndarray:
        """(n_ppci,) complex voltages [p.u.] from the PQ part of a solved state."""
        pf = self._pf
        v = np.empty(pf._n, dtype=np.complex128)
        v[pf._ref] = pf._v_ref
        v[pf._pq] = v_pq
        return v

    def dv(self, v: np.ndarray, storage: np.ndarray) -> np.ndarray:
        """(n_ppci, n_units) complex dV per kW of each storage element in `storage`
        (positions in ``net.storage``) at the solved state `v` (all ppci buses)."""
        pf = self._pf
        lu = self._factor()
        pq = pf._pq
        vp = v[pq]
        d = -(vp * np.conj(pf._ybus[pq] @ v))  # demand at the solution [p.u.]
        bus, scale = pf._inj["storage"]
        rhs = np.zeros((pq.size, storage.size), dtype=np.complex128)
        for j, el in enumerate(storage):
            b = bus[el]
            if b < 0 or self._pq_pos[b] < 0:
                continue  # out of service, or at the slack: moves no voltage
            pos = self._pq_pos[b]
            dd = 1e-3 * scale[el]  # 1 kW as demand [p.u.]
            rhs[pos, j] = -dd / np.conj(vp[pos])
        diag = (np.conj(d) / np.conj(vp) ** 2)[:, None]
        dvp = lu.solve(rhs)
        scale = float(np.max(np.abs(dvp), initial=0.0))
        for _ in range(_ITERATIONS):
            nxt = lu.solve(rhs + diag * np.conj(dvp))
            done = np.max(np.abs(nxt - dvp), initial=0.0) <= 1e-12 * scale
            dvp = nxt
            if done:
                break
        out = np.zeros((pf._n, storage.size), dtype=np.complex128)
        out[pq] = dvp
        return out

    def sensitivity(self, v_pq: np.ndarray, storage: np.ndarray) -> GridSensitivity:
        """`GridSensitivity` of the net's buses, lines and transformers at the solved state
        `v_pq` (the PQ voltages the solver converged to) for the storage elements `storage`."""
        pf = self._pf
        v = self.full_voltage(v_pq)
        dv = self.dv(v, storage)
        n_u = storage.size
        # buses
        dvm = np.full((pf.n_bus, n_u), np.nan)
        on = pf._bus_ppci >= 0
        vb = v[pf._bus_ppci[on]]
        dvm[on] = np.real(np.conj(vb)[:, None] * dv[pf._bus_ppci[on]]) / np.abs(vb)[:, None]
        # branch end currents [p.u.] and their changes
        i_f, i_t = pf._yf @ v, pf._yt @ v
        di_f, di_t = pf._yf @ dv, pf._yt @ dv
        base = pf._base_mva
        # |I| in kA at each end: |I_pu| * base_mva / (sqrt3 kV)
        k_f = base / (_SQRT3 * pf._kv_f)
        k_t = base / (_SQRT3 * pf._kv_t)
        a_f, a_t = np.abs(i_f) * k_f, np.abs(i_t) * k_t
        da_f = _dabs(i_f, di_f) * k_f[:, None]
        da_t = _dabs(i_t, di_t) * k_t[:, None]
        # lines: max of both ends / (max_i_ka df parallel)
        dline = np.full((pf.n_line, n_u), np.nan)
        rows = self._ppci_of_row[pf._line_rows]
        ok = rows >= 0
        r = rows[ok]
        use_f = (a_f[r] >= a_t[r])[:, None]
        da = np.where(use_f, da_f[r], da_t[r])
        with np.errstate(divide="ignore", invalid="ignore"):
            dline[ok] = da / pf._line_imax[ok][:, None] * 100.0
        # transformers: by current (x rated voltage) or by apparent power
        dtrafo = np.full((pf.n_trafo, n_u), np.nan)
        rows = self._ppci_of_row[pf._trafo_rows]
        ok = rows >= 0
        r = rows[ok]
        vn = pf._trafo_vn[ok]
        denom = (pf._trafo_sn[ok] * pf._trafo_div[ok])[:, None]
        if pf._trafo_loading == "current":
            s_f = a_f[r] * vn[:, 0] * _SQRT3
            s_t = a_t[r] * vn[:, 1] * _SQRT3
            ds_f = da_f[r] * (vn[:, 0] * _SQRT3)[:, None]
            ds_t = da_t[r] * (vn[:, 1] * _SQRT3)[:, None]
        else:
            f, t = pf._f[r], pf._t[r]
            sf = v[f] * np.conj(i_f[r]) * base
            st = v[t] * np.conj(i_t[r]) * base
            dsf = (dv[f] * np.conj(i_f[r])[:, None] + v[f][:, None] * np.conj(di_f[r])) * base
            dst = (dv[t] * np.conj(i_t[r])[:, None] + v[t][:, None] * np.conj(di_t[r])) * base
            s_f, s_t = np.abs(sf), np.abs(st)
            ds_f, ds_t = _dabs(sf, dsf), _dabs(st, dst)
        use_f = (s_f >= s_t)[:, None]
        dtrafo[ok] = np.where(use_f, ds_f, ds_t) / denom * 100.0
        return GridSensitivity(
            vm_pu_per_kw=dvm, line_loading_pct_per_kw=dline, trafo_loading_pct_per_kw=dtrafo
        )


def _dabs(x: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """First-order change of |x| for changes dx (columns): Re(conj(x) dx) / |x| (0 at x = 0)."""
    mag = np.abs(x)
    safe = np.where(mag > 0.0, mag, 1.0)
    return np.where(mag[:, None] > 0.0, np.real(np.conj(x)[:, None] * dx) / safe[:, None], 0.0)
