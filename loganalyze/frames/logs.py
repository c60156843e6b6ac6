"""Frames read straight from the log: events (one row per record) and sessions."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, cast

import pandas as pd

from ..input.files import read_lines
from ..input.timeline import reference_time
from ..judge.checks import Check, check_for_reason
from ..model import Kind, LogRecord
from ..parse import Tokenizer
from ..sessions import SessionStats, SmtpSession, build_sessions
from .columns import Table
from .schemas import (
    EVENT_COLUMNS,
    HELO_CHECKS,
    SESSION_COLUMNS,
)

LogInput = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Iterable[str]
"""One path, a list/tuple of paths, or an iterable of log lines (see the module docstring)."""


# --- inputs ------------------------------------------------------------------------------


def log_paths(logs: LogInput) -> list[str] | None:
    """The file names of ``logs``, or None when it is an iterable of lines."""
    if isinstance(logs, str | os.PathLike):
        return [os.fspath(logs)]
    if isinstance(logs, list | tuple):
        return [os.fspath(name) for name in logs]
    return None


def log_sources(logs: LogInput) -> list[tuple[str, Iterable[str]]]:
    """(name, lines) per input; files are opened lazily, in the order given."""
    names = log_paths(logs)
    if names is None:
        lines = cast(Iterable[str], logs)
        return [("<lines>", (line.rstrip("\r\n") for line in lines))]
    return [(name, _lazy_lines(name)) for name in names]


def _reference(logs: LogInput, now: datetime | None) -> datetime | None:
    """What the first line's year is dated back from, as analyze does it: the first
    file's modification time (or ``now``, when earlier); lines: ``now``."""
    names = log_paths(logs)
    return reference_time(names[0], now) if names else now


def _lazy_lines(name: str) -> Iterator[str]:
    """The lines of one file, opened only when the first line is wanted."""
    yield from read_lines(name)


def _records(
    logs: LogInput, tokenizer: Tokenizer, per_source: bool = False
) -> Iterator[tuple[str, LogRecord]]:
    """Records of all inputs through one tokenizer (one timeline for year inference).

    Line numbers restart at 1 in each file when ``per_source``; otherwise they
    run on across files, as in :func:`~loganalyze.pipeline.analyze_logs`.
    """
    sources = log_sources(logs)
    if per_source:
        for name, lines in sources:
            for record in tokenizer.tokenize(lines):
                yield name, record
    else:
        for record in tokenizer.tokenize(chain.from_iterable(lines for _, lines in sources)):
            yield "", record


def _line_stats(tokenizer: Tokenizer) -> dict[str, int]:
    stats = tokenizer.stats
    return {"lines": stats.lines, "matched": stats.matched, "irrelevant": stats.irrelevant,
            "unparsed": stats.unparsed}


# --- events ------------------------------------------------------------------------------


def _counter_text(counters: dict[str, tuple[int, int]]) -> str:
    """The counters as Postfix logs them: ``ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4``."""
    return " ".join(
        f"{name}={ok}" if ok == total else f"{name}={ok}/{total}"
        for name, (ok, total) in counters.items()
    )


def _total(counters: dict[str, tuple[int, int]], *names: str) -> int:
    return sum(counters[name][1] for name in names if name in counters)


def _event_row(record: LogRecord, source: str) -> tuple[Any, ...]:
    helo_check = None
    if record.kind is Kind.REJECT and "Helo command rejected" in record.reason:
        check = check_for_reason(record.reason)
        helo_check = check.value if check is not None else None
    counters = record.counters
    if record.kind is Kind.DISCONNECT:
        commands = counters.get("commands")
        if commands is None:
            ok = sum(v[0] for v in counters.values())
            commands = (ok, sum(v[1] for v in counters.values()))
        cmds: tuple[Any, ...] = (
            _counter_text(counters),
            _total(counters, "helo", "ehlo"), _total(counters, "mail"),
            _total(counters, "rcpt"), _total(counters, "data", "bdat"),
            commands[1], commands[1] - commands[0],
        )
    else:
        cmds = (None,) * 7
    return (
        record.time, record.host, record.service, record.pid, record.kind.value,
        record.client_name or None, record.client_ip or None, record.helo, record.sender,
        record.recipient, record.stage or None, record.code or None, record.dsn or None,
        record.reason or None, helo_check, record.warning, record.queue_id or None,
        record.spf_result or None, record.spf_identity or None, *cmds,
        getattr(record, "port", 0) or None, getattr(record, "score", 0) or None,
        getattr(record, "detail", "") or None, getattr(record, "action", "") or None,
        source, record.lineno,
    )


def read_events(
    logs: LogInput, *, year: int | None = None, now: datetime | None = None,
    **tokenizer_options: Any,
) -> pd.DataFrame:
    """One row per relevant log line (a :class:`~loganalyze.tokenizer.LogRecord`), in log order.

    ``year`` is the year of the first traditional-syslog line (default: inferred
    from ``now``, as the CLI's ``--year``); other keyword arguments go to
    :class:`~loganalyze.tokenizer.Tokenizer` (e.g. ``kinds=`` for postscreen
    and dnsblog records, ``tz=``, ``input_format=``). Lines the analysis does not need
    (queue manager, delivery agents, ...) are not rows; ``frame.attrs`` holds
    the line counts (``lines``, ``matched``, ``irrelevant``, ``unparsed``).

    Schema (:data:`EVENT_COLUMNS`)::

        time            datetime64[us]  wall-clock time as logged (no time zone)
        host            category        syslog host name
        service         category        syslog tag without pid, e.g. postfix/smtpd
        pid             int32           process id
        kind            category        connect, disconnect, reject, lost, hostname_mismatch,
                                        spf or client
        client_name     category        client name as Postfix verified it, or unknown
        client_ip       category        client address
        helo            category        the helo=<...> value, NaN when the line has none
        sender          category        envelope sender; "" is the null sender, NaN unknown
        recipient       category        envelope recipient of a reject
        stage           category        SMTP stage of a reject or lost connection (RCPT, EHLO, ...)
        code            Int16           reply code of a reject
        dsn             category        enhanced status code of a reject, e.g. 4.7.1
        reason          category        reply text; SPF comment; lost/timeout; warning text
        helo_check      category        the HELO check that wrote a reject line (Check values)
        warning         bool            True for reject_warning (warn_if_reject)
        queue_id        str             queue id of client= lines and queued rejects
        spf_result      category        pass, fail, softfail, neutral, none, temperror, permerror
        spf_identity    category        mailfrom or helo
        counters        category        disconnect counters as logged: ehlo=1 mail=1 rcpt=0/1 ...
        cmd_helo        UInt32          HELO + EHLO commands (disconnect lines only)
        cmd_mail        UInt32          MAIL commands (disconnect lines only)
        cmd_rcpt        UInt32          RCPT commands (disconnect lines only)
        cmd_data        UInt32          DATA + BDAT commands (disconnect lines only)
        cmd_total       UInt32          all commands (disconnect lines only)
        cmd_failed      UInt32          commands that failed (disconnect lines only)
        port            UInt16          client port, when logged (postscreen, client_port_logging)
        score           Int32           postscreen DNSBL rank
        detail          category        extra text: dnsblog answer, postscreen event detail
        action          category        for SPF lines: prepend, reject or defer
        source          category        file name, or <lines> for an iterable of lines
        lineno          int64           line number in that file, from 1
    """
    tokenizer = Tokenizer(year=year, now=_reference(logs, now), **tokenizer_options)
    table = Table(EVENT_COLUMNS)
    table.add_all(
        _event_row(record, source)
        for source, record in _records(logs, tokenizer, per_source=True)
    )
    frame = table.frame()
    frame.attrs.update(_line_stats(tokenizer))
    return frame


# --- sessions ----------------------------------------------------------------------------


def address_domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].lower()


def _session_row(session: SmtpSession) -> tuple[Any, ...]:
    helo_rejects = session.helo_rejects
    fired = {r.helo_check for r in helo_rejects}
    checks = [c for c in HELO_CHECKS if c in fired]
    helo_required = session.helo_required_reject
    if helo_required:
        checks.append(Check.HELO_REQUIRED)
    categories = sorted({r.category for r in session.rejects})
    reply = None
    if helo_rejects:
        first = helo_rejects[0]
        reply = f"{first.code} {first.dsn} {first.reason}".replace("  ", " ")
    spf = next((s for s in session.spf if s.identity == "mailfrom"),
               session.spf[0] if session.spf else None)
    sender = session.senders[0] if session.senders else None
    return (
        session.host, session.service, session.pid, session.client_name or None,
        session.client_ip or None, session.start, session.end, session.helo, session.sent_helo,
        sender, address_domain(sender), len(session.senders), len(session.recipients),
        session.queued,
        len(session.rejects), ",".join(categories) or None,
        checks[0].value if checks else None, ",".join(c.value for c in checks) or None, reply,
        any(not r.warning for r in helo_rejects) or helo_required,
        any(r.warning for r in helo_rejects), helo_required,
        spf.result if spf else None, spf.identity if spf else None, session.ended_by or None,
        bool(session.hostname_warning), session.saw_connect, session.saw_disconnect,
        _counter_text(session.counters) if session.counters is not None else None,
    )


def sessions_frame(
    logs: LogInput, *, year: int | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """One row per smtpd session (:class:`~loganalyze.sessions.SmtpSession`), in order of ending.

    ``frame.attrs`` holds the line counts (as :func:`read_events`) and the
    session counts (``sessions``, ``without_connect``, ``without_disconnect``,
    ``spf_unmatched``).

    Schema (:data:`SESSION_COLUMNS`)::

        host               category        syslog host name
        service            category        smtpd service, e.g. postfix/submission/smtpd
        pid                int32           smtpd process id
        client_name        category        client name as Postfix verified it, or unknown
        client_ip          category        client address
        start              datetime64[us]  first line of the session
        end                datetime64[us]  last line of the session
        helo               category        HELO as Postfix stored it (from reject or SPF lines)
        helo_sent          boolean         the client sent HELO/EHLO; NA when the log cannot tell
        sender             category        first envelope sender ("" null sender, NaN none seen)
        sender_domain      category        domain of that sender, lower case
        senders            int32           distinct envelope senders seen
        recipients         int32           distinct recipients seen (in reject lines)
        queued             int32           messages accepted into the queue
        rejects            int32           reject and reject_warning lines
        reject_categories  category        kinds of reject, comma-separated: helo_unknown,rbl,...
        helo_check         category        first HELO check that fired: invalid, non_fqdn, unknown
                                           or helo_required
        helo_checks        category        every HELO check that fired, comma-separated
        reply              category        first HELO reject reply (code, DSN, text)
        rejected           bool            a HELO check really rejected (or helo_required's 503)
        warning            bool            a HELO check logged reject_warning (would have rejected)
        helo_required      bool            MAIL without HELO/EHLO got 503 (smtpd_helo_required)
        spf                category        policyd-spf result (mailfrom identity first)
        spf_identity       category        mailfrom or helo
        ended_by           category        lost connection after X / timeout after X, NaN on QUIT
        hostname_warning   bool            Postfix warned the reverse name does not resolve
        saw_connect        bool            False when the log starts inside the session
        saw_disconnect     bool            False when the log ends before the disconnect line
        counters           category        disconnect counters as logged, NaN without disconnect
    """
    tokenizer = Tokenizer(year=year, now=_reference(logs, now))
    stats = SessionStats()
    table = Table(SESSION_COLUMNS)
    records = (record for _, record in _records(logs, tokenizer))
    table.add_all(_session_row(session) for session in build_sessions(records, stats))
    frame = table.frame()
    frame.attrs.update(_line_stats(tokenizer))
    frame.attrs.update(sessions=stats.sessions, without_connect=stats.without_connect,
                       without_disconnect=stats.without_disconnect,
                       spf_unmatched=stats.spf_unmatched)
    return frame
