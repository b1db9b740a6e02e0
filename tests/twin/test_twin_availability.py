"""Availability (seeded draw, the PCS sits out), efficiency at each boundary, the
sensitivity table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.availability import draw_availability
from twin.run import run_scenario
from twin.scenario import AvailabilitySpec, default_scenario


def test_draw_is_seeded_and_windows_agree() -> None:
    args = (3, dt.datetime(2025, 1, 1), 365 * 96, 900.0)
    a = draw_availability(*args, 0, 4, 0.02, 5)
    b = draw_availability(*args, 0, 4, 0.02, 5)
    c = draw_availability(*args, 1, 4, 0.02, 5)
    assert np.array_equal(a.available, b.available) and not np.array_equal(a.available, c.available)
    assert a.planned_unit_days == 12 and a.grid_stop_days == 5
    june = draw_availability(3, dt.datetime(2025, 6, 1), 30 * 96, 900.0, 0, 4, 0.02, 5)
    assert np.array_equal(june.available, a.available[151 * 96 : 181 * 96])
    # whole days: every day is all in or all out for each unit
    days = a.available.reshape(365, 96, 3)
    assert np.all(days.all(axis=1) | ~days.any(axis=1))
    none = draw_availability(*args, 0, 0, 0.0, 0)
    assert none.achieved == 1.0


def test_units_added_last_leave_the_others_draw_alone() -> None:
    # A study compares the park plus a candidate (its units last) with the park as it is:
    # the park's units and its grid-ordered stop days must not move with the candidate's
    # size (seed 0, 2027, the park's 19 units: with 5 more, a stop day fell in the first
    # week of the candidate's run but not of the status quo's).
    start = dt.datetime(2027, 1, 1)
    park = draw_availability(19, start, 365 * 96, 900.0, 0, 4, 0.02, 5)
    for extra in (1, 4, 5, 6):
        more = draw_availability(19 + extra, start, 365 * 96, 900.0, 0, 4, 0.02, 5)
        assert np.array_equal(more.available[:, :19], park.available)
        assert more.grid_stop_days == park.grid_stop_days
    # the units added last draw days of their own (not a copy of the first units')
    more = draw_availability(38, start, 365 * 96, 900.0, 0, 4, 0.02, 5)
    assert not np.array_equal(more.available[:, 19:], park.available)


def test_pcs_sits_out_the_days_it_is_unavailable() -> None:
    sc = default_scenario().model_copy(
        update={
            "days": 6,
            "start": dt.date(2025, 4, 7),
            "network": "copper_plate",
            "availability": AvailabilitySpec(forced_outage_rate=0.5, grid_stop_days_per_year=0),
        }
    )
    r = run_scenario(sc)
    out = ~draw_availability(3, dt.datetime(2025, 4, 7), 6 * 96, 900.0, 0, 4, 0.5, 0).available
    assert out.any() and not out.all()
    p = r.series["units"]["p_ac_kw"]
    assert np.all(r.series["units"]["p_set_kw"][out] == 0.0)
    assert np.all(np.abs(p[out]) < 1.0)  # the idle PCS's own draw only
    assert np.abs(p[~out]).max() > 100.0
    av = r.summary.availability
    assert av["achieved"] == pytest.approx(1.0 - out.mean())
    every_day = run_scenario(
        sc.model_copy(update={"availability": AvailabilitySpec(enabled=False)})
    )
    assert every_day.summary.availability["achieved"] == 1.0
    assert every_day.summary.discharge_kwh_per_day > r.summary.discharge_kwh_per_day


def test_round_trip_at_each_boundary() -> None:
    sc = default_scenario().model_copy(update={"days": 4, "start": dt.date(2025, 5, 12)})
    s = run_scenario(sc).summary
    pcs, meter = s.round_trip_efficiency, s.round_trip_efficiency_at_meter
    # the unit transformers lose energy both ways: the meter sees a worse round trip
    assert 0.8 < meter < pcs < 1.0
    assert s.round_trip_efficiency_at_meter_with_aux < meter
    assert s.round_trip_efficiency_with_aux < pcs
    assert set(s.round_trip_efficiency_by_season) == {"spring"}
    assert s.round_trip_efficiency_by_season["spring"]["meter"] < 1.0


def test_sensitivity_table_and_today_scheme() -> None:
    from twin.sensitivity import sensitivity

    sc = default_scenario().model_copy(update={"days": 3, "start": dt.date(2025, 4, 7)})
    t = sensitivity(sc, today=dt.date(2026, 12, 3))
    rows = {(r["factor"], r["value"]): r for r in t["rows"]}
    assert {("basic charge", b) for b in ("capacity", "demand", "contract")} <= set(rows)
    assert {("tariff scheme", n) for n in ("zj-2021", "zj-2024", "zj-2026")} <= set(rows)
    assert rows[("availability", "every day")]["availability"] == 1.0
    assert rows[("tariff scheme", "zj-2024")] == {
        **rows[("base", "as the run")],
        "factor": "tariff scheme",
        "value": "zj-2024",
    }
    assert t["today_scheme"]["scheme"] == "zj-2026"
    assert (
        t["today_scheme"]["savings_yuan_per_year"]
        == rows[("tariff scheme", "zj-2026")]["savings_yuan_per_year"]
    )
    # the 2026 scheme discharges into a flat morning: it is worth less than 2024's
    assert (
        rows[("tariff scheme", "zj-2026")]["savings_yuan_per_year"]
        < rows[("tariff scheme", "zj-2024")]["savings_yuan_per_year"]
    )


def test_sensitivity_variants_sharing_inputs_equal_fresh_runs() -> None:
    """A variant that reuses the base row's site and series (a tariff scheme swaps only the
    period and price series) gives the numbers of a run built from scratch."""
    from twin.sensitivity import QUICK, sensitivity

    sc = default_scenario().model_copy(update={"days": 2, "start": dt.date(2025, 4, 7)})
    t = sensitivity(sc, today=dt.date(2026, 12, 3))
    rows = {(r["factor"], r["value"]): r for r in t["rows"]}
    quick = sc.model_copy(update=QUICK).revalidated()
    for factor, update in (
        ("tariff scheme", {"tariff_scheme": "zj-2021"}),
        ("basic charge", {"basic_charge": "demand"}),
    ):
        fresh = run_scenario(quick.model_copy(update=update).revalidated()).summary
        row = rows[(factor, next(iter(update.values())))]
        assert row["savings_yuan_per_year"] == fresh.savings_yuan_per_year
        assert row["discharge_kwh_per_day"] == fresh.discharge_kwh_per_day
