"""The results table of a study: readable while the study runs, resumable after a stop.

One row per finished task, keyed by the task's stable hash. Each row is appended to a CSV
file as the task finishes (flushed and fsync'd, so a reader or a crash sees whole rows
only, bar a torn last line that the next open cuts off), and the Parquet copy is
rewritten atomically (temporary name, then rename) at most once a second while rows come
in (a rewrite is O(rows): per row it would make a long study quadratic) and at `flush`. Only the study's
driver process writes; a lock file refuses a second study on the same folder.

Columns are fixed by the table's `columns`; values that are not scalars (per-year lists)
are stored as JSON text.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from parktwin.errors import InputError
from parktwin.files import atomic_path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def parse_cell(text: str | None, kind: str) -> Any:
    """A CSV cell back to a value: ``float`` (empty -> NaN), ``int``/``bool``/``str`` (empty
    -> None), ``json`` (empty -> None)."""
    if text is None or text == "":
        return math.nan if kind == "float" else None
    if kind == "float":
        return float(text)
    if kind == "int":
        return int(text)
    if kind == "bool":
        return text == "true"
    if kind == "json":
        return json.loads(text)
    return text


class ResultTable:
    """An append-only CSV + Parquet table of rows keyed by ``key`` (see module doc)."""

    def __init__(
        self, csv_path: Path, columns: dict[str, str], parquet_every_s: float = 1.0
    ) -> None:
        if "key" not in columns:
            raise ValueError("a result table needs a 'key' column")
        self.csv_path = Path(csv_path)
        self.parquet_path = self.csv_path.with_suffix(".parquet")
        self.kinds = dict(columns)
        self.columns = tuple(columns)
        self.parquet_every_s = parquet_every_s
        self._parquet_at = -math.inf
        self._parquet_stale = False
        self._rows: list[dict[str, str]] = []
        self._load()

    def _load(self) -> None:
        if not self.csv_path.exists():
            return
        raw = self.csv_path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            # A torn last line (killed mid-write): cut it off; that task runs again.
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(self.csv_path, "r+b") as fh:
                fh.truncate(len(raw))
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        if reader.fieldnames is not None and tuple(reader.fieldnames) != self.columns:
            raise InputError(
                f"{self.csv_path}: columns differ from this version's results table; "
                "use another --out folder"
            )
        self._rows = list(reader)

    @property
    def keys(self) -> set[str]:
        return {row["key"] for row in self._rows}

    def rows(self) -> list[dict[str, Any]]:
        """Every row so far, typed (see `parse_cell`), in finishing order."""
        return [self.typed(r) for r in self._rows]

    def typed(self, row: dict[str, str]) -> dict[str, Any]:
        """One row of CSV text as Python values by the column kinds."""
        return {c: parse_cell(row.get(c, ""), k) for c, k in self.kinds.items()}

    def row(self, key: str) -> dict[str, Any] | None:
        """The (typed) row of `key`, or None."""
        for r in self._rows:
            if r["key"] == key:
                return self.typed(r)
        return None

    def append(self, row: dict[str, Any]) -> None:
        """Append one row (unknown keys refused), fsync the CSV, rewrite the Parquet."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
        cells = {c: _cell(row.get(c)) for c in self.columns}
        new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(cells)
        with open(self.csv_path, "a", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        self._rows.append(cells)
        self._parquet_stale = True
        if time.monotonic() - self._parquet_at >= self.parquet_every_s:
            self.write_parquet()

    def flush(self) -> None:
        """Bring the Parquet copy up to date with the CSV (if a row came in since)."""
        if self._parquet_stale:
            self.write_parquet()

    def drop(self, keys: set[str]) -> None:
        """Remove the rows of `keys` (to run them again); the CSV is rewritten atomically."""
        self._rows = [r for r in self._rows if r["key"] not in keys]
        with atomic_path(self.csv_path) as tmp:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.columns, lineterminator="\n")
                writer.writeheader()
                writer.writerows(self._rows)
                fh.flush()
                os.fsync(fh.fileno())
        self.write_parquet()

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame with numbers and booleans typed (what the Parquet holds)."""
        if not self._rows:
            return pd.DataFrame({c: pd.Series([], dtype=_EMPTY[k]) for c, k in self.kinds.items()})
        return read_csv_frame(self.csv_path, self.kinds)

    def write_parquet(self) -> None:
        """Rewrite the Parquet copy from the rows (atomically)."""
        frame = self.frame()
        with atomic_path(self.parquet_path) as tmp:
            frame.to_parquet(tmp, index=False)
        self._parquet_at = time.monotonic()
        self._parquet_stale = False


_EMPTY = {"float": "float64", "int": "Int64", "bool": "boolean", "str": "object", "json": "object"}


def read_csv_frame(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """A results CSV as a typed DataFrame: `columns` maps each name to its kind
    (``str``, ``float``, ``int``, ``bool``, ``json``); empty cells become NaN (numbers),
    pandas NA (int, bool) or None (text).
    """
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    out = {}
    for col, kind in columns.items():
        s = frame[col] if col in frame else pd.Series([None] * len(frame), dtype=object)
        if kind == "float":
            out[col] = pd.to_numeric(s, errors="coerce").astype(float)
        elif kind == "int":
            out[col] = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif kind == "bool":
            out[col] = s.map({"true": True, "false": False}).astype("boolean")
        else:
            out[col] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out)


@contextlib.contextmanager
def study_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` for the study's life (one writer per folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".study.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InputError(f"{folder}: another study is writing to this folder") from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_frame(csv_path: Path, frame: pd.DataFrame) -> None:
    """A derived table (made whole at the end, not appended) as CSV and Parquet beside it,
    each written atomically (infinities as ``inf``, NaN as an empty cell)."""
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False, na_rep="")
    with atomic_path(csv_path.with_suffix(".parquet")) as tmp:
        frame.to_parquet(tmp, index=False)
