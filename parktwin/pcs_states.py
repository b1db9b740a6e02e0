"""Operating states of a power conversion system (PCS).

The codes are stored in the devices' state arrays (the numba kernels compare against
them as plain ints) and served on the HIL bench's registers.
"""

from __future__ import annotations

from enum import IntEnum


class PcsState(IntEnum):
    """PCS operating state (codes as stored in the state arrays and on the HIL registers)."""

    OFF = 0
    STANDBY = 1
    STARTING = 2
    RUNNING = 3
    FAULT = 4
