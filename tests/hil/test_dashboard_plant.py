"""The live page over the twin's own engine (not the stand-in plant): the park's voltage
envelope with the band of `parktwin.limits`, and the twin's guards acting on a setpoint
in the event log, in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyModbusTCP.client import ModbusClient

from hil.bench import Bench, BenchConfig
from hil.dashboard import Dashboard
from hil.serve import BenchRun
from hil.verify import load_verify_spec
from parktwin.limits import grid_limits
from twin.hil_plant import engine_plant, verify_scenario

from .test_dashboard import _open, _s16, _shot, browser, needs_chromium  # noqa: F401 (fixture)

DAY = Path(__file__).parent / "data" / "compare_day.toml"


@needs_chromium
@pytest.mark.slow
def test_page_shows_the_voltage_envelope_and_guard_interventions(browser):  # noqa: F811
    spec = load_verify_spec(DAY)
    plant = engine_plant(verify_scenario(spec), speed=2.0)
    bench = Bench(plant, BenchConfig(port=0, watchdog_s=60.0))
    dash = Dashboard(bench)
    run = BenchRun(bench)
    port = run.start()
    dash.start()
    try:
        page, errors, fetched = _open(browser, dash.url)
        page.wait_for_function(
            "window.bench && window.bench.snapshots > 3 && window.bench.last.v_min_pu !== null",
            timeout=15_000,
        )
        lim = grid_limits()
        v = page.evaluate("window.bench.charts.v.data")
        assert len(v[0]) > 3
        assert v[3][-1] == lim.v_min_pu and v[4][-1] == lim.v_max_pu  # the band drawn
        last = page.evaluate("[window.bench.last.v_min_pu, window.bench.last.v_max_pu]")
        assert lim.v_min_pu < last[0] <= last[1] < lim.v_max_pu, last
        assert last == pytest.approx([v[1][-1], v[2][-1]])
        assert page.inner_text("#v-now").endswith(": inside")
        assert not page.query_selector("#log li.guard")
        # a 1000-kW step: the twin's ramp guard lets it through 250 kW a step
        c = ModbusClient(host="127.0.0.1", port=port, unit_id=1, auto_open=True, timeout=5)
        assert c.write_single_register(8194, 1)  # start
        assert c.write_single_register(8192, _s16(-10000))  # charge 1000.0 kW (vendor map)
        li = page.wait_for_selector("#log li.guard", timeout=5_000)
        assert "ramp guard acts on the setpoints" in li.inner_text()
        assert [e.detail.split()[0] for e in bench.log.of("guard")][:1] == ["ramp"]
        page.wait_for_function("window.bench.last.units[0].p_kw > 600", timeout=15_000)
        page.screenshot(path=str(_shot("dashboard-twin.png")), full_page=True)
        c.close()
        page.close()
    finally:
        dash.stop()
        run.stop()
    assert not errors, errors
    assert all(u.startswith(dash.url) for u in fetched), fetched
