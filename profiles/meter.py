"""Real meter data: a CSV of (timestamp, power) read, validated and resampled.

Format: a header line, then one row per interval::

    timestamp,power_kw
    2024-03-01T00:00:00+08:00,812.5
    2024-03-01T00:15:00+08:00,790.0

- ``timestamp``: ISO 8601 (``2024-03-01 00:15``, ``...T00:15:00+08:00``, ``...Z``) or
  ``2024/03/01 00:15``; without an offset it is local time (Asia/Shanghai); with one it is
  converted. It labels the *start* of the interval (``label="end"`` for meters that stamp
  the end, as many Chinese AMR exports do).
- power column: ``power_kw``, ``power_w``, ``power_mw`` (converted to kW) or ``power``
  (kW); the mean active power over the interval, import positive. Energy (``*_kwh``),
  reactive (``*_kvar``) or apparent (``*_kva``) columns are refused as wrong units.

Every row is checked before anything is returned (nothing half-read is used): the first
problem is raised as one line naming the file, the row (file line number) and what is
wrong: unreadable timestamp, duplicate or unordered timestamps, a gap or an irregular
interval against the file's resolution (its most common interval), a non-numeric, missing,
non-finite or impossible power. The same reader serves PV generation files.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parktwin.errors import InputError
from parktwin.files import read_user_text
from profiles.timebase import (
    DAY_S,
    TZ,
    from_local_epoch_s,
    integrate_on_grid,
    local_epoch_s,
    resample_mean,
)

UNITS_TO_KW = {"power_kw": 1.0, "power": 1.0, "p_kw": 1.0, "power_w": 1e-3, "power_mw": 1e3}
MAX_ABS_KW = 100_000.0  # a 1-10 kV customer cannot draw 100 MW; a bigger value is a unit error


@dataclass(frozen=True)
class MeterSeries:
    """A validated meter series: mean power of each step [kW], import positive."""

    source: str
    start: dt.datetime  # naive local time (Asia/Shanghai)
    step_s: float
    p_kw: np.ndarray
    resolution_s: float  # the file's own resolution

    @property
    def n_steps(self) -> int:
        return int(self.p_kw.size)

    @property
    def span_s(self) -> float:
        return self.n_steps * self.step_s

    @property
    def end(self) -> dt.datetime:
        """End of the last step (exclusive), naive local time."""
        return self.start + dt.timedelta(seconds=self.span_s)

    @property
    def energy_kwh(self) -> float:
        """Imported energy [kWh]."""
        return float(np.maximum(self.p_kw, 0).sum() * self.step_s / 3600.0)

    @property
    def export_kwh(self) -> float:
        """Exported energy [kWh] (>= 0)."""
        return float(np.maximum(-self.p_kw, 0).sum() * self.step_s / 3600.0)

    @property
    def peak_kw(self) -> float:
        """Highest 15-min mean import [kW] (the step mean if the steps are coarser)."""
        t0 = local_epoch_s(self.start)
        q0 = math.floor(t0 / 900.0) * 900.0
        nq = math.ceil((t0 + self.span_s - q0) / 900.0 - 1e-9)
        integral, covered = integrate_on_grid(
            t0, self.step_s, np.maximum(self.p_kw, 0), q0 + np.arange(nq + 1) * 900.0
        )
        mean = np.divide(integral, covered, out=np.zeros_like(integral), where=covered > 0)
        return float(mean.max(initial=0.0))

    def resample(self, step_s: float) -> MeterSeries:
        """The same series at `step_s` (energy-conserving means); the span must divide."""
        n = self.span_s / step_s
        if not (step_s > 0 and abs(n - round(n)) < 1e-9 and round(n) >= 1):
            raise InputError(
                f"{self.source}: step_s {step_s:g} s does not divide the file's span of "
                f"{self.span_s / 3600:g} h"
            )
        t0 = local_epoch_s(self.start)
        p = resample_mean(t0, self.step_s, self.p_kw, t0, float(step_s), round(n))
        return MeterSeries(self.source, self.start, float(step_s), p, self.resolution_s)


def _parse_time(text: str) -> dt.datetime:
    text = text.strip()
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        for fmt in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"):
            try:
                t = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(text) from None
    if t.tzinfo is not None:
        t = t.astimezone(TZ).replace(tzinfo=None)
    return t


def _fmt_s(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def read_meter_csv(
    path: str | Path,
    step_s: float | None = None,
    label: str = "start",
    max_abs_kw: float = MAX_ABS_KW,
) -> MeterSeries:
    """Read and validate a meter CSV; resample to `step_s` [s] if given.

    `label` is ``"start"`` or ``"end"``: which end of its interval a timestamp marks.
    """
    path = Path(path)
    src = str(path)
    if label not in ("start", "end"):
        raise InputError(f"label: expected 'start' or 'end', got {label!r}")
    text = read_user_text(path, "a CSV file", encoding="utf-8-sig")  # -sig: Excel's BOM

    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(f"{src}: empty file, expected a header 'timestamp,power_kw'")
    header = [c.strip().lower() for c in rows[0]]
    if len(header) != 2 or header[0] not in ("timestamp", "time", "datetime"):
        raise InputError(
            f"{src}: row 1: header {','.join(header)!r}, expected 'timestamp,power_kw' "
            "(or power_w, power_mw, power)"
        )
    unit = header[1]
    if unit not in UNITS_TO_KW:
        what = (
            "energy"
            if unit.endswith(("kwh", "mwh", "wh"))
            else "reactive power"
            if unit.endswith("var")
            else "apparent power"
            if unit.endswith("va")
            else "not a power"
        )
        raise InputError(
            f"{src}: row 1: column {unit!r} is {what}: wrong units, expected active power "
            "as power_kw, power_w, power_mw or power [kW]"
        )
    scale = UNITS_TO_KW[unit]

    times: list[float] = []
    values: list[float] = []
    lines: list[int] = []
    seen: dict[float, int] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue  # blank lines (a trailing newline) are not data
        if len(row) != 2:
            raise InputError(f"{src}: row {line_no}: expected 2 fields, got {len(row)}")
        try:
            t = local_epoch_s(_parse_time(row[0]))
        except ValueError as exc:
            raise InputError(
                f"{src}: row {line_no}: timestamp {row[0].strip()!r} is not a date-time "
                "(ISO 8601 like 2024-03-01T00:15:00+08:00)"
            ) from exc
        cell = row[1].strip()
        if not cell:
            raise InputError(f"{src}: row {line_no}: power is missing")
        try:
            v = float(cell) * scale
        except ValueError as exc:
            raise InputError(f"{src}: row {line_no}: power {cell!r} is not a number") from exc
        if not math.isfinite(v):
            raise InputError(f"{src}: row {line_no}: power {cell!r} is not a finite number")
        if abs(v) > max_abs_kw:
            raise InputError(
                f"{src}: row {line_no}: {v:.4g} kW is impossible for a customer meter "
                f"(limit {max_abs_kw:g} kW): wrong units?"
            )
        if t in seen:
            raise InputError(
                f"{src}: row {line_no}: duplicate timestamp {row[0].strip()} (also row {seen[t]})"
            )
        if times and t < times[-1]:
            raise InputError(
                f"{src}: row {line_no}: timestamp {row[0].strip()} is before the previous "
                f"row's ({from_local_epoch_s(times[-1]).isoformat()}): rows must be in time order"
            )
        seen[t] = line_no
        times.append(t)
        values.append(v)
        lines.append(line_no)

    if len(times) < 2:
        raise InputError(
            f"{src}: {len(times)} data row(s): at least 2 are needed to know the resolution"
        )
    t_arr = np.asarray(times)
    d = np.round(np.diff(t_arr), 6)
    res = collections.Counter(d.tolist()).most_common(1)[0][0]
    if res > DAY_S:
        raise InputError(f"{src}: resolution {_fmt_s(res)} is coarser than a day")
    bad = np.flatnonzero(d != res)
    if bad.size:
        k = int(bad[0])
        kind = "gap" if d[k] > res else "irregular interval"
        raise InputError(
            f"{src}: row {lines[k + 1]}: {kind}: {_fmt_s(d[k])} after "
            f"{from_local_epoch_s(t_arr[k]).isoformat(sep=' ')} "
            f"(the file's resolution is {_fmt_s(res)})"
        )
    t0 = float(t_arr[0]) - (res if label == "end" else 0.0)
    series = MeterSeries(src, from_local_epoch_s(t0), float(res), np.asarray(values), float(res))
    if step_s is not None and step_s != res:
        series = series.resample(step_s)
    return series
