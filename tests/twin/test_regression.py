"""Regression pins: the default runs and the example study give the figures pinned here.

A refactor must leave every pinned figure unchanged. A deliberate change of figures (a bug
fix, corrected data, a new default) regenerates the pins in its own commit, whose message
says which figures moved and why:

    python -m tests.twin.test_regression          # rewrites tests/data/regression/

Each case runs the `twin` command a user would type, in a child process, and compares every
number of ``summary.json`` (and of the study's CSV tables) with the pin to 1e-9 relative;
wall-clock figures (run times) are not compared.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PINS = Path(__file__).resolve().parents[1] / "data" / "regression"
ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "examples" / "study-next-20mwh.toml"

#: case name -> the `twin` arguments (the output folder is appended as `--out DIR`).
CASES: dict[str, list[str]] = {
    "run-7days": ["run", "--days", "7"],
    "run-year": ["run"],
    # --samples 0: the study's nominal runs (its [uncertainty] samples are pinned nowhere)
    "study-7days": ["expand", str(STUDY), "--days", "7", "--workers", "2", "--samples", "0"],
}
#: the files of each case that are pinned
PINNED = {
    "run-7days": ["summary.json"],
    "run-year": ["summary.json"],
    "study-7days": ["results.csv", "status_quo.csv", "hosting.csv"],
}
#: keys and columns that measure the machine, not the twin
WALL_CLOCK = {"run_seconds", "cpu_seconds", "worker", "finished_utc"}
#: keys that name the run, not a figure (summary.json's `run`: scenario hash, version, seed)
IDENTITY = {"run"}
#: keys that carry the calendar day the run was made on (the sensitivity table's "scheme in
#: force today" names its day; the scheme and its figures are still compared)
TODAY = "today_scheme.date"
REL = 1e-9


def produce(case: str, out: Path) -> Path:
    """Run the case's `twin` command with its output in `out`; return `out`."""
    cmd = [sys.executable, "-c", "import sys; from twin.cli import main; sys.exit(main())"]
    subprocess.run(
        [*cmd, *CASES[case], "--out", str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return out


def _same(a: object, b: object, where: str, diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if (
                key in WALL_CLOCK
                or (where.endswith(".json") and key in IDENTITY)
                or f"{where}.{key}".endswith(TODAY)
            ):
                continue
            if key not in a or key not in b:
                diffs.append(f"{where}.{key}: only in {'pin' if key in a else 'run'}")
                continue
            _same(a[key], b[key], f"{where}.{key}", diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{where}: {len(a)} items pinned, {len(b)} now")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _same(x, y, f"{where}[{i}]", diffs)
    elif isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        if a != b:
            diffs.append(f"{where}: pinned {a!r}, now {b!r}")
    elif isinstance(a, int | float) and isinstance(b, int | float):
        if not (math.isclose(a, b, rel_tol=REL, abs_tol=1e-9) or (a != a and b != b)):
            diffs.append(f"{where}: pinned {a!r}, now {b!r}")
    else:
        ta, tb = _number(a), _number(b)
        if ta is not None and tb is not None:
            _same(ta, tb, where, diffs)
        elif a != b:
            diffs.append(f"{where}: pinned {a!r}, now {b!r}")


def _number(text: object) -> float | None:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _read(path: Path) -> object:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    # rows finish in any order on parallel workers: key them by their task key
    return {row["key"]: {k: _cell(v) for k, v in row.items()} for row in rows}


def _cell(text: str) -> object:
    """A CSV cell as the value it holds: JSON lists and tables parsed, else the text."""
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the study is 35 candidates x 3 years: minutes on two cores
@pytest.mark.parametrize("case", list(CASES))
def test_figures_are_pinned(case: str, tmp_path: Path) -> None:
    out = produce(case, tmp_path / case)
    diffs: list[str] = []
    for name in PINNED[case]:
        _same(_read(PINS / case / name), _read(out / name), f"{case}/{name}", diffs)
    assert not diffs, f"{len(diffs)} figures moved:\n" + "\n".join(diffs[:40])


def test_a_moved_figure_is_caught() -> None:
    """The comparison itself can fail: a nudged number, a lost key, a changed word."""
    pin = {"a": 1.0, "b": [1, 2], "c": "tou", "run_seconds": 3.0}
    day = {"today_scheme": {"date": "2026-12-03", "scheme": "zj-2026"}}
    later = {"today_scheme": {"date": "2027-02-01", "scheme": "zj-2026"}}
    other = {"today_scheme": {"date": "2027-02-01", "scheme": "zj-2027"}}
    moved: list[str] = []
    _same(day, later, "x", moved)
    assert moved == []
    _same(day, other, "x", moved)
    assert moved
    for now in (
        {"a": 1.0 + 1e-6, "b": [1, 2], "c": "tou"},
        {"a": 1.0, "b": [1], "c": "tou"},
        {"a": 1.0, "b": [1, 2], "c": "lp"},
        {"b": [1, 2], "c": "tou"},
    ):
        diffs: list[str] = []
        _same(pin, now, "x", diffs)
        assert diffs
    same: list[str] = []
    _same(pin, {"a": 1.0, "b": [1, 2], "c": "tou", "run_seconds": 9.0}, "x", same)
    assert same == []


if __name__ == "__main__":
    for name in CASES:
        made = produce(name, PINS / f".{name}.new")
        (PINS / name).mkdir(parents=True, exist_ok=True)
        for file in PINNED[name]:
            shutil.copyfile(made / file, PINS / name / file)
        shutil.rmtree(made)
        print(f"pinned {name}: {', '.join(PINNED[name])}")
