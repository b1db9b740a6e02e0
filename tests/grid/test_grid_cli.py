"""`twin grid show` and `twin grid export`."""

from __future__ import annotations

import warnings

import pandapower as pp

from twin.cli import main


def test_show_prints_feeders_enterprises_storage(capsys) -> None:
    assert main(["grid", "show"]) == 0
    out = capsys.readouterr().out
    for text in ("F01", "xinsheng", "lfp280-2236kwh", "SZ13-63000/110", "64.7 MWh"):
        assert text in out


def test_export_writes_a_net_pandapower_loads(tmp_path, capsys) -> None:
    out = tmp_path / "sub" / "park.json"
    assert main(["grid", "export", "--out", str(out)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(str(out))
        pp.runpp(net)
    assert len(net.bus) > 90 and net.converged
    assert net.res_ext_grid.p_mw.sum() > 60  # the peak snapshot: ~72 MW of load
    assert not list(tmp_path.glob("sub/.*tmp"))  # atomic: no temp file left


def test_bad_site_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text('name = "x"\n')
    assert main(["grid", "show", "--site", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "site.toml" in err


def test_help(capsys) -> None:
    assert main(["grid", "--help"]) == 0
    out = capsys.readouterr().out
    assert "show" in out and "export" in out
