"""Errors of `grid/`: subclasses of ParkTwin's tree that a caller may want to tell apart.

parktwin.errors.SolverError
└── PowerFlowError        a step of the power flow did not converge (names the step)
parktwin.errors.InputError
└── UnsupportedNetError   the net holds an element the fast solver does not model
"""

from __future__ import annotations

from parktwin.errors import InputError, SolverError


class PowerFlowError(SolverError):
    """A power-flow step did not converge; the message names the step and the mismatch."""


class UnsupportedNetError(InputError):
    """The pandapower net holds an element (or option) the time-series solver cannot model."""
