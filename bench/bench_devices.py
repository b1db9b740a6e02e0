"""Benchmark of the storage-unit kernels: ns per unit-step, compiled vs plain-Python reference.

Cases:
  (a) one unit, one year at 1 s (31.5 M unit-steps): the daily two-cycle profile, one
      `Fleet.step` call per profile block (n_sub = block length in seconds);
  (b) 100 units, one year at 15 min (3.5 M unit-steps): one `Fleet.step` call per step with a
      different setpoint per unit (what the twin's plant process does).
Each case runs for an LFP cabin and for a compressed-air unit (the same profile at each unit's
rated power); the last column is the compressed-air unit-step's cost over the LFP one's in
the same run (<= 1: no dearer). The plain-Python references (`devices.reference.ReferenceUnit`,
`devices.caes_reference.CaesReferenceUnit`) run on a sample of each case and are extrapolated. Compile time is measured separately in a fresh process with an empty
numba cache (and with the cache warm, wall clock). Run times are the CPU time of this process
(`time.process_time`), which keeps other jobs on a shared machine out of the figure but not
their effect on caches and clocks: compare the ratios within one run. Each case is printed
beside its aim (ns per unit-step through `Fleet.step`) and the ratio to it (<= 1 meets it).

    python bench/bench_devices.py [--years 1.0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from devices import Fleet, PcsState, caes_kernels, kernels, load_unit_params
from devices.acceptance import acceptance_data
from devices.caes_reference import CaesReferenceUnit
from devices.reference import RUNNING, ReferenceUnit

UNIT = "lfp280-2236kwh"
CAES_UNIT = "caes-2236kwh"
#: the project's aims, ns per unit-step through `Fleet.step`: (a) one unit at 1 s, (b) 100 at 15 min
AIM_NS = {"a": 80.0, "b": 150.0}
_COMPILE_SNIPPET = (
    "import time; t0 = time.perf_counter()\n"
    "from devices import Fleet, load_unit_params\n"
    "f = Fleet([load_unit_params('lfp280-2236kwh')])\n"
    "f.step([100.0], 1.0, 25.0); f.p_charge_max_kw(); f.e_stored_kwh\n"
    "print(time.perf_counter() - t0)\n"
)


def _compile_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", _COMPILE_SNIPPET],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _daily_blocks(power_kw: float) -> list[tuple[float, float]]:
    """(seconds, setpoint kW) of the acceptance test's daily two-cycle profile."""
    return [(dur * 3600.0, d * power_kw) for _, dur, d in acceptance_data().daily.blocks]


def _reference(p, soc0: float):
    """The unit type's plain-Python reference, with its step as ``(p_kw, dt_s, n_sub)``."""
    if p.technology == "caes":
        ref = CaesReferenceUnit(p, soc0=soc0, state=RUNNING)
        return lambda p_kw, dt, n: ref.step(p_kw, dt, n)
    ref = ReferenceUnit(p, soc0, 25.0, state=RUNNING)
    return lambda p_kw, dt, n: ref.step(p_kw, 0.0, 25.0, dt, n)


def case_a(years: float, unit: str = UNIT) -> tuple[int, float, float, float]:
    """One unit at 1 s: (unit-steps, Fleet.step s, kernel-only s (the same here: one call per
    block of hours), reference s extrapolated)."""
    p = load_unit_params(unit)
    blocks = _daily_blocks(p.p_max_kw)
    days = round(365 * years)
    soc0 = 0.05 if p.technology == "lfp" else 0.0
    fleet = Fleet([p], soc0=soc0, pcs_state0=PcsState.RUNNING)
    fleet.step([0.0], 1.0, 25.0)  # compiled / loaded before timing
    t0 = time.process_time()
    steps = 0
    for _ in range(days):
        for seconds, p_set in blocks:
            n = int(seconds)
            fleet.step([p_set], 1.0, 25.0, n_sub=n)
            steps += n
    t_compiled = time.process_time() - t0
    # reference: the first 3 h of the profile (charging, then clamped at the top)
    ref = _reference(p, soc0)
    sample = 3 * 3600
    t0 = time.process_time()
    ref(blocks[0][1], 1.0, sample)
    t_ref = (time.process_time() - t0) / sample * steps
    return steps, t_compiled, t_compiled, t_ref


def case_b(years: float, unit: str = UNIT, n_units: int = 100) -> tuple[int, float, float, float]:
    """n_units at 15 min, one call per step: (unit-steps, Fleet.step s, kernel-only s,
    reference s extrapolated)."""
    rng = np.random.default_rng(2)
    p = load_unit_params(unit)
    dt = 900.0
    n_steps = round(365 * years * 96)
    # each unit: the daily profile scaled and shifted
    scale = rng.uniform(0.3, 1.0, n_units) * p.p_max_kw
    shift = rng.integers(0, 96, n_units)
    day = np.zeros(96)
    k = 0
    for seconds, p_set in _daily_blocks(1.0):
        m = int(seconds / dt)
        day[k : k + m] = p_set
        k += m
    ambient = 25.0 + 8.0 * np.sin(np.arange(96) / 96 * 2 * np.pi)
    fleet = Fleet([p] * n_units, soc0=rng.uniform(0.1, 0.9, n_units))
    fleet.step(np.zeros(n_units), dt, 25.0)
    setpoints = [day[(s + shift) % 96] * scale for s in range(96)]
    t0 = time.process_time()
    for s in range(n_steps):
        fleet.step(setpoints[s % 96], dt, ambient[s % 96])
    t_compiled = time.process_time() - t0
    # the same loop calling the kernel directly: what Fleet.step's Python costs
    q0 = np.zeros(n_units)
    amb = [np.full(n_units, a) for a in ambient]
    t0 = time.process_time()
    if p.technology == "caes":
        bank = fleet._caes
        pk = bank.packed
        for s in range(n_steps):
            caes_kernels.step_units(
                setpoints[s % 96], dt, 1, pk.pv, pk.tx, pk.ty, pk.tn, bank.xs, bank.pcs, bank.acc
            )
    else:
        pk = fleet._packed
        for s in range(n_steps):
            kernels.step_units(
                setpoints[s % 96], q0, amb[s % 96], dt, 1, pk.pv, pk.tx, pk.ty, pk.tn, pk.ua,
                fleet._xs, fleet._pcs, fleet._rf, fleet._rfn, fleet._acc,
            )  # fmt: skip
    t_kernel = time.process_time() - t0
    refs = [_reference(p, 0.5) for _ in range(n_units)]
    sample = 96
    t0 = time.process_time()
    for s in range(sample):
        for i, ref in enumerate(refs):
            ref(float(day[(s + shift[i]) % 96] * scale[i]), dt, 1)
    t_ref = (time.process_time() - t0) / (sample * n_units) * n_steps * n_units
    return n_steps * n_units, t_compiled, t_kernel, t_ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=1.0, help="simulated years per case")
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory() as cache:
        cold = _compile_seconds(cache)
        warm = _compile_seconds(cache)
    table = Table(
        title=f"devices: ns per unit-step ({UNIT} and {CAES_UNIT}, {args.years:g} simulated year)"
    )
    for col in (
        "case",
        "unit-steps",
        "Fleet.step ns",
        "aim ns",
        "Fleet.step / aim",
        "kernel only ns",
        "reference ns",
        "reference / Fleet.step",
        "Fleet.step s",
        "caes / lfp",
    ):
        table.add_column(col, justify="right")
    lfp_ns: dict[str, float] = {}
    for key, label, fn, unit in (
        ("a", "(a) 1 unit, 1 s, one call per profile block", case_a, UNIT),
        ("a", "(a) the same, compressed air", case_a, CAES_UNIT),
        ("b", "(b) 100 units, 15 min, one call per step", case_b, UNIT),
        ("b", "(b) the same, compressed air", case_b, CAES_UNIT),
    ):
        steps, t_c, t_k, t_r = fn(args.years, unit)
        ns = t_c / steps * 1e9
        vs_lfp = f"{ns / lfp_ns[key]:.2f}" if unit == CAES_UNIT else ""
        lfp_ns.setdefault(key, ns)
        table.add_row(
            label,
            f"{steps:,}",
            f"{ns:,.0f}",
            f"{AIM_NS[key]:,.0f}",
            f"{ns / AIM_NS[key]:.2f}",
            f"{t_k / steps * 1e9:,.0f}",
            f"{t_r / steps * 1e9:,.0f}",
            f"{t_r / t_c:,.0f}x",
            f"{t_c:,.1f}",
            vs_lfp,
        )
    console.print(table)
    console.print(
        f"compile (fresh numba cache, new process, incl. imports): {cold:.1f} s; "
        f"load from cache: {warm:.1f} s"
    )
    console.print(
        "for scale (published figures, not measured here): PySAM BatteryStateful ~31 µs/step, "
        "SimSES ~1.2 ms per 15-min step; reference sampled and extrapolated"
    )


if __name__ == "__main__":
    main()
