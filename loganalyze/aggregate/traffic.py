"""Aggregate sessions into senders (client address + HELO) and clients, as they stream.

A *sender* is what a helo_access line would let in: one client address
using one HELO name. Its sessions over the whole log are its attempts, so
retries after a temporary reject become visible. A *client* is the address
alone: what else it did (accepted mail, other rejects) is evidence about it.

Memory grows with the number of distinct senders and clients, never with
the number of lines; per-sender lists are capped, and what most senders and
clients hold one of (a name, a reject category, a day, an attempt) is held
without a container (:mod:`~loganalyze.aggregate.tally`). The rules that fold
sessions and evidence into these records are in :mod:`~loganalyze.aggregate.fold`.
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from sys import intern

from ..judge.checks import Check
from .samples import Sample, as_set, capped_union, earlier, earliest_capped, items, later
from .tally import Tally, as_counter, keys, merged

# Enough to tell "few" from "many" recipients and to show examples.
KEEP_EXAMPLES = 50
# Envelope senders kept per client: examples only (nothing counts them).
KEEP_CLIENT_SENDERS = 10
# dnsblog lists kept per client.
KEEP_LISTS = 10
# Session start times kept per sender (for the retry evidence).
KEEP_ATTEMPTS = 1000
# HELO-reject line times kept per client (the earliest), for the ban-tool cross-check:
# CrowdSec's scenario bans on the second line within 10 minutes, so a client that
# is not banned within its first 200 lines is rare, and is then said to be undecided.
KEEP_BAN_LINES = 200
# Distinct HELO reject replies kept per sender (the postmaster note quotes them).
KEEP_REPLIES = 5
# Distinct envelopes (sender + recipients) kept per sender: enough to tell one message
# retried from a stream of different ones.
KEEP_ENVELOPES = 8


def earliest(kept: list[datetime], when: datetime) -> None:
    """Add ``when`` to ``kept``, which keeps the :data:`KEEP_ATTEMPTS` earliest times.

    Sorted once full; sessions end about in the order they start, so a later
    one is refused at once.
    """
    if len(kept) < KEEP_ATTEMPTS:
        kept.append(when)
        if len(kept) == KEEP_ATTEMPTS:
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
        self._rejects: Tally[str] = None
        self._recipients: Sample[str] | None = None
        self._senders: Sample[str] | None = None
        self._dnsbl_lists: Sample[str] | None = None
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
        return as_counter(self._rejects)

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
        self._rejects = merged(self._rejects, other._rejects)
        self._recipients = capped_union(self._recipients, other._recipients, KEEP_EXAMPLES)
        self._senders = capped_union(self._senders, other._senders, KEEP_CLIENT_SENDERS)
        self._dnsbl_lists = capped_union(self._dnsbl_lists, other._dnsbl_lists, KEEP_LISTS)


class SenderStats(_Names):
    """One (client address, HELO) pair and everything its sessions showed.

    As in :class:`ClientStats`, the containers are made on first use and
    read like plain fields.
    """

    __slots__ = ("client_ip", "helo", "sessions", "_attempts", "first_seen", "last_seen",
                 "enforced_rejects", "temporary_rejects", "first_reply",
                 "helo_required_rejects", "queued", "_first_reply_at", "_day", "_days",
                 "_logged_checks", "_spf",
                 "_senders", "_recipients", "_reject_day", "_reject_days", "_replies",
                 "envelope_sessions", "_envelopes",
                 "first_refused", "last_refused", "_accepted")

    def __init__(self, client_ip: str, helo: str) -> None:
        self.client_ip = client_ip
        self.helo = helo  # as Postfix stored it; empty when the client never sent one
        self.sessions = 0
        # Start times of its sessions once there are two (see attempts).
        self._attempts: list[datetime] | None = None
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
        # The days: one in _day, more in _days (as for the reject days).
        self._day: date | None = None
        self._days: set[date] | None = None
        self._logged_checks: Tally[Check] = None
        self._spf: Tally[tuple[str, str]] = None
        self._senders: Sample[str] | None = None
        self._recipients: Sample[str] | None = None
        self._reject_day: date | None = None
        self._reject_days: set[date] | None = None
        self._replies: Sample[str] | None = None
        self.envelope_sessions = 0  # sessions that logged a sender and a recipient
        self._envelopes: Sample[int] | None = None  # their distinct envelopes, as checksums
        # The first and last reject line of its sessions a HELO check really rejected.
        self.first_refused: datetime | None = None
        self.last_refused: datetime | None = None
        self._accepted: dict[str, datetime] | None = None

    @property
    def attempts(self) -> list[datetime]:
        """Start time of each session (the earliest :data:`KEEP_ATTEMPTS`; in no
        particular order). The one session's start is :attr:`first_seen`."""
        if self._attempts is not None:
            return self._attempts
        return [self.first_seen] if self.sessions == 1 and self.first_seen is not None else []

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
        return _day_set(self._day, self._days)

    @property
    def reject_days(self) -> set[date]:
        """The days a HELO check really rejected it (not warnings), by session start."""
        return _day_set(self._reject_day, self._reject_days)

    @property
    def replies(self) -> list[str]:
        """Distinct HELO reject replies of its rejected sessions (``450 4.7.1 <x>: ...``):
        the :data:`KEEP_REPLIES` smallest, sorted."""
        return list(items(self._replies))

    @property
    def logged_checks(self) -> Counter[Check]:
        """HELO checks that rejected this sender, per the log (enforced or warning)."""
        return as_counter(self._logged_checks)

    @property
    def logged_check_kinds(self) -> tuple[Check, ...]:
        """The keys of :attr:`logged_checks` (quicker: no Counter is made)."""
        return keys(self._logged_checks)

    @property
    def spf(self) -> Counter[tuple[str, str]]:
        """(result, sender domain) pairs from policyd-spf lines."""
        return as_counter(self._spf)

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
        distinct = len(items(self._envelopes))
        return 0 < distinct < KEEP_ENVELOPES and self.envelope_sessions >= 2 * distinct

    @property
    def rejected(self) -> bool:
        """True when at least one session was really rejected by a HELO check."""
        return self.enforced_rejects > 0

    def add_day(self, day: date) -> None:
        if self._days is not None or day != self._day:
            self._day, self._days = _with_day(self._day, self._days, day)

    def add_reject_day(self, day: date) -> None:
        if self._reject_days is not None or day != self._reject_day:
            self._reject_day, self._reject_days = _with_day(self._reject_day,
                                                            self._reject_days, day)

    def merge(self, other: SenderStats) -> None:
        """Add ``other`` (the same sender, in a later part of the log) to this one."""
        attempts = self.attempts
        for when in other.attempts:
            earliest(attempts, when)
        self._attempts = attempts
        self.sessions += other.sessions
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
            self.add_day(day)
        self._logged_checks = merged(self._logged_checks, other._logged_checks)
        self._spf = merged(self._spf, other._spf)
        self._senders = capped_union(self._senders, other._senders, KEEP_EXAMPLES)
        self._recipients = capped_union(self._recipients, other._recipients, KEEP_EXAMPLES)
        for day in other.reject_days:
            self.add_reject_day(day)
        self._replies = capped_union(self._replies, other._replies, KEEP_REPLIES)
        self.envelope_sessions += other.envelope_sessions
        self._envelopes = capped_union(self._envelopes, other._envelopes, KEEP_ENVELOPES)
        self.first_refused = earlier(self.first_refused, other.first_refused)
        self.last_refused = later(self.last_refused, other.last_refused)
        for service, when in other.accepted.items():
            self.note_accepted(service, when)

    def note_accepted(self, service: str, when: datetime) -> None:
        """A session of ``service`` that started at ``when`` got mail queued unchallenged."""
        accepted = self._accepted
        if accepted is None:
            accepted = self._accepted = {}
        seen = accepted.get(service)
        if seen is None or when > seen:
            accepted[service] = when


def _with_day(one: date | None, many: set[date] | None,
              day: date) -> tuple[date | None, set[date] | None]:
    """A set of days kept as one date while there is one: (one, many) with ``day`` added."""
    if many is not None:
        many.add(day)
        return None, many
    if one is None or one == day:
        return day, None
    return None, {one, day}


def _day_set(one: date | None, many: set[date] | None) -> set[date]:
    if many is not None:
        return many
    return {one} if one is not None else set()


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


__all__ = ["KEEP_ATTEMPTS", "KEEP_BAN_LINES", "KEEP_CLIENT_SENDERS", "KEEP_ENVELOPES",
           "KEEP_EXAMPLES", "KEEP_LISTS", "KEEP_REPLIES", "ClientStats", "SenderStats",
           "Traffic", "earliest"]
