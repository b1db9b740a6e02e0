"""Whole studies on the real twin: local workers, a Dask LocalCluster, resume, the CLI.

Small on purpose (1-day years on the built-in park) but real: every candidate is a
closed-loop twin run of the whole park with the power flow of every feeder.
"""

from __future__ import annotations

import json
import math
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from parktwin.errors import InputError
from twin.cli import main
from twin.study import load_study, run_study
from twin.study.finance import Capex, metrics, npv, project

STUDY = """
[study]
name = "tiny"
years = 2
days = 1
[finance]
capex_fixed_yuan = 500000.0
[[candidates]]
enterprises = ["xinsheng", "liyi"]
unit_type = "lfp314-5016kwh"
units = 2
[[candidates]]
enterprises = ["liyi"]
unit_type = "lfp280-2236kwh"
units = 1
strategy = "no_such_module:Strategy"
[hosting]
enterprises = ["liyi"]
max_units = 4
days = 1
"""


def _write(folder: Path, text: str = STUDY) -> Path:
    path = folder / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The study on 2 local workers (read only: tests that resume work on a copy)."""
    folder = tmp_path_factory.mktemp("study")
    study = load_study(_write(folder))
    return study, run_study(study, folder / "out", workers=2)


def test_every_candidate_has_a_row_and_the_broken_one_its_error(local_run) -> None:
    _, res = local_run
    r = res.results.set_index("label")
    assert len(r) == 3
    ok = r[r["status"] == "ok"]
    assert set(ok["enterprise"]) == {"xinsheng", "liyi"}
    failed = r[r["status"] == "failed"]
    assert len(failed) == 1
    assert "status quo failed" in failed["error"].iloc[0]
    assert "no_such_module" in failed["error"].iloc[0]
    # the status quo of each strategy, as dispatched and grid-aware
    sq = res.status_quo.set_index(["strategy", "grid_aware"])
    assert sq.loc[("tou", False), "status"] == "ok"
    assert sq.loc[("tou", True), "status"] == "ok"
    assert (res.status_quo["strategy"] == "no_such_module:Strategy").sum() == 2
    assert set(res.status_quo.loc[res.status_quo["strategy"] != "tou", "status"]) == {"failed"}
    for name in ("results", "status_quo", "hosting"):
        assert (res.out_dir / f"{name}.csv").is_file()
        assert len(pd.read_parquet(res.out_dir / f"{name}.parquet")) == len(getattr(res, name))
    assert {p.name for p in res.figures} == {
        "savings_vs_grid_margin.png",
        "npv_by_size.png",
        "hosting_capacity.png",
    }


def test_savings_are_increments_and_finance_follows_the_cash_flows(local_run) -> None:
    study, res = local_run
    fin = study.finance
    sq = res.status_quo.set_index(["strategy", "grid_aware"]).loc[("tou", False)]
    for _, row in res.results[res.results["status"] == "ok"].iterrows():
        savings = json.loads(row["savings_yuan_by_year"])  # lists are JSON text in the table
        soh = json.loads(row["soh_by_year"])
        assert len(savings) == 2
        assert row["savings_yuan_per_year"] == pytest.approx(sum(savings) / 2)
        # capex by hand: cabins, PCS, transformers, the fixed part
        e_kwh, n = row["e_kwh"], row["units"]
        cap = Capex(
            fin.capex_yuan_per_kwh * e_kwh,
            fin.capex_yuan_per_kw * n * row["pcs_kva"],
            fin.capex_trafo_yuan_per_kva * n * row["trafo_kva"],
            500000.0,
        )
        assert row["capex_yuan"] == pytest.approx(cap.total_yuan)
        proj = project(fin, cap, savings, soh)
        m = metrics(fin, proj)
        assert row["npv_yuan"] == pytest.approx(npv(fin.discount_rate, proj.cash_flows))
        assert row["npv_yuan"] == pytest.approx(m.npv_yuan)
        if not math.isnan(m.irr):
            assert npv(row["irr"], proj.cash_flows) == pytest.approx(0.0, abs=1e-3)
        # aging carried from year 1 to year 2, new cells start at 1
        assert 1.0 > soh[0] > soh[1] > 0.9
        assert row["efc_per_year"] > 0
    # the status quo's own years are what the increments were taken against
    sq_savings = json.loads(sq["savings_yuan_by_year"])
    assert len(sq_savings) == 2 and sq_savings[0] > 0


def test_each_candidate_runs_both_ways_and_carries_its_three_verdicts(local_run) -> None:
    _, res = local_run
    sq = res.status_quo.set_index(["strategy", "grid_aware"])
    aware_sq = json.loads(sq.loc[("tou", True), "savings_yuan_by_year"])
    for _, row in res.results[res.results["status"] == "ok"].iterrows():
        assert row["grid_aware"] == False  # noqa: E712 (the plain columns: as dispatched)
        aware = json.loads(row["aware_savings_yuan_by_year"])
        assert len(aware) == 2 and len(aware_sq) == 2
        assert row["aware_savings_yuan_per_year"] == pytest.approx(sum(aware) / 2)
        cost = row["savings_yuan_per_year"] - row["aware_savings_yuan_per_year"]
        assert row["grid_aware_cost_yuan_per_year"] == pytest.approx(cost)
        # the guard's promise, checked by the full power flow of every interval
        assert row["aware_caused_violations"] == 0
        assert bool(row["fits_as_dispatched"]) == bool(row["grid_ok"])
        assert bool(row["fits_grid_aware"]) == bool(row["aware_grid_ok"])
        expected = (
            "fits" if row["grid_ok"] else "fits grid-aware" if row["aware_grid_ok"] else "reinforce"
        )
        assert row["verdict"] == expected
        # as dispatched, what it breaks and from which year (nothing when it fits)
        reinforce = json.loads(row["reinforce_from_year"])
        added = json.loads(row["added_by_element"])
        assert set(added) <= set(reinforce) and (not reinforce or not row["grid_ok"])
        assert all(y in (2025, 2026) for y in reinforce.values())


def test_hosting_bisection_brackets_the_first_violating_size(local_run) -> None:
    _, res = local_run
    (h,) = res.hosting.to_dict("records")
    assert h["status"] == "ok" and h["enterprise"] == "liyi" and h["feeder"] == "F04"
    probes = {n: ok for n, ok, _ in json.loads(h["probes"])}
    largest, first_bad = h["largest_ok_units"], h["first_bad_units"]
    if h["at_least"]:
        assert largest == 4 and probes[4] and pd.isna(first_bad)
    else:
        assert first_bad == largest + 1
        assert probes[first_bad] is False
        assert largest == 0 or probes[largest] is True
        assert h["limited_by"]
    assert h["hosting_mwh"] == pytest.approx(largest * 5.0159, rel=1e-3)


def test_resumed_study_runs_nothing_again(local_run, tmp_path) -> None:
    study, res = local_run
    out = tmp_path / "out"
    shutil.copytree(res.out_dir, out)
    again = run_study(study, out, workers=1, figures=False)
    assert again.counts.done == 0
    # status quo x2 x2 ways (tou ok, broken failed), their reinforcement x2, 2 ok, hosting
    assert again.counts.skipped == 2 + 2 + 2 + 2 + 1
    pd.testing.assert_frame_equal(again.results, res.results)


def test_other_settings_refuse_the_folder(local_run, tmp_path) -> None:
    study, res = local_run
    out = tmp_path / "out"
    shutil.copytree(res.out_dir, out)
    with pytest.raises(InputError, match="other settings"):
        run_study(study.with_days(2), out, workers=1)


def test_dask_local_cluster_gives_the_same_results(local_run, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    study, res = local_run
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        dask = run_study(
            study, tmp_path / "out", scheduler=cluster.scheduler_address, figures=False
        )
    cols = [
        "key",
        "status",
        "npv_yuan",
        "irr",
        "savings_yuan_per_year",
        "soh_end",
        "grid_margin_pct",
        "grid_flags",
        "added_violations",
        "aware_npv_yuan",
        "verdict",
    ]
    a = res.results.sort_values("key")[cols].reset_index(drop=True)
    b = dask.results.sort_values("key")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert list(dask.hosting["largest_ok_units"]) == list(res.hosting["largest_ok_units"])


def test_cli_prints_the_ranked_table(tmp_path, capsys) -> None:
    study = _write(
        tmp_path,
        """
        [study]
        years = 1
        days = 1
        [[candidates]]
        enterprises = ["xinsheng"]
        unit_type = "lfp314-5016kwh"
        units = 1
        """,
    )
    code = main(["expand", str(study), "--out", str(tmp_path / "out"), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Expansion candidates by verdict" in out and "xinsh" in out
    assert (tmp_path / "out" / "results.parquet").is_file()


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    bad = _write(
        tmp_path,
        '[[candidates]]\nenterprises = "atlantis"\nunit_type = "lfp314-5016kwh"\nunits = 1\n',
    )
    assert main(["expand", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown enterprise 'atlantis'" in err
    assert main(["expand", str(bad), "--out", str(tmp_path / "o"), "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err
