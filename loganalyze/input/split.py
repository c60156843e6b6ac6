"""Splitting the logs of one run into tasks for the ``--jobs`` workers
(:mod:`loganalyze.parallel`): big plain files at line boundaries, in timeline order, each
range with the year its first line has in a sequential read."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..input.files import file_size
from ..input.ranges import is_plain_file, line_at, line_boundaries
from ..input.timeline import TimelineInput, order_inputs, timeline_reference
from ..model import (
    InputFormat,
)
from ..parse import Tokenizer

# Ranges smaller than this are not worth a process of their own.
MIN_RANGE = 16 << 20

@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work: a byte range of a plain file, or a whole input."""

    name: str
    start: int
    end: int | None
    """None: read the input to its end (compressed files, standard input)."""
    first: bool
    """True for the first range of the first input: sessions cut by the log start count."""
    year: int | None
    """Year at the start of the range (traditional syslog carries none)."""
    next_name: str | None = None
    """For the last range of an input, the next input in timeline order: its first
    lines finish the sessions still open at the end (a rotation cut them)."""
    year_inferred: bool = False
    """:attr:`year` is the inference from the range's first line, not ``--year``."""
    reference: datetime | None = None
    """No line of the input is later (:func:`~loganalyze.input.timeline.reference_time`):
    a whole input dates its first line back from it."""


def plan(names: Sequence[str], jobs: int, *, input_format: InputFormat, tz: object,
         now: datetime | None, year: int | None,
         inputs: Sequence[TimelineInput] | None = None) -> list[Task]:
    """Tasks for ``names`` in timeline order; big plain files split into ``jobs`` ranges.

    ``inputs``: ``names`` already probed by :func:`order_inputs` (their heads are not
    read again).
    """
    tasks: list[Task] = []
    if inputs is None:
        inputs = order_inputs(names, input_format=input_format, tz=tz, now=now)  # type: ignore[arg-type]
    for index, item in enumerate(inputs):
        size = file_size(item.name)
        plain = size is not None and item.name != "-" and is_plain_file(item.name)
        pieces = min(jobs, max(1, (size or 0) // MIN_RANGE)) if plain else 1
        cuts = line_boundaries(item.name, size or 0, pieces) if plain and pieces > 1 else None
        # A session spanning a rotation is finished by the worker of the older file,
        # reading on into the next one, as a sequential run reads them.
        following = inputs[index + 1].name if index + 1 < len(inputs) else None
        if cuts is None:
            tasks.append(Task(item.name, 0, None, not tasks, year, following,
                              reference=item.reference))
            continue
        for k, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
            tasks.append(Task(item.name, start, end, not tasks, year,
                              following if k == len(cuts) - 2 else None,
                              reference=item.reference))
    return _with_years(tasks, input_format, tz, timeline_reference(inputs, now), year)


def _with_years(tasks: list[Task], input_format: InputFormat, tz: object,
                reference: datetime, year: int | None) -> list[Task]:
    """Give each range the year its first line has in a sequential read."""
    clock = Tokenizer(year=year, now=reference, tz=tz, input_format=input_format)  # type: ignore[arg-type]
    out = []
    for task in tasks:
        first_year = year
        if task.end is None:  # a whole (compressed) input: its own inference from the start
            out.append(task)
            continue
        when = clock.line_time(line_at(task.name, task.start))
        if when is not None:
            first_year = when.year
        out.append(Task(task.name, task.start, task.end, task.first, first_year, task.next_name,
                        year is None and when is not None, task.reference))
    return out


def worth_splitting(names: Sequence[str]) -> bool:
    """True when several processes can help: files only (no standard input), and a
    plain file big enough to split, or several big files."""
    if not names or "-" in names:
        return False
    sizes = [file_size(name) or 0 for name in names]
    big = [size for name, size in zip(names, sizes, strict=True)
           if size >= MIN_RANGE and is_plain_file(name)]
    return any(size >= 2 * MIN_RANGE for size in big) or (
        len(names) > 1 and sum(size >= MIN_RANGE for size in sizes) > 1)


# Processes by default, however many cores: each holds the aggregates of its
# part until it hands them over, so memory grows with the number of processes.
DEFAULT_MAX_JOBS = 4


def default_jobs() -> int:
    """Cores this process may use, at most :data:`DEFAULT_MAX_JOBS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, DEFAULT_MAX_JOBS))
