"""An imported net is the park: `twin run --site` and `twin expand` run on the site that
`twin grid import` writes, and the run's meters equal pandapower's runpp of its net."""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from grid import ParkGrid, load_site
from twin.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "grid-import"


@pytest.fixture(scope="module")
def site_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imp") / "cigre-park"
    args = ["grid", "import", str(EXAMPLE / "net.json"), "--map", str(EXAMPLE / "map.toml")]
    assert main([*args, "--out", str(out)]) == 0
    return out / "site.toml"


def test_run_on_the_imported_site_matches_runpp(site_file, tmp_path) -> None:
    out = tmp_path / "run"
    args = ["run", "--site", str(site_file), "--days", "2", "--no-sensitivity"]
    assert main([*args, "--out", str(out)]) == 0
    assert (out / "summary.json").is_file()
    site = load_site(site_file)
    meters = {
        e.name: pd.read_parquet(out / "meters" / f"{e.name}.parquet") for e in site.enterprises
    }
    unit = pd.read_parquet(out / "units" / "dyeing-ess-1.parquet")
    park = pd.read_parquet(out / "park.parquet")
    assert len(unit) == 192 and unit.p_ac_kw.abs().max() > 10  # the unit did work
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower as pp

        net0 = ParkGrid(site).pandapower_net()
    for t in (0, 40, 77, 191):  # night, morning, midday, last interval
        net = copy.deepcopy(net0)
        for e in site.enterprises:
            m = meters[e.name].iloc[t]
            i = net.load.index[net.load.name == e.net.loads[0]][0]
            net.load.at[i, "p_mw"] = m.load_kw / 1000
            net.load.at[i, "q_mvar"] = m.load_kw / 1000 * math.tan(math.acos(e.power_factor))
            for ref in e.net.pv:
                net.sgen.at[net.sgen.index[net.sgen.name == ref][0], "p_mw"] = m.pv_kw / 1000
        s = net.storage.index[net.storage.name == "dyeing-ess-1"][0]
        net.storage.at[s, "p_mw"] = (unit.p_ac_kw.iloc[t] + unit.p_aux_kw.iloc[t]) / 1000
        net.storage.at[s, "q_mvar"] = unit.q_ac_kvar.iloc[t] / 1000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net, tolerance_mva=1e-10)
        line = net.line.index[net.line.name == "Line 10-11"][0]
        assert meters["auto_parts"].pcc_kw.iloc[t] == pytest.approx(
            -net.res_line.at[line, "p_to_mw"] * 1e3, abs=1e-3
        )
        trafo = net.trafo.index[net.trafo.name.str.startswith("dyeing-ess-1")][0]
        m = meters["dyeing"].iloc[t]
        own = m.load_kw - m.pv_kw + net.res_trafo.at[trafo, "p_hv_mw"] * 1e3
        assert m.pcc_kw == pytest.approx(own, abs=1e-3)
        assert park.ext_grid_kw.iloc[t] == pytest.approx(
            net.res_ext_grid.p_mw.sum() * 1e3, abs=1e-3
        )
        assert park.v_min_pu.iloc[t] == pytest.approx(net.res_bus.vm_pu.iloc[1:15].min(), abs=1e-8)


def test_expand_runs_a_study_on_the_imported_site(site_file, tmp_path) -> None:
    study = tmp_path / "study.toml"
    data = {
        "study": {"name": "tiny", "site": str(site_file), "start": "2027-01-01", "years": 1,
                  "days": 1, "seed": 0},
        "candidates": [{"enterprises": ["auto_parts"], "unit_type": "lfp280-2236kwh",
                        "units": 1, "pcs_kva": 500.0, "strategy": "tou"}],
    }  # fmt: skip
    study.write_text(tomli_w.dumps(data).replace('"2027-01-01"', "2027-01-01"))
    out = tmp_path / "expand"
    assert main(["expand", str(study), "--out", str(out), "--workers", "1"]) == 0
    rows = list(out.glob("*.csv"))
    assert rows, list(out.iterdir())
    text = "\n".join(p.read_text() for p in rows)
    assert "auto_parts" in text and "Line 1-2" in text  # the candidate and its feeder
