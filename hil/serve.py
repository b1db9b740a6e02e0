"""Serve the twin's plant over Modbus in wall-clock time: `twin hil serve`.

`BenchRun` runs a plant (the twin's `Simulation`, or anything with the same
``add_step_hook``/``run``/``stop``/``fleet`` shape) in a thread and its bench's Modbus
endpoint in another. `simulation_bench` builds the twin's `Simulation` in wall-clock mode
with an `ExternalSetpoints` strategy and the bench over it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hil.bench import Bench, BenchConfig
from hil.emulated import UnitRatings
from parktwin.errors import ParkTwinError, SimulationError


def ratings_of(params: Any, name: str) -> UnitRatings:
    """The register maps' view of a `devices.UnitParams`."""
    return UnitRatings(
        name=name,
        unit_type=str(params.name),
        p_max_kw=float(params.p_max_kw),
        s_max_kva=float(params.pcs_kva),
        e_nom_kwh=float(params.e_nom_kwh),
        soc_min=float(params.soc_min),
        soc_max=float(params.soc_max),
        ramp_kw_per_s=float(params.ramp_kw_per_s),
    )


class BenchRun:
    """A plant thread plus the bench's Modbus endpoint; a context manager."""

    def __init__(self, plant: Any, bench: Bench, until_s: float | None = None) -> None:
        self.plant = plant
        self.bench = bench
        self.until_s = until_s
        self.port: int | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        plant.add_step_hook(bench.on_step)

    def _run(self) -> None:
        try:
            self.plant.run(until_s=self.until_s)
        except BaseException as exc:  # reported by wait()/stop()
            self.error = exc

    def start(self) -> int:
        """Serve, then start the plant; returns the Modbus TCP port."""
        self.port = self.bench.serve()
        self._thread = threading.Thread(target=self._run, name="plant", daemon=True)
        self._thread.start()
        return self.port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None, poll: Callable[[], None] | None = None) -> bool:
        """Wait for the plant to finish; True if it did. `poll` is called about every 0.2 s."""
        t_end = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if t_end is not None and time.monotonic() >= t_end:
                return False
            self._thread.join(0.2)
            if poll is not None:
                poll()
        self._raise()
        return True

    def stop(self) -> None:
        """Stop the plant (after its current step) and the endpoint."""
        self.plant.stop()
        if self._thread is not None:
            self._thread.join(10.0)
        self.bench.close()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            if isinstance(err, ParkTwinError):
                raise err
            raise SimulationError(f"plant stopped: {type(err).__name__}: {err}") from err

    def __enter__(self) -> BenchRun:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def simulation_bench(
    scenario: Any, config: BenchConfig, speed: float = 1.0, **sim_kwargs: Any
) -> tuple[Any, Bench, Any]:
    """The twin's `Simulation` in wall-clock mode (`speed` simulated s per s), and its bench.

    Returns ``(sim, bench, external_setpoints)``. The scenario's strategy is replaced by
    `ExternalSetpoints`: the controller on the bench decides. `sim_kwargs` go to
    `Simulation` (e.g. ``inputs``).
    """
    from twin.engine import Simulation
    from twin.strategies import ExternalSetpoints

    ext = ExternalSetpoints()
    sim = Simulation(scenario, strategy=ext, realtime_speed=speed, **sim_kwargs)
    lay = sim.layout
    ratings = [ratings_of(p, n) for p, n in zip(lay.unit_params, lay.unit_names, strict=True)]
    bench = Bench(
        ratings,
        lay.enterprise_names,
        [int(j) for j in lay.unit_enterprise],
        config,
        set_setpoint=ext.set,
        fleet=sim.fleet,
    )
    return sim, bench, ext


def coarse_inputs(scenario: Any, block_s: float = 900.0) -> Any:
    """The scenario's driving series built at `block_s` and held over each block at the
    scenario's step: a 0.1-0.2 s bench step then costs a 15-min build, not a 0.2-s one
    (loads and PV move slowly; the bench's own scripted load drives the host meter)."""
    import numpy as np

    from twin.engine import site_of
    from twin.inputs import Inputs, build_inputs, month_starts

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


def bench_scenario(scenario: Any | None = None, step_s: float = 0.2, days: int = 1) -> Any:
    """The scenario `twin hil serve` runs: the given one (or the built-in park with all its
    storage) for `days` at `step_s`, strategy external, anti-backflow guard off (the
    controller on the bench is what keeps the PCC importing)."""
    from twin.scenario import GuardConfig, Scenario

    sc = scenario if scenario is not None else Scenario()
    return sc.model_copy(
        update={
            "days": days,
            "step_s": step_s,
            "control_s": None,
            "grid_s": None,
            "strategy": "external",
            "guards": sc.guards.model_copy(update={"anti_backflow": False})
            if isinstance(sc.guards, GuardConfig)
            else GuardConfig(anti_backflow=False),
        }
    ).revalidated()


def serve(
    scenario: Any,
    config: BenchConfig,
    speed: float = 1.0,
    duration_s: float | None = None,
    ready: Callable[[Bench, int], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, float]:
    """`twin hil serve`: the plant in wall-clock time behind Modbus until the end, `stop()`,
    `duration_s` simulated seconds, or Ctrl-C. Returns a small summary."""
    sim, bench, _ = simulation_bench(scenario, config, speed, inputs=coarse_inputs(scenario))
    run = BenchRun(sim, bench, until_s=duration_s)
    port = run.start()
    if ready is not None:
        ready(bench, port)
    try:
        while run.running and not stop():
            run.wait(timeout=0.5)
    finally:
        run.stop()
    return {
        "port": port,
        "t_s": float(bench.log.t_sim_s),
        "max_lag_s": float(getattr(sim, "max_lag_s", 0.0)),
        "writes": float(len(bench.log.of("write"))),
        "rejected": float(len(bench.log.of("reject"))),
        "reverts": float(len(bench.log.of("revert"))),
    }
