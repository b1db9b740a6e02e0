"""The on-disk cache of built inputs: read back, keyed by its inputs, safe to share."""

import pickle
import threading

import pytest

from parktwin import cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PARKTWIN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("PARKTWIN_CACHE", raising=False)
    return tmp_path


def _counting(value):
    calls = []

    def build():
        calls.append(1)
        return value

    return build, calls


def test_second_call_reads_the_entry(folder):
    build, calls = _counting({"a": [1.0, 2.0]})
    key = cache.cache_key(b"site", [])
    assert cache.cached("t", key, build) == {"a": [1.0, 2.0]}
    assert cache.cached("t", key, build) == {"a": [1.0, 2.0]}
    assert len(calls) == 1
    assert (folder / "t" / f"{key}.pickle").is_file()


def test_key_covers_inputs_sources_and_libraries(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    k = cache.cache_key(b"a", [src], ["numpy"])
    assert k == cache.cache_key(b"a", [src], ["numpy"])
    assert k != cache.cache_key(b"b", [src], ["numpy"])
    assert k != cache.cache_key(b"a", [src], ["numpy", "scipy"])
    src.write_text("x = 2\n")
    assert k != cache.cache_key(b"a", [src], ["numpy"])


def test_off_builds_every_time_and_writes_nothing(folder, monkeypatch):
    monkeypatch.setenv("PARKTWIN_CACHE", "off")
    build, calls = _counting(3)
    cache.cached("t", "k", build)
    cache.cached("t", "k", build)
    assert len(calls) == 2
    assert not any(folder.iterdir())


def test_unreadable_entry_is_rebuilt_and_replaced(folder):
    path = folder / "t" / "k.pickle"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps([1, 2, 3])[:5])  # truncated, as by a full disk
    build, calls = _counting([1, 2, 3])
    assert cache.cached("t", "k", build) == [1, 2, 3]
    assert len(calls) == 1
    assert pickle.loads(path.read_bytes()) == [1, 2, 3]


def test_unwritable_folder_costs_a_rebuild_not_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PARKTWIN_CACHE_DIR", str(blocker))
    assert cache.cached("t", "k", lambda: 7) == 7


def test_concurrent_writers_leave_one_whole_entry(folder):
    value = list(range(200_000))
    seen, errors = [], []

    def worker():
        try:
            seen.append(cache.cached("t", "k", lambda: list(value)))
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(v == value for v in seen)
    assert [p.name for p in (folder / "t").iterdir()] == ["k.pickle"]  # no temporaries left
    assert pickle.loads((folder / "t" / "k.pickle").read_bytes()) == value
