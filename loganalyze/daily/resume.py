"""Sessions that end in the new lines of a log, and where the rest began: the replay
that lets each daily report count every session exactly once (see
:mod:`loganalyze.input.cursors`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime

from ..input.positions import Cursor, LineSource
from ..model import EVIDENCE_KINDS, Kind, LogRecord
from ..parse import Tokenizer
from ..sessions import SessionBuilder, SmtpSession

# -- the incremental session reader -------------------------------------------------------


@dataclass
class ReadStats:
    """What one incremental read did."""

    lines_read: int = 0
    """New lines consumed (each line of the log is counted by exactly one run)."""
    replayed: int = 0
    """Lines read again to rebuild the sessions left open by the last run."""
    sessions: int = 0
    """Sessions passed to the callback (each session by exactly one run)."""
    held: int = 0
    """Sessions still open at the end, left for the next run."""
    first_time: datetime | None = None
    """Time of the first new record."""
    last_time: datetime | None = None
    """Time of the last new record."""
    warnings: list[str] = field(default_factory=list)


_Origin = tuple[int, Hashable, bool]
"""(ordinal in this run, line key, line is new)"""

# Seconds between a hostname warning and its connect line that still count as
# one session's beginning (they are logged back to back by one process).
_WARNING_WINDOW = 60.0


class SessionOrigins:
    """Where each session open in a :class:`SessionBuilder` began.

    Mirrors the builder's rule from the outside: a session is created by a
    connect line, or by any other smtpd line of a (host, service, pid) that
    has no open session (or whose open session is for another client); SPF
    and hostname-warning lines never create one. A hostname warning logged
    just before a connect is part of that session's beginning (the builder
    attaches it), so the replay must start there.
    """

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int], _Origin] = {}
        self._warnings: dict[tuple[str, str, int], tuple[_Origin, datetime]] = {}

    def pending_warnings(self, latest: datetime) -> list[_Origin]:
        """Warnings not yet followed by their connect, logged within a minute of ``latest``.

        Postfix logs the warning just before ``connect from``; a run that
        stops between the two must replay the warning next time. Older
        unclaimed warnings will never be claimed and must not pin the cursor.
        """
        return [o for o, when in self._warnings.values()
                if (latest - when).total_seconds() <= _WARNING_WINDOW]

    def feed(
        self, builder: SessionBuilder, record: LogRecord, here: _Origin
    ) -> list[tuple[SmtpSession, _Origin]]:
        kind = record.kind
        key = (record.host, record.service, record.pid)
        if kind is Kind.HOSTNAME_MISMATCH:
            if len(self._warnings) > 20000:
                self._warnings.clear()
            self._warnings[key] = (here, record.time)
        out: list[tuple[SmtpSession, _Origin]] = []
        for session in builder.feed(record):
            origin = self.open.pop((session.host, session.service, session.pid), None)
            out.append((session, here if origin is None else origin))
        if kind in (Kind.SPF, Kind.HOSTNAME_MISMATCH):
            return out
        warning = self._warnings.pop(key, None)
        if kind is not Kind.DISCONNECT and key not in self.open:
            self.open[key] = warning[0] if warning is not None and kind is Kind.CONNECT else here
        return out


def read_sessions(
    source: LineSource,
    tokenizer: Tokenizer,
    on_session: Callable[[SmtpSession], None],
    *,
    on_evidence: Callable[[LogRecord], None] | None = None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Cursor, ReadStats]:
    """Feed the new part of a log through ``tokenizer`` and a session builder.

    Calls ``on_session`` for each session that ends in this run's lines
    (see the module docstring for why none is seen twice or lost) and
    returns the cursor the next run continues from. Evidence records
    (postscreen, dnsblog, SPF rejects: :data:`~loganalyze.model.EVIDENCE_KINDS`)
    of new lines go to ``on_evidence``; a replayed line's evidence was counted
    by the run that read it first. With ``until``, reading
    stops before the first new record at or after that time; the rest is
    left for the next run.
    """
    builder = SessionBuilder()
    origins = SessionOrigins()
    held = source.held_keys()
    stats = ReadStats()
    stop: Hashable | None = None
    ordinal = 0
    latest: datetime | None = None
    lines = source.lines()
    parse = tokenizer.parse
    try:
        for key, text, new in lines:
            ordinal += 1
            record = parse(text, ordinal)
            if new:
                if record is not None:
                    if until is not None and record.time >= until:
                        stop = key
                        break
                    if stats.first_time is None:
                        stats.first_time = record.time
                    stats.last_time = record.time
                stats.lines_read += 1
                if progress is not None and not stats.lines_read & 0xFFFF:
                    progress(stats.lines_read)
            else:
                stats.replayed += 1
            if record is None:
                continue
            if record.kind in EVIDENCE_KINDS:
                if new and on_evidence is not None:
                    on_evidence(record)
                continue
            latest = record.time
            for session, (_, origin, origin_new) in origins.feed(
                builder, record, (ordinal, key, new)
            ):
                if origin_new or origin in held:
                    stats.sessions += 1
                    on_session(session)
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    stats.held = len(origins.open)
    still_open = list(origins.open.values())
    if latest is not None:
        still_open += origins.pending_warnings(latest)
    still_open.sort(key=lambda o: o[0])
    stats.warnings = list(source.warnings)
    cursor = Cursor(
        source.source, source.kind, source.done(stop),
        tuple(source.position(o[1]) for o in still_open), source.size(),
    )
    return cursor, stats
