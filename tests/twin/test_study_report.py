"""The study report's warning on a nominal NPV outside its samples' P10..P90."""

from __future__ import annotations

import json

import pandas as pd

from twin.study.report import nominal_outliers


def _row(key: str, units: int, npv: float, by_year: list[float], p10: float, p90: float) -> dict:
    return {
        "key": key, "status": "ok", "grid_ok": True, "enterprise": "xinsheng",
        "unit_type": "lfp314-5016kwh", "units": units, "e_kwh": units * 5016.0,
        "pcs_kva": 2500.0, "npv_yuan": npv, "savings_yuan_by_year": json.dumps(by_year),
        "npv_p10_yuan": p10, "npv_p50_yuan": (p10 + p90) / 2, "npv_p90_yuan": p90,
    }  # fmt: skip


def _samples(key: str, years: list[list[float]]) -> list[dict]:
    return [
        {"candidate": key, "sample": i, "status": "ok", "savings_yuan_by_year": json.dumps(y)}
        for i, y in enumerate(years)
    ]


def test_a_nominal_npv_outside_the_band_is_named_with_its_year() -> None:
    results = pd.DataFrame(
        [
            _row("inside", 4, 36.5e6, [5.9e6, 5.9e6, 5.7e6], 30e6, 40e6),
            _row("outside", 5, 14.4e6, [2.83e6, 7.12e6, 3.67e6], 36.5e6, 52.0e6),
        ]
    )
    sampled = [[6.0e6, 7.0e6, 7.5e6], [6.2e6, 7.1e6, 7.6e6], [5.8e6, 6.9e6, 7.4e6]]
    samples = pd.DataFrame(_samples("inside", sampled) + _samples("outside", sampled))
    lines = nominal_outliers(results, samples, days=7)
    assert len(lines) == 1
    (line,) = lines
    assert line.startswith("xinsheng 5x5.0MWh 2500kVA: nominal NPV 14.40 M¥")
    assert "P10..P90 (36.5..52.0 M¥)" in line
    assert "nominal year 1 saves 2.83 M¥/yr against 6.00" in line  # the furthest year
    assert "at 7 days a year each day is 1/7 of the year" in line
    # full years: no short-window note; no samples: no warning
    assert "1/365" not in nominal_outliers(results, samples, days=365)[0]
    assert nominal_outliers(results, samples.iloc[:0], days=7) == []
