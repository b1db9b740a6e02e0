"""Outputs that never mix two runs and never leave half a result behind.

Three tools, used by every command that writes:

- `atomic_path` / `write_text` / `write_json`: one file, written to a temporary name beside
  it and renamed over it (the old content survives a failed write).
- `staged_dir`: one output *folder* as a unit. The run writes into a staging folder beside
  the target (``.NAME.staging-PID-XXXX``); on success the previous folder is moved aside
  (``.NAME.previous-PID``), the staging folder renamed to NAME, and the previous one
  removed. On an exception or interrupt the staging folder is removed and NAME is untouched.
  If the process is killed outright (SIGKILL, power loss) the hidden folders stay; the next
  `staged_dir` on the same target removes stale staging folders and, if NAME is missing,
  puts the moved-aside previous folder back.
- `check_output_dir` / `check_output_file`: refuse an output target before any work (a file
  where a folder is needed, a folder where a file is, not writable, a full disk) with one
  line naming the option.

Files and folders get the user's umask (``tempfile`` would create them 0600 / 0700, which
colleagues on a shared server cannot read).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from parktwin.errors import InputError

_STAGING = ".staging-"
_PREVIOUS = ".previous-"
_umask_lock = threading.Lock()


def user_umask() -> int:
    """The process's umask (from /proc on Linux; elsewhere read by setting it, briefly)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def _chmod_default(path: Path, directory: bool) -> None:
    """Give `path` the mode a plain ``open``/``mkdir`` would have given it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~user_umask())


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`.

    On an exception the temporary file is removed and `path` keeps its old content.
    The file gets the user's umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            _chmod_default(tmp_path, directory=False)
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: object) -> None:
    """Write `obj` as indented, key-sorted JSON atomically (stable bytes for equal data)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def is_unit_type_file(ref: str) -> bool:
    """True when a unit-type reference names a file (it ends in ``.toml`` or holds a path
    separator) rather than a shipped unit type. One rule for `devices` (which loads it) and
    the site and study files (which take a relative file from their own folder)."""
    return ref.endswith(".toml") or "/" in ref or os.sep in ref


def unit_type_beside(ref: str, owner: str | Path) -> str:
    """`ref` with a relative unit-type file taken from the folder of the file `owner` that
    names it; shipped names and absolute paths unchanged."""
    if not is_unit_type_file(ref) or Path(ref).expanduser().is_absolute():
        return ref
    return str((Path(owner).parent / ref).resolve())


def read_user_text(path: str | Path, expected: str, encoding: str = "utf-8") -> str:
    """Text of a user's file, or a one-line InputError naming it (missing, a folder, not text).

    `expected` names what the file should be, for the message (``"a CSV file"``).
    """
    path = Path(path)
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory, expected {expected}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


# --- output folders as one unit ------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _owner_pid(name: str, marker: str) -> int | None:
    """PID in ``.NAME.staging-PID-XXXX`` / ``.NAME.previous-PID`` (None if not ours)."""
    tail = name.rsplit(marker, 1)[-1]
    head = tail.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def recover(target: str | Path) -> None:
    """Clean up after a killed `staged_dir` on `target` (see module doc)."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    for marker in (_STAGING, _PREVIOUS):
        prefix = f".{target.name}{marker}"
        for p in sorted(parent.glob(f"{prefix}*")):
            pid = _owner_pid(p.name, marker)
            if pid is None or (pid != os.getpid() and _pid_alive(pid)):
                continue  # another live run's folder
            if marker == _PREVIOUS and not target.exists():
                os.rename(p, target)  # the swap was cut between its two renames
            else:
                shutil.rmtree(p, ignore_errors=True)


def _swap_in(stage: Path, target: Path) -> None:
    """Rename `stage` to `target`; a previous `target` is moved aside until that succeeds."""
    if not target.exists():
        os.rename(stage, target)
        return
    aside = target.parent / f".{target.name}{_PREVIOUS}{os.getpid()}"
    if aside.exists():
        shutil.rmtree(aside)
    os.rename(target, aside)
    try:
        os.rename(stage, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it becomes `target`.

    On an exception (Ctrl-C included) the staging folder is removed and `target` keeps the
    previous result. `target` must be a folder or missing (`check_output_dir` says so first).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    stage = Path(
        tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}{os.getpid()}-", dir=target.parent)
    )
    try:
        _chmod_default(stage, directory=True)
        yield stage
        _swap_in(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


# --- output targets checked before any work ------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in `folder` (tried: a read-only mount fools os.access)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _check_writable_ancestor(path: Path, option: str, need_bytes: float) -> None:
    """The nearest existing ancestor of `path` is a writable folder with room for the output."""
    base = _existing_ancestor(path.parent if path.parent != path else path)
    if not base.is_dir():
        raise InputError(f"{option}: {path}: {base} is a file, not a folder")
    if not _can_create_in(base):
        raise InputError(f"{option}: {path}: cannot write in {base} (permission denied)")
    if need_bytes > 0:
        free = shutil.disk_usage(base).free
        if free < need_bytes:
            raise InputError(
                f"{option}: {path}: {free / 1e6:,.0f} MB free on that disk, the output needs"
                f" about {need_bytes / 1e6:,.0f} MB"
            )


def check_output_dir(path: str | Path, option: str, need_bytes: float = 0.0) -> Path:
    """Refuse (one-line `InputError` naming `option`) an output folder that cannot be written.

    A file where the folder should be, a folder we may not write in (or whose parent we may
    not write in: the staged folder is created beside it), less free space than `need_bytes`.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{option}: {path} is a file, expected a folder")
        if not _can_create_in(path):
            raise InputError(f"{option}: {path}: cannot write in it (permission denied)")
    _check_writable_ancestor(path, option, need_bytes)
    return path


def check_output_file(path: str | Path, option: str, need_bytes: float = 0.0) -> Path:
    """Refuse an output file that cannot be written: a folder there, an unwritable place."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option}: {path} is a folder, expected a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option}: {path}: cannot overwrite it (permission denied)")
    _check_writable_ancestor(path, option, need_bytes)
    return path
