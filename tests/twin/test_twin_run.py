"""`run_scenario` and `twin run`: output folder, summary keys, determinism, aging carried."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from twin.cli import main
from twin.run import run_scenario
from twin.scenario import default_scenario

#: the keys of summary.json: the file's contract with its readers ("run": `Scenario.identity`)
SUMMARY_JSON_KEYS = (
    "scenario days intervals interval_s units hosts nameplate_kwh basic_charge strategy"
    " charge_kwh_per_day discharge_kwh_per_day aux_kwh_per_day savings_yuan_per_year"
    " savings_energy_yuan_per_year savings_demand_yuan_per_year"
    " gross_discharge_value_yuan_per_year bill_without_storage_yuan_per_year"
    " equivalent_full_cycles equivalent_full_cycles_per_unit soh_end soh_end_per_unit"
    " round_trip_efficiency round_trip_efficiency_with_aux stored_energy_change_kwh"
    " max_export_kw max_export_kw_without_storage export_intervals guard_interventions"
    " voltage_violations overload_violations v_min_pu v_max_pu line_loading_max_pct"
    " trafo_loading_max_pct power_flow_solves faults published assumptions run_seconds note run"
    " savings_power_factor_yuan_per_year billing tariff_schemes agency_prices"
    " equivalent_full_cycles_per_year comparable_project availability"
    " round_trip_efficiency_at_meter round_trip_efficiency_at_meter_with_aux"
    " round_trip_efficiency_by_season sensitivity"
).split()


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    sc = default_scenario().model_copy(
        update={"days": 2, "start": __import__("datetime").date(2025, 4, 7)}
    )
    return run_scenario(sc, out_dir=out), out


def test_output_folder(two_days) -> None:
    result, out = two_days
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary) == sorted(SUMMARY_JSON_KEYS)  # a wall-clock run adds "realtime"
    assert summary["units"] == list(result.summary.unit_names)
    assert summary["published"]["savings_yuan_per_year"]["deviation"] == pytest.approx(
        result.summary.published.savings_yuan_per_year.deviation
    )
    assert summary["guard_interventions"] == result.summary.guard_interventions
    for name in result.unit_names:
        df = pd.read_parquet(out / "units" / f"{name}.parquet")
        assert len(df) == 192 and {"time", "p_ac_kw", "soc", "soh", "p_set_kw"} <= set(df.columns)
    meter = pd.read_parquet(out / "meters" / "xinsheng.parquet")
    assert {"pcc_kw", "pcc_without_storage_kw", "load_kw", "pv_kw", "price_yuan_per_kwh"} <= set(
        meter.columns
    )
    for png in ("week_dispatch", "monthly_savings", "soc_histogram", "voltage_envelope"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "park.parquet").exists()


def test_summary_is_consistent(two_days) -> None:
    result, _ = two_days
    s = result.summary
    u = result.series["units"]
    assert s.charge_kwh_per_day == pytest.approx(u["e_ac_in_kwh"].sum() / 2)
    assert 0.8 < s.round_trip_efficiency < 1.0
    assert s.savings_yuan_per_year > 0  # a spring week of TOU arbitrage pays
    assert s.savings_demand_yuan_per_year == 0.0  # capacity billing (the assumption)
    assert s.max_export_kw == 0.0 and s.voltage_violations == 0
    assert s.nameplate_kwh == pytest.approx(6709.248)
    assert s.published.nameplate_kwh.twin == pytest.approx(6709.248)
    # the baseline is the same park with storage at 0: it differs only at the host meter
    m = result.series["meters"]
    host = result.meter_names.index("xinsheng")
    diff = np.abs(m["pcc_kw"] - m["pcc_without_storage_kw"]).max(axis=0)
    assert diff[host] > 1000.0
    assert np.delete(diff, host).max() < 1.0  # others move by voltage-dependent losses only


def test_same_seed_same_summary_other_seed_not(tmp_path) -> None:
    sc = default_scenario().model_copy(update={"days": 1, "network": "copper_plate"})
    texts = []
    for i, seed in enumerate((3, 3, 4)):
        run_scenario(sc.model_copy(update={"seed": seed}), out_dir=tmp_path / str(i))
        text = (tmp_path / str(i) / "summary.json").read_text()
        # the one value that measures the machine rather than the model
        texts.append("\n".join(ln for ln in text.splitlines() if '"run_seconds"' not in ln))
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_aging_is_carried_into_the_next_run() -> None:
    sc = default_scenario().model_copy(update={"days": 2, "network": "copper_plate"})
    first = run_scenario(sc)
    second = run_scenario(sc, initial_state=first.final_state)
    soh1 = np.array(first.summary.soh_end_per_unit)
    assert np.all(soh1 < 1.0)
    assert np.all(np.array(second.summary.soh_end_per_unit) < soh1)


def test_cli_run_prints_the_comparison(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line, as a wide terminal shows it
    code = main(["run", "--days", "1", "--start", "2025-07-15", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0
    assert "twin vs published" in out and "4,000,000" in out
    assert (tmp_path / "o" / "summary.json").exists()
    # the savings line's parts add up to its total (energy, basic charge, power factor)
    line = next(x for x in out.splitlines() if "savings per year (energy" in x)
    total, parts = re.search(r"([-\d,]+) yuan \((.*)\)", line).groups()
    terms = re.findall(r"([+-]?)\s*([\d,]+)", parts)
    assert len(terms) == 3, line
    summed = sum((-1 if sign == "-" else 1) * float(v.replace(",", "")) for sign, v in terms)
    assert summed == pytest.approx(float(total.replace(",", "")), abs=2.0), line


@pytest.mark.parametrize(
    "args,match",
    [
        (["--step", "7"], "whole number of steps"),
        (["--strategy", "nope"], "strategy"),
        (["--start", "2025-13-01"], "--start: expected a date"),
        (["--site", "no/such/site.toml"], "no such file"),
    ],
)
def test_cli_bad_values_are_one_line(tmp_path, capsys, args, match) -> None:
    code = main(["run", "--days", "1", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and "Traceback" not in err


def test_basic_charge_is_scaled_by_months_energy_by_days() -> None:
    import datetime as dt

    sc = default_scenario().model_copy(
        update={
            "days": 3,
            "start": dt.date(2025, 7, 1),
            "network": "copper_plate",
            "strategy": "peak_shaving",
            "basic_charge": "demand",
        }
    )
    r = run_scenario(sc)
    (month,) = r.monthly  # one calendar month touched, billed its whole basic charge
    s = r.summary
    assert s.savings_demand_yuan_per_year == pytest.approx(12 * month["demand_yuan"])
    assert s.savings_energy_yuan_per_year == pytest.approx(365 / 3 * month["energy_yuan"])
    assert not s.published.comparable
    assert "not the published project's year" in s.note[0]


def test_cached_inputs_equal_built_ones_and_follow_the_seed(tmp_path, monkeypatch):
    """The run's input series from the on-disk cache are the ones `build_inputs` makes;
    another seed is another entry."""
    import dataclasses
    import datetime as dt

    from grid import default_site
    from twin.inputs import build_inputs, cached_inputs

    monkeypatch.setenv("PARKTWIN_CACHE_DIR", str(tmp_path))
    site, start = default_site(), dt.date(2025, 3, 1)
    built = build_inputs(site, start, 96, 900.0, seed=3)
    cached_inputs(site, start, 96, 900.0, seed=3)
    again = cached_inputs(site, start, 96, 900.0, seed=3)
    for f in dataclasses.fields(built):
        x, y = getattr(built, f.name), getattr(again, f.name)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f.name
    other = cached_inputs(site, start, 96, 900.0, seed=4)
    assert not np.array_equal(other.load_kw, built.load_kw)
    assert len(list((tmp_path / "inputs").glob("*.pickle"))) == 2


def test_figures_keep_their_size_and_leave_no_pyplot_figure(two_days, tmp_path) -> None:
    """The figures are drawn on their own Agg canvases at 110 dpi (tight box): each PNG is
    about its figure size in pixels, and pyplot's global figure list stays empty."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from twin.figures import write_figures

    result, _ = two_days
    before = plt.get_fignums()
    paths = write_figures(result, tmp_path)
    assert plt.get_fignums() == before
    size_in = {
        "week_dispatch": (11, 8),
        "monthly_savings": (10, 4),
        "soc_histogram": (7, 4),
        "voltage_envelope": (10, 4),
    }
    assert sorted(p.stem for p in paths) == sorted(size_in)
    for p in paths:
        w_px, h_px = Image.open(p).size
        w_in, h_in = size_in[p.stem]
        # the tight box trims the margins and never adds more than a label's width
        assert 0.8 * w_in * 110 < w_px < 1.05 * w_in * 110, (p.stem, w_px)
        assert 0.8 * h_in * 110 < h_px < 1.05 * h_in * 110, (p.stem, h_px)
        assert (p.read_bytes())[:8] == b"\x89PNG\r\n\x1a\n"
