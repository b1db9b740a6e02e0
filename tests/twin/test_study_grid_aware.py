"""A study with grid-aware dispatch. On the park grown 20 % (whose feeders carry the load
within their ratings when no storage is dispatched: see test_twin_grid_guard), the storage
as dispatched overloads them, in the status quo and with the candidate; grid-aware, neither
run breaks a limit, and the status quo's storage gives up some of its savings for it."""

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
grid_aware = {on}
[[candidates]]
enterprises = ["xinsheng"]
unit_type = "lfp314-5016kwh"
units = 4
pcs_kva = 2500.0
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> dict[bool, tuple[dict, dict]]:
    """grid_aware -> (the candidate's row, the status quo's row)."""
    out = {}
    for on in (False, True):
        folder = tmp_path_factory.mktemp(f"grid-aware-{on}")
        path = folder / "study.toml"
        path.write_text(textwrap.dedent(STUDY.format(on=str(on).lower())), "utf-8")
        res = run_study(load_study(path), folder / "out", workers=1)
        ok = res.results[res.results["status"] == "ok"]
        assert len(ok) == 1
        out[on] = (ok.iloc[0].to_dict(), res.status_quo.iloc[0].to_dict())
    return out


@pytest.mark.slow  # two studies of two years: about two minutes
def test_grid_aware_dispatch_breaks_no_limit_and_costs_savings(rows) -> None:
    (cand_off, sq_off), (cand_on, sq_on) = rows[False], rows[True]
    # as dispatched: overloads with and without the candidate (else nothing is shown)
    assert sum(json.loads(sq_off["overload_violations_by_year"])) > 0
    assert int(cand_off["overload_violations"]) > 0
    # grid-aware: none, in either run
    assert json.loads(sq_on["overload_violations_by_year"]) == [0, 0]
    assert json.loads(sq_on["voltage_violations_by_year"]) == [0, 0]
    assert int(cand_on["overload_violations"]) == 0
    assert int(cand_on["voltage_violations"]) == 0
    assert int(cand_on["added_violations"]) == 0
    assert float(cand_on["line_loading_max_pct"]) <= 100.0
    # what it costs: the park's storage saves less in the grown year
    sq_save_off = json.loads(sq_off["savings_yuan_by_year"])
    sq_save_on = json.loads(sq_on["savings_yuan_by_year"])
    assert sq_save_on[1] < sq_save_off[1]
