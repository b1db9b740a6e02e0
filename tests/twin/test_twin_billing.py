"""Which basis each host pays its basic charge on, and the CLI options that choose it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from grid import default_site
from parktwin.errors import InputError
from twin.cli import main
from twin.economics import billing_terms
from twin.layout import layout_from_site


def _terms(site, run_basis=None, default="capacity", in_base=False):
    lay = layout_from_site(site)
    return lay, billing_terms(
        site,
        lay.enterprise_names,
        lay.hosts,
        lay.unit_enterprise,
        lay.unit_trafo_kva,
        run_basis,
        default,
        in_base,
    )


def test_run_choice_beats_site_file_beats_default() -> None:
    site = default_site()
    ents = list(site.enterprises)
    lay, terms = _terms(site)
    host = int(lay.hosts[0])
    assert terms[host].basis == "capacity" and terms[host].contract_kw is None
    ents[host] = ents[host].model_copy(update={"billing": "contract", "contract_demand_kw": 5000.0})
    site2 = site.model_copy(update={"enterprises": tuple(ents)})
    _, terms = _terms(site2)
    assert terms[host].basis == "contract" and terms[host].contract_kw == 5000.0
    _, terms = _terms(site2, run_basis="demand")
    assert terms[host].basis == "demand"


def test_storage_transformers_in_the_capacity_base_is_a_switch() -> None:
    site = default_site()
    lay, off = _terms(site)
    _, on = _terms(site, in_base=True)
    host = int(lay.hosts[0])
    storage_kva = float(lay.unit_trafo_kva[lay.unit_enterprise == host].sum())
    assert storage_kva > 0 and off[host].storage_kva == 0.0
    assert on[host].storage_kva == storage_kva
    assert on[host].bill_kwargs(True)["capacity_kva"] == off[host].capacity_kva + storage_kva
    assert on[host].bill_kwargs(False) == off[host].bill_kwargs(False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--billing", "peak"], "--billing: expected one of capacity, demand, contract"),
        (["--start", "1999-12-31"], "--start: 1999-12-31 is outside the data's coverage"),
        (["--prices", "no-such-file.csv"], "--prices: no such file"),
    ],
)
def test_run_options_are_checked_in_one_line(args, message, capsys, tmp_path) -> None:
    code = main(["run", *args, "--days", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == InputError.exit_code
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_price_file_stops_the_run_in_one_line(capsys, tmp_path) -> None:
    bad = tmp_path / "notices.csv"
    bad.write_text("month,purchase_yuan_per_kwh\n2026-07,0.4\n", encoding="utf-8")
    code = main(["run", "--prices", str(bad), "--days", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == InputError.exit_code
    assert f"{bad}: row 1: header missing" in err and len(err.strip().splitlines()) == 1


def test_capacity_base_with_storage_costs_its_kva() -> None:
    from twin.run import run_scenario
    from twin.scenario import default_scenario

    sc = default_scenario().model_copy(
        update={
            "days": 2,
            "start": dt.date(2025, 4, 7),
            "network": "copper_plate",
            "storage_in_capacity_base": True,
        }
    )
    r = run_scenario(sc)
    (host,) = r.bills
    kva = r.summary.billing["xinsheng"]["storage_kva"]
    assert kva == pytest.approx(3 * 1600.0)
    assert host.demand_savings_yuan == pytest.approx(-kva * 30.0)  # one month touched
    assert r.summary.tariff_schemes == ("zj-2024",)
    assert np.isfinite(r.summary.savings_yuan_per_year)
