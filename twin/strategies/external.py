"""A strategy whose setpoints come from outside the engine (the HIL bench, a test)."""

from __future__ import annotations

import threading

import numpy as np

from parktwin.strategy_names import StrategyName
from twin.strategies.base import Observation, Strategy


class ExternalSetpoints(Strategy):
    """Setpoints written by another thread (e.g. Modbus writes); guards still apply on top.

    ``ext.set(i, p_kw, q_kvar)`` is thread-safe; each control period the engine reads the
    latest values. Units never written stay at 0 kW.
    """

    name = StrategyName.EXTERNAL.value

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._p: dict[int, float] = {}
        self._q: dict[int, float] = {}

    def set(self, unit_index: int, p_kw: float, q_kvar: float = 0.0) -> None:
        """Command unit `unit_index` to `p_kw` (+ charging) and `q_kvar`."""
        with self._lock:
            self._p[int(unit_index)] = float(p_kw)
            self._q[int(unit_index)] = float(q_kvar)

    def get(self, unit_index: int) -> tuple[float, float]:
        """The last (p_kw, q_kvar) commanded to a unit."""
        with self._lock:
            return self._p.get(unit_index, 0.0), self._q.get(unit_index, 0.0)

    def clear(self) -> None:
        """Every unit back to 0 kW, 0 kvar."""
        with self._lock:
            self._p.clear()
            self._q.clear()

    def decide(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        n = obs.park.n_units
        p = np.zeros(n)
        q = np.zeros(n)
        with self._lock:
            for i, v in self._p.items():
                if 0 <= i < n:
                    p[i] = v
                    q[i] = self._q.get(i, 0.0)
        return p, q
