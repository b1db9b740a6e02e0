"""What every CLI command shares: the consoles and the parsing of common option values."""

from __future__ import annotations

import datetime as dt

from rich.console import Console

from parktwin.errors import InputError

console = Console()
err_console = Console(stderr=True)


def parse_date(value: str, option: str) -> dt.date:
    """``YYYY-MM-DD`` -> date, or an InputError naming the option."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from exc
