"""Fold finished sessions and evidence lines into the aggregates of
:mod:`~loganalyze.aggregate.traffic`.

:func:`add_session` runs once per smtpd session, so it is written for the
common session: one name, one sender, one recipient, no reject or one. The
fast paths (a name seen before, a full sample the item is beyond, a day
already noted) change nothing the general rules would not.
"""

from __future__ import annotations

from datetime import date, datetime
from sys import intern
from zlib import crc32

from ..judge.bans import crowdsec_counts
from ..judge.checks import Check
from ..model import Kind, LogRecord
from ..sessions import Reject, SmtpSession
from .samples import Sample, earlier, earliest_capped, later, sample, sample_one
from .tally import tallied
from .traffic import (
    KEEP_ATTEMPTS,
    KEEP_BAN_LINES,
    KEEP_CLIENT_SENDERS,
    KEEP_ENVELOPES,
    KEEP_EXAMPLES,
    KEEP_LISTS,
    KEEP_REPLIES,
    ClientStats,
    SenderStats,
    Traffic,
    earliest,
)

_DAYS: dict[date, date] = {}
"""One date object per day, shared by the senders (a log spans a few days)."""


def _reply(reject: Reject) -> str:
    """The reply as Postfix wrote it: ``450 4.7.1 <x>: Helo command rejected: ...``."""
    return f"{reject.code} {reject.dsn} {reject.reason}".replace("  ", " ")


def _envelope(senders: list[str], recipients: list[str]) -> int:
    """A checksum of one envelope, not the text: only "same or not" matters, and it stays
    small (the hex digits once kept sort as the number does)."""
    return crc32(" ".join([*senders, *sorted(recipients)]).encode("utf-8", "replace"))


def _added(kept: Sample[str] | None, items: list[str], cap: int) -> Sample[str] | None:
    """:func:`sample`, quicker for the usual one item."""
    if len(items) == 1:
        return sample_one(kept, items[0], cap)
    return sample(kept, items, cap)


def _recipients_sample(kept: Sample[str] | None, recipients: list[str]) -> Sample[str] | None:
    """:func:`sample` of recipients, interned: the same few addresses of this server
    fill the samples of thousands of senders and clients."""
    if len(recipients) == 1:
        recipient = recipients[0]
        if kept is not None and (recipient == kept if type(kept) is str else recipient in kept):
            return kept
        return sample_one(kept, intern(recipient), KEEP_EXAMPLES)
    return sample(kept, map(intern, recipients), KEEP_EXAMPLES)


# The category of each HELO check's rejects, as Reject.category names it.
_HELO_CATEGORIES = {check: Reject(datetime.min, "", 0, "", "", None, False, check).category
                    for check in Check}


def add_session(traffic: Traffic, session: SmtpSession) -> None:
    """Fold one finished session into ``traffic``."""
    traffic.sessions += 1
    hosts = traffic.hosts
    hosts[session.host] = hosts.get(session.host, 0) + 1
    ip = session.client_ip
    clients = traffic.clients
    client = clients.get(ip)
    if client is None:
        # Interned: the address and name are held by the client and each of its
        # senders, and the replies of one HELO (a bot's "desktop") by thousands.
        ip = intern(ip)
        client = clients[ip] = ClientStats(ip)
    else:
        ip = client.ip
    client.sessions += 1
    name = session.client_name
    if client._names is None and client._name_count and name == client._name:
        name = client._name  # its name again (as _add_name would count it)
        client._name_count += 1
    else:
        name = intern(name)
        client._add_name(name)
    queued = session.queued
    if queued:
        client.queued += queued
    if session.hostname_warning:
        client.hostname_warnings += 1
        if "Temporary failure" in session.hostname_warning:
            client.temporary_hostname_warnings += 1
    rejects = session.rejects
    helo_rejects: list[Reject] | None = None
    if rejects:
        service = session.service
        categories = client._rejects
        banned_for: list[datetime] | None = None
        for reject in rejects:
            check = reject.helo_check
            if check is not None:
                category = _HELO_CATEGORIES[check]
                if helo_rejects is None:
                    helo_rejects = []
                helo_rejects.append(reject)
            else:
                category = reject.category
            if type(categories) is tuple and categories[0] == category:
                categories = (category, categories[1] + 1)  # tallied(), quicker
            else:
                categories = tallied(categories, category)
            if crowdsec_counts(reject.reason, reject.warning, service):
                if banned_for is None:
                    banned_for = []
                banned_for.append(reject.time)
        client._rejects = categories
        if banned_for:
            client.helo_reject_lines += len(banned_for)
            client._helo_reject_times = earliest_capped(client._helo_reject_times, banned_for,
                                                         KEEP_BAN_LINES)
    recipients = session.recipients
    if recipients:
        client._recipients = _recipients_sample(client._recipients, recipients)
    senders = session.senders
    if senders:
        client._senders = _added(client._senders, senders, KEEP_CLIENT_SENDERS)

    helo = session.helo
    no_helo = helo is None and session.helo_required_reject
    if helo is None and not no_helo:
        return
    traffic.sessions_with_helo += 1
    key = (ip, helo or "")
    sender = traffic.senders.get(key)
    start = session.start
    if sender is None:
        sender = traffic.senders[key] = SenderStats(ip, helo or "")
        sender.first_seen = start
        sender.last_seen = session.end
        sender._name, sender._name_count = name, 1
    else:
        _count_again(sender, name, start, session.end)
    sender.sessions += 1
    day = start.date()
    if sender._days is not None or day != sender._day:
        day = _DAYS.setdefault(day, day)
        sender.add_day(day)
    if queued:
        sender.queued += queued
        if helo and helo_rejects is None:
            sender.note_accepted(session.service, start)
    if no_helo:
        sender.helo_required_rejects += 1
    if helo_rejects is not None:
        _fold_helo_rejects(traffic, session, sender, helo_rejects, day)
    if session.spf:
        results = sender._spf
        for spf in session.spf:
            if spf.identity == "mailfrom":
                address = spf.sender
                domain = address.rpartition("@")[2].lower() if "@" in address else ""
            else:
                domain = spf.helo.lower()
            if type(results) is tuple and results[0] == (spf.result, domain):
                results = (results[0], results[1] + 1)  # tallied(), quicker
            else:  # the result word is one of a few: interned
                results = tallied(results, (intern(spf.result), domain))
        sender._spf = results
    if senders:
        sender._senders = _added(sender._senders, senders, KEEP_EXAMPLES)
    if recipients:
        sender._recipients = _recipients_sample(sender._recipients, recipients)
        if senders:
            sender.envelope_sessions += 1
            sender._envelopes = sample_one(sender._envelopes, _envelope(senders, recipients),
                                           KEEP_ENVELOPES)


def _count_again(sender: SenderStats, name: str, start: datetime, end: datetime) -> None:
    """A sender's next session: its name, start (an attempt) and end."""
    if sender._names is None and name == sender._name:
        sender._name_count += 1
    else:
        sender._add_name(name)
    attempts = sender._attempts
    if attempts is None:
        # The one session so far started at first_seen (see SenderStats.attempts).
        assert sender.first_seen is not None
        sender._attempts = [sender.first_seen, start]
    elif len(attempts) < KEEP_ATTEMPTS - 1:
        attempts.append(start)
    else:
        earliest(attempts, start)
    first = sender.first_seen
    if first is None or start < first:
        sender.first_seen = start
    last = sender.last_seen
    if last is None or end > last:
        sender.last_seen = end


def _fold_helo_rejects(traffic: Traffic, session: SmtpSession, sender: SenderStats,
                       helo_rejects: list[Reject], day: date) -> None:
    """What a session's HELO rejects and warnings tell about its sender."""
    checks = sender._logged_checks
    first = helo_rejects[0]
    if len(helo_rejects) == 1 and first.helo_check is not None:
        sender._logged_checks = tallied(checks, first.helo_check)
        enforced = [] if first.warning else helo_rejects
    else:
        for check in {r.helo_check for r in helo_rejects if r.helo_check is not None}:
            checks = tallied(checks, check)
        sender._logged_checks = checks
        enforced = [r for r in helo_rejects if not r.warning]
    start = session.start
    for reject in enforced:
        if reject.helo_check is Check.UNKNOWN:
            since = traffic.unknown_check_since
            since[session.service] = earlier(since.get(session.service), reject.time) \
                or reject.time
            break
    first_reply = None
    if enforced:
        sender.enforced_rejects += 1
        if any(r.code // 100 == 4 for r in enforced):
            sender.temporary_rejects += 1
        if sender._reject_days is not None or day != sender._reject_day:
            sender.add_reject_day(day)
        sender.first_refused = earlier(sender.first_refused, enforced[0].time)
        sender.last_refused = later(sender.last_refused, enforced[-1].time)
        if len(enforced) == 1:
            first_reply = intern(_reply(enforced[0]))
            sender._replies = sample_one(sender._replies, first_reply, KEEP_REPLIES)
        else:
            sender._replies = sample(sender._replies, {intern(_reply(r)) for r in enforced},
                                     KEEP_REPLIES)
    if sender._first_reply_at is None or start < sender._first_reply_at:
        if first_reply is None or first is not enforced[0]:
            first_reply = intern(_reply(first))
        sender.first_reply = first_reply
        sender._first_reply_at = start


_POSTSCREEN_VIOLATIONS = ("PREGREET", "HANGUP", "COMMAND", "NON-SMTP", "BARE NEWLINE",
                          "DENYLISTED", "BLACKLISTED")

# What an evidence line does to its client (fold_evidence); the compiled core's
# aggregates (core/aggregate.c agg_evidence) number them alike.
SEEN, POSTSCREEN_PASS, DNSBL_RANK, DNSBL_LISTED, POSTSCREEN_REJECT, SPF_REJECT = range(1, 7)
Evidence = tuple[int, int | str | None]
"""One of those operations and its value (a DNSBL rank, a list's domain, or None)."""


def evidence_of(record: LogRecord) -> Evidence:
    """What a postscreen, dnsblog or SPF-reject record does to its client."""
    kind = record.kind
    if kind is Kind.POSTSCREEN_PASS:
        return POSTSCREEN_PASS, None
    if kind is Kind.POSTSCREEN_DNSBL:
        return DNSBL_RANK, record.score or 0
    if kind is Kind.DNSBL_LISTED:
        return DNSBL_LISTED, record.reason
    if kind is Kind.POSTSCREEN_REJECT:
        return POSTSCREEN_REJECT, None
    if kind is Kind.POSTSCREEN_EVENT:
        if record.stage.startswith(_POSTSCREEN_VIOLATIONS):
            return POSTSCREEN_REJECT, None
    elif kind is Kind.SPF_REJECT:
        return SPF_REJECT, None
    return SEEN, None


def fold_evidence(traffic: Traffic, ip: str, op: int, value: int | str | None) -> None:
    """Fold one evidence operation (:func:`evidence_of`) into the client ``ip``; the
    client exists from then on, whatever the operation."""
    if not ip:
        return
    client = traffic.clients.get(ip)
    if client is None:
        client = traffic.clients[ip] = ClientStats(ip)
    if op == POSTSCREEN_PASS:
        client.postscreen_pass += 1
    elif op == DNSBL_RANK:
        assert isinstance(value, int)
        client.dnsbl_rank = max(client.dnsbl_rank, value)
    elif op == DNSBL_LISTED:
        assert isinstance(value, str)
        add_dnsbl_list(client, value)
    elif op == POSTSCREEN_REJECT:
        client.postscreen_rejects += 1
    elif op == SPF_REJECT:
        client.spf_rejects += 1


def add_evidence(traffic: Traffic, record: LogRecord) -> None:
    """Fold a postscreen, dnsblog or SPF-reject record into its client's evidence."""
    fold_evidence(traffic, record.client_ip, *evidence_of(record))


def add_dnsbl_list(client: ClientStats, domain: str) -> None:
    # Interned: a few lists name many clients.
    client._dnsbl_lists = sample(client._dnsbl_lists, (intern(domain),), KEEP_LISTS)
