"""The header of a log line: its time stamp in each format, year inference, ``host tag[pid]: ``.

Line formats (:class:`~loganalyze.model.InputFormat`; ``postfix-reference.md`` section 4):

* ``syslog``: ``Nov 24 22:00:10 host prog[pid]: msg``. Traditional syslog
  (RFC 3164, space-padded day), Postfix's own ``maillog_file`` (zero-padded
  day, host = first label of ``myhostname``), ``journalctl -o short`` and
  ``-o short-precise`` (``22:00:10.622313``). No year: see :class:`Clock`.
* ``rfc3339``: ``2026-11-24T22:00:10.532125+00:00 host prog[pid]: msg``:
  rsyslog's ``RSYSLOG_FileFormat`` (Debian 12's default), ``journalctl -o
  short-iso`` and ``-o short-iso-precise`` (offset ``+00:00``, ``+0000``, ``Z``).
* ``journal-full``: ``Tue 2026-11-24 22:00:29 UTC host prog[pid]: msg``
  (``journalctl -o short-full``; the zone name is not interpreted).
* ``journal-unix``: ``1795557629.622313 host prog[pid]: msg`` (``-o short-unix``).
* ``journal-json``: ``journalctl -o json``, one JSON object per line.
* ``auto`` (the default) picks the parser per line from its first character,
  so concatenated inputs of different formats still parse.

Time convention: :attr:`~loganalyze.model.LogRecord.time` is a *naive wall-clock
time*, the time a traditional syslog file would show for the line. Stamps written
with a wall clock (syslog, RFC 3339, short-full) are kept as written; epoch stamps
(journal JSON, short-unix) are converted to wall-clock time in the zone ``tz``
(default: this machine's zone, as journalctl prints them). When ``tz`` is given,
RFC 3339 stamps with an offset are converted to that zone too, and so are syslog
stamps (``journalctl -o short`` and ``short-precise`` write this machine's wall
clock), so a log written in UTC, one written in local time and the journal line up.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import NamedTuple

from ..compat import parse_iso
from ..model import InputFormat

# Lines longer than this cannot come from Postfix (records are capped at 2000
# bytes, postfix-reference 2.1); refusing them keeps every regex linear on
# hostile input.
MAX_LINE = 8192
# A journal JSON entry carries ~30 fields besides MESSAGE, and a MESSAGE that
# is not UTF-8 is written as a list of byte values (up to 4 characters each).
MAX_JSON_LINE = 65536

MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}

# The pieces of every time stamp, written once.
_MON = r"[A-Z][a-z]{2}"
_HMS = r"\d\d:\d\d:\d\d"
_DATE = r"\d{4}-\d\d-\d\d"
_TAG_TEXT = r"(?P<host>\S+) (?P<service>[^\s\[]+)\[(?P<pid>\d+)\]"
# syslog header: timestamp, host, tag[pid]: message. Solaris inserts
# "[ID 197553 mail.info] " before the message and FreeBSD "<mail.info> "
# before the host (pflogsumm and postfix-logwatch strip both; reference 4).
_TAG = _TAG_TEXT + r": (?:\[ID \d+ [a-z0-9]+\.[a-z]+\] )?(?P<msg>.*)"
TRADITIONAL = re.compile(
    rf"(?P<mon>{_MON}) (?P<day>[ \d]?\d) (?P<time>{_HMS})(?P<frac>\.\d+)? "
    r"(?:<[a-z0-9]+\.[a-z]+> )?" + _TAG,
    re.DOTALL,
)
ISO = re.compile(
    rf"(?P<ts>{_DATE}[T ]{_HMS}(?:\.\d+)?)(?P<tz>Z|[+-]\d\d:?\d\d)? " + _TAG, re.DOTALL)
FULL = re.compile(
    rf"{_MON} (?P<ts>{_DATE} {_HMS}(?:\.\d+)?) [A-Za-z0-9+-]+ " + _TAG, re.DOTALL)
UNIX = re.compile(r"(?P<sec>\d{1,12})(?:\.(?P<frac>\d{1,9}))? " + _TAG, re.DOTALL)
# RFC 5424 (RSYSLOG_SyslogProtocol23Format): APP-NAME is cut at the first "/",
# so smtpd cannot be told from qmgr (reference 4).
RFC5424 = re.compile(r"<\d{1,3}>1 \d{4}-")

HEADERS: dict[InputFormat, re.Pattern[str]] = {
    InputFormat.SYSLOG: TRADITIONAL,
    InputFormat.RFC3339: ISO,
    InputFormat.JOURNAL_FULL: FULL,
    InputFormat.JOURNAL_UNIX: UNIX,
}
"""The header of a text line in each format."""
NEVER = re.compile(r"(?!)")
"""A pattern no line matches: the header of a forced journal-json tokenizer."""

_START_TEXTS = {
    InputFormat.SYSLOG: rf"{_MON} [ \d]?\d {_HMS}[^ ]* \S+ \S",
    InputFormat.RFC3339: rf"{_DATE}[T ]{_HMS}[^ ]* \S+ \S",
    InputFormat.JOURNAL_FULL: rf"{_MON} {_DATE} {_HMS} \S+ \S+ \S",
    InputFormat.JOURNAL_UNIX: r"\d{9,12}\.\d+ \S+ \S",
}
STARTS: dict[InputFormat, re.Pattern[str]] = {
    **{fmt: re.compile(text) for fmt, text in _START_TEXTS.items()},
    InputFormat.JOURNAL_JSON: re.compile(r"\{"),
}
"""The start of a line in each format: is a line from another program well formed?"""
LOG_START = re.compile("|".join(f"(?:{text})" for text in _START_TEXTS.values()))
"""The start of a text line in any format."""
JSON_START = STARTS[InputFormat.JOURNAL_JSON]

# The fast path (Tokenizer.scan) reads "host tag[pid]: " at a fixed column:
SYSLOG_TAG_AT = 16
"""After ``Nov 24 22:00:10 ``."""
RFC_TAG_AT = 33
"""After ``2026-11-24T22:00:10.532125+00:00 `` (rsyslog's RSYSLOG_FileFormat)."""
RFC_STAMP = re.compile(rf"{_DATE}[T ]{_HMS}\.\d{{6}}[+-]\d\d:\d\d ")
"""The RFC 3339 stamp the fast path reads (microseconds, ``±hh:mm``)."""
SYSLOG_STAMP = re.compile(rf"{_MON} [ \d]\d {_HMS} ")
"""The 16-character syslog stamp the fast path reads (no fraction)."""
TAG = re.compile(_TAG_TEXT)
"""``host service[pid]``, for :meth:`~re.Pattern.fullmatch`."""
NOTAG = re.compile(r"\S+ \S")
"""A well-formed header without ``tag[pid]`` (``host dovecot: ...``)."""


def line_format(line: str) -> InputFormat | None:
    """The format one line is written in, or None if it is none we know."""
    first = line[:1]
    if first == "{":
        return InputFormat.JOURNAL_JSON if line.rstrip().endswith("}") else None
    if first.isdigit():
        if ISO.match(line):
            return InputFormat.RFC3339
        if UNIX.match(line):
            return InputFormat.JOURNAL_UNIX
        return None
    if TRADITIONAL.match(line):
        return InputFormat.SYSLOG
    if FULL.match(line):
        return InputFormat.JOURNAL_FULL
    return None


def detect_format(lines: Iterable[str], limit: int = 50) -> InputFormat:
    """The format most of the first ``limit`` lines are written in.

    Returns :attr:`InputFormat.AUTO` when no line is in a known format (an
    empty file, or garbage); the tokenizer then still tries each line.
    """
    votes: Counter[InputFormat] = Counter()
    for index, line in enumerate(lines):
        if index >= limit:
            break
        fmt = line_format(line)
        if fmt is not None:
            votes[fmt] += 1
    return votes.most_common(1)[0][0] if votes else InputFormat.AUTO


def pick_format(line: str) -> InputFormat | str:
    """The format of one text line in auto mode, from its first characters, or why none."""
    first = line[:1]
    if first.isdigit():
        return InputFormat.RFC3339 if line[4:5] == "-" else InputFormat.JOURNAL_UNIX
    if line[3:4] == " " and line[4:5].isdigit() and line[8:9] == "-":
        return InputFormat.JOURNAL_FULL
    if first == "<" and RFC5424.match(line):
        return ("RFC 5424 line: the program name is cut at '/'; "
                "log with RSYSLOG_FileFormat instead")
    return InputFormat.SYSLOG


def journal_str(value: object) -> str:
    """A journal field as text: a string, a list of byte values, or (repeated) a list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        if all(isinstance(b, int) and 0 <= b < 256 for b in value):
            # journald stores a MESSAGE that is not UTF-8 as raw bytes.
            return bytes(value).decode("utf-8", "replace")
        return journal_str(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def journal_stamp(entry: dict[str, object]) -> str:
    """The time of a journal entry in microseconds since the epoch, as text.

    The time the message was sent, when journald knows it, else when it was received.
    """
    return journal_str(entry.get("_SOURCE_REALTIME_TIMESTAMP")) or journal_str(
        entry.get("__REALTIME_TIMESTAMP"))


class FirstStamp(NamedTuple):
    """The first traditional syslog stamp of a part of a log, as one clock read it
    (:mod:`loganalyze.parallel` checks that a sequential read would agree)."""

    args: tuple[str, str, str, str | None]
    """The arguments of :meth:`Clock.syslog`."""
    when: datetime
    state: tuple[int | None, int]
    """:attr:`Clock.state` after it."""


def resumes(first: FirstStamp, state: tuple[int | None, int], now: datetime,
            explicit: bool) -> bool:
    """True if a clock in ``state`` reads ``first``'s stamp as ``first`` did, and so
    (same state afterwards) reads every later stamp the same way too."""
    clock = Clock(state[0], now, None, explicit=explicit)
    clock.last_month = state[1]
    try:
        when = clock.syslog(*first.args)
    except (KeyError, ValueError, OverflowError):
        return False
    return when == first.when and clock.state == first.state


def latest_year(month: int, day: int, hms: str, reference: datetime) -> int:
    """The latest year in which the stamp ``month day hms`` is not later than ``reference``.

    Whole stamps are compared, not months: with ``reference`` 2026-01-02, Dec 31
    is 2025 and Jan 1 is 2026; Feb 29 goes back to a leap year.
    """
    stamp = (month, day, int(hms[0:2]), int(hms[3:5]), int(hms[6:8]))
    year = reference.year
    if stamp > (reference.month, reference.day, reference.hour, reference.minute,
                reference.second):
        year -= 1
    while month == 2 and day == 29 and not calendar.isleap(year):
        year -= 1
    return year


class Clock:
    """Turns the time stamps of one timeline into naive wall-clock times.

    Traditional syslog carries no year. The first line's year is ``year`` if
    given, otherwise the latest year in which its whole stamp (date and time)
    is not later than ``now``, the reference (:func:`latest_year`): the
    timeline's reference is the modification time of its oldest file, when its
    last line was written (standard input: the clock), so the first line is
    dated backwards from there. A month that goes backwards by more than six
    months (December to January) starts the next year.

    ``tz`` is the zone epoch stamps are shown in (default: this machine's),
    and the zone RFC 3339 stamps and syslog stamps (this machine's wall clock, as
    journalctl ``-o short`` writes them) are converted to when given (module docstring).
    The year is inferred on the stamp as written, against ``now`` in this machine's
    wall clock.
    """

    __slots__ = ("caches", "explicit_year", "first", "last_month", "now", "tz", "year")

    def __init__(self, year: int | None, now: datetime, tz: tzinfo | None, *,
                 explicit: bool | None = None) -> None:
        self.now = now
        self.year = year
        """The year of the last syslog line (None before the first one)."""
        self.explicit_year = year is not None if explicit is None else explicit
        """``year`` was given (``--year``), not inferred: it never moves back for a line."""
        self.last_month = 0
        """The month of the last syslog line in order (0 before the first one)."""
        self.tz = tz
        self.first: FirstStamp | None = None
        """The first syslog stamp read, and what it gave."""
        self.caches: list[dict[str, datetime]] = []
        """Caches of stamps' times, emptied whenever :attr:`state` changes: so what they
        hold is what this clock would say now, and the time of a stamp depends on the
        stamp and the state alone (the compiled core relies on it)."""

    @property
    def state(self) -> tuple[int | None, int]:
        """(year, last month): all that the inference of the next stamp depends on."""
        return self.year, self.last_month

    def syslog(self, mon: str, day: str, hms: str, frac: str | None) -> datetime:
        """A traditional syslog stamp, with the year inferred (raises KeyError/ValueError)."""
        year, last_month = self.year, self.last_month
        try:
            return self._syslog(mon, day, hms, frac)
        finally:
            if (self.year != year or self.last_month != last_month) and self.caches:
                for cache in self.caches:
                    cache.clear()

    def _syslog(self, mon: str, day: str, hms: str, frac: str | None) -> datetime:
        month = MONTHS[mon]
        if self.year is None:
            self.year = latest_year(month, int(day), hms, self.now)
        elif self.last_month and month < self.last_month - 6:
            self.year += 1
        hour, minute, second = int(hms[0:2]), int(hms[3:5]), int(hms[6:8])
        if self.last_month and month > self.last_month + 6 and not self.explicit_year:
            # An out-of-order line from the year before; don't move the clock back.
            return self.shown(datetime(self.year - 1, month, int(day), hour, minute, second))
        self.last_month = month
        micro = int((frac or ".0")[1:7].ljust(6, "0"))
        when = datetime(self.year, month, int(day), hour, minute, second, micro)
        if self.first is None:
            self.first = FirstStamp((mon, day, hms, frac), when, self.state)
        return self.shown(when)

    def shown(self, local: datetime) -> datetime:
        """A stamp written in this machine's wall clock (traditional syslog, journalctl
        ``-o short``), shown in ``tz`` when given, like the epoch stamps: one session
        written in two formats keeps one clock."""
        if self.tz is None:
            return local
        return local.astimezone(self.tz).replace(tzinfo=None)

    def epoch(self, seconds: int, micro: int) -> datetime:
        """An epoch stamp as wall-clock time in ``tz``."""
        # Integer arithmetic: a float epoch would lose the microseconds.
        if self.tz is None:
            local = datetime.fromtimestamp(seconds)
        else:
            local = datetime.fromtimestamp(seconds, self.tz).replace(tzinfo=None)
        return local.replace(microsecond=micro)

    def journal(self, stamp: str) -> datetime:
        """A journal entry's microseconds since the epoch (:func:`journal_stamp`)."""
        micros = int(stamp)
        return self.epoch(micros // 1_000_000, micros % 1_000_000)

    def iso(self, stamp: str, offset: str | None) -> datetime:
        """An RFC 3339 stamp: as written, or converted to ``tz`` when both are known."""
        when = parse_iso(stamp)
        if offset is None or self.tz is None:
            return when
        if offset == "Z":
            delta = timedelta(0)
        else:
            sign = -1 if offset[0] == "-" else 1
            delta = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
        aware = when.replace(tzinfo=timezone(delta))
        return aware.astimezone(self.tz).replace(tzinfo=None)

    def of(self, m: re.Match[str], fmt: InputFormat) -> datetime:
        """The time of a header match (:data:`HEADERS`) of format ``fmt``."""
        if fmt is InputFormat.SYSLOG:
            return self.syslog(m["mon"], m["day"], m["time"], m["frac"])
        if fmt is InputFormat.RFC3339:
            return self.iso(m["ts"], m["tz"])
        if fmt is InputFormat.JOURNAL_FULL:
            return parse_iso(m["ts"])
        frac = m["frac"] or "0"
        return self.epoch(int(m["sec"]), int(frac[:6].ljust(6, "0")))
