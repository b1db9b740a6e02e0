"""What the bench needs of a plant, stated as types: `Plant`, `PlantSample`, `UnitRatings`.

The bench (`hil.bench`) serves whatever implements `Plant`; it never imports the twin.
The twin hands it an adapter of its engine (`twin.hil_plant.EnginePlant`); the bench's
own tests use a small stand-in over `devices.Fleet`. Signs as everywhere in the project:
positive power = charging (drawn from the AC bus).

Threads: `run` blocks in the plant's thread and calls each step hook there after every
plant interval; `set_setpoint` may be called from any thread (the Modbus server's);
`fault` and `operate` are called only from a step hook, so the plant's state is only ever
changed in its own thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from devices import UnitParams

#: faults of a unit that stop its PCS (the plant's fault path, one fault log)
UnitFault = Literal["pcs_trip", "over_temperature"]
#: operator commands to a unit's PCS
UnitAction = Literal["start", "stop", "reset"]


@dataclass(frozen=True)
class UnitRatings:
    """What the register maps need to know of a unit (from `devices.UnitParams`)."""

    name: str
    unit_type: str
    p_max_kw: float
    s_max_kva: float
    e_nom_kwh: float
    soc_min: float
    soc_max: float
    ramp_kw_per_s: float
    v_dc_nom_v: float  # the pack's nominal DC voltage (802 AHRtg = WHRtg / V)

    @property
    def q_max_kvar(self) -> float:
        """Reactive power rating [kvar]: what the kVA rating leaves beside full P, else 0.3 S."""
        return math.sqrt(max(self.s_max_kva**2 - self.p_max_kw**2, 0.0)) or 0.3 * self.s_max_kva

    def limits(self) -> dict[str, float]:
        """Ratings by name, as register maps' ``limit`` fields refer to them."""
        return {
            "p_max_kw": self.p_max_kw,
            "s_max_kva": self.s_max_kva,
            "q_max_kvar": self.q_max_kvar,
            "hundred": 100.0,
            "revert_max_s": 3600.0,
        }


def ratings_of(params: UnitParams, name: str) -> UnitRatings:
    """The register maps' view of a unit type's parameters, for the unit `name`."""
    return UnitRatings(
        name=name,
        unit_type=str(params.name),
        p_max_kw=float(params.p_max_kw),
        s_max_kva=float(params.pcs_kva),
        e_nom_kwh=float(params.e_nom_kwh),
        soc_min=float(params.soc_min),
        soc_max=float(params.soc_max),
        ramp_kw_per_s=float(params.ramp_kw_per_s),
        v_dc_nom_v=float(params.v_nom),
    )


@dataclass(eq=False)
class PlantSample:
    """The plant after one interval, as a step hook sees it (arrays may be shared: copy to keep).

    Per unit: powers [kW, + charging], ``soc``/``soh`` 0..1, cabin temperature [C], PCS
    state (`devices.PcsState` codes), the setpoint in force and what the unit can charge
    and discharge now [kW, >= 0]. Per meter: the PCC flow [kW, kvar, import +]. Site:
    ambient temperature [C], tariff period code and energy price [yuan/kWh]; the park's
    lowest and highest bus voltage at the last power flow [p.u.] (NaN: the plant solves
    none) and each guard's interventions on the setpoints so far (empty: no guards).
    """

    t_s: float
    p_ac_kw: np.ndarray
    q_ac_kvar: np.ndarray
    p_aux_kw: np.ndarray
    soc: np.ndarray
    soh: np.ndarray
    temp_c: np.ndarray
    pcs_state: np.ndarray
    p_set_kw: np.ndarray
    p_charge_max_kw: np.ndarray
    p_discharge_max_kw: np.ndarray
    pcc_kw: np.ndarray
    pcc_kvar: np.ndarray
    ambient_c: float
    period: int
    price_yuan_per_kwh: float
    v_min_pu: float = math.nan
    v_max_pu: float = math.nan
    guard_interventions: Mapping[str, int] = field(default_factory=dict)


StepHook = Callable[[PlantSample], None]


class Plant(Protocol):
    """A running park the bench can serve: ratings, a step hook, setpoints, faults, commands."""

    @property
    def ratings(self) -> Sequence[UnitRatings]:
        """Every storage unit, in park order (unit ids 1..N on the bench)."""
        ...

    @property
    def meter_names(self) -> Sequence[str]:
        """Every PCC meter (enterprise), in park order."""
        ...

    @property
    def unit_meter(self) -> Sequence[int]:
        """Index of the meter each unit sits behind."""
        ...

    @property
    def lag_s(self) -> float:
        """How far the plant runs behind wall clock now [s] (0 in simulated time)."""
        ...

    @property
    def max_lag_s(self) -> float:
        """The largest lag so far [s]."""
        ...

    def add_step_hook(self, fn: StepHook) -> None:
        """Call ``fn(sample)`` after every plant interval, in the plant's thread."""
        ...

    def prepare(self) -> None:
        """Be ready to serve: compile, build, take the first step (calls the hooks once)."""
        ...

    def run(self, until_s: float | None = None) -> None:
        """Run (blocking) to `until_s` plant seconds or the end; wall clock from now on."""
        ...

    def stop(self) -> None:
        """End `run` after the current interval (thread-safe)."""
        ...

    def set_setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        """Command unit `index` (thread-safe); the plant's own guards still apply."""
        ...

    def fault(self, index: int, kind: UnitFault, begin: bool) -> None:
        """Begin or end a fault of unit `index` now, through the plant's fault path."""
        ...

    def operate(self, index: int, action: UnitAction) -> None:
        """An operator command to unit `index`'s PCS."""
        ...
