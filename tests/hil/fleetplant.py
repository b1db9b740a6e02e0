"""A stand-in plant for bench tests: `devices.Fleet` stepped in wall-clock time in a thread.

It implements `hil.plant.Plant` with a copper-plate meter (PCC = site load + storage) and
its own fault log. The real `twin hil serve`/`verify` run the twin's engine
(`twin.hil_plant.EnginePlant`); this keeps the bench's own tests independent of the
feeders and profiles.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from devices import Fleet, load_unit_params
from hil.plant import PlantSample, StepHook, UnitAction, UnitFault, ratings_of


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
        ambient_c: float = 25.0,
    ) -> None:
        self.params = [load_unit_params(unit_type)] * n
        self.fleet = Fleet(self.params, soc0=soc0, temp0_c=ambient_c)
        self.names = tuple(f"xinsheng-{k + 1}" for k in range(n))
        self.ratings = tuple(ratings_of(p, n) for p, n in zip(self.params, self.names, strict=True))
        self.meter_names = ("xinsheng",)
        self.unit_meter = (0,) * n
        self.lock = threading.Lock()
        self.p = np.zeros(n)  # setpoints [kW]
        self.q = np.zeros(n)
        self.dt_s = dt_s
        self.speed = speed
        self.load_kw = load_kw
        self.ambient_c = ambient_c
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self.fault_log: list[tuple[float, str, str]] = []
        self._hooks: list[StepHook] = []
        self._stop = threading.Event()
        self.t_s = 0.0
        self.prepared = False

    def add_step_hook(self, fn: StepHook) -> None:
        self._hooks.append(fn)

    def stop(self) -> None:
        self._stop.set()

    def set_setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        with self.lock:
            self.p[index] = p_kw
            self.q[index] = q_kvar

    def fault(self, index: int, kind: UnitFault, begin: bool) -> None:
        self.fault_log.append((self.t_s, kind if begin else f"{kind} cleared", self.names[index]))
        if begin:
            self.fleet.trip(index)
        else:
            self.fleet.reset(index)

    def operate(self, index: int, action: UnitAction) -> None:
        getattr(self.fleet, action)(index)

    def prepare(self) -> None:
        if not self.prepared:
            self.prepared = True
            self._step()

    def _step(self) -> None:
        with self.lock:
            p_set = self.p.copy()
            q_set = self.q.copy()
        r = self.fleet.step(p_set, self.dt_s, self.ambient_c, 1, q_set)
        self.t_s += self.dt_s
        ch, dis = self.fleet.p_charge_max_kw(), self.fleet.p_discharge_max_kw()
        sample = PlantSample(
            t_s=self.t_s,
            p_ac_kw=r.p_ac_kw,
            q_ac_kvar=r.q_ac_kvar,
            p_aux_kw=r.p_aux_kw,
            soc=r.soc,
            soh=r.soh,
            temp_c=r.temp_c,
            pcs_state=r.pcs_state,
            p_set_kw=p_set,
            p_charge_max_kw=ch,
            p_discharge_max_kw=dis,
            pcc_kw=np.array([self.load_kw + float(np.sum(r.p_ac_kw + r.p_aux_kw))]),
            pcc_kvar=np.zeros(1),
            ambient_c=self.ambient_c,
            period=2,
            price_yuan_per_kwh=0.7,
        )
        for fn in self._hooks:
            fn(sample)

    def run(self, until_s: float | None = None) -> None:
        self.prepare()
        t0 = time.monotonic() - self.t_s / self.speed
        while not self._stop.is_set() and (until_s is None or self.t_s < until_s - 1e-9):
            self._step()
            due = t0 + self.t_s / self.speed
            now = time.monotonic()
            self.lag_s = max(now - due, 0.0)
            self.max_lag_s = max(self.max_lag_s, self.lag_s)
            if due > now:
                time.sleep(due - now)
