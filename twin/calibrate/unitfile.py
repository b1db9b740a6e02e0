"""Write a fitted unit type as a unit-type TOML file the rest of the twin reads directly.

Every fitted value's ``sources`` note names the data file, its SHA-256, the time range, the
fit's quality (interval, voltage RMSE, hold-out) and the value it replaced; values the data
could not pin down keep their note and value.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import tomli_w

from parktwin.files import write_text
from twin.calibrate.fit import Calibration


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def data_note(c: Calibration) -> str:
    """Where the fit comes from: the file, its hash, its time range, rows fitted / held out."""
    m = c.data
    return (
        f"{m.source} (sha256 {m.sha256[:16]}, {m.start} .. {m.end}, {c.n_fit_rows} rows fitted, "
        f"last {100 * c.holdout_fraction:g} % in time ({c.n_holdout_rows} rows) held out)"
    )


def quality_note(c: Calibration) -> str:
    """The fit's quality in one phrase: voltage RMSE (fit and hold-out) or the SOC one."""
    for ch in c.channels:
        if ch.channel in ("v_dc_v", "soc"):
            return (
                f"{ch.channel} RMSE {_fmt(ch.rmse_after)} {ch.unit} "
                f"(hold-out {_fmt(ch.rmse_after_holdout)}; base unit type {_fmt(ch.rmse_before)})"
            )
    return "no voltage or SOC channel"


def unit_document(c: Calibration, name: str) -> dict:
    """The fitted unit type as a TOML document (the shipped files' layout)."""
    doc = c.fitted.model_dump()
    doc["name"] = name
    doc["description"] = f"{c.base.description} -- calibrated by twin calibrate to {c.data.source}"
    where = data_note(c)
    quality = quality_note(c)
    by_field: dict[tuple[str, str], list[str]] = {}
    for p in c.params:
        if not p.fitted:
            continue
        extra = f"; {p.status}: {p.note}" if p.status != "fitted" else ""
        text = (
            f"{_fmt(p.value)} +- {_fmt(p.ci95)} (95 %){extra}; was {_fmt(p.start)} in {c.base.name}"
        )
        if p.name.startswith("loss_scale_"):
            direction = p.name.removeprefix("loss_scale_")
            text = f"load-dependent loss x {text}"
            by_field.setdefault(("pcs", f"eff_{direction}"), []).append(text)
        else:
            by_field.setdefault((p.section, p.name), []).append(text)
    for (section, field), texts in by_field.items():
        doc[section]["sources"][field] = (
            f"twin calibrate: fitted to {where}: {'; '.join(texts)}; {quality}"
        )
    return doc


def write_unit_file(path: Path, c: Calibration, name: str) -> None:
    """Write the fitted unit type to `path` (atomically), with a header saying how it was made."""
    today = dt.date.today().isoformat()
    head = (
        f"# Unit type fitted by `twin calibrate` on {today} from {c.data.source}\n"
        f"# (base unit type {c.base.name}). Fitted values name their data in `sources`;\n"
        "# the others keep the base unit type's values and notes.\n"
    )
    write_text(path, head + tomli_w.dumps(unit_document(c, name)))
