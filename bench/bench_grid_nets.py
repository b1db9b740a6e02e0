"""Benchmark: accuracy and speed of `grid.TimeSeriesPowerFlow` on pandapower's example nets.

For every net of `NETS` that builds in reasonable time: accepted or refused (by table
name), buses, the largest deviation from a tightened `runpp` (``tolerance_mva=1e-10``)
over a few operating points (|dVm| [p.u.], |dVa| [deg], line/trafo/trafo3w loading
[percentage points]), and the time per step: ours (`TimeSeriesPowerFlow.run` in batches of 10 steps, each batch's
best of `--repeat`) against `runpp` per step (its defaults, reactive limits enforced as
ours, the inputs written into the net as a time series does; the best of `--pp-steps`
steps after an untimed first call), and their ratio. Where runpp itself diverges with
reactive limits (case300), both run without them ("Q limits off").

    python bench/bench_grid_nets.py [--steps 40] [--pp-steps 4] [--only case118,...] [--max-bus 10000]

Operating points: every load, sgen, storage and gen scaled by a seeded factor per element
and step (loads 0.7-1.05, sgens 0-1, storage -1..1, gens 0.9-1.0 of the net's values).
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

warnings.simplefilter("ignore")

import pandapower as pp  # noqa: E402
import pandapower.networks as pn  # noqa: E402

from grid import TimeSeriesPowerFlow  # noqa: E402
from grid.errors import PowerFlowError, UnsupportedNetError  # noqa: E402
from grid.powerflow import INJECTIONS  # noqa: E402


def _net_list() -> list[tuple[str, Callable[[], pp.pandapowerNet]]]:
    cases = [
        "case4gs", "case5", "case6ww", "case9", "case11_iwamoto", "case14", "case24_ieee_rts",
        "case30", "case_ieee30", "case33bw", "case39", "case57", "case89pegase", "case118",
        "case145", "case_illinois200", "case300", "case1354pegase", "case1888rte",
        "case2848rte", "case2869pegase", "case3120sp", "case6470rte", "case6495rte",
        "case6515rte", "case9241pegase", "GBnetwork", "GBreducednetwork", "iceland",
    ]  # fmt: skip
    nets: list[tuple[str, Callable]] = [(c, getattr(pn, c)) for c in cases if hasattr(pn, c)]
    nets += [
        ("example_simple", pn.example_simple),
        ("example_multivoltage", pn.example_multivoltage),
        ("simple_four_bus_system", pn.simple_four_bus_system),
        ("simple_mv_open_ring_net", pn.simple_mv_open_ring_net),
        ("panda_four_load_branch", pn.panda_four_load_branch),
        ("four_loads_with_branches_out", pn.four_loads_with_branches_out),
        ("cigre_hv", pn.create_cigre_network_hv),
        ("cigre_mv", pn.create_cigre_network_mv),
        ("cigre_mv pv_wind", lambda: pn.create_cigre_network_mv(with_der="pv_wind")),
        ("cigre_mv all", lambda: pn.create_cigre_network_mv(with_der="all")),
        ("cigre_lv", pn.create_cigre_network_lv),
        ("mv_oberrhein", pn.mv_oberrhein),
        ("mv_oberrhein generation", lambda: pn.mv_oberrhein(scenario="generation")),
        ("mv_oberrhein separated", lambda: pn.mv_oberrhein(separation_by_sub=True)[0]),
        ("lv_schutterwald", pn.lv_schutterwald),
        ("dickert_lv", pn.create_dickert_lv_network),
        (
            "dickert_lv long/cable/multiple",
            lambda: pn.create_dickert_lv_network(
                feeders_range="long", linetype="cable", customer="multiple", case="bad"
            ),
        ),
    ]
    for k in ("landnetz_freileitung_1", "landnetz_freileitung_2", "landnetz_kabel_1",
              "landnetz_kabel_2", "dorfnetz", "vorstadtnetz_kabel_1", "vorstadtnetz_kabel_2"):  # fmt: skip
        fn = getattr(pn, f"create_kerber_{k}", None)
        if fn is not None:
            nets.append((f"kerber {k}", fn))
    for k in ("kb_extrem_landnetz_freileitung", "kb_extrem_landnetz_kabel",
              "kb_extrem_landnetz_freileitung_trafo", "kb_extrem_landnetz_kabel_trafo",
              "kb_extrem_dorfnetz", "kb_extrem_dorfnetz_trafo", "kb_extrem_vorstadtnetz_1",
              "kb_extrem_vorstadtnetz_2", "kb_extrem_vorstadtnetz_trafo_1",
              "kb_extrem_vorstadtnetz_trafo_2"):  # fmt: skip
        fn = getattr(pn, k, None)
        if fn is not None:
            nets.append((f"kerber {k}", fn))
    for cls in ("rural_1", "rural_2", "village_1", "village_2", "suburb_1"):
        nets.append(
            (
                f"synthetic_voltage_control {cls}",
                lambda c=cls: pn.create_synthetic_voltage_control_lv_network(network_class=c),
            )
        )
    return nets


def _inputs(net, steps: int, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lo_hi = {"load": (0.7, 1.05), "sgen": (0.0, 1.0), "storage": (-1.0, 1.0), "gen": (0.9, 1.0)}
    out = {}
    for el, col in INJECTIONS:
        n = len(net[el])
        if not n:
            continue
        lo, hi = lo_hi[el]
        base = net[el][col].to_numpy(np.float64)
        if el == "storage" and col == "p_mw":
            base = np.where(base == 0.0, net[el].sn_mva.fillna(0).to_numpy() * 0.5, base)
        out[f"{el}_{col}"] = base * rng.uniform(lo, hi, (steps, n))
    return out


def _write(net, inputs: dict[str, np.ndarray], t: int) -> None:
    for arg, x in inputs.items():
        el, col = arg.split("_", 1)
        net[el][col] = x[t]


def _dev(a: np.ndarray, b, wrap: bool = False) -> float:
    b = np.asarray(b, dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b)
    nan_mismatch = np.any(np.isnan(a) != np.isnan(b))
    d = a[ok] - b[ok]
    if wrap:
        d = (d + 180.0) % 360.0 - 180.0
    worst = float(np.abs(d).max(initial=0.0))
    return np.inf if nan_mismatch else worst


def _time_ours(pf, inputs: dict[str, np.ndarray], steps: int, repeat: int) -> float:
    """Seconds per step of `pf.run`: chunks of 10 steps, each chunk's best of `repeat`
    passes (on a shared machine a whole-run best still carries other processes' bursts);
    every chunk warm-started as in the batch."""
    chunks = [(a, min(a + 10, steps)) for a in range(0, steps, 10)]
    total = 0.0
    for a, b in chunks:
        part = {k: v[a:b] for k, v in inputs.items()}
        best = np.inf
        for _ in range(repeat):
            t1 = time.perf_counter()
            pf.run(**part)
            best = min(best, time.perf_counter() - t1)
        total += best
    return total / steps


def bench_net(name: str, make, steps: int, pp_steps: int, repeat: int, max_bus: int) -> dict:
    row: dict = {"net": name}
    try:
        net = make()
    except Exception as exc:  # a net pandapower cannot build here (missing data file)
        return {**row, "status": f"no build: {type(exc).__name__}"}
    row["buses"] = len(net.bus)
    if len(net.bus) > max_bus:
        return {**row, "status": f"skipped (> {max_bus} buses)"}
    inputs = _inputs(net, steps)
    work = copy.deepcopy(net)
    qlim = True
    for qlim in (True, False):  # runpp's own default is without reactive limits
        try:
            pf = TimeSeriesPowerFlow(net, enforce_q_lims=qlim)
            res = pf.run(**inputs)
            break
        except UnsupportedNetError as exc:
            return {**row, "status": "refused: " + str(exc).split(":")[0]}
        except PowerFlowError as exc:
            _write(work, inputs, 0)
            try:
                pp.runpp(work, enforce_q_lims=qlim)
            except Exception:
                continue  # runpp diverges too: compare both without Q limits
            return {**row, "status": f"failed: {exc}"[:70]}
    else:
        return {**row, "status": "diverges (runpp too)"}
    row["ours_us"] = _time_ours(pf, inputs, steps, repeat) * 1e6
    row["iters"] = float(res.iterations.mean())

    # runpp as a time series calls it (its defaults but Q limits as ours), the best of
    # `pp_steps` steps after one untimed call (pandapower's numba compile); then a tightened
    # runpp of each step for the comparison
    _write(work, inputs, 0)
    pp.runpp(work, enforce_q_lims=qlim)
    k = min(pp_steps, steps)
    t_pp = np.inf
    dvm = dva = dl = 0.0
    for t in range(k):
        _write(work, inputs, t)
        t1 = time.perf_counter()
        pp.runpp(work, enforce_q_lims=qlim)
        t_pp = min(t_pp, time.perf_counter() - t1)
        pp.runpp(work, enforce_q_lims=qlim, tolerance_mva=1e-10, max_iteration=50)
        r = res.step(t)
        dvm = max(dvm, _dev(r.vm_pu, work.res_bus.vm_pu))
        dva = max(dva, _dev(r.va_degree, work.res_bus.va_degree, wrap=True))
        for ours, theirs in (
            (r.line_loading_percent, work.res_line.loading_percent if len(work.line) else None),
            (r.trafo_loading_percent, work.res_trafo.loading_percent if len(work.trafo) else None),
            (
                r.trafo3w_loading_percent,
                work.res_trafo3w.loading_percent if len(work.trafo3w) else None,
            ),
        ):
            if theirs is not None:
                dl = max(dl, _dev(ours, theirs))
    status = "accepted" if qlim else "accepted, Q limits off"
    row.update(pp_us=t_pp * 1e6, dvm=dvm, dva=dva, dload=dl, status=status)
    row["ratio"] = row["pp_us"] / row["ours_us"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="steps of our batch per net")
    ap.add_argument("--pp-steps", type=int, default=4, help="steps runpp runs per net")
    ap.add_argument("--repeat", type=int, default=3, help="our timing: best of this many")
    ap.add_argument("--only", default="", help="comma-separated net names (default: all)")
    ap.add_argument("--max-bus", type=int, default=10000, help="skip nets with more buses")
    args = ap.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    console = Console()
    rows = []
    for name, make in _net_list():
        if only and name not in only:
            continue
        rows.append(bench_net(name, make, args.steps, args.pp_steps, args.repeat, args.max_bus))
        console.print(f"[dim]{name}: {rows[-1].get('status')}[/]")
    t = Table(title="TimeSeriesPowerFlow on pandapower's example nets (per step)")
    cols = ("net", "status", "buses", "max |dVm| pu", "max |dVa| deg", "max dload pp",
            "ours [µs]", "runpp [µs]", "ratio")  # fmt: skip
    for c in cols:
        t.add_column(c, justify="left" if c in ("net", "status") else "right")
    for r in rows:
        if not str(r.get("status")).startswith("accepted"):
            t.add_row(r["net"], r["status"], str(r.get("buses", "")), *[""] * 6)
            continue
        t.add_row(
            r["net"], r["status"], str(r["buses"]), f"{r['dvm']:.1e}", f"{r['dva']:.1e}",
            f"{r['dload']:.1e}", f"{r['ours_us']:,.0f}", f"{r['pp_us']:,.0f}",
            f"{r['ratio']:,.0f}x",
        )  # fmt: skip
    console.print(t)
    acc = [r for r in rows if str(r.get("status")).startswith("accepted")]
    big = [r for r in acc if r["buses"] >= 100]
    console.print(
        f"accepted {len(acc)} of {len(rows)}; largest |dVm| {max(r['dvm'] for r in acc):.1e} p.u.;"
        f" nets of 100+ buses below 200x: "
        + (", ".join(f"{r['net']} ({r['ratio']:.0f}x)" for r in big if r["ratio"] < 200) or "none")
    )


if __name__ == "__main__":
    main()
