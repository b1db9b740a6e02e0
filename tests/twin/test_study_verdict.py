"""A run reduced to a candidate's grid verdict, the margin, and the ranking, on hand-made series."""

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from parktwin.limits import GridLimits
from twin.recorder import GridElements, Recorder
from twin.study.fit import first_years, fit_of, reinforce_text
from twin.study.report import candidates_table, failures, ranked
from twin.study.verdict import (
    GridVerdict,
    StatusQuo,
    combine_extremes,
    element_margin_pct,
    grid_margin_pct,
    grid_verdict,
    local_margin,
)
from twin.study.years import YearOutcome, outcome_of

LIMITS = GridLimits(v_min_pu=0.93, v_max_pu=1.07, loading_max_pct=100.0)


def _run() -> SimpleNamespace:
    """Six grid solves of a park: 3 buses (the 110 kV one unchecked), 2 lines, 2 transformers,
    2 meters, 3 units (the last one the candidate's), recorded as the engine records them."""
    vm = np.array(
        [
            [1.00, 0.99, 1.01],
            [1.00, 0.95, 1.02],
            [0.90, 0.92, 1.03],  # 110 kV bus low: not checked; bus b1 under 0.93
            [1.00, 0.925, 1.02],  # b1 under again
            [1.00, 0.97, 1.075],  # b2 over 1.07
            [1.00, 0.97, 1.00],
        ]
    )
    line = np.array([[50, 10], [60, 20], [101, 20], [70, 20], [80, 20], [70, 102.0]])
    trafo = np.array([[40, 0], [99, 0], [90, 0], [100.5, 0], [60, 0], [60, 0.0]])
    pcc = np.array([[500.0, 10.0], [400.0, -30.0], [300.0, 5.0], [0, 0], [0, 0], [0, 0]])
    elements = GridElements(
        bus_names=("b1", "b2"),
        checked_bus=np.array([False, True, True]),
        line_names=("F01", "F04"),
        trafo_names=("T1", "T2"),
        limits=LIMITS,
    )
    rec = Recorder(6, 3, 2, elements)
    for t in range(6):
        rec.record_solve(
            SimpleNamespace(vm_pu=vm[t], line_loading_pct=line[t], trafo_loading_pct=trafo[t])
        )
    return SimpleNamespace(
        summary=SimpleNamespace(  # the `RunSummary` fields a study reads
            savings_yuan_per_year=1.5e6,
            savings_energy_yuan_per_year=1.2e6,
            savings_demand_yuan_per_year=0.3e6,
            guard_interventions_total=9,
            run_seconds=3.0,
            equivalent_full_cycles_per_unit=(100.0, 110.0, 120.0),
            soh_end_per_unit=(0.985, 0.975, 0.965),
            grid_guard=SimpleNamespace(caused_violations=0, curtailed_kwh=12.5),
        ),
        grid=rec.grid_extremes(),
        series={
            "meters": {"pcc_kw": pcc},
            "units": {"unit_trafo_loading_pct": np.tile([10.0, 20.0, 95.0], (6, 1))},
        },
        meter_names=("xinsheng", "liyi"),
    )


def test_outcome_counts_steps_per_element_and_watches_the_candidate() -> None:
    y = outcome_of(_run(), ent_index=1, units=slice(-1, None))
    assert y.voltage_violations == 3  # steps 2, 3 (b1 under) and 4 (b2 over); hv not checked
    assert y.overload_violations == 3  # F01 101 %, T1 100.5 %, F04 102 %
    assert y.violations_by_element == {
        "bus:b1": 2,
        "bus:b2": 1,
        "line:F01": 1,
        "line:F04": 1,
        "trafo:T1": 1,
    }
    assert (y.v_min_pu, y.v_max_pu, y.worst_bus) == (0.92, 1.075, "b1")
    assert (y.line_loading_max_pct, y.worst_line) == (102.0, "F04")
    assert (y.trafo_loading_max_pct, y.worst_trafo) == (100.5, "T1")
    assert y.export_max_kw == 30.0  # liyi imported -30 kW once
    assert y.export_by_meter_kw == {"xinsheng": 0.0, "liyi": 30.0}
    assert y.soh_end == 0.965  # the candidate's unit only
    assert y.efc == 120.0
    assert y.unit_trafo_loading_max_pct == 95.0
    assert y.guard_interventions == 9
    assert (y.grid_aware, y.caused_violations, y.curtailed_kwh) == (True, 0, 12.5)
    assert y.savings_yuan == 1.5e6
    assert y.extremes["line:F04"] == 102.0 and y.extremes["vmin:b1"] == 0.92
    assert "vmin:hv" not in y.extremes  # the 110 kV bus is outside the band's scope


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
        export_by_meter_kw={},
        voltage_violations=0,
        violations_by_element={},
        extremes={},
        worst_bus="b",
        worst_line="l",
        worst_trafo="t",
        overload_violations=0,
        guard_interventions=5,
        run_seconds=1.0,
    )
    return YearOutcome(**{**base, **kw})


def _sq(by_element=({}, {}), export_kw=0.0) -> StatusQuo:
    n = len(by_element)
    return StatusQuo(
        savings_yuan=(0.0,) * n,
        voltage_violations=(0,) * n,
        overload_violations=(0,) * n,
        violations_by_element=by_element,
        export_kw=export_kw,
    )


def test_verdict_flags_and_counts_only_what_the_candidate_adds() -> None:
    clean = grid_verdict([_year(), _year()], _sq(), LIMITS)
    assert clean.grid_ok and clean.grid_flags == "" and clean.added_violations == 0
    assert clean.guard_interventions == 10
    # year 2: line F04 overloaded in 12 steps, of which the status quo already had 10
    y2 = _year(
        line_loading_max_pct=104.0,
        overload_violations=12,
        export_max_kw=40.0,
        violations_by_element={"line:F04": 12},
        worst_line="F04",
    )
    v = grid_verdict([_year(), y2], _sq(({}, {"line:F04": 10})), LIMITS)
    assert not v.grid_ok
    assert v.grid_flags == "overload;export"
    assert v.added_violations == 2
    assert v.added_by_element == {"line:F04": 2}
    assert v.worst_line == "F04"
    assert v.park_margin_pct == pytest.approx(-4.0)


def test_verdict_does_not_blame_a_candidate_for_the_status_quo() -> None:
    # The park overloads F01 in 30 steps and exports 50 kW at this meter without it; the
    # candidate makes neither worse: not flagged, although the margin is negative.
    years = [
        _year(
            line_loading_max_pct=110.0,
            overload_violations=30,
            export_max_kw=50.0,
            violations_by_element={"line:F01": 30},
        )
    ]
    v = grid_verdict(years, _sq(({"line:F01": 30},), export_kw=50.0), LIMITS)
    assert v.grid_ok and v.added_violations == 0
    assert v.park_margin_pct == pytest.approx(-10.0)
    # Same number of overloaded steps, but on another feeder: that one is the candidate's.
    years = [_year(overload_violations=30, violations_by_element={"line:F04": 30})]
    v = grid_verdict(years, _sq(({"line:F01": 30},)), LIMITS)
    assert v.grid_flags == "overload" and v.added_violations == 30
    # its own step-up transformer (absent from the status quo) and a bus out of band
    years = [_year(violations_by_element={"trafo:study-candidate-1": 4, "bus:b7": 1})]
    v = grid_verdict(years, _sq(({},)), LIMITS)
    assert v.grid_flags == "voltage;overload" and v.added_violations == 5


def test_a_hair_on_a_shared_feeder_is_not_the_candidates() -> None:
    # The status quo has F02 at its limit (100.0 %) in 3 steps; the candidate at another
    # feeder moves it by 0.01 % and one more step crosses: not its doing. F06 it pushes to
    # 133 %: its doing. Its own transformer is new: its doing.
    ref_ex = {"line:F02": 100.2, "line:F06": 95.0, "vmin:b": 0.95, "vmax:b": 1.02}
    years = [
        _year(
            violations_by_element={"line:F02": 4, "line:F06": 20, "trafo:cand-1": 2, "bus:b": 1},
            extremes={
                "line:F02": 100.21,
                "line:F06": 133.0,
                "trafo:cand-1": 104.0,
                "vmin:b": 0.9498,
                "vmax:b": 1.02,
            },
        )
    ]
    sq = StatusQuo(
        savings_yuan=(0.0,),
        voltage_violations=(1,),
        overload_violations=(3,),
        violations_by_element=({"line:F02": 3},),
        extremes=ref_ex,
    )
    v = grid_verdict(years, sq, LIMITS)
    assert v.added_by_element == {"line:F06": 20, "trafo:cand-1": 2}
    assert v.grid_flags == "overload"


def test_local_margin_is_taken_on_the_elements_the_candidate_changes() -> None:
    ref = {"line:F01": 117.0, "line:F04": 60.0, "vmin:b4": 0.96, "trafo:T2": 70.0}
    mine = {
        "line:F01": 117.0,  # the park's overloaded feeder, unchanged: not the candidate's
        "line:F04": 83.0,  # its feeder: 17 % left
        "vmin:b4": 0.9598,  # moved by less than 5e-4 p.u.: untouched
        "trafo:T2": 70.2,  # moved by less than 0.5 points: untouched
        "trafo:study-candidate-1": 75.0,  # its own transformer: new, 25 % left
    }
    assert local_margin(mine, ref, LIMITS) == (pytest.approx(17.0), "line:F04")
    # nothing changed: the park's tightest (F01, -17 %)
    assert local_margin(ref, ref, LIMITS) == (pytest.approx(-17.0), "line:F01")
    assert element_margin_pct("vmin:b", 0.95, LIMITS) == pytest.approx(0.02 / 0.07 * 100)
    assert element_margin_pct("vmax:b", 1.06, LIMITS) == pytest.approx(0.01 / 0.07 * 100)
    assert combine_extremes(
        [{"vmin:b": 0.97, "line:l": 50.0}, {"vmin:b": 0.95, "line:l": 40.0}]
    ) == {
        "vmin:b": 0.95,
        "line:l": 50.0,
    }


def test_ranking_goes_by_verdict_then_the_npv_of_that_dispatch() -> None:
    frame = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d", "e", "f"],
            "status": ["ok", "ok", "failed", "ok", "ok", "ok"],
            "verdict": ["fits", "reinforce", None, "fits", "fits grid-aware", "fits grid-aware"],
            "npv_yuan": [1e6, 9e6, math.nan, 3e6, 8e6, 7e6],
            # a grid-aware fit ranks by what it earns grid-aware
            "aware_npv_yuan": [1e6, 2e6, math.nan, 3e6, 1e6, 5e6],
        }
    )
    r = ranked(frame)
    assert list(r["key"]) == ["d", "a", "f", "e", "b", "c"]
    assert list(r["rank"]) == [1, 2, 3, 4, 5, 6]


_VERDICT = GridVerdict(
    v_min_pu=0.97,
    v_max_pu=1.01,
    line_loading_max_pct=90.0,
    trafo_loading_max_pct=80.0,
    unit_trafo_loading_max_pct=70.0,
    worst_line="",
    worst_trafo="",
    worst_bus="",
    export_max_kw=0.0,
    guard_interventions=0,
    voltage_violations=0,
    overload_violations=0,
    added_violations=0,
    added_by_element={},
    park_margin_pct=10.0,
    grid_margin_pct=10.0,
    margin_element="",
    grid_flags="",
    grid_ok=True,
)


def test_three_verdicts() -> None:
    def gv(ok: bool) -> GridVerdict:
        return dataclasses.replace(_VERDICT, grid_ok=ok, grid_flags="" if ok else "overload")

    breaks = {"line:F08 to spinning": 2028, "trafo:T1": 2029}
    fit = fit_of(gv(True), gv(True), {}, 5e6, 5e6)
    assert (fit.verdict, fit.fits_as_dispatched, fit.reinforce_from_year) == ("fits", True, {})
    fit = fit_of(gv(False), gv(True), breaks, 5e6, 4.2e6)
    assert fit.verdict == "fits grid-aware" and fit.fits_as_dispatched is False
    assert fit.grid_aware_cost_yuan_per_year == pytest.approx(0.8e6)
    assert fit.reinforce_from_year == breaks  # what running it as dispatched needs
    fit = fit_of(gv(False), gv(False), breaks, 5e6, 4e6)
    assert fit.verdict == "reinforce" and fit.fits_grid_aware is False
    # one way only: the other verdict is open
    fit = fit_of(gv(False), None, breaks, 5e6)
    assert fit.verdict == "open" and fit.fits_grid_aware is None
    assert math.isnan(fit.grid_aware_cost_yuan_per_year)
    assert fit_of(None, gv(True), {}).verdict == "fits grid-aware"
    # the first calendar year each element is broken, whatever it breaks later
    per_year = [{}, {"line:a": 3}, {"line:a": 9, "trafo:b": 1}]
    assert first_years(per_year, 2027) == {"line:a": 2028, "trafo:b": 2029}
    assert reinforce_text(first_years(per_year, 2027), most=1) == "line:a 2028; +1"


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
        "grid_margin_pct": [-3.0, math.nan],
        "grid_flags": ["line", None],
        "added_violations": [4, None],
        "aware_npv_yuan": [9.5e6, math.nan],
        "verdict": ["reinforce", None],
        "grid_aware_cost_yuan_per_year": [math.nan, math.nan],
        "reinforce_from_year": [{"line:F01 to xinsheng": 2028}, None],
    }
    console = Console(record=True, width=250)
    frame = pd.DataFrame(cols)
    console.print(candidates_table(frame))
    text = console.export_text()
    assert "liyi" not in text  # failed: not ranked in the table ...
    assert failures(frame) == [  # ... but listed with its error
        "liyi: ValueError: boom"
    ]
    assert "reinforce line:F01 to xinsheng 2028" in text and "12.00" in text  # NPV in M yuan
    assert "9.50" in text  # its grid-aware NPV
    assert "4x5.0MWh 2500kVA" in text
