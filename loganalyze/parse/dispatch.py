"""The dispatcher: split the header, hand the message to its daemon's module; no I/O here.

Only the lines the HELO analysis needs become :class:`~loganalyze.model.LogRecord`
objects: smtpd (and postscreen) session lines, reject lines and SPF policy results.
Everything else is counted as irrelevant, and lines that look like ours but do not
parse are kept as :class:`~loganalyze.model.Unparsed` so a run can say what it
skipped. Every line lands in exactly one of ``stats.matched``, ``stats.irrelevant``
and ``stats.unparsed``. Which records are made is chosen with ``kinds``: by default
those the session builder consumes (:data:`~loganalyze.model.SESSION_KINDS`);
postscreen, dnsblog and policyd-spf reject/defer records
(:data:`~loganalyze.model.EVIDENCE_KINDS`) on request.

The rules live in :mod:`.header` (time stamps) and one module per daemon
(:mod:`.smtpd`, :mod:`.postscreen`, :mod:`.policyd_spf`, :mod:`.dnsblog`);
:meth:`Tokenizer.parse` and the fast path of :meth:`Tokenizer.scan` call the same
functions of those modules, so they cannot disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo

from ..model import (
    POSTSCREEN_KINDS,
    SESSION_KINDS,
    InputFormat,
    Kind,
    LogRecord,
    TokenizerStats,
    Unparsed,
)
from . import dnsblog, policyd_spf, postscreen, smtpd
from .header import (
    HEADERS,
    JSON_START,
    LOG_START,
    MAX_JSON_LINE,
    MAX_LINE,
    NEVER,
    STARTS,
    Clock,
    journal_stamp,
    journal_str,
    pick_format,
)

# Which daemon's module reads the messages of a syslog tag.
OTHER = 0
"""Another program (qmgr, cleanup, ...): the line is only counted."""
SMTPD = 2
""":mod:`.smtpd` (``postfix/smtpd``, ``postfix/submission/smtpd``, ...)."""
SPF = 3
""":mod:`.policyd_spf`, the Python daemon."""
SPF_PERL = 4
""":mod:`.policyd_spf`, the Perl daemon (``postfix/policy-spf``)."""
POSTSCREEN = 5
""":mod:`.postscreen`."""
DNSBLOG = 6
""":mod:`.dnsblog`."""
TIME_ERRORS = (ValueError, KeyError, OverflowError, OSError)
"""What an invalid time stamp raises."""
# The daemons this package reads, and those read only when postscreen kinds are asked for.
_DAEMONS = ("smtpd", "spf")
_POSTSCREEN_DAEMONS = ("postscreen", "dnsblog")


def daemon_of(service: str, postscreen: bool) -> int:
    """Which module reads the messages of a syslog tag (without pid)."""
    if service.endswith("/smtpd"):
        return SMTPD
    if service.endswith("spf"):
        return SPF_PERL if policyd_spf.is_perl(service) else SPF
    if postscreen:
        if service.endswith("/postscreen"):
            return POSTSCREEN
        if service.endswith("/dnsblog"):
            return DNSBLOG
    return OTHER


def names_daemon(line: str, postscreen: bool) -> bool:
    """Whether a text line may be one of ours: a cheap screen before its header is read."""
    return "smtpd[" in line or "spf[" in line or (
        postscreen and ("postscreen[" in line or "dnsblog[" in line))


class LineParser:
    """Stateful line parser: it infers the year of traditional syslog lines.

    ``year``, ``now`` and ``tz`` set the :class:`~loganalyze.parse.header.Clock`
    (year inference; the zone of epoch stamps, and of RFC 3339 stamps when
    given). ``input_format`` forces one line format (lines in any other shape
    are unparsed); ``auto`` picks it per line. ``kinds`` selects the records
    to emit (default :data:`~loganalyze.model.SESSION_KINDS`, what the session
    builder consumes); lines that would give another kind count as irrelevant.
    :class:`~loganalyze.parse.scan.Tokenizer` adds the fast path for blocks of lines.
    """

    def __init__(
        self,
        year: int | None = None,
        now: datetime | None = None,
        *,
        tz: tzinfo | None = None,
        input_format: InputFormat | str = InputFormat.AUTO,
        kinds: Iterable[Kind] | None = None,
        year_inferred: bool = False,
    ) -> None:
        # year_inferred: ``year`` is where an earlier read's inference stood, not --year.
        self._clock = Clock(year, now or datetime.now(), tz,
                            explicit=year is not None and not year_inferred)
        self._time_cache: dict[str, datetime] = {}
        self._clock.caches.append(self._time_cache)
        self.input_format = InputFormat(input_format)
        # The format of the last text line parsed, tried first on the next one.
        self._fmt: InputFormat = (InputFormat.SYSLOG if self.input_format is InputFormat.AUTO
                                  else self.input_format)
        self._regex = HEADERS.get(self._fmt, NEVER)
        self._start = STARTS[self._fmt]
        self.kinds: frozenset[Kind] = SESSION_KINDS if kinds is None else frozenset(kinds)
        self._postscreen = bool(self.kinds & POSTSCREEN_KINDS)
        daemons = _DAEMONS + (_POSTSCREEN_DAEMONS if self._postscreen else ())
        # journalctl -o json: the identifier is followed by its closing quote.
        self._json_marks = tuple(f'{name}"' for name in daemons)
        self.stats = TokenizerStats()
        self.line_number = 0
        """The number of the line being parsed (a sink called from :meth:`scan` reads it
        to know where a session began)."""

    def _match(self, line: str) -> tuple[re.Match[str], InputFormat] | str:
        """Match the header of a text line, or say why it does not match."""
        m = self._regex.match(line)
        if m is not None:
            return m, self._fmt
        fmt: InputFormat = self.input_format
        if fmt is InputFormat.JOURNAL_JSON:
            return "not a journal JSON entry"
        if fmt is InputFormat.AUTO:
            picked = pick_format(line)
            if not isinstance(picked, InputFormat):
                return picked
            fmt = picked
            m = HEADERS[fmt].match(line)
            if m is not None:
                # Most inputs keep one format: try it first on the next line.
                self._fmt, self._regex, self._start = fmt, HEADERS[fmt], STARTS[fmt]
                return m, fmt
        return "unknown timestamp or tag"

    @property
    def clock(self) -> Clock:
        """The time stamp reader (year inference) of this parser's timeline."""
        return self._clock

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        """Parse one line into a record, or None (irrelevant or not understood).

        Unparsed lines are counted and sampled in :attr:`stats`. Never raises.
        """
        self.stats.lines += 1
        self.line_number = lineno
        return self._parse(line, lineno)

    def _parse(self, line: str, lineno: int) -> LogRecord | None:
        stats = self.stats
        # Cheap rejections first: most lines of a busy log are qmgr, cleanup, delivery.
        if not names_daemon(line, self._postscreen):
            start = self._start
            if start.match(line) is not None:
                if start is JSON_START:
                    return self._parse_json(line, lineno)
                stats.irrelevant += 1
            elif line[:1] == "{":
                return self._parse_json(line, lineno)
            elif LOG_START.match(line) is not None:
                stats.irrelevant += 1
            else:
                stats.add_unparsed(Unparsed(line[:MAX_LINE], lineno, "not a syslog line"))
            return None
        if line[:1] == "{":
            return self._parse_json(line, lineno)
        if len(line) > MAX_LINE:
            stats.add_unparsed(Unparsed(line[:200], lineno, "line too long for a syslog record"))
            return None
        m = self._regex.match(line)
        fmt: InputFormat
        if m is not None:
            fmt = self._fmt
        else:
            matched = self._match(line)
            if isinstance(matched, str):
                stats.add_unparsed(Unparsed(line, lineno, matched))
                return None
            m, fmt = matched
        service = m["service"]
        daemon = daemon_of(service, self._postscreen)
        if daemon == OTHER:
            stats.irrelevant += 1  # another program: its time stamp is not even read
            return None
        try:
            if fmt is InputFormat.SYSLOG and not m["frac"]:
                # Many lines share a second: cache the inferred time. The key is
                # the stamp and the space after it (what the fast path looks up).
                key = line[:m.end("time") + 1]
                when = self._time_cache.get(key)
                if when is None:
                    when = self._clock.syslog(m["mon"], m["day"], m["time"], None)
                    if len(self._time_cache) > 4096:
                        self._time_cache.clear()
                    self._time_cache[key] = when
            else:
                when = self._clock.of(m, fmt)
        except TIME_ERRORS:
            stats.add_unparsed(Unparsed(line, lineno, "invalid timestamp"))
            return None
        return self._finish(line, lineno, when, daemon, m["host"], service, int(m["pid"]),
                            m["msg"])

    def _finish(
        self, line: str, lineno: int, when: datetime, daemon: int, host: str, service: str,
        pid: int, msg: str,
    ) -> LogRecord | None:
        """The record of a message of ``daemon``, counted in :attr:`stats`."""
        stats = self.stats
        record: LogRecord | str | None
        try:
            if daemon == SMTPD:
                record = smtpd.record(msg, when, host, service, pid)
            elif daemon == SPF or daemon == SPF_PERL:
                record = policyd_spf.record(msg, when, host, service, pid)
            elif daemon == POSTSCREEN:
                record = postscreen.record(msg, when, host, service, pid)
            elif daemon == DNSBLOG:
                record = dnsblog.record(msg, when, host, service, pid)
            else:
                record = None
        except (ValueError, KeyError) as exc:  # pragma: no cover - defensive
            stats.add_unparsed(Unparsed(line, lineno, f"parse error: {exc}"))
            return None
        if record is None:
            stats.irrelevant += 1
            return None
        if isinstance(record, str):
            stats.add_unparsed(Unparsed(line, lineno, record))
            return None
        if record.kind not in self.kinds:
            stats.irrelevant += 1
            return None
        record.lineno = lineno
        stats.matched += 1
        return record

    def _parse_json(self, line: str, lineno: int) -> LogRecord | None:
        """One ``journalctl -o json`` entry (fields: postfix-reference section 4)."""
        stats = self.stats
        fmt = self.input_format
        if fmt is not InputFormat.AUTO and fmt is not InputFormat.JOURNAL_JSON:
            stats.add_unparsed(Unparsed(line[:200], lineno, f"not a {fmt.value} line"))
            return None
        if len(line) > MAX_JSON_LINE:
            stats.add_unparsed(Unparsed(line[:200], lineno, "journal entry too long"))
            return None
        if not any(mark in line for mark in self._json_marks):
            if line.rstrip().endswith("}"):
                stats.irrelevant += 1
            else:
                stats.add_unparsed(Unparsed(line[:MAX_LINE], lineno, "truncated journal entry"))
            return None
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            stats.add_unparsed(Unparsed(line[:MAX_LINE], lineno, "invalid JSON"))
            return None
        if not isinstance(entry, dict):
            stats.add_unparsed(
                Unparsed(line[:MAX_LINE], lineno, "JSON line is not a journal entry"))
            return None
        service = journal_str(entry.get("SYSLOG_IDENTIFIER")) or journal_str(
            entry.get("_COMM"))
        daemon = daemon_of(service, self._postscreen)
        if daemon == OTHER:
            stats.irrelevant += 1
            return None
        msg = entry.get("MESSAGE")
        stamp = journal_stamp(entry)
        pid_text = journal_str(entry.get("SYSLOG_PID")) or journal_str(entry.get("_PID"))
        if msg is None or not stamp.isdecimal() or not pid_text.isdecimal():
            stats.add_unparsed(Unparsed(
                line[:MAX_LINE], lineno, "journal entry without MESSAGE, time or PID"))
            return None
        try:
            when = self._clock.journal(stamp)
        except TIME_ERRORS:
            stats.add_unparsed(Unparsed(line[:MAX_LINE], lineno, "invalid timestamp"))
            return None
        text = journal_str(msg)
        if len(text) > MAX_LINE:
            stats.add_unparsed(Unparsed(line[:200], lineno, "message too long for a syslog record"))
            return None
        host = journal_str(entry.get("_HOSTNAME"))
        return self._finish(line, lineno, when, daemon, host, service, int(pid_text), text)

    def line_time(self, line: str) -> datetime | None:
        """The time of one line, without counting it; None if it has no valid stamp.

        Uses (and advances) this tokenizer's year inference, so call it on a
        tokenizer of its own, e.g. to find the first time of a file.
        """
        try:
            if line[:1] == "{":
                return self._clock.journal(journal_stamp(json.loads(line)))
            matched = self._match(line)
            if isinstance(matched, str):
                return None
            return self._clock.of(*matched)
        except (*TIME_ERRORS, AttributeError, RecursionError):
            return None

    def tokenize(self, lines: Iterable[str], start: int = 1) -> Iterator[LogRecord]:
        """Yield the records of ``lines``; counts and unparsed samples go to ``stats``."""
        parse = self.parse
        for lineno, line in enumerate(lines, start):
            record = parse(line, lineno)
            if record is not None:
                yield record
