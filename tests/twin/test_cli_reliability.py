"""Nothing lost, nothing left behind: refusals before any work, staged output folders,
interrupts, the run's identity in its folder (real `twin` processes where signals matter)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twin.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICK = 'days = 2\nnetwork = "copper_plate"\nstart = 2025-04-07\n'


def _previous(out: Path) -> dict[str, str]:
    """A folder standing for an earlier run's results."""
    (out / "units").mkdir(parents=True)
    (out / "summary.json").write_text('{"run": "earlier"}')
    (out / "units" / "gone-unit.parquet").write_text("earlier")
    return _tree(out)


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_bytes().hex()[:64]
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "args,match",
    [
        (["--seed", "-1"], "--seed: expected an integer 0..4294967295, got -1"),
        (["--start", "2100-01-01"], "--start: 2100-01-01 is outside the data's coverage"),
        (["--start", "1999-12-31"], "the tariff data 2000-01-01 onwards"),
        (["--step", "1", "--days", "365"], r"--step 1: 31,536,000 intervals .* GB of memory"),
        (["--step", "0.1"], "--step 1 or more"),
        (["--step", "-5"], "--step: expected 0.1 .. 3,600 s, got -5"),
        (["--days", "0"], "--days: expected 1 .. "),
        (["--out", "README.md"], "--out: README.md is a file, expected a folder"),
    ],
)
def test_run_refuses_bad_values_before_any_work(tmp_path, capsys, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("not a folder")
    code = main(["run", "--days", "1", "--out", "o", *args])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert __import__("re").search(match, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # nothing written


def _twin(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", "from twin.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "sig,after_s",
    [
        (signal.SIGINT, 1.0),  # importing, building the model
        (signal.SIGINT, 4.0),  # compiling or inside the compiled loop
        (signal.SIGINT, 8.0),
        (signal.SIGTERM, 4.0),
    ],
)
def test_interrupt_exits_130_and_leaves_the_previous_results(tmp_path, sig, after_s) -> None:
    (tmp_path / "sc.toml").write_text(QUICK.replace("days = 2", "days = 120"))
    out = tmp_path / "out"
    before = _previous(out)
    proc = _twin(["run", "--scenario", "sc.toml", "--out", "out"], tmp_path)
    time.sleep(after_s)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = _one_error_line(
        "\n".join(ln for ln in err.splitlines() if not ln.startswith("twin run:"))
    )
    # before the options are read the command does not know its output yet
    assert line in (
        "interrupted; previous results in out untouched",
        "interrupted; nothing written",
    )
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "sc.toml"]


def test_a_run_replaces_its_folder_whole_and_names_itself(tmp_path) -> None:
    (tmp_path / "sc.toml").write_text(QUICK)
    out = tmp_path / "out"
    _previous(out)
    old = os.umask(0o022)
    try:
        proc = _twin(["run", "--scenario", "sc.toml", "--out", "out", "--seed", "7"], tmp_path)
        _, err = proc.communicate(timeout=600)
    finally:
        os.umask(old)
    assert proc.returncode == 0, err
    names = set(_tree(out))
    assert "units/gone-unit.parquet" not in names  # nothing of the earlier run is left
    summary = json.loads((out / "summary.json").read_text())
    run = summary["run"]
    assert run["seed"] == 7 and len(run["scenario_sha256"]) == 64 and run["version"]
    units = {f"units/{u}.parquet" for u in summary["units"]}
    assert units <= names and {n for n in names if n.startswith("units/")} == units
    for p in out.rglob("*"):  # the user's umask, not tempfile's 0600
        want = 0o755 if p.is_dir() else 0o644
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "sc.toml"]


def test_an_interrupt_inside_a_compiled_call_is_still_an_interrupt() -> None:
    from twin.cli import _is_interrupt

    # what a signal landing inside a numba call surfaces as
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as inner:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set") from (
                inner
            )
    except SystemError as exc:
        assert _is_interrupt(exc)
    assert not _is_interrupt(SystemError("a real bug"))


def _meter_1s(path: Path) -> None:
    import datetime as dt

    t0 = dt.datetime(2025, 3, 3)
    rows = [f"{t0 + dt.timedelta(seconds=i):%Y-%m-%d %H:%M:%S},{100 + i % 60}" for i in range(3600)]
    path.write_text("timestamp,power_kw\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize(
    "args,match",
    [
        (["unit", "test", "--dt", "0.001"], r"--dt 0.001: about [\d,]+ steps recorded, [\d.]+ GB"),
        (["unit", "test", "--out", "README.md"], "--out: README.md is a file, expected a folder"),
        (["profiles", "show", "--seed", "-1"], "--seed: expected an integer"),
        (["profiles", "show", "--png", "folder"], "--png: folder is a folder, expected a file"),
        (["profiles", "show", "--start", "2100-01-01"], "outside the data's coverage"),
        (["grid", "export", "--out", "folder"], "--out: folder is a folder, expected a file"),
        (["hil", "serve", "--duration", "-5"], "--duration: expected > 0"),
        (["hil", "serve", "--host", "0.0.0.0"], "needs --allow-remote"),
        (["hil", "serve", "--seed", "-1"], "--seed: expected an integer"),
        (["hil", "verify", "--controller", "x", "--out", "README.md"], "--out: README.md is a"),
        (["hil", "verify", "--controller", "x", "--junit", "folder"], "--junit: folder is a"),
        (["expand", "STUDY", "--out", "e", "--workers", "0"], "--workers: expected 1 .. "),
        (["expand", "STUDY", "--out", "e", "--scheduler", "bogus"], "expected tcp://HOST:PORT"),
        (["expand", "STUDY", "--out", "README.md"], "--out: README.md is a file"),
        (["expand", "STUDY", "--out", "e", "--days", "0"], "--days: expected 1 .. 366"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("not a folder")
    (tmp_path / "folder").mkdir()
    args = [str(ROOT / "examples" / "study-next-20mwh.toml") if a == "STUDY" else a for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    t0 = time.monotonic()
    code = main(args)
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and __import__("re").search(match, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert time.monotonic() - t0 < 30.0  # refused before the work, no hang


def test_port_in_use_is_refused_in_our_words(capsys) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["hil", "serve", "--port", str(port), "--duration", "1"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert line == (
        f"error: --port {port}: 127.0.0.1:{port} is already in use by another program; "
        "choose another --port (0: any free port)"
    )


def test_profiles_check_of_a_one_second_file_speaks_in_seconds(tmp_path, capsys) -> None:
    _meter_1s(tmp_path / "m.csv")
    assert main(["profiles", "check", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "resolution 1 s, 3600 intervals" in out and "(15-min mean)" in out


def test_help_keeps_units_in_brackets(capsys) -> None:
    for args, words in (
        (["unit", "test"], ["Time step [s] (0 < dt <= 900)", "Test power [kW]", "[kVA]"]),
        (["hil", "drive"], ["Ramp limit [kW/s]", "Control period [s]"]),
    ):
        assert main([*args, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())  # as one line: wrapping aside
        for w in words:
            assert w in text, (w, text)


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        parents[int(stat_file.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        todo += kids
    return found


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"


TINY_STUDY = """
[study]
name = "tiny"
years = 1
days = 30
[[candidates]]
enterprises = ["xinsheng", "xunchi", "cathode", "diecast"]
unit_type = "lfp314-5016kwh"
units = 1
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_study_leaves_no_process_behind(tmp_path, sig) -> None:
    (tmp_path / "tiny.toml").write_text(TINY_STUDY)
    proc = _twin(["expand", "tiny.toml", "--out", "e", "--workers", "2"], tmp_path)
    deadline = time.monotonic() + 120.0
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 3:  # two workers and the resource tracker
            break
        time.sleep(0.2)
    assert proc.poll() is None and len(workers) >= 3, "the study's workers never started"
    time.sleep(2.0)  # the workers are at work
    workers = _children(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig != signal.SIGKILL:
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == (
            "interrupted; finished tasks kept in e: the same command resumes"
        )
        assert "Traceback" not in err
    time.sleep(5.0)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == [], f"outlived the study: {left}"


def test_unit_test_folder_is_replaced_whole_and_names_its_test(tmp_path, capsys) -> None:
    out = tmp_path / "u"
    _previous(out)
    assert main(["unit", "test", "--dt", "30", "--cycles", "1", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "timeseries.parquet"]
    run = json.loads((out / "summary.json").read_text())["run"]
    assert len(run["config_sha256"]) == 64 and run["version"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]
