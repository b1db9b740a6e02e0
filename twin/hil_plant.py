"""The twin's engine as the HIL bench's plant: `EnginePlant` implements `hil.plant.Plant`.

`hil` never imports the twin; this module is the one place the two meet. The engine runs
in wall-clock mode with an `ExternalSetpoints` strategy (the controller on the bench
decides), bench faults go through the engine's fault path (`Simulation.apply_fault`, one
fault log), operator commands through `Simulation.operate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hil.bench import Bench, BenchConfig
from hil.plant import PlantSample, StepHook, UnitAction, UnitFault, UnitRatings, ratings_of
from hil.verify import VerifySpec
from parktwin.errors import SimulationError
from twin.engine import PlantView, Simulation, site_of
from twin.inputs import Inputs, build_inputs, month_starts
from twin.scenario import GuardConfig, Scenario, default_scenario
from twin.strategies import ExternalSetpoints


class EnginePlant:
    """A `Simulation` (wall-clock mode, `ExternalSetpoints`) as the bench's `Plant`."""

    def __init__(self, sim: Simulation, setpoints: ExternalSetpoints) -> None:
        if sim.strategy is not setpoints:
            raise SimulationError("EnginePlant: the simulation must run the given setpoints")
        self.sim = sim
        self._setpoints = setpoints
        lay = sim.layout
        self._ratings = tuple(
            ratings_of(p, n) for p, n in zip(lay.unit_params, lay.unit_names, strict=True)
        )
        self._unit_meter = tuple(int(j) for j in lay.unit_enterprise)
        self._ambient_c = sim.inputs.ambient_c
        self._hooks: list[StepHook] = []
        self._prepared = False
        sim.add_step_hook(self._on_view)

    @property
    def ratings(self) -> Sequence[UnitRatings]:
        return self._ratings

    @property
    def meter_names(self) -> Sequence[str]:
        return self.sim.layout.enterprise_names

    @property
    def unit_meter(self) -> Sequence[int]:
        return self._unit_meter

    @property
    def lag_s(self) -> float:
        return float(self.sim.lag_s)

    @property
    def max_lag_s(self) -> float:
        return float(self.sim.max_lag_s)

    def add_step_hook(self, fn: StepHook) -> None:
        self._hooks.append(fn)

    def _on_view(self, v: PlantView) -> None:
        fleet = self.sim.fleet
        snap = self.sim.snap
        sample = PlantSample(
            t_s=v.t_s,
            p_ac_kw=v.p_ac_kw,
            q_ac_kvar=v.q_ac_kvar,
            p_aux_kw=v.p_aux_kw,
            soc=v.soc,
            soh=v.soh,
            temp_c=v.temp_c,
            pcs_state=v.pcs_state,
            p_set_kw=v.p_set_kw,
            p_charge_max_kw=fleet.p_charge_max_kw(),
            p_discharge_max_kw=fleet.p_discharge_max_kw(),
            pcc_kw=v.pcc_kw,
            pcc_kvar=v.pcc_kvar,
            ambient_c=float(self._ambient_c[v.k]),
            period=int(v.period),
            price_yuan_per_kwh=float(v.price_yuan_per_kwh),
            v_min_pu=float(snap.v_min_pu),
            v_max_pu=float(snap.v_max_pu),
            guard_interventions=self.sim.guard_report(),
        )
        for fn in self._hooks:
            fn(sample)

    def prepare(self) -> None:
        """Compile the kernels and take the first interval (the hooks publish it)."""
        if not self._prepared:
            self.sim.run(until_s=self.sim.interval_s)
            self._prepared = True

    def run(self, until_s: float | None = None) -> None:
        self.prepare()
        self.sim.run(until_s=until_s)

    def stop(self) -> None:
        self.sim.stop()

    def set_setpoint(self, index: int, p_kw: float, q_kvar: float) -> None:
        self._setpoints.set(index, p_kw, q_kvar)

    def fault(self, index: int, kind: UnitFault, begin: bool) -> None:
        self.sim.apply_fault(kind, index, begin)

    def operate(self, index: int, action: UnitAction) -> None:
        self.sim.operate(index, action)


def engine_plant(scenario: Scenario, speed: float = 1.0) -> EnginePlant:
    """The scenario's park in wall-clock mode (`speed` plant s per s) under external setpoints,
    driven by coarse inputs (`coarse_inputs`)."""
    ext = ExternalSetpoints()
    sim = Simulation(scenario, strategy=ext, realtime_speed=speed, inputs=coarse_inputs(scenario))
    return EnginePlant(sim, ext)


def coarse_inputs(scenario: Scenario, block_s: float = 900.0) -> Inputs:
    """The scenario's driving series built at `block_s` and held over each block at the
    scenario's step: a 0.1-0.2 s bench step then costs a 15-min build, not a 0.2-s one
    (loads and PV move slowly; the bench's own scripted load drives the host meter)."""
    rep = round(block_s / scenario.step_s)
    if abs(rep * scenario.step_s - block_s) > 1e-9:
        raise SimulationError(f"step_s {scenario.step_s} does not divide {block_s} s")
    n_blocks = -(-scenario.n_steps // rep)
    c = build_inputs(
        site_of(scenario),
        scenario.start,
        n_blocks,
        block_s,
        scenario.seed,
        scenario.load_growth_per_year,
    )
    n = scenario.n_steps

    def fine(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, rep, axis=0)[:n]

    return Inputs(
        start=c.start,
        interval_s=float(scenario.step_s),
        load_kw=fine(c.load_kw),
        pv_kw=fine(c.pv_kw),
        ambient_c=fine(c.ambient_c),
        period=fine(c.period),
        price_yuan_per_kwh=fine(c.price_yuan_per_kwh),
        month_start=month_starts(c.start, n, scenario.step_s),
    )


def bench_scenario(
    scenario: Scenario | None = None, step_s: float = 0.2, days: int = 1
) -> Scenario:
    """The scenario `twin hil serve` runs: the given one (or the built-in park with all its
    storage) for `days` at `step_s`, strategy external, anti-backflow guard off (the
    controller on the bench is what keeps the PCC importing)."""
    sc = scenario if scenario is not None else Scenario()
    return sc.model_copy(
        update={
            "days": days,
            "step_s": step_s,
            "control_s": None,
            "grid_s": None,
            "strategy": "external",
            "guards": sc.guards.model_copy(update={"anti_backflow": False}),
        }
    ).revalidated()


def verify_scenario(spec: VerifySpec) -> Scenario:
    """The twin's scenario for a verify day: the built-in park on the spec's date, its step,
    SOC and seed; anti-backflow guard off (the controller under test is what is judged)."""
    return default_scenario().model_copy(
        update={
            "start": spec.start,
            "days": 1,
            "step_s": spec.step_s,
            "control_s": None,
            "grid_s": None,
            "soc0": spec.soc0,
            "seed": spec.seed,
            "guards": GuardConfig(anti_backflow=False),
            "strategy": "external",
        }
    )


def serve_bench(scenario: Scenario, config: BenchConfig, speed: float = 1.0) -> Bench:
    """`twin hil serve`'s bench over the scenario's park (not yet ready: `BenchRun` readies it)."""
    return Bench(engine_plant(scenario, speed), config)
