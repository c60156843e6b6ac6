"""Read a big log on several cores: split it at line boundaries, merge the aggregates.

Each worker tokenizes one byte range of a plain file and builds the sessions
that *start* in it. A session still open at the end of its range is
finished by reading on past the end (the "lookahead") until every such
session has disconnected; records of sessions that started before the range
are left to the worker of the previous range. So every session is built
whole by exactly one worker, and the merged result equals a sequential run.

Only plain regular files are split; a compressed file is one task. Several
files (mail.log.3.gz, mail.log.2.gz, ...) are tasks in timeline order, and
the worker of the older file reads on into the next one for the sessions a
rotation cut. Workers are forked processes (Linux), so nothing but the
per-worker aggregates crosses a process boundary; the aggregates merge
exactly (sums, minima and maxima, the smallest addresses of each sample).
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import queue
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..aggregate import Traffic
from ..errors import LogAnalyzeError
from ..input.files import file_size
from ..input.split import Task
from ..model import EVERYTHING, InputFormat, TokenizerStats, Window
from ..sessions import SessionStats
from .merge import PartMerger
from .worker import Part, RunSettings, run_range

# Lines read by each task so far, shared with the forked workers (set by run_tasks),
# and the progress callback of the process that shows them.
_lines_read: Any = None
_on_lines: Callable[[int], None] | None = None


def _run(task: Task, settings: RunSettings, slot: int = -1) -> Part:
    """:func:`~loganalyze.parallel.worker.run_range`, reporting progress in ``slot``
    (where in the shared counters this task writes its lines read)."""
    return run_range(task, settings, _progress_of(slot))


def _progress_of(slot: int) -> Callable[[int], None] | None:
    """The progress callback of the task in ``slot``: it records its lines read, and in
    the process that shows progress, reports the total of all tasks."""
    counters, show = _lines_read, _on_lines
    if counters is None or slot < 0:
        return None

    def record(count: int) -> None:
        counters[slot] = count
        if show is not None:
            show(sum(counters))

    return record


def run_tasks(tasks: Sequence[Task], jobs: int, *, input_format: InputFormat, tz: object,
              now: datetime | None, on_lines: Callable[[int], None] | None = None,
              window: Window = EVERYTHING, year: int | None = None,
              ) -> tuple[Traffic, TokenizerStats, SessionStats] | None:
    """Run the tasks on ``jobs`` processes (this one included) and merge their parts in order;
    None when the years of traditional syslog stamps would differ from one read (the
    caller reads sequentially then).

    ``on_lines`` is called now and then with the lines read so far by all of them.
    """
    global _lines_read, _on_lines
    settings = RunSettings(input_format, tz, now, window, year)
    context = multiprocessing.get_context("fork")
    _lines_read = context.RawArray("q", len(tasks)) if on_lines is not None else None
    if jobs <= 1 or len(tasks) <= 1:
        _on_lines = on_lines
        try:
            merger = PartMerger(settings)
            for slot, task in enumerate(tasks):
                merger.add("part", _run(task, settings, slot))
                merger.add("end", None)
            return merger.result()
        finally:
            _lines_read, _on_lines = None, None
    # The parts are many small objects: the cyclic collector would walk them
    # again and again while they are unpickled and merged (there are no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _share_out(tasks, jobs, settings, context, on_lines).result()
    finally:
        _lines_read, _on_lines = None, None
        if collecting:
            gc.enable()


def _task_size(task: Task) -> int:
    if task.end is not None:
        return task.end - task.start
    return file_size(task.name) or 0


def _share_out(tasks: Sequence[Task], jobs: int, settings: RunSettings, context: Any,
               on_lines: Callable[[int], None] | None) -> PartMerger:
    """Run ``tasks`` on ``jobs`` processes, this one included, merging parts in task order.

    This process runs the first task (its part is the one the others merge into,
    in place), then each process takes the next task not yet taken, biggest first
    (a month of rotated logs is one task per file, of very different sizes), so
    the cores stay busy to the end. Workers send their parts in chunks, merged as
    they come: memory stays near that of one process holding everything.
    """
    global _on_lines
    order = sorted(range(1, len(tasks)), key=lambda i: -_task_size(tasks[i]))
    taken = context.Value("i", 0)
    results = context.Queue()
    workers = [context.Process(target=_work, args=(tasks, order, settings, taken, results),
                               daemon=True) for _ in range(min(jobs, len(tasks)) - 1)]
    for worker in workers:
        worker.start()
    merger = PartMerger(settings)
    # The messages of each part not merged yet; the next part's are merged as they come.
    waiting: dict[int, deque[tuple[str, Any]]] = {}
    try:
        _on_lines = on_lines  # only here: the workers were forked without it
        waiting[0] = deque([("part", _run(tasks[0], settings, 0)), ("end", None)])
        while (index := _take(taken, order)) is not None:
            waiting[index] = deque([("part", _run(tasks[index], settings, index)),
                                    ("end", None)])
        while True:
            while messages := waiting.get(merger.merged):
                what, item = messages.popleft()
                if what == "end":
                    del waiting[merger.merged]
                merger.add(what, item)
            if merger.merged == len(tasks):
                return merger
            try:
                index, what, item = results.get(timeout=0.25)
            except queue.Empty:
                # A worker that was killed (out of memory...) never sends its part.
                ended = [w.exitcode for w in workers if w.exitcode is not None]
                if (any(ended) or len(ended) == len(workers)) and results.empty():
                    raise LogAnalyzeError(
                        f"a worker process ended without its result (exit status "
                        f"{min(ended)}; -9: killed, perhaps out of memory); "
                        "try again with --jobs 1"
                    ) from None
            else:
                if what == "error":
                    raise item
                waiting.setdefault(index, deque()).append((what, item))
            if on_lines is not None:
                on_lines(sum(_lines_read))
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()


def _take(taken: Any, order: Sequence[int]) -> int | None:
    """The next task to run (an index into the tasks), or None when all are taken."""
    with taken.get_lock():
        position = taken.value
        if position >= len(order):
            return None
        taken.value = position + 1
    return order[position]


# Senders or clients per message from a worker.
_CHUNK = 4096


def _work(tasks: Sequence[Task], order: Sequence[int], settings: RunSettings, taken: Any,
          results: Any) -> None:
    """A worker process: run tasks until none is left, sending each part back in chunks."""
    gc.disable()  # a short-lived process: see run_tasks
    while (index := _take(taken, order)) is not None:
        try:
            part = _run(tasks[index], settings, index)
        except BaseException as exc:  # noqa: BLE001 - the main process re-raises it
            results.put((index, "error", _portable(exc)))
            return
        traffic = part.traffic
        part.traffic = Traffic(sessions=traffic.sessions,
                               sessions_with_helo=traffic.sessions_with_helo,
                               hosts=traffic.hosts,
                               unknown_check_since=traffic.unknown_check_since)
        results.put((index, "part", part))
        del part
        for name in ("clients", "senders"):
            # Taken out chunk by chunk: what is sent (pickled) need not stay here.
            table = getattr(traffic, name)
            keys = list(table)
            for at in range(0, len(keys), _CHUNK):
                results.put((index, name, {key: table.pop(key) for key in keys[at:at + _CHUNK]}))
            del keys, table
            setattr(traffic, name, {})
        del traffic
        results.put((index, "end", None))


def _portable(exc: BaseException) -> BaseException:
    """``exc``, or a RuntimeError with its text when it cannot be pickled."""
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
