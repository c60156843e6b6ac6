"""Progress on stderr for long runs, only when stderr is a terminal (never under cron)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID


class ProgressSink(Protocol):
    """What the pipeline reports to: lines read, or names resolved out of a total."""

    def lines(self, count: int) -> None:
        """Called every 64k lines with the total read so far."""

    def names(self, done: int, total: int) -> None:
        """Called as DNS answers arrive."""


class _Silent:
    def lines(self, count: int) -> None:
        pass

    def names(self, done: int, total: int) -> None:
        pass


class _Terminal:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self._progress.start()
        self._reading = self._progress.add_task("reading log lines", total=None)
        self._dns: TaskID | None = None

    def lines(self, count: int) -> None:
        self._progress.update(self._reading, completed=count)

    def names(self, done: int, total: int) -> None:
        if self._dns is None:
            self._dns = self._progress.add_task("resolving HELO names", total=total)
        self._progress.update(self._dns, completed=done, total=total)

    def stop(self) -> None:
        self._progress.stop()


@contextmanager
def progress(enabled: bool | None = None) -> Iterator[ProgressSink]:
    """A progress sink: a bar on a terminal, silence otherwise."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield _Silent()
        return
    sink = _Terminal()
    try:
        yield sink
    finally:
        sink.stop()
