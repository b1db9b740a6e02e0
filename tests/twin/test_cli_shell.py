"""The CLI shell: help everywhere, one-line errors, exit codes, no traceback."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import typer

from parktwin.errors import InputError
from twin import versions
from twin.cli import app, main
from twin.versions import DISTRIBUTIONS, package_versions


def test_help_lists_commands(capsys) -> None:
    assert main(["--help"]) == 0
    assert "version" in capsys.readouterr().out


def test_unknown_option_is_a_usage_error(capsys) -> None:
    assert main(["version", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_our_error_is_one_red_line_and_exit_code(capsys) -> None:
    @app.command("fail-for-test", hidden=True)
    def _fail() -> None:
        raise InputError("site.toml: enterprises[0].peak_kw: must be > 0")

    try:
        code = main(["fail-for-test"])
    finally:
        app.registered_commands = [c for c in app.registered_commands if c.name != "fail-for-test"]
    err = capsys.readouterr().err
    assert code == InputError.exit_code
    assert err.strip() == "error: site.toml: enterprises[0].peak_kw: must be > 0"
    assert "Traceback" not in err


def test_typer_exit_code_is_kept() -> None:
    @app.command("exit3-for-test", hidden=True)
    def _exit3() -> None:
        raise typer.Exit(3)

    try:
        assert main(["exit3-for-test"]) == 3
    finally:
        app.registered_commands = [c for c in app.registered_commands if c.name != "exit3-for-test"]


def _run_python(code: str, cwd) -> subprocess.CompletedProcess:
    # From another directory, so what is imported is the install (or whatever the
    # environment puts on sys.path), not the current directory.
    env = {**os.environ, "COLUMNS": "400"}  # one table row per line
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_version_reports_installed_versions_and_import_locations(tmp_path) -> None:
    out = _run_python("from twin.cli import main; main(['version'])", tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert set(rows) == {dist for dist, _ in DISTRIBUTIONS}
    # Where the same interpreter, in the same directory, imports each module from.
    modules = [module for _, module in DISTRIBUTIONS]
    located = _run_python(
        f"import importlib\nfor m in {modules!r}: print(importlib.import_module(m).__path__[0])",
        tmp_path,
    )
    assert located.returncode == 0, located.stderr
    for (dist, _), path in zip(DISTRIBUTIONS, located.stdout.split(), strict=True):
        assert rows[dist][1] == importlib.metadata.version(dist), rows[dist]
        assert rows[dist][2] == path, (dist, rows[dist])


def test_package_versions_tell_a_missing_distribution() -> None:
    numpy, absent = package_versions(
        (("numpy", "numpy"), ("parktwin-no-such-dist", "parktwin_no_such_module"))
    )
    assert numpy.version == importlib.metadata.version("numpy")
    assert numpy.location == Path(np.__path__[0])
    assert not numpy.missing
    assert (absent.version, absent.location, absent.missing) == (None, None, True)


def test_version_exits_non_zero_naming_a_missing_library(monkeypatch, capsys) -> None:
    extra = ("parktwin-no-such-dist", "parktwin_no_such_module")
    monkeypatch.setattr(versions, "DISTRIBUTIONS", (*versions.DISTRIBUTIONS, extra))
    assert main(["version"]) == 1
    captured = capsys.readouterr()
    assert "parktwin-no-such-dist" in captured.out
    assert "not installed" in captured.out
    assert captured.err.strip() == (
        "error: missing: parktwin-no-such-dist (`pip install parktwin` installs them)"
    )
