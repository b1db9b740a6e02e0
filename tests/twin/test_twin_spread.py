"""`twin run --samples N`: seeded draws of the uncertain inputs and the percentiles of a run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from parktwin.errors import InputError
from twin.cli import main
from twin.run import run_scenario
from twin.scenario import default_scenario
from twin.spread import (
    draw,
    load_uncertainty,
    percentiles,
    run_samples,
    sample_scenario,
    shipped_uncertainty,
)


def test_percentiles_of_a_known_distribution() -> None:
    values = np.random.default_rng(1).permutation(np.arange(101.0))  # 0..100, any order
    p = percentiles(values)
    assert (p.p10, p.p50, p.p90) == (10.0, 50.0, 90.0)
    # between order statistics numpy interpolates linearly: 0..9 -> P10 0.9, P90 8.1
    p = percentiles(np.arange(10.0))
    assert p.p10 == pytest.approx(0.9) and p.p50 == pytest.approx(4.5)
    assert p.p90 == pytest.approx(8.1)


def test_same_seed_same_draws_other_seed_not() -> None:
    unc = shipped_uncertainty()
    a = [draw(unc, 5, i, 365, 3) for i in range(4)]
    assert a == [draw(unc, 5, i, 365, 3) for i in range(4)]
    assert a != [draw(unc, 6, i, 365, 3) for i in range(4)]
    assert len({d.profile_seed for d in a}) == 4  # each sample a year of its own


def test_draws_are_common_to_runs_of_other_sizes() -> None:
    """A sample's draws depend on the seed and its number only: a scenario with more units
    (or more samples) sees the same draws for what both have (common random numbers)."""
    unc = shipped_uncertainty()
    small, big = draw(unc, 9, 3, 365, 3), draw(unc, 9, 3, 365, 5)
    assert (small.profile_seed, small.load_growth_per_year, small.availability) == (
        big.profile_seed,
        big.load_growth_per_year,
        big.availability,
    )
    assert big.outage_days[:3] == small.outage_days


def test_draws_stay_in_their_ranges() -> None:
    unc = shipped_uncertainty()
    g, a = unc.load_growth_per_year, unc.availability
    for i in range(50):
        d = draw(unc, 0, i, 365, 3)
        assert g.low <= d.load_growth_per_year <= g.high
        assert a.low <= d.availability <= a.high
        for days in d.outage_days:
            assert len(days) == round((1 - d.availability) * 365)
            assert len(set(days)) == len(days) and all(0 <= x < 365 for x in days)


def test_a_sample_scenario_carries_its_draw() -> None:
    sc = default_scenario()
    names = ("xinsheng-ess-1", "xinsheng-ess-2", "xinsheng-ess-3")
    d = draw(shipped_uncertainty(), 0, 2, sc.days, len(names))
    s = sample_scenario(sc, d, names)
    assert s.seed == d.profile_seed and s.load_growth_per_year == d.load_growth_per_year
    assert len(s.faults) == sum(len(x) for x in d.outage_days) > 0
    # the draw is the units' whole availability: the scenario's own draw is off, once
    assert sc.availability.enabled and not s.availability.enabled
    f = s.faults[0]
    assert (f.kind, f.unit, f.at_s, f.duration_s) == (
        "pcs_trip",
        names[0],
        d.outage_days[0][0] * 86400.0,
        86400.0,
    )


def test_run_samples_spread_and_published_band() -> None:
    sc = default_scenario().model_copy(update={"days": 2, "network": "copper_plate"})
    nominal = run_scenario(sc).summary
    unc = shipped_uncertainty()
    spread = run_samples(nominal, 3, unc, lambda s: run_scenario(s).summary)
    assert spread.samples == 3 and len(spread.rows) == 3
    sav = sorted(r.savings_yuan_per_year for r in spread.rows)
    assert len(set(sav)) == 3  # the draws move the result
    assert spread.savings_yuan_per_year.p50 == sav[1]
    assert sav[0] < spread.savings_yuan_per_year.p10 < spread.savings_yuan_per_year.p90 < sav[2]
    band = spread.published["savings_yuan_per_year"]
    assert band.published == nominal.published.savings_yuan_per_year.published
    assert band.twin == spread.savings_yuan_per_year  # the host is the fleet here
    assert not spread.comparable  # two days are not the published year
    assert spread.target_deviation == nominal.published.target_deviation
    assert set(spread.inputs) == {"profiles", "load_growth_per_year", "availability"}


def test_cli_samples_writes_the_spread_with_the_run(tmp_path, capsys) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('days = 1\nnetwork = "copper_plate"\nstorage_groups = ["xinsheng-ess"]\n')
    out = tmp_path / "o"
    args = ["run", "--scenario", str(scenario), "--samples", "2", "--seed", "4"]
    assert main([*args, "--out", str(out)]) == 0
    spread = json.loads((out / "spread.json").read_text())
    assert spread["samples"] == 2 and spread["seed"] == 4
    assert set(spread["savings_yuan_per_year"]) == {"p10", "p50", "p90"}
    assert "source" not in spread["inputs"] and "park-facts" in spread["inputs"]["availability"]
    assert (out / "summary.json").exists()
    assert len((out / "samples.csv").read_text().splitlines()) == 3
    printed = capsys.readouterr().out
    assert "Spread over 2 samples" in printed and "P50 deviation" in printed
    # same seed, same numbers
    assert main([*args, "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "spread.json").read_text() == (out / "spread.json").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "0"], "--samples: expected 1 .. 10,000, got 0"),
        (["--uncertainty", "u.toml"], "--uncertainty: needs --samples N"),
    ],
)
def test_bad_samples_options_are_one_line(tmp_path, capsys, args, message) -> None:
    assert main(["run", "--days", "1", "--out", str(tmp_path / "o"), *args]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_range_file_names_the_field(tmp_path) -> None:
    text = (
        '[profiles]\nvary = true\nsource = "s"\nconfidence = "c"\n'
        '[load_growth_per_year]\nlow = 0.2\nhigh = 0.1\nsource = "s"\nconfidence = "c"\n'
        '[availability]\nlow = 0.9\nhigh = 0.95\nsource = "s"\nconfidence = "c"\n'
    )
    path = tmp_path / "u.toml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_uncertainty(path)
    assert str(exc.value).startswith(f"{path}: load_growth_per_year:")
    assert "low (0.2) must not be above high (0.1)" in str(exc.value)
    path.write_text(text.replace("high = 0.95", "high = 1.5").replace("0.2", "0.0"))
    with pytest.raises(InputError, match=r"availability\.high"):
        load_uncertainty(path)


def test_outage_days_take_the_units_out() -> None:
    """A unit out for half the days cycles less than the same sample with no outages."""
    shipped = shipped_uncertainty()
    half = shipped.model_copy(
        update={"availability": shipped.availability.model_copy(update={"low": 0.5, "high": 0.5})}
    )
    sc = default_scenario().model_copy(update={"days": 4, "network": "copper_plate"})
    names = ("xinsheng-ess-1", "xinsheng-ess-2", "xinsheng-ess-3")
    d = draw(half, 0, 0, sc.days, len(names))
    assert [len(x) for x in d.outage_days] == [2, 2, 2]
    out = run_scenario(sample_scenario(sc, d, names)).summary
    none = dataclasses.replace(d, outage_days=((), (), ()))
    full = run_scenario(sample_scenario(sc, none, names)).summary
    for u in range(3):
        assert (
            out.equivalent_full_cycles_per_unit[u] < 0.75 * full.equivalent_full_cycles_per_unit[u]
        )
