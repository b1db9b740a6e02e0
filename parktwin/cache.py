"""An on-disk cache of what is built from unchanged inputs (the grid model of a site).

An entry is a pickle named by the SHA-256 of everything it was built from: the inputs
themselves, the source of the modules that build it and the versions of the libraries
they call. A changed input, a changed module or an upgraded library gives another name,
so a stale entry is never read (it is left for the user to clear, like any cache).

Where: ``$PARKTWIN_CACHE_DIR`` if set, else the user's cache folder
(``platformdirs.user_cache_dir("parktwin")``, e.g. ``~/.cache/parktwin``).
``PARKTWIN_CACHE=off`` builds everything afresh and writes nothing.

Safe against concurrent writers (study workers building the same site at once): each
writes a temporary file beside the entry and renames it over the entry, which is atomic,
so a reader sees a whole entry or none. An unreadable entry (truncated by a full disk,
written by another Python) is rebuilt and replaced; a cache folder that cannot be written
costs the time of a rebuild, never the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from parktwin.files import atomic_path

T = TypeVar("T")

#: Bumped when the entry format changes (the key covers everything else).
FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off (``PARKTWIN_CACHE=off``)."""
    if os.environ.get("PARKTWIN_CACHE", "").strip().lower() in {"off", "0", "no", "false"}:
        return None
    env = os.environ.get("PARKTWIN_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("parktwin", appauthor=False))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def cache_key(inputs: bytes, sources: Iterable[str | Path], libraries: Iterable[str] = ()) -> str:
    """SHA-256 (hex) of `inputs`, the bytes of each file in `sources` and the installed
    version of each distribution in `libraries`."""
    h = hashlib.sha256()
    h.update(f"parktwin-cache {FORMAT}\0".encode())
    h.update(inputs)
    for src in sources:
        h.update(b"\0" + Path(src).read_bytes())
    for dist in libraries:
        h.update(f"\0{dist}={_version(dist)}".encode())
    return h.hexdigest()


def cached(kind: str, key: str, build: Callable[[], T]) -> T:
    """The entry `kind`/`key` from the cache, or `build()` stored under that name."""
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / kind / f"{key}.pickle"
    with contextlib.suppress(
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        IndexError,
        TypeError,
        ValueError,
    ):
        with path.open("rb") as f:
            return pickle.load(f)
    value = build()
    with contextlib.suppress(OSError, pickle.PicklingError):
        with atomic_path(path) as tmp:
            with tmp.open("wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    return value
