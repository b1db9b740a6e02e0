"""`twin calibrate`: known-truth recovery, round trip on `twin unit test`, hold-out, bad data,
and a fitted unit type running `twin run`.

The data are made by the twin itself (`twin.calibrate.synthetic`, `devices.acceptance`) from
a unit type whose values are known, plus measurement noise; the fit starts from the shipped
unit type and must find the truth within the tolerances below, or say it cannot.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from devices import load_unit_params
from devices.acceptance import AcceptanceConfig, run_acceptance, write_results
from parktwin.errors import InputError
from twin.calibrate import calibrate, load_mapping, load_measured
from twin.calibrate.synthetic import MAPPING_COLUMNS, LogSpec, commissioning_log
from twin.calibrate.unitfile import unit_document
from twin.cli import main

SHIPPED = "lfp280-2236kwh"
# Recovery tolerances (relative), on a 2-day 1-minute log with the LogSpec noise.
TOL = {"capacity_ah": 0.005, "r_sum": 0.05, "hysteresis_mv": 0.2, "q_cool_max_kw": 0.05}


def unit_file(tmp: Path, name: str = "truth.toml", **values: float) -> Path:
    """The shipped unit type with `values` (field = value, unique field names) changed."""
    text = resources.files("devices").joinpath("data", "units", f"{SHIPPED}.toml").read_text()
    for key, value in values.items():
        lines = text.splitlines()
        # the value's line, not its source note (a string)
        hits = [i for i, ln in enumerate(lines) if ln.startswith(f"{key} = ") and ln[-1] != '"']
        assert len(hits) == 1, key
        lines[hits[0]] = f"{key} = {value!r}"
        text = "\n".join(lines) + "\n"
    path = tmp / name
    path.write_text(text)
    return path


def export(tmp: Path, df: pd.DataFrame, name: str = "log.csv") -> Path:
    path = tmp / name
    df.to_csv(path, index=False)
    return path


def mapping(**over):
    cols = [f"{k}={v}" for k, v in {**MAPPING_COLUMNS, **over}.items() if v is not None]
    return load_mapping(None, cols, "Asia/Shanghai", None)


def fitted_by_name(c) -> dict:
    return {p.name: p for p in c.params}


# ------------------------------------------------------------------ known truth
# each example fits two days of data (seconds): few examples, no shrinking
@settings(max_examples=3, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    cap=st.floats(0.85, 1.0),
    r=st.floats(0.8, 1.5),
    hyst=st.floats(8.0, 25.0),
    q_cool=st.floats(0.5, 0.75),
    seed=st.integers(0, 2**16),
)
def test_known_truth_is_recovered_or_flagged(tmp_path_factory, cap, r, hyst, q_cool, seed) -> None:
    tmp = tmp_path_factory.mktemp("truth")
    truth = load_unit_params(
        str(
            unit_file(
                tmp,
                capacity_ah=280.0 * cap,
                r0_mohm=0.5 * r,
                r1_mohm=0.2 * r,
                hysteresis_mv=hyst,
                q_cool_max_kw=45.0 * q_cool,
            )
        )
    )
    base = load_unit_params(SHIPPED)
    log = export(tmp, commissioning_log(truth, LogSpec(days=2.0), seed=seed))
    m, _ = load_measured(log, base.pcs_kva, mapping())
    c = calibrate(m, base)
    got = fitted_by_name(c)
    assert got["capacity_ah"].status == "fitted"
    assert got["capacity_ah"].value == pytest.approx(truth.cell.capacity_ah, rel=TOL["capacity_ah"])
    r_sum = got["r0_mohm"].value + got["r1_mohm"].value
    assert r_sum == pytest.approx(truth.cell.r0_mohm + truth.cell.r1_mohm, rel=TOL["r_sum"])
    assert got["hysteresis_mv"].value == pytest.approx(hyst, rel=TOL["hysteresis_mv"])
    q = got["q_cool_max_kw"]
    if q.status == "fitted":  # a chiller that never saturates cannot show its capacity
        assert q.value == pytest.approx(truth.thermal.q_cool_max_kw, rel=TOL["q_cool_max_kw"])
    # the fit explains the data down to the noise, on the hold-out too
    v = next(ch for ch in c.channels if ch.channel == "v_dc_v")
    assert v.rmse_after <= v.rmse_before and v.rmse_after < 3 * LogSpec().noise_v
    assert v.rmse_after_holdout < 3 * LogSpec().noise_v


def test_a_chiller_that_never_saturates_is_flat_and_kept(tmp_path) -> None:
    base = load_unit_params(SHIPPED)
    cool = LogSpec(days=1.0, ambient_mean_c=18.0, ambient_swing_c=2.0)
    log = export(tmp_path, commissioning_log(base, cool, seed=4))
    m, _ = load_measured(log, base.pcs_kva, mapping())
    c = calibrate(m, base)
    q = fitted_by_name(c)["q_cool_max_kw"]
    assert q.status == "flat" and q.value == base.thermal.q_cool_max_kw
    assert any(w.startswith("q_cool_max_kw: not identifiable") for w in c.warnings)
    assert c.fitted.thermal.q_cool_max_kw == base.thermal.q_cool_max_kw
    doc = unit_document(c, "cold")  # the file keeps the shipped note of a value it kept
    assert doc["thermal"]["sources"]["q_cool_max_kw"] == base.thermal.sources["q_cool_max_kw"]
    assert doc["cell"]["sources"]["capacity_ah"].startswith("twin calibrate: fitted to")


def test_the_same_log_gives_the_same_fit(tmp_path) -> None:
    base = load_unit_params(SHIPPED)
    log = export(tmp_path, commissioning_log(base, LogSpec(days=0.5), seed=3))
    m, _ = load_measured(log, base.pcs_kva, mapping())
    a, b = calibrate(m, base), calibrate(m, base)
    assert [p.value for p in a.params] == [p.value for p in b.params]


# ------------------------------------------------------------------ twin unit test round trip
@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    truth_path = unit_file(tmp, capacity_ah=268.8, r0_mohm=0.6, q_cool_max_kw=30.0)
    cfg = AcceptanceConfig(unit_type=str(truth_path), dt_s=30.0, cycles=2, ambient_c=35.0)
    summary, series = run_acceptance(cfg)
    ut = tmp / "ut"
    ut.mkdir()
    write_results(ut, summary, series)
    out = tmp / "fitted.toml"
    code = main(["calibrate", str(ut), "--unit-type", SHIPPED, "--out", str(out)])
    return code, tmp, out, load_unit_params(str(truth_path))


def test_round_trip_on_a_unit_test_output(round_trip, capsys) -> None:
    code, tmp, out, truth = round_trip
    assert code == 0
    fitted = load_unit_params(str(out))
    assert fitted.name == "fitted"
    assert fitted.cell.capacity_ah == pytest.approx(truth.cell.capacity_ah, rel=0.002)
    assert fitted.thermal.q_cool_max_kw == pytest.approx(30.0, rel=0.01)
    note = fitted.cell.sources["capacity_ah"]
    report = json.loads((tmp / "fitted.fit.json").read_text())
    assert report["data"]["sha256"][:16] in note and "ut" in note and "t = 30 s" in note
    assert "RMSE" in note and "hold-out" in note
    # one power per direction: the PCS loss's no-load and slope cannot be told apart
    assert any("p_noload_kw" in w and "correlation" in w for w in report["warnings"])
    # ten-minute rests cannot show a few %/month of self-discharge: kept, and said so
    assert any(w.startswith("self_discharge_per_month: needs a rest") for w in report["warnings"])
    assert (
        fitted.cell.self_discharge_per_month
        == load_unit_params(SHIPPED).cell.self_discharge_per_month
    )
    assert (tmp / "fitted.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # values the fit did not touch keep their shipped notes
    assert fitted.pack.sources == load_unit_params(SHIPPED).pack.sources


def test_holdout_is_the_last_fifth_in_time(tmp_path) -> None:
    base = load_unit_params(SHIPPED)
    truth = load_unit_params(str(unit_file(tmp_path, capacity_ah=260.0)))
    log = export(tmp_path, commissioning_log(truth, LogSpec(days=1.0), seed=5))
    m, _ = load_measured(log, base.pcs_kva, mapping())
    c = calibrate(m, base)
    assert c.n_holdout_rows == pytest.approx(0.2 * m.n, abs=2)
    assert m.t_s[c.n_fit_rows] >= 0.8 * m.t_s[-1] > m.t_s[c.n_fit_rows - 1]
    for ch in c.channels:
        if ch.channel in ("v_dc_v", "soc"):
            assert ch.rmse_after_holdout < ch.rmse_before_holdout
    assert any(r.holdout for r in c.cycles) and any(not r.holdout for r in c.cycles)
    c0 = calibrate(m, base, holdout_fraction=0.0)
    assert c0.n_holdout_rows == 0 and c0.n_fit_rows == m.n


# ------------------------------------------------------------------ bad data
@pytest.fixture(scope="module")
def small_log():
    return commissioning_log(load_unit_params(SHIPPED), LogSpec(days=0.1), seed=7)


def _load(tmp, df, **over):
    return load_measured(export(tmp, df), 1250.0, mapping(**over))[0]


def test_time_going_backwards_is_refused(tmp_path, small_log) -> None:
    df = small_log.copy()
    df.loc[[10, 11], "time"] = df.loc[[11, 10], "time"].to_numpy()
    with pytest.raises(InputError, match=r"log\.csv: time: goes backwards at row 11"):
        _load(tmp_path, df)


def test_duplicated_stamps_are_dropped_with_a_count(tmp_path, small_log) -> None:
    df = pd.concat([small_log, small_log.iloc[[5, 6, 7]]]).sort_values("time", kind="stable")
    m = _load(tmp_path, df)
    assert m.n == len(small_log)
    assert "dropped 3 rows with a duplicated time stamp (kept the first)" in m.warnings


def test_soc_in_percent_without_its_unit_is_refused(tmp_path, small_log) -> None:
    with pytest.raises(InputError, match=r"soc: values up to .*outside 0\.\.1; in percent\?"):
        _load(tmp_path, small_log, soc="SOC_pct")


def test_impossible_soc_and_power_rows_are_dropped_with_counts(tmp_path, small_log) -> None:
    df = small_log.copy()
    df.loc[[20, 21], "SOC_pct"] = 130.0
    df.loc[[40, 41, 42], "P_AC_kW"] = 5000.0
    m = _load(tmp_path, df)
    assert m.n == len(df) - 5
    assert "dropped 2 rows with soc outside 0..1" in m.warnings
    assert any(
        w.startswith("dropped 3 rows with |p_ac_kw| above the PCS rating 1250") for w in m.warnings
    )
    # a dropped row leaves its step's power unknown: the next row restarts the replay
    assert m.restart.sum() == 1 + 2  # the first row, after the SOC pair and the power trio


def test_gaps_restart_the_replay_with_a_warning(tmp_path, small_log) -> None:
    df = small_log.drop(index=range(50, 80))
    m = _load(tmp_path, df)
    assert m.restart.sum() == 2
    assert any(
        w.startswith("1 gaps longer than 3 x the 60-s step (longest 31 min)") for w in m.warnings
    )


@pytest.mark.parametrize(
    ("over", "tz", "match"),
    [
        ({}, None, r"time: stamps carry no time zone; give --time-zone"),
        ({"soc": "nope"}, "Asia/Shanghai", r"column 'nope' \(for soc\) not found"),
        ({"v_dc_v": "V_DC_V:mV"}, "Asia/Shanghai", r"--column v_dc_v: unit 'mV' unknown"),
        (
            {"p_ac_kw": None, "p_dc_kw": None},
            "Asia/Shanghai",
            r"needs a power: p_ac_kw, p_dc_kw, or i_dc_a with v_dc_v",
        ),
    ],
)
def test_bad_mappings_are_one_line(tmp_path, small_log, over, tz, match) -> None:
    path = export(tmp_path, small_log)
    with pytest.raises(InputError, match=match) as info:
        cols = [f"{k}={v}" for k, v in {**MAPPING_COLUMNS, **over}.items() if v is not None]
        load_measured(path, 1250.0, load_mapping(None, cols, tz, None))
    assert "\n" not in str(info.value)


def test_units_and_sign_of_an_export_are_converted(tmp_path, small_log) -> None:
    ref = _load(tmp_path, small_log)
    df = small_log.copy()
    df["P_AC_kW"] = -df["P_AC_kW"] / 1000.0  # MW, discharge positive
    df["P_DC_kW"] = -df["P_DC_kW"] / 1000.0
    df["T_cabin_C"] = df["T_cabin_C"] + 273.15
    path = export(tmp_path, df, "other.csv")
    cols = {
        **MAPPING_COLUMNS,
        "p_ac_kw": "P_AC_kW:MW",
        "p_dc_kw": "P_DC_kW:MW",
        "temp_c": "T_cabin_C:K",
    }
    maps = load_mapping(
        None, [f"{k}={v}" for k, v in cols.items()], "Asia/Shanghai", "discharge_positive"
    )
    m = load_measured(path, 1250.0, maps)[0]
    np.testing.assert_allclose(m.p_ac_kw, ref.p_ac_kw, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(m.temp_c, ref.temp_c, atol=1e-9)
    assert m.start == "2026-07-01T00:01:00+08:00"


def test_cli_bad_data_is_one_line_and_exit_2(tmp_path, small_log, capsys) -> None:
    df = small_log.copy()
    df.loc[[10, 11], "time"] = df.loc[[11, 10], "time"].to_numpy()
    path = export(tmp_path, df)
    args = ["calibrate", str(path), "--unit-type", SHIPPED, "--out", str(tmp_path / "f.toml")]
    cols = [a for k, v in MAPPING_COLUMNS.items() for a in ("--column", f"{k}={v}")]
    code = main([*args, *cols, "--time-zone", "Asia/Shanghai"])
    err = capsys.readouterr().err
    assert code == 2 and "goes backwards at row 11" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f.toml").exists()
    code = main([*args])
    assert code == 2 and "an export needs a column mapping" in capsys.readouterr().err


# ------------------------------------------------------------------ the fitted unit type in use
def test_a_fitted_unit_type_runs_twin_run(round_trip, tmp_path, capsys) -> None:
    code, _, fitted, _ = round_trip
    assert code == 0
    park = resources.files("grid").joinpath("data", "park.toml").read_text()
    site = tmp_path / "site.toml"
    site.write_text(park.replace('unit_type = "lfp280-2236kwh"', f'unit_type = "{fitted}"', 1))
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(f'site = "{site}"\ndays = 1\nstorage_groups = ["xinsheng-ess"]\n')
    out = tmp_path / "run"
    code = main(["run", "--scenario", str(scenario), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary
