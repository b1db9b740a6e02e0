"""Measured series of one unit, read from a `twin unit test` output or a BMS/SCADA export.

Foreign columns are renamed and converted where they enter (pvlib ``iotools`` style) into
`Measured`, whose channels carry units in their names; a channel the data lacks is None.
Signs: + = charging (drawn from the AC bus). The checks name the file and the column and
either refuse the data in one line or drop rows with a warning that counts them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parktwin.config import Frozen, load_toml
from parktwin.errors import InputError
from twin.calibrate.settings import settings

CHANNELS = ("p_ac_kw", "p_dc_kw", "i_dc_a", "v_dc_v", "soc", "temp_c", "ambient_c", "p_aux_kw")
"""Canonical channels, each in the unit its name gives."""

# Conversion of a source unit into the channel's unit: factor, offset (value * f + o).
_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "kw": {"W": (1e-3, 0.0), "kW": (1.0, 0.0), "MW": (1e3, 0.0)},
    "a": {"A": (1.0, 0.0), "kA": (1e3, 0.0)},
    "v": {"V": (1.0, 0.0), "kV": (1e3, 0.0)},
    "soc": {"1": (1.0, 0.0), "%": (0.01, 0.0)},
    "c": {"C": (1.0, 0.0), "K": (1.0, -273.15)},
}
_KIND = {
    "p_ac_kw": "kw", "p_dc_kw": "kw", "p_aux_kw": "kw", "i_dc_a": "a", "v_dc_v": "v",
    "soc": "soc", "temp_c": "c", "ambient_c": "c",
}  # fmt: skip
_SIGNED = ("p_ac_kw", "p_dc_kw", "i_dc_a")


@dataclass(frozen=True)
class Measured:
    """Time series of one unit, one row per logged instant (values at the row's time; powers
    are the means over the step that ends there). Channels absent from the data are None."""

    source: str  # the data file as given
    sha256: str  # of the data file's bytes
    t_s: np.ndarray  # seconds from the first row
    start: str  # ISO time of the first row (UTC offset kept), or "t = 0 s"
    end: str
    restart: np.ndarray  # bool: the row starts a segment (first row, after a gap or a drop)
    cycle: np.ndarray | None  # cycle number per row when the data has one
    p_ac_kw: np.ndarray | None = None
    p_dc_kw: np.ndarray | None = None
    i_dc_a: np.ndarray | None = None
    v_dc_v: np.ndarray | None = None
    soc: np.ndarray | None = None
    temp_c: np.ndarray | None = None
    ambient_c: np.ndarray | None = None
    p_aux_kw: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def n(self) -> int:
        return len(self.t_s)

    def channels(self) -> tuple[str, ...]:
        """Names of the channels present."""
        return tuple(c for c in CHANNELS if getattr(self, c) is not None)


class ColumnMap(Frozen):
    """``[columns]`` of a mapping file: channel -> source column, optionally ``"name:unit"``."""

    time: str
    p_ac_kw: str | None = None
    p_dc_kw: str | None = None
    i_dc_a: str | None = None
    v_dc_v: str | None = None
    soc: str | None = None
    temp_c: str | None = None
    ambient_c: str | None = None
    p_aux_kw: str | None = None


class Mapping(Frozen):
    """How to read a BMS/SCADA export: columns, time zone of naive stamps, power sign."""

    columns: ColumnMap
    time_zone: str | None = None
    sign: str = "charge_positive"


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_mapping(
    path: Path | None, columns: list[str], time_zone: str | None, sign: str | None
) -> Mapping:
    """The mapping file (if any) with the ``--column CHANNEL=NAME[:UNIT]`` options over it."""
    if path is None and not columns:
        raise InputError(
            "an export needs a column mapping: --mapping FILE or --column CHANNEL=COLUMN options"
        )
    data: dict = {"columns": {}}
    if path is not None:
        data = load_toml(path, Mapping).model_dump(exclude_none=True)
    for item in columns:
        key, eq, value = item.partition("=")
        if not eq or not value or key not in ("time", *CHANNELS):
            raise InputError(
                f"--column {item!r}: expected CHANNEL=COLUMN[:UNIT] with CHANNEL one of "
                f"time, {', '.join(CHANNELS)}"
            )
        data["columns"][key] = value
    if time_zone is not None:
        data["time_zone"] = time_zone
    if sign is not None:
        data["sign"] = sign
    if "time" not in data["columns"]:
        raise InputError("--column: the export needs time=COLUMN (or columns.time in --mapping)")
    if data.get("sign", "charge_positive") not in ("charge_positive", "discharge_positive"):
        raise InputError(f"--sign: charge_positive or discharge_positive (got {data['sign']!r})")
    return Mapping.model_validate(data)


def read_unit_test(folder: Path) -> tuple[dict[str, np.ndarray], dict, Path]:
    """Columns of a `twin unit test --out` folder (or its ``timeseries.parquet``)."""
    import pandas as pd

    pq = folder / "timeseries.parquet" if folder.is_dir() else folder
    summary_path = pq.parent / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
        df = pd.read_parquet(pq)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{folder}: not a `twin unit test` output ({exc})".splitlines()[0]
        ) from exc
    cols = {"t_s": df["t_s"].to_numpy(float)}
    for name in ("p_ac_kw", "p_dc_kw", "i_dc_a", "v_dc_v", "soc", "temp_c", "p_aux_kw", "cycle"):
        if name in df:
            cols[name] = df[name].to_numpy(float)
    cols["ambient_c"] = np.full(len(df), float(summary["ambient_c"]))
    return cols, summary, pq


def read_export(path: Path, mapping: Mapping) -> tuple[dict[str, np.ndarray], str, str]:
    """Channels of a CSV or Parquet export, renamed and converted; (columns, start, end)."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            df = pd.read_csv(path)
        else:
            raise InputError(f"{path}: expected a .csv or .parquet export (or a unit test folder)")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read: {exc}".splitlines()[0]) from exc
    out: dict[str, np.ndarray] = {}
    spec = mapping.columns.model_dump(exclude_none=True)
    for key, value in spec.items():
        name, _, unit = value.rpartition(":") if ":" in value else (value, "", "")
        if name not in df.columns:
            raise InputError(
                f"{path}: column {name!r} (for {key}) not found; columns: {', '.join(map(str, df.columns))}"
            )
        if key == "time":
            out["time"] = df[name]
            out["time_unit"] = unit
            continue
        kind = _KIND[key]
        default = {"kw": "kW", "a": "A", "v": "V", "soc": "1", "c": "C"}[kind]
        unit = unit or default
        if unit not in _UNITS[kind]:
            raise InputError(
                f"--column {key}: unit {unit!r} unknown; one of {', '.join(_UNITS[kind])}"
            )
        f, o = _UNITS[kind][unit]
        try:
            values = pd.to_numeric(df[name], errors="raise").to_numpy(float)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: column {name!r} ({key}): not numbers ({exc})") from exc
        values = values * f + o
        if key in _SIGNED and mapping.sign == "discharge_positive":
            values = -values
        out[key] = values
    t_s, start, end = _seconds(path, out.pop("time"), out.pop("time_unit"), mapping.time_zone)
    out["t_s"] = t_s
    return out, start, end


def _seconds(path: Path, col, unit: str, tz: str | None) -> tuple[np.ndarray, str, str]:
    """Seconds from the first stamp; ISO start and end. Numeric time needs the unit s."""
    import pandas as pd

    if unit == "s" or (unit == "" and pd.api.types.is_numeric_dtype(col)):
        if unit != "s":
            raise InputError(f"{path}: time: numbers; give their unit, e.g. time=COLUMN:s")
        t = pd.to_numeric(col).to_numpy(float)
        return t - t[0], f"t = {t[0]:g} s", f"t = {t[-1]:g} s"
    try:
        stamps = pd.to_datetime(col)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: time: not time stamps ({exc})".splitlines()[0]) from exc
    if stamps.dt.tz is None:
        if tz is None:
            raise InputError(
                f"{path}: time: stamps carry no time zone; give --time-zone (e.g. Asia/Shanghai)"
            )
        try:
            stamps = stamps.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # pytz/zoneinfo errors differ by version
            raise InputError(f"--time-zone {tz!r}: {exc}".splitlines()[0]) from exc
    elif tz is not None:
        stamps = stamps.dt.tz_convert(tz)
    ns = stamps.astype("int64").to_numpy()
    t = (ns - ns[0]) / 1e9
    return t, stamps.iloc[0].isoformat(), stamps.iloc[-1].isoformat()


def load_measured(
    data: Path,
    s_kva: float,
    mapping: Mapping | None = None,
) -> tuple[Measured, dict | None]:
    """Read, check and clean the data; (series, unit-test summary or None).

    `s_kva` is the PCS rating that bounds a possible power. A unit-test folder needs no
    mapping; an export does.
    """
    if data.is_dir() or (
        data.name == "timeseries.parquet" and (data.parent / "summary.json").exists()
    ):
        cols, summary, file = read_unit_test(data)
        start, end = f"t = {cols['t_s'][0]:g} s", f"t = {cols['t_s'][-1]:g} s"
    else:
        if not data.exists():
            raise InputError(f"{data}: no such file")
        if mapping is None:
            raise InputError(
                f"{data}: an export needs a column mapping (--mapping FILE or --column options)"
            )
        cols, start, end = read_export(data, mapping)
        summary, file = None, data
    return _clean(str(data), file_hash(file), cols, start, end, s_kva), summary


def _clean(source, sha, cols, start, end, s_kva) -> Measured:
    cfg = settings()
    t = cols.pop("t_s")
    n = len(t)
    if n == 0:
        raise InputError(f"{source}: no rows")
    notes: list[str] = []
    dt = np.diff(t)
    if np.any(~np.isfinite(t)):
        raise InputError(f"{source}: time: {int(np.sum(~np.isfinite(t)))} rows without a time")
    back = np.flatnonzero(dt < 0)
    if back.size:
        j = int(back[0]) + 1
        raise InputError(
            f"{source}: time: goes backwards at row {j} ({back.size} places); "
            "sort the export or fix the logger's clock"
        )
    keep = np.ones(n, dtype=bool)
    dup = np.concatenate(([False], dt == 0))
    if dup.any():
        keep &= ~dup
        notes.append(f"dropped {int(dup.sum())} rows with a duplicated time stamp (kept the first)")
    if not any(c in cols for c in ("p_ac_kw", "p_dc_kw")) and not (
        "i_dc_a" in cols and "v_dc_v" in cols
    ):
        raise InputError(f"{source}: needs a power: p_ac_kw, p_dc_kw, or i_dc_a with v_dc_v")
    if "soc" in cols:
        soc = cols["soc"]
        finite = soc[np.isfinite(soc)]
        if finite.size and np.mean(finite > 1.0) > 0.5:
            raise InputError(
                f"{source}: soc: values up to {finite.max():g}, outside 0..1; "
                "in percent? give the unit, e.g. --column soc=SOC:%"
            )
        bad = np.isfinite(soc) & ((soc < 0.0) | (soc > 1.0)) & keep
        if bad.any():
            keep &= ~bad
            notes.append(f"dropped {int(bad.sum())} rows with soc outside 0..1")
    limit = s_kva * (1.0 + cfg.power_margin)
    for name in ("p_ac_kw", "p_dc_kw"):
        if name in cols:
            p = cols[name]
            over = np.isfinite(p) & (np.abs(p) > limit) & keep
            if over.any():
                keep &= ~over
                notes.append(
                    f"dropped {int(over.sum())} rows with |{name}| above the PCS rating "
                    f"{s_kva:g} kVA (+{100 * cfg.power_margin:g} %)"
                )
    drive = cols.get("p_dc_kw", cols.get("p_ac_kw"))
    if drive is None:
        drive = cols["i_dc_a"] * cols["v_dc_v"] / 1000.0
    nan = ~np.isfinite(drive) & keep
    if nan.any():
        keep &= ~nan
        notes.append(f"dropped {int(nan.sum())} rows without a power value")
    idx = np.flatnonzero(keep)
    if idx.size < cfg.min_rows:
        raise InputError(f"{source}: {idx.size} usable rows; need at least {cfg.min_rows}")
    restart = np.zeros(n, dtype=bool)
    restart[0] = True
    # a dropped row leaves its step's power unknown: the next kept row starts a segment
    restart[1:] |= ~keep[:-1] & ~dup[:-1]
    tk = t[idx]
    dtk = np.diff(tk)
    step = float(np.median(dtk))
    gaps = np.flatnonzero(dtk > cfg.gap_factor * step) + 1
    restart = restart[idx]
    if gaps.size:
        restart[gaps] = True
        longest = float(dtk.max())
        notes.append(
            f"{gaps.size} gaps longer than {cfg.gap_factor:g} x the {step:g}-s step (longest "
            f"{_span(longest)}): the replay restarts from the measured state after each"
        )
    restart[0] = True
    chans = {c: (np.ascontiguousarray(cols[c][idx]) if c in cols else None) for c in CHANNELS}
    if chans["p_dc_kw"] is None and chans["i_dc_a"] is not None and chans["v_dc_v"] is not None:
        chans["p_dc_kw"] = chans["i_dc_a"] * chans["v_dc_v"] / 1000.0
    cycle = cols.get("cycle")
    return Measured(
        source=source,
        sha256=sha,
        t_s=np.ascontiguousarray(tk - tk[0]),
        start=start,
        end=end,
        restart=restart,
        cycle=None if cycle is None else cycle[idx],
        warnings=tuple(notes),
        **chans,
    )


def _span(s: float) -> str:
    if s >= 7200:
        return f"{s / 3600:.1f} h"
    if s >= 120:
        return f"{s / 60:.0f} min"
    return f"{s:g} s" if math.isfinite(s) else "?"
