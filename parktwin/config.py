"""Validated loading of TOML files (user files and package data) into pydantic models.

Nothing past this boundary sees raw dicts: callers get a typed, frozen model or an
`InputError` whose one-line message names the file, the field and what was wrong, e.g.
``site.toml: enterprises[3].peak_kw: Input should be greater than 0 (got -5)``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from parktwin.errors import InputError
from parktwin.files import read_user_text

M = TypeVar("M", bound=BaseModel)


class Frozen(BaseModel):
    """Base of ParkTwin's config models: immutable, unknown keys refused (typos surface)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # a key from the user's file may hold anything, a line break included: quoted
            # unless plain, so the message stays one line
            key = str(part)
            if not key.isprintable() or not key.strip() or key != key.strip():
                key = repr(key)
            out += ("." if out else "") + key
    return out or "(top level)"


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """One line: ``source: field.path: message (got value)`` for the first error."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    msg = first["msg"]
    if (
        "input" in first
        and first["type"] not in ("missing",)
        and not isinstance(first["input"], dict)
    ):
        got = repr(first["input"])
        if len(got) > 60:
            got = got[:57] + "..."
        msg += f" (got {got})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {_loc(first['loc'])}: {msg}{more}"


def validate(data: object, model: type[M], source: str) -> M:
    """Validate already-parsed data into `model`; `source` names it in errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(source, exc)) from exc


def parse_toml(text: str, source: str) -> dict:
    """Parse TOML text; a syntax error becomes a one-line InputError naming `source`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from exc


def load_toml(path: str | Path, model: type[M]) -> M:
    """Read a user's TOML file and validate it into `model`."""
    text = read_user_text(path, "a TOML file")
    return validate(parse_toml(text, str(path)), model, str(path))


def package_text(package: str, name: str) -> str:
    """Text of a data file shipped inside `package` (``package/data/name``)."""
    return resources.files(package).joinpath("data", name).read_text(encoding="utf-8")


def load_package_toml(package: str, name: str, model: type[M]) -> M:
    """Read and validate a TOML data file shipped inside `package` (``package/data/name``)."""
    source = f"{package}/data/{name}"
    try:
        text = package_text(package, name)
    except FileNotFoundError as exc:
        raise InputError(f"{source}: no such package data file") from exc
    return validate(parse_toml(text, source), model, source)
