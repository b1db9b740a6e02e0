"""Sampled studies on the real twin: common random numbers, the spread, resume, Dask.

Small on purpose (one 1-day year on the built-in park, two candidates, three samples) but
real: every sample of the status quo and of each candidate is a closed-loop twin run of
the whole park with its feeders' power flow.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin.cli import main
from twin.study import load_study, run_study
from twin.study.finance import npv

ROOT = Path(__file__).resolve().parents[2]

STUDY = """
[study]
name = "tiny-unc"
years = 1
days = 1
[finance]
capex_fixed_yuan = 500000.0
[[candidates]]
enterprises = ["xinsheng", "liyi"]
unit_type = "lfp314-5016kwh"
units = 2
[uncertainty]
samples = 3
availability = { low = 0.0001, high = 0.5, source = "test: some samples lose the day", confidence = "low" }
degradation = { low = 0.8, high = 1.5, source = "test", confidence = "low" }
[uncertainty.price_multipliers]
sharp = { low = 0.7, high = 1.3, source = "test", confidence = "low" }
valley = { low = 0.7, high = 1.3, source = "test", confidence = "low" }
[uncertainty.scheme_change]
scheme = "zj-2024"
dates = [2025-01-01, "never"]
weights = [0.5, 0.5]
source = "test"
confidence = "low"
"""

HELD = """
[study]
name = "tiny-held"
years = 1
days = 1
[[candidates]]
enterprises = ["liyi"]
unit_type = "lfp314-5016kwh"
units = 2
[uncertainty]
samples = 2
profiles = false
load_growth_per_year = false
availability = false
"""


def _write(folder: Path, text: str = STUDY) -> Path:
    path = folder / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _json(x):
    return json.loads(x) if isinstance(x, str) else x


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """The sampled study through the CLI on 2 local workers (read only)."""
    folder = tmp_path_factory.mktemp("unc")
    path = _write(folder)
    out = folder / "out"
    assert main(["expand", str(path), "--out", str(out), "--workers", "2"]) == 0
    return load_study(path), out


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_parquet(out / "results.parquet"),
        pd.read_parquet(out / "status_quo_samples.parquet"),
        pd.read_parquet(out / "samples.parquet"),
        pd.read_parquet(out / "spread.parquet"),
    )


def test_every_candidate_runs_the_same_draws(sampled) -> None:
    study, out = sampled
    results, sq, samples, _ = _tables(out)
    assert (sq["status"] == "ok").all() and (samples["status"] == "ok").all()
    assert sorted(sq["sample"]) == [0, 1, 2]
    assert len(samples) == 2 * 3
    assert set(samples["candidate"]) == set(results["key"])
    # the draws: one row per sample in the status quo's table, each a different draw,
    # within its declared range; every candidate's sample i is scored against it
    assert sq["profile_seed"].nunique() == 3
    assert sq["price_x_sharp"].between(0.7, 1.3).all() and (sq["price_x_flat"] == 1.0).all()
    assert sq["availability"].between(0.0001, 0.5).all()
    fin = study.finance
    for _, row in samples.iterrows():
        cf = _json(row["cash_flows_yuan"])
        assert row["npv_yuan"] == pytest.approx(npv(fin.discount_rate, cf), rel=1e-12)
    by = samples.pivot(index="sample", columns="candidate", values="npv_yuan")
    assert by.notna().all().all()
    # the samples move the NPV (prices, availability, degradation drawn)
    assert (by.std() > 0).all()


def test_spread_is_the_percentiles_of_the_samples(sampled) -> None:
    _, out = sampled
    results, _, samples, spread = _tables(out)
    s = spread.set_index("key")
    for key, g in samples.groupby("candidate"):
        p = np.percentile(g["npv_yuan"], [10, 50, 90])
        assert list(s.loc[key, ["npv_p10_yuan", "npv_p50_yuan", "npv_p90_yuan"]]) == list(p)
        assert s.loc[key, "p_beat_status_quo"] == np.mean(g["npv_yuan"] > 0)
        assert s.loc[key, "samples"] == 3
    first, second = spread["key"]
    assert s.loc[first, "next_key"] == second
    pair = samples.pivot(index="sample", columns="candidate", values="npv_yuan")
    assert s.loc[first, "p_beat_next"] == np.mean(pair[first] > pair[second])
    assert s.loc[first, "npv_p50_yuan"] >= s.loc[second, "npv_p50_yuan"]  # ranked by P50
    assert (out / "npv_fan.png").stat().st_size > 10_000
    assert len(results) == 2  # the nominal rows are still there, as without samples
    inputs = json.loads((out / "study.json").read_text())["uncertain_inputs"]
    assert set(inputs) >= {"profiles", "availability", "price_multiplier_sharp", "degradation"}
    assert inputs["load_growth_per_year"].startswith("0..0.1: park-facts")  # shipped, sourced


def test_held_inputs_reproduce_the_nominal_run(tmp_path) -> None:
    """With every input held, each sample is the nominal run, to the bit: the sampled path
    adds nothing of its own."""
    study = load_study(_write(tmp_path, HELD))
    res = run_study(study, tmp_path / "out", workers=1, figures=False)
    nominal = res.results.set_index("key")
    for _, row in res.samples.iterrows():
        assert row["npv_yuan"] == nominal.loc[row["candidate"], "npv_yuan"]
        assert _json(row["savings_yuan_by_year"]) == _json(
            nominal.loc[row["candidate"], "savings_yuan_by_year"]
        )
    assert (res.spread["npv_p10_yuan"] == res.spread["npv_p90_yuan"]).all()


def _run_script(out: Path, path: Path, workers: int = 2) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); from twin.cli import main;"
        "sys.exit(main(['expand', sys.argv[2], '--out', sys.argv[3], '--workers', '2']))",
        str(ROOT),
        str(path),
        str(out),
    ]


@pytest.mark.slow  # a sampled study killed and resumed, then extended: about a minute
def test_killed_midway_resumes_per_sample_and_more_samples_extend(sampled, tmp_path) -> None:
    study, done = sampled
    path = _write(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _run_script(out, path),
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    rows = out / "samples.csv"
    deadline = time.monotonic() + 300.0
    try:
        while time.monotonic() < deadline:
            if rows.exists() and rows.read_text().count("\n") - 1 >= 2:
                break
            assert proc.poll() is None, "the study ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the study made no progress")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = pd.read_csv(rows)
    assert 2 <= len(before) < 6
    again = run_study(study, out, workers=2, figures=False)
    assert again.counts.skipped >= len(before) + 1  # + the nominal status quo at least
    after = pd.read_csv(rows)
    assert sorted(after["key"]) == sorted(pd.read_csv(done / "samples.csv")["key"])  # once each
    assert list(after["key"][: len(before)]) == list(before["key"])  # nothing rewritten
    # the same numbers as the uninterrupted run
    a = after.set_index("key")["npv_yuan"].sort_index()
    b = pd.read_csv(done / "samples.csv").set_index("key")["npv_yuan"].sort_index()
    pd.testing.assert_series_equal(a, b)
    # one more sample runs only that sample (its status quo and the two candidates)
    more = run_study(study.with_samples(4), out, workers=2, figures=False)
    assert more.counts.done == 3
    assert sorted(more.spread["samples"]) == [4, 4]
    # and fewer: the spread of the first 3 again, nothing run
    fewer = run_study(study, out, workers=1, figures=False)
    assert fewer.counts.done == 0
    pd.testing.assert_frame_equal(
        fewer.spread.reset_index(drop=True), pd.read_parquet(done / "spread.parquet")
    )


@pytest.mark.slow  # a Dask LocalCluster of two worker processes
def test_dask_local_cluster_gives_the_same_samples(sampled, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    study, done = sampled
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        res = run_study(study, out, scheduler=cluster.scheduler_address, figures=False)
    cols = ["key", "status", "npv_yuan", "irr", "simple_payback_years"]
    local = pd.read_parquet(done / "samples.parquet").sort_values("key")[cols]
    dask = res.samples.sort_values("key")[cols]
    pd.testing.assert_frame_equal(local.reset_index(drop=True), dask.reset_index(drop=True))
    pd.testing.assert_frame_equal(
        res.spread.reset_index(drop=True), pd.read_parquet(done / "spread.parquet")
    )
