"""ParkTwin's exception tree.

Third-party exceptions are translated where they enter (pandapower in `grid/`, pymodbus
in `hil/`, pydantic in `parktwin.config`), ``raise ... from exc``, so the rest of the code
and the CLI see only these. The message of each is one line that names what and where.

    ParkTwinError
    ├── InputError        a file, field, register or CLI value is wrong (user can fix it)
    ├── SolverError       a numerical method failed (power flow did not converge, LP infeasible)
    ├── SimulationError   the engine cannot go on (a unit faulted with no fallback, fell behind)
    └── ProtocolError     a Modbus peer misbehaved (exception response, timeout, bad frame)

Packages subclass these where a finer type helps a caller (`grid.errors.PowerFlowError`).
The CLI maps every ParkTwinError to a one-line message and a non-zero exit code.
"""

from __future__ import annotations


class ParkTwinError(Exception):
    """Base of every error ParkTwin raises on purpose."""

    exit_code = 1


class InputError(ParkTwinError, ValueError):
    """Bad user input: a file, a field in it, a register, a CLI value."""

    exit_code = 2


class SolverError(ParkTwinError, RuntimeError):
    """A numerical method failed: power flow not converged, LP infeasible."""

    exit_code = 3


class SimulationError(ParkTwinError, RuntimeError):
    """The simulation cannot go on as asked."""

    exit_code = 4


class ProtocolError(ParkTwinError, IOError):
    """A Modbus peer failed: exception response, timeout, connection lost, bad frame."""

    exit_code = 5
