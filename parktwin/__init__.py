"""The shared base of ParkTwin's packages: errors, validated file loading, JIT policy, files.

Every package may import this one; it imports none of them. It holds only what more
than one package needs and what no single package owns:

- `parktwin.errors`: the exception tree (translated at each boundary, shown by the CLI).
- `parktwin.config`: TOML files and package data validated into pydantic models, with
  one-line errors naming the file and the field.
- `parktwin.jit`: the one numba policy of the project.
- `parktwin.files`: writes that never leave a half-written file behind.
- The vocabulary several packages share, each defined here once: `parktwin.industries`,
  `parktwin.tariff_periods`, `parktwin.pcs_states`, `parktwin.strategy_names`.
"""

from parktwin.errors import (
    InputError,
    ParkTwinError,
    ProtocolError,
    SimulationError,
    SolverError,
)

__all__ = ["InputError", "ParkTwinError", "ProtocolError", "SimulationError", "SolverError"]
