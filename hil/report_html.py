"""`twin hil verify`'s HTML report: one self-contained file, readable offline.

The report holds the overall verdict, the verdict table, and for each requirement its
evidence: the judged sentence, a chart of the quantity it was judged on (the tariff
periods as bands behind it, communication losses hatched) or the bench's events that
decided it. Charts are matplotlib figures inlined as SVG (no script, no stylesheet or
font fetched from anywhere: the file opens from a mail attachment or an air-gapped
laptop and prints as it shows). The same run's ``run.png`` is the overview chart here.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hil.emulated import Event
from hil.verify import Verdict, VerifySpec, run_figure, shade_periods, soc_ylim
from parktwin import files

if TYPE_CHECKING:
    from hil.comparison import Comparison

EVENTS_SHOWN = 200
"""Rows of the event table (the rest are counted): a buggy controller refuses thousands."""

EVENT_KINDS = {
    "reject": "refused write",
    "revert": "watchdog revert",
    "resume": "control resumed",
    "fault": "fault injected",
    "clear": "fault cleared",
    "guard": "guard intervention",
}
"""The bench's event kinds the report lists (accepted writes are counted, not listed)."""


@dataclass(frozen=True)
class RunRecord:
    """What one verify run leaves for its report (arrays over plant steps)."""

    tr: dict[str, np.ndarray]
    events: Sequence[Event]
    spec: VerifySpec
    host: int
    units: list[int]
    unit_names: list[str]
    comm_windows: list[tuple[float, float, list[int]]]
    verdicts: list[Verdict]
    p_max_kw: np.ndarray
    ramp_kw_per_s: np.ndarray
    controller: str
    wall_s: float
    controller_log: str = ""
    comparison: Comparison | None = None  # offline versus bench (`--compare-offline`)
    compare_error: str = ""  # why the comparison asked for could not be made


# ----------------------------------------------------------------------------- charts
def _svg(fig, key: str) -> str:
    """A figure as an inline ``<svg>`` element, text as paths; its ids are deterministic
    and, salted with `key`, unique within the page."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": f"parktwin-{key}", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _axes(rec: RunRecord, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.8), constrained_layout=True)
    shade_periods([ax], rec.spec, rec.comm_windows, label_ax=ax)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("scenario time, s")
    ax.set_xlim(0.0, rec.spec.duration_s)
    return fig, ax


def _chart_export(rec: RunRecord):
    lim, t = rec.spec.limits, rec.tr["t_s"]
    pcc = rec.tr["pcc_kw"][:, rec.host]
    fig, ax = _axes(rec, "PCC import, kW")
    ax.plot(t, pcc, color="k", lw=1.0, label="PCC import (true)")
    ax.plot(t, rec.tr["meter_kw"][:, rec.host], color="0.5", lw=0.7, ls=":", label="meter shows")
    ax.axhline(-lim.export_limit_kw, color="r", lw=0.9, label="anti-backflow limit")
    ax.axhline(lim.export_margin_kw, color="r", lw=0.6, ls="--", label="margin")
    ax.fill_between(t, pcc, -lim.export_limit_kw, where=pcc < -lim.export_limit_kw, color="r")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return fig


def _chart_soc(rec: RunRecord):
    lim, t = rec.spec.limits, rec.tr["t_s"]
    fig, ax = _axes(rec, "SOC")
    for i in rec.units:
        ax.plot(t, rec.tr["soc"][:, i], lw=1.0, label=rec.unit_names[i])
    ax.axhline(lim.soc_min, color="r", lw=0.8, ls="--", label="site window")
    ax.axhline(lim.soc_max, color="r", lw=0.8, ls="--")
    ax.set_ylim(*soc_ylim(rec.tr["soc"][:, rec.units], lim))
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return fig


def _rolling(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last `n` samples at each sample (shorter at the start)."""
    c = np.cumsum(np.r_[0.0, x])
    k = np.arange(1, len(x) + 1)
    lo = np.maximum(k - n, 0)
    return (c[k] - c[lo]) / (k - lo)


def _chart_demand(rec: RunRecord):
    lim, t = rec.spec.limits, rec.tr["t_s"]
    dt_s = float(np.median(np.diff(t))) if len(t) > 1 else rec.spec.step_s
    n = max(1, round(lim.demand_window_s / dt_s))
    pcc = rec.tr["pcc_kw"][:, rec.host]
    load = pcc - rec.tr["p_ac_kw"][:, rec.units].sum(axis=1)
    fig, ax = _axes(rec, f"{lim.demand_window_s:g}-s mean import, kW")
    ax.plot(t, _rolling(pcc, n), color="k", lw=1.0, label="with storage")
    ax.plot(t, _rolling(load, n), color="0.5", lw=0.8, ls=":", label="load without storage")
    ax.axhline(lim.demand_target_kw, color="m", lw=0.9, ls="--", label="demand target")
    ax.legend(loc="upper left", fontsize=7, ncol=3)
    return fig


def _chart_power(rec: RunRecord):
    t = rec.tr["t_s"]
    fig, ax = _axes(rec, "unit AC power, kW (+ charging)")
    for i in rec.units:
        (line,) = ax.plot(t, rec.tr["p_ac_kw"][:, i], lw=1.0, label=f"{rec.unit_names[i]} achieved")
        ax.plot(t, rec.tr["p_cmd_kw"][:, i], lw=0.6, ls="--", color=line.get_color())
    ax.plot([], [], color="0.3", lw=0.6, ls="--", label="commanded")
    ax.axhline(rec.spec.limits.fallback_kw, color="0.3", lw=0.5)
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return fig


def _chart_ramp(rec: RunRecord):
    t = rec.tr["t_s"]
    fig, ax = _axes(rec, "|dP/dt| achieved, kW/s")
    if len(t) > 1:
        dt_s = np.diff(t)
        for i in rec.units:
            rate = np.abs(np.diff(rec.tr["p_ac_kw"][:, i])) / dt_s
            ax.plot(t[1:], rate, lw=0.8, label=rec.unit_names[i])
    lim = float(np.max(rec.ramp_kw_per_s[rec.units])) * rec.spec.limits.ramp_tolerance
    ax.axhline(lim, color="r", lw=0.9, ls="--", label="ramp rating x tolerance")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return fig


CHARTS: dict[str, Callable[[RunRecord], object]] = {
    "anti_backflow": _chart_export,
    "soc_window": _chart_soc,
    "demand_target": _chart_demand,
    "response_time": _chart_power,
    "ramp_rate": _chart_ramp,
    "comm_loss_fallback": _chart_power,
}
"""The chart that is each requirement's evidence (the others' evidence is events)."""

EVIDENCE_EVENTS = {
    "heartbeat": ("revert", "resume"),
    "comm_loss_fallback": ("revert", "resume", "fault", "clear"),
    "legal_writes": ("reject",),
}
"""The bench's events that decided a requirement, listed under it."""


# ----------------------------------------------------------------------------- html
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
.pass{background:#d9f2d9}.fail{background:#f8d0d0}.nx{background:#fbe3c4}
.verdict{font-weight:bold;font-size:1.2em;padding:.4em .8em;display:inline-block}
svg{max-width:100%;height:auto}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}
.key span{display:inline-block;padding:0 .6em;margin-right:.3em}
"""

_STATUS_CLASS = {"pass": "pass", "fail": "fail", "not exercised": "nx"}


def _e(x: object) -> str:
    return html.escape(str(x))


def _event_rows(events: Sequence[Event], kinds: Sequence[str]) -> str:
    chosen = [e for e in events if e.kind in kinds]
    if not chosen:
        return "<p>No such event on the bench.</p>"
    rows = "".join(
        f"<tr><td>{e.t_s:.1f}</td><td>{_e(EVENT_KINDS.get(e.kind, e.kind))}</td>"
        f"<td>{_e(e.device)}</td><td>{_e(e.detail)}</td></tr>"
        for e in chosen[:EVENTS_SHOWN]
    )
    more = len(chosen) - EVENTS_SHOWN
    tail = (
        f"<p>... and {more} more (verdicts.json and the bench log hold all).</p>"
        if more > 0
        else ""
    )
    return (
        "<table><tr><th>t, s</th><th>event</th><th>device</th><th>detail</th></tr>"
        f"{rows}</table>{tail}"
    )


def _tariff_key(spec: VerifySpec) -> str:
    from hil.verify import TARIFF_COLORS
    from parktwin.tariff_periods import PERIOD_CODES

    seen: dict[str, float] = {}
    for s in spec.tariff:
        seen.setdefault(s.period, s.price)
    spans = "".join(
        f'<span style="background:{TARIFF_COLORS[PERIOD_CODES[p]]}">{_e(p)} {price:.4f} yuan/kWh</span>'
        for p, price in seen.items()
    )
    return f'<p class="key">Bands behind the charts: tariff periods {spans}; hatched: communication loss.</p>'


def render(rec: RunRecord) -> str:
    """The report as one HTML document (a string)."""
    passed = all(v.passed for v in rec.verdicts)
    failed = [v for v in rec.verdicts if not v.passed]
    spec = rec.spec
    writes = Counter(e.device for e in rec.events if e.kind == "write")
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>HIL verify: {'PASS' if passed else 'FAIL'} - {_e(rec.controller)}</title>"
        f"<style>{_CSS}</style></head><body>"
    )
    parts = [head, "<h1>HIL verify report</h1>"]
    parts.append(
        f'<p class="verdict {"pass" if passed else "fail"}">'
        + (
            "PASS: every requirement passes"
            if passed
            else f"FAIL: {len(failed)} of {len(rec.verdicts)} requirements do not pass"
        )
        + "</p>"
    )
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    parts.append(
        "<table>"
        f"<tr><th>controller</th><td><code>{_e(rec.controller)}</code></td></tr>"
        f"<tr><th>scenario</th><td>{_e(spec.source or 'shipped compressed day')}: "
        f"{spec.duration_s:g} s of plant time from {spec.start}, host {_e(spec.enterprise)}, "
        f"speed {spec.speed:g}x, step {spec.step_s:g} s, seed {spec.seed}</td></tr>"
        f"<tr><th>units</th><td>{_e(', '.join(rec.unit_names[i] for i in rec.units))}</td></tr>"
        f"<tr><th>writes accepted</th><td>{sum(writes.values())}"
        + (
            " (" + ", ".join(f"{_e(d)} {n}" for d, n in sorted(writes.items())) + ")"
            if writes
            else ""
        )
        + "</td></tr>"
        f"<tr><th>wall time</th><td>{rec.wall_s:.1f} s</td></tr>"
        f"<tr><th>written</th><td>{when}</td></tr></table>"
    )
    parts.append(
        "<h2>Verdicts</h2><table><tr><th>requirement</th><th>verdict</th><th>evidence</th></tr>"
    )
    for v in rec.verdicts:
        parts.append(
            f'<tr class="{_STATUS_CLASS[v.status]}"><td><a href="#{_e(v.id)}">{_e(v.requirement)}</a></td>'
            f"<td>{_e(v.status.upper())}</td><td>{_e(v.evidence)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        "<p>A requirement whose situation never arose is <em>not exercised</em>, which fails it.</p>"
    )
    parts.append("<h2>The run</h2>" + _tariff_key(spec))
    parts.append(
        _svg(
            run_figure(
                rec.tr,
                spec,
                rec.host,
                rec.units,
                rec.unit_names,
                rec.comm_windows,
                rec.verdicts,
            ),
            "run",
        )
    )
    parts.append("<h2>Evidence per requirement</h2>")
    for v in rec.verdicts:
        parts.append(
            f'<h3 id="{_e(v.id)}">{_e(v.requirement)}: '
            f'<span class="{_STATUS_CLASS[v.status]}">{_e(v.status.upper())}</span></h3>'
            f"<p><code>{_e(v.id)}</code>: {_e(v.evidence)}</p>"
        )
        if v.id in CHARTS:
            parts.append(_svg(CHARTS[v.id](rec), v.id))
        if v.id in EVIDENCE_EVENTS:
            parts.append(_event_rows(rec.events, EVIDENCE_EVENTS[v.id]))
        if v.id == "controller_alive" and rec.controller_log:
            tail = "\n".join(rec.controller_log.splitlines()[-30:])
            parts.append(
                f"<p>The controller's last output (controller.log):</p><pre>{_e(tail)}</pre>"
            )
    if rec.comparison is not None:
        parts.append(_compare_section(rec, rec.comparison))
    elif rec.compare_error:
        parts.append(
            '<section id="compare"><h2>Offline versus bench</h2><p class="verdict fail">'
            f"not made: {_e(rec.compare_error)}</p></section>"
        )
    parts.append("<h2>Bench events</h2>")
    parts.append(_event_rows(rec.events, tuple(EVENT_KINDS)))
    parts.append("</body></html>\n")
    return "".join(parts)


WINDOWS_SHOWN = 50
"""Rows of the divergence-window table (the rest are counted; compare.json holds all)."""


def _chart_compare(rec: RunRecord, c: Comparison):
    """Bench, replay and reference overlaid: host storage power, each unit's SOC; the
    divergence windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = c.t_s
    fig, ax = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True, constrained_layout=True)
    shade_periods(ax, rec.spec, rec.comm_windows, label_ax=ax[0])
    for w in c.replay.windows:
        for a in ax:
            a.axvspan(w.t0_s, w.t1_s + rec.spec.step_s, color="#7b3294", alpha=0.25, lw=0)
    ax[0].plot(t, c.p_bench_kw, color="k", lw=1.1, label="bench")
    ax[0].plot(t, c.p_replay_kw, color="tab:orange", lw=0.9, ls="--", label="replay (offline)")
    ax[0].plot(
        t,
        c.p_reference_kw,
        color="tab:blue",
        lw=0.9,
        ls=":",
        label=f"reference {c.reference_strategy}",
    )
    ax[0].set_ylabel("host storage P, kW\n(+ charging)")
    ax[0].legend(loc="best", fontsize=7, ncol=3)
    for i, name in enumerate(c.unit_names):
        (line,) = ax[1].plot(t, c.soc_bench[:, i], lw=1.1, label=f"{name} bench")
        ax[1].plot(t, c.soc_replay[:, i], lw=0.9, ls="--", color=line.get_color())
        ax[1].plot(t, c.soc_reference[:, i], lw=0.8, ls=":", color=line.get_color())
    ax[1].plot([], [], color="0.3", ls="--", label="replay")
    ax[1].plot([], [], color="0.3", ls=":", label="reference")
    ax[1].set_ylabel("SOC")
    ax[1].set_xlabel("scenario time, s")
    ax[1].set_xlim(0.0, rec.spec.duration_s)
    ax[1].legend(loc="best", fontsize=7, ncol=4)
    return fig


def _compare_section(rec: RunRecord, c: Comparison) -> str:
    r = c.replay
    ok = r.matches
    parts = [
        '<section id="compare"><h2>Offline versus bench</h2>',
        "<h3>The bench is the twin: the controller's setpoints replayed offline</h3>",
        f'<p class="verdict {"pass" if ok else "fail"}">{_e(r.summary())}</p>',
        f"<p>{r.n_setpoints} setpoints and {r.n_commands} PCS commands of the controller,"
        " each at the plant instant the bench took it up at, replayed through the offline"
        " twin on the same day, plant and inputs (nothing else: not the bench's watchdog"
        " reverts, not its faults). A unit matches when its energy error (charged and"
        f" discharged, over its throughput on the bench) is within {r.energy_tol_pct:g} % and"
        f" its SOC within {r.soc_tol:g} at every interval.</p>",
        "<table><tr><th>unit</th><th>charged bench / replay, kWh</th>"
        "<th>discharged bench / replay, kWh</th><th>energy error</th>"
        "<th>largest SOC error</th><th>matches</th></tr>",
    ]
    for u in r.units:
        parts.append(
            f'<tr class="{"pass" if u.matches else "fail"}"><td>{_e(u.unit)}</td>'
            f"<td>{u.e_charged_bench_kwh:.2f} / {u.e_charged_replay_kwh:.2f}</td>"
            f"<td>{u.e_discharged_bench_kwh:.2f} / {u.e_discharged_replay_kwh:.2f}</td>"
            f"<td>{u.energy_error_pct:.3f} %</td>"
            f"<td>{u.soc_error_max:.4f} (t={u.t_soc_error_max_s:.1f} s)</td>"
            f"<td>{'yes' if u.matches else 'no'}</td></tr>"
        )
    parts.append("</table>")
    pl = c.plant
    parts.append(
        f'<p class="{"pass" if pl.matches else "fail"}">The plant alone: the setpoints the'
        " bench put in force (the controller's through the units' caps, the watchdog's"
        f" reverts, the SOC reserve; {pl.n_setpoints} changes) with its {pl.n_commands} PCS"
        f" commands and unit faults, replayed: {_e(pl.summary())}.</p>"
    )
    if r.windows:
        parts.append(
            "<p>Where the two differ (a unit's power apart by more than 2 % of its rating),"
            " each window put down to the nearest cause on the bench:</p>"
            "<table><tr><th>unit</th><th>from, s</th><th>to, s</th><th>largest dP, kW</th>"
            "<th>energy bench - replay, kWh</th><th>cause</th><th>detail</th></tr>"
        )
        for w in r.windows[:WINDOWS_SHOWN]:
            parts.append(
                f"<tr><td>{_e(w.unit)}</td><td>{w.t0_s:.1f}</td><td>{w.t1_s:.1f}</td>"
                f"<td>{w.dp_max_kw:.0f}</td><td>{w.e_kwh:+.3f}</td><td>{_e(w.cause)}</td>"
                f"<td>{_e(w.detail)}</td></tr>"
            )
        parts.append("</table>")
        if len(r.windows) > WINDOWS_SHOWN:
            parts.append(f"<p>... and {len(r.windows) - WINDOWS_SHOWN} more (compare.json).</p>")
    else:
        parts.append("<p>No window where the bench and the replay differ.</p>")
    a, b = c.controller, c.reference
    rows = (
        ("kWh charged", f"{a.e_charged_kwh:.1f}", f"{b.e_charged_kwh:.1f}"),
        ("kWh discharged", f"{a.e_discharged_kwh:.1f}", f"{b.e_discharged_kwh:.1f}"),
        ("host's energy bill, yuan", f"{a.bill_yuan:.2f}", f"{b.bill_yuan:.2f}"),
        (
            f"host's demand peak ({rec.spec.limits.demand_window_s:g}-s mean), kW",
            f"{a.demand_peak_kw:.0f}",
            f"{b.demand_peak_kw:.0f}",
        ),
        (
            "guard interventions",
            f"{a.guard_interventions} ({_e(a.guard_detail)})",
            f"{b.guard_interventions} ({_e(b.guard_detail)})",
        ),
        (
            f"export beyond the limit, s in all (longest; allowed {a.export_allowed_s:g})",
            f"{a.export_s:.1f} ({a.export_longest_s:.1f})",
            f"{b.export_s:.1f} ({b.export_longest_s:.1f})",
        ),
        ("SOC outside the site window, s", f"{a.soc_outside_s:.1f}", f"{b.soc_outside_s:.1f}"),
        ("demand above the target, kW", f"{a.demand_over_kw:.0f}", f"{b.demand_over_kw:.0f}"),
        ("violations (export, SOC, demand)", str(a.violations), str(b.violations)),
    )
    earn = c.earns_yuan
    parts.append(
        f"<h3>The controller against the reference: the twin's {_e(c.reference_strategy)}</h3>"
        f"<p>The twin's own <code>{_e(c.reference_strategy)}</code> strategy ran the same day"
        " offline (the day's tariff and host load as inputs, its guards on). Against it the"
        f" controller <strong>{'earns' if earn >= 0 else 'costs'} {abs(earn):.2f} yuan</strong>"
        " on the host's energy bill.</p>"
        f"<table><tr><th></th><th>{_e(a.label)}</th><th>{_e(b.label)}</th></tr>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{x}</td><td>{y}</td></tr>" for k, x, y in rows)
        + "</table>"
    )
    parts.append(
        "<p>Solid: bench; dashed: replay; dotted: reference. Purple: the divergence windows.</p>"
    )
    parts.append(_svg(_chart_compare(rec, c), "compare"))
    parts.append("".join(f"<p><small>{_e(n)}</small></p>" for n in c.notes))
    parts.append("<p>The figures and series are in compare.json and compare.csv.</p></section>")
    return "".join(parts)


def write_report(path: str | Path, rec: RunRecord) -> None:
    """Write `rec`'s report to `path` (atomically)."""
    files.write_text(path, render(rec))
