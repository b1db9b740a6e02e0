"""Memory a run needs, known before it starts; a run that would not fit is refused.

A run keeps its recorded series and its driving inputs in memory (`twin.recorder`,
`twin.inputs`) and computes the KPIs and the output files from them at the end, so its
peak grows with the recorded intervals (``days x 86400 / plant interval``) times the values
recorded per interval (unit fields x units, meter fields x meters, park fields, inputs).
The physics sub-steps inside an interval add time, not memory.

The figures below are measured, not derived: peak RSS of the default plant (3 units, 27
meters) over a day at 1 s is 1.40 GB against 0.44 GB at 15 min
(``/usr/bin/time -f %M twin run --days 1 --step 1`` and ``--step 900``), i.e. about 11 kB
per interval, which is 8.7 bytes x 8 per recorded or input value: the series are copied
into the KPI arrays, the no-storage power flow and the Parquet frames at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from parktwin.errors import InputError

BASE_BYTES = 0.5e9
"""Interpreter, numpy, numba, pandapower and the compiled kernels (measured 0.44 GB)."""
COPIES_PER_VALUE = 9.0
"""Bytes per recorded value / 8 at the peak (measured 8.7, see the module doc)."""
DEFAULT_LIMIT_GB = 2.0
NICE_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True)
class RunSize:
    """What a run keeps in memory and writes."""

    intervals: int
    values_per_interval: int
    interval_s: float

    @property
    def memory_bytes(self) -> float:
        """Estimated peak resident memory of the run [bytes]."""
        return BASE_BYTES + self.intervals * self.values_per_interval * 8.0 * COPIES_PER_VALUE

    @property
    def output_bytes(self) -> float:
        """Upper bound of the output folder's size (uncompressed series) [bytes]."""
        return self.intervals * self.values_per_interval * 8.0


def run_size(scenario) -> RunSize:
    """The size of `scenario`'s run (loads its site; no inputs are built)."""
    from twin.engine import site_of
    from twin.layout import layout_from_site
    from twin.recorder import METER_FIELDS, PARK_FIELDS, UNIT_FIELDS

    lay = layout_from_site(site_of(scenario))
    n_u, n_e = lay.n_units, lay.n_enterprises
    # recorded, and the inputs (load, PV per meter; ambient, price, period, month start)
    values = len(UNIT_FIELDS) * n_u + len(METER_FIELDS) * n_e + len(PARK_FIELDS)
    values += 2 * n_e + 4
    return RunSize(
        intervals=scenario.n_steps // scenario.plant_every,
        values_per_interval=values,
        interval_s=scenario.plant_every * scenario.step_s,
    )


def check_run_memory(scenario, limit_gb: float = DEFAULT_LIMIT_GB) -> RunSize:
    """`run_size`, or a one-line InputError with the figure and the options that lower it."""
    size = run_size(scenario)
    limit = limit_gb * 1e9
    need = size.memory_bytes
    if need <= limit:
        return size
    per_interval = size.values_per_interval * 8.0 * COPIES_PER_VALUE
    fits = max(0.0, (limit - BASE_BYTES) / per_interval)  # intervals that fit
    days_ok = math.floor(fits * size.interval_s / 86400.0)
    step_needed = scenario.days * 86400.0 / max(fits, 1.0) / scenario.plant_every
    steps_ok = [s for s in NICE_STEPS_S if s >= step_needed]
    hints = []
    if steps_ok:
        hints.append(f"--step {steps_ok[0]:g} or more")
    if days_ok >= 1:
        hints.append(f"--days {days_ok} or fewer")
    hints.append(f"--max-memory {math.ceil(need / 1e9)} if the machine has it")
    raise InputError(
        f"--step {scenario.step_s:g}: {size.intervals:,} intervals ({scenario.days} d at"
        f" {size.interval_s:g} s) need about {_gb(need)} of memory, above the limit of"
        f" {_gb(limit)}; use {', or '.join(hints)}"
    )


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes < 1e11 else f"{n_bytes / 1e9:,.0f} GB"
