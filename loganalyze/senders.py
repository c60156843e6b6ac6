"""Aggregate sessions into senders (client address + HELO) and clients, as they stream.

A *sender* is what a helo_access line would let in: one client address
using one HELO name. Its sessions over the whole log are its attempts, so
retries after a temporary reject become visible. A *client* is the address
alone: what else it did (accepted mail, other rejects) is evidence about it.

Memory grows with the number of distinct senders and clients, never with
the number of lines; per-sender lists are capped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from .checks import Check
from .sessions import HeloSession
from .tokenizer import Kind, LogRecord

# Enough to tell "few" from "many" recipients and to show examples.
_KEEP = 50


@dataclass(slots=True)
class ClientStats:
    """What one client address did across the log."""

    ip: str
    names: Counter[str] = field(default_factory=Counter)
    """Client names Postfix logged for this address (``unknown`` when not confirmed)."""
    sessions: int = 0
    queued: int = 0
    """Messages this client got accepted into the queue."""
    rejects: Counter[str] = field(default_factory=Counter)
    """Reject categories (rbl, relay, user_unknown, helo_unknown, ...) -> count."""
    hostname_warnings: int = 0
    """Sessions preceded by a 'does not resolve to address' warning."""
    temporary_hostname_warnings: int = 0
    """Of those, the ones where the lookup failed temporarily: no proof against the client."""
    recipients: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    postscreen_pass: int = 0
    """postscreen PASS NEW/OLD: it passed the pregreet and DNSBL tests."""
    dnsbl_rank: int = 0
    """Highest postscreen DNSBL rank seen."""
    dnsbl_lists: set[str] = field(default_factory=set)
    """DNSBL domains dnsblog said list the address."""
    postscreen_rejects: int = 0
    """Rejects and protocol violations (PREGREET, HANGUP, ...) logged by postscreen."""
    spf_rejects: int = 0
    """policyd-spf reject/defer lines for this address."""

    @property
    def name(self) -> str:
        """The client name most often logged."""
        return self.names.most_common(1)[0][0] if self.names else "unknown"


@dataclass(slots=True)
class SenderStats:
    """One (client address, HELO) pair and everything its sessions showed."""

    client_ip: str
    helo: str
    """The HELO as Postfix stored it; empty when the client never sent one."""
    client_names: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    attempts: list[datetime] = field(default_factory=list)
    """Start time of each session (capped)."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    days: set[date] = field(default_factory=set)
    logged_checks: Counter[Check] = field(default_factory=Counter)
    """HELO checks that rejected this sender, per the log (enforced or warning)."""
    enforced_rejects: int = 0
    """Sessions in which a HELO check actually rejected (not reject_warning)."""
    temporary_rejects: int = 0
    """Sessions with a 4xx HELO reject (the client may retry)."""
    first_reply: str = ""
    """The first HELO reject reply logged for this sender."""
    helo_required_rejects: int = 0
    """Sessions that tried MAIL without HELO under smtpd_helo_required."""
    spf: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(result, sender domain) pairs from policyd-spf lines."""
    senders: set[str] = field(default_factory=set)
    recipients: set[str] = field(default_factory=set)
    queued: int = 0
    """Messages accepted from this sender (only before a restriction was enabled)."""

    @property
    def client_name(self) -> str:
        """The client name most often logged."""
        return self.client_names.most_common(1)[0][0] if self.client_names else "unknown"

    @property
    def rejected(self) -> bool:
        """True when at least one session was really rejected by a HELO check."""
        return self.enforced_rejects > 0


@dataclass(slots=True)
class Traffic:
    """All senders and clients of a log, plus session counts."""

    senders: dict[tuple[str, str], SenderStats] = field(default_factory=dict)
    clients: dict[str, ClientStats] = field(default_factory=dict)
    sessions: int = 0
    sessions_with_helo: int = 0


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def add_session(traffic: Traffic, session: HeloSession) -> None:
    """Fold one finished session into ``traffic``."""
    traffic.sessions += 1
    ip = session.client_ip
    client = traffic.clients.get(ip)
    if client is None:
        client = traffic.clients[ip] = ClientStats(ip)
    client.sessions += 1
    client.names[session.client_name] += 1
    client.queued += session.queued
    if session.hostname_warning:
        client.hostname_warnings += 1
        if "Temporary failure" in session.hostname_warning:
            client.temporary_hostname_warnings += 1
    for reject in session.rejects:
        client.rejects[reject.category] += 1
    if len(client.recipients) < _KEEP:
        client.recipients.update(session.recipients[: _KEEP - len(client.recipients)])
    if len(client.senders) < _KEEP:
        client.senders.update(session.senders[: _KEEP - len(client.senders)])

    helo_rejects = session.helo_rejects
    no_helo = session.helo_required_reject
    if session.helo is None and not no_helo:
        return
    traffic.sessions_with_helo += 1
    key = (ip, session.helo or "")
    sender = traffic.senders.get(key)
    if sender is None:
        sender = traffic.senders[key] = SenderStats(ip, session.helo or "")
    sender.sessions += 1
    sender.client_names[session.client_name] += 1
    if len(sender.attempts) < 1000:
        sender.attempts.append(session.start)
    if sender.first_seen is None or session.start < sender.first_seen:
        sender.first_seen = session.start
    if sender.last_seen is None or session.end > sender.last_seen:
        sender.last_seen = session.end
    sender.days.add(session.start.date())
    sender.queued += session.queued
    if no_helo:
        sender.helo_required_rejects += 1
    checks = {r.helo_check for r in helo_rejects if r.helo_check is not None}
    for check in checks:
        sender.logged_checks[check] += 1
    if any(not r.warning for r in helo_rejects):
        sender.enforced_rejects += 1
    if any(r.code // 100 == 4 and not r.warning for r in helo_rejects):
        sender.temporary_rejects += 1
    if helo_rejects and not sender.first_reply:
        first = helo_rejects[0]
        sender.first_reply = f"{first.code} {first.dsn} {first.reason}".replace("  ", " ")
    for spf in session.spf:
        domain = _domain_of(spf.sender) if spf.identity == "mailfrom" else spf.helo.lower()
        sender.spf[(spf.result, domain)] += 1
    if len(sender.senders) < _KEEP:
        sender.senders.update(session.senders)
    if len(sender.recipients) < _KEEP:
        sender.recipients.update(session.recipients)


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
        if len(client.dnsbl_lists) < 10:
            client.dnsbl_lists.add(record.reason)
    elif kind is Kind.POSTSCREEN_REJECT:
        client.postscreen_rejects += 1
    elif kind is Kind.POSTSCREEN_EVENT:
        if record.stage.startswith(_POSTSCREEN_VIOLATIONS):
            client.postscreen_rejects += 1
    elif kind is Kind.SPF_REJECT:
        client.spf_rejects += 1


def collect(sessions: Iterable[HeloSession], traffic: Traffic | None = None) -> Traffic:
    """Aggregate a stream of sessions."""
    traffic = traffic or Traffic()
    for session in sessions:
        add_session(traffic, session)
    return traffic
