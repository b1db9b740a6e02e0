"""Studies with candidates of both technologies: per-technology finance, one ranking."""

from __future__ import annotations

import textwrap

import pytest

from twin.study import load_study, run_study
from twin.study.model import default_finance

STUDY = """
[study]
name = "both"
years = 1
days = 1
[[candidates]]
enterprises = ["xinsheng"]
unit_type = ["lfp280-2236kwh", "caes-2236kwh"]
units = 2
"""


def test_finance_per_technology_overrides_the_shipped_fields() -> None:
    fin = default_finance()
    caes = fin.for_technology("caes")
    assert fin.for_technology("lfp") is fin
    assert caes.capex_yuan_per_kw > 10 * fin.capex_yuan_per_kw  # machines, not a PCS
    assert caes.replacement_cost_fraction == 0.0 and caes.lifetime_years > fin.lifetime_years
    assert caes.capex_trafo_yuan_per_kva == fin.capex_trafo_yuan_per_kva  # shared
    assert "thundersaid" in caes.sources["capex_yuan_per_kw"]
    assert (
        "CNESA" in caes.sources["capex_yuan_per_kwh"]
        or "BloombergNEF" in caes.sources["capex_yuan_per_kwh"]
    )
    with pytest.raises(ValueError, match=r"technology\.flywheel: expected lfp or caes"):
        type(fin).model_validate({**fin.model_dump(), "technology": {"flywheel": {}}})
    with pytest.raises(ValueError, match=r"technology\.caes"):
        type(fin).model_validate(
            {**fin.model_dump(), "technology": {"caes": {"lifetime_years": -3}}}
        )


@pytest.mark.slow
def test_a_study_ranks_candidates_of_both_technologies(tmp_path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(STUDY), encoding="utf-8")
    study = load_study(path)
    res = run_study(study, tmp_path / "out", workers=1)
    rows = res.results.set_index("unit_type")
    assert set(rows.index) == {"lfp280-2236kwh", "caes-2236kwh"}
    assert (rows["status"] == "ok").all()
    for unit_type, tech in (("lfp280-2236kwh", "lfp"), ("caes-2236kwh", "caes")):
        fin = study.finance.for_technology(tech)
        r = rows.loc[unit_type]
        expected = (
            fin.capex_yuan_per_kwh * r["e_kwh"]
            + fin.capex_yuan_per_kw * r["units"] * r["pcs_kva"]
            + fin.capex_trafo_yuan_per_kva * r["units"] * r["trafo_kva"]
            + fin.capex_fixed_yuan
        )
        assert r["capex_yuan"] == pytest.approx(expected)
    # both earn; the compressed-air units earn less (round trip) for far more capital
    assert 0 < rows.loc["caes-2236kwh", "savings_yuan_per_year"]
    assert (
        rows.loc["caes-2236kwh", "savings_yuan_per_year"]
        < rows.loc["lfp280-2236kwh", "savings_yuan_per_year"]
    )
    assert rows.loc["caes-2236kwh", "npv_yuan"] < rows.loc["lfp280-2236kwh", "npv_yuan"]


def test_the_ranked_table_tells_the_technologies_apart() -> None:
    import pandas as pd

    from twin.study.report import _storage

    row = {"units": 3, "e_kwh": 6708.0, "pcs_kva": 1250.0}
    assert _storage(pd.Series({**row, "unit_type": "caes-2236kwh"})) == "3x2.2MWh air 1250kVA"
    assert _storage(pd.Series({**row, "unit_type": "lfp280-2236kwh"})) == "3x2.2MWh 1250kVA"
