"""Benchmark of `twin calibrate`: a month of 1-minute data of one unit, fitted from scratch.

The data are a synthetic SCADA log of the first project's unit type with a perturbed cabin
(4 % less capacity, 20 % more resistance, a weaker chiller), made by the twin
(`twin.calibrate.synthetic`). Timed: reading and checking the CSV, the fit (all stages),
and, as the reference of the same process, one replay of the month through the kernel; the
fit is printed as seconds, as a multiple of one replay, and against the aim (a month of
1-minute data in under a minute on this machine). Wall clock (`time.perf_counter`): the
aim is a user's wait; on a shared machine compare the ratio to one replay.

    python bench/bench_calibrate.py [--days 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from devices import load_unit_params
from twin.calibrate import calibrate, load_mapping, load_measured
from twin.calibrate.replay import Replayer
from twin.calibrate.synthetic import MAPPING_COLUMNS, LogSpec, commissioning_log

UNIT = "lfp280-2236kwh"
AIM_S = 60.0  # a month of 1-minute data of one unit fits in under a minute


def perturbed(tmp: Path) -> Path:
    """The unit type with 4 % less capacity, 20 % more resistance, a 2/3 chiller."""
    p = load_unit_params(UNIT)
    data = p.model_dump()
    data["cell"]["capacity_ah"] *= 0.96
    data["cell"]["r0_mohm"] *= 1.2
    data["cell"]["r1_mohm"] *= 1.2
    data["thermal"]["q_cool_max_kw"] *= 2.0 / 3.0
    import tomli_w

    path = tmp / "perturbed.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    args = ap.parse_args()
    base = load_unit_params(UNIT)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        truth = load_unit_params(str(perturbed(tmp)))
        t0 = time.perf_counter()
        log = commissioning_log(truth, LogSpec(days=args.days), seed=1)
        t_gen = time.perf_counter() - t0
        csv = tmp / "log.csv"
        log.to_csv(csv, index=False)
        cols = [f"{k}={v}" for k, v in MAPPING_COLUMNS.items()]
        t0 = time.perf_counter()
        m, _ = load_measured(csv, base.pcs_kva, load_mapping(None, cols, "Asia/Shanghai", None))
        t_read = time.perf_counter() - t0
        rp = Replayer(m, "dc")
        rp.run(base)  # compile (cached on disk after the first run)
        t0 = time.perf_counter()
        rp.run(base)
        t_replay = time.perf_counter() - t0
        t0 = time.perf_counter()
        c = calibrate(m, base)
        t_fit = time.perf_counter() - t0
    table = Table(title=f"twin calibrate: {m.n:,} rows ({args.days:g} days at 1 min), one unit")
    for col in ("step", "seconds", "x one replay", "aim s", "ratio to aim"):
        table.add_column(col, justify="left" if col == "step" else "right")
    table.add_row("make the log (twin, not timed by the aim)", f"{t_gen:.2f}", "", "", "")
    table.add_row("read + check the CSV", f"{t_read:.2f}", f"{t_read / t_replay:.0f}", "", "")
    table.add_row("one replay through the kernel (reference)", f"{t_replay:.3f}", "1", "", "")
    table.add_row(
        "fit, all stages + quality",
        f"{t_fit:.1f}",
        f"{t_fit / t_replay:.0f}",
        f"{AIM_S:g}",
        f"{t_fit / AIM_S:.2f}",
    )
    Console().print(table)
    got = {p.name: p for p in c.params}
    rec = Table(title="recovered vs truth")
    for col in ("parameter", "truth", "fitted", "+- 95 %", "status"):
        rec.add_column(col, justify="left" if col in ("parameter", "status") else "right")
    for name, true in (
        ("capacity_ah", truth.cell.capacity_ah),
        ("r0_mohm", truth.cell.r0_mohm),
        ("r1_mohm", truth.cell.r1_mohm),
        ("hysteresis_mv", truth.cell.hysteresis_mv),
        ("q_cool_max_kw", truth.thermal.q_cool_max_kw),
    ):
        p = got[name]
        rec.add_row(name, f"{true:.4g}", f"{p.value:.4g}", f"{p.ci95:.2g}", p.status)
    Console().print(rec)


if __name__ == "__main__":
    main()
