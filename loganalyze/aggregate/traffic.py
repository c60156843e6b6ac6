"""Aggregate sessions into senders (client address + HELO) and clients, as they stream.

A *sender* is what a helo_access line would let in: one client address
using one HELO name. Its sessions over the whole log are its attempts, so
retries after a temporary reject become visible. A *client* is the address
alone: what else it did (accepted mail, other rejects) is evidence about it.

Memory grows with the number of distinct senders and clients, never with
the number of lines; per-sender lists are capped.
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from sys import intern
from zlib import crc32

from ..judge.bans import crowdsec_counts
from ..judge.checks import Check
from ..model import Kind, LogRecord
from ..sessions import Reject, SmtpSession
from .samples import (
    Sample,
    added,
    as_set,
    capped_union,
    earlier,
    earliest_capped,
    later,
    sample,
)

# Enough to tell "few" from "many" recipients and to show examples.
KEEP_EXAMPLES = 50
# Envelope senders kept per client: examples only (nothing counts them).
_KEEP_CLIENT_SENDERS = 10
# dnsblog lists kept per client.
_KEEP_LISTS = 10
# Session start times kept per sender (for the retry evidence).
_KEEP_ATTEMPTS = 1000
# HELO-reject line times kept per client (the earliest), for the ban-tool cross-check:
# CrowdSec's scenario bans on the second line within 10 minutes, so a client that
# is not banned within its first 200 lines is rare, and is then said to be undecided.
KEEP_BAN_LINES = 200
# Distinct HELO reject replies kept per sender (the postmaster note quotes them).
_KEEP_REPLIES = 5
# Distinct envelopes (sender + recipients) kept per sender: enough to tell one message
# retried from a stream of different ones.
KEEP_ENVELOPES = 8


def _earliest(kept: list[datetime], when: datetime) -> None:
    """Add ``when`` to ``kept``, which keeps the :data:`_KEEP_ATTEMPTS` earliest times.

    Sorted once full; sessions end about in the order they start, so a later
    one is refused at once.
    """
    if len(kept) < _KEEP_ATTEMPTS:
        kept.append(when)
        if len(kept) == _KEEP_ATTEMPTS:
            kept.sort()
    elif when < kept[-1]:
        insort(kept, when)
        kept.pop()


class _Names:
    """A Counter of names that is two plain fields while there is only one name.

    Almost every client and sender is logged under one name; a Counter each
    would be a third of their memory.
    """

    __slots__ = ("_name", "_name_count", "_names")

    _name: str
    _name_count: int
    _names: Counter[str] | None

    def _add_name(self, name: str, count: int = 1) -> None:
        names = self._names
        if names is not None:
            names[name] = names.get(name, 0) + count
        elif not self._name_count:
            self._name, self._name_count = name, count
        elif name == self._name:
            self._name_count += count
        else:
            self._names = Counter({self._name: self._name_count, name: count})

    def intern_name(self) -> None:
        """Share the single name's string (after unpickling, as a worker's part is)."""
        self._name = intern(self._name)

    def _name_counter(self) -> Counter[str]:
        if self._names is not None:
            return self._names
        return Counter({self._name: self._name_count}) if self._name_count else Counter()

    def _most_common_name(self) -> str:
        names = self._names
        if names is None:
            return self._name if self._name_count else "unknown"
        return names.most_common(1)[0][0] if names else "unknown"

    def _merge_names(self, other: _Names) -> None:
        for name, count in other._name_counter().items():
            self._add_name(name, count)


class ClientStats(_Names):
    """What one client address did across the log.

    The containers most clients never fill (names beyond the first, rejects,
    recipients, senders, DNSBL lists) are made on first use: the attributes
    read like plain fields, an empty Counter or set when nothing was seen.
    Change them through :func:`add_session`, :func:`add_evidence` and
    :meth:`merge` only.
    """

    __slots__ = ("ip", "sessions", "queued", "hostname_warnings",
                 "temporary_hostname_warnings", "postscreen_pass", "dnsbl_rank",
                 "postscreen_rejects", "spf_rejects", "helo_reject_lines", "_rejects",
                 "_recipients", "_senders", "_dnsbl_lists", "_helo_reject_times")

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.sessions = 0
        self.queued = 0  # messages this client got accepted into the queue
        self.hostname_warnings = 0  # sessions after a 'does not resolve to address' warning
        # Of those, the ones where the lookup failed temporarily: no proof against the client.
        self.temporary_hostname_warnings = 0
        self.postscreen_pass = 0  # PASS NEW/OLD: it passed the pregreet and DNSBL tests
        self.dnsbl_rank = 0  # highest postscreen DNSBL rank seen
        # Rejects and protocol violations (PREGREET, HANGUP, ...) logged by postscreen.
        self.postscreen_rejects = 0
        self.spf_rejects = 0  # policyd-spf reject/defer lines for this address
        # smtpd "reject:" lines (not warnings) whose reason is "Helo command rejected":
        # what CrowdSec's postfix-helo-rejected scenario counts (judge/bans.py).
        self.helo_reject_lines = 0
        self._name = ""
        self._name_count = 0
        self._names = None
        self._rejects: Counter[str] | None = None
        self._recipients: Sample | None = None
        self._senders: Sample | None = None
        self._dnsbl_lists: Sample | None = None
        self._helo_reject_times: list[datetime] | None = None

    def __repr__(self) -> str:
        return (f"ClientStats(ip={self.ip!r}, names={self.names!r}, sessions={self.sessions}, "
                f"queued={self.queued}, rejects={self.rejects!r})")

    @property
    def names(self) -> Counter[str]:
        """Client names Postfix logged for this address (``unknown`` when not confirmed)."""
        return self._name_counter()

    @property
    def name(self) -> str:
        """The client name most often logged."""
        return self._most_common_name()

    @property
    def rejects(self) -> Counter[str]:
        """Reject categories (rbl, relay, user_unknown, helo_unknown, ...) -> count."""
        return self._rejects if self._rejects is not None else Counter()

    @property
    def recipients(self) -> set[str]:
        """Recipients of its sessions (the first :data:`KEEP_EXAMPLES`)."""
        return as_set(self._recipients)

    @property
    def senders(self) -> set[str]:
        """Envelope senders of its sessions: examples (the first ten)."""
        return as_set(self._senders)

    @property
    def dnsbl_lists(self) -> set[str]:
        """DNSBL domains dnsblog said list the address (up to 10)."""
        return as_set(self._dnsbl_lists)

    @property
    def helo_reject_times(self) -> list[datetime]:
        """Times of the earliest :data:`KEEP_BAN_LINES` of :attr:`helo_reject_lines`, sorted.

        ``helo_reject_lines - len(helo_reject_times)`` later lines were counted only.
        """
        return self._helo_reject_times if self._helo_reject_times is not None else []

    def merge(self, other: ClientStats) -> None:
        """Add ``other`` (the same address, in a later part of the log) to this one."""
        self.sessions += other.sessions
        self.queued += other.queued
        self.hostname_warnings += other.hostname_warnings
        self.temporary_hostname_warnings += other.temporary_hostname_warnings
        self.postscreen_pass += other.postscreen_pass
        self.dnsbl_rank = max(self.dnsbl_rank, other.dnsbl_rank)
        self.postscreen_rejects += other.postscreen_rejects
        self.spf_rejects += other.spf_rejects
        self.helo_reject_lines += other.helo_reject_lines
        if other._helo_reject_times:
            self._helo_reject_times = earliest_capped(
                self._helo_reject_times, other._helo_reject_times, KEEP_BAN_LINES)
        self._merge_names(other)
        self._rejects = added(self._rejects, other._rejects)
        self._recipients = capped_union(self._recipients, other._recipients, KEEP_EXAMPLES)
        self._senders = capped_union(self._senders, other._senders, _KEEP_CLIENT_SENDERS)
        self._dnsbl_lists = capped_union(self._dnsbl_lists, other._dnsbl_lists, _KEEP_LISTS)


class SenderStats(_Names):
    """One (client address, HELO) pair and everything its sessions showed.

    As in :class:`ClientStats`, the containers are made on first use and
    read like plain fields.
    """

    __slots__ = ("client_ip", "helo", "sessions", "attempts", "first_seen", "last_seen",
                 "enforced_rejects", "temporary_rejects", "first_reply",
                 "helo_required_rejects", "queued", "_first_reply_at", "_day", "_days",
                 "_logged_checks", "_spf",
                 "_senders", "_recipients", "_reject_days", "_replies",
                 "envelope_sessions", "_envelopes",
                 "first_refused", "last_refused", "_accepted")

    def __init__(self, client_ip: str, helo: str) -> None:
        self.client_ip = client_ip
        self.helo = helo  # as Postfix stored it; empty when the client never sent one
        self.sessions = 0
        # Start time of each session (the earliest 1000; in no particular order).
        self.attempts: list[datetime] = []
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.enforced_rejects = 0  # sessions a HELO check really rejected (not a warning)
        self.temporary_rejects = 0  # sessions with a 4xx HELO reject (the client may retry)
        self.first_reply = ""  # the HELO reject reply of its earliest rejected session
        self._first_reply_at: datetime | None = None
        self.helo_required_rejects = 0  # sessions that tried MAIL without HELO
        self.queued = 0  # messages accepted (only before a restriction was enabled)
        self._name = ""
        self._name_count = 0
        self._names = None
        self._day: date | None = None
        self._days: set[date] | None = None
        self._logged_checks: Counter[Check] | None = None
        self._spf: Counter[tuple[str, str]] | None = None
        self._senders: Sample | None = None
        self._recipients: Sample | None = None
        self._reject_days: set[date] | None = None
        self._replies: Sample | None = None
        self.envelope_sessions = 0  # sessions that logged a sender and a recipient
        self._envelopes: Sample | None = None  # their distinct envelopes, as checksums
        # The first and last reject line of its sessions a HELO check really rejected.
        self.first_refused: datetime | None = None
        self.last_refused: datetime | None = None
        self._accepted: dict[str, datetime] | None = None

    @property
    def accepted(self) -> dict[str, datetime]:
        """smtpd service -> the start of its latest session that got mail queued with no
        HELO reject or warning: Postfix let this HELO through its HELO checks then."""
        return self._accepted if self._accepted is not None else {}

    def __repr__(self) -> str:
        return (f"SenderStats(client_ip={self.client_ip!r}, helo={self.helo!r}, "
                f"sessions={self.sessions}, logged_checks={self.logged_checks!r})")

    @property
    def client_names(self) -> Counter[str]:
        """Client names logged for its sessions."""
        return self._name_counter()

    @property
    def client_name(self) -> str:
        """The client name most often logged."""
        return self._most_common_name()

    @property
    def days(self) -> set[date]:
        """The days it was seen on."""
        if self._days is not None:
            return self._days
        return {self._day} if self._day is not None else set()

    @property
    def reject_days(self) -> set[date]:
        """The days a HELO check really rejected it (not warnings), by session start."""
        return self._reject_days if self._reject_days is not None else set()

    @property
    def replies(self) -> list[str]:
        """Distinct HELO reject replies of its rejected sessions (``450 4.7.1 <x>: ...``):
        the :data:`_KEEP_REPLIES` smallest, sorted."""
        return list(self._replies) if self._replies else []

    @property
    def logged_checks(self) -> Counter[Check]:
        """HELO checks that rejected this sender, per the log (enforced or warning)."""
        return self._logged_checks if self._logged_checks is not None else Counter()

    @property
    def spf(self) -> Counter[tuple[str, str]]:
        """(result, sender domain) pairs from policyd-spf lines."""
        return self._spf if self._spf is not None else Counter()

    @property
    def senders(self) -> set[str]:
        """Envelope senders of its sessions (the first :data:`KEEP_EXAMPLES` or so)."""
        return as_set(self._senders)

    @property
    def recipients(self) -> set[str]:
        """Recipients of its sessions (the first :data:`KEEP_EXAMPLES` or so)."""
        return as_set(self._recipients)

    @property
    def messages_retried(self) -> bool:
        """Each message (the same sender and recipients) came in two sessions or more,
        on average: a queue retrying, not a stream of different messages."""
        distinct = len(self._envelopes) if self._envelopes else 0
        return 0 < distinct < KEEP_ENVELOPES and self.envelope_sessions >= 2 * distinct

    @property
    def rejected(self) -> bool:
        """True when at least one session was really rejected by a HELO check."""
        return self.enforced_rejects > 0

    def _add_day(self, day: date) -> None:
        if self._days is not None:
            self._days.add(day)
        elif self._day is None:
            self._day = day
        elif day != self._day:
            self._days = {self._day, day}

    def merge(self, other: SenderStats) -> None:
        """Add ``other`` (the same sender, in a later part of the log) to this one."""
        self.sessions += other.sessions
        for when in other.attempts:
            _earliest(self.attempts, when)
        self.first_seen = earlier(self.first_seen, other.first_seen)
        self.last_seen = later(self.last_seen, other.last_seen)
        self.enforced_rejects += other.enforced_rejects
        self.temporary_rejects += other.temporary_rejects
        if other._first_reply_at is not None and (
                self._first_reply_at is None or other._first_reply_at < self._first_reply_at):
            self.first_reply, self._first_reply_at = other.first_reply, other._first_reply_at
        self.helo_required_rejects += other.helo_required_rejects
        self.queued += other.queued
        self._merge_names(other)
        for day in other.days:
            self._add_day(day)
        self._logged_checks = added(self._logged_checks, other._logged_checks)
        self._spf = added(self._spf, other._spf)
        self._senders = capped_union(self._senders, other._senders, KEEP_EXAMPLES)
        self._recipients = capped_union(self._recipients, other._recipients, KEEP_EXAMPLES)
        if other._reject_days:
            if self._reject_days is None:
                self._reject_days = set()
            self._reject_days |= other._reject_days
        self._replies = capped_union(self._replies, other._replies, _KEEP_REPLIES)
        self.envelope_sessions += other.envelope_sessions
        self._envelopes = capped_union(self._envelopes, other._envelopes, KEEP_ENVELOPES)
        self.first_refused = earlier(self.first_refused, other.first_refused)
        self.last_refused = later(self.last_refused, other.last_refused)
        for service, when in other.accepted.items():
            _note_accepted(self, service, when)


def _note_accepted(sender: SenderStats, service: str, when: datetime) -> None:
    accepted = sender._accepted
    if accepted is None:
        accepted = sender._accepted = {}
    seen = accepted.get(service)
    if seen is None or when > seen:
        accepted[service] = when


@dataclass(slots=True)
class Traffic:
    """All senders and clients of a log, plus session counts."""

    senders: dict[tuple[str, str], SenderStats] = field(default_factory=dict)
    clients: dict[str, ClientStats] = field(default_factory=dict)
    sessions: int = 0
    sessions_with_helo: int = 0
    hosts: Counter[str] = field(default_factory=Counter)
    """Syslog host field -> smtpd sessions logged under it (the mail server's own name)."""
    unknown_check_since: dict[str, datetime] = field(default_factory=dict)
    """smtpd service -> its first reject (not a warning) by reject_unknown_helo_hostname:
    from then on the check was in force there."""

    def merge(self, other: Traffic) -> None:
        """Add the traffic of a later part of the log (parallel reading) to this one.

        ``other``'s aggregates are taken over, not copied.
        """
        self.sessions += other.sessions
        self.sessions_with_helo += other.sessions_with_helo
        self.hosts.update(other.hosts)
        for service, when in other.unknown_check_since.items():
            self.unknown_check_since[service] = earlier(
                self.unknown_check_since.get(service), when) or when
        clients = self.clients
        for ip, client in other.clients.items():
            mine = clients.get(ip)
            if mine is None:
                clients[ip] = client
            else:
                mine.merge(client)
        senders = self.senders
        for key, sender in other.senders.items():
            ours = senders.get(key)
            if ours is None:
                senders[key] = sender
            else:
                ours.merge(sender)


def _reply(reject: Reject) -> str:
    """The reply as Postfix wrote it: ``450 4.7.1 <x>: Helo command rejected: ...``."""
    return f"{reject.code} {reject.dsn} {reject.reason}".replace("  ", " ")


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def add_session(traffic: Traffic, session: SmtpSession) -> None:
    """Fold one finished session into ``traffic``."""
    traffic.sessions += 1
    hosts = traffic.hosts
    hosts[session.host] = hosts.get(session.host, 0) + 1
    ip = session.client_ip
    client = traffic.clients.get(ip)
    if client is None:
        # Interned: the address and name are held by the client and each of its
        # senders, and the replies of one HELO (a bot's "desktop") by thousands.
        ip = intern(ip)
        client = traffic.clients[ip] = ClientStats(ip)
    else:
        ip = client.ip
    client.sessions += 1
    name = intern(session.client_name)
    client._add_name(name)
    queued = session.queued
    if queued:
        client.queued += queued
    if session.hostname_warning:
        client.hostname_warnings += 1
        if "Temporary failure" in session.hostname_warning:
            client.temporary_hostname_warnings += 1
    rejects = session.rejects
    helo_rejects: list[Reject] = []
    if rejects:
        categories = client._rejects
        if categories is None:
            categories = client._rejects = Counter()
        banned_for: list[datetime] | None = None
        for reject in rejects:
            category = reject.category
            categories[category] = categories.get(category, 0) + 1
            if reject.helo_check is not None:
                helo_rejects.append(reject)
            if crowdsec_counts(reject.reason, reject.warning, session.service):
                if banned_for is None:
                    banned_for = []
                banned_for.append(reject.time)
        if banned_for:
            client.helo_reject_lines += len(banned_for)
            client._helo_reject_times = earliest_capped(client._helo_reject_times, banned_for,
                                                         KEEP_BAN_LINES)
    recipients = session.recipients
    if recipients:
        client._recipients = sample(client._recipients, recipients, KEEP_EXAMPLES)
    senders = session.senders
    if senders:
        client._senders = sample(client._senders, senders, _KEEP_CLIENT_SENDERS)

    helo = session.helo
    no_helo = helo is None and session.helo_required_reject
    if helo is None and not no_helo:
        return
    traffic.sessions_with_helo += 1
    key = (ip, helo or "")
    sender = traffic.senders.get(key)
    if sender is None:
        sender = traffic.senders[key] = SenderStats(ip, helo or "")
    sender.sessions += 1
    sender._add_name(name)
    start = session.start
    _earliest(sender.attempts, start)
    if sender.first_seen is None or start < sender.first_seen:
        sender.first_seen = start
    if sender.last_seen is None or session.end > sender.last_seen:
        sender.last_seen = session.end
    sender._add_day(start.date())
    if queued:
        sender.queued += queued
        if helo and not helo_rejects:
            _note_accepted(sender, session.service, start)
    if no_helo:
        sender.helo_required_rejects += 1
    if helo_rejects:
        checks = sender._logged_checks
        if checks is None:
            checks = sender._logged_checks = Counter()
        for check in {r.helo_check for r in helo_rejects if r.helo_check is not None}:
            checks[check] += 1
        enforced = [r for r in helo_rejects if not r.warning]
        for reject in enforced:
            if reject.helo_check is Check.UNKNOWN:
                since = traffic.unknown_check_since
                since[session.service] = earlier(since.get(session.service), reject.time) \
                    or reject.time
                break
        if enforced:
            sender.enforced_rejects += 1
            if any(r.code // 100 == 4 for r in enforced):
                sender.temporary_rejects += 1
            if sender._reject_days is None:
                sender._reject_days = set()
            sender._reject_days.add(start.date())
            sender.first_refused = earlier(sender.first_refused, enforced[0].time)
            sender.last_refused = later(sender.last_refused, enforced[-1].time)
            sender._replies = sample(sender._replies, {intern(_reply(r)) for r in enforced},
                                      _KEEP_REPLIES)
        if sender._first_reply_at is None or start < sender._first_reply_at:
            sender.first_reply = intern(_reply(helo_rejects[0]))
            sender._first_reply_at = start
    if session.spf:
        results = sender._spf
        if results is None:
            results = sender._spf = Counter()
        for spf in session.spf:
            domain = _domain_of(spf.sender) if spf.identity == "mailfrom" else spf.helo.lower()
            key_spf = (spf.result, domain)
            results[key_spf] = results.get(key_spf, 0) + 1
    if senders:
        sender._senders = sample(sender._senders, senders, KEEP_EXAMPLES)
    if recipients:
        sender._recipients = sample(sender._recipients, recipients, KEEP_EXAMPLES)
        if senders:
            # A checksum, not the text: only "same or not" matters, and it stays small.
            envelope = " ".join([*senders, *sorted(recipients)]).encode("utf-8", "replace")
            sender.envelope_sessions += 1
            sender._envelopes = sample(sender._envelopes, (f"{crc32(envelope):08x}",),
                                       KEEP_ENVELOPES)


_POSTSCREEN_VIOLATIONS = ("PREGREET", "HANGUP", "COMMAND", "NON-SMTP", "BARE NEWLINE",
                          "DENYLISTED", "BLACKLISTED")


def add_evidence(traffic: Traffic, record: LogRecord) -> None:
    """Fold a postscreen, dnsblog or SPF-reject record into its client's evidence."""
    ip = record.client_ip
    if not ip:
        return
    client = traffic.clients.get(ip)
    if client is None:
        client = traffic.clients[ip] = ClientStats(ip)
    kind = record.kind
    if kind is Kind.POSTSCREEN_PASS:
        client.postscreen_pass += 1
    elif kind is Kind.POSTSCREEN_DNSBL:
        client.dnsbl_rank = max(client.dnsbl_rank, record.score or 0)
    elif kind is Kind.DNSBL_LISTED:
        add_dnsbl_list(client, record.reason)
    elif kind is Kind.POSTSCREEN_REJECT:
        client.postscreen_rejects += 1
    elif kind is Kind.POSTSCREEN_EVENT:
        if record.stage.startswith(_POSTSCREEN_VIOLATIONS):
            client.postscreen_rejects += 1
    elif kind is Kind.SPF_REJECT:
        client.spf_rejects += 1


def add_dnsbl_list(client: ClientStats, domain: str) -> None:
    client._dnsbl_lists = sample(client._dnsbl_lists, (domain,), _KEEP_LISTS)
