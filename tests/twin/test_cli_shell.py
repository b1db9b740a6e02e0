"""The CLI shell: help everywhere, one-line errors, exit codes, no traceback."""

import subprocess
import sys

import typer

from parktwin.errors import InputError
from twin.cli import app, main


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


def test_console_script_runs_outside_the_source_tree(tmp_path) -> None:
    # From another directory, so the installed package (not the checkout) is imported.
    out = subprocess.run(
        [sys.executable, "-c", "from twin.cli import main; main(['version'])"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "pandapower" in out.stdout
