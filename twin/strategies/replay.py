"""Replay: setpoints logged elsewhere (the HIL bench's controller) applied at their times.

Not a built-in strategy a scenario names: it needs the log (`twin.hil_compare` builds it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin.strategies.base import Observation, Strategy


class ReplaySetpoints(Strategy):
    """Each unit holds the last logged setpoint whose time is not after the control instant.

    `times_s`, `units`, `p_kw`, `q_kvar`: the log, in time order. A setpoint logged at plant
    time ``t`` is in force from the control instant at ``t`` (the bench hands setpoints to
    the plant at its step hook, just before that instant's control decision). Units never
    set stay at 0 kW.
    """

    name = "replay"

    def __init__(
        self,
        n_units: int,
        times_s: Sequence[float],
        units: Sequence[int],
        p_kw: Sequence[float],
        q_kvar: Sequence[float],
    ) -> None:
        self._t = np.asarray(times_s, dtype=float)
        if np.any(np.diff(self._t) < 0):
            raise ValueError("replay: setpoint times must not decrease")
        self._u = np.asarray(units, dtype=np.int64)
        self._p_log = np.asarray(p_kw, dtype=float)
        self._q_log = np.asarray(q_kvar, dtype=float)
        self._next = 0
        self._p = np.zeros(n_units)
        self._q = np.zeros(n_units)

    def decide(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        t_now = obs.t_s + 1e-9
        k = self._next
        while k < len(self._t) and self._t[k] <= t_now:
            self._p[self._u[k]] = self._p_log[k]
            self._q[self._u[k]] = self._q_log[k]
            k += 1
        self._next = k
        return self._p.copy(), self._q.copy()
