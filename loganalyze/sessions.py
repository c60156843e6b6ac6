"""Group log records into one record per SMTP session, as a stream.

A session is keyed by (syslog host, smtpd service, process id) from
``connect from`` to ``disconnect from``; each smtpd process serves one client
at a time, so the key is unique while the session is open. policyd-spf runs
in another process: its results attach to the open session of the same
client address (and HELO, when several sessions of one client are open).

Memory is bounded by the number of sessions open at once, not by the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .checks import Check, check_for_reason
from .tokenizer import EVIDENCE_KINDS, Kind, LogRecord

# A session with no disconnect that has been quiet this long is closed (its
# disconnect line was lost, or the log was cut); keeps memory bounded.
_STALE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Reject:
    """One reject or reject_warning line of a session."""

    time: datetime
    stage: str
    """SMTP stage, e.g. ``RCPT`` (delay_reject=yes) or ``EHLO`` (delay_reject=no)."""
    code: int
    dsn: str
    reason: str
    """Reply text after code and DSN."""
    recipient: str | None
    warning: bool
    """True for reject_warning: the restriction was in warn_if_reject mode."""
    helo_check: Check | None
    """The HELO check that wrote this reject, if it was one of the three."""

    @property
    def category(self) -> str:
        """A short name for what kind of reject this is (for evidence)."""
        if self.helo_check is not None:
            return f"helo_{self.helo_check.value}"
        text = self.reason
        if "blocked using" in text:
            return "rbl"
        if "Relay access denied" in text:
            return "relay"
        if "User unknown" in text or "Recipient address rejected: undeliverable" in text:
            return "user_unknown"
        if "SPF" in text or "openspf" in text:
            return "spf"
        if "Helo command rejected" in text:
            return "helo_access"
        if "Client host rejected" in text:
            return "client"
        if "Sender address rejected" in text:
            return "sender"
        return "other"


@dataclass(frozen=True, slots=True)
class SpfResult:
    """A policyd-spf verdict for the session's client."""

    result: str
    """pass, fail, softfail, neutral, none, temperror or permerror."""
    identity: str
    """``mailfrom`` or ``helo``."""
    sender: str
    helo: str


@dataclass(slots=True)
class HeloSession:
    """Everything the log says about one SMTP session."""

    host: str
    service: str
    pid: int
    client_name: str
    client_ip: str
    start: datetime
    end: datetime
    helo: str | None = None
    """The HELO as Postfix stored it, from ``helo=<...>`` or the SPF line."""
    senders: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    spf: list[SpfResult] = field(default_factory=list)
    counters: dict[str, tuple[int, int]] | None = None
    """Disconnect command counters (None when the disconnect line is missing)."""
    queued: int = 0
    """Messages accepted into the queue (``QUEUEID: client=`` lines)."""
    ended_by: str = ""
    """``lost connection after X`` / ``timeout after X`` when not a clean QUIT."""
    hostname_warning: str = ""
    """Postfix's forward-confirmation warning logged before the connect, if any."""
    saw_connect: bool = True
    """False when the log starts in the middle of this session."""
    saw_disconnect: bool = True
    """False when the log ends (or loses the line) before the disconnect."""

    @property
    def helo_rejects(self) -> list[Reject]:
        """Rejects and warnings written by the three HELO checks."""
        return [r for r in self.rejects if r.helo_check is not None]

    @property
    def sent_helo(self) -> bool | None:
        """Whether a HELO/EHLO was accepted: from the log's helo=, the counters, or None.

        ``ehlo=0/1`` (EHLO with no name, answered ``501 Syntax``) stores no HELO.
        """
        if self.helo is not None:
            return True
        if self.counters is None:
            return None
        return any(self.counters.get(cmd, (0, 0))[0] > 0 for cmd in ("helo", "ehlo"))

    @property
    def helo_required_reject(self) -> bool:
        """True when the client tried MAIL without HELO/EHLO and got ``503 send HELO/EHLO first``.

        smtpd_helo_required writes no reject line; only the counters show it:
        no helo/ehlo counter, and a failed MAIL command.
        """
        if self.counters is None or self.sent_helo:
            return False
        mail = self.counters.get("mail")
        return mail is not None and mail[0] < mail[1]


@dataclass(slots=True)
class SessionStats:
    """Counts from the session builder."""

    sessions: int = 0
    without_connect: int = 0
    without_disconnect: int = 0
    spf_unmatched: int = 0
    """SPF results for a client with no open session (e.g. a local submission)."""


def _helo_check(record: LogRecord) -> Check | None:
    if "Helo command rejected" not in record.reason:
        return None
    return check_for_reason(record.reason)


class SessionBuilder:
    """Feed records in log order; completed sessions come out as they end."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, int], HeloSession] = {}
        self._warnings: dict[tuple[str, str, int], str] = {}
        self._pending_spf: dict[tuple[str, str], list[LogRecord]] = {}
        self.stats = SessionStats()
        self._last_sweep: datetime | None = None

    def _new(self, record: LogRecord, saw_connect: bool) -> HeloSession:
        session = HeloSession(
            record.host, record.service, record.pid, record.client_name, record.client_ip,
            record.time, record.time, saw_connect=saw_connect,
        )
        key = (record.host, record.service, record.pid)
        warning = self._warnings.pop(key, "")
        if warning and saw_connect:
            session.hostname_warning = warning
        self._open[key] = session
        if not saw_connect:
            self.stats.without_connect += 1
        return session

    def _finish(self, session: HeloSession) -> HeloSession:
        self.stats.sessions += 1
        if not session.saw_disconnect:
            self.stats.without_disconnect += 1
        return session

    def feed(self, record: LogRecord) -> Iterator[HeloSession]:
        """Apply one record; yield any sessions it completes.

        postscreen, dnsblog and SPF-reject records are evidence about a client,
        not part of an smtpd session: they are ignored here (see
        :func:`loganalyze.senders.add_evidence`).
        """
        if record.kind in EVIDENCE_KINDS:
            return
        if record.kind is Kind.SPF:
            self._attach_spf(record)
            return
        key = (record.host, record.service, record.pid)
        kind = record.kind
        if kind is Kind.HOSTNAME_MISMATCH:
            self._warnings[key] = record.reason
            return
        session = self._open.get(key)
        if kind is Kind.CONNECT:
            if session is not None:
                # The process serves a new client: the old session's disconnect is missing.
                session.saw_disconnect = False
                yield self._finish(self._open.pop(key))
            self._new(record, saw_connect=True)
            yield from self._sweep(record.time)
            return
        if session is None or (
            record.client_ip and session.client_ip and record.client_ip != session.client_ip
        ):
            if session is not None:
                session.saw_disconnect = False
                yield self._finish(self._open.pop(key))
            session = self._new(record, saw_connect=False)
        session.end = record.time
        if self._pending_spf and kind in (Kind.REJECT, Kind.CLIENT, Kind.DISCONNECT):
            self._claim_pending_spf(session)
        if kind is Kind.REJECT:
            session.rejects.append(
                Reject(
                    record.time, record.stage, record.code, record.dsn, record.reason,
                    record.recipient, record.warning, _helo_check(record),
                )
            )
            if record.helo is not None:
                session.helo = record.helo
            if record.sender is not None and record.sender not in session.senders:
                session.senders.append(record.sender)
            if record.recipient is not None and record.recipient not in session.recipients:
                session.recipients.append(record.recipient)
        elif kind is Kind.DISCONNECT:
            session.counters = record.counters
            yield self._finish(self._open.pop(key))
        elif kind is Kind.LOST:
            session.ended_by = f"{record.reason} after {record.stage}"
        elif kind is Kind.CLIENT:
            session.queued += 1

    def _attach_spf(self, record: LogRecord) -> None:
        candidates = [
            s for s in self._open.values()
            if s.client_ip == record.client_ip and s.host == record.host
        ]
        if not candidates:
            self.stats.spf_unmatched += 1
            return
        same_helo = [s for s in candidates if s.helo == record.helo]
        if len(same_helo) == 1 or len(candidates) == 1:
            self._apply_spf((same_helo or candidates)[0], record)
            return
        # Several sessions of one client are open: the one that logs its RCPT
        # outcome next is the one the policy server was asked about.
        self._pending_spf.setdefault((record.host, record.client_ip), []).append(record)

    def _claim_pending_spf(self, session: HeloSession) -> None:
        pending = self._pending_spf.get((session.host, session.client_ip))
        if not pending:
            return
        for index, record in enumerate(pending):
            if session.helo is None or session.helo == record.helo:
                self._apply_spf(session, pending.pop(index))
                break
        if not pending:
            del self._pending_spf[(session.host, session.client_ip)]

    def _apply_spf(self, session: HeloSession, record: LogRecord) -> None:
        helo = record.helo
        session.spf.append(
            SpfResult(record.spf_result, record.spf_identity, record.sender or "", helo or "")
        )
        if session.helo is None and helo:
            session.helo = helo
        if record.sender and record.sender not in session.senders:
            session.senders.append(record.sender)
        session.end = max(session.end, record.time)

    def _sweep(self, now: datetime) -> Iterator[HeloSession]:
        """Close sessions silent for an hour (their disconnect will never come)."""
        if self._last_sweep is not None and (now - self._last_sweep).total_seconds() < 600:
            return
        self._last_sweep = now
        stale = [
            k for k, s in self._open.items() if (now - s.end).total_seconds() > _STALE_SECONDS
        ]
        for key in stale:
            session = self._open.pop(key)
            session.saw_disconnect = False
            yield self._finish(session)
        if len(self._warnings) > 10000:
            self._warnings.clear()
        for client in [k for k, v in self._pending_spf.items()
                       if (now - v[-1].time).total_seconds() > _STALE_SECONDS]:
            self.stats.spf_unmatched += len(self._pending_spf.pop(client))

    def close(self) -> Iterator[HeloSession]:
        """End of input: emit every session still open, marked as cut off."""
        for session in sorted(self._open.values(), key=lambda s: s.start):
            session.saw_disconnect = False
            yield self._finish(session)
        self._open.clear()
        self.stats.spf_unmatched += sum(len(v) for v in self._pending_spf.values())
        self._pending_spf.clear()


def build_sessions(
    records: Iterable[LogRecord], stats: SessionStats | None = None
) -> Iterator[HeloSession]:
    """Turn a stream of records into a stream of sessions (in order of ending)."""
    builder = SessionBuilder()
    if stats is not None:
        builder.stats = stats
    for record in records:
        yield from builder.feed(record)
    yield from builder.close()
