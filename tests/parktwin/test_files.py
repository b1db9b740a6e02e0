"""Atomic writes: the old content survives a failed write; no temporary file is left."""

import json
from pathlib import Path

import pytest

from parktwin.files import atomic_path, write_json


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_json_is_stable_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_json(a, {"y": 2.5, "x": [1, 2]})
    write_json(b, {"x": [1, 2], "y": 2.5})
    assert a.read_bytes() == b.read_bytes()


def test_nan_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "n.json", {"x": float("nan")})
    assert not (tmp_path / "n.json").exists()


# --- output folders as one unit ------------------------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402

from parktwin.errors import InputError  # noqa: E402
from parktwin.files import (  # noqa: E402
    check_output_dir,
    check_output_file,
    recover,
    staged_dir,
    write_text,
)


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _run_into(target: Path, files: dict[str, str]) -> None:
    with staged_dir(target) as stage:
        for name, text in files.items():
            write_text(stage / name, text)


def test_staged_folder_replaces_the_previous_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run_into(out, {"summary.json": "old", "units/a.parquet": "a", "units/b.parquet": "b"})
    _run_into(out, {"summary.json": "new", "units/a.parquet": "a2"})
    # no file of the earlier run survives beside the new one (fewer units: no stale b)
    assert _tree(out) == {"summary.json": "new", "units/a.parquet": "a2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("stop", [RuntimeError("failed mid-run"), KeyboardInterrupt()])
def test_interrupted_run_leaves_the_previous_folder_and_no_staging(tmp_path, stop) -> None:
    out = tmp_path / "run"
    _run_into(out, {"summary.json": "old", "units/a.parquet": "a"})
    with pytest.raises(type(stop)), staged_dir(out) as stage:
        write_text(stage / "units/a.parquet", "half of the new run")
        raise stop
    assert _tree(out) == {"summary.json": "old", "units/a.parquet": "a"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_interrupted_first_run_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), staged_dir(tmp_path / "run") as stage:
        write_text(stage / "a.parquet", "x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_run_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    pid = _dead_pid()
    stale = tmp_path / f".run.staging-{pid}-abcd"
    write_text(stale / "units/a.parquet", "half")
    aside = tmp_path / f".run.previous-{pid}"  # killed between the two renames of a swap
    write_text(aside / "summary.json", "previous")
    recover(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert _tree(tmp_path / "run") == {"summary.json": "previous"}


def test_a_live_runs_staging_folder_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / f".run.staging-{os.getppid()}-abcd"  # a live process's
    other.mkdir()
    _run_into(tmp_path / "run", {"summary.json": "x"})
    assert other.is_dir()


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_get_the_users_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        _run_into(tmp_path / "run", {"summary.json": "x", "units/a.parquet": "a"})
    finally:
        os.umask(old)
    out = tmp_path / "run"
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "units").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "summary.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((out / "units/a.parquet").stat().st_mode) == 0o666 & ~mask


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder nobody may create files in (root ignores modes: chattr +i then)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", ro]).returncode:
            pytest.skip("running as root without chattr +i")
        yield ro
        subprocess.run(["chattr", "-i", ro], check=True)
    else:
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)


def test_output_targets_are_refused_in_one_line(tmp_path: Path, read_only_dir: Path) -> None:
    a_file = tmp_path / "README.md"
    a_file.write_text("x")
    cases = [
        (check_output_dir, a_file, "--out: .*README.md is a file, expected a folder"),
        (check_output_dir, a_file / "sub", "--out: .*README.md is a file, not a folder"),
        (check_output_dir, read_only_dir / "run", "--out: .*cannot write in .*ro"),
        (check_output_dir, read_only_dir, "--out: .*cannot write in"),
        (check_output_file, tmp_path, "--out: .* is a folder, expected a file name"),
        (check_output_file, read_only_dir / "x.json", "--out: .*cannot write in"),
    ]
    for check, path, message in cases:
        with pytest.raises(InputError, match=message):
            check(path, "--out")
    with pytest.raises(InputError, match=r"--out: .* MB free on that disk, the output needs"):
        check_output_dir(tmp_path / "run", "--out", need_bytes=1e18)
    assert check_output_dir(tmp_path / "new" / "run", "--out") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # a check writes nothing
