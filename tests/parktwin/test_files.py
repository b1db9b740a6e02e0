"""Atomic writes: the old content survives a failed write; no temporary file is left."""

import json
from pathlib import Path

import pytest

from parktwin.files import atomic_path, write_json


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_json_is_stable_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_json(a, {"y": 2.5, "x": [1, 2]})
    write_json(b, {"x": [1, 2], "y": 2.5})
    assert a.read_bytes() == b.read_bytes()


def test_nan_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "n.json", {"x": float("nan")})
    assert not (tmp_path / "n.json").exists()
