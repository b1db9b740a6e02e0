"""`Fleet`: N storage units whose state lives in arrays, advanced by one numba call per step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from devices import kernels as k
from devices.params import UnitParams
from devices.state import initial_state, pack_params
from parktwin.errors import InputError
from parktwin.pcs_states import PcsState

STATE_VERSION = 1
#: `Fleet.step`'s inputs by the code `kernels.step_fleet` returns for a non-finite one (1, 2, 3)
_STEP_INPUTS = ("p_set_kw", "q_set_kvar", "ambient_c")


@dataclass(slots=True)
class StepResult:
    """What one `Fleet.step` did, as (N,) arrays over the whole call (means and energies).

    Powers are means over ``n_sub * dt_s``; + = charging / drawn from the AC bus.
    ``p_ac_kw`` is at the PCS terminals; the auxiliaries ``p_aux_kw`` (HVAC + BMS/EMS) are
    drawn from the unit's AC bus besides it, so the unit takes ``p_ac_kw + p_aux_kw`` from
    the grid. The arrays are the caller's (fresh each call). Energy balance per unit:
    ``e_ac_in - e_ac_out = d(e_stored) + loss_pcs + loss_battery + e_fade``.
    """

    p_ac_kw: np.ndarray
    q_ac_kvar: np.ndarray
    p_dc_kw: np.ndarray
    p_aux_kw: np.ndarray
    e_ac_in_kwh: np.ndarray
    e_ac_out_kwh: np.ndarray
    e_aux_kwh: np.ndarray
    loss_pcs_kwh: np.ndarray
    loss_battery_kwh: np.ndarray
    soc: np.ndarray
    temp_c: np.ndarray
    soh: np.ndarray
    pcs_state: np.ndarray
    # Additions beyond the contract: the battery's loss by cause, HVAC share, fade.
    e_dc_kwh: np.ndarray
    loss_ohmic_kwh: np.ndarray
    loss_coulombic_kwh: np.ndarray
    loss_self_discharge_kwh: np.ndarray
    e_hvac_kwh: np.ndarray
    e_fade_kwh: np.ndarray
    i_dc_a: np.ndarray  # mean DC current [A], + charging
    v_dc_v: np.ndarray  # DC terminal voltage at the end of the call [V]


class Fleet:
    """N storage units (cabin + PCS + auxiliaries) as a structure of arrays.

    ``Fleet([p, p, p], soc0=0.5, temp0_c=25.0)``; `step` advances all of them in one call to
    `devices.kernels.step_units`. PCS start in STANDBY: the first non-zero setpoint starts them
    (start-up delay), and a PCS left at zero setpoint goes back to standby.
    """

    def __init__(
        self,
        params: Sequence[UnitParams],
        soc0: float | Sequence[float] = 0.5,
        temp0_c: float | Sequence[float] = 25.0,
        pcs_state0: PcsState = PcsState.STANDBY,
    ) -> None:
        self._params = tuple(params)
        n = len(self._params)
        if n == 0:
            raise InputError("Fleet: needs at least one unit")
        if not all(isinstance(p, UnitParams) for p in self._params):
            raise InputError("Fleet: params must be UnitParams (use load_unit_params)")
        soc = self._vector(soc0, "soc0")
        if np.any((soc < 0.0) | (soc > 1.0)):
            raise InputError(f"soc0: must lie in [0, 1] (got {soc0!r})")
        temp = self._vector(temp0_c, "temp0_c")
        try:
            state0 = int(PcsState(pcs_state0))
        except ValueError as exc:
            raise InputError(f"pcs_state0: not a PcsState (got {pcs_state0!r})") from exc
        self._packed = pack_params(list(self._params))
        self._xs, self._pcs, self._rf, self._rfn = initial_state(n, soc, temp, state0)
        self._acc = np.zeros((k.NA, n))
        self._q0 = np.zeros(n)

    # ---------------------------------------------------------------- inputs
    @property
    def n(self) -> int:
        """Number of units."""
        return len(self._params)

    def _vector(
        self, value: float | Sequence[float] | np.ndarray, name: str, finite: bool = True
    ) -> np.ndarray:
        """(N,) float64 of `value`; `finite=False` leaves the finiteness check to the caller
        (`step`'s kernel checks its inputs in the same pass that reads them)."""
        if type(value) is np.ndarray and value.dtype == np.float64 and value.shape == (self.n,):
            # fast path of the twin's loop: the kernel only reads it, no copy needed
            if finite and not np.isfinite(value).all():
                raise InputError(f"{name}: values must be finite")
            return value
        if isinstance(value, float | int) and math.isfinite(value):
            return np.full(self.n, float(value))
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name}: expected numbers (got {value!r})") from exc
        if arr.ndim == 0:
            arr = np.full(self.n, float(arr))
        if arr.shape != (self.n,):
            raise InputError(f"{name}: expected shape ({self.n},), got {arr.shape}")
        if finite and not np.all(np.isfinite(arr)):
            raise InputError(f"{name}: values must be finite")
        return np.ascontiguousarray(arr)

    # ---------------------------------------------------------------- stepping
    def step(
        self,
        p_set_kw: Sequence[float] | np.ndarray,
        dt_s: float,
        ambient_c: float | Sequence[float] | np.ndarray,
        n_sub: int = 1,
        q_set_kvar: Sequence[float] | np.ndarray | None = None,
    ) -> StepResult:
        """Advance `n_sub` sub-steps of `dt_s` [s] at AC setpoints `p_set_kw` (+ charging)."""
        p_set = self._vector(p_set_kw, "p_set_kw", finite=False)
        q_set = self._q0 if q_set_kvar is None else self._vector(q_set_kvar, "q_set_kvar", False)
        ambient = self._vector(ambient_c, "ambient_c", finite=False)
        if not (isinstance(dt_s, float | int | np.number) and 0 < dt_s < math.inf):
            raise InputError(f"dt_s: must be > 0 seconds (got {dt_s!r})")
        if not (isinstance(n_sub, int | np.integer) and n_sub >= 1):
            raise InputError(f"n_sub: must be an integer >= 1 (got {n_sub!r})")
        pk = self._packed
        # one kernel call checks the inputs, steps every unit and fills every result row:
        # this runs once per twin step for the whole fleet
        out = np.empty((len(k.R_FIELDS), self.n))
        bad = k.step_fleet(
            p_set, q_set, ambient, float(dt_s), int(n_sub),
            pk.pv, pk.tx, pk.ty, pk.tn, pk.ua,
            self._xs, self._pcs, self._rf, self._rfn, self._acc, out,
        )  # fmt: skip
        if bad:
            raise InputError(f"{_STEP_INPUTS[bad - 1]}: values must be finite")
        return StepResult(*out[:12], self._pcs.copy(), *out[12:])

    # ---------------------------------------------------------------- state (copies)
    @property
    def params(self) -> tuple[UnitParams, ...]:
        return self._params

    @property
    def soc(self) -> np.ndarray:
        """State of charge of the present (aged) capacity [0..1]."""
        return self._xs[k.X_SOC].copy()

    @property
    def soh(self) -> np.ndarray:
        """Present capacity / nameplate [0..1]."""
        return self._xs[k.X_SOH].copy()

    @property
    def temp_c(self) -> np.ndarray:
        """Cabin (cell) temperature [C]."""
        return self._xs[k.X_TEMP].copy()

    @property
    def efc(self) -> np.ndarray:
        """Equivalent full cycles so far (SOC throughput / 2)."""
        return self._xs[k.X_EFC].copy()

    @property
    def resistance_factor(self) -> np.ndarray:
        """Resistance growth by aging (1 = new)."""
        return self._xs[k.X_RG].copy()

    @property
    def pcs_state(self) -> np.ndarray:
        """PCS state codes (`PcsState`)."""
        return self._pcs.copy()

    @property
    def e_nom_kwh(self) -> np.ndarray:
        """Nameplate energy [kWh]."""
        return np.array([p.e_nom_kwh for p in self._params])

    @property
    def e_stored_kwh(self) -> np.ndarray:
        """Chemical energy stored above SOC 0 at the present capacity [kWh] (integral of OCV)."""
        out = np.empty(self.n)
        pk = self._packed
        k.stored_energy_all(pk.pv, pk.tx, pk.ty, pk.tn, self._xs, out)
        return out

    def p_charge_max_kw(self) -> np.ndarray:
        """AC power [kW] each unit can charge right now (>= 0)."""
        return self._limits()[0]

    def p_discharge_max_kw(self) -> np.ndarray:
        """AC power [kW] each unit can discharge right now (>= 0)."""
        return self._limits()[1]

    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        ch, dis = np.empty(self.n), np.empty(self.n)
        pk = self._packed
        k.power_limits(pk.pv, pk.tx, pk.ty, pk.tn, self._xs, self._pcs, ch, dis)
        return ch, dis

    # ---------------------------------------------------------------- PCS commands
    def _index(self, i: int) -> int:
        if not (isinstance(i, int | np.integer) and 0 <= i < self.n):
            raise InputError(f"unit index: must be 0..{self.n - 1} (got {i!r})")
        return int(i)

    def trip(self, i: int) -> None:
        """PCS protection trips: FAULT, zero power until `reset`."""
        i = self._index(i)
        self._pcs[i] = PcsState.FAULT
        self._xs[k.X_P, i] = 0.0

    def reset(self, i: int) -> None:
        """Acknowledge a fault: FAULT -> STANDBY (other states unchanged)."""
        i = self._index(i)
        if self._pcs[i] == PcsState.FAULT:
            self._pcs[i] = PcsState.STANDBY

    def start(self, i: int) -> None:
        """Start the PCS: OFF or STANDBY -> STARTING (RUNNING after the start-up delay)."""
        i = self._index(i)
        if self._pcs[i] in (PcsState.OFF, PcsState.STANDBY):
            self._pcs[i] = PcsState.STARTING
            self._xs[k.X_TIMER, i] = 0.0

    def stop(self, i: int) -> None:
        """Stop the PCS: OFF (setpoints ignored, no PCS draw); a FAULT stays a FAULT."""
        i = self._index(i)
        if self._pcs[i] != PcsState.FAULT:
            self._pcs[i] = PcsState.OFF
            self._xs[k.X_P, i] = 0.0

    # ---------------------------------------------------------------- persistence
    def save_state(self) -> dict:
        """The dynamic state as plain lists (JSON-able), to carry aging from run to run."""
        return {
            "version": STATE_VERSION,
            "unit_types": [p.name for p in self._params],
            "xs": self._xs.tolist(),
            "pcs": self._pcs.tolist(),
            "rf": self._rf.tolist(),
            "rfn": self._rfn.tolist(),
        }

    @classmethod
    def from_state(cls, params: Sequence[UnitParams], state: dict) -> Fleet:
        """A fleet of `params` continuing from `save_state()` output."""
        fleet = cls(params)
        try:
            if state["version"] != STATE_VERSION:
                raise InputError(f"state: version {state['version']!r} not {STATE_VERSION}")
            if list(state["unit_types"]) != [p.name for p in fleet._params]:
                raise InputError("state: unit_types do not match the params given")
            xs = np.asarray(state["xs"], dtype=np.float64)
            pcs = np.asarray(state["pcs"], dtype=np.int64)
            rf = np.asarray(state["rf"], dtype=np.float64)
            rfn = np.asarray(state["rfn"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: malformed ({exc})") from exc
        for name, arr, ref in (
            ("xs", xs, fleet._xs),
            ("pcs", pcs, fleet._pcs),
            ("rf", rf, fleet._rf),
            ("rfn", rfn, fleet._rfn),
        ):
            if arr.shape != ref.shape:
                raise InputError(f"state: {name} has shape {arr.shape}, expected {ref.shape}")
        if not np.all(np.isin(pcs, [int(s) for s in PcsState])):
            raise InputError("state: pcs holds a code that is not a PcsState")
        if np.any((rfn < 1) | (rfn > k.RF_DEPTH)) or not np.all(np.isfinite(xs)):
            raise InputError("state: rainflow depth or state values out of range")
        if np.any((xs[k.X_SOC] < 0) | (xs[k.X_SOC] > 1) | (xs[k.X_SOH] <= 0) | (xs[k.X_SOH] > 1)):
            raise InputError("state: soc or soh outside [0, 1]")
        fleet._xs, fleet._pcs, fleet._rf, fleet._rfn = xs.copy(), pcs, rf, rfn
        return fleet


RESULT_FIELDS = tuple(f.name for f in fields(StepResult))
