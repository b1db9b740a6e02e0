"""The fit report as plain data (JSON), written from the typed `Calibration` at the boundary."""

from __future__ import annotations

import math
from dataclasses import asdict

from twin.calibrate.fit import Calibration
from twin.calibrate.unitfile import data_note


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def report_dict(c: Calibration) -> dict:
    """Parameters, channel RMSEs, per-cycle energy errors, warnings, the data and the timing."""
    m = c.data
    return _clean(
        {
            "data": {
                "source": m.source,
                "sha256": m.sha256,
                "start": m.start,
                "end": m.end,
                "rows": m.n,
                "channels": list(m.channels()),
                "note": data_note(c),
            },
            "base_unit_type": c.base.name,
            "stages": list(c.stages),
            "holdout_fraction": c.holdout_fraction,
            "n_fit_rows": c.n_fit_rows,
            "n_holdout_rows": c.n_holdout_rows,
            "fit_s": c.fit_s,
            "params": [asdict(p) for p in c.params],
            "channels": [asdict(q) for q in c.channels],
            "cycles": [asdict(r) for r in c.cycles],
            "warnings": list(c.warnings),
        }
    )
