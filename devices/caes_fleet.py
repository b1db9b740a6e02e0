"""`CaesBank`: the compressed-air units of a `devices.Fleet`, as a structure of arrays.

The fleet partitions its units by technology and hands this bank the compressed-air ones; the
bank steps them in one call to `devices.caes_kernels.step_fleet` and answers in the fleet's
vocabulary: ``soc`` is the usable air mass fraction above the minimum pressure, ``soh`` is 1
(no cell fade), ``temp_c`` the air store's temperature, ``efc`` half the SOC throughput,
``e_stored_kwh`` the stored exergy (air above the minimum pressure + thermal store).
"""

from __future__ import annotations

import numpy as np

from devices import caes_kernels as ck
from devices.caes_params import CaesParams
from devices.caes_state import initial_state, pack_params, tes_design_rise_k
from parktwin.errors import InputError
from parktwin.pcs_states import PcsState


class CaesBank:
    """N compressed-air units (compressor train, air store, thermal store, expander train)."""

    def __init__(self, params: list[CaesParams], soc0: np.ndarray, pcs_state0: int) -> None:
        self.params = params
        self.n = len(params)
        self.packed = pack_params(params)
        self.xs, self.pcs = initial_state(
            self.packed.pv, soc0, pcs_state0, tes_design_rise_k(params)
        )
        self.acc = np.zeros((ck.NB, self.n))

    def step(
        self, p_set: np.ndarray, q_set: np.ndarray, ambient_c: np.ndarray, dt_s: float,
        n_sub: int, out: np.ndarray,
    ) -> int:  # fmt: skip
        """Advance all units; `out` [ck.NR, N] receives the result rows. Returns 0, or the
        code of the first input that is not finite (`caes_kernels.step_fleet`)."""
        pk = self.packed
        return ck.step_fleet(
            p_set, q_set, ambient_c, dt_s, n_sub, pk.pv, pk.tx, pk.ty, pk.tn, self.xs,
            self.pcs, self.acc, out,
        )  # fmt: skip

    @property
    def soc(self) -> np.ndarray:
        pv = self.packed.pv
        return (self.xs[ck.Y_M] - pv[ck.C_MMIN]) / (pv[ck.C_MMAX] - pv[ck.C_MMIN])

    @property
    def temp_c(self) -> np.ndarray:
        return self.packed.pv[ck.C_T0] - 273.15

    @property
    def efc(self) -> np.ndarray:
        return self.xs[ck.Y_EFC].copy()

    @property
    def e_stored_kwh(self) -> np.ndarray:
        out = np.empty(self.n)
        ck.stored_energy_all(self.packed.pv, self.xs, out)
        return out

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        ch, dis = np.empty(self.n), np.empty(self.n)
        pk = self.packed
        ck.power_limits(pk.pv, pk.tx, pk.ty, pk.tn, self.xs, self.pcs, ch, dis)
        return ch, dis

    # ------------------------------------------------------------ commands
    def trip(self, j: int) -> None:
        self.pcs[j] = PcsState.FAULT
        self.xs[ck.Y_P, j] = 0.0
        self.xs[ck.Y_MODE, j] = 0.0

    def reset(self, j: int) -> None:
        if self.pcs[j] == PcsState.FAULT:
            self.pcs[j] = PcsState.STANDBY

    def start(self, j: int) -> None:
        """Ready the unit: STARTING with no train chosen (the first setpoint starts one)."""
        if self.pcs[j] in (PcsState.OFF, PcsState.STANDBY):
            self.pcs[j] = PcsState.STARTING
            self.xs[ck.Y_TIMER, j] = 0.0
            self.xs[ck.Y_MODE, j] = 0.0

    def stop(self, j: int) -> None:
        if self.pcs[j] != PcsState.FAULT:
            self.pcs[j] = PcsState.OFF
            self.xs[ck.Y_P, j] = 0.0
            self.xs[ck.Y_MODE, j] = 0.0

    # ------------------------------------------------------------ persistence
    def save_state(self) -> dict:
        return {"xs": self.xs.tolist(), "pcs": self.pcs.tolist()}

    def load_state(self, state: dict) -> None:
        """Continue from `save_state` output (checked: shapes, codes, masses in the store)."""
        try:
            xs = np.asarray(state["xs"], dtype=np.float64)
            pcs = np.asarray(state["pcs"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: caes: malformed ({exc})") from exc
        if xs.shape != self.xs.shape or pcs.shape != self.pcs.shape:
            raise InputError(f"state: caes: xs/pcs shapes {xs.shape}/{pcs.shape} do not fit")
        if not np.all(np.isin(pcs, [int(s) for s in PcsState])):
            raise InputError("state: caes: pcs holds a code that is not a PcsState")
        pv = self.packed.pv
        m = xs[ck.Y_M]
        if not np.all(np.isfinite(xs)) or np.any(
            (m < pv[ck.C_MMIN] * (1 - 1e-9)) | (m > pv[ck.C_MMAX] * (1 + 1e-9))
        ):
            raise InputError("state: caes: air mass outside the store's pressure window")
        self.xs, self.pcs = xs.copy(), pcs
