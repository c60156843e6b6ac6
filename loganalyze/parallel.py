"""Read a big log on several cores: split it at line boundaries, merge the aggregates.

Each worker tokenizes one byte range of a plain file and builds the sessions
that *start* in it. A session still open at the end of its range is
finished by reading on past the end (the "lookahead") until every such
session has disconnected; records of sessions that started before the range
are left to the worker of the previous range. So every session is built
whole by exactly one worker, and the merged result equals a sequential run.

Only plain regular files are split; compressed files and standard input are
each read by one worker. Workers are forked processes (Linux), so nothing
but the per-worker aggregates crosses a process boundary.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from .senders import Traffic, add_evidence, add_session
from .sessions import _STALE_SECONDS, SessionBuilder, SessionStats
from .sources import file_size, is_plain_file, line_at, line_boundaries, read_lines, read_range
from .timeline import order_inputs
from .tokenizer import ALL_KINDS, EVIDENCE_KINDS, InputFormat, Kind, Tokenizer, TokenizerStats

# Ranges smaller than this are not worth a process of their own.
MIN_RANGE = 16 << 20
# A session open this far past the end of its range is given up (stale) like
# the sequential builder's hour-long sweep would.
_MAX_LOOKAHEAD = 256 << 20


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


@dataclass(slots=True)
class Part:
    """What one worker found."""

    traffic: Traffic
    lines: TokenizerStats
    sessions: SessionStats


@dataclass(frozen=True, slots=True)
class _Settings:
    input_format: InputFormat
    tz: object
    now: datetime | None


def _run(task: Task, settings: _Settings) -> Part:
    """Build the sessions that start in ``task``'s range, and all its line counts."""
    tokenizer = Tokenizer(year=task.year, now=settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS)
    builder = SessionBuilder()
    traffic = Traffic()
    parse, feed = tokenizer.parse, builder.feed
    open_sessions = builder._open  # noqa: SLF001 - the worker drives its own builder
    counted: TokenizerStats | None = None
    lines: Iterator[tuple[bool, str]]
    if task.end is None and task.start == 0:
        lines = ((True, line) for line in read_lines(task.name))
    else:
        lines = read_range(task.name, task.start, task.end, lookahead=_MAX_LOOKAHEAD)
    lineno = 0
    past = 0
    for inside, line in lines:
        lineno += 1
        if not inside:
            if counted is None:
                # Past the range: finish our sessions; these lines are the next worker's.
                counted = tokenizer.stats
                tokenizer.stats = TokenizerStats()
            past += 1
            if not open_sessions or (not past & 0x3FF and _all_stale(open_sessions, line,
                                                                      tokenizer)):
                break
        record = parse(line, lineno)
        if record is None:
            continue
        kind = record.kind
        if kind in EVIDENCE_KINDS:
            if inside:
                add_evidence(traffic, record)
            continue
        key = (record.host, record.service, record.pid)
        if not inside:
            if kind is Kind.CONNECT and key in open_sessions:
                # The process serves a new client: ours ended without a disconnect line,
                # exactly as the sequential builder decides; the new session is not ours.
                for session in feed(record):
                    add_session(traffic, session)
                builder.discard(key)
                continue
            if kind in (Kind.CONNECT, Kind.HOSTNAME_MISMATCH) or (
                kind is not Kind.SPF and key not in open_sessions
            ):
                continue
        elif not task.first and kind not in (Kind.CONNECT, Kind.HOSTNAME_MISMATCH, Kind.SPF) \
                and key not in open_sessions:
            # The tail of a session that started in the previous range.
            continue
        for session in feed(record):
            add_session(traffic, session)
    for session in builder.close():
        add_session(traffic, session)
    return Part(traffic, counted or tokenizer.stats, builder.stats)


def _all_stale(open_sessions: dict[Any, Any], line: str, tokenizer: Tokenizer) -> bool:
    """True when every session still open has been silent for over an hour: no more
    lines of theirs will come (the sequential builder closes them the same way)."""
    now = tokenizer.line_time(line)
    if now is None:
        return False
    return all((now - s.end).total_seconds() > _STALE_SECONDS for s in open_sessions.values())


def plan(names: Sequence[str], jobs: int, *, input_format: InputFormat, tz: object,
         now: datetime | None, year: int | None) -> list[Task]:
    """Tasks for ``names`` in timeline order; big plain files split into ``jobs`` ranges."""
    tasks: list[Task] = []
    inputs = order_inputs(names, input_format=input_format, tz=tz, now=now)  # type: ignore[arg-type]
    for item in inputs:
        size = file_size(item.name)
        plain = size is not None and item.name != "-" and is_plain_file(item.name)
        pieces = min(jobs, max(1, (size or 0) // MIN_RANGE)) if plain else 1
        cuts = line_boundaries(item.name, size or 0, pieces) if plain and pieces > 1 else None
        # Each input's first range keeps the sessions cut by its start: a worker's
        # lookahead does not cross into the next file, so a session spanning a
        # rotation counts as two halves (as if the files were analysed apart).
        if cuts is None:
            tasks.append(Task(item.name, 0, None, True, year))
            continue
        for k, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
            tasks.append(Task(item.name, start, end, k == 0, year))
    return _with_years(tasks, input_format, tz, now, year)


def _with_years(tasks: list[Task], input_format: InputFormat, tz: object,
                now: datetime | None, year: int | None) -> list[Task]:
    """Give each range the year its first line has in a sequential read."""
    clock = Tokenizer(year=year, now=now, tz=tz, input_format=input_format)  # type: ignore[arg-type]
    out = []
    for task in tasks:
        first_year = year
        if task.end is None:  # a whole (compressed) input: its own inference from the start
            out.append(task)
            continue
        when = clock.line_time(line_at(task.name, task.start))
        if when is not None:
            first_year = when.year
        out.append(Task(task.name, task.start, task.end, task.first, first_year))
    return out


def run_tasks(tasks: Sequence[Task], jobs: int, *, input_format: InputFormat, tz: object,
              now: datetime | None) -> tuple[Traffic, TokenizerStats, SessionStats]:
    """Run the tasks on ``jobs`` processes and merge their parts in order."""
    settings = _Settings(input_format, tz, now)
    if jobs <= 1 or len(tasks) <= 1:
        parts = [_run(task, settings) for task in tasks]
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(jobs, len(tasks))) as pool:
            parts = pool.starmap(_run, [(task, settings) for task in tasks])
    return merge_parts(parts)


def merge_parts(parts: Sequence[Part]) -> tuple[Traffic, TokenizerStats, SessionStats]:
    """Add up the workers' findings, earliest range first."""
    traffic = Traffic()
    lines = TokenizerStats()
    sessions = SessionStats()
    for part in parts:
        traffic.merge(part.traffic)
        for f in fields(TokenizerStats):
            if f.name == "samples":
                lines.samples.extend(part.lines.samples[: 20 - len(lines.samples)])
            else:
                setattr(lines, f.name, getattr(lines, f.name) + getattr(part.lines, f.name))
        for f in fields(SessionStats):
            setattr(sessions, f.name, getattr(sessions, f.name) + getattr(part.sessions, f.name))
    return traffic, lines, sessions


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


def default_jobs() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
