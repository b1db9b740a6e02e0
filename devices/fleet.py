"""`Fleet`: N storage units whose state lives in arrays, advanced by one numba call per step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from devices import caes_kernels as ck
from devices import kernels as k
from devices.caes_fleet import CaesBank
from devices.caes_params import CaesParams
from devices.params import AnyUnitParams, UnitParams
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

    A compressed-air unit fills the same rows: ``p_dc_kw``/``e_dc_kwh`` are its shaft power
    and energy (+ into the compressor), ``loss_pcs_kwh`` its motor and generator losses,
    ``loss_battery_kwh`` its store side's (compression, expansion, air leak, thermal store,
    also given one by one below), ``soh`` 1, ``temp_c`` the air store's temperature, no
    reactive power, current, voltage or fade; ``e_stored`` is its stored exergy.
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
    # Compressed-air units' store-side loss by cause (0 for LFP units; their sum is
    # ``loss_battery_kwh`` of such a unit, see `devices.caes_kernels`).
    loss_compression_kwh: np.ndarray
    loss_expansion_kwh: np.ndarray
    loss_air_leak_kwh: np.ndarray
    loss_thermal_store_kwh: np.ndarray


class Fleet:
    """N storage units of either technology as structures of arrays, behind one interface.

    ``Fleet([p, p, p], soc0=0.5, temp0_c=25.0)``; `step` advances all of them: LFP units
    (cabin + PCS + auxiliaries) in one call to `devices.kernels.step_fleet`, compressed-air
    units (`devices.CaesParams`) in one call to `devices.caes_kernels.step_fleet`; the fleet
    keeps each technology's units in their own arrays and merges their result rows in unit
    order. A fleet of LFP units only takes the LFP path alone. Units start in STANDBY: the
    first non-zero setpoint starts them (start-up delay), and a unit left at zero setpoint
    goes back to standby.
    """

    def __init__(
        self,
        params: Sequence[AnyUnitParams],
        soc0: float | Sequence[float] = 0.5,
        temp0_c: float | Sequence[float] = 25.0,
        pcs_state0: PcsState = PcsState.STANDBY,
    ) -> None:
        self._params = tuple(params)
        n = len(self._params)
        if n == 0:
            raise InputError("Fleet: needs at least one unit")
        if not all(isinstance(p, UnitParams | CaesParams) for p in self._params):
            raise InputError("Fleet: params must be unit parameters (use load_unit_params)")
        soc = self._vector(soc0, "soc0")
        if np.any((soc < 0.0) | (soc > 1.0)):
            raise InputError(f"soc0: must lie in [0, 1] (got {soc0!r})")
        temp = self._vector(temp0_c, "temp0_c")
        try:
            state0 = int(PcsState(pcs_state0))
        except ValueError as exc:
            raise InputError(f"pcs_state0: not a PcsState (got {pcs_state0!r})") from exc
        caes = np.array([isinstance(p, CaesParams) for p in self._params])
        #: unit positions of each technology (None: the fleet is all LFP, the fast path)
        self._lfp_at = np.flatnonzero(~caes) if caes.any() else None
        self._caes_at = np.flatnonzero(caes)
        lfp = [p for p in self._params if not isinstance(p, CaesParams)]
        n_lfp = len(lfp)
        sel = slice(None) if self._lfp_at is None else self._lfp_at
        self._packed = pack_params(lfp) if lfp else None
        self._xs, self._pcs, self._rf, self._rfn = initial_state(n_lfp, soc[sel], temp[sel], state0)
        self._acc = np.zeros((k.NA, n_lfp))
        self._q0 = np.zeros(n)
        self._caes = (
            CaesBank([p for p in self._params if isinstance(p, CaesParams)], soc[caes], state0)
            if caes.any()
            else None
        )
        #: where unit i lives: (True for compressed air, index in its technology's arrays)
        self._where = [(bool(c), int(np.sum(caes[:i] == c))) for i, c in enumerate(caes)]

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
        if self._caes is not None:
            return self._step_mixed(p_set, q_set, ambient, float(dt_s), int(n_sub))
        pk = self._packed
        # one kernel call checks the inputs, steps every unit and fills every result row:
        # this runs once per twin step for the whole fleet
        out = np.empty((ck.NR, self.n))
        out[len(k.R_FIELDS) :] = 0.0
        bad = k.step_fleet(
            p_set, q_set, ambient, float(dt_s), int(n_sub),
            pk.pv, pk.tx, pk.ty, pk.tn, pk.ua,
            self._xs, self._pcs, self._rf, self._rfn, self._acc, out,
        )  # fmt: skip
        if bad:
            raise InputError(f"{_STEP_INPUTS[bad - 1]}: values must be finite")
        return StepResult(*out[:12], self._pcs.copy(), *out[12:])

    def _step_mixed(
        self, p_set: np.ndarray, q_set: np.ndarray, ambient: np.ndarray, dt_s: float, n_sub: int
    ) -> StepResult:
        """Each technology's units in its kernel's one call; rows merged in unit order (a
        fleet of compressed-air units only: one call, nothing to merge)."""
        bank = self._caes
        if not len(self._lfp_at):
            out = np.empty((ck.NR, self.n))
            bad = bank.step(p_set, q_set, ambient, dt_s, n_sub, out)
            if bad:
                raise InputError(f"{_STEP_INPUTS[bad - 1]}: values must be finite")
            return StepResult(*out[:12], bank.pcs.copy(), *out[12:])
        for name, arr in zip(_STEP_INPUTS, (p_set, q_set, ambient), strict=True):
            if not np.isfinite(arr).all():
                raise InputError(f"{name}: values must be finite")
        out = np.zeros((ck.NR, self.n))
        pcs = np.empty(self.n, dtype=np.int64)
        at = self._lfp_at
        pk = self._packed
        part = np.zeros((ck.NR, len(at)))
        k.step_fleet(
            p_set[at], q_set[at], ambient[at], dt_s, n_sub,
            pk.pv, pk.tx, pk.ty, pk.tn, pk.ua,
            self._xs, self._pcs, self._rf, self._rfn, self._acc, part,
        )  # fmt: skip
        out[:, at] = part
        pcs[at] = self._pcs
        at = self._caes_at
        part = np.empty((ck.NR, len(at)))
        bank.step(p_set[at], q_set[at], ambient[at], dt_s, n_sub, part)
        out[:, at] = part
        pcs[at] = bank.pcs
        return StepResult(*out[:12], pcs, *out[12:])

    def _merged(self, lfp: np.ndarray | None, caes: np.ndarray, dtype=np.float64) -> np.ndarray:
        """(N,) of the LFP units' values and the compressed-air units', in unit order."""
        out = np.empty(self.n, dtype=dtype)
        if self._lfp_at is not None and lfp is not None:
            out[self._lfp_at] = lfp
        out[self._caes_at] = caes
        return out

    # ---------------------------------------------------------------- state (copies)
    @property
    def params(self) -> tuple[AnyUnitParams, ...]:
        return self._params

    @property
    def soc(self) -> np.ndarray:
        """State of charge of the present (aged) capacity [0..1]."""
        if self._caes is not None:
            return self._merged(self._xs[k.X_SOC], self._caes.soc)
        return self._xs[k.X_SOC].copy()

    @property
    def soh(self) -> np.ndarray:
        """Present capacity / nameplate [0..1] (1 for compressed-air units: no cell fade)."""
        if self._caes is not None:
            return self._merged(self._xs[k.X_SOH], np.ones(self._caes.n))
        return self._xs[k.X_SOH].copy()

    @property
    def temp_c(self) -> np.ndarray:
        """Cabin (cell) temperature [C]; a compressed-air unit's air-store temperature."""
        if self._caes is not None:
            return self._merged(self._xs[k.X_TEMP], self._caes.temp_c)
        return self._xs[k.X_TEMP].copy()

    @property
    def efc(self) -> np.ndarray:
        """Equivalent full cycles so far (SOC throughput / 2)."""
        if self._caes is not None:
            return self._merged(self._xs[k.X_EFC], self._caes.efc)
        return self._xs[k.X_EFC].copy()

    @property
    def resistance_factor(self) -> np.ndarray:
        """Resistance growth by aging (1 = new; 1 for compressed-air units)."""
        if self._caes is not None:
            return self._merged(self._xs[k.X_RG], np.ones(self._caes.n))
        return self._xs[k.X_RG].copy()

    @property
    def pcs_state(self) -> np.ndarray:
        """PCS state codes (`PcsState`; a compressed-air unit's running train's state)."""
        if self._caes is not None:
            return self._merged(self._pcs, self._caes.pcs, np.int64)
        return self._pcs.copy()

    @property
    def e_nom_kwh(self) -> np.ndarray:
        """Nameplate energy [kWh]."""
        return np.array([p.e_nom_kwh for p in self._params])

    @property
    def e_stored_kwh(self) -> np.ndarray:
        """Chemical energy stored above SOC 0 at the present capacity [kWh] (integral of OCV)."""
        if self._caes is not None:
            return self._merged(self._lfp_stored(), self._caes.e_stored_kwh)
        return self._lfp_stored()

    def _lfp_stored(self) -> np.ndarray | None:
        pk = self._packed
        if pk is None:
            return None
        out = np.empty(self._xs.shape[1])
        k.stored_energy_all(pk.pv, pk.tx, pk.ty, pk.tn, self._xs, out)
        return out

    def p_charge_max_kw(self) -> np.ndarray:
        """AC power [kW] each unit can charge right now (>= 0)."""
        return self._limits()[0]

    def p_discharge_max_kw(self) -> np.ndarray:
        """AC power [kW] each unit can discharge right now (>= 0)."""
        return self._limits()[1]

    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        n_lfp = self._xs.shape[1]
        ch, dis = np.empty(n_lfp), np.empty(n_lfp)
        pk = self._packed
        if pk is not None:
            k.power_limits(pk.pv, pk.tx, pk.ty, pk.tn, self._xs, self._pcs, ch, dis)
        if self._caes is None:
            return ch, dis
        c_ch, c_dis = self._caes.limits()
        return self._merged(ch, c_ch), self._merged(dis, c_dis)

    # ---------------------------------------------------------------- PCS commands
    def _index(self, i: int) -> int:
        if not (isinstance(i, int | np.integer) and 0 <= i < self.n):
            raise InputError(f"unit index: must be 0..{self.n - 1} (got {i!r})")
        return int(i)

    def _bank(self, i: int) -> tuple[CaesBank | None, int]:
        """(the compressed-air bank or None for an LFP unit, the unit's index there)."""
        is_caes, j = self._where[self._index(i)]
        return (self._caes if is_caes else None), j

    def trip(self, i: int) -> None:
        """PCS protection trips: FAULT, zero power until `reset`."""
        bank, i = self._bank(i)
        if bank is not None:
            return bank.trip(i)
        self._pcs[i] = PcsState.FAULT
        self._xs[k.X_P, i] = 0.0

    def reset(self, i: int) -> None:
        """Acknowledge a fault: FAULT -> STANDBY (other states unchanged)."""
        bank, i = self._bank(i)
        if bank is not None:
            return bank.reset(i)
        if self._pcs[i] == PcsState.FAULT:
            self._pcs[i] = PcsState.STANDBY

    def start(self, i: int) -> None:
        """Start the PCS: OFF or STANDBY -> STARTING (RUNNING after the start-up delay)."""
        bank, i = self._bank(i)
        if bank is not None:
            return bank.start(i)
        if self._pcs[i] in (PcsState.OFF, PcsState.STANDBY):
            self._pcs[i] = PcsState.STARTING
            self._xs[k.X_TIMER, i] = 0.0

    def stop(self, i: int) -> None:
        """Stop the PCS: OFF (setpoints ignored, no PCS draw); a FAULT stays a FAULT."""
        bank, i = self._bank(i)
        if bank is not None:
            return bank.stop(i)
        if self._pcs[i] != PcsState.FAULT:
            self._pcs[i] = PcsState.OFF
            self._xs[k.X_P, i] = 0.0

    # ---------------------------------------------------------------- persistence
    def save_state(self) -> dict:
        """The dynamic state as plain lists (JSON-able), to carry aging from run to run."""
        out = {
            "version": STATE_VERSION,
            "unit_types": [p.name for p in self._params],
            "xs": self._xs.tolist(),
            "pcs": self._pcs.tolist(),
            "rf": self._rf.tolist(),
            "rfn": self._rfn.tolist(),
        }
        if self._caes is not None:  # the LFP arrays then hold the LFP units only
            out["caes"] = self._caes.save_state()
        return out

    @classmethod
    def from_state(cls, params: Sequence[AnyUnitParams], state: dict) -> Fleet:
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
        if fleet._caes is not None:
            if "caes" not in state:
                raise InputError("state: no 'caes' part for the compressed-air units")
            fleet._caes.load_state(state["caes"])
        return fleet


RESULT_FIELDS = tuple(f.name for f in fields(StepResult))
