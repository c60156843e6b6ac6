"""One worker of a split run: the sessions that start in one byte range of a log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING

from ..aggregate import Traffic, TrafficCollector, collect_blocks
from ..input.files import read_blocks, read_lines, read_raw_blocks
from ..input.lines import KeptLines, RawLines
from ..input.ranges import line_at, line_start_before, read_range
from ..input.split import Task
from ..model import (
    ALL_KINDS,
    EVERYTHING,
    EVIDENCE_KINDS,
    InputFormat,
    Kind,
    LogRecord,
    TokenizerStats,
    Window,
)
from ..parse import Tokenizer
from ..parse.header import FirstStamp
from ..sessions import STALE_SECONDS, SessionBuilder, SessionStats

if TYPE_CHECKING:
    from ..core.engine import CompiledSessions

SpfLine = tuple[datetime, str, str, str | None, str | None, str, str]
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
    spf_taken_past_end: Counter[SpfLine] = field(default_factory=Counter)
    """SPF lines past the range given to a session of this range."""
    spf_unmatched_early: Counter[SpfLine] = field(default_factory=Counter)
    """SPF lines early in the range that no session of it took: unmatched unless the
    previous range's lookahead took them."""
    first_stamp: FirstStamp | None = None
    """The range's first traditional syslog stamp, as this worker's clock read it."""
    clock_end: tuple[int | None, int] = (None, 0)
    """The clock's year inference at the end of the range."""


@dataclass(frozen=True, slots=True)
class RunSettings:
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
        self._inside = True
        # Until when a session of the previous range may still be open.
        self.early_until = early_until
        self.spf_taken_past_end: Counter[SpfLine] = Counter()
        self.spf_unmatched_early: Counter[SpfLine] = Counter()

    @property
    def inside(self) -> bool:
        """Whether the lines now read are inside the range (once past, never again)."""
        return self._inside

    @inside.setter
    def inside(self, inside: bool) -> None:
        if self._inside and not inside and self.compiled is not None:
            self.compiled.set_past()
        self._inside = inside

    def _compiled_builds_alike(self) -> bool:
        # sessions.c applies the rules of this class (la_set_range, la_set_past).
        return type(self) is _RangeCollector

    def compiled_sessions(self) -> CompiledSessions | None:
        """The compiled builder, told this range's rules."""
        new = not self._compiled_tried
        compiled = super().compiled_sessions()
        if new and compiled is not None:
            compiled.set_range(self.first, self.early_until)
        return compiled

    def open_count_and_latest(self) -> tuple[int, datetime | None]:
        """How many sessions of the range are open, and the latest time of their lines."""
        if self.compiled is not None:
            return self.compiled.open_sessions()
        sessions = self.open_sessions
        return len(sessions), max((s.end for s in sessions.values()), default=None)

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

    def mismatch(self, time: datetime, host: str, service: str, pid: int, reason: str) -> None:
        """A hostname warning: it belongs to the next connect, ours only inside."""
        if self.inside:
            super().mismatch(time, host, service, pid, reason)

    def spf(self, time: datetime, host: str, ip: str, helo: str | None, sender: str | None,
            result: str, identity: str) -> None:
        """An SPF result: past the range only for a client with a session of ours.

        Early in a range, one that no session here takes may be for a session of
        the previous range: that worker's lookahead decides
        (see :class:`~loganalyze.parallel.merge.PartMerger`).
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


def _range_blocks(task: Task, raw: bool) -> Generator[tuple[bool, Sequence[str]], None, None]:
    """The lines of ``task`` in blocks, each marked inside or past its range; with
    ``raw``, the blocks inside it as bytes for the compiled scanner (past it, where
    the range's sessions are finished, Python reads the lines)."""
    blocks: Iterator[tuple[bool, Sequence[str]]]
    if task.end is None and task.start == 0:
        blocks = ((True, block) for block in (read_raw_blocks(task.name) if raw
                                              else read_blocks(task.name, compiled=True)))
    else:
        blocks = read_range(task.name, task.start, task.end, lookahead=_MAX_LOOKAHEAD,
                            compiled=not raw, raw=raw)
    if task.next_name is not None:
        blocks = chain(blocks, ((False, block) for block in read_blocks(task.next_name)))
    for inside, lines in blocks:
        if isinstance(lines, (KeptLines, RawLines)):  # the compiled core's: whole blocks
            yield inside, lines
            continue
        size = _BLOCK_LINES if inside else _LOOKAHEAD_LINES
        for at in range(0, len(lines), size):
            yield inside, lines[at:at + size]


# How far before its range a worker looks for hostname warnings: Postfix logs
# one just before the connect it belongs to, which may be past the cut.
_LOOKBEHIND = 64 << 10


def _warnings_before(task: Task, settings: RunSettings, collector: _RangeCollector) -> None:
    """Give ``collector`` (or its compiled builder) the hostname warnings just before
    ``task``'s range whose connect comes inside it (the sequential builder keeps them
    until that connect)."""
    if task.start == 0:
        return
    # A tokenizer of its own: these lines must not count, nor move its year.
    tokenizer = Tokenizer(year=task.year, now=task.reference or settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS)
    waiting: dict[tuple[str, str, int], LogRecord] = {}
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
                waiting[key] = record
            elif record.kind is Kind.CONNECT:
                waiting.pop(key, None)  # that connect took it
    builder: SessionBuilder = collector if collector.compiled is None else collector.compiled.lines
    for (host, service, pid), warning in waiting.items():
        builder.mismatch(warning.time, host, service, pid, warning.reason)


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


def run_range(task: Task, settings: RunSettings,
              shown: Callable[[int], None] | None = None) -> Part:
    """Build the sessions that start in ``task``'s range, and all its line counts.

    ``shown`` is called with the lines of the range read so far.
    """
    tokenizer = Tokenizer(year=task.year, now=task.reference or settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS,
                          year_inferred=task.year_inferred)
    collector = _RangeCollector(task.first, _early_until(task, tokenizer), settings.window)
    # Asked before any line: the compiled builder stands in from the start, or never.
    compiled = tokenizer.compiled_builder(collector) is not None
    _warnings_before(task, settings, collector)
    counted: TokenizerStats | None = None
    clock_end: tuple[int | None, int] | None = None
    blocks = _range_blocks(task, raw=compiled)

    def ours() -> Iterator[Sequence[str]]:
        nonlocal counted, clock_end
        for inside, block in blocks:
            if not inside:
                if counted is None:
                    # Past the range: finish our sessions; these lines are the next worker's.
                    clock_end = tokenizer.clock.state
                    counted = tokenizer.stats
                    tokenizer.stats = TokenizerStats()
                    collector.inside = False
                if _all_ended(collector, block[0], tokenizer):
                    return
            yield block

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


def collect_all(blocks: Iterable[Sequence[str]], settings: RunSettings,
                shown: Callable[[int], None] | None = None) -> Part:
    """One process reading a whole timeline, start to end: the sequential run (and the
    cluster's fallback when split reads would date lines otherwise)."""
    tokenizer = Tokenizer(year=settings.year, now=settings.now, tz=settings.tz,  # type: ignore[arg-type]
                          input_format=settings.input_format, kinds=ALL_KINDS)
    collector = TrafficCollector(window=settings.window)
    collect_blocks(blocks, tokenizer, collector, shown)
    return Part(collector.traffic, tokenizer.stats, collector.stats)


def _all_ended(collector: _RangeCollector, line: str, tokenizer: Tokenizer) -> bool:
    """True when no session of the range is open, or every one has been silent for over
    an hour by ``line``: no more lines of theirs will come (the sequential builder
    closes them the same way)."""
    count, latest = collector.open_count_and_latest()
    if not count:
        return True
    now = tokenizer.line_time(line)
    if now is None or latest is None:
        return False
    return (now - latest).total_seconds() > STALE_SECONDS
