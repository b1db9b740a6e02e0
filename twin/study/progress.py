"""A rich progress bar for a study: tasks done, failed, elapsed and estimated time left."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StudyProgress:
    """Context manager; the runner calls `add(n)` for submitted tasks and `advance(ok)`."""

    def __init__(self, console: Console | None = None, description: str = "study") -> None:
        # Candidates take seconds to minutes: estimate the speed over the whole run.
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            speed_estimate_period=3600.0,
            transient=False,
        )
        self._task = self._progress.add_task(description, total=0, failed=0)
        self.done = 0
        self.failed = 0

    def __enter__(self) -> StudyProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def add(self, total: int) -> None:
        task = self._progress.tasks[0]
        self._progress.update(self._task, total=(task.total or 0) + total)

    def advance(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        self._progress.update(self._task, advance=1, failed=self.failed)
