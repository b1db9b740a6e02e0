"""The `twin` command line. Thin: parse options, call one function, print with rich.

Each command group lives in its own module here and is registered below. Errors of our
own (`parktwin.errors.ParkTwinError`) become one red line on stderr and a non-zero exit
code; no traceback reaches the user.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings


def _interrupted_early(signum, frame) -> None:
    """Ctrl-C or SIGTERM while the CLI is still starting up: nothing is written yet."""
    os.write(2, b"interrupted; nothing written\n")
    os._exit(130)


# Before the imports below (a second or more): `main` installs the handlers of a command.
signal.signal(signal.SIGINT, _interrupted_early)
signal.signal(signal.SIGTERM, _interrupted_early)

import typer  # noqa: E402
from rich.markup import escape  # noqa: E402

from parktwin.errors import ParkTwinError  # noqa: E402
from twin.cli.common import err_console, forget_outputs, interrupted_line  # noqa: E402

app = typer.Typer(
    name="twin",
    help="ParkTwin: digital twin of an industrial park's storage, feeders and tariffs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help as written: rich would read "[s]", "[kW]" as markup
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _register() -> None:
    """Attach the command groups (imported here so `twin --help` lists all of them)."""
    # One line per command group; each module defines `app` (a group) or a command.
    # fmt: off
    from twin.cli import unit

    app.add_typer(unit.app, name="unit")
    from twin.cli import tariff as tariff_cli; app.add_typer(tariff_cli.app, name="tariff")  # noqa: E702, I001
    from twin.cli import profiles as profiles_cli; app.add_typer(profiles_cli.app, name="profiles")  # noqa: E702, I001
    from twin.cli import grid as grid_cli

    app.add_typer(grid_cli.app, name="grid")
    from twin.cli import run as run_cli; app.command("run")(run_cli.run)  # noqa: E702, I001
    from twin.cli import expand as expand_cli; app.add_typer(expand_cli.app)  # noqa: E702, I001
    from twin.cli import hil as hil_cli; app.add_typer(hil_cli.app, name="hil")  # noqa: E702, I001
    from twin.cli import calibrate as calibrate_cli; app.command("calibrate")(calibrate_cli.calibrate)  # noqa: E702, I001
    # fmt: on
    _plain_help(app)


def _plain_help(group: typer.Typer) -> None:
    """Help of every command group as plain text, paragraphs rewrapped to the terminal.

    Rich's help renderer reads square brackets as markup and drops the units written in
    them ("Time step [s]" became "Time step "); click's renderer keeps them and wraps
    sentences whole.
    """
    group.rich_markup_mode = None
    for info in group.registered_groups:
        if info.typer_instance is not None:
            _plain_help(info.typer_instance)


@app.callback()
def _root() -> None:
    """ParkTwin: digital twin of an industrial park's storage, feeders and tariffs."""


@app.command()
def version() -> None:
    """Print the installed versions of ParkTwin and its libraries, and where each is imported from.

    Exits non-zero, naming them, when a library ParkTwin needs is not installed or cannot
    be imported.
    """
    from rich.table import Table

    from twin.cli.common import console
    from twin.versions import package_versions

    found = package_versions()
    table = Table("package", "version", box=None)
    table.add_column("imported from", overflow="fold")  # a path is never cut short
    for pkg in found:
        where = str(pkg.location) if pkg.location is not None else "[red]not importable[/]"
        table.add_row(pkg.distribution, pkg.version or "[red]not installed[/]", where)
    console.print(table, soft_wrap=True)
    # ParkTwin itself is running, so a checkout without an install is only reported.
    missing = [p for p in found if p.missing and p.distribution != "parktwin"]
    if missing:
        names = ", ".join(p.distribution for p in missing)
        raise ParkTwinError(f"missing: {names} (`pip install parktwin` installs them)")


_register()


def _terminate(signum, frame) -> None:
    """SIGTERM ends a command as Ctrl-C does: staged outputs are dropped, workers stopped."""
    raise KeyboardInterrupt


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, also when it surfaced as another exception: a signal that lands inside a
    compiled numba call comes out as ``SystemError: ... returned a result with an exception
    set`` whose cause is the KeyboardInterrupt; click turns it into Abort."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt | typer.Abort):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _usage_error(exc: Exception) -> int:
    """A bad option or argument as one line, like our own errors (help on a bare group)."""
    from typer._click.exceptions import NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError) or not hasattr(exc, "format_message"):
        exc.show()
        return getattr(exc, "exit_code", 2)
    where = f" (see {exc.ctx.command_path} -h)" if getattr(exc, "ctx", None) else ""
    err_console.print(
        f"[bold red]error:[/] {escape(exc.format_message() + where)}",
        highlight=False,
        soft_wrap=True,
    )
    return exc.exit_code


def _interrupted() -> int:
    # A second Ctrl-C must not cut the message (the outputs are already cleaned up).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    err_console.print(f"[red]{interrupted_line()}[/]", highlight=False, soft_wrap=True)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `twin` console script; returns the exit code."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    forget_outputs()
    previous_term = signal.signal(signal.SIGTERM, _terminate)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # standalone_mode=False: click returns typer.Exit's code instead of exiting.
        returned = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        code = _usage_error(exc)
    except ParkTwinError as exc:
        # escaped: a message naming a TOML table ("[uncertainty]") is not rich markup
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        code = exc.exit_code
    except BaseException as exc:
        if not _is_interrupt(exc):
            raise
        code = _interrupted()
    else:
        # typer turns a KeyboardInterrupt into 130 returned (our commands never return it)
        code = _interrupted() if returned == 130 else returned if isinstance(returned, int) else 0
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    if argv is None:
        sys.exit(code)
    return code
