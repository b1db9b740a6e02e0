"""Physics of a storage unit: LFP battery pack, cabin thermal + auxiliaries, PCS, aging; and
compressed-air units (compressor, air store, thermal store, expander: `caes_*` modules).

Numba kernels over arrays of units (structure of arrays); imports no other ParkTwin
package but `parktwin`. Layers (as pvlib): `kernels` (pure numba functions) and `reference`
(their plain-Python twin), `params` (validated, frozen parameter sets from
``devices/data/units/*.toml``), `state` (array layout), `fleet` (the small class on top),
`acceptance` (the GB/T 36548-style unit test).

    from devices import load_unit_params, Fleet
    p = load_unit_params("lfp280-2236kwh")
    fleet = Fleet([p, p, p], soc0=0.5, temp0_c=25.0)
    r = fleet.step([500.0, 0.0, -500.0], dt_s=1.0, ambient_c=25.0, n_sub=60)
"""

from devices.caes_params import CaesParams
from devices.fleet import Fleet, StepResult
from devices.params import AnyUnitParams, UnitParams, load_unit_params, unit_types
from parktwin.pcs_states import PcsState

__all__ = [
    "AnyUnitParams",
    "CaesParams",
    "Fleet",
    "PcsState",
    "StepResult",
    "UnitParams",
    "load_unit_params",
    "unit_types",
]
