"""Offline versus bench (`twin hil verify --compare-offline`): the controller's setpoints
replayed through the offline twin reproduce the bench; a watchdog revert shows as a
divergence put down to it; the twin's own strategy is set beside the controller."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hil.comparison import ENERGY_TOL_PCT, SOC_TOL
from hil.emulated import Event, EventLog, Setpoint
from hil.verify import load_verify_spec, run_verify
from twin.hil_compare import attribute, compare_hook
from twin.hil_plant import engine_plant, verify_scenario
from twin.strategies.replay import ReplaySetpoints

ROOT = Path(__file__).resolve().parents[2]
DAY = Path(__file__).parent / "data" / "compare_day.toml"
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def test_replay_holds_each_setpoint_from_its_instant():
    r = ReplaySetpoints(3, [0.4, 0.4, 1.0], [0, 2, 0], [100.0, -50.0, 0.0], [0.0, 5.0, 0.0])
    seen = [(t, *r.decide(SimpleNamespace(t_s=t))[0]) for t in (0.2, 0.4, 0.6, 1.0)]
    assert seen == [
        (0.2, 0.0, 0.0, 0.0),
        (0.4, 100.0, 0.0, -50.0),  # in force at the instant it was taken up at
        (0.6, 100.0, 0.0, -50.0),
        (1.0, 0.0, 0.0, -50.0),
    ]
    with pytest.raises(ValueError, match="must not decrease"):
        ReplaySetpoints(1, [1.0, 0.5], [0, 0], [1.0, 2.0], [0.0, 0.0])


def test_log_stamps_setpoints_with_the_instant_that_takes_them_up():
    log = EventLog()
    log.t_sim_s = 3.0
    log.add_setpoint(1, 250.0, 0.0)
    assert log.setpoints == []  # not in force yet
    log.take_setpoints(3.2)
    log.take_setpoints(3.4)
    (sp,) = log.setpoints
    assert (sp.t_s, sp.unit, sp.p_kw) == (3.2, 1, 250.0)


def test_a_window_is_put_down_to_the_nearest_cause():
    events = [
        Event(1.0, 10.0, "u1", "command", "start"),
        Event(5.0, 40.0, "u1", "revert", "no write for 2.1 s -> 0 kW"),
        Event(6.0, 50.0, "u1", "fault", "pcs_trip"),
    ]
    sps = [Setpoint(0.5, 20.0, 0, 300.0, 0.0)]
    no, yes = np.zeros(3, bool), np.ones(3, bool)

    def cause(t0, t1, rev=no, flt=no, offset=0.0, earlier=None, held=""):
        return attribute(0, "u1", t0, t1, rev, flt, events, sps, offset, earlier, held)

    assert cause(40.0, 44.0, rev=yes) == (
        "watchdog revert",
        "u1 revert at t=40.0 s: no write for 2.1 s -> 0 kW",
    )
    assert cause(50.2, 52.0)[0] == "fault"  # the fault event is just before the window
    assert cause(60.0, 61.0, flt=yes)[0] == "fault"
    assert cause(20.0, 21.0, held="u1 held 0 kW")[0] == "unit limit"  # before a write near it
    assert cause(20.0, 21.0)[0] == "write timing"
    assert cause(10.2, 11.0)[0] == "PCS command timing"
    c, d = cause(70.0, 71.0)
    assert c == "unexplained" and "nearest event u1 fault at t=50.0 s" in d


def test_cli_reference_errors_in_one_line(capsys):
    from twin.cli import main

    base = ["hil", "verify", "--controller", "true", "--scenario", str(DAY)]
    assert main([*base, "--reference", "lp"]) == 2
    assert "--reference: only with --compare-offline" in capsys.readouterr().err
    assert main([*base, "--compare-offline", "--reference", "greedy"]) == 2
    err = capsys.readouterr().err
    assert "--reference: expected one of tou, peak_shaving, lp, got 'greedy'" in err
    assert "Traceback" not in err


def test_a_comparison_that_could_not_be_made_says_why_in_the_report():
    from dataclasses import replace

    from hil.report_html import render

    from .test_dashboard_report import _check_self_contained, _record

    doc = render(replace(_record([]), compare_error="scenario: step_s 0.3 does not divide 900 s"))
    _check_self_contained(doc)
    assert "Offline versus bench</h2>" in doc and "not made: scenario: step_s 0.3" in doc
    assert "FAIL:" in doc  # the verdicts stand


def _controller(script: Path) -> str:
    return f"{sys.executable} {script}"


@pytest.mark.slow
def test_good_controller_is_reproduced_by_the_replay(tmp_path):
    from twin.cli import main

    out = tmp_path / "out"
    cmd = _controller(ROOT / "examples" / "controllers" / "good_controller.py")
    args = ["--controller", cmd, "--scenario", str(DAY), "--out", str(out), "--compare-offline"]
    assert main(["hil", "verify", *args]) in (0, 1)  # the verdicts are not what is tested here
    doc = json.loads((out / "compare.json").read_text())
    rep = doc["replay"]
    assert rep["n_setpoints"] > 10 and len(rep["units"]) == 3
    for u in rep["units"]:
        assert u["e_charged_bench_kwh"] > 1.0 and u["e_discharged_bench_kwh"] > 1.0, u
        assert u["energy_error_pct"] <= ENERGY_TOL_PCT and u["soc_error_max"] <= SOC_TOL, u
    assert rep["matches"] and rep["windows"] == [], rep["windows"][:3]
    assert doc["plant"]["matches"] and doc["plant"]["windows"] == []
    assert doc["reference_strategy"] == "tou"
    ref, ctrl = doc["reference"], doc["controller"]
    assert ref["e_discharged_kwh"] > 0 and ctrl["bill_yuan"] > 0
    assert doc["earns_yuan"] == pytest.approx(ref["bill_yuan"] - ctrl["bill_yuan"])
    rows = (out / "compare.csv").read_text().splitlines()
    assert rows[0].startswith("t_s,p_bench_kw,p_replay_kw,p_reference_kw")
    assert len(rows) > 400
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="compare"' in html and "the replay reproduces the bench" in html
    assert html.count("<svg") == 8  # the run, six evidence charts, the comparison
    _screenshot(out / "report.html")


def _screenshot(report: Path) -> None:
    """The report's comparison section as the docs show it (build/screenshots/compare.png)."""
    if shutil.which(CHROMIUM) is None:
        return
    pw = pytest.importorskip("playwright.sync_api")
    from hil.dashboard import CHROMIUM_FLAGS

    SHOTS.mkdir(parents=True, exist_ok=True)
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True)
        page = b.new_page(viewport={"width": 1200, "height": 900})
        page.goto(report.as_uri())
        page.locator("#compare").screenshot(path=str(SHOTS / "compare.png"))
        b.close()
    assert (SHOTS / "compare.png").stat().st_size > 20_000


@pytest.mark.slow
def test_a_watchdog_revert_and_a_fault_show_as_divergences_put_down_to_them(tmp_path):
    from hil.faults import BenchFault

    trip = BenchFault(kind="pcs_trip", target="xinsheng-ess-2", at_s=75.0, duration_s=8.0)
    spec = load_verify_spec(DAY).model_copy(update={"fault": (trip,)})
    plant = engine_plant(verify_scenario(spec), spec.speed)
    res = run_verify(
        spec,
        _controller(Path(__file__).parent / "lapsing_controller.py"),
        tmp_path / "out",
        plant,
        compare=compare_hook(spec, plant),
    )
    assert not {v.id: v for v in res.verdicts}["heartbeat"].passed  # the lapse happened
    c = res.comparison
    import pyarrow.parquet as pq

    trace = pq.read_table(tmp_path / "out" / "trace.parquet").to_pydict()
    t = np.asarray(trace["t_s"])
    wd = [w for w in c.replay.windows if w.cause == "watchdog revert"]
    assert {w.unit for w in wd} == set(c.unit_names), c.replay.windows
    for w in wd:
        assert f"{w.unit} revert at t=" in w.detail
        reverted = np.asarray(trace[f"{w.unit}.reverted"])
        assert reverted[(t >= w.t0_s - 0.3) & (t <= w.t1_s)].any()  # the bench had reverted
        assert abs(w.e_kwh) > 0.1  # the bench sat at the fallback while the replay did not
    faults = [w for w in c.replay.windows if w.cause == "fault"]
    assert [w.unit for w in faults][:1] == ["xinsheng-ess-2"], c.replay.windows
    assert 75.0 <= faults[0].t0_s <= 76.0 and "pcs_trip" in faults[0].detail
    assert c.replay.explained
    assert not c.replay.matches  # 16 s at 0 kW instead of the setpoint: beyond 0.5 %
    # what the bench put in force (the reverts included) and its fault, replayed: the plant
    # is the twin's
    assert c.plant.matches and not c.plant.windows, c.plant.summary()
    assert max(u.energy_error_pct for u in c.plant.units) < 1e-6
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "the replay differs from the bench" in html and "watchdog revert" in html
