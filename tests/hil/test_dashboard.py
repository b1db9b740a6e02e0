"""The bench's live page in a real browser: headless Chromium (Debian's) driven by
Playwright, against a bench over the stand-in plant on loopback."""

from __future__ import annotations

import json
import shutil
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pyModbusTCP.client import ModbusClient

from hil.bench import Bench, BenchConfig
from hil.dashboard import CHROMIUM_FLAGS, Dashboard
from hil.serve import BenchRun
from tests.hil.fleetplant import FleetPlant

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

pw = pytest.importorskip("playwright.sync_api")
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="no /usr/bin/chromium (.ci/run installs it)"
)


def _s16(v: int) -> int:
    return struct.unpack(">H", struct.pack(">h", v))[0]


class Live:
    """A bench with its page, started and stopped around a test."""

    def __init__(self, allow_faults: bool) -> None:
        self.plant = FleetPlant(n=2, speed=2.0)
        self.bench = Bench(self.plant, BenchConfig(port=0, watchdog_s=60.0))
        self.dash = Dashboard(self.bench, allow_faults=allow_faults)
        self.run = BenchRun(self.bench)

    def __enter__(self) -> Live:
        self.port = self.run.start()
        self.dash.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.dash.stop()
        self.run.stop()


@pytest.fixture(scope="module")
def browser():
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True)
        yield b
        b.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(url)
    return page, errors, fetched


@needs_chromium
def test_page_charts_update_and_refused_write_shows_in_the_log(browser):
    with Live(allow_faults=False) as live:
        page, errors, fetched = _open(browser, live.dash.url)
        page.wait_for_function("window.bench && window.bench.snapshots > 3", timeout=10_000)
        n0 = page.evaluate("window.bench.charts.soc.data[0].length")
        c = ModbusClient(host="127.0.0.1", port=live.port, unit_id=1, auto_open=True, timeout=5)
        assert c.write_single_register(8194, 1)  # start
        assert c.write_single_register(8192, _s16(-5000))  # charge 500.0 kW (vendor map)
        # the chart moves while the plant steps: the achieved power follows the setpoint
        page.wait_for_function(
            "window.bench.last.units[0].p_kw > 100 && window.bench.last.units[0].p_set_kw > 400",
            timeout=15_000,
        )
        assert page.evaluate("window.bench.charts.soc.data[0].length") > n0
        t_write = time.monotonic()
        assert not c.write_single_register(8192, _s16(30000))  # 3000 kW: refused
        page.wait_for_selector("#log li.reject", timeout=2_000)
        assert time.monotonic() - t_write < 2.0
        assert "3000" in page.inner_text("#log li.reject")
        # register activity: the unit was read and written, by this client
        for _ in range(20):
            c.read_holding_registers(4096, 10)
        row = page.wait_for_selector("#activity tr[data-device='xinsheng-1']", timeout=2_000)
        cells = row.inner_text().split("\t")
        assert cells[1].strip() == "1" and cells[4].strip().startswith("127.0.0.1:"), cells
        act = live.bench.endpoint.activity[1]
        assert act.reads >= 20 and act.writes >= 3, act
        assert page.is_hidden("#faults")  # no fault form without --allow-faults
        page.screenshot(path=str(_shot("dashboard.png")))
        # the fault endpoint refuses without the flag, even with the right token
        status, msg = _post(
            live.dash, {"kind": "pcs_trip", "target": "xinsheng-1", "token": live.dash.token}
        )
        assert status == 403 and "--allow-faults" in msg
        c.close()
        page.close()
    assert not errors, errors
    assert all(u.startswith(live.dash.url) for u in fetched), fetched  # nothing from elsewhere


@needs_chromium
def test_fault_from_the_page_needs_the_token_and_trips_the_pcs(browser):
    with Live(allow_faults=True) as live:
        page, errors, _ = _open(browser, live.dash.url)
        page.wait_for_function("window.bench && window.bench.snapshots > 1", timeout=10_000)
        page.on("dialog", lambda d: d.accept())
        page.select_option("#fault-kind", "pcs_trip")
        page.select_option("#fault-target", "xinsheng-2")
        page.fill("#fault-token", "not-the-token")
        page.click("#fault-form button")
        page.wait_for_function(
            "document.getElementById('fault-result').textContent.startsWith('refused')",
            timeout=5_000,
        )
        assert "token" in page.inner_text("#fault-result")
        time.sleep(0.5)
        assert not live.bench.log.of("fault")
        page.fill("#fault-token", live.dash.token)
        page.click("#fault-form button")
        page.wait_for_selector("tr[data-unit='xinsheng-2'] td.FAULT", timeout=5_000)
        page.wait_for_selector("#log li.fault", timeout=2_000)
        assert [e.device for e in live.bench.log.of("fault")] == ["xinsheng-2"]
        page.close()
    # the one console error is the browser noting the refused (403) request
    assert len(errors) == 1 and "403" in errors[0], errors


def _post(dash: Dashboard, body: dict) -> tuple[int, str]:
    req = urllib.request.Request(
        dash.url + "fault", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())["ok"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["error"]


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


@needs_chromium
def test_the_report_opens_offline_in_the_browser(browser, tmp_path):
    """The HTML report of a verify run: no console error, nothing fetched but the file."""
    from hil.emulated import Event
    from hil.report_html import write_report

    from .test_dashboard_report import _record

    path = tmp_path / "report.html"
    write_report(path, _record([Event(1.0, 11.2, "u1", "reject", "p_set = 3276.7 kW")]))
    page, errors, fetched = _open(browser, path.as_uri())
    assert page.locator("svg").count() == 7
    assert "FAIL" in page.inner_text("p.verdict")
    page.screenshot(path=str(_shot("report.png")), full_page=True)
    page.close()
    assert not errors, errors
    assert fetched == [path.as_uri()], fetched


def test_cli_dashboard_options_fail_in_one_line(capsys):
    from twin.cli import main

    assert main(["hil", "serve", "--allow-faults", "--duration", "1"]) == 2
    assert "--allow-faults: only with --dashboard" in capsys.readouterr().err
    assert main(["hil", "serve", "--dashboard", "--http-host", "10.0.0.1"]) == 2
    err = capsys.readouterr().err
    assert "--http-host 10.0.0.1: not a loopback address" in err and "--http-allow-remote" in err
    assert "Traceback" not in err
