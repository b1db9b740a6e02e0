"""`twin hil verify --compare-offline`: the bench's day run again offline, twice.

1. *The bench is the twin.* The controller's setpoints, as its accepted writes left them
   (`hil.emulated.Setpoint`, stamped with the plant's time), and its PCS commands are
   replayed through the offline engine (`ReplaySetpoints`) on the same day, plant and
   inputs as the bench ran. Nothing else is replayed: where the bench did something the
   controller did not ask for (a watchdog revert, a fault) or took a write up an interval
   later than the log says, the two differ, and each window where they differ is put down
   to the nearest such cause. A second replay, of the setpoints the bench put in force
   (its trace: the controller's through the units' caps, the watchdog's reverts, the SOC
   reserve) with its PCS commands and unit faults, checks the plant alone.
2. *The controller against the reference.* The twin's own strategy (``tou``,
   ``peak_shaving`` or ``lp``) runs the same compressed day offline, with the day's tariff
   and host load as its inputs and its guards on (anti-backflow at the published margin,
   the site's SOC window); the host's energy, bill, demand peak, guard interventions and
   violations are set beside the bench's.

`hil` never imports the twin: `compare_hook` hands `hil.verify.run_verify` a function of
the run's record; the result is `hil.comparison.Comparison`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from hil.comparison import (
    Comparison,
    Divergence,
    ReplayCheck,
    SideFigures,
    UnitReplay,
)
from hil.emulated import Event, Setpoint
from hil.faults import UNIT_FAULTS
from hil.report_html import RunRecord
from hil.verify import VerifySpec
from parktwin.errors import InputError
from parktwin.pcs_states import PcsState
from parktwin.strategy_names import StrategyName
from parktwin.tariff_periods import PERIOD_CODES
from twin.engine import PlantView, Simulation
from twin.hil_plant import EnginePlant, coarse_inputs, verify_scenario
from twin.inputs import Inputs
from twin.scenario import AvailabilitySpec, GuardConfig, Scenario
from twin.strategies.replay import ReplaySetpoints

#: the twin's strategies the controller can be set against
REFERENCES = (StrategyName.TOU.value, StrategyName.PEAK_SHAVING.value, StrategyName.LP.value)
#: a unit's power on the bench and in the replay differ beyond this share of its rating
DIVERGE_FRACTION = 0.02
#: windows closer than this [s] are one window
MERGE_S = 1.0
#: how far before a window [s] a write or command counts as its cause
LOOKBACK_S = 1.0

CompareHook = Callable[[RunRecord, Sequence[Setpoint]], Comparison]


@dataclasses.dataclass(frozen=True)
class Tape:
    """The offline run's host units, one row per plant interval (as the bench records)."""

    t_s: np.ndarray
    p_ac_kw: np.ndarray  # (T, n_units)
    p_aux_kw: np.ndarray
    soc: np.ndarray
    pcs_state: np.ndarray
    guards: dict[str, int]


def _run(sc: Scenario, strategy, inputs: Inputs, until_s: float, actions=()) -> Tape:
    """Run `sc` offline to `until_s`, recording every interval; `actions` (t_s, order,
    fn(sim)) are applied in the step hook of their time, in order: as the bench applies
    PCS commands (order 0) and then faults (order 1) in its step hook."""
    sim = Simulation(sc, strategy=strategy, inputs=inputs)
    rows: dict[str, list] = {"t": [], "p": [], "aux": [], "soc": [], "st": []}
    todo = sorted(actions, key=lambda a: (a[0], a[1]))
    nxt = [0]

    def hook(v: PlantView) -> None:
        while nxt[0] < len(todo) and todo[nxt[0]][0] <= v.t_s + 1e-9:
            todo[nxt[0]][2](sim)
            nxt[0] += 1
        rows["t"].append(v.t_s)
        rows["p"].append(np.copy(v.p_ac_kw))
        rows["aux"].append(np.copy(v.p_aux_kw))
        rows["soc"].append(np.copy(v.soc))
        rows["st"].append(np.copy(v.pcs_state))

    sim.add_step_hook(hook)
    sim.run(until_s=until_s)
    return Tape(
        np.asarray(rows["t"]),
        np.asarray(rows["p"]),
        np.asarray(rows["aux"]),
        np.asarray(rows["soc"]),
        np.asarray(rows["st"]),
        sim.guard_report(),
    )


def bench_actions(events: Sequence[Event], unit_names: Sequence[str], faults: bool):
    """The bench's PCS commands (and, with `faults`, its unit faults) as `_run` actions."""
    out = []
    for e in events:
        if e.device not in unit_names:
            continue
        i = list(unit_names).index(e.device)
        if e.kind == "command":
            out.append((e.t_s, 0, lambda sim, i=i, a=e.detail: sim.operate(i, a)))
        elif faults and e.kind in ("fault", "clear") and e.detail in UNIT_FAULTS:
            begin = e.kind == "fault"
            out.append((e.t_s, 1, lambda sim, i=i, k=e.detail, b=begin: sim.apply_fault(k, i, b)))
    return out


def in_force_log(tr: dict[str, np.ndarray]) -> list[Setpoint]:
    """The setpoints the bench put in force (its trace), as a replay log: each change of a
    unit's setpoint, at the interval it was taken up at."""
    p, q, t = tr["p_cmd_kw"], tr["q_cmd_kvar"], tr["t_s"]
    prev = np.zeros((2, p.shape[1]))
    out = []
    for k in range(len(t)):
        for i in np.flatnonzero((p[k] != prev[0]) | (q[k] != prev[1])):
            out.append(Setpoint(float("nan"), float(t[k]), int(i), float(p[k, i]), float(q[k, i])))
        prev = np.stack([p[k], q[k]])
    return out


def _replay(log: Sequence[Setpoint], n_units: int) -> ReplaySetpoints:
    sp = sorted(log, key=lambda s: s.t_s)
    return ReplaySetpoints(
        n_units,
        [s.t_s for s in sp],
        [s.unit for s in sp],
        [s.p_kw for s in sp],
        [s.q_kvar for s in sp],
    )


def offline_scenario(spec: VerifySpec, strategy: str, params: dict, guards: GuardConfig):
    """The verify day's scenario run offline: no outage draws (the bench's PCS is always
    there), a perfect forecast (the reference knows the day's script)."""
    return (
        verify_scenario(spec)
        .model_copy(
            update={
                "strategy": strategy,
                "strategy_params": params,
                "forecast": "perfect",
                "availability": AvailabilitySpec(enabled=False),
                "guards": guards,
            }
        )
        .revalidated()
    )


def day_inputs(inp: Inputs, spec: VerifySpec, host: int) -> Inputs:
    """The bench's inputs `inp` with the day's script in them: the host's load (no PV) and
    the compressed tariff, as the bench's programmable load and site device publish them."""
    n = len(inp.period)
    step_s = inp.interval_s
    t = np.arange(n) * step_s
    load = np.array(inp.load_kw, dtype=float, copy=True)
    pv = np.array(inp.pv_kw, dtype=float, copy=True)
    load[:, host] = np.interp(t, [p.at_s for p in spec.load], [p.kw for p in spec.load])
    pv[:, host] = 0.0
    period = np.array(inp.period, copy=True)
    price = np.array(inp.price_yuan_per_kwh, dtype=float, copy=True)
    for step in spec.tariff:
        k = min(int(np.ceil(step.at_s / step_s - 1e-9)), n)
        period[k:] = PERIOD_CODES[step.period]
        price[k:] = step.price
    return dataclasses.replace(inp, load_kw=load, pv_kw=pv, period=period, price_yuan_per_kwh=price)


def reference_params(name: str, spec: VerifySpec) -> dict:
    """The reference strategy's parameters for a compressed day: it plans over the day (not
    36 h of 0.2-s steps) and, for peak shaving, holds the published demand target."""
    day_h = spec.duration_s / 3600.0
    if name == StrategyName.TOU.value:
        return {"lookahead_h": day_h}
    if name == StrategyName.LP.value:
        return {"horizon_h": day_h, "margin_kw": spec.limits.export_margin_kw}
    return {"target_kw": {spec.enterprise: spec.limits.demand_target_kw}}


# ----------------------------------------------------------------------------- figures
def _energy(p_kw: np.ndarray, dt_s: float) -> tuple[float, float]:
    """(charged, discharged) [kWh] of power samples [kW, + charging] held `dt_s` each."""
    return (
        float(np.clip(p_kw, 0.0, None).sum() * dt_s / 3600.0),
        float(np.clip(-p_kw, 0.0, None).sum() * dt_s / 3600.0),
    )


def _rolling_max(x: np.ndarray, n: int) -> float:
    if len(x) < n:
        return float(x.mean())
    c = np.cumsum(np.r_[0.0, x])
    return float(np.max((c[n:] - c[:-n]) / n))


def side_figures(
    label: str,
    spec: VerifySpec,
    t_s: np.ndarray,
    dt_s: float,
    p_kw: np.ndarray,
    soc: np.ndarray,
    pcc_kw: np.ndarray,
    guards: dict[str, int],
) -> SideFigures:
    """One side's figures from its host units' power and SOC (T, n) and the PCC import (T,)."""
    lim = spec.limits
    ch, dis = _energy(p_kw, dt_s)
    price = np.array([spec.tariff_at(t)[1] for t in t_s])
    bill = float(np.sum(np.clip(pcc_kw, 0.0, None) * price) * dt_s / 3600.0)
    peak = _rolling_max(pcc_kw, max(1, round(lim.demand_window_s / dt_s)))
    lo, hi = lim.soc_min - lim.soc_tolerance, lim.soc_max + lim.soc_tolerance
    outside = np.any((soc < lo) | (soc > hi), axis=1)
    exporting = pcc_kw < -lim.export_limit_kw
    spells = _runs(exporting, 1)
    used = {k: v for k, v in guards.items() if v}
    return SideFigures(
        label=label,
        e_charged_kwh=ch,
        e_discharged_kwh=dis,
        bill_yuan=bill,
        demand_peak_kw=peak,
        export_s=float(np.count_nonzero(exporting) * dt_s),
        export_longest_s=max((b - a for a, b in spells), default=0) * dt_s,
        export_allowed_s=lim.export_max_s,
        soc_outside_s=float(np.count_nonzero(outside) * dt_s),
        demand_over_kw=max(peak - lim.demand_target_kw, 0.0),
        guard_interventions=int(sum(used.values())),
        guard_detail=", ".join(f"{k} {v}" for k, v in used.items()) or "none",
    )


# ----------------------------------------------------------------------------- divergence
def _runs(mask: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """[start, stop) of the True runs of `mask`, runs closer than `gap` samples merged."""
    m = np.r_[False, mask, False].astype(np.int8)
    d = np.diff(m)
    out: list[list[int]] = []
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        if out and a - out[-1][1] < gap:
            out[-1][1] = int(b)
        else:
            out.append([int(a), int(b)])
    return [(a, b) for a, b in out]


def _about(e: Event) -> str:
    return f"{e.device} {e.kind} at t={e.t_s:.1f} s: {e.detail}"


def attribute(
    unit: int,
    name: str,
    t0: float,
    t1: float,
    reverted: np.ndarray,
    faulted: np.ndarray,
    events: Sequence[Event],
    setpoints: Sequence[Setpoint],
    soc_offset: float,
    earlier: Divergence | None,
    held: str = "",
) -> tuple[str, str]:
    """(cause, detail) of a divergence window of unit `unit` over plant time t0..t1: a
    watchdog revert in it, a fault in it, the unit's own limit holding another setpoint in
    force than the controller's (`held` says how, "" if not), a write or PCS command just
    before it, the SOC still off after an earlier window, else the nearest event of the
    unit (unexplained)."""
    mine = [e for e in events if e.device == name]
    if reverted.any():
        ev = [e for e in mine if e.kind == "revert" and e.t_s <= t1]
        return "watchdog revert", _about(ev[-1]) if ev else f"{name} reverted to its fallback"
    near = [e for e in mine if e.kind in ("fault", "clear") and t0 - LOOKBACK_S <= e.t_s <= t1]
    if faulted.any() or near:
        ev = near or [e for e in mine if e.kind == "fault" and e.t_s <= t1]
        return "fault", _about(ev[-1]) if ev else f"{name} PCS in FAULT on the bench"
    if held:
        return "unit limit", held
    sp = [s for s in setpoints if s.unit == unit and t0 - LOOKBACK_S <= s.t_s <= t1]
    if sp:
        s = sp[0]
        return "write timing", (
            f"setpoint {s.p_kw:.0f} kW taken up at plant t={s.t_s:.1f} s (written at wall"
            f" {s.wall_s:.2f} s)"
        )
    cmd = [e for e in mine if e.kind == "command" and t0 - LOOKBACK_S <= e.t_s <= t1]
    if cmd:
        return "PCS command timing", _about(cmd[0])
    if earlier is not None and abs(soc_offset) > 0.002:
        return earlier.cause, (
            f"the SOC still differs by {soc_offset:+.4f} after the window at"
            f" t={earlier.t0_s:.1f} s ({earlier.detail})"
        )
    before = [e for e in mine if e.t_s <= t1]
    return "unexplained", (
        "nearest event " + _about(before[-1])
    ) if before else "no event of the unit"


def replay_check(
    rec: RunRecord,
    setpoints: Sequence[Setpoint],
    tape: Tape,
    n_commands: int,
    dt_s: float,
) -> tuple[ReplayCheck, np.ndarray]:
    """The bench against the replay; also the bench rows the replay covers (indices)."""
    tr, units = rec.tr, rec.units
    kb = np.rint(tr["t_s"] / dt_s).astype(np.int64)
    kr = np.rint(tape.t_s / dt_s).astype(np.int64)
    common, ib, ir = np.intersect1d(kb, kr, return_indices=True)
    if len(common) < 2:
        raise InputError("compare: the replay and the bench share fewer than 2 intervals")
    t = tr["t_s"][ib]
    p_b, p_r = tr["p_ac_kw"][ib][:, units], tape.p_ac_kw[ir][:, units]
    s_b, s_r = tr["soc"][ib][:, units], tape.soc[ir][:, units]
    rev = tr["reverted"][ib][:, units]
    flt = (tr["pcs_state"][ib][:, units] == int(PcsState.FAULT)) & (
        tape.pcs_state[ir][:, units] != int(PcsState.FAULT)
    )
    # what the controller's log commands at each row, against what the bench put in force
    p_in = tr["p_cmd_kw"][ib][:, units]
    asked = np.zeros_like(p_in)
    for c, i in enumerate(units):
        mine = [s for s in setpoints if s.unit == i]
        ts = np.array([s.t_s for s in mine])
        k = np.searchsorted(ts, t + 1e-9, side="right") - 1
        ps = np.array([s.p_kw for s in mine] + [0.0])  # k = -1: never set, 0 kW
        asked[:, c] = ps[k]
    held = (np.abs(p_in - asked) > 1e-6) & ~rev
    out_u, windows = [], []
    gap = max(1, round(MERGE_S / dt_s))
    for c, i in enumerate(units):
        name = rec.unit_names[i]
        cb, db = _energy(p_b[:, c], dt_s)
        cr, dr = _energy(p_r[:, c], dt_s)
        thru = cb + db
        err = (abs(cb - cr) + abs(db - dr)) / thru * 100.0 if thru > 1e-9 else 0.0
        ds = np.abs(s_b[:, c] - s_r[:, c])
        k = int(np.argmax(ds))
        out_u.append(UnitReplay(name, cb, db, cr, dr, err, float(ds[k]), float(t[k])))
        dp = p_b[:, c] - p_r[:, c]
        earlier: Divergence | None = None
        for a, b in _runs(np.abs(dp) > DIVERGE_FRACTION * rec.p_max_kw[i], gap):
            lo = max(a - 1, 0)
            h = np.flatnonzero(held[lo:b, c])
            how = ""
            if len(h):
                k = lo + int(h[0])
                how = (
                    f"{name} held {p_in[k, c]:.0f} kW in force against the controller's"
                    f" {asked[k, c]:.0f} kW from t={t[k]:.1f} s (its own limits: the SOC reserve)"
                )
            cause, detail = attribute(
                i,
                name,
                float(t[a]),
                float(t[b - 1]),
                rev[lo:b, c],
                flt[lo:b, c],
                rec.events,
                setpoints,
                float(s_b[a, c] - s_r[a, c]),
                earlier,
                how,
            )
            earlier = Divergence(
                name,
                float(t[a]),
                float(t[b - 1]),
                float(np.max(np.abs(dp[a:b]))),
                float(dp[a:b].sum() * dt_s / 3600.0),
                cause,
                detail,
            )
            windows.append(earlier)
    windows.sort(key=lambda w: (w.t0_s, w.unit))
    n_sp = sum(1 for s in setpoints if s.unit in units)
    return ReplayCheck(tuple(out_u), tuple(windows), n_sp, n_commands), ib


def reference_name(spec: VerifySpec, reference: str | None = None) -> str:
    """The reference strategy: `reference` (``--reference``) or the day file's; checked."""
    name = reference or spec.reference_strategy
    if name not in REFERENCES:
        raise InputError(f"--reference: expected one of {', '.join(REFERENCES)}, got {name!r}")
    return name


def compare_hook(
    spec: VerifySpec, plant: EnginePlant | None = None, reference: str | None = None
) -> CompareHook:
    """What `run_verify` calls after the run: replay, reference, figures. `plant` (the
    bench's engine) gives the bench's guard interventions; `reference` overrides the
    spec's reference strategy."""
    name = reference_name(spec, reference)

    def compare(rec: RunRecord, setpoints: Sequence[Setpoint]) -> Comparison:
        dt_s = spec.step_s
        until = float(rec.tr["t_s"][-1]) + dt_s / 2
        unit_names = rec.unit_names
        n = len(unit_names)
        cmds = bench_actions(rec.events, unit_names, faults=False)
        # 1. the replay: the bench's scenario and inputs, the controller's setpoints
        sc = offline_scenario(
            spec, StrategyName.EXTERNAL.value, {}, GuardConfig(anti_backflow=False)
        )
        # the bench's own inputs (the same series `coarse_inputs` builds, built once)
        inp = plant.sim.inputs if plant is not None else coarse_inputs(sc)
        tape = _run(sc, _replay(setpoints, n), inp, until, cmds)
        check, ib = replay_check(rec, setpoints, tape, len(cmds), dt_s)
        # 1b. the plant alone: what the bench put in force, and its unit faults
        forced = in_force_log(rec.tr)
        acts = bench_actions(rec.events, unit_names, faults=True)
        plant_tape = _run(sc, _replay(forced, n), inp, until, acts)
        plant_check, _ = replay_check(rec, forced, plant_tape, len(acts), dt_s)
        # 2. the reference: the twin's own strategy on the day's script, guards on
        lim = spec.limits
        guards = GuardConfig(
            anti_backflow=True,
            backflow_margin_kw=lim.export_margin_kw,
            soc_min=lim.soc_min,
            soc_max=lim.soc_max,
        )
        sc_ref = offline_scenario(spec, name, reference_params(name, spec), guards)
        ref = _run(sc_ref, name, day_inputs(inp, spec, rec.host), until)
        kb = np.rint(rec.tr["t_s"][ib] / dt_s).astype(np.int64)
        k_ref = {int(k): j for j, k in enumerate(np.rint(ref.t_s / dt_s).astype(np.int64))}
        jr = np.array([k_ref[int(k)] for k in kb])
        t = rec.tr["t_s"][ib]
        units = rec.units
        p_b = rec.tr["p_ac_kw"][ib][:, units]
        p_ref = ref.p_ac_kw[jr][:, units]
        pcc_b = rec.tr["pcc_kw"][ib, rec.host]
        load = np.interp(t, [p.at_s for p in spec.load], [p.kw for p in spec.load])
        pcc_ref = load + (ref.p_ac_kw[jr] + ref.p_aux_kw[jr])[:, units].sum(axis=1)
        bench_guards = plant.sim.guard_report() if plant is not None else {}
        ctrl = side_figures(
            "controller on the bench",
            spec,
            t,
            dt_s,
            p_b,
            rec.tr["soc"][ib][:, units],
            pcc_b,
            bench_guards,
        )
        refs = side_figures(
            f"twin's {name}, offline",
            spec,
            t,
            dt_s,
            p_ref,
            ref.soc[jr][:, units],
            pcc_ref,
            ref.guards,
        )
        k_rep = {int(k): j for j, k in enumerate(np.rint(tape.t_s / dt_s).astype(np.int64))}
        jp = np.array([k_rep[int(k)] for k in kb])
        notes = (
            "bill: the host's energy import over the day at the published prices (export unpaid);"
            " demand peak: the highest import averaged over the demand window",
            "guard interventions: the twin's guards (PCS rating, ramp, SOC window,"
            " anti-backflow) changing a unit's setpoint, counted per unit and interval",
        )
        return Comparison(
            replay=check,
            plant=plant_check,
            controller=ctrl,
            reference=refs,
            reference_strategy=name,
            t_s=t,
            unit_names=tuple(unit_names[i] for i in units),
            p_bench_kw=p_b.sum(axis=1),
            p_replay_kw=tape.p_ac_kw[jp][:, units].sum(axis=1),
            p_reference_kw=p_ref.sum(axis=1),
            soc_bench=rec.tr["soc"][ib][:, units],
            soc_replay=tape.soc[jp][:, units],
            soc_reference=ref.soc[jr][:, units],
            pcc_bench_kw=pcc_b,
            pcc_reference_kw=pcc_ref,
            notes=notes,
        )

    return compare


__all__ = [
    "REFERENCES",
    "CompareHook",
    "compare_hook",
    "reference_name",
    "replay_check",
    "side_figures",
]
