"""The `twin` command line. Thin: parse options, call one function, print with rich.

Each command group lives in its own module here and is registered below. Errors of our
own (`parktwin.errors.ParkTwinError`) become one red line on stderr and a non-zero exit
code; no traceback reaches the user.
"""

from __future__ import annotations

import sys
import warnings

import typer

from parktwin.errors import ParkTwinError
from twin.cli.common import err_console

app = typer.Typer(
    name="twin",
    help="ParkTwin: digital twin of an industrial park's storage, feeders and tariffs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    """Attach the command groups (imported here so `twin --help` lists all of them)."""
    # One line per command group; each module defines `app` (a group) or a command.
    from twin.cli import unit

    app.add_typer(unit.app, name="unit")
    from twin.cli import tariff as tariff_cli; app.add_typer(tariff_cli.app, name="tariff")  # noqa: E702, I001
    from twin.cli import profiles as profiles_cli; app.add_typer(profiles_cli.app, name="profiles")  # noqa: E702, I001
    from twin.cli import grid as grid_cli

    app.add_typer(grid_cli.app, name="grid")
    from twin.cli import run as run_cli; app.command("run")(run_cli.run)  # noqa: E702, I001
    from twin.cli import expand as expand_cli; app.add_typer(expand_cli.app)  # noqa: E702, I001
    from twin.cli import hil as hil_cli; app.add_typer(hil_cli.app, name="hil")  # noqa: E702, I001


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `twin` console script; returns the exit code."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        # standalone_mode=False: click returns typer.Exit's code instead of exiting.
        returned = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        exc.show()
        code = exc.exit_code
    except typer.Abort:
        err_console.print("[red]aborted[/]")
        code = 130
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]")
        code = 130
    except ParkTwinError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        code = exc.exit_code
    else:
        code = returned if isinstance(returned, int) else 0
    if argv is None:
        sys.exit(code)
    return code
