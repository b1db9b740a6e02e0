"""Bench: what the grid-aware guard adds to a run's time.

The whole park's storage (all groups, TOU) over `--days` at 15-min steps, once with the
guard and once without it, in the same process; the park as it is (`--growth 1.0`) or with
every enterprise's load scaled (`--growth 1.2`: the feeders tight, the guard cutting).

    python bench/bench_grid_guard.py [--days 30] [--growth 1.2] [--repeat 1]

Each figure is the best of `--repeat` runs. Timings on a shared machine are noisy: compare
the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tomli_w
from rich.console import Console
from rich.table import Table

from grid import default_site
from twin.engine import Simulation
from twin.scenario import GuardConfig, Scenario


def _site(folder: Path, growth: float) -> Path:
    site = default_site()
    ents = tuple(
        e.model_copy(update={"annual_mwh": e.annual_mwh * growth, "peak_kw": e.peak_kw * growth})
        for e in site.enterprises
    )
    path = folder / "site.toml"
    grown = site.model_copy(update={"enterprises": ents})
    path.write_text(tomli_w.dumps(grown.model_dump(mode="json", exclude_none=True)), "utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--growth", type=float, default=1.2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = _site(Path(tmp), args.growth)
        runs = {}
        for on in (False, True):
            sc = Scenario(site=site, days=args.days, guards=GuardConfig(grid_limits=on))
            Simulation(sc.model_copy(update={"days": 1})).run()  # warm every JIT
            best, sim = float("inf"), None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                sim = Simulation(sc)
                sim.run()
                best = min(best, time.perf_counter() - t0)
            runs[on] = (best, sim)
    table = Table(title=f"grid-aware guard, {args.days} days, load x {args.growth:g}")
    for col in ("run", "seconds", "ratio", "guard cuts", "look-ahead solves"):
        table.add_column(col, justify="right")
    t_off = runs[False][0]
    for on, (t, sim) in runs.items():
        g = sim.grid_guard
        table.add_row(
            "grid-aware" if on else "as dispatched",
            f"{t:.2f}",
            f"{t / t_off:.2f}",
            str(g.interventions) if g else "-",
            str(g.probes) if g else "-",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
