"""The bill: hand-computed case, additivity over months, resolution, export, capacity."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parktwin.errors import InputError
from profiles import bill
from profiles.bill import savings

from .strategies import STEPS_S, power_series, starts_on_grid


def test_hand_computed_bill_of_a_simple_day() -> None:
    # 2024-07-10, an ordinary Wednesday under the 2024 scheme (July: sharp 09-11, 15-17;
    # peak 08-09, 17-23; flat 13-15, 23-24; valley 00-08, 11-13). 100 kW all day, except
    # 500 kW over 10:00-10:15 and 50 kW of export over 02:00-03:00.
    p = np.full(96, 100.0)
    p[40] = 500.0
    p[8:12] = -50.0
    b = bill(p, dt.date(2024, 7, 10), 900)
    (m,) = b.months
    assert (m.year, m.month) == (2024, 7)
    assert m.energy_kwh == pytest.approx(
        {"valley": 900.0, "sharp": 500.0, "peak": 700.0, "flat": 300.0}
    )
    assert m.export_kwh == pytest.approx(50.0)
    # flat 0.63 yuan/kWh x the notice's ratios (valley 0.38, sharp 1.98, peak 1.65):
    # 0.63 x (900 x 0.38 + 500 x 1.98 + 700 x 1.65 + 300 x 1) = 0.63 x 2787
    assert m.energy_yuan == pytest.approx(1755.81)
    assert m.max_demand_kw == pytest.approx(500.0)
    assert m.demand_yuan == pytest.approx(500.0 * 40.0)
    assert b.total_yuan == pytest.approx(1755.81 + 20000.0)
    assert b.export_kwh == pytest.approx(50.0)


def test_export_is_reported_not_credited() -> None:
    base = np.full(96, 100.0)
    exporting = base.copy()
    exporting[50:60] = -300.0
    zeroed = base.copy()
    zeroed[50:60] = 0.0
    a, b = bill(exporting, dt.date(2024, 4, 2), 900), bill(zeroed, dt.date(2024, 4, 2), 900)
    assert a.total_yuan == pytest.approx(b.total_yuan)
    assert a.export_kwh == pytest.approx(10 * 300.0 * 0.25)
    assert b.export_kwh == 0.0


def test_capacity_charge_instead_of_demand() -> None:
    p = np.full(24 * 30, 400.0)
    b = bill(p, dt.date(2024, 4, 1), 3600, demand_charge=False, capacity_kva=1250.0)
    assert b.demand_yuan == pytest.approx(1250.0 * 30.0)
    assert b.months[0].basic_charge == "capacity"
    with pytest.raises(InputError, match="capacity_kva"):
        bill(p, dt.date(2024, 4, 1), 3600, demand_charge=False)
    assert bill(p, dt.date(2024, 4, 1), 3600, basis="capacity", capacity_kva=1250.0) == b


@pytest.mark.parametrize(
    ("peak_kw", "billed_kw"),
    [
        (300.0, 800.0),  # far below the contract: the contract is billed
        (840.0, 800.0),  # within 105 %: still the contract
        (900.0, 900.0 + (900.0 - 840.0)),  # above 105 %: the part above 840 kW twice
    ],
)
def test_contract_demand_charge(peak_kw: float, billed_kw: float) -> None:
    p = np.full(24 * 4 * 30, 200.0)
    p[500] = peak_kw
    b = bill(p, dt.date(2024, 4, 1), 900, basis="contract", contract_kw=800.0)
    (m,) = b.months
    assert m.basic_charge == "contract"
    assert m.billed_demand_kw == pytest.approx(billed_kw)
    assert m.demand_yuan == pytest.approx(billed_kw * 40.0)


def test_contract_demand_has_a_floor_share_of_capacity() -> None:
    p = np.full(24 * 30, 100.0)
    b = bill(p, dt.date(2024, 4, 1), 3600, basis="contract", contract_kw=100.0, capacity_kva=2000.0)
    assert b.months[0].billed_demand_kw == pytest.approx(0.4 * 2000.0)
    with pytest.raises(InputError, match="contract_kw"):
        bill(p, dt.date(2024, 4, 1), 3600, basis="contract")
    with pytest.raises(InputError, match="basis: unknown 'peak'"):
        bill(p, dt.date(2024, 4, 1), 3600, basis="peak")


def test_power_factor_adjustment() -> None:
    # 400 kW and 400 * tan(acos 0.85) kvar all month: cos phi 0.85, +2.5 % of the bill.
    p = np.full(24 * 30, 400.0)
    q = p * np.tan(np.arccos(0.85))
    plain = bill(p, dt.date(2024, 4, 1), 3600)
    adj = bill(p, dt.date(2024, 4, 1), 3600, import_kvar=q)
    (m,) = adj.months
    assert m.power_factor == pytest.approx(0.85)
    assert m.pf_adjustment_yuan == pytest.approx(0.025 * plain.total_yuan)
    assert adj.total_yuan == pytest.approx(1.025 * plain.total_yuan)
    good = bill(p, dt.date(2024, 4, 1), 3600, import_kvar=-0.1 * p)  # leading: |kvar| counts
    assert good.months[0].power_factor == pytest.approx(0.995, abs=1e-3)
    assert good.total_yuan == pytest.approx((1 - 0.0075) * plain.total_yuan)


def test_daily_resolution_is_split_across_periods() -> None:
    # One day at 240 kW as one 24-h step bills like 24 hourly steps of 240 kW.
    day = bill(np.array([240.0]), dt.date(2025, 8, 5), 86400)
    hourly = bill(np.full(24, 240.0), dt.date(2025, 8, 5), 3600)
    assert day.months[0].energy_kwh == pytest.approx(hourly.months[0].energy_kwh)
    assert day.energy_yuan == pytest.approx(hourly.energy_yuan)
    assert day.demand_resolution_s == 86400


@given(st.data(), st.sampled_from(STEPS_S))
def test_resolution_does_not_change_energy_charges(data, step_s: float) -> None:
    # A series constant within each coarse step, billed at that step and at 1/k of it.
    start = data.draw(starts_on_grid(step_s))
    coarse = np.array(data.draw(power_series(1, max(1, int(3 * 86400 / step_s)))))
    k = data.draw(st.sampled_from([2, 3, 4]))
    fine = np.repeat(coarse, k)
    a, b = bill(coarse, start, step_s), bill(fine, start, step_s / k)
    assert b.energy_yuan == pytest.approx(a.energy_yuan, rel=1e-9, abs=1e-6)
    assert b.import_kwh == pytest.approx(a.import_kwh, rel=1e-9, abs=1e-6)
    assert b.export_kwh == pytest.approx(a.export_kwh, rel=1e-9, abs=1e-6)
    assert b.demand_yuan == pytest.approx(a.demand_yuan, rel=1e-9, abs=1e-6)


@given(st.data(), st.sampled_from((300.0, 900.0, 3600.0, 86400.0)))
def test_bill_split_into_months_adds_up(data, step_s: float) -> None:
    start = data.draw(starts_on_grid(step_s))
    n = int(data.draw(st.integers(20, 75)) * 86400 / step_s)  # spans 1-3 month boundaries
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    p = rng.uniform(-100.0, 3000.0, n)
    whole = bill(p, start, step_s)
    # Cut at each month boundary (which lies on the step grid: steps divide a day).
    t = [start + dt.timedelta(seconds=k * step_s) for k in range(n + 1)]
    cuts = [0] + [k for k in range(1, n) if t[k].day == 1 and t[k].time() == dt.time(0)] + [n]
    parts = [bill(p[a:b], t[a], step_s) for a, b in itertools.pairwise(cuts)]
    assert len(whole.months) == len(parts)
    assert sum(b.total_yuan for b in parts) == pytest.approx(whole.total_yuan, rel=1e-12)
    assert sum(b.energy_yuan for b in parts) == pytest.approx(whole.energy_yuan, rel=1e-12)
    assert sum(b.demand_yuan for b in parts) == pytest.approx(whole.demand_yuan, rel=1e-12)
    for m, part in zip(whole.months, parts, strict=True):
        assert part.months[0].energy_kwh == pytest.approx(m.energy_kwh, rel=1e-12)
        # Both integrate the same values; only the cumulative sums' rounding differs.
        assert part.months[0].max_demand_kw == pytest.approx(m.max_demand_kw, rel=1e-12)


@given(st.data())
def test_energy_charge_adds_up_over_any_split(data) -> None:
    start = data.draw(starts_on_grid(900.0))
    p = np.array(data.draw(power_series(2, 300)))
    cut = data.draw(st.integers(1, p.size - 1))
    whole = bill(p, start, 900.0)
    a = bill(p[:cut], start, 900.0)
    b = bill(p[cut:], start + dt.timedelta(seconds=cut * 900), 900.0)
    assert a.energy_yuan + b.energy_yuan == pytest.approx(whole.energy_yuan, rel=1e-9, abs=1e-6)
    assert a.export_kwh + b.export_kwh == pytest.approx(whole.export_kwh, rel=1e-9, abs=1e-6)


def test_savings_split_into_energy_and_demand() -> None:
    # Storage moves 1 MWh from the July sharp hours to the valley and shaves the peak.
    load = np.full(24, 1000.0)
    load[9] = 1500.0
    with_storage = load.copy()
    with_storage[[9, 10]] -= 500.0
    with_storage[:8] += 1000.0 / 0.9 / 8  # charged over the night valley, with losses
    a, b = bill(load, dt.date(2024, 7, 10), 3600), bill(with_storage, dt.date(2024, 7, 10), 3600)
    s = savings(a, b)
    assert s.energy_yuan == pytest.approx(1000 * 1.98 * 0.63 - 1000 / 0.9 * 0.38 * 0.63)
    assert s.demand_yuan == pytest.approx((1500 - (1000 + 1000 / 0.9 / 8)) * 40.0)
    assert s.total_yuan == pytest.approx(a.total_yuan - b.total_yuan)


def test_each_month_names_its_scheme() -> None:
    b = bill(np.full(48, 10.0), dt.date(2024, 2, 29), 3600)
    assert [m.schemes for m in b.months] == [("zj-2021",), ("zj-2024",)]


def test_frame_has_a_row_per_month() -> None:
    p = np.full(24 * 60, 10.0)
    df = bill(p, dt.date(2024, 1, 15), 3600).to_frame()
    assert list(df["month"]) == [1, 2, 3]
    assert df["import_kwh"].sum() == pytest.approx(24 * 60 * 10.0)
    assert list(df["schemes"]) == ["zj-2021", "zj-2021", "zj-2024"]


def test_bad_series_refused() -> None:
    with pytest.raises(InputError, match="step 3 is nan"):
        bill(np.array([1.0, 2.0, 3.0, np.nan]), dt.date(2024, 1, 1), 900)
    with pytest.raises(InputError, match="step_s"):
        bill(np.ones(3), dt.date(2024, 1, 1), 0)
