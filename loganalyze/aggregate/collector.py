"""From records to traffic in one step: the sink of the block scanner, and the loops
that drive it (:func:`collect_blocks`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from ..input.lines import block_size
from ..model import EVERYTHING, EVIDENCE_KINDS, LogRecord, Window
from ..parse import Tokenizer
from ..sessions import LineCounter, SessionBuilder, SmtpSession

if TYPE_CHECKING:
    from ..core.engine import CompiledSessions
from .fold import (
    DNSBL_LISTED,
    DNSBL_RANK,
    POSTSCREEN_PASS,
    POSTSCREEN_REJECT,
    SEEN,
    add_session,
    evidence_of,
    fold_evidence,
)
from .traffic import Traffic


class TrafficCollector(SessionBuilder):
    """Records to senders in one step: the sink of :meth:`Tokenizer.scan`.

    A :class:`~loganalyze.sessions.SessionBuilder` whose completed sessions go
    straight into :attr:`traffic` (:func:`add_session`), and which folds the
    postscreen, dnsblog and SPF-reject evidence into it too (:func:`add_evidence`).
    With a ``window``, only the sessions that start inside it and the evidence
    logged inside it count (:class:`~loganalyze.model.Window`).
    ``on_session`` replaces :func:`add_session` (the daily report decides which
    sessions are its own); ``lines`` is the tokenizer, for
    :attr:`~loganalyze.sessions.SmtpSession.first_line`.
    Call :meth:`finish` at the end of the input.
    """

    def __init__(
        self, traffic: Traffic | None = None, window: Window = EVERYTHING, *,
        on_session: Callable[[SmtpSession], object] | None = None,
        lines: LineCounter | None = None,
    ) -> None:
        self.traffic = traffic if traffic is not None else Traffic()
        self.window = window
        add = partial(add_session, self.traffic) if on_session is None else on_session
        self.sessions_make_clients = on_session is None
        """Finished sessions go to :func:`add_session` (which makes their clients' records)."""
        super().__init__(on_session=add, lines=lines, window=window)
        self._all_times = window.is_open
        self._evidence = True
        self._compiled: CompiledSessions | None = None
        self._compiled_tried = False
        self._aggregates: CompiledSessions | None = None
        """The compiled builder, while it folds this collector's aggregates in C."""

    @property
    def compiled(self) -> CompiledSessions | None:
        """The compiled session builder holding this collector's sessions, if one does."""
        return self._compiled

    def compiled_sessions(self) -> CompiledSessions | None:
        """The compiled core's session builder, standing in for this one from now on, when
        it can (the sequential run or the daily report's: this class itself, an open
        window, nothing read yet); None otherwise, or on the Python core."""
        if not self._compiled_tried:
            self._compiled_tried = True
            if (self._compiled_builds_alike() and self.window.is_open
                    and not self.open_sessions and not self._warnings
                    and not self._pending_spf):
                from .. import core

                self._compiled = core.compiled_sessions(self)
                if self._compiled is not None and self._compiled.aggregates:
                    self._aggregates = self._compiled
        return self._compiled

    def _compiled_builds_alike(self) -> bool:
        """Whether the compiled builder does what this collector's own would: it knows
        this class's rules (and the split run's range collector's), no subclass's."""
        return type(self) is TrafficCollector

    def count_evidence(self, on: bool) -> None:
        """Whether evidence lines count from now on (lines the daily report reads again
        only to rebuild its open sessions do not)."""
        if self._compiled is not None:
            self._compiled.count_evidence(on)
        self._evidence = on
        self._all_times = on and self.window.is_open

    def open_lines(self, within: float | None = None) -> set[int]:
        """The first lines of the open sessions, and of the hostname warnings waiting for
        their connect (only those logged at most ``within`` seconds before the latest line:
        :meth:`~loganalyze.sessions.SessionBuilder.pending_warnings`), wherever the
        sessions are built."""
        if self._compiled is not None:
            return set(self._compiled.open_lines(within))
        lines = {s.first_line for s in self.open_sessions.values()}
        lines.update(self.pending_warnings(within))
        return lines

    def open_count(self) -> int:
        """How many sessions are open, wherever the sessions are built."""
        if self._compiled is not None:
            return self._compiled.open_sessions()[0]
        return len(self.open_sessions)

    def record(self, record: LogRecord) -> None:
        """Any record: session lines to the builder, evidence to the client."""
        if record.kind in EVIDENCE_KINDS:
            if self._all_times or (self._evidence and self.window.holds(record.time)):
                self._fold_evidence(record.client_ip, *evidence_of(record))
        else:
            self.apply(record)

    def finish(self) -> None:
        """End of input: the sessions still open are cut off and counted."""
        if self._compiled is not None:
            self._compiled.close()  # the aggregates it folded are in traffic now
            self._aggregates = None
        for _ in self.close():
            pass

    def _fold_evidence(self, ip: str, op: int, value: int | str | None) -> None:
        """:func:`~loganalyze.aggregate.fold.fold_evidence`, where the aggregates are
        (in C while the compiled core folds them)."""
        if self._aggregates is not None:
            self._aggregates.evidence(ip, op, value)
        else:
            fold_evidence(self.traffic, ip, op, value)

    def _counts(self, time: datetime) -> bool:
        """Whether an evidence line logged at ``time`` counts (inside the window)."""
        return self._all_times or (self._evidence and self.window.holds(time))

    def postscreen_seen(self, time: datetime, ip: str) -> None:
        """postscreen CONNECT or DISCONNECT: the client exists (as add_evidence records it)."""
        if self._counts(time):
            self._fold_evidence(ip, SEEN, None)

    def postscreen_pass(self, time: datetime, ip: str) -> None:
        """postscreen PASS NEW/OLD."""
        if self._counts(time):
            self._fold_evidence(ip, POSTSCREEN_PASS, None)

    def postscreen_dnsbl(self, time: datetime, ip: str, rank: int) -> None:
        """postscreen DNSBL rank N."""
        if self._counts(time):
            self._fold_evidence(ip, DNSBL_RANK, rank or 0)

    def postscreen_reject(self, time: datetime, ip: str) -> None:
        """postscreen's own reject line (as add_evidence records it)."""
        if self._counts(time):
            self._fold_evidence(ip, POSTSCREEN_REJECT, None)

    def dnsbl_listed(self, time: datetime, ip: str, domain: str) -> None:
        """dnsblog: the address is listed by ``domain``."""
        if self._counts(time):
            self._fold_evidence(ip, DNSBL_LISTED, domain)


# Allocations between two runs of the youngest garbage collection while collecting.
_GC_THRESHOLD = 100_000


@contextmanager
def rare_gc_passes() -> Iterator[None]:
    """Make Python's cyclic garbage collector run rarely, then restore it: building and
    judging the aggregates makes many small containers and no reference cycles."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def collect_blocks(
    blocks: Iterable[Sequence[str]], tokenizer: Tokenizer, collector: TrafficCollector,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Stream blocks of lines through ``tokenizer`` into ``collector``, then finish it.

    ``progress`` is called with the number of lines read so far after each
    block that passes a multiple of 65536 lines.

    Python's cyclic garbage collector is made to run rarely meanwhile: the
    aggregates grow by many small containers, which it would otherwise walk
    again and again (a third of the time), and nothing here makes reference
    cycles. The thresholds are restored afterwards.
    """
    with rare_gc_passes():
        lineno = 1
        for block in blocks:
            before = lineno
            tokenizer.scan(block, lineno, collector)
            lineno += block_size(block)
            if progress is not None and (lineno - 1) >> 16 != (before - 1) >> 16:
                progress(lineno - 1)
        collector.finish()


def collect(sessions: Iterable[SmtpSession], traffic: Traffic | None = None) -> Traffic:
    """Aggregate a stream of sessions."""
    traffic = traffic or Traffic()
    for session in sessions:
        add_session(traffic, session)
    return traffic
