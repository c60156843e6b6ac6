"""The ``--jobs`` tasks run on a Dask cluster (``analyze --scheduler ADDRESS``).

The same tasks as on one machine (:func:`~loganalyze.input.split.plan`: one per
compressed file, big plain files cut at line boundaries), the same worker function
(:func:`~loganalyze.parallel.worker.run_range`), the same exact merge in task order
(:class:`~loganalyze.parallel.merge.PartMerger`): a second executor, not a second
pipeline. The tasks are planned here (this machine must see the files the workers
read: a shared file system or an object store); the judge stage stays here too,
where the DNS cache is. A task is a pure function of its range, so when a worker is
lost Dask runs its tasks again elsewhere and the result is still exact.

This is the only module that imports Dask.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from os.path import basename
from typing import Any

from distributed import Client, as_completed, get_worker
from distributed.scheduler import KilledWorker

from ..aggregate import Traffic, rare_gc_passes
from ..errors import ConfigError, LogAnalyzeError
from ..input.split import Task, plan
from ..input.timeline import read_timeline_blocks
from ..input.urls import is_url
from ..model import TokenizerStats
from ..sessions import SessionStats
from .merge import PartMerger
from .worker import Part, RunSettings, collect_all, run_range

_CONNECT_SECONDS = 10
# How long to wait for a first worker when the scheduler has none yet.
_WORKER_SECONDS = 10
# Ranges per worker thread (big files only: a range is at least MIN_RANGE): a lost
# worker costs a few ranges' work again, and a slow one does not hold up the end.
_TASKS_PER_THREAD = 4

Merged = tuple[Traffic, TokenizerStats, SessionStats]


def refuse_stdin(names: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for ``-``: the workers cannot read our standard input
    (checked before anything reads it)."""
    if "-" in names:
        raise ConfigError("--scheduler: the workers cannot read standard input; "
                          "give the logs as paths or URLs they can read")


def run_on_cluster(names: Sequence[str], address: str, settings: RunSettings, *,
                   on_lines: Callable[[int], None] | None = None) -> Merged:
    """Read, parse and aggregate ``names`` on the cluster of the scheduler at ``address``.

    ``on_lines`` is called with the lines of the tasks finished so far.
    """
    refuse_stdin(names)
    # One clock for every worker: the year of traditional syslog stamps is inferred from it.
    settings = replace(settings, now=settings.now or datetime.now())
    # The workers do not run in this directory.
    names = [name if is_url(name) else os.path.abspath(name) for name in names]
    with _connect(address) as client:
        threads = _check_workers(client, address, settings)
        tasks = plan(names, threads * _TASKS_PER_THREAD, input_format=settings.input_format,
                     tz=settings.tz, now=settings.now, year=settings.year)
        merged = _run(client, tasks, settings, on_lines)
        if merged is not None:
            return merged
        # A worker dated its lines otherwise than one read would (months that jump
        # around): one task reads everything in order, as --jobs 1 does.
        future = client.submit(_read_all, list(names), settings,
                               key=f"loganalyze-all-{uuid.uuid4().hex}")
        part = _result(future, ", ".join(names))
        return part.traffic, part.lines, part.sessions


def _read_all(names: list[str], settings: RunSettings) -> Part:
    blocks = read_timeline_blocks(names, input_format=settings.input_format,
                                  tz=settings.tz, now=settings.now)  # type: ignore[arg-type]
    return collect_all(blocks, settings)


@contextmanager
def _connect(address: str) -> Iterator[Client]:
    try:
        client = Client(address, timeout=_CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise LogAnalyzeError(
            f"--scheduler {address}: cannot connect ({_first_line(exc)}); "
            "give the address 'dask scheduler' prints (tcp://HOST:8786)") from None
    try:
        yield client
    finally:
        client.close()


def worker_facts() -> tuple[str, tuple[object, ...]]:
    """What must be the same on a worker as here: loganalyze's version, and the time
    zone epoch stamps (journal JSON) are read in when no ``--tz`` is given."""
    import loganalyze

    return loganalyze.__version__, (time.timezone, time.altzone, time.daylight, time.tzname)


def _check_workers(client: Client, address: str, settings: RunSettings) -> int:
    """The number of worker threads; refuse workers that would count otherwise than here."""
    try:
        client.wait_for_workers(1, timeout=_WORKER_SECONDS)
    except TimeoutError:
        raise LogAnalyzeError(f"--scheduler {address}: no workers; start some with "
                              f"'dask worker {address}'") from None
    version, zone = worker_facts()
    for worker, facts in sorted(client.run(worker_facts, on_error="return").items()):
        if isinstance(facts, BaseException):
            raise LogAnalyzeError(
                f"worker {worker} cannot run loganalyze ({_first_line(facts)}); "
                f"install loganalyze {version} there")
        if facts[0] != version:
            raise LogAnalyzeError(
                f"worker {worker} has loganalyze {facts[0]}, this machine {version}; "
                f"install loganalyze {version} on every worker")
        if settings.tz is None and tuple(facts[1]) != zone:
            raise LogAnalyzeError(
                f"worker {worker} runs in another time zone ({facts[1][3][0]}) than this "
                f"machine ({zone[3][0]}); give --tz ZONE")  # type: ignore[index]
    workers = client.scheduler_info()["workers"].values()
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers))


def _run_task(task: Task, settings: RunSettings, topic: str, slot: int) -> Part:
    """On a worker: :func:`run_range`, sending its lines read now and then as events
    of ``topic`` (``[slot, lines]``) for the progress shown where the run started."""
    worker = get_worker()
    return run_range(task, settings, lambda count: worker.log_event(topic, [slot, count]))


def _run(client: Client, tasks: Sequence[Task], settings: RunSettings,
         on_lines: Callable[[int], None] | None) -> Merged | None:
    """Run the tasks on the cluster, merging their parts in task order as they come."""
    run = uuid.uuid4().hex
    keys = [f"loganalyze-{basename(task.name)}-{task.start}-{run}-{i}"
            for i, task in enumerate(tasks)]
    topic = f"loganalyze-lines-{run}"
    lines_read = [0] * len(tasks)

    def shown(slot: int, count: int) -> None:
        # A task run again after a lost worker starts from 0: its best count stands.
        lines_read[slot] = max(lines_read[slot], count)
        if on_lines is not None:
            on_lines(sum(lines_read))

    if on_lines is not None:
        client.subscribe_topic(topic, lambda event: shown(*event[1]))
    futures = client.map(_run_task, tasks, [settings] * len(tasks), [topic] * len(tasks),
                         range(len(tasks)), key=keys)
    position = {future.key: i for i, future in enumerate(futures)}
    merger = PartMerger(settings)
    waiting: dict[int, Part] = {}
    try:
        with rare_gc_passes():
            for future in as_completed(futures, loop=client.loop):
                index = position[future.key]
                part = _result(future, _where(tasks[index]))
                future.release()  # nothing needs it on the cluster any more
                shown(index, part.lines.lines)
                waiting[index] = part
                while (next_part := waiting.pop(merger.merged, None)) is not None:
                    merger.add("part", next_part)
                    merger.add("end", None)
    finally:
        client.cancel(futures)  # after an error: the others need not run on
        if on_lines is not None:
            client.unsubscribe_topic(topic)
    return merger.result()


def _where(task: Task) -> str:
    """The file and byte range of a task, for error messages."""
    if task.end is None:
        return task.name
    return f"{task.name} bytes {task.start}-{task.end}"


def _result(future: Any, where: str) -> Part:
    """The part a task made, or its error as one line naming the file and byte range."""
    try:
        return future.result()
    except KilledWorker:
        raise LogAnalyzeError(
            f"{where}: the workers running this task died again and again (out of memory?); "
            "see the workers' logs") from None
    except LogAnalyzeError as exc:
        message = str(exc)
        name = where.split(" bytes ")[0]
        if message.startswith(f"{name}: "):
            message = message[len(name) + 2:]
        raise LogAnalyzeError(f"{where}: {message} (on a Dask worker)") from None
    except Exception as exc:  # noqa: BLE001 - any failure on a worker is one line
        raise LogAnalyzeError(f"{where}: {type(exc).__name__} on a worker: "
                              f"{_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
