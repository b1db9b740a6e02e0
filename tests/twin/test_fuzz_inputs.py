"""Fuzzing at the boundary the CLI calls: every generated file or option value ends in a
result or one line (exit 2), never a traceback, never a partial output.

Files (scenario, site, study, meter) go through what the commands call before they start
work (load, validate, resolve against the site and unit types); options go through
``twin run --check`` / ``twin expand --check``, which stop after every check a real start
makes. Under the ``ci`` profile the tests below draw 1,150 cases (counts in `N`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parktwin.errors import InputError
from tests.profiles.strategies import broken_meter_csv
from tests.twin.fuzz import ROOT, SCENARIO, edited_toml, shipped

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
N = {"scenario": 200, "site": 200, "study": 200, "meter": 300, "run": 150, "expand": 100}
SCALE = 1 if CI else 10  # a tenth of the cases on a developer's machine


def cases(kind: str):
    return settings(
        max_examples=max(5, N[kind] // SCALE),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: kind -> how many cases ended in a result ("ok") and in a refusal ("refused")
OUTCOMES: dict[str, Counter] = {}


def _ok_or_one_line(kind: str, fn, *args) -> None:
    """`fn(*args)` succeeds or raises an InputError of one non-empty line."""
    try:
        fn(*args)
    except InputError as exc:
        msg = str(exc)
        assert msg.strip() and "\n" not in msg and "Traceback" not in msg, msg
        OUTCOMES.setdefault(kind, Counter())["refused"] += 1
    else:
        OUTCOMES.setdefault(kind, Counter())["ok"] += 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _scenario_boundary(path: Path) -> None:
    from twin.budget import run_size
    from twin.scenario import load_scenario

    run_size(load_scenario(path))


@cases("scenario")
@given(text=edited_toml(SCENARIO))
def test_scenario_files(folder, text) -> None:
    path = folder / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    _ok_or_one_line("scenario", _scenario_boundary, path)


def _site_boundary(path: Path) -> None:
    from grid import load_site
    from twin.layout import layout_from_site

    layout_from_site(load_site(path))


@cases("site")
@given(text=edited_toml(shipped("grid/data/park.toml")))
def test_site_files(folder, text) -> None:
    path = folder / "site.toml"
    path.write_text(text, encoding="utf-8")
    _ok_or_one_line("site", _site_boundary, path)


def _study_boundary(path: Path) -> None:
    from twin.study import load_study, plan_study

    plan_study(load_study(path))


@cases("study")
@given(text=edited_toml(shipped("examples/study-next-20mwh.toml")))
def test_study_files(folder, text) -> None:
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    _ok_or_one_line("study", _study_boundary, path)


@st.composite
def valid_meter_csv(draw) -> str:
    import datetime as dt

    step_min = draw(st.sampled_from([1, 5, 15, 30, 60]))
    t0 = dt.datetime(2024, 3, 1) + dt.timedelta(minutes=step_min * draw(st.integers(0, 500)))
    kw = draw(st.lists(st.floats(-500, 5000), min_size=4, max_size=60))
    rows = [
        f"{(t0 + dt.timedelta(minutes=step_min * k)).isoformat()},{p:.3f}" for k, p in enumerate(kw)
    ]
    return "timestamp,power_kw\n" + "\n".join(rows) + "\n"


@cases("meter")
@given(
    case=st.one_of(
        valid_meter_csv(),
        broken_meter_csv().map(lambda c: c[0]),
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    )
)
def test_meter_files(folder, case) -> None:
    from profiles.meter import read_meter_csv

    path = folder / "meter.csv"
    path.write_text(case, encoding="utf-8")
    _ok_or_one_line("meter", read_meter_csv, path)


def _texts(*fixed: str):
    return st.one_of(st.sampled_from(fixed), st.text(max_size=12))


def _numbers(*fixed: str):
    return st.one_of(
        st.sampled_from(fixed),
        st.integers(-(10**12), 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )


RUN_OPTIONS = {
    "--days": _numbers("1", "0", "366", "10981", "-1", "2.5"),
    "--step": _numbers("900", "0.1", "0.05", "1", "7", "3601", "nan", "inf"),
    "--seed": _numbers("0", "-1", "4294967296", "1e3"),
    "--start": _texts("2025-01-01", "2100-01-01", "1999-12-31", "2024-02-30", "today"),
    "--strategy": _texts("tou", "lp", "idle", "nope", "os:system", "a.b:C"),
    "--max-memory": _numbers("2", "0", "-1", "nan", "1e-9"),
    "--out": st.sampled_from(["out", "README.md", "README.md/x", "folder", "new/deeper/out"]),
}


def _cli(args: list[str], cwd: Path, capsys) -> None:
    """`twin ARGS` in `cwd`: exit 0, or 2 with one line; the folder is left as it was."""
    from twin.cli import main

    before = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*"))
    code = main(args)
    captured = capsys.readouterr()
    assert code in (0, 2), (args, captured.err)
    OUTCOMES.setdefault(args[0], Counter())["ok" if code == 0 else "refused"] += 1
    if code == 2:
        lines = [ln for ln in captured.err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in captured.err, (args, captured.err)
    after = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*"))
    assert after == before, args  # a check writes nothing


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("a file")
    (tmp_path / "folder").mkdir()
    return tmp_path


@cases("run")
@given(chosen=st.fixed_dictionaries({}, optional=RUN_OPTIONS))
@example(chosen={"--seed": "-1"})
@example(chosen={"--start": "2100-01-01"})
@example(chosen={"--step": "1", "--days": "365"})
@example(chosen={"--out": "README.md"})
def test_run_options(workdir, capsys, chosen) -> None:
    args = ["run", "--check", "--days", "2"]
    for option, value in chosen.items():
        args += [option, value] if not value.startswith("-") else [f"{option}={value}"]
    _cli(args, workdir, capsys)


EXPAND_OPTIONS = {
    "--days": _numbers("1", "0", "366", "367"),
    "--workers": _numbers("1", "0", "-3", "4097"),
    "--scheduler": _texts("bogus", "tcp://", "tcp://127.0.0.1:1", "tls://h:99999", "http://x:1"),
    "--top": _numbers("0", "5", "-1"),
    "--out": st.sampled_from(["e", "README.md", "folder"]),
}


@cases("expand")
@given(chosen=st.fixed_dictionaries({}, optional=EXPAND_OPTIONS))
def test_expand_options(workdir, capsys, chosen) -> None:
    args = ["expand", str(ROOT / "examples" / "study-next-20mwh.toml"), "--check"]
    chosen.setdefault("--out", "e")
    for option, value in chosen.items():
        args += [option, value] if not value.startswith("-") else [f"{option}={value}"]
    _cli(args, workdir, capsys)


def test_the_cases_were_of_both_kinds() -> None:
    """Each kind that ran (this file runs in order) had valid and broken cases: a fuzzer
    whose every case is refused by the parser tests nothing past it."""
    for kind, seen in OUTCOMES.items():
        assert seen["ok"] > 0 and seen["refused"] > 0, (kind, seen)


def test_the_ci_profile_draws_over_a_thousand_cases() -> None:
    assert sum(N.values()) >= 1000
    assert re.search(r"1,150 cases", __doc__ or "") and sum(N.values()) == 1150
