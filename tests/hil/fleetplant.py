"""A stand-in plant for bench tests: `devices.Fleet` stepped in wall-clock time in a thread.

It has the shape of `twin.engine.Simulation` that the bench uses (``add_step_hook``,
``run``, ``stop``, ``fleet``, ``lag_s``) with a copper-plate meter: PCC = site load +
storage. The real `twin hil serve`/`verify` run the twin's engine; this keeps the bench's
own tests independent of the feeders and profiles.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from devices import Fleet, load_unit_params
from twin.engine import PlantView


class Setpoints:
    def __init__(self, n: int) -> None:
        self.lock = threading.Lock()
        self.p = np.zeros(n)

    def set(self, i: int, p_kw: float, q_kvar: float = 0.0) -> None:
        with self.lock:
            self.p[i] = p_kw


class FleetPlant:
    """N units of one type behind one meter, stepped at `dt_s` in wall-clock time."""

    def __init__(
        self,
        n: int = 3,
        dt_s: float = 0.1,
        speed: float = 1.0,
        load_kw: float = 4000.0,
        soc0: float = 0.5,
        unit_type: str = "lfp280-2236kwh",
    ) -> None:
        self.params = [load_unit_params(unit_type)] * n
        self.fleet = Fleet(self.params, soc0=soc0, temp0_c=25.0)
        self.names = tuple(f"xinsheng-{k + 1}" for k in range(n))
        self.ext = Setpoints(n)
        self.dt_s = dt_s
        self.speed = speed
        self.load_kw = load_kw
        self.lag_s = 0.0
        self._hooks = []
        self._stop = threading.Event()
        self.t_s = 0.0

    def add_step_hook(self, fn) -> None:
        self._hooks.append(fn)

    def stop(self) -> None:
        self._stop.set()

    def run(self, until_s: float | None = None) -> None:
        n = len(self.params)
        view = PlantView(self.names, ("xinsheng",), price=0.7)
        t0 = time.monotonic()
        while not self._stop.is_set() and (until_s is None or self.t_s < until_s - 1e-9):
            with self.ext.lock:
                p_set = self.ext.p.copy()
            r = self.fleet.step(p_set, self.dt_s, 25.0)
            self.t_s += self.dt_s
            view.t_s = self.t_s
            view.soc, view.soh, view.temp_c = r.soc, r.soh, r.temp_c
            view.p_ac_kw, view.q_ac_kvar, view.p_aux_kw = r.p_ac_kw, r.q_ac_kvar, r.p_aux_kw
            view.pcs_state, view.p_set_kw = r.pcs_state, p_set
            view.pcc_kw = np.array([self.load_kw + float(np.sum(r.p_ac_kw + r.p_aux_kw))])
            view.pcc_kvar = np.zeros(1)
            for fn in self._hooks:
                fn(view)
            due = t0 + self.t_s / self.speed
            now = time.monotonic()
            self.lag_s = max(now - due, 0.0)
            if due > now:
                time.sleep(due - now)
        del n
