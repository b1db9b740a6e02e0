"""What every CLI command shares: the consoles, the parsing of common option values, and
the output targets a command declares before it starts work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from parktwin.errors import InputError
from parktwin.files import check_output_dir, check_output_file

console = Console()
err_console = Console(stderr=True)

SEED_MAX = 2**32 - 1  # numpy's SeedSequence takes non-negative integers; 32 bits is plenty


def parse_date(value: str, option: str) -> dt.date:
    """``YYYY-MM-DD`` -> date, or an InputError naming the option."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from exc


def check_seed(value: int | None, option: str = "--seed") -> int | None:
    """A seed in 0 .. 2**32-1, or an InputError naming the option."""
    if value is not None and not 0 <= value <= SEED_MAX:
        raise InputError(f"{option}: expected an integer 0..{SEED_MAX}, got {value}")
    return value


def check_range(
    value: float | None, option: str, low: float, high: float, unit: str = "", *, above=False
) -> None:
    """`value` in low..high (strictly above `low` with `above`), else one line naming it."""
    if value is None:
        return
    inside = (value > low if above else value >= low) and value <= high
    if not inside:  # NaN is never inside
        span = f"> {low:,.10g} and <= {high:,.10g}" if above else f"{low:,.10g} .. {high:,.10g}"
        raise InputError(f"{option}: expected {span}{unit}, got {value:,.10g}")


@dataclass(frozen=True)
class Output:
    """An output target a command writes: a staged folder, a resumable study folder, a file."""

    path: Path
    kind: str  # "staged", "resumable" or "file"
    existed: bool


_outputs: list[Output] = []


def output_dir(path: Path, option: str, need_bytes: float = 0.0, resumable=False) -> Path:
    """Check an output folder before any work (one line if it cannot be written) and note it
    for the message of an interrupt."""
    check_output_dir(path, option, need_bytes)
    _outputs.append(Output(path, "resumable" if resumable else "staged", path.exists()))
    return path


def output_file(path: Path, option: str) -> Path:
    """Check an output file before any work; noted for the message of an interrupt."""
    check_output_file(path, option)
    _outputs.append(Output(path, "file", path.exists()))
    return path


def interrupted_line() -> str:
    """What an interrupt left: previous results untouched, or a study's rows kept."""
    if not _outputs:
        return "interrupted; nothing written"
    parts = []
    for o in _outputs:
        if o.kind == "resumable":
            parts.append(f"finished tasks kept in {o.path}: the same command resumes")
        elif o.existed:
            parts.append(f"previous results in {o.path} untouched")
        else:
            parts.append(f"nothing written to {o.path}")
    return "interrupted; " + "; ".join(parts)


def forget_outputs() -> None:
    """Start a new command (tests call `main` several times in one process)."""
    _outputs.clear()


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_listen_address(
    host: str,
    port: int,
    allow_remote: bool,
    options: tuple[str, str, str] = ("--host", "--port", "--allow-remote"),
) -> None:
    """A server's address: loopback unless ``--allow-remote``, a valid port not in use.

    `options` names the host, port and allow-remote options in the messages."""
    o_host, o_port, o_remote = options
    import socket

    if host not in LOOPBACK and not allow_remote:
        raise InputError(
            f"{o_host} {host}: not a loopback address; a bench can trip real units, so serving"
            f" off this machine needs {o_remote}"
        )
    check_range(port, o_port, 0, 65535)
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"{o_host} {host}: unknown host ({exc.strerror})") from exc
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(addr)
        except PermissionError as exc:
            raise InputError(
                f"{o_port} {port}: binding below 1024 needs privileges; use a port >= 1024"
            ) from exc
        except OSError as exc:
            raise InputError(
                f"{o_port} {port}: {host}:{port} is already in use by another program; choose"
                f" another {o_port} (0: any free port)"
            ) from exc
