"""A run reduced to a candidate's grid verdict, the margin, and the ranking, on hand-made series."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from twin.study.evaluate import GridLimits, YearOutcome, grid_margin_pct, grid_verdict, outcome_of
from twin.study.report import candidates_table, ranked

LIMITS = GridLimits(v_min_pu=0.93, v_max_pu=1.07, loading_max_pct=100.0)


def _result(n: int = 6) -> SimpleNamespace:
    """Six grid steps of a park with 2 meters and 3 units (the last one the candidate's)."""
    v_min = np.array([0.99, 0.95, 0.92, 0.925, 0.97, np.nan])  # 2 steps under 0.93; 1 unsolved
    v_max = np.array([1.01, 1.02, 1.03, 1.02, 1.08, np.nan])  # 1 step over 1.07 (same as none)
    line = np.array([50.0, 60.0, 101.0, 70.0, 80.0, np.nan])  # 1 step over 100 %
    trafo = np.array([40.0, 99.0, 90.0, 100.5, 60.0, np.nan])  # 1 step over 100 %
    pcc = np.array([[500.0, 10.0], [400.0, -30.0], [300.0, 5.0], [0, 0], [0, 0], [0, 0]])
    soh = np.tile([0.99, 0.98, 0.97], (n, 1))
    soh[-1] = [0.985, 0.975, 0.965]
    return SimpleNamespace(
        summary={
            "savings_yuan_per_year": 1.5e6,
            "savings_energy_yuan_per_year": 1.2e6,
            "savings_demand_yuan_per_year": 0.3e6,
            "guard_interventions": {"anti_backflow": 7, "soc": 2},
            "run_seconds": 3.0,
            "equivalent_full_cycles_per_unit": [100.0, 110.0, 120.0],
        },
        series={
            "park": {
                "v_min_pu": v_min,
                "v_max_pu": v_max,
                "line_loading_max_pct": line,
                "trafo_loading_max_pct": trafo,
            },
            "meters": {"pcc_kw": pcc},
            "units": {
                "soh": soh,
                "unit_trafo_loading_pct": np.tile([10.0, 20.0, 95.0], (n, 1)),
            },
        },
    )


def test_outcome_counts_steps_and_watches_the_candidate() -> None:
    y = outcome_of(_result(), ent_index=1, units=slice(-1, None), limits=LIMITS)
    assert y.voltage_violations == 3  # 0.92, 0.925 (under) and 1.08 (over); NaN skipped
    assert y.overload_violations == 2  # line 101 % and transformer 100.5 %
    assert y.v_min_pu == 0.92 and y.v_max_pu == 1.08
    assert y.export_max_kw == 30.0  # meter 1 imported -30 kW once
    assert y.soh_end == 0.965  # the candidate's unit only
    assert y.efc == 120.0
    assert y.unit_trafo_loading_max_pct == 95.0
    assert y.guard_interventions == 9
    assert y.savings_yuan == 1.5e6


def test_margin_by_hand() -> None:
    # voltage 0.95..1.03: 0.02 above the floor of a 0.07 half-band = 28.6 %; loading 80 % -> 20 %
    assert grid_margin_pct(0.95, 1.03, 80.0, LIMITS) == pytest.approx(20.0)
    assert grid_margin_pct(0.95, 1.03, 10.0, LIMITS) == pytest.approx(0.02 / 0.07 * 100)
    assert grid_margin_pct(0.92, 1.0, 10.0, LIMITS) < 0


def _year(**kw) -> YearOutcome:
    base = dict(
        savings_yuan=1.0,
        savings_energy_yuan=1.0,
        savings_demand_yuan=0.0,
        soh_end=0.97,
        efc=300.0,
        v_min_pu=0.97,
        v_max_pu=1.03,
        line_loading_max_pct=70.0,
        trafo_loading_max_pct=60.0,
        unit_trafo_loading_max_pct=80.0,
        export_max_kw=0.0,
        voltage_violations=0,
        overload_violations=0,
        guard_interventions=5,
        run_seconds=1.0,
    )
    return YearOutcome(**{**base, **kw})


def test_verdict_flags_and_counts_only_what_the_candidate_adds() -> None:
    clean = grid_verdict([_year(), _year()], (0, 0), LIMITS)
    assert clean["grid_ok"] and clean["grid_flags"] == "" and clean["added_violations"] == 0
    assert clean["guard_interventions"] == 10
    # year 2 overloads a line in 12 steps, of which the status quo already had 10
    v = grid_verdict(
        [_year(), _year(line_loading_max_pct=104.0, overload_violations=12, export_max_kw=40.0)],
        (0, 10),
        LIMITS,
    )
    assert not v["grid_ok"]
    assert v["grid_flags"] == "line;export"
    assert v["added_violations"] == 2
    assert v["grid_margin_pct"] == pytest.approx(-4.0)


def test_ranking_puts_flagged_after_clean_and_failed_last() -> None:
    frame = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "status": ["ok", "ok", "failed", "ok"],
            "grid_ok": [True, False, None, True],
            "npv_yuan": [1e6, 9e6, math.nan, 3e6],
        }
    )
    r = ranked(frame)
    assert list(r["key"]) == ["d", "a", "b", "c"]
    assert list(r["rank"]) == [1, 2, 3, 4]


def test_table_renders_failed_and_flagged_rows() -> None:
    from rich.console import Console

    cols = {
        "key": ["a", "b"],
        "status": ["ok", "failed"],
        "error": [None, "ValueError: boom"],
        "enterprise": ["xinsheng", "liyi"],
        "feeder": ["F01", "F04"],
        "units": [4, 2],
        "unit_type": ["lfp314-5016kwh", "lfp280-2236kwh"],
        "pcs_kva": [2500.0, 1250.0],
        "strategy": ["tou", "tou"],
        "e_kwh": [20064.0, math.nan],
        "p_kw": [10000.0, math.nan],
        "savings_yuan_per_year": [3.1e6, math.nan],
        "capex_yuan": [1.6e7, math.nan],
        "npv_yuan": [1.2e7, math.nan],
        "irr": [0.18, math.nan],
        "simple_payback_years": [5.2, math.nan],
        "soh_end": [0.91, math.nan],
        "v_min_pu": [0.95, math.nan],
        "v_max_pu": [1.04, math.nan],
        "line_loading_max_pct": [103.0, math.nan],
        "trafo_loading_max_pct": [80.0, math.nan],
        "export_max_kw": [0.0, math.nan],
        "guard_interventions": [12, None],
        "grid_ok": [False, None],
        "grid_flags": ["line", None],
        "added_violations": [4, None],
    }
    console = Console(record=True, width=250)
    console.print(candidates_table(pd.DataFrame(cols)))
    text = console.export_text()
    assert "failed: ValueError: boom" in text
    assert "line" in text and "12.00" in text  # NPV in M yuan
