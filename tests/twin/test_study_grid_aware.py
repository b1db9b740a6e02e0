"""A study run both ways, as dispatched and grid-aware. On the park grown 20 % (whose feeders
carry the load within their ratings when no storage is dispatched: see test_twin_grid_guard),
the storage as dispatched overloads them, in the status quo and with the candidate;
grid-aware, neither run breaks a limit, and the status quo's storage gives up some of its
savings for it."""

from __future__ import annotations

import json
import textwrap

import pytest

from twin.study import load_study, run_study

STUDY = """
[study]
name = "grid-aware"
start = 2025-07-07
years = 2
days = 2
load_growth_per_year = 0.2
[[candidates]]
enterprises = ["xinsheng"]
unit_type = "lfp314-5016kwh"
units = 4
pcs_kva = 2500.0
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> tuple[dict, dict, dict]:
    """(the candidate's row, the status quo's row as dispatched, ... grid-aware)."""
    folder = tmp_path_factory.mktemp("grid-aware")
    path = folder / "study.toml"
    path.write_text(textwrap.dedent(STUDY), "utf-8")
    res = run_study(load_study(path), folder / "out", workers=1)
    ok = res.results[res.results["status"] == "ok"]
    assert len(ok) == 1
    sq = res.status_quo.set_index("grid_aware")
    return ok.iloc[0].to_dict(), sq.loc[False].to_dict(), sq.loc[True].to_dict()


@pytest.mark.slow  # a study of two years, both ways: about two minutes
def test_grid_aware_dispatch_breaks_no_limit_and_costs_savings(rows) -> None:
    cand, sq_off, sq_on = rows
    # as dispatched: overloads with and without the candidate (else nothing is shown)
    assert sum(json.loads(sq_off["overload_violations_by_year"])) > 0
    assert int(cand["overload_violations"]) > 0
    # grid-aware: none, in either run, by the full power flow of every interval too
    assert json.loads(sq_on["overload_violations_by_year"]) == [0, 0]
    assert json.loads(sq_on["voltage_violations_by_year"]) == [0, 0]
    assert json.loads(sq_on["caused_violations_by_year"]) == [0, 0]
    assert int(cand["aware_added_violations"]) == 0
    assert int(cand["aware_caused_violations"]) == 0
    assert float(cand["aware_line_loading_max_pct"]) <= 100.0
    assert cand["fits_grid_aware"] and cand["verdict"] in ("fits", "fits grid-aware")
    # what it costs: the park's storage saves less in the grown year
    sq_save_off = json.loads(sq_off["savings_yuan_by_year"])
    sq_save_on = json.loads(sq_on["savings_yuan_by_year"])
    assert sq_save_on[1] < sq_save_off[1]
    assert sum(json.loads(sq_on["curtailed_kwh_by_year"])) > 0
