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
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from itertools import chain
from sys import intern
from typing import Any

from .aggregate import ClientStats, SenderStats, Traffic, TrafficCollector, collect_blocks
from .errors import LogAnalyzeError
from .input.files import (
    file_size,
    line_at,
    line_start_before,
    read_blocks,
    read_lines,
    read_range,
)
from .input.split import Task
from .model import (
    ALL_KINDS,
    EVERYTHING,
    EVIDENCE_KINDS,
    InputFormat,
    Kind,
    LogRecord,
    TokenizerStats,
    Window,
)
from .parse import Tokenizer
from .parse.header import FirstStamp, resumes
from .sessions import STALE_SECONDS, SessionStats, SmtpSession

_SpfLine = tuple[datetime, str, str, str | None, str | None, str, str]
"""An SPF result line: time, host, client address, HELO, sender, result, identity."""
# A session open this far past the end of its range is given up (stale) like
# the sequential builder's hour-long sweep would.
_MAX_LOOKAHEAD = 256 << 20


@dataclass(slots=True)
class Part:
    """What one worker found."""

    traffic: Traffic
    lines: TokenizerStats
    sessions: SessionStats
    spf_taken_past_end: Counter[_SpfLine] = field(default_factory=Counter)
    """SPF lines past the range given to a session of this range."""
    spf_unmatched_early: Counter[_SpfLine] = field(default_factory=Counter)
    """SPF lines early in the range that no session of it took: unmatched unless the
    previous range's lookahead took them."""
    first_stamp: FirstStamp | None = None
    """The range's first traditional syslog stamp, as this worker's clock read it."""
    clock_end: tuple[int | None, int] = (None, 0)
    """The clock's year inference at the end of the range."""


@dataclass(frozen=True, slots=True)
class _Settings:
    input_format: InputFormat
    tz: object
    now: datetime | None
    window: Window = EVERYTHING
    year: int | None = None
    """``--year``, if given."""


class _RangeCollector(TrafficCollector):
    """The collector of one byte range: builds the sessions that start in it.

    Inside the range every line counts, except (past the first range) the
    lines of a session that started before it, which the previous worker's
    lookahead builds. Past the range (:attr:`inside` false) only the lines of
    sessions still open here are applied: their ends, and SPF results for
    them; a new connect of one of those processes ends ours and is dropped.
    """

    def __init__(self, first: bool, early_until: datetime | None = None,
                 window: Window = EVERYTHING) -> None:
        super().__init__(window=window)
        self.first = first
        self.inside = True
        # Until when a session of the previous range may still be open.
        self.early_until = early_until
        self.spf_taken_past_end: Counter[_SpfLine] = Counter()
        self.spf_unmatched_early: Counter[_SpfLine] = Counter()

    def _ours(self, key: tuple[str, str, int]) -> bool:
        return (self.inside and self.first) or key in self.open_sessions

    def connect(self, time: datetime, host: str, service: str, pid: int, name: str,
                ip: str) -> None:
        """A connect inside the range opens a session; past it, it ends one of ours."""
        if self.inside:
            super().connect(time, host, service, pid, name, ip)
        elif (host, service, pid) in self.open_sessions:
            # The process serves a new client: ours ended without a disconnect line,
            # exactly as the sequential builder decides; the new session is not ours.
            super().connect(time, host, service, pid, name, ip)
            self.discard((host, service, pid))

    def disconnect(self, time: datetime, host: str, service: str, pid: int, name: str,
                   ip: str, counters: dict[str, tuple[int, int]]) -> None:
        """The end of one of our sessions."""
        if self._ours((host, service, pid)):
            super().disconnect(time, host, service, pid, name, ip, counters)

    def reject(
        self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
        helo: str | None, sender: str | None, recipient: str | None, stage: str, code: int,
        dsn: str, reason: str, warning: bool,
    ) -> None:
        """A reject in one of our sessions."""
        if self._ours((host, service, pid)):
            super().reject(time, host, service, pid, name, ip, helo, sender, recipient, stage,
                           code, dsn, reason, warning)

    def client(self, time: datetime, host: str, service: str, pid: int, name: str,
               ip: str) -> None:
        """A message accepted in one of our sessions."""
        if self._ours((host, service, pid)):
            super().client(time, host, service, pid, name, ip)

    def lost(self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
             stage: str, what: str) -> None:
        """A lost connection of one of our sessions."""
        if self._ours((host, service, pid)):
            super().lost(time, host, service, pid, name, ip, stage, what)

    def mismatch(self, host: str, service: str, pid: int, reason: str) -> None:
        """A hostname warning: it belongs to the next connect, ours only inside."""
        if self.inside:
            super().mismatch(host, service, pid, reason)

    def spf(self, time: datetime, host: str, ip: str, helo: str | None, sender: str | None,
            result: str, identity: str) -> None:
        """An SPF result: past the range only for a client with a session of ours.

        Early in a range, one that no session here takes may be for a session of
        the previous range: that worker's lookahead decides (see :class:`_Merger`).
        """
        line = (time, host, ip, helo, sender, result, identity)
        if not self.inside:
            if self.serves(host, ip):
                self.spf_taken_past_end[line] += 1
                super().spf(time, host, ip, helo, sender, result, identity)
        elif (self.early_until is not None and time <= self.early_until
                and not self.serves(host, ip)):
            self.spf_unmatched_early[line] += 1
        else:
            super().spf(time, host, ip, helo, sender, result, identity)

    def record(self, record: LogRecord) -> None:
        """Evidence counts inside the range only; session records by the rules above."""
        if self.inside or record.kind not in EVIDENCE_KINDS:
            super().record(record)

    def postscreen_seen(self, time: datetime, ip: str) -> None:
        """Evidence: inside the range only."""
        if self.inside:
            super().postscreen_seen(time, ip)

    def postscreen_pass(self, time: datetime, ip: str) -> None:
        """Evidence: inside the range only."""
        if self.inside:
            super().postscreen_pass(time, ip)

    def postscreen_dnsbl(self, time: datetime, ip: str, rank: int) -> None:
        """Evidence: inside the range only."""
        if self.inside:
            super().postscreen_dnsbl(time, ip, rank)

    def dnsbl_listed(self, time: datetime, ip: str, domain: str) -> None:
        """Evidence: inside the range only."""
        if self.inside:
            super().dnsbl_listed(time, ip, domain)


# Lines per block inside a range, and past it (where reading stops as soon as
# every session of the range has ended).
_BLOCK_LINES = 8192
_LOOKAHEAD_LINES = 512


def _range_blocks(task: Task) -> Generator[tuple[bool, list[str]], None, None]:
    """The lines of ``task`` in blocks, each marked inside or past its range."""
    blocks: Iterator[tuple[bool, list[str]]]
    if task.end is None and task.start == 0:
        blocks = ((True, block) for block in read_blocks(task.name))
    else:
        blocks = read_range(task.name, task.start, task.end, lookahead=_MAX_LOOKAHEAD)
    if task.next_name is not None:
        blocks = chain(blocks, ((False, block) for block in read_blocks(task.next_name)))
    for inside, lines in blocks:
        size = _BLOCK_LINES if inside else _LOOKAHEAD_LINES
        for at in range(0, len(lines), size):
            yield inside, lines[at:at + size]


# How far before its range a worker looks for hostname warnings: Postfix logs
# one just before the connect it belongs to, which may be past the cut.
_LOOKBEHIND = 64 << 10


def _warnings_before(task: Task, settings: _Settings, collector: _RangeCollector) -> None:
    """Give ``collector`` the hostname warnings just before ``task``'s range whose
    connect comes inside it (the sequential builder keeps them until that connect)."""
    if task.start == 0:
        return
    # A tokenizer of its own: these lines must not count, nor move its year.
    tokenizer = Tokenizer(year=task.year, now=settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS)
    waiting: dict[tuple[str, str, int], str] = {}
    start = line_start_before(task.name, task.start, _LOOKBEHIND)
    for inside, lines in read_range(task.name, start, task.start):
        if not inside:
            break
        for line in lines:
            if "smtpd[" not in line:
                continue
            record = tokenizer.parse(line)
            if record is None:
                continue
            key = (record.host, record.service, record.pid)
            if record.kind is Kind.HOSTNAME_MISMATCH:
                waiting[key] = record.reason
            elif record.kind is Kind.CONNECT:
                waiting.pop(key, None)  # that connect took it
    for (host, service, pid), reason in waiting.items():
        collector.mismatch(host, service, pid, reason)


def _early_until(task: Task, tokenizer: Tokenizer) -> datetime | None:
    """For any range but the very first: the end of the time in which sessions of
    the previous range (or file) may still be open (the builder gives them an hour
    of silence)."""
    if task.first:
        return None
    if task.start == 0:  # a later input, perhaps compressed: its first line
        lines = read_lines(task.name)
        first = next(lines, None)
        lines.close()
        when = tokenizer.line_time(first) if first is not None else None
    else:
        when = tokenizer.line_time(line_at(task.name, task.start))
    return None if when is None else when + timedelta(seconds=2 * STALE_SECONDS)


def _run(task: Task, settings: _Settings, slot: int = -1) -> Part:
    """Build the sessions that start in ``task``'s range, and all its line counts.

    ``slot``: where in the shared progress counters this worker writes its lines read.
    """
    tokenizer = Tokenizer(year=task.year, now=settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS,
                          year_inferred=task.year_inferred)
    collector = _RangeCollector(task.first, _early_until(task, tokenizer), settings.window)
    _warnings_before(task, settings, collector)
    open_sessions = collector.open_sessions
    counted: TokenizerStats | None = None
    clock_end: tuple[int | None, int] | None = None
    blocks = _range_blocks(task)

    def ours() -> Iterator[list[str]]:
        nonlocal counted, clock_end
        for inside, block in blocks:
            if not inside:
                if counted is None:
                    # Past the range: finish our sessions; these lines are the next worker's.
                    clock_end = tokenizer.clock.state
                    counted = tokenizer.stats
                    tokenizer.stats = TokenizerStats()
                    collector.inside = False
                if not open_sessions or _all_stale(open_sessions, block[0], tokenizer):
                    return
            yield block

    shown = _progress_of(slot)

    def inside_lines(count: int) -> None:  # lines read past the range are not progress
        if shown is not None and collector.inside:
            shown(count)

    try:
        collect_blocks(ours(), tokenizer, collector, inside_lines if shown else None)
    finally:
        blocks.close()
    lines = counted or tokenizer.stats
    if shown is not None:
        shown(lines.lines)  # the lines of its range, now that it is done
    return Part(collector.traffic, lines, collector.stats, collector.spf_taken_past_end,
                collector.spf_unmatched_early, tokenizer.clock.first,
                clock_end if clock_end is not None else tokenizer.clock.state)


def _all_stale(open_sessions: Mapping[Any, SmtpSession], line: str, tokenizer: Tokenizer) -> bool:
    """True when every session still open has been silent for over an hour: no more
    lines of theirs will come (the sequential builder closes them the same way)."""
    now = tokenizer.line_time(line)
    if now is None:
        return False
    return all((now - s.end).total_seconds() > STALE_SECONDS for s in open_sessions.values())


# Lines read by each task so far, shared with the forked workers (set by run_tasks),
# and the progress callback of the process that shows them.
_lines_read: Any = None
_on_lines: Callable[[int], None] | None = None


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
    settings = _Settings(input_format, tz, now, window, year)
    context = multiprocessing.get_context("fork")
    _lines_read = context.RawArray("q", len(tasks)) if on_lines is not None else None
    if jobs <= 1 or len(tasks) <= 1:
        _on_lines = on_lines
        try:
            merger = _Merger(settings)
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


def _share_out(tasks: Sequence[Task], jobs: int, settings: _Settings, context: Any,
               on_lines: Callable[[int], None] | None) -> _Merger:
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
    merger = _Merger(settings)
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


def _work(tasks: Sequence[Task], order: Sequence[int], settings: _Settings, taken: Any,
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
                               sessions_with_helo=traffic.sessions_with_helo)
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


class _Merger:
    """Adds up the parts of the tasks, in task order (earliest range first).

    The first part's aggregates are taken over, the others merged into them: a
    part may come whole (``"part"``) or as its counts first and then chunks of
    its clients and senders (``"clients"``, ``"senders"``).
    """

    def __init__(self, settings: _Settings | None = None) -> None:
        self._now = (settings.now if settings else None) or datetime.now()
        self._explicit_year = settings is not None and settings.year is not None
        # Where a sequential read's year inference stands after the parts merged so far.
        self._clock: tuple[int | None, int] | None = (
            settings.year if settings else None, 0)
        self.traffic: Traffic | None = None
        self.lines = TokenizerStats()
        self.sessions = SessionStats()
        self.merged = 0
        """Parts merged completely."""
        self._taken_past_end: Counter[_SpfLine] = Counter()

    def add(self, what: str, item: Any) -> None:
        """Merge one message of the next part (``"end"``: it is complete)."""
        if what == "end":
            self.merged += 1
        elif what == "part":
            self._add_part(item)
        elif what == "clients":
            assert self.traffic is not None
            self.traffic.merge(Traffic(clients=_interned_clients(item)))
        elif what == "senders":
            assert self.traffic is not None
            self.traffic.merge(Traffic(senders=_interned_senders(item)))

    @property
    def years_agree(self) -> bool:
        """False if a part's worker dated its lines in another year than one
        process reading everything would (a log whose months jump around)."""
        return self._clock is not None

    def _follow_clock(self, part: Part) -> None:
        if self._clock is None or part.first_stamp is None:
            return  # already off, or no syslog stamp: the inference stands still
        if resumes(part.first_stamp, self._clock, self._now, self._explicit_year):
            self._clock = part.clock_end
        else:
            self._clock = None

    def _add_part(self, part: Part) -> None:
        self._follow_clock(part)
        if part.spf_unmatched_early:
            # Unmatched unless the lookahead of the range before gave it to a session.
            sessions_before = self._taken_past_end if self.merged else Counter()
            self.sessions.spf_unmatched += (part.spf_unmatched_early - sessions_before).total()
        self._taken_past_end = part.spf_taken_past_end
        if self.traffic is None:
            self.traffic = part.traffic
        else:
            self.traffic.merge(part.traffic)
        lines = self.lines
        for f in fields(TokenizerStats):
            if f.name == "samples":
                lines.samples.extend(part.lines.samples[: 20 - len(lines.samples)])
            else:
                setattr(lines, f.name, getattr(lines, f.name) + getattr(part.lines, f.name))
        for f in fields(SessionStats):
            setattr(self.sessions, f.name,
                    getattr(self.sessions, f.name) + getattr(part.sessions, f.name))

    def result(self) -> tuple[Traffic, TokenizerStats, SessionStats] | None:
        """The merged traffic and counts; None if the years disagree (:attr:`years_agree`)."""
        if not self.years_agree:
            return None
        return self.traffic or Traffic(), self.lines, self.sessions


# A chunk comes unpickled with strings of its own; interned again, a client's
# address and name are shared with its senders' as in a single process (senders.py).
def _interned_clients(chunk: dict[str, ClientStats]) -> dict[str, ClientStats]:
    for client in chunk.values():
        client.ip = intern(client.ip)
        client.intern_name()
    return {client.ip: client for client in chunk.values()}


def _interned_senders(
    chunk: dict[tuple[str, str], SenderStats],
) -> dict[tuple[str, str], SenderStats]:
    for sender in chunk.values():
        sender.client_ip = intern(sender.client_ip)
        sender.intern_name()
        sender.first_reply = intern(sender.first_reply)
    return {(sender.client_ip, helo): sender for (_, helo), sender in chunk.items()}
