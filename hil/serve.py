"""Serve a plant over Modbus in wall-clock time: the loop behind `twin hil serve`.

`BenchRun` readies the plant (`Plant.prepare`: kernels compiled, first step taken, every
register holding a measurement), then opens the bench's Modbus port, then runs the plant
in a thread. Any `hil.plant.Plant` will do; the twin hands its engine's adapter
(`twin.hil_plant`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hil.bench import Bench
from parktwin.errors import ParkTwinError, SimulationError


class BenchRun:
    """The bench's plant in a thread behind its Modbus endpoint; a context manager."""

    def __init__(self, bench: Bench, until_s: float | None = None) -> None:
        self.plant = bench.plant
        self.bench = bench
        self.until_s = until_s
        self.port: int | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            self.plant.run(until_s=self.until_s)
        except BaseException as exc:  # reported by wait()/stop()
            self.error = exc

    def start(self) -> int:
        """Ready the plant, open the port, start the plant; returns the Modbus TCP port."""
        self.plant.prepare()
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
        while self._thread is not None and self._thread.is_alive():
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


@dataclass(frozen=True)
class ServeSummary:
    """What a `serve` session did."""

    port: int
    t_s: float  # plant time served [s]
    max_lag_s: float  # the largest lag behind wall clock [s]
    writes: int  # accepted writes
    rejected: int  # writes refused with a Modbus exception
    reverts: int  # watchdog reverts


def serve(
    bench: Bench,
    duration_s: float | None = None,
    ready: Callable[[Bench, int], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> ServeSummary:
    """Serve the bench's plant until its end, `stop()`, `duration_s` plant seconds, or Ctrl-C."""
    run = BenchRun(bench, until_s=duration_s)
    port = run.start()
    if ready is not None:
        ready(bench, port)
    try:
        while run.running and not stop():
            run.wait(timeout=0.5)
    finally:
        run.stop()
    return ServeSummary(
        port=port,
        t_s=float(bench.log.t_sim_s),
        max_lag_s=float(bench.plant.max_lag_s),
        writes=len(bench.log.of("write")),
        rejected=len(bench.log.of("reject")),
        reverts=len(bench.log.of("revert")),
    )
