"""A study's [uncertainty]: the draws, the sample tariff, the spread of each candidate.

Pure parts here (no twin run); whole sampled studies in test_study_uncertainty_run.py.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parktwin.errors import InputError
from parktwin.tariff_periods import PERIOD_KEYS, Period
from profiles.tariff import scheme_named, tariff_for, tou_series
from twin.spread import draw, percentiles, shipped_uncertainty
from twin.study import load_study, plan_study
from twin.study.samples import spread_frame
from twin.study.uncertainty import (
    SampleInputs,
    SampleTariff,
    StudyUncertainty,
    future_scheme,
    study_draw,
    year_outages,
)

SRC = {"source": "test", "confidence": "low"}
CHANGE = {"scheme": "zj-2024", "dates": [dt.date(2027, 7, 1), "never"], "weights": [0.5, 0.5]}


def _unc(**kw) -> StudyUncertainty:
    return StudyUncertainty.model_validate({"samples": 5, **kw})


def test_draws_are_seeded_and_shared_with_twin_run_samples() -> None:
    unc = _unc()
    a, b = study_draw(unc, 7, 3), study_draw(unc, 7, 3)
    assert a == b
    assert study_draw(unc, 8, 3) != a and study_draw(unc, 7, 4) != a
    # the inputs a run's samples draw come out the same (one draw machinery, same order)
    run = draw(shipped_uncertainty(), 7, 3, days=10, n_units=0)
    assert (a.profile_seed, a.load_growth_per_year, a.availability) == (
        run.profile_seed,
        run.load_growth_per_year,
        run.availability,
    )


def test_declaring_another_input_does_not_move_the_others() -> None:
    plain = study_draw(_unc(), 0, 2)
    more = study_draw(
        _unc(
            degradation={"low": 0.5, "high": 2.0, **SRC},
            price_multipliers={"sharp": {"low": 0.5, "high": 1.5, **SRC}},
            scheme_change={**CHANGE, **SRC},
        ),
        0,
        2,
    )
    assert (plain.profile_seed, plain.load_growth_per_year, plain.availability) == (
        more.profile_seed,
        more.load_growth_per_year,
        more.availability,
    )
    assert plain.degradation == 1.0 and plain.price_multipliers == (1.0,) * 5
    assert 0.5 <= more.degradation <= 2.0 and more.degradation != 1.0
    sharp = more.price_multipliers[Period.SHARP]
    assert 0.5 <= sharp <= 1.5 and sharp != 1.0
    assert more.price_multipliers[Period.VALLEY] == 1.0  # not declared: held at 1


def test_held_inputs_keep_the_study_values() -> None:
    unc = _unc(profiles=False, load_growth_per_year=False, availability=False)
    d = study_draw(unc, 11, 0)
    assert d.profile_seed == 11
    assert math.isnan(d.load_growth_per_year) and math.isnan(d.availability)
    from twin.study.model import StudySettings

    s = SampleInputs(d).settings(StudySettings(load_growth_per_year=0.2, seed=11))
    assert (s.seed, s.load_growth_per_year) == (11, 0.2)


def test_scheme_change_dates_follow_their_weights() -> None:
    unc = _unc(scheme_change={**CHANGE, **SRC}, samples=400)
    picks = [study_draw(unc, 0, i).scheme_change for i in range(400)]
    share = sum(p == dt.date(2027, 7, 1) for p in picks) / 400
    assert set(picks) == {dt.date(2027, 7, 1), None}
    assert 0.42 < share < 0.58
    ranged = {"scheme": "zj-2024", "date": {"low": "2027-02-10", "high": "2027-05-20"}, **SRC}
    months = {study_draw(_unc(scheme_change=ranged), 0, i).scheme_change for i in range(200)}
    assert months == {dt.date(2027, 3, 1), dt.date(2027, 4, 1), dt.date(2027, 5, 1)}


def test_outage_days_of_a_unit_do_not_depend_on_the_units_after_it() -> None:
    d = study_draw(_unc(availability={"low": 0.8, "high": 0.8, **SRC}), 0, 1)
    few, many = year_outages(d, 0, 30, 3), year_outages(d, 0, 30, 7)
    assert many[:3] == few and all(len(u) == 6 for u in many)
    assert year_outages(d, 1, 30, 3) != few  # another year, another draw


def test_sample_tariff_multiplies_each_period_and_switches_scheme() -> None:
    start = dt.date(2027, 1, 1)
    mult = (0.5, 0.9, 1.0, 1.2, 1.5)
    base = tou_series(start, 96 * 3, 900.0)
    got = tou_series(start, 96 * 3, 900.0, scheme=SampleTariff(start, mult))
    np.testing.assert_array_equal(got.period, base.period)
    np.testing.assert_allclose(
        got.price_yuan_per_kwh, base.price_yuan_per_kwh * np.take(mult, base.period)
    )
    # the shipped scheme's prices already computed (as any run before a study does):
    # the changed ratios must still reach the new scheme's prices
    scheme_named(CHANGE["scheme"]).month_prices(2027, 2)
    change = future_scheme(
        StudyUncertainty.model_validate(
            {"samples": 1, "scheme_change": {**CHANGE, **SRC, "ratios": {"sharp": 3.0}}}
        ).scheme_change
    )
    assert change.prices.ratios["sharp"] == 3.0
    feb = dt.date(2027, 2, 1)
    t = SampleTariff(start, (1.0,) * 5, change, feb)
    np.testing.assert_array_equal(t.periods_on(start), tariff_for(start).periods_on(start))
    np.testing.assert_array_equal(t.periods_on(feb), scheme_named("zj-2024").periods_on(feb))
    np.testing.assert_array_equal(t.month_prices(2027, 1), tariff_for(start).month_prices(2027, 1))
    np.testing.assert_array_equal(t.month_prices(2027, 2), change.month_prices(2027, 2))
    assert (
        change.month_prices(2027, 2)[Period.SHARP]
        != scheme_named("zj-2024").month_prices(2027, 2)[Period.SHARP]
    )


def test_degradation_scales_the_fade() -> None:
    d = study_draw(_unc(degradation={"low": 2.0, "high": 2.0, **SRC}), 0, 0)
    assert SampleInputs(d).soh([0.98, 0.95]) == pytest.approx([0.96, 0.90])


def test_percentiles_with_a_payback_that_never_comes() -> None:
    p = percentiles([3.0, 4.0, math.inf, 5.0, math.inf])
    assert (p.p10, p.p50) == pytest.approx((3.4, 5.0)) and p.p90 == math.inf
    assert percentiles([1.0, 2.0, 3.0]) == percentiles(np.array([1.0, 2.0, 3.0]))


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    results = pd.DataFrame(
        {
            "key": ["a", "b", "c"],
            "status": ["ok"] * 3,
            "grid_ok": [True] * 3,
            "npv_yuan": [1.0, 2.0, 3.0],  # nominal order c, b, a: the samples' P50 decides
            "label": ["A", "B", "C"],
        }
    )
    # a's P50 (50) is above b's (40), yet b beats a in 4 of the 5 samples (paired)
    npv = {"a": [100, 101, 5, 6, 50], "b": [101, 102, 6, 7, 40], "c": [-1, -2, 5, -4, -5]}
    rows = [
        {"key": f"{k}-{i}", "status": "ok", "candidate": k, "sample": i, "npv_yuan": float(v),
         "irr": 0.1 if v > 0 else math.nan, "simple_payback_years": 5.0 if v > 0 else math.nan}
        for k, vs in npv.items() for i, v in enumerate(vs)
    ]  # fmt: skip
    return results, pd.DataFrame(rows)


def test_spread_ranks_by_p50_and_pairs_the_next_by_sample() -> None:
    results, samples = _frames()
    s = spread_frame(results, samples).set_index("key")
    assert list(s.index) == ["a", "b", "c"]  # P50 50 > 40 > -2 (nominal order: c, b, a)
    assert s.loc["a", "npv_p50_yuan"] == 50.0 and s.loc["b", "npv_p50_yuan"] == 40.0
    assert s.loc["a", "p_beat_next"] == pytest.approx(0.2)  # only sample 4: 50 > 40
    assert s.loc["a", "next_key"] == "b" and s.loc["b", "next_key"] == "c"
    assert s.loc["b", "p_beat_next"] == 1.0 and math.isnan(s.loc["c", "p_beat_next"])
    assert s.loc["c", "p_beat_status_quo"] == pytest.approx(0.2)
    assert s.loc["c", "payback_p90_years"] == math.inf
    assert s.loc["c", "irr_p10"] == -math.inf  # no IRR where the flows never pay back
    assert (s["samples"] == 5).all()


def test_bad_uncertainty_is_one_line_naming_the_field(tmp_path) -> None:
    base = """
    [[candidates]]
    enterprises = ["liyi"]
    unit_type = "lfp314-5016kwh"
    units = 1
    [uncertainty]
    samples = 3
    """
    cases = {
        "[uncertainty.scheme_change]\nscheme='zj-2024'\ndates=[2027-07-01]\nweights=[0.5]\n"
        "source='x'\nconfidence='low'\n": "weights",
        "[uncertainty.scheme_change]\nscheme='zj-2024'\ndates=[2027-07-02]\nweights=[1.0]\n"
        "source='x'\nconfidence='low'\n": "1st of a month",
        "[uncertainty.price_multipliers]\nnoon = {low=1, high=2, source='x', confidence='low'}\n": (
            "noon"
        ),
        "[uncertainty.degradation]\nlow = 2.0\nhigh = 1.0\nsource='x'\nconfidence='low'\n": (
            "degradation"
        ),
    }
    for extra, word in cases.items():
        path = tmp_path / "s.toml"
        path.write_text(textwrap.dedent(base) + extra, encoding="utf-8")
        with pytest.raises(InputError) as err:
            load_study(path)
        msg = str(err.value)
        assert "\n" not in msg and str(path) in msg and word in msg, msg
    for change, word in (
        ("scheme='zj-2099'", "zj-2099"),
        ("scheme='zj-2026'\nratios={sharp=11.0}", "sharp"),
    ):
        path.write_text(
            textwrap.dedent(base)
            + f"[uncertainty.scheme_change]\n{change}\ndates=[2027-07-01]\nweights=[1.0]\n"
            "source='x'\nconfidence='low'\n",
            encoding="utf-8",
        )
        with pytest.raises(InputError) as err:
            plan_study(load_study(path))
        msg = str(err.value)
        assert "\n" not in msg and "scheme_change" in msg and word in msg, msg
    path.write_text(textwrap.dedent(base), encoding="utf-8")
    study = load_study(path)
    assert study.with_samples(0).uncertainty is None
    assert study.with_samples(9).uncertainty.samples == 9
    no_unc = study.model_copy(update={"uncertainty": None})
    with pytest.raises(InputError, match="--samples"):
        no_unc.with_samples(3)


def test_period_keys_match_the_multiplier_order() -> None:
    assert [Period.parse(k) for k in PERIOD_KEYS] == list(range(5))


def test_a_sample_tariff_reaches_dispatch_and_bills() -> None:
    """Every price x 2: the TOU strategy dispatches by period, so the same dispatch earns
    twice the energy savings; the basic charge (not an energy price) stays."""
    from parktwin.limits import grid_limits
    from twin.scenario import default_scenario
    from twin.study.years import run_year
    from twin.wiring import site_of

    sc = default_scenario().model_copy(
        update={"start": dt.date(2027, 3, 1), "days": 2, "network": "copper_plate"}
    )
    site = site_of(sc)
    base = run_year(sc, site, None, grid_limits()).summary
    doubled = run_year(
        sc, site, None, grid_limits(), tariff=SampleTariff(sc.start, (2.0,) * 5)
    ).summary
    assert base.savings_energy_yuan_per_year > 0
    assert doubled.savings_energy_yuan_per_year == pytest.approx(
        2 * base.savings_energy_yuan_per_year, rel=1e-9
    )
    assert doubled.savings_demand_yuan_per_year == pytest.approx(
        base.savings_demand_yuan_per_year, rel=1e-9
    )
    assert doubled.gross_discharge_value_yuan_per_year == pytest.approx(
        2 * base.gross_discharge_value_yuan_per_year, rel=1e-9
    )


def test_cli_samples_option_is_checked_before_any_work(tmp_path, capsys) -> None:
    from twin.cli import main

    study = tmp_path / "s.toml"
    study.write_text(
        '[[candidates]]\nenterprises = ["liyi"]\nunit_type = "lfp314-5016kwh"\nunits = 1\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["expand", str(study), "--out", str(out), "--samples", "-1"]) == 2
    assert "--samples" in capsys.readouterr().err
    assert main(["expand", str(study), "--out", str(out), "--samples", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no [uncertainty] table" in err and "\n" not in err
    assert not out.exists()
    example = Path(__file__).resolve().parents[2] / "examples" / "study-next-20mwh.toml"
    assert main(["expand", str(example), "--out", str(out), "--check", "--samples", "4"]) == 0
    assert "4 samples" in capsys.readouterr().out
