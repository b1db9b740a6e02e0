"""Where a study's tasks run: local worker processes (default) or an existing Dask cluster.

Local: a `concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method. Chosen
over Dask's LocalCluster for the default because it starts no scheduler, opens no network
port and adds less per task (bench/bench_study.py measures it), while a killed local
worker still cannot lose a result (the table is on disk; the study resumes). ``spawn``
rather than ``fork`` because the driver runs threads (rich's refresh, pyarrow) that a
fork would copy in whatever state they hold.

No local worker outlives the driver: each worker asks the kernel for SIGKILL when its
parent dies (``prctl(PR_SET_PDEATHSIG)`` on Linux; elsewhere a thread polls the parent's
pid), so a driver killed by any signal, SIGKILL included, takes its workers with it, and
the multiprocessing resource tracker exits when the last of them has closed its pipe.
Workers ignore SIGINT: Ctrl-C reaches the driver, which stops them.

Dask (``--scheduler tcp://HOST:PORT``): a `distributed.Client` on that scheduler. The same
task function and task objects are submitted unchanged; Dask does the scheduling, moves
the data, and re-runs a task whose worker died (``distributed.scheduler.allowed-failures``)
and ``retries`` for a task that raised outside the candidate's own error handling. Each
task's key is its stable hash, so a task submitted twice is computed once.

A task function takes one picklable task object (with a ``.key``) and returns one result
row (a dict with ``key``). `call_safely` wraps it on the worker so an exception inside one
candidate becomes a ``failed`` row with the error, and the study goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import queue
import socket
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from parktwin.errors import InputError, SimulationError
from parktwin.lifeline import exit_with_parent
from twin.study.store import ResultTable

TaskFn = Callable[[Any], dict]

# Columns every result table has, filled by `call_safely` and the runner.
BASE_COLUMNS = {
    "key": "str",
    "status": "str",  # "ok" or "failed"
    "error": "str",
    "run_seconds": "float",
    "cpu_seconds": "float",  # CPU time of the worker process on the task (wall >> cpu: no core)
    "worker": "str",
    "finished_utc": "str",
}


class HasKey(Protocol):
    key: str


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    where = traceback.extract_tb(exc.__traceback__)
    if where:
        last = where[-1]
        text += f" [at {os.path.basename(last.filename)}:{last.lineno}]"
    return text[:500]


def call_safely(fn: TaskFn, task: HasKey) -> dict:
    """Run ``fn(task)`` on a worker; an exception becomes a ``failed`` row with its message."""
    t0, c0 = time.perf_counter(), time.process_time()
    # What identifies the task in its row even when it fails (e.g. a candidate's fields).
    ident = dict(task.identity()) if hasattr(task, "identity") else {}
    try:
        row = {**ident, **fn(task)}
        row["status"] = "ok"
    except Exception as exc:  # a candidate that raises is recorded, the study goes on
        row = {**ident, "status": "failed", "error": _one_line(exc)}
    row["key"] = task.key
    row["run_seconds"] = time.perf_counter() - t0
    row["cpu_seconds"] = time.process_time() - c0
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    row["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return row


class Executor(Protocol):
    """What the runner needs from an execution backend."""

    workers: int

    def submit(self, fn: TaskFn, task: HasKey, key: str) -> Any: ...

    def wait_first(self, pending: set, timeout: float) -> tuple[set, set]: ...

    def result(self, future: Any) -> dict: ...

    def close(self, cancel: bool) -> None: ...


class _DoneQueue:
    """Futures report here when they finish (both kinds have ``add_done_callback``)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def watch(self, future: Any) -> Any:
        future.add_done_callback(self._queue.put)
        return future

    def wait_first(self, pending: set, timeout: float) -> tuple[set, set]:
        """The futures of `pending` that have finished (at least one, or none on timeout)."""
        try:
            done = {self._queue.get(timeout=timeout)}
        except queue.Empty:
            return set(), pending
        while True:
            try:
                done.add(self._queue.get_nowait())
            except queue.Empty:
                break
        done &= pending
        return done, pending - done


_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set the environment variables of `values` not already set; restore them after."""
    added = [k for k in values if k not in os.environ]
    os.environ.update({k: values[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


class LocalExecutor(_DoneQueue):
    """`workers` local processes (``spawn``); see the module doc for why not a LocalCluster."""

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
        self.workers = workers or max(1, os.cpu_count() or 1)
        if self.workers < 1:
            raise InputError(f"--workers: needs at least 1 (got {self.workers})")
        # The parent-death signal is tied to the thread that forks the worker: the pool
        # starts all of its workers now, from this thread (and never replaces one).
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )
        # One BLAS/OpenMP thread per worker, as Dask's nanny does for its workers: a worker
        # is one core's worth of work, and N workers x N library threads on N cores spin
        # against each other. A spawned child takes the environment of the moment it is
        # started, so the workers are started here with it (a user's own setting wins).
        with _environ(_ONE_THREAD):
            for _ in range(self.workers):
                self._pool.submit(int)

    def submit(self, fn: TaskFn, task: HasKey, key: str) -> cf.Future:
        return self.watch(self._pool.submit(call_safely, fn, task))

    def result(self, future: cf.Future) -> dict:
        try:
            return future.result()
        except cf.process.BrokenProcessPool as exc:
            raise SimulationError(
                "a local worker process died (killed or out of memory); the finished "
                "candidates are saved: run the same command again to resume"
            ) from exc

    def close(self, cancel: bool) -> None:
        if cancel:
            # A stop (Ctrl-C, an error) does not wait for running candidates to finish:
            # their rows are not saved and the resume runs them again.
            for proc in list((self._pool._processes or {}).values()):
                with contextlib.suppress(OSError):
                    proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class DaskExecutor(_DoneQueue):
    """Tasks on an existing Dask distributed cluster (`address`, e.g. ``tcp://10.0.0.5:8786``)."""

    def __init__(self, address: str, connect_timeout_s: float = 10.0) -> None:
        check_scheduler_address(address, connect_timeout_s)
        from distributed import Client

        super().__init__()
        try:
            self._client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler: cannot reach a Dask scheduler at {address}") from exc
        except ValueError as exc:
            raise InputError(f"--scheduler: {exc} (expected tcp://HOST:PORT)") from exc
        n = sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values())
        self.workers = max(1, n)

    def submit(self, fn: TaskFn, task: HasKey, key: str) -> Any:
        return self.watch(self._client.submit(call_safely, fn, task, key=key, retries=2))

    def result(self, future: Any) -> dict:
        try:
            return future.result()
        except Exception as exc:  # KilledWorker after Dask's own retries, lost data, ...
            return {"status": "failed", "error": _one_line(exc), "run_seconds": float("nan")}

    def close(self, cancel: bool) -> None:
        self._client.close()


_SCHEMES = ("tcp", "tls")


def parse_scheduler_address(address: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (host, port), or a one-line InputError naming ``--scheduler``."""
    expected = "expected tcp://HOST:PORT (or tls://HOST:PORT)"
    parts = urllib.parse.urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _SCHEMES or not parts.hostname or port is None or port == 0:
        raise InputError(f"--scheduler: {address!r}: {expected}")
    return parts.hostname, port


def check_scheduler_address(address: str, timeout_s: float = 3.0) -> tuple[str, int]:
    """A well-formed address with something listening there, or a one-line InputError.

    Checked with a plain TCP connect before Dask's client is made: its own failure path
    waits out its timeout and then prints warnings of its own background tasks.
    """
    host, port = parse_scheduler_address(address)
    try:
        with socket.create_connection((host, port), timeout=min(timeout_s, 3.0)):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"--scheduler: cannot reach a Dask scheduler at {address} ({reason})"
        ) from exc
    return host, port


def make_executor(
    workers: int | None = None, scheduler: str | None = None, connect_timeout_s: float = 10.0
) -> Executor:
    """Local worker processes, or the Dask cluster at `scheduler` (``tcp://HOST:PORT``)."""
    if scheduler:
        return DaskExecutor(scheduler, connect_timeout_s)
    if workers is not None and workers < 1:
        raise InputError(f"--workers: needs at least 1 (got {workers})")
    return LocalExecutor(workers)


class Progress(Protocol):
    def add(self, total: int) -> None: ...

    def advance(self, ok: bool) -> None: ...


@dataclass
class RunCounts:
    """How many tasks were run, failed, and skipped as already finished."""

    done: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class _Pending:
    table: ResultTable
    key: str
    then: Callable[[dict], None] | None


@dataclass
class TaskRunner:
    """Submits tasks, appends each result row to its table as it finishes, resumes.

    `add` skips tasks whose key the table already holds; each finished task's row is
    appended at once (from this, the driver process: the one writer), then ``then(row)``
    (the typed row as the table holds it, the same for a skipped task) may `add` more tasks (e.g. candidates once the status-quo reference is in).
    """

    executor: Executor
    progress: Progress | None = None
    counts: RunCounts = field(default_factory=RunCounts)
    _pending: dict[Any, _Pending] = field(default_factory=dict)
    _tables: list[ResultTable] = field(default_factory=list)

    def add(
        self,
        fn: TaskFn,
        tasks: Iterable[HasKey],
        table: ResultTable,
        then: Callable[[dict], None] | None = None,
    ) -> None:
        done_keys = table.keys
        fresh = []
        for task in tasks:
            if task.key in done_keys:
                self.counts.skipped += 1
                if then is not None:
                    then(table.row(task.key))
            else:
                fresh.append(task)
        if self.progress is not None and fresh:
            self.progress.add(len(fresh))
        self._tables.append(table)
        for task in fresh:
            fut = self.executor.submit(fn, task, key=f"{fn.__name__}-{task.key}")
            self._pending[fut] = _Pending(table, task.key, then)

    def run(self) -> RunCounts:
        """Until every submitted task has finished; Ctrl-C cancels what has not started.

        The tables' Parquet copies are brought up to date at the end (also on a stop).
        """
        try:
            while self._pending:
                done, _ = self.executor.wait_first(set(self._pending), timeout=0.5)
                for fut in done:
                    item = self._pending.pop(fut)
                    row = self.executor.result(fut)
                    row.setdefault("key", item.key)
                    ok = row.get("status") == "ok"
                    item.table.append({k: v for k, v in row.items() if k in item.table.kinds})
                    self.counts.done += 1
                    self.counts.failed += not ok
                    if self.progress is not None:
                        self.progress.advance(ok)
                    if item.then is not None:
                        item.then(item.table.row(item.key))
        except BaseException:
            self.executor.close(cancel=True)
            raise
        finally:
            for table in {id(t): t for t in self._tables}.values():
                table.flush()
        return self.counts
