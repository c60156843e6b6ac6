"""The fast path: blocks of syslog lines straight to a :class:`~loganalyze.model.LineSink`.

:class:`Tokenizer` is the :class:`~loganalyze.parse.dispatch.LineParser` plus
:meth:`Tokenizer.scan`, which reads the frequent lines of a syslog or rsyslog
file without a regular expression for their header and without a record object.
It calls the same functions of the daemon modules as :meth:`LineParser.parse`,
so the two cannot disagree (``tests/test_fast_path.py`` checks every fixture).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from ..core import HANDLED, NEED_TIME
from ..input.lines import KeptLines, RawLines, decode_line
from ..model import (
    POSTSCREEN_KINDS,
    SESSION_KINDS,
    InputFormat,
    Kind,
    LineSink,
    LogRecord,
    TokenizerStats,
)
from . import dnsblog, policyd_spf, postscreen, smtpd
from .dispatch import (
    DNSBLOG,
    OTHER,
    POSTSCREEN,
    SMTPD,
    SPF,
    TIME_ERRORS,
    LineParser,
    daemon_of,
    names_daemon,
)

if TYPE_CHECKING:
    from ..core.engine import CompiledSessions
from .header import (
    ISO,
    MAX_LINE,
    NOTAG,
    RFC_STAMP,
    RFC_TAG_AT,
    SYSLOG_STAMP,
    SYSLOG_TAG_AT,
    TAG,
    TRADITIONAL,
)

_NOTAG = 1
"""A well-formed line without ``tag[pid]`` (``host dovecot: ...``)."""
_Tag = tuple[int, str, str, int]
"""(daemon, host, service, pid): what a learned ``host tag[pid]`` is."""
_OTHER_TAG: _Tag = (OTHER, "", "", 0)
_NOTAG_TAG: _Tag = (_NOTAG, "", "", 0)
_SECONDS = {f"{n:02d}": timedelta(seconds=n) for n in range(60)}
# Entries kept in each cache before it starts again: a day's worth of new pids
# would otherwise take tens of megabytes.
_CACHE_ENTRIES = smtpd.CACHE_ENTRIES
_CONNECT_AT = len(smtpd.CONNECT)


class _StopAt(Exception):
    """Scanning stops before line :attr:`line` (see :meth:`Tokenizer.scan`)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class Tokenizer(LineParser):
    """The line parser with a fast path for blocks of lines (:meth:`scan`).

    Same arguments as :class:`~loganalyze.parse.dispatch.LineParser`.
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
        super().__init__(year, now, tz=tz, input_format=input_format, kinds=kinds,
                         year_inferred=year_inferred)
        # The fast path (syslog lines): what it has learned so far.
        self._scan_fast = (
            self.input_format in (InputFormat.AUTO, InputFormat.SYSLOG)
            and SESSION_KINDS <= self.kinds
            and (not self._postscreen or POSTSCREEN_KINDS <= self.kinds)
        )
        self._tags: dict[str, _Tag] = {}
        self._minutes: dict[str, datetime] = {}
        self._clock.caches.append(self._minutes)
        self._shapes: set[str] = set()
        self._until: datetime | None = None

    def scan(self, lines: Sequence[str], lineno: int, sink: LineSink,
             until: datetime | None = None) -> int | None:
        """Parse a block of lines into calls of ``sink``; ``lineno`` is the first line's number.

        The result is exactly that of :meth:`parse` on each line with every
        record passed to ``sink.record``, and the same counts in :attr:`stats`.
        But the common lines of a syslog file cost no regular expression for
        their header and make no record object: the header ``host tag[pid]``
        and the time stamp are looked up in what earlier lines taught (a line
        that teaches nothing takes the :meth:`parse` way), lines of other
        programs are only counted, and the frequent smtpd, postscreen and
        policyd-spf messages go straight to the sink's methods named after
        their kind (:class:`~loganalyze.model.LineSink`), read by the same
        functions of the daemon modules that :meth:`parse` calls. Lines are
        given without line endings.

        With ``until``, scanning stops before the first line of the daemons
        read here logged at or after that time, and returns its number (the
        daily report leaves the rest for its next run); otherwise None.

        ``lines`` may be :class:`~loganalyze.input.lines.KeptLines` (not with
        ``until``): the lines it leaves out count as irrelevant, as they would.
        They may be :class:`~loganalyze.input.lines.RawLines`: when ``sink`` offers
        the compiled core's session builder (``compiled_sessions()``) and this
        tokenizer reads the way its scanner does, the scanner reads them, and
        Python only the lines it leaves (:meth:`_scan_compiled`); once it has,
        every later block's events go to that builder too.
        """
        if isinstance(lines, RawLines):
            compiled = self.compiled_builder(sink, until)
            if compiled is not None:
                self._scan_compiled(lines.body, lineno, compiled)
                return None
            lines = lines.decoded()
        # (looked up on the class: a sink's __getattr__ does not offer one)
        compiled = (getattr(sink, "compiled", None) if hasattr(type(sink), "compiled_sessions")
                    else None)
        if compiled is not None:  # a text block after raw ones: the same builder
            if until is not None:
                raise ValueError("scan(until=...) with the compiled session builder")
            self.scan(lines, lineno, compiled.lines)
            compiled.drain()
            return None
        total = len(lines)
        numbers: Iterable[int] = range(lineno, lineno + total)
        if isinstance(lines, KeptLines):
            if until is not None:
                raise ValueError("scan(until=...) needs every line")
            total, numbers = lines.total, map(lineno.__add__, lines.numbers)
            self.stats.lines += total - len(lines)
            self.stats.irrelevant += total - len(lines)
        if not self._scan_fast:
            parse, emit = self.parse, sink.record
            for number, line in zip(numbers, lines, strict=True):
                record = parse(line, number)
                if record is not None:
                    if until is not None and record.time >= until:
                        self.stats.lines -= 1  # left for the next read
                        return number
                    emit(record)
            return None
        self._until = until
        return self._scan_block(lines, numbers, lineno + total, sink, until)

    def compiled_builder(self, sink: LineSink,
                         until: datetime | None = None) -> CompiledSessions | None:
        """The compiled session builder of ``sink``, if the scanner reads as this tokenizer
        does: syslog or RFC 3339 lines in the fast path's way, stamps kept as written
        (no ``--tz``), to the end (no ``until``)."""
        offer = getattr(sink, "compiled_sessions", None) if hasattr(
            type(sink), "compiled_sessions") else None
        if (offer is None or not self._scan_fast or until is not None
                or self._clock.tz is not None or self.input_format is not InputFormat.AUTO):
            return None
        compiled: CompiledSessions | None = offer()
        return compiled

    def _scan_compiled(self, body: bytes, lineno: int, compiled: CompiledSessions) -> None:
        """The compiled scanner over ``body``; the lines it leaves, in Python, in order.

        A traditional stamp the scanner has no time for is dated here, by the same
        steps as :meth:`_scan_block` (so the year inference is Python's). The
        scanner dates the stamps of the clock's month itself: the time of a stamp
        depends on the stamp and the clock's state alone (:attr:`Clock.caches`), and
        it is told the state whenever that changes.
        """
        stats, times, sink, clock = self.stats, self._time_cache, compiled.lines, self._clock
        position, size = 0, len(body)
        self._until = None
        told = clock.state
        compiled.set_clock(told)
        while True:
            status, position = compiled.scan(body, position, self._postscreen, lineno)
            read, matched, irrelevant = compiled.counts()
            stats.lines += read
            stats.matched += matched
            stats.irrelevant += irrelevant
            lineno += read
            if status == HANDLED:
                break
            newline = body.find(b"\n", position)
            end = size if newline < 0 else newline
            line = decode_line(body[position:end])
            if status == NEED_TIME:
                stamp = line[:SYSLOG_TAG_AT]
                when = times.get(stamp) or self._scan_time(stamp)
                if when is not None:
                    if clock.state != told:
                        told = clock.state
                        compiled.set_clock(told)
                    compiled.set_time(stamp, when)
                    continue
                stats.lines += 1
                self.line_number = lineno
                self._scan_slow(line, lineno, sink)
            else:
                self._scan_block([line], (lineno,), lineno + 1, sink, None)
            if clock.state != told:
                told = clock.state
                compiled.set_clock(told)
            position = end + 1
            lineno += 1
        compiled.drain()

    def _scan_block(self, lines: Sequence[str], numbers: Iterable[int], end: int,
                    sink: LineSink, until: datetime | None) -> int | None:
        """The fast path over ``lines``, numbered ``numbers`` (``end``: the number after
        the block's last line)."""
        stats = self.stats
        stats.lines += len(lines)
        tags, shapes, times = self._tags, self._shapes, self._time_cache
        client_of, counter_items, parse_reject = (
            smtpd.client_of, smtpd.counter_items, smtpd.parse_reject)
        lost_match, listed_match = smtpd.LOST.match, dnsblog.LISTED.match
        ps_connect, ps_pass = postscreen.CONNECT.match, postscreen.PASS.match
        ps_disconnect, ps_dnsbl = postscreen.DISCONNECT.match, postscreen.DNSBL.match
        postscreen_marks = self._postscreen
        matched = irrelevant = 0
        # Lines longer than a syslog record are left to parse() (rare: test per block).
        long_lines = max(map(len, lines), default=0) > MAX_LINE
        # "host tag[pid]: " starts after the time stamp and a space; lines in
        # another layout take parse().
        rfc = bool(lines) and "0" <= lines[0][:1] <= "9"
        start = RFC_TAG_AT if rfc else SYSLOG_TAG_AT
        rfc_stamp, fromisoformat = RFC_STAMP.match, datetime.fromisoformat
        local = self._clock.tz is None
        stamp = ""
        stopped: int | None = None
        try:
            for number, line in zip(numbers, lines, strict=True):
                self.line_number = number
                end = line.find(": ", start)
                if end > start:
                    tag = tags.get(line[start:end])
                    if tag is None:
                        tag = self._learn_tag(line[start:end])
                else:
                    tag = None
                if tag is None or (long_lines and len(line) > MAX_LINE):
                    self._scan_slow(line, number, sink)
                    continue
                if rfc:
                    if rfc_stamp(line) is None:
                        self._scan_slow(line, number, sink)
                        continue
                else:
                    stamp = line[:SYSLOG_TAG_AT]
                if tag is _OTHER_TAG or tag is _NOTAG_TAG:
                    # Another program's line: well formed if its stamp is (and, for a
                    # line without "tag[pid]", if it does not look like ours).
                    if (rfc or stamp in shapes or self._shape(stamp)) and (
                            tag is _OTHER_TAG or not names_daemon(line, postscreen_marks)):
                        irrelevant += 1
                    else:
                        self._scan_slow(line, number, sink)
                    continue
                daemon, host, service, pid = tag
                if rfc:
                    try:
                        # Without --tz the offset is not applied: the stamp is local time.
                        when = (fromisoformat(line[:26]) if local
                                else self._clock.iso(line[:26], line[26:32]))
                    except TIME_ERRORS:
                        self._scan_slow(line, number, sink)  # parse() says why
                        continue
                else:
                    cached = times.get(stamp) or self._scan_time(stamp)
                    if cached is None:
                        self._scan_slow(line, number, sink)
                        continue
                    when = cached
                if until is not None and when >= until:
                    stopped = number
                    stats.lines -= end - number
                    break
                at = end + 2  # where the message starts: matched in place, not sliced
                if daemon == SMTPD:
                    if line.startswith(smtpd.CONNECT, at):
                        client = client_of(line[at + _CONNECT_AT:])
                        if client is not None:
                            sink.connect(when, host, service, pid, client.name, client.ip)
                            matched += 1
                            continue
                    elif line.startswith(smtpd.DISCONNECT, at):
                        text, tail = smtpd.disconnect_parts(line, at)
                        client = client_of(text)
                        items = counter_items(tail)
                        if client is not None and items is not None:
                            sink.disconnect(when, host, service, pid, client.name, client.ip,
                                            dict(items))
                            matched += 1
                            continue
                    elif line.startswith(smtpd.REJECT, at):
                        r = parse_reject(line[at:])
                        if r is not None:
                            sink.reject(when, host, service, pid, r.name, r.ip, r.helo, r.sender,
                                        r.recipient, r.stage, r.code, r.dsn, r.text, r.warning)
                            matched += 1
                            continue
                    elif line.startswith(smtpd.LOST_PREFIXES, at):
                        m = lost_match(line, at)
                        if m is not None:
                            sink.lost(when, host, service, pid, m["name"], m["ip"], m["stage"],
                                      m["what"])
                            matched += 1
                            continue
                    elif line.startswith(smtpd.NOISE, at):
                        # TLS and other chatter: smtpd.record() finds nothing in it.
                        if not smtpd.has_words(line[at:]):
                            irrelevant += 1
                            continue
                    else:
                        found = smtpd.accepted(line, at)
                        # The common "client=name[addr]" only; a longer one takes record().
                        client = None if found is None else client_of(found[1])
                        if client is not None:
                            sink.client(when, host, service, pid, client.name, client.ip)
                            matched += 1
                            continue
                elif daemon == POSTSCREEN:
                    if line.startswith(postscreen.CONNECT_PREFIX, at):
                        m = ps_connect(line, at)
                        if m is not None:
                            sink.postscreen_seen(when, m["ip"])
                            matched += 1
                            continue
                    elif line.startswith(postscreen.PASS_PREFIX, at):
                        m = ps_pass(line, at)
                        if m is not None:
                            sink.postscreen_pass(when, m["ip"])
                            matched += 1
                            continue
                    elif line.startswith(postscreen.DISCONNECT_PREFIX, at):
                        m = ps_disconnect(line, at)
                        if m is not None:
                            sink.postscreen_seen(when, m["ip"])
                            matched += 1
                            continue
                    elif line.startswith(postscreen.DNSBL_PREFIX, at):
                        m = ps_dnsbl(line, at)
                        if m is not None:
                            sink.postscreen_dnsbl(when, m["ip"], int(m["rank"]))
                            matched += 1
                            continue
                elif daemon == SPF:
                    if line.find(policyd_spf.RECEIVED, at) >= 0:
                        spf = policyd_spf.received(line, at, False)
                        if spf is not None:
                            sink.spf(when, host, spf.ip, spf.helo, spf.sender, spf.result,
                                     spf.identity)
                            matched += 1
                            continue
                elif daemon == DNSBLOG:
                    m = listed_match(line, at)
                    if m is not None:
                        sink.dnsbl_listed(when, m["ip"], m["domain"])
                        matched += 1
                        continue
                # Anything else: the daemon's record(), without reading the header again.
                if line.startswith("[ID ", at):
                    self._scan_slow(line, number, sink)
                    continue
                record = self._finish(line, number, when, daemon, host, service, pid, line[at:])
                if record is not None:
                    sink.record(record)
        except _StopAt as stop:  # a line only parse() reads is at or after ``until``
            stopped = stop.line
            stats.lines -= end - stopped
        stats.matched += matched
        stats.irrelevant += irrelevant
        return stopped

    def _learn_tag(self, text: str) -> _Tag | None:
        """What ``host service[pid]`` is, learned without parsing its line (each new pid).

        What :meth:`_scan_slow` would learn from a well-formed line with this
        tag; the fast path checks the rest of the line (time stamp, ``[ID``)
        itself. Other shapes (no pid, extra fields) are left to it.
        """
        m = TAG.fullmatch(text)
        if m is None:
            return None
        learned = self._tag(m["host"], m["service"], m["pid"])
        self._remember_tag(text, learned)
        return learned

    def _tag(self, host: str, service: str, pid: str) -> _Tag:
        """What the fast path does with lines of ``host service[pid]``."""
        daemon = daemon_of(service, self._postscreen)
        return _OTHER_TAG if daemon == OTHER else (daemon, host, service, int(pid))

    def _remember_tag(self, text: str, learned: _Tag) -> None:
        if len(self._tags) >= _CACHE_ENTRIES:
            self._tags.clear()
        self._tags[text] = learned

    def _scan_slow(self, line: str, lineno: int, sink: LineSink) -> None:
        """A line the fast path does not know: parse it, and learn its header."""
        record = self._parse(line, lineno)
        if record is not None:
            if self._until is not None and record.time >= self._until:
                raise _StopAt(lineno)
            sink.record(record)
        if "A" <= line[:1] <= "Z":
            start, header = SYSLOG_TAG_AT, TRADITIONAL
            if not (line[:start] in self._shapes or self._shape(line[:start])):
                return
        elif "0" <= line[:1] <= "9":
            start, header = RFC_TAG_AT, ISO
            if RFC_STAMP.match(line) is None:
                return
        else:
            return  # journal formats: nothing to learn
        end = line.find(": ", start)
        if end <= start or len(line) > MAX_LINE:
            return
        tag = line[start:end]
        m = header.match(line)
        if m is not None:
            if m.start("host") != start or m.start("msg") != end + 2 or (
                    header is TRADITIONAL and m.end("time") != start - 1):
                return  # fractions of seconds, FreeBSD or Solaris extras: not learned
            learned = self._tag(m["host"], m["service"], m["pid"])
        elif NOTAG.match(tag) is not None:
            learned = _NOTAG_TAG  # e.g. "host dovecot: ..."
        else:
            return
        self._remember_tag(tag, learned)

    def _shape(self, stamp: str) -> bool:
        """Whether ``stamp`` (16 characters) is a syslog time stamp and a space; remembered."""
        if SYSLOG_STAMP.fullmatch(stamp) is None:
            return False
        if len(self._shapes) >= _CACHE_ENTRIES:
            self._shapes.clear()
        self._shapes.add(stamp)
        return True

    def _scan_time(self, stamp: str) -> datetime | None:
        """The time of a 16-character stamp, inferred and cached as :meth:`parse` does it.

        None if the stamp is not valid (then :meth:`parse` reports the line).
        """
        # The first line of each second ends up here. Within a month the year
        # inference changes nothing, so the time is the minute's plus the seconds
        # (a known minute and 00-59 seconds make a valid stamp, too).
        clock = self._clock
        minute = self._minutes.get(stamp[:13])
        delta = _SECONDS.get(stamp[13:15])
        if (minute is not None and delta is not None and stamp[15] == " "
                and minute.month == clock.last_month and minute.year == clock.year):
            when = minute + delta
        elif stamp not in self._shapes and not self._shape(stamp):
            return None
        else:
            try:
                when = clock.syslog(stamp[:3], stamp[4:6], stamp[7:15], None)
            except TIME_ERRORS:
                return None  # parse() says so (the inference above does not count twice)
            if len(self._minutes) >= 4096:
                self._minutes.clear()
            self._minutes[stamp[:13]] = when.replace(second=0)
        if len(self._time_cache) > 4096:
            self._time_cache.clear()
        self._time_cache[stamp] = when
        return when


def tokenize(
    lines: Iterable[str],
    *,
    year: int | None = None,
    stats: TokenizerStats | None = None,
    tz: tzinfo | None = None,
    input_format: InputFormat | str = InputFormat.AUTO,
    kinds: Iterable[Kind] | None = None,
) -> Iterator[LogRecord]:
    """Parse mail-log lines into :class:`~loganalyze.model.LogRecord` events (a wrapper)."""
    tokenizer = Tokenizer(year=year, tz=tz, input_format=input_format, kinds=kinds)
    if stats is not None:
        tokenizer.stats = stats
    yield from tokenizer.tokenize(lines)
