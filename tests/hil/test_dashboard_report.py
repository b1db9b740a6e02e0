"""`twin hil verify`'s HTML report: one self-contained file with the verdict table, the
overview chart and each requirement's evidence; from a hand-made run and from a real one."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hil.emulated import Event
from hil.report_html import EVENTS_SHOWN, RunRecord, render, write_report
from hil.verify import judge, load_verify_spec

from .test_hil_verify import NAMES, P_MAX, RAMP, discharging, trace

ROOT = Path(__file__).resolve().parents[2]
SHORT = Path(__file__).parent / "data" / "short_day.toml"


class _Refs(HTMLParser):
    """Every tag and every attribute that could fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "srcset", "data", "action"):
                self.refs.append(v or "")
            if k == "id":
                self.ids.add(v)


def _record(events, controller_log="") -> RunRecord:
    spec = load_verify_spec()
    tr = discharging(trace())
    tr["pcc_kw"][100:120, 0] = -80.0  # a 4 s export: anti-backflow fails
    comm = [(50.0, 60.0, [0, 1])]
    verdicts = judge(tr, events, spec, NAMES, P_MAX, RAMP, 0, [0, 1], comm, (True, "ran"))
    return RunRecord(
        tr,
        events,
        spec,
        0,
        [0, 1],
        NAMES,
        comm,
        verdicts,
        P_MAX,
        RAMP,
        "ems <x>",
        12.3,
        controller_log,
    )


def _check_self_contained(doc: str) -> _Refs:
    p = _Refs()
    p.feed(doc)
    assert not p.tags & {"script", "link", "img", "iframe", "object", "embed"}, p.tags
    outside = [r for r in p.refs if not r.startswith("#")]
    assert not outside, outside[:5]  # every link points inside the file
    assert "@import" not in doc
    urls = re.findall(r"url\(([^)]*)\)", doc)
    assert all(u.startswith("#") for u in urls), {u for u in urls if not u.startswith("#")}
    for r in p.refs + urls:  # and every in-file link has its target
        assert r[1:] in p.ids, r
    return p


def test_report_is_self_contained_with_verdicts_and_evidence(tmp_path):
    reject = Event(2.0, 11.2, "u1", "reject", "p_set = 3276.7 kW outside -1250..1250 <bad>")
    revert = Event(3.0, 20.0, "u2", "revert", "no write for 5.1 s -> 0 kW")
    rec = _record([reject, revert], controller_log="line 1\nTraceback: boom\n")
    path = tmp_path / "report.html"
    write_report(path, rec)
    doc = path.read_text(encoding="utf-8")
    p = _check_self_contained(doc)
    assert doc.startswith("<!DOCTYPE html>") and doc.rstrip().endswith("</html>")
    assert "FAIL:" in doc and "<title>HIL verify: FAIL" in doc
    # one table row per verdict, with its status and (escaped) evidence
    for v in rec.verdicts:
        assert f'href="#{v.id}"' in doc and v.id in p.ids
        assert f"<td>{v.status.upper()}</td>" in doc
    ab = next(v for v in rec.verdicts if v.id == "anti_backflow")
    assert not ab.passed and "longest export 4.0 s" in ab.evidence
    assert "longest export 4.0 s" in doc
    # the refused write and the revert appear as events, escaped; the controller's output too
    assert "outside -1250..1250 &lt;bad&gt;" in doc and "<bad>" not in doc
    assert "watchdog revert" in doc and "no write for 5.1 s" in doc
    assert "Traceback: boom" in doc and "<code>ems &lt;x&gt;</code>" in doc
    # the overview chart and one chart per signal-judged requirement, inline
    assert doc.count("<svg") == 1 + 6
    assert "peak" in doc and "valley" in doc  # the tariff key names the periods


def test_report_is_deterministic_but_for_its_timestamp():
    rec = _record([])
    a, b = render(rec), render(rec)
    stamp = re.compile(r"<th>written</th><td>[^<]*</td>")
    assert stamp.sub("", a) == stamp.sub("", b)


def test_a_flood_of_refused_writes_is_counted_not_listed():
    events = [Event(i * 0.01, i * 0.01, "u1", "reject", f"write {i}") for i in range(1000)]
    doc = render(_record(events))
    assert f"write {EVENTS_SHOWN - 1}<" in doc and f"write {EVENTS_SHOWN}<" not in doc
    assert f"and {1000 - EVENTS_SHOWN} more" in doc
    assert "1000 refused of 1000" in doc


@pytest.mark.slow
def test_verify_writes_the_report_beside_junit_and_png(tmp_path):
    from twin.cli import main

    cmd = f"{sys.executable} {ROOT / 'examples' / 'controllers' / 'buggy_controller.py'} --port {{port}}"
    out = tmp_path / "out"
    args = ["--controller", cmd, "--scenario", str(SHORT), "--speed", "8", "--out", str(out)]
    code = main(["hil", "verify", *args, "--junit", str(tmp_path / "junit.xml")])
    assert code == 1
    assert (out / "run.png").exists() and (tmp_path / "junit.xml").exists()
    doc = (out / "report.html").read_text(encoding="utf-8")
    _check_self_contained(doc)
    assert "FAIL:" in doc and "refused write" in doc and "outside -1250..1250" in doc
    assert doc.count("<svg") == 7
    assert len(doc) < 5_000_000  # one file a vendor can mail
