"""`twin hil verify`: serve a compressed day, run the controller under test, judge it.

The scenario (`VerifySpec`, default ``hil/data/verify_day.toml``) sets the tariff periods
the site device publishes, the host's load at its PCC (the bench's programmable load:
the meter reads this load plus the storage behind it), scheduled faults and the limits.
The plant is any `hil.plant.Plant`; `twin hil verify` hands the twin's engine in
wall-clock mode with its anti-backflow guard OFF (the controller under test is what is
being judged; the PCS rating, ramp and the BMS's own SOC window stay, as they would on
the real unit).

Each requirement gets a verdict with its evidence (times are the plant's clock). A
requirement whose situation never arose is **not exercised**, and that fails it (and the
overall verdict): a controller that never writes passes nothing vacuously.

| id | requirement | exercised when |
| --- | --- | --- |
| ``anti_backflow`` | no export at the PCC beyond the limit for longer than `export_max_s` | the units discharged while the PCC import was below `export_risk_kw` |
| ``soc_window`` | every unit's SOC inside the site window | a unit moved toward a bound within `soc_approach` of it |
| ``demand_target`` | the host's import, averaged over `demand_window_s`, never above the target | the host's load without storage was above the target |
| ``response_time`` | each setpoint step: 90 % of it within `response_s`, settled within `settling_s` | a setpoint step could be judged |
| ``ramp_rate`` | achieved power never changes faster than the PCS ramp rating | a setpoint step larger than one step's ramp while running |
| ``comm_loss_fallback`` | on each communication loss the units revert to the fallback in time | a loss cut a unit that was under control away from the fallback |
| ``heartbeat`` | the watchdog never had to revert a unit while its link was up | the controller wrote |
| ``legal_writes`` | no write refused with a Modbus exception | the controller wrote |
| ``controller_alive`` | the controller ran until the end of the scenario | always |
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from hil.bench import METER_ID_FIRST, SITE_ID, UNIT_ID_FIRST, Bench, BenchConfig
from hil.emulated import Event, Setpoint
from hil.faults import BenchFault
from hil.plant import Plant
from hil.serve import BenchRun
from parktwin import files
from parktwin.config import Frozen, load_package_toml, load_toml
from parktwin.errors import InputError, ParkTwinError
from parktwin.tariff_periods import PERIOD_CODES, PeriodName

if TYPE_CHECKING:
    from hil.comparison import Comparison
    from hil.report_html import RunRecord


class Limits(Frozen):
    export_limit_kw: float = Field(0.0, ge=0.0)
    export_max_s: float = Field(2.0, ge=0.0)
    export_margin_kw: float = Field(100.0, ge=0.0)
    soc_min: float = Field(0.10, ge=0.0, le=1.0)
    soc_max: float = Field(0.90, ge=0.0, le=1.0)
    soc_tolerance: float = Field(0.002, ge=0.0)
    soc_approach: float = Field(0.03, gt=0.0, description="closer to a bound: SOC exercised")
    export_risk_kw: float = Field(
        300.0, gt=0.0, description="PCC import below this while discharging: export risk"
    )
    demand_target_kw: float = Field(5000.0, gt=0.0)
    demand_window_s: float = Field(60.0, gt=0.0)
    response_s: float = Field(2.0, gt=0.0)
    settling_s: float = Field(3.0, gt=0.0)
    step_min_fraction: float = Field(0.10, gt=0.0, le=1.0)
    settling_band_fraction: float = Field(0.05, gt=0.0, le=1.0)
    ramp_tolerance: float = Field(1.10, ge=1.0)
    watchdog_s: float = Field(5.0, gt=0.0)
    fallback_kw: float = 0.0


class TariffStep(Frozen):
    at_s: float = Field(ge=0.0)
    period: PeriodName
    price: float = Field(ge=0.0)


class LoadPoint(Frozen):
    at_s: float = Field(ge=0.0)
    kw: float


class VerifySpec(Frozen):
    """A compressed day for `twin hil verify`."""

    source: str = ""
    duration_s: float = Field(600.0, gt=0.0, le=86400.0)
    speed: float = Field(1.0, gt=0.0, le=100.0)
    step_s: float = Field(0.2, ge=0.1, le=1.0)
    start: dt.date = dt.date(2025, 7, 15)
    enterprise: str = "xinsheng"
    soc0: float = Field(0.13, ge=0.0, le=1.0)
    seed: int = 0
    limits: Limits = Limits()
    tariff: tuple[TariffStep, ...] = Field(min_length=1)
    load: tuple[LoadPoint, ...] = Field(min_length=1)
    fault: tuple[BenchFault, ...] = ()
    reference_strategy: Literal["tou", "peak_shaving", "lp"] = Field(
        "tou", description="the twin's own strategy `--compare-offline` sets the controller against"
    )

    @model_validator(mode="after")
    def _ordered(self) -> VerifySpec:
        for name in ("tariff", "load"):
            times = [x.at_s for x in getattr(self, name)]
            if times != sorted(times):
                raise ValueError(f"{name}: at_s must increase")
        if self.limits.soc_min >= self.limits.soc_max:
            raise ValueError("limits: soc_min must be below soc_max")
        return self

    def tariff_at(self, t_s: float) -> tuple[int, float]:
        """(period code, price) in force at `t_s`."""
        cur = self.tariff[0]
        for step in self.tariff:
            if step.at_s <= t_s:
                cur = step
        return PERIOD_CODES[cur.period], cur.price

    def load_at(self, t_s: float) -> float:
        """Host load without storage at `t_s` [kW] (linear between points)."""
        t = [p.at_s for p in self.load]
        return float(np.interp(t_s, t, [p.kw for p in self.load]))


def load_verify_spec(path: str | Path | None = None) -> VerifySpec:
    """A verify scenario file (None: the shipped ``hil/data/verify_day.toml``)."""
    if path is None:
        return load_package_toml("hil", "verify_day.toml", VerifySpec)
    return load_toml(path, VerifySpec)


@dataclass
class Verdict:
    """One requirement's verdict. Not exercised (its situation never arose) fails it."""

    id: str
    requirement: str
    passed: bool
    evidence: str
    exercised: bool = True

    def __post_init__(self) -> None:
        self.exercised = bool(self.exercised)
        self.passed = bool(self.passed) and self.exercised  # numpy bools are not JSON
        if not self.exercised and not self.evidence.startswith("not exercised"):
            self.evidence = f"not exercised: {self.evidence}"

    @property
    def status(self) -> str:
        """ "pass", "fail" or "not exercised"."""
        if not self.exercised:
            return "not exercised"
        return "pass" if self.passed else "fail"


# ----------------------------------------------------------------------------- judging
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a boolean array."""
    m = np.r_[False, mask, False].astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def judge(
    tr: dict[str, np.ndarray],
    events: list[Event],
    spec: VerifySpec,
    unit_names: list[str],
    p_max_kw: np.ndarray,
    ramp_kw_per_s: np.ndarray,
    host: int,
    units: list[int],
    comm_windows: list[tuple[float, float, list[int]]],
    controller_ok: tuple[bool, str],
) -> list[Verdict]:
    """Verdicts from a recorded trace (arrays over steps) and the bench's event log."""
    lim = spec.limits
    t = tr["t_s"]
    dt_s = float(np.median(np.diff(t))) if len(t) > 1 else spec.step_s
    out: list[Verdict] = []

    # anti-backflow at the host PCC (true flow, not what a faulted meter shows)
    pcc = tr["pcc_kw"][:, host]
    exporting = pcc < -lim.export_limit_kw
    worst = (0.0, 0.0)
    for a, b in _runs(exporting):
        dur = (b - a) * dt_s
        if dur > worst[0]:
            worst = (dur, float(t[a]))
    ok = worst[0] <= lim.export_max_s
    ev = (
        (
            f"longest export {worst[0]:.1f} s from t={worst[1]:.1f} s, "
            if worst[0] > 0
            else "never exported, "
        )
        + f"lowest PCC import {pcc.min():.0f} kW (limit -{lim.export_limit_kw:g} kW for {lim.export_max_s:g} s)"
    )
    p_units = tr["p_ac_kw"][:, units].sum(axis=1)
    p_max_host = float(np.max(p_max_kw[units]))
    risk = (p_units < -lim.step_min_fraction * p_max_host) & (pcc < lim.export_risk_kw)
    if not risk.any():
        ev = (
            f"the units never discharged while the PCC import was below"
            f" {lim.export_risk_kw:g} kW (lowest import {pcc.min():.0f} kW)"
        )
    out.append(
        Verdict(
            "anti_backflow",
            "no export at the PCC beyond the limit for > 2 s",
            ok,
            ev,
            exercised=bool(risk.any()),
        )
    )

    # SOC window
    soc = tr["soc"][:, units]
    lo = lim.soc_min - lim.soc_tolerance
    hi = lim.soc_max + lim.soc_tolerance
    k_lo = np.unravel_index(np.argmin(soc), soc.shape)
    k_hi = np.unravel_index(np.argmax(soc), soc.shape)
    smin, smax = float(soc[k_lo]), float(soc[k_hi])
    ok = smin >= lo and smax <= hi
    bad = np.flatnonzero(np.any((soc < lo) | (soc > hi), axis=1))
    ev = f"SOC {smin:.3f} ({unit_names[units[k_lo[1]]]}, t={t[k_lo[0]]:.0f} s) .. {smax:.3f}; window {lim.soc_min:g}..{lim.soc_max:g}"
    if len(bad):
        ev += f"; outside from t={t[bad[0]]:.1f} s for {len(bad) * dt_s:.0f} s"
    p_u = tr["p_ac_kw"][:, units]
    moving = lim.step_min_fraction * p_max_kw[units] / 10.0
    near = ((p_u < -moving) & (soc < lim.soc_min + lim.soc_approach)) | (
        (p_u > moving) & (soc > lim.soc_max - lim.soc_approach)
    )
    if not near.any():
        ev = f"no unit moved toward a bound within {lim.soc_approach:g} of it; " + ev
    out.append(
        Verdict("soc_window", "SOC inside the site window", ok, ev, exercised=bool(near.any()))
    )

    # demand target: rolling mean import over the demand window
    n = max(1, round(lim.demand_window_s / dt_s))
    if len(pcc) >= n:
        c = np.cumsum(np.r_[0.0, pcc])
        avg = (c[n:] - c[:-n]) / n
        k = int(np.argmax(avg))
        peak, t_peak = float(avg[k]), float(t[k + n - 1])
    else:
        peak, t_peak = float(pcc.mean()), float(t[-1])
    ok = peak <= lim.demand_target_kw
    ev = f"highest {lim.demand_window_s:g}-s mean import {peak:.0f} kW (ending t={t_peak:.0f} s), target {lim.demand_target_kw:.0f} kW"
    load = pcc - p_units  # the host's load without its storage
    if len(load) >= n:
        c = np.cumsum(np.r_[0.0, load])
        load_peak = float(np.max((c[n:] - c[:-n]) / n))
    else:
        load_peak = float(load.mean())
    if load_peak <= lim.demand_target_kw:
        ev = f"the load without storage never averaged above the target ({load_peak:.0f} kW); {ev}"
    out.append(
        Verdict(
            "demand_target",
            "demand target held at the host PCC",
            ok,
            ev,
            exercised=load_peak > lim.demand_target_kw,
        )
    )

    # response and settling of setpoint steps
    cmd = tr["p_cmd_kw"]
    p_ac = tr["p_ac_kw"]
    state = tr["pcs_state"]
    n_steps, worst_r, worst_s, fails = 0, 0.0, 0.0, []
    for i in units:
        d = np.abs(np.diff(cmd[:, i]))
        big = np.flatnonzero(d >= lim.step_min_fraction * p_max_kw[i]) + 1
        for j, k0 in enumerate(big):
            k1 = big[j + 1] if j + 1 < len(big) else len(t)
            window_s = (k1 - k0) * dt_s
            if window_s < lim.settling_s + 1.0 or np.any(state[k0 - 1 : k1, i] != 3):
                continue  # too short to judge, or not running (start-up is not a response)
            k_end = min(k1, k0 + round((lim.settling_s + 1.0) / dt_s))
            # the target is what the unit can do: the BMS may hold it below the setpoint
            ch_max, dis_max = tr["p_charge_max_kw"][k0, i], tr["p_discharge_max_kw"][k0, i]
            p0 = float(p_ac[k0 - 1, i])
            p1 = float(np.clip(cmd[k0, i], -dis_max, ch_max))
            step = p1 - p0
            if abs(step) < lim.step_min_fraction * p_max_kw[i]:
                continue  # the unit was already near the new setpoint (e.g. a limit held it)
            seg = p_ac[k0:k_end, i]
            target = np.clip(
                cmd[k0:k_end, i],
                -tr["p_discharge_max_kw"][k0:k_end, i],
                tr["p_charge_max_kw"][k0:k_end, i],
            )
            # 90 % of the way: within 10 % of the step of the (possibly trimmed) setpoint
            reached = np.flatnonzero(np.abs(seg - target) <= 0.1 * abs(step))
            resp = (reached[0] + 1) * dt_s if len(reached) else np.inf
            band = max(lim.settling_band_fraction * abs(step), 0.02 * p_max_kw[i])
            outside = np.flatnonzero(np.abs(seg - target) > band)
            settle = (outside[-1] + 1) * dt_s + dt_s if len(outside) else dt_s
            if len(outside) and outside[-1] == len(seg) - 1:
                settle = np.inf
            n_steps += 1
            worst_r, worst_s = max(worst_r, resp), max(worst_s, settle)
            if resp > lim.response_s or settle > lim.settling_s:
                fails.append(
                    f"{unit_names[i]} t={t[k0]:.1f} s {p0:.0f}->{p1:.0f} kW: {resp:.1f}/{settle:.1f} s"
                )
    ok = not fails
    if n_steps == 0:
        ev = "no setpoint step of the controller could be judged (none held >= settling time while running)"
    else:
        ev = f"{n_steps} steps, worst response {worst_r:.1f} s (<= {lim.response_s:g}), worst settling {worst_s:.1f} s (<= {lim.settling_s:g})"
        if fails:
            ev += f"; {len(fails)} too slow, first: {fails[0]}"
    out.append(
        Verdict(
            "response_time",
            "setpoint response <= 2 s, settling <= 3 s",
            ok,
            ev,
            exercised=n_steps > 0,
        )
    )

    # achieved ramp rate while running
    rate = np.abs(np.diff(p_ac[:, units], axis=0)) / dt_s
    running = (state[1:, units] == 3) & (state[:-1, units] == 3)
    rate = np.where(running, rate, 0.0)
    ratio = rate / (ramp_kw_per_s[units] * lim.ramp_tolerance)
    k = np.unravel_index(np.argmax(ratio), ratio.shape) if ratio.size else (0, 0)
    ok = bool(ratio.size == 0 or ratio[k] <= 1.0)
    ev = f"fastest change {rate[k]:.0f} kW/s ({unit_names[units[k[1]]]}, t={t[k[0]]:.1f} s), rating {ramp_kw_per_s[units[k[1]]]:.0f} kW/s"
    jumps = np.abs(np.diff(cmd[:, units], axis=0)) > ramp_kw_per_s[units] * dt_s
    steep = bool((jumps & running).any())
    if not steep:
        ev = "no setpoint step steeper than the ramp rating while running; " + ev
    out.append(
        Verdict("ramp_rate", "achieved power within the PCS ramp limit", ok, ev, exercised=steep)
    )

    # fallback on communication loss
    wd_sim = lim.watchdog_s * spec.speed
    if not comm_windows:
        out.append(
            Verdict(
                "comm_loss_fallback",
                "fallback on communication loss",
                False,
                "the scenario has no communication loss",
                exercised=False,
            )
        )
    else:
        notes, ok, judged = [], True, 0
        for a, b, affected in comm_windows:
            for i in (x for x in affected if x in units):
                ks = np.flatnonzero((t >= a) & (t < b))
                k_a = ks[0] if len(ks) else None
                if (
                    k_a is None
                    or tr["reverted"][max(k_a - 1, 0), i]
                    or abs(p_ac[max(k_a - 1, 0), i] - lim.fallback_kw) <= 0.02 * p_max_kw[i]
                ):
                    notes.append(
                        f"{unit_names[i]} was not under control away from the fallback at t={a:.0f} s"
                    )
                    continue
                judged += 1
                rev = ks[tr["reverted"][ks, i]] if len(ks) else ks
                if len(rev) == 0:
                    ok = False
                    notes.append(f"{unit_names[i]} never reverted in {a:.0f}-{b:.0f} s")
                    continue
                delay = float(t[rev[0]] - a)
                near = np.abs(p_ac[rev[0] :, i] - lim.fallback_kw) <= 0.02 * p_max_kw[i]
                k_ok = np.flatnonzero(near[: len(ks)])
                at_fb = float(t[rev[0] + k_ok[0]] - a) if len(k_ok) else np.inf
                limit = wd_sim + 1.0 + lim.settling_s
                if delay > wd_sim + 1.0 or at_fb > limit:
                    ok = False
                notes.append(
                    f"{unit_names[i]} reverted after {delay:.1f} s, at {lim.fallback_kw:g} kW after {at_fb:.1f} s"
                )
        ev = (
            f"watchdog {lim.watchdog_s:g} s: "
            + "; ".join(notes[:3])
            + (f" (+{len(notes) - 3} more)" if len(notes) > 3 else "")
        )
        out.append(
            Verdict(
                "comm_loss_fallback",
                "fallback on communication loss",
                ok,
                ev,
                exercised=judged > 0,
            )
        )

    # heartbeat: no revert while the link was up
    def in_loss(ts: float) -> bool:
        return any(a <= ts < b + 1.0 for a, b, _ in comm_windows)

    reverts = [e for e in events if e.kind == "revert" and not in_loss(e.t_s)]
    ok = not reverts
    ev = (
        "no watchdog revert while the link was up"
        if ok
        else (
            f"{len(reverts)} reverts while the link was up, first {reverts[0].device} at t={reverts[0].t_s:.1f} s ({reverts[0].detail})"
        )
    )
    wrote = any(e.kind == "write" for e in events)
    if not wrote:
        ev = "the controller never wrote; " + ev
    out.append(
        Verdict("heartbeat", "heartbeat/setpoints kept the watchdog fed", ok, ev, exercised=wrote)
    )

    # writes refused with a Modbus exception
    rejects = [e for e in events if e.kind == "reject"]
    n_writes = sum(1 for e in events if e.kind == "write")
    ok = not rejects
    ev = (
        f"{n_writes} writes accepted, none refused"
        if ok
        else (
            f"{len(rejects)} refused of {n_writes + len(rejects)}; first at t={rejects[0].t_s:.1f} s: {rejects[0].detail}"
        )
    )
    tried = n_writes + len(rejects) > 0
    if not tried:
        ev = "the controller never wrote"
    out.append(Verdict("legal_writes", "no illegal writes", ok, ev, exercised=tried))

    out.append(Verdict("controller_alive", "controller ran the whole scenario", *controller_ok))
    return out


# ----------------------------------------------------------------------------- outputs
def write_junit(
    path: str | Path, verdicts: list[Verdict], wall_s: float, name: str = "parktwin-hil"
) -> None:
    """JUnit XML: one testcase per requirement, a <failure> with the evidence when it fails."""
    import xml.etree.ElementTree as ET

    fails = sum(not v.passed for v in verdicts)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(verdicts)),
        failures=str(fails),
        errors="0",
        time=f"{wall_s:.1f}",
        timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    for v in verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=f"{name}.requirements", name=v.id, time="0"
        )
        if v.passed:
            ET.SubElement(case, "system-out").text = v.evidence
        else:
            kind = "RequirementFailed" if v.exercised else "RequirementNotExercised"
            ET.SubElement(
                case, "failure", message=v.evidence, type=kind
            ).text = f"{v.requirement}: {v.evidence}"
    root = ET.Element("testsuites", tests=str(len(verdicts)), failures=str(fails))
    root.append(suite)
    ET.indent(root)
    files.write_text(path, ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")


def plot_run(
    path: str | Path,
    tr: dict[str, np.ndarray],
    spec: VerifySpec,
    host: int,
    units: list[int],
    unit_names: list[str],
    comm_windows: list[tuple[float, float, list[int]]],
    verdicts: list[Verdict],
) -> None:
    """PNG: PCC import with margin and target, unit powers, SOC with the window; tariff shaded."""
    fig = run_figure(tr, spec, host, units, unit_names, comm_windows, verdicts)
    import matplotlib.pyplot as plt

    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def soc_ylim(soc: np.ndarray, lim: Limits) -> tuple[float, float]:
    """SOC axis limits: zoom on the data and the window's bound it is near."""
    lo = min(float(soc.min()), lim.soc_min) - 0.01
    hi = max(float(soc.max()), lim.soc_min + 0.05) + 0.01
    if lim.soc_max <= hi + 0.05:
        hi = max(hi, lim.soc_max + 0.01)
    return lo, hi


TARIFF_COLORS = {0: "#cfe8cf", 1: "#e3f1e3", 2: "#f4f4f4", 3: "#fde2c8", 4: "#f9c2c2"}
"""Background of each tariff period code (valley green .. sharp red) in the bench's charts."""


def shade_periods(ax, spec: VerifySpec, comm_windows, label_ax=None) -> None:
    """Tariff periods as bands behind `ax` (a list of axes), comm-loss spans hatched."""
    steps = [*spec.tariff]
    for k, s in enumerate(steps):
        end = steps[k + 1].at_s if k + 1 < len(steps) else spec.duration_s
        for a in ax:
            a.axvspan(s.at_s, end, color=TARIFF_COLORS[PERIOD_CODES[s.period]], lw=0, zorder=0)
        if label_ax is not None:
            label_ax.text(
                (s.at_s + end) / 2,
                1.0,
                s.period,
                transform=label_ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    for a_s, b_s, _ in comm_windows:
        for a in ax:
            a.axvspan(a_s, b_s, facecolor="none", hatch="//", edgecolor="0.5", lw=0, zorder=1)


def run_figure(
    tr: dict[str, np.ndarray],
    spec: VerifySpec,
    host: int,
    units: list[int],
    unit_names: list[str],
    comm_windows: list[tuple[float, float, list[int]]],
    verdicts: list[Verdict],
):
    """The run's overview figure (matplotlib, Agg): the PNG and the HTML report draw it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = spec.limits
    t = tr["t_s"]
    fig, ax = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    shade_periods(ax, spec, comm_windows, label_ax=ax[0])
    ax[0].plot(t, tr["pcc_kw"][:, host], color="k", lw=1.2, label="PCC import (true)")
    ax[0].plot(t, tr["meter_kw"][:, host], color="0.5", lw=0.7, ls=":", label="meter shows")
    ax[0].axhline(0.0, color="r", lw=0.8)
    ax[0].axhline(lim.export_margin_kw, color="r", lw=0.6, ls="--", label="margin")
    ax[0].axhline(lim.demand_target_kw, color="m", lw=0.8, ls="--", label="demand target")
    ax[0].set_ylabel("kW")
    ax[0].legend(loc="upper left", fontsize=7, ncol=4)
    for i in units:
        (line,) = ax[1].plot(t, tr["p_ac_kw"][:, i], lw=1.0, label=f"{unit_names[i]} P")
        ax[1].plot(t, tr["p_cmd_kw"][:, i], lw=0.6, ls="--", color=line.get_color())
        ax[2].plot(t, tr["soc"][:, i], lw=1.0, label=unit_names[i])
    ax[1].set_ylabel("unit AC power, kW (+ charging)\nsolid achieved, dashed commanded")
    ax[1].legend(loc="upper left", fontsize=7)
    ax[2].axhline(lim.soc_min, color="r", lw=0.8, ls="--", label="site window")
    ax[2].axhline(lim.soc_max, color="r", lw=0.8, ls="--")
    ax[2].set_ylim(*soc_ylim(tr["soc"][:, units], lim))
    ax[2].set_ylabel("SOC")
    ax[2].set_xlabel("scenario time, s")
    failed = [v.id for v in verdicts if not v.passed]
    fig.suptitle(
        "HIL verify: " + ("all requirements pass" if not failed else "FAIL: " + ", ".join(failed))
    )
    return fig


# ----------------------------------------------------------------------------- the run
@dataclass
class VerifyResult:
    verdicts: list[Verdict]
    out_dir: Path
    port: int
    wall_s: float
    comparison: Comparison | None = None
    compare_error: str = ""  # why the offline comparison could not be made

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def controller_command(command: str, env: dict[str, str]) -> list[str]:
    """The controller's argv: ``{host}``, ``{port}``, ``{units}``, ``{meter}``, ``{site}`` filled in."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InputError(f"--controller: cannot split {command!r}: {exc}") from exc
    if not argv:
        raise InputError("--controller: empty command")
    fields = {k.removeprefix("PARKTWIN_HIL_").lower(): v for k, v in env.items()}
    try:
        return [a.format(**fields) for a in argv]
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"--controller: unknown placeholder in {command!r} ({exc})") from exc


def _bench_config(spec: VerifySpec) -> BenchConfig:
    lim = spec.limits
    return BenchConfig(
        port=0,
        watchdog_s=lim.watchdog_s,
        fallback_kw=lim.fallback_kw,
        faults=spec.fault,
        seed=spec.seed,
        export_margin_kw=lim.export_margin_kw,
        demand_target_kw=lim.demand_target_kw,
        soc_min=lim.soc_min,
        soc_max=lim.soc_max,
        record=True,
        fault_control=False,  # the controller under test must not inject faults
    )


def run_verify(
    spec: VerifySpec,
    controller: str,
    out_dir: str | Path,
    plant: Plant,
    junit: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
    on_bench: Callable[[Bench], Callable[[], None]] | None = None,
    compare: Callable[[RunRecord, list[Setpoint]], Comparison] | None = None,
) -> VerifyResult:
    """Serve `spec` on `plant`, run `controller` against it, judge, write the outputs.

    `progress(t_s)` is called about every 0.2 s while the run goes. `on_bench(bench)` is
    called before the plant runs (the live page starts there) and returns what stops it.
    `compare(record, setpoints)` (the twin's offline comparison, `twin.hil_compare`) is
    called after the run with the controller's logged setpoints; its result is written as
    ``compare.json``/``compare.csv`` and shown in the report.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bench = Bench(plant, _bench_config(spec))
    names = [u.name for u in bench.units]
    meter_names = [m.name for m in bench.meters]
    if spec.enterprise not in meter_names:
        raise InputError(
            f"enterprise: no meter {spec.enterprise!r} (meters: {', '.join(meter_names)})"
        )
    host = meter_names.index(spec.enterprise)
    units = [i for i, j in enumerate(bench.unit_meter) if j == host]
    if not units:
        raise InputError(f"enterprise: {spec.enterprise!r} hosts no storage unit")
    bench.meter_base_kw = lambda t_s, j: spec.load_at(t_s) if j == host else None
    bench.tariff = spec.tariff_at
    run = BenchRun(bench, until_s=spec.duration_s)
    stop_page = on_bench(bench) if on_bench is not None else None
    t0 = time.monotonic()
    try:
        port = run.start()
    except BaseException:
        if stop_page is not None:
            stop_page()
        raise
    env = {
        "PARKTWIN_HIL_HOST": bench.config.host,
        "PARKTWIN_HIL_PORT": str(port),
        "PARKTWIN_HIL_UNITS": ",".join(str(UNIT_ID_FIRST + i) for i in units),
        "PARKTWIN_HIL_METER": str(METER_ID_FIRST + host),
        "PARKTWIN_HIL_SITE": str(SITE_ID),
    }
    argv = controller_command(controller, env)
    log_path = out / "controller.log"
    alive = (True, "ran until the end of the scenario")
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )
        except OSError as exc:
            run.stop()
            raise InputError(f"--controller: cannot start {argv[0]!r}: {exc.strerror}") from exc
        try:

            def poll() -> None:
                if progress is not None:
                    progress(bench.log.t_sim_s)

            run.wait(poll=poll)
            code = proc.poll()
            if code is not None:
                alive = (False, f"exited with code {code} before the end (see {log_path.name})")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            run.stop()
            if stop_page is not None:
                stop_page()
    wall = time.monotonic() - t0
    tr = bench.trace.arrays()
    if len(bench.trace) < 2:
        raise InputError("verify: the plant recorded fewer than 2 steps")
    comm = []
    for f in spec.fault:
        if f.kind == "comm_loss":
            aff = units if f.target == "all" else [i for i in units if names[i] == f.target]
            comm.append((f.at_s, min(f.end_s, spec.duration_s), aff))
    p_max = np.array([r.p_max_kw for r in bench.ratings])
    ramp = np.array([r.ramp_kw_per_s for r in bench.ratings])
    verdicts = judge(tr, list(bench.log.events), spec, names, p_max, ramp, host, units, comm, alive)
    files.write_json(
        out / "verdicts.json",
        {
            "passed": all(v.passed for v in verdicts),
            "controller": controller,
            "port": port,
            "wall_s": round(wall, 2),
            "verdicts": [asdict(v) for v in verdicts],
        },
    )
    _write_trace(out / "trace.parquet", tr, names, meter_names)
    plot_run(out / "run.png", tr, spec, host, units, names, comm, verdicts)
    from hil.report_html import RunRecord, write_report  # it draws with this module's charts

    rec = RunRecord(
        tr,
        list(bench.log.events),
        spec,
        host,
        units,
        names,
        comm,
        verdicts,
        p_max,
        ramp,
        controller,
        wall,
        log_path.read_text(encoding="utf-8", errors="replace"),
    )
    comparison, compare_error = None, ""
    if compare is not None:
        try:
            comparison = compare(rec, list(bench.log.setpoints))
        except ParkTwinError as exc:  # the verdicts and their evidence stand without it
            compare_error = str(exc).splitlines()[0]
            rec = replace(rec, compare_error=compare_error)
        else:
            comparison.write(out)
            rec = replace(rec, comparison=comparison)
    write_report(out / "report.html", rec)
    if junit is not None:
        write_junit(junit, verdicts, wall)
    return VerifyResult(verdicts, out, port, wall, comparison, compare_error)


def _write_trace(
    path: Path, tr: dict[str, np.ndarray], units: list[str], meters: list[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, np.ndarray] = {"t_s": tr["t_s"], "wall_s": tr["wall_s"], "period": tr["period"]}
    keys = (
        "p_ac_kw",
        "p_set_kw",
        "p_cmd_kw",
        "p_charge_max_kw",
        "p_discharge_max_kw",
        "soc",
        "pcs_state",
        "reverted",
        "link_up",
    )
    for key in keys:
        for i, n in enumerate(units):
            cols[f"{n}.{key}"] = tr[key][:, i]
    for key in ("pcc_kw", "meter_kw"):
        for j, n in enumerate(meters):
            cols[f"{n}.{key}"] = tr[key][:, j]
    with files.atomic_path(path) as tmp:
        pq.write_table(pa.table(cols), tmp)
