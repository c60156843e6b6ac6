"""pandas DataFrames of mail logs: events, sessions, senders, checks, findings, suggestions.

The same pipeline as the command line (:mod:`tokenizer`, :mod:`sessions`,
:mod:`senders`, :func:`~loganalyze.pipeline.judge_traffic`), ending in a
DataFrame instead of a report. This is the only module that imports pandas.

Every frame has a fixed schema: a ``*_COLUMNS`` dict (column name -> dtype)
built from a frozen dataclass with :func:`dataclasses.asdict`, shown in the
docstring of the function that returns it, and checked by the tests. Repeated
strings (hosts, services, client names and addresses, HELO names, stages,
reasons) are ``category``; times are ``datetime64[us]`` (naive, as logged);
counts are small integers; nullable columns use pandas' ``boolean``/``Int16``
types or NaN. A month of a busy server's relevant lines fits in memory.

Where the input is a log (``logs``), it may be:

* a ``str`` or :class:`os.PathLike`: one log file (plain, .gz, .bz2, .xz) or ``-``;
* a ``list`` or ``tuple`` of those: several files, oldest first (one timeline);
* any other iterable of ``str`` (an open file, a generator, ``io.StringIO``):
  the log lines themselves. To pass lines held in a list, pass ``iter(lines)``.

Example::

    import loganalyze.frames as lf

    events = lf.read_events("/var/log/mail.log", year=2026)
    analysis = lf.analyze("/var/log/mail.log", no_dns=True)
    lf.findings_frame(analysis).query("verdict == 'legitimate'")
    print("\\n\\n".join(lf.suggestions_frame(analysis).access_entry))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd

from .aggregate import SenderStats
from .compat import Unpack, parse_iso
from .input.files import read_lines
from .judge.checks import Check, check_for_reason, check_helos
from .judge.dns import HostResolver
from .judge.dns_setup import make_resolver
from .judge.verdict import SPF_ORDER, Label, Weights, best_spf
from .model import Kind, LogRecord, Window
from .parse import Tokenizer
from .pipeline import (
    Analysis,
    AnalyzeOptions,
    Finding,
    analyze_lines,
    analyze_logs,
)
from .postfix.config import ServerIdentity, default_identity, load_identity
from .postfix.helo_access import HeloAccessTable, load_helo_access
from .sessions import SessionStats, SmtpSession, build_sessions

__all__ = [
    "CHECK_COLUMNS",
    "COLUMNS",
    "EVENT_COLUMNS",
    "FINDING_COLUMNS",
    "SENDER_COLUMNS",
    "SESSION_COLUMNS",
    "SUGGESTION_COLUMNS",
    "AnalyzeArgs",
    "LogInput",
    "analyze",
    "check_frame",
    "findings_frame",
    "make_resolver",
    "read_events",
    "senders_frame",
    "sessions_frame",
    "suggestions_frame",
]

LogInput = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Iterable[str]
"""One path, a list/tuple of paths, or an iterable of log lines (see the module docstring)."""

_HELO_CHECKS = (Check.INVALID, Check.NON_FQDN, Check.UNKNOWN)
"""The three HELO restrictions in the order Postfix's tutorial lists them (and logs them)."""

_CAT = "category"
_TIME = "datetime64[us]"
_STR = "str"
# pandas 3's default string dtype, named "str"; pandas 2.3 (the last for Python 3.10)
# has it too, but only when asked for by its parts.
_STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else pd.StringDtype(
    "python", na_value=np.nan)

# --- schemas ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSchema:
    """Columns of :func:`read_events`: the :class:`~loganalyze.tokenizer.LogRecord`
    fields, with ``counters`` flattened and ``helo_check``/``source`` added."""

    time: str = _TIME
    host: str = _CAT
    service: str = _CAT
    pid: str = "int32"
    kind: str = _CAT
    client_name: str = _CAT
    client_ip: str = _CAT
    helo: str = _CAT
    sender: str = _CAT
    recipient: str = _CAT
    stage: str = _CAT
    code: str = "Int16"
    dsn: str = _CAT
    reason: str = _CAT
    helo_check: str = _CAT
    warning: str = "bool"
    queue_id: str = _STR
    spf_result: str = _CAT
    spf_identity: str = _CAT
    counters: str = _CAT
    cmd_helo: str = "UInt32"
    cmd_mail: str = "UInt32"
    cmd_rcpt: str = "UInt32"
    cmd_data: str = "UInt32"
    cmd_total: str = "UInt32"
    cmd_failed: str = "UInt32"
    port: str = "UInt16"
    score: str = "Int32"
    detail: str = _CAT
    action: str = _CAT
    source: str = _CAT
    lineno: str = "int64"


@dataclass(frozen=True)
class SessionSchema:
    """Columns of :func:`sessions_frame`: one :class:`~loganalyze.sessions.SmtpSession`."""

    host: str = _CAT
    service: str = _CAT
    pid: str = "int32"
    client_name: str = _CAT
    client_ip: str = _CAT
    start: str = _TIME
    end: str = _TIME
    helo: str = _CAT
    helo_sent: str = "boolean"
    sender: str = _CAT
    sender_domain: str = _CAT
    senders: str = "int32"
    recipients: str = "int32"
    queued: str = "int32"
    rejects: str = "int32"
    reject_categories: str = _CAT
    helo_check: str = _CAT
    helo_checks: str = _CAT
    reply: str = _CAT
    rejected: str = "bool"
    warning: str = "bool"
    helo_required: str = "bool"
    spf: str = _CAT
    spf_identity: str = _CAT
    ended_by: str = _CAT
    hostname_warning: str = "bool"
    saw_connect: str = "bool"
    saw_disconnect: str = "bool"
    counters: str = _CAT


@dataclass(frozen=True)
class SenderSchema:
    """Columns of :func:`senders_frame`: one :class:`~loganalyze.aggregate.SenderStats`."""

    client_ip: str = _STR
    helo: str = _STR
    client_name: str = _STR
    sessions: str = "int32"
    first_seen: str = _TIME
    last_seen: str = _TIME
    days: str = "int32"
    logged_checks: str = _CAT
    rejected: str = "bool"
    enforced_rejects: str = "int32"
    temporary_rejects: str = "int32"
    helo_required_rejects: str = "int32"
    first_reply: str = _STR
    spf: str = _CAT
    sender_domains: str = _STR
    senders: str = _STR
    recipients: str = "int32"
    queued: str = "int32"


@dataclass(frozen=True)
class CheckSchema:
    """Columns of :func:`check_frame`: one :class:`~loganalyze.judge.checks.HeloCheckResult`."""

    helo: str = _STR
    invalid: str = "bool"
    non_fqdn: str = "bool"
    unknown: str = "boolean"
    dns: str = _CAT
    check: str = _CAT
    reply: str = _STR


@dataclass(frozen=True)
class FindingSchema:
    """Columns of :func:`findings_frame`: one :class:`~loganalyze.pipeline.Finding`,
    with the keys of :func:`loganalyze.output.finding_record` plus ``suggested``."""

    helo: str = _STR
    client_ip: str = _STR
    client_name: str = _STR
    check: str = _CAT
    rejected: str = "bool"
    verdict: str = _CAT
    score: str = "float64"
    evidence: str = _STR
    sessions: str = "int32"
    first_seen: str = _TIME
    last_seen: str = _TIME
    spf: str = _CAT
    reply: str = _STR
    dns: str = _CAT
    senders: str = _STR
    sender_domain: str = _CAT
    suggested: str = "bool"
    access_line: str = _STR
    not_suggested_because: str = _STR


@dataclass(frozen=True)
class SuggestionSchema:
    """Columns of :func:`suggestions_frame`: the suggested findings and their entries."""

    helo: str = _STR
    client_ip: str = _STR
    client_name: str = _STR
    check: str = _CAT
    rejected: str = "bool"
    score: str = "float64"
    evidence: str = _STR
    sessions: str = "int32"
    first_seen: str = _TIME
    last_seen: str = _TIME
    access_line: str = _STR
    access_entry: str = _STR


EVENT_COLUMNS: dict[str, str] = asdict(EventSchema())
"""Column name -> dtype of :func:`read_events`."""
SESSION_COLUMNS: dict[str, str] = asdict(SessionSchema())
"""Column name -> dtype of :func:`sessions_frame`."""
SENDER_COLUMNS: dict[str, str] = asdict(SenderSchema())
"""Column name -> dtype of :func:`senders_frame`."""
CHECK_COLUMNS: dict[str, str] = asdict(CheckSchema())
"""Column name -> dtype of :func:`check_frame`."""
FINDING_COLUMNS: dict[str, str] = asdict(FindingSchema())
"""Column name -> dtype of :func:`findings_frame`."""
SUGGESTION_COLUMNS: dict[str, str] = asdict(SuggestionSchema())
"""Column name -> dtype of :func:`suggestions_frame`."""
COLUMNS: dict[str, dict[str, str]] = {
    "events": EVENT_COLUMNS,
    "sessions": SESSION_COLUMNS,
    "senders": SENDER_COLUMNS,
    "checks": CHECK_COLUMNS,
    "findings": FINDING_COLUMNS,
    "suggestions": SUGGESTION_COLUMNS,
}
"""Every frame's schema, by frame name."""

# Categories known in advance keep their meaningful order (enum order, SPF best
# first); values not listed are appended, so a new Postfix text never fails.
_SEEDS: dict[str, tuple[str, ...]] = {
    "kind": tuple(k.value for k in Kind),
    "helo_check": tuple(c.value for c in Check),
    "check": tuple(c.value for c in Check),
    "verdict": tuple(label.value for label in Label),
    "spf": tuple(SPF_ORDER),
    "spf_result": tuple(SPF_ORDER),
    "spf_identity": ("mailfrom", "helo"),
}


# --- column builders -------------------------------------------------------------------
# Rows are gathered in chunks of Python tuples; each full chunk is turned into
# compact arrays column by column (category codes, machine integers,
# datetime64), so building a frame never holds a Python object per cell for
# the whole log, and the per-cell work runs in numpy/pandas, not in Python.

_CHUNK = 1 << 15
"""Rows per chunk."""

_Array = np.ndarray[Any, Any]


def _objects(values: Sequence[Any]) -> tuple[_Array, _Array]:
    """Values as an object array, and where they are missing (None)."""
    data = np.empty(len(values), dtype=object)
    data[:] = values
    return data, pd.isna(data)


class _Category:
    def __init__(self, seed: Sequence[str]) -> None:
        self.index: dict[str, int] = {value: i for i, value in enumerate(seed)}
        self.seeded = bool(seed)
        self.chunks: list[_Array] = []

    def extend(self, values: Sequence[str | None]) -> None:
        data, _ = _objects(values)
        codes, uniques = pd.factorize(data)  # missing values get code -1
        index = self.index
        remap = np.empty(len(uniques) + 1, dtype=np.int32)
        for i, value in enumerate(uniques):
            code = index.get(value)
            if code is None:
                code = index[value] = len(index)
            remap[i] = code
        remap[-1] = -1  # code -1 indexes the last slot
        self.chunks.append(remap[codes])

    def build(self) -> pd.Categorical:
        codes = np.concatenate(self.chunks) if self.chunks else np.empty(0, np.int32)
        values = list(self.index)
        if not self.seeded and values:
            # Unseeded categories sort, so a frame's categories do not depend on line order.
            order = np.array(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
            remap = np.empty(len(values) + 1, dtype=np.int32)
            remap[order] = np.arange(len(values), dtype=np.int32)
            remap[-1] = -1
            codes = remap[codes]
            values = [values[i] for i in order]
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=_STR_DTYPE))


class _Numbers:
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.nullable = dtype[0].isupper() or dtype == "boolean"
        self.numpy_dtype = "bool" if dtype == "boolean" else dtype.lower()
        self.chunks: list[_Array] = []
        self.masks: list[_Array] = []

    def extend(self, values: Sequence[Any]) -> None:
        if not self.nullable:
            self.chunks.append(np.array(values, dtype=self.numpy_dtype))
            return
        data, missing = _objects(values)
        data[missing] = 0
        self.chunks.append(data.astype(self.numpy_dtype))
        self.masks.append(missing)

    def build(self) -> Any:
        values = (np.concatenate(self.chunks) if self.chunks
                  else np.empty(0, dtype=self.numpy_dtype))
        if not self.nullable:
            return values
        mask = np.concatenate(self.masks) if self.masks else np.empty(0, dtype=bool)
        if self.dtype == "boolean":
            return pd.arrays.BooleanArray(values, mask)
        return pd.arrays.IntegerArray(values, mask)


class _Strings:
    def __init__(self) -> None:
        self.values: list[str | None] = []

    def extend(self, values: Sequence[str | None]) -> None:
        self.values.extend(values)

    def build(self) -> Any:
        return pd.array(self.values, dtype=_STR_DTYPE)


_Builder = _Category | _Numbers | _Strings


def _builder(name: str, dtype: str) -> _Builder:
    if dtype == _CAT:
        return _Category(_SEEDS.get(name, ()))
    if dtype == _STR:
        return _Strings()
    return _Numbers(dtype)  # ints, nullable ints, floats, bools, datetime64


class _Table:
    """Rows in, a DataFrame with exactly ``schema``'s columns and dtypes out."""

    def __init__(self, schema: dict[str, str]) -> None:
        self.schema = schema
        self.columns = [_builder(name, dtype) for name, dtype in schema.items()]
        self.rows: list[Sequence[Any]] = []
        self.add = self.rows.append
        """Append one row: values in schema order (None for missing)."""

    def _flush(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        if len(columns) != len(self.columns):
            raise ValueError(f"rows have {len(columns)} values, the schema {len(self.columns)}")
        for builder, values in zip(self.columns, columns, strict=True):
            builder.extend(values)
        self.rows.clear()

    def add_all(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append many rows."""
        rows_list = self.rows
        for row in rows:
            rows_list.append(row)
            if len(rows_list) >= _CHUNK:
                self._flush()

    def frame(self) -> pd.DataFrame:
        """The DataFrame (call once)."""
        self._flush()
        columns = zip(self.schema, self.columns, strict=True)
        data = {name: column.build() for name, column in columns}
        frame = pd.DataFrame(data, columns=list(self.schema))
        # A no-op on the right dtypes; a guard otherwise.
        return frame.astype({name: _STR_DTYPE if dtype == _STR else dtype
                             for name, dtype in self.schema.items()})


# --- inputs ------------------------------------------------------------------------------


def _paths(logs: LogInput) -> list[str] | None:
    """The file names of ``logs``, or None when it is an iterable of lines."""
    if isinstance(logs, str | os.PathLike):
        return [os.fspath(logs)]
    if isinstance(logs, list | tuple):
        return [os.fspath(name) for name in logs]
    return None


def _sources(logs: LogInput) -> list[tuple[str, Iterable[str]]]:
    """(name, lines) per input; files are opened lazily, in the order given."""
    names = _paths(logs)
    if names is None:
        lines = cast(Iterable[str], logs)
        return [("<lines>", (line.rstrip("\r\n") for line in lines))]
    return [(name, _lazy_lines(name)) for name in names]


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
    sources = _sources(logs)
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
    tokenizer = Tokenizer(year=year, now=now, **tokenizer_options)
    table = _Table(EVENT_COLUMNS)
    table.add_all(
        _event_row(record, source)
        for source, record in _records(logs, tokenizer, per_source=True)
    )
    frame = table.frame()
    frame.attrs.update(_line_stats(tokenizer))
    return frame


# --- sessions ----------------------------------------------------------------------------


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].lower()


def _session_row(session: SmtpSession) -> tuple[Any, ...]:
    helo_rejects = session.helo_rejects
    fired = {r.helo_check for r in helo_rejects}
    checks = [c for c in _HELO_CHECKS if c in fired]
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
        sender, _domain(sender), len(session.senders), len(session.recipients), session.queued,
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
    tokenizer = Tokenizer(year=year, now=now)
    stats = SessionStats()
    table = _Table(SESSION_COLUMNS)
    records = (record for _, record in _records(logs, tokenizer))
    table.add_all(_session_row(session) for session in build_sessions(records, stats))
    frame = table.frame()
    frame.attrs.update(_line_stats(tokenizer))
    frame.attrs.update(sessions=stats.sessions, without_connect=stats.without_connect,
                       without_disconnect=stats.without_disconnect,
                       spf_unmatched=stats.spf_unmatched)
    return frame


# --- DNS and the analysis ----------------------------------------------------------------


class AnalyzeArgs(TypedDict, total=False):
    """Keyword arguments of :func:`analyze`, accepted by every frame built from an analysis."""

    year: int | None
    now: datetime | None
    since: datetime | str | None
    until: datetime | str | None
    resolver: HostResolver | None
    nameservers: Sequence[str] | None
    no_dns: bool
    dns_timeout: float
    dns_deadline: float
    dns_cache: str | os.PathLike[str] | None
    no_dns_cache: bool
    postfix_config: str | os.PathLike[str] | None
    server: ServerIdentity | None
    helo_access: HeloAccessTable | str | os.PathLike[str] | None
    weights: Weights | None


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_iso(value)


def analyze(
    logs: LogInput,
    *,
    year: int | None = None,
    now: datetime | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    resolver: HostResolver | None = None,
    nameservers: Sequence[str] | None = None,
    no_dns: bool = False,
    dns_timeout: float = 2.0,
    dns_deadline: float = 30.0,
    dns_cache: str | os.PathLike[str] | None = None,
    no_dns_cache: bool = False,
    postfix_config: str | os.PathLike[str] | None = None,
    server: ServerIdentity | None = None,
    helo_access: HeloAccessTable | str | os.PathLike[str] | None = None,
    weights: Weights | None = None,
) -> Analysis:
    """Run the whole analysis once, as ``analyze LOG...`` does; pass the result to the frames.

    DNS: ``resolver`` if given (e.g. a :class:`~loganalyze.judge.dns.StaticResolver`),
    else :func:`make_resolver` with the CLI's options; with neither ``no_dns``
    nor a resolver, the system's DNS is asked, as the CLI does. ``server`` (or
    ``postfix_config``, the directory of main.cf; default /etc/postfix if
    present) names our own hosts and domains, never suggested.
    ``helo_access`` (a table or its path) holds entries already in place.

    ``since``/``until`` (datetimes or ISO strings, as logged, no time zone)
    keep only the sessions that start, and the evidence logged, at
    ``since <= time < until`` (:class:`~loganalyze.model.Window`, the daily
    report's rule): for example the weeks before the HELO restrictions were
    switched on.
    """
    if resolver is None:
        resolver = make_resolver(nameservers, no_dns=no_dns, dns_timeout=dns_timeout,
                                 dns_deadline=dns_deadline, dns_cache=dns_cache,
                                 no_dns_cache=no_dns_cache)
    if server is None:
        server = load_identity(Path(postfix_config)) if postfix_config is not None \
            else default_identity()
    table = helo_access if isinstance(helo_access, HeloAccessTable) or helo_access is None \
        else load_helo_access(Path(helo_access))
    options = AnalyzeOptions(resolver=resolver, server=server, helo_access=table, year=year,
                             now=now)
    if weights is not None:
        options.weights = weights
    options.window = Window(_moment(since), _moment(until))
    paths = _paths(logs)
    if paths is not None:
        return analyze_logs(paths, options)  # exactly what the CLI runs
    return analyze_lines(_sources(logs)[0][1], options)


def _analysis(source: Analysis | LogInput, options: AnalyzeArgs) -> Analysis:
    if isinstance(source, Analysis):
        if options:
            raise TypeError(
                f"analysis options {sorted(options)} given with an Analysis: "
                "pass them to analyze() instead"
            )
        return source
    return analyze(source, **options)


def _stats_attrs(frame: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    lines = analysis.lines
    frame.attrs.update(lines=lines.lines, matched=lines.matched, irrelevant=lines.irrelevant,
                       unparsed=lines.unparsed, sessions=analysis.sessions.sessions,
                       dns_names=analysis.dns_names, dns_temporary=analysis.dns_temporary)
    return frame


# --- senders -----------------------------------------------------------------------------


def _sender_row(sender: SenderStats) -> tuple[Any, ...]:
    checks = [c.value for c in (*_HELO_CHECKS, Check.HELO_REQUIRED) if sender.logged_checks[c]]
    domains = sorted({d for s in sender.senders if (d := _domain(s)) is not None})
    first = sender.first_seen or datetime.min
    return (
        sender.client_ip, sender.helo, sender.client_name, sender.sessions, first,
        sender.last_seen or first, len(sender.days), ",".join(checks) or None,
        sender.rejected, sender.enforced_rejects, sender.temporary_rejects,
        sender.helo_required_rejects, sender.first_reply or None, best_spf(sender),
        ",".join(domains), ",".join(sorted(sender.senders)[:5]), len(sender.recipients),
        sender.queued,
    )


def senders_frame(source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]) -> pd.DataFrame:
    """One row per sender, a (client address, HELO) pair: what a helo_access line lets in.

    Only sessions whose HELO is known (from a reject, reject_warning or
    policyd-spf line) or that hit smtpd_helo_required make a sender. ``source``
    is an :class:`~loganalyze.pipeline.Analysis` from :func:`analyze`, or a log
    with :func:`analyze`'s keyword arguments (DNS is not used for this frame,
    but ``since``/``until``/``year`` are).

    Schema (:data:`SENDER_COLUMNS`)::

        client_ip              str             client address
        helo                   str             HELO as Postfix stored it ("" when none was sent)
        client_name            str             client name most often logged
        sessions               int32           sessions of this sender
        first_seen             datetime64[us]  start of the first session
        last_seen              datetime64[us]  end of the last session
        days                   int32           distinct days with a session
        logged_checks          category        HELO checks the log shows firing, comma-separated
        rejected               bool            a HELO check really rejected at least one session
        enforced_rejects       int32           sessions really rejected by a HELO check
        temporary_rejects      int32           sessions with a 4xx HELO reject
        helo_required_rejects  int32           sessions that tried MAIL without HELO
        first_reply            str             first HELO reject reply logged, NaN when none
        spf                    category        best policyd-spf result seen
        sender_domains         str             envelope sender domains, comma-separated
        senders                str             envelope senders (a few), comma-separated
        recipients             int32           distinct recipients seen (capped at 50)
        queued                 int32           messages accepted from this sender
    """
    analysis = _analysis(source, options)
    table = _Table(SENDER_COLUMNS)
    table.add_all(_sender_row(sender) for sender in analysis.traffic.senders.values())
    frame = table.frame().sort_values(["first_seen", "client_ip", "helo"], ignore_index=True)
    return _stats_attrs(frame, analysis)


# --- checks ------------------------------------------------------------------------------


def check_frame(
    helos: Iterable[str],
    *,
    resolver: HostResolver | None = None,
    nameservers: Sequence[str] | None = None,
    no_dns: bool = False,
    dns_timeout: float = 2.0,
    dns_deadline: float = 30.0,
    dns_cache: str | os.PathLike[str] | None = None,
    no_dns_cache: bool = False,
) -> pd.DataFrame:
    """Postfix's three HELO checks on each distinct name, as ``loganalyze check`` runs them.

    Names are HELO values as Postfix stored them (the ``helo=<...>`` of a log
    line); each distinct name is one row, in first-seen order, and DNS is asked
    once per name that needs it. DNS options as :func:`make_resolver`.

    Schema (:data:`CHECK_COLUMNS`)::

        helo      str       the HELO value
        invalid   bool      reject_invalid_helo_hostname rejects it
        non_fqdn  bool      reject_non_fqdn_helo_hostname rejects it
        unknown   boolean   reject_unknown_helo_hostname rejects it; NA when undetermined
                            (DNS skipped, or a temporary failure Postfix would defer)
        dns       category  found, nxdomain, nodata, nullmx, malformed, servfail, timeout,
                            refused, skipped, or not_queried (Postfix decides without DNS)
        check     category  the first check that rejects, in restriction order; NaN if none
        reply     str       the reply Postfix would log, NaN when all pass
    """
    names = list(dict.fromkeys(h for h in helos if isinstance(h, str)))
    if resolver is None:
        resolver = make_resolver(nameservers, no_dns=no_dns, dns_timeout=dns_timeout,
                                 dns_deadline=dns_deadline, dns_cache=dns_cache,
                                 no_dns_cache=no_dns_cache)
    table = _Table(CHECK_COLUMNS)
    for result in check_helos(names, resolver).values():
        first = result.first_failed
        table.add((result.helo, result.invalid, result.non_fqdn, result.unknown, result.dns,
                   first.value if first else None, result.reply))
    return table.frame()


# --- findings and suggestions -------------------------------------------------------------


def _finding_row(finding: Finding) -> tuple[Any, ...]:
    access = finding.access_line
    return (
        finding.helo, finding.client_ip, finding.client_name, finding.check.value,
        finding.rejected, finding.verdict.label.value, finding.verdict.score,
        "; ".join(finding.verdict.summary), finding.sessions, finding.first_seen,
        finding.last_seen, finding.spf, finding.reply, finding.dns,
        ", ".join(finding.senders), finding.sender_domain, access is not None,
        access.rsplit("\n", 1)[-1] if access is not None else None,
        finding.not_suggested_because,
    )


def findings_frame(source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]) -> pd.DataFrame:
    """One row per sender whose HELO was (or would be) rejected, with its verdict.

    The rows and their order are those of ``analyze`` (suggested first, then
    legitimate, then by score); the columns are the JSON report's keys
    (:func:`loganalyze.output.finding_record`) plus ``suggested``. ``source``
    is an :class:`~loganalyze.pipeline.Analysis` from :func:`analyze`, or a log
    with :func:`analyze`'s keyword arguments (DNS, server, helo_access, window).

    Schema (:data:`FINDING_COLUMNS`)::

        helo                   str             HELO as Postfix stored it ("" when none was sent)
        client_ip              str             client address
        client_name            str             client name most often logged
        check                  category        the check that fired: invalid, non_fqdn, unknown,
                                               helo_required
        rejected               bool            really rejected; False: it only would be (what-if)
        verdict                category        legitimate, suspicious or spam
        score                  float64         sum of the evidence weights
        evidence               str             the evidence, strongest first, joined with "; "
        sessions               int32           sessions of this sender
        first_seen             datetime64[us]  start of the first session
        last_seen              datetime64[us]  end of the last session
        spf                    category        best policyd-spf result, NaN when none was logged
        reply                  str             the reject reply, as logged or as Postfix would say
        dns                    category        DNS outcome for the unknown check
        senders                str             envelope senders seen (a few), joined with ", "
        sender_domain          category        the envelope sender's domain (HELO for <>)
        suggested              bool            a helo_access line is suggested
        access_line            str             the helo_access line, NaN when not suggested
        not_suggested_because  str             why a legitimate sender is not suggested, else NaN
    """
    analysis = _analysis(source, options)
    table = _Table(FINDING_COLUMNS)
    table.add_all(_finding_row(finding) for finding in analysis.findings)
    return _stats_attrs(table.frame(), analysis)


def suggestions_frame(
    source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]
) -> pd.DataFrame:
    """The senders worth a helo_access entry (``analyze --suggest``), one row each.

    ``"\\n\\n".join(frame.access_entry)`` is what ``--format helo-access``
    prints: append it to /etc/postfix/helo_access and run ``postmap``.
    ``source`` as :func:`findings_frame`.

    Schema (:data:`SUGGESTION_COLUMNS`)::

        helo          str             HELO as Postfix stored it
        client_ip     str             client address
        client_name   str             client name most often logged
        check         category        the check that rejected it
        rejected      bool            really rejected; False: it only would be
        score         float64         sum of the evidence weights
        evidence      str             the evidence, strongest first, joined with "; "
        sessions      int32           sessions of this sender
        first_seen    datetime64[us]  start of the first session
        last_seen     datetime64[us]  end of the last session
        access_line   str             the helo_access line, e.g. "mail.example.com OK"
        access_entry  str             the line after its "#" evidence comment, postmap-ready
    """
    analysis = _analysis(source, options)
    table = _Table(SUGGESTION_COLUMNS)
    table.add_all(
        (f.helo, f.client_ip, f.client_name, f.check.value, f.rejected, f.verdict.score,
         "; ".join(f.verdict.summary), f.sessions, f.first_seen, f.last_seen,
         (f.access_line or "").rsplit("\n", 1)[-1], f.access_line)
        for f in analysis.suggestions
    )
    return _stats_attrs(table.frame(), analysis)
