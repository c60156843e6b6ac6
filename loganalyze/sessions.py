"""Group log records into one record per SMTP session, as a stream.

A session is keyed by (syslog host, smtpd service, process id) from
``connect from`` to ``disconnect from``; each smtpd process serves one client
at a time, so the key is unique while the session is open. policyd-spf runs
in another process: its results attach to the open session of the same
client address (and HELO, when several sessions of one client are open).

Memory is bounded by the number of sessions open at once, not by the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from sys import intern  # addresses: every sample holds the same local recipients again
from typing import NamedTuple, Protocol

from .judge.checks import Check, check_for_reason
from .model import EVERYTHING, Kind, LogRecord, Window

# A session with no disconnect that has been quiet this long is closed (its
# disconnect line was lost, or the log was cut); keeps memory bounded.
STALE_SECONDS = 3600.0
_NONE = (0, 0)
# How often (in log time) open sessions are checked for staleness.
_SWEEP_EVERY = timedelta(seconds=600)


class Reject(NamedTuple):
    """One reject or reject_warning line of a session (a tuple: sessions make many)."""

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
        return _category(self.reason)


@lru_cache(maxsize=4096)
def _category(text: str) -> str:
    """The category of a reply that is not a HELO check's (replies repeat)."""
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


class SpfResult(NamedTuple):
    """A policyd-spf verdict for the session's client."""

    result: str
    """pass, fail, softfail, neutral, none, temperror or permerror."""
    identity: str
    """``mailfrom`` or ``helo``."""
    sender: str
    helo: str


@dataclass(slots=True)
class SmtpSession:
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
    first_line: int = 0
    """The number of the line the session begins with: its connect (or the hostname
    warning logged just before it), else its first line in the log. 0 when the
    builder is not told line numbers."""

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
        counters = self.counters
        if counters is None:
            return None
        return counters.get("helo", _NONE)[0] > 0 or counters.get("ehlo", _NONE)[0] > 0

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
    outside_window: int = 0
    """Sessions that started outside the run's time window (not in :attr:`sessions`)."""


def helo_check(reason: str) -> Check | None:
    """The HELO check that wrote a reject with this reply text, if it was one of the three."""
    if "Helo command rejected" not in reason:
        return None
    return _check_for_reason(reason)


# A sender's retries repeat the same reply text.
_check_for_reason = lru_cache(maxsize=4096)(check_for_reason)


class _PendingSpf(NamedTuple):
    """An SPF result waiting for one of several open sessions of its client."""

    time: datetime
    helo: str | None
    sender: str | None
    result: str
    identity: str


class LineCounter(Protocol):
    """What tells the builder which line it is reading (the tokenizer)."""

    line_number: int


class _Warning(NamedTuple):
    """A hostname warning waiting for its connect."""

    reason: str
    line: int
    time: datetime


class SessionBuilder:
    """Feed records in log order; completed sessions come out as they end.

    :meth:`feed` takes one :class:`LogRecord`. The methods named after the
    record kinds (:meth:`connect`, :meth:`disconnect`, :meth:`reject`,
    :meth:`lost`, :meth:`client`, :meth:`mismatch`, :meth:`spf`) take the
    same facts as plain values; the tokenizer's fast path calls them directly,
    so no record object is made. They pass completed sessions to
    ``on_session`` when one is given; :meth:`feed` yields them otherwise.
    With ``lines`` (the tokenizer), each session knows the line it began with
    (:attr:`SmtpSession.first_line`). With a ``window``, a session that starts
    outside it is dropped when it ends (counted in
    :attr:`SessionStats.outside_window`).
    """

    def __init__(self, on_session: Callable[[SmtpSession], object] | None = None, *,
                 lines: LineCounter | None = None, window: Window = EVERYTHING) -> None:
        self._open: dict[tuple[str, str, int], SmtpSession] = {}
        # The open sessions of each (host, client address), in opening order: SPF
        # results are matched by client, not by process.
        self._by_client: dict[tuple[str, str], list[SmtpSession]] = {}
        self._warnings: dict[tuple[str, str, int], _Warning] = {}
        self._lines = lines
        self._window = None if window.is_open else window
        self._latest: datetime | None = None  # the latest end of a completed session
        self._pending_spf: dict[tuple[str, str], list[_PendingSpf]] = {}
        self.stats = SessionStats()
        self._next_sweep: datetime | None = None

        self._done: list[SmtpSession] = []
        self._emit: Callable[[SmtpSession], object] = (
            on_session if on_session is not None else self._done.append)

    @property
    def open_sessions(self) -> Mapping[tuple[str, str, int], SmtpSession]:
        """The sessions not ended yet, by (host, service, pid)."""
        return self._open

    def serves(self, host: str, ip: str) -> bool:
        """True if a session of client ``ip`` on ``host`` is open (SPF lines match by client)."""
        return (host, ip) in self._by_client

    # -- records ------------------------------------------------------------------

    def feed(self, record: LogRecord) -> Iterator[SmtpSession]:
        """Apply one record; yield any sessions it completes.

        postscreen, dnsblog and SPF-reject records are evidence about a client,
        not part of an smtpd session: they are ignored here (see
        :func:`loganalyze.aggregate.add_evidence`).
        """
        self.apply(record)
        if self._done:
            done = self._done[:]
            self._done.clear()
            yield from done

    def apply(self, record: LogRecord) -> None:
        """Apply one record; completed sessions go to ``on_session`` (or to :meth:`feed`)."""
        kind = record.kind
        if kind is Kind.CONNECT:
            self.connect(record.time, record.host, record.service, record.pid,
                         record.client_name, record.client_ip)
        elif kind is Kind.DISCONNECT:
            self.disconnect(record.time, record.host, record.service, record.pid,
                            record.client_name, record.client_ip, record.counters)
        elif kind is Kind.REJECT:
            self.reject(record.time, record.host, record.service, record.pid,
                        record.client_name, record.client_ip, record.helo, record.sender,
                        record.recipient, record.stage, record.code, record.dsn, record.reason,
                        record.warning)
        elif kind is Kind.SPF:
            self.spf(record.time, record.host, record.client_ip, record.helo, record.sender,
                     record.spf_result, record.spf_identity)
        elif kind is Kind.CLIENT:
            self.client(record.time, record.host, record.service, record.pid,
                        record.client_name, record.client_ip)
        elif kind is Kind.LOST:
            self.lost(record.time, record.host, record.service, record.pid,
                      record.client_name, record.client_ip, record.stage, record.reason)
        elif kind is Kind.HOSTNAME_MISMATCH:
            self.mismatch(record.time, record.host, record.service, record.pid, record.reason)

    def connect(self, time: datetime, host: str, service: str, pid: int, name: str,
                ip: str) -> None:
        """``connect from NAME[IP]``: a new session of process ``pid``."""
        key = (host, service, pid)
        if key in self._open:
            # The process serves a new client: the old session's disconnect is missing.
            self._close(key, disconnected=False)
        self._new(key, time, name, ip, saw_connect=True)
        next_sweep = self._next_sweep
        if next_sweep is None or time >= next_sweep:
            self._sweep(time)

    def disconnect(self, time: datetime, host: str, service: str, pid: int, name: str,
                   ip: str, counters: dict[str, tuple[int, int]]) -> None:
        """``disconnect from NAME[IP] counters``: the session ends."""
        key = (host, service, pid)
        session = self._session(key, time, name, ip)
        if self._pending_spf:
            self._claim_pending_spf(session)
        session.counters = counters
        self._close(key, disconnected=True)

    def reject(
        self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
        helo: str | None, sender: str | None, recipient: str | None, stage: str, code: int,
        dsn: str, reason: str, warning: bool,
    ) -> None:
        """A ``reject``/``reject_warning`` line (or the 503 of smtpd_helo_required)."""
        session = self._session((host, service, pid), time, name, ip)
        if self._pending_spf:
            self._claim_pending_spf(session)
        session.rejects.append(
            Reject(time, stage, code, dsn, reason, recipient, warning, helo_check(reason)))
        if helo is not None:
            session.helo = helo
        if sender is not None and sender not in session.senders:
            session.senders.append(intern(sender))
        if recipient is not None and recipient not in session.recipients:
            session.recipients.append(intern(recipient))

    def client(self, time: datetime, host: str, service: str, pid: int, name: str,
               ip: str) -> None:
        """``QUEUEID: client=NAME[IP]``: a message was accepted."""
        session = self._session((host, service, pid), time, name, ip)
        if self._pending_spf:
            self._claim_pending_spf(session)
        session.queued += 1

    def lost(self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
             stage: str, what: str) -> None:
        """``lost connection after STAGE`` (or timeout, too many errors)."""
        session = self._session((host, service, pid), time, name, ip)
        session.ended_by = f"{what} after {stage}"

    def discard(self, key: tuple[str, str, int]) -> SmtpSession | None:
        """Drop the open session of ``key`` (host, service, pid) without completing it."""
        session = self._open.pop(key, None)
        if session is not None:
            self._forget(session)
        return session

    def mismatch(self, time: datetime, host: str, service: str, pid: int, reason: str) -> None:
        """Postfix's 'hostname X does not resolve to address Y' before a connect."""
        line = self._lines.line_number if self._lines is not None else 0
        self._warnings[(host, service, pid)] = _Warning(reason, line, time)

    def pending_warnings(self, within: float | None = None) -> list[int]:
        """The lines of hostname warnings still waiting for their connect: all of them, or
        those logged at most ``within`` seconds before the latest session line.

        Postfix logs the warning just before ``connect from``: a reader that stops
        between the two must read the warning again next time. Older unclaimed
        warnings will never be claimed.
        """
        if within is None:
            return [w.line for w in self._warnings.values()]
        ends = [s.end for s in self._open.values()]
        if self._latest is not None:
            ends.append(self._latest)
        ends += [w.time for w in self._warnings.values()]
        if not ends:
            return []
        latest = max(ends)
        return [w.line for w in self._warnings.values()
                if (latest - w.time).total_seconds() <= within]

    def spf(self, time: datetime, host: str, ip: str, helo: str | None, sender: str | None,
            result: str, identity: str) -> None:
        """A policyd-spf result: attach it to the open session of that client."""
        candidates = self._by_client.get((host, ip))
        if not candidates:
            self.stats.spf_unmatched += 1
            return
        if len(candidates) == 1:
            self._apply_spf(candidates[0], time, helo, sender, result, identity)
            return
        same_helo = [s for s in candidates if s.helo == helo]
        if len(same_helo) == 1:
            self._apply_spf(same_helo[0], time, helo, sender, result, identity)
            return
        # Several sessions of one client are open: the one that logs its RCPT
        # outcome next is the one the policy server was asked about.
        self._pending_spf.setdefault((host, ip), []).append(
            _PendingSpf(time, helo, sender, result, identity))

    # -- sessions -----------------------------------------------------------------

    def _new(self, key: tuple[str, str, int], time: datetime, name: str, ip: str,
             saw_connect: bool) -> SmtpSession:
        session = SmtpSession(key[0], key[1], key[2], name, ip, time, time)
        if self._lines is not None:
            session.first_line = self._lines.line_number
        if not saw_connect:
            session.saw_connect = False
        if self._warnings:
            warning = self._warnings.pop(key, None)
            if warning is not None and warning.reason and saw_connect:
                session.hostname_warning = warning.reason
                if self._lines is not None:
                    session.first_line = warning.line
        self._open[key] = session
        by_client = self._by_client.get((key[0], ip))
        if by_client is None:
            self._by_client[(key[0], ip)] = [session]
        else:
            by_client.append(session)
        if not saw_connect:
            self.stats.without_connect += 1
        return session

    def _session(self, key: tuple[str, str, int], time: datetime, name: str,
                 ip: str) -> SmtpSession:
        """The open session of this process (a new one if the log lacks its connect)."""
        session = self._open.get(key)
        if session is None or (ip and session.client_ip and ip != session.client_ip):
            if session is not None:
                self._close(key, disconnected=False)
            session = self._new(key, time, name, ip, saw_connect=False)
        session.end = time
        return session

    def _close(self, key: tuple[str, str, int], disconnected: bool) -> None:
        session = self._open.pop(key)
        self._forget(session)
        if not disconnected:
            session.saw_disconnect = False
        self._finish(session)

    def _forget(self, session: SmtpSession) -> None:
        client = (session.host, session.client_ip)
        open_sessions = self._by_client[client]
        if len(open_sessions) == 1:
            del self._by_client[client]
        else:
            for index, other in enumerate(open_sessions):
                if other is session:
                    del open_sessions[index]
                    break

    def _finish(self, session: SmtpSession) -> None:
        if self._latest is None or session.end > self._latest:
            self._latest = session.end
        if self._window is not None and not self._window.holds(session.start):
            self.stats.outside_window += 1
            return
        self.stats.sessions += 1
        if not session.saw_disconnect:
            self.stats.without_disconnect += 1
        self._emit(session)

    def _claim_pending_spf(self, session: SmtpSession) -> None:
        client = (session.host, session.client_ip)
        pending = self._pending_spf.get(client)
        if not pending:
            return
        for index, item in enumerate(pending):
            if session.helo is None or session.helo == item.helo:
                del pending[index]
                self._apply_spf(session, item.time, item.helo, item.sender, item.result,
                                item.identity)
                break
        if not pending:
            del self._pending_spf[client]

    def _apply_spf(self, session: SmtpSession, time: datetime, helo: str | None,
                   sender: str | None, result: str, identity: str) -> None:
        session.spf.append(SpfResult(result, identity, sender or "", helo or ""))
        if session.helo is None and helo:
            session.helo = helo
        if sender and sender not in session.senders:
            session.senders.append(intern(sender))
        if time > session.end:
            session.end = time

    def _sweep(self, now: datetime) -> None:
        """Close sessions silent for an hour (their disconnect will never come)."""
        try:
            self._next_sweep = now + _SWEEP_EVERY
        except OverflowError:
            self._next_sweep = datetime.max
        stale = [
            k for k, s in self._open.items() if (now - s.end).total_seconds() > STALE_SECONDS
        ]
        for key in stale:
            self._close(key, disconnected=False)
        if len(self._warnings) > 10000:
            self._warnings.clear()
        for client in [k for k, v in self._pending_spf.items()
                       if (now - v[-1].time).total_seconds() > STALE_SECONDS]:
            self.stats.spf_unmatched += len(self._pending_spf.pop(client))

    def close(self) -> Iterator[SmtpSession]:
        """End of input: emit every session still open, marked as cut off."""
        for session in sorted(self._open.values(), key=lambda s: s.start):
            session.saw_disconnect = False
            self._finish(session)
            if self._done:
                yield self._done.pop()
        self._open.clear()
        self._by_client.clear()
        self.stats.spf_unmatched += sum(len(v) for v in self._pending_spf.values())
        self._pending_spf.clear()


def build_sessions(
    records: Iterable[LogRecord], stats: SessionStats | None = None
) -> Iterator[SmtpSession]:
    """Turn a stream of records into a stream of sessions (in order of ending)."""
    builder = SessionBuilder()
    if stats is not None:
        builder.stats = stats
    for record in records:
        yield from builder.feed(record)
    yield from builder.close()
