"""Turn mail-log lines into typed events with regular expressions; no I/O here.

Only the lines the HELO analysis needs become :class:`LogRecord` objects:
smtpd (and postscreen) session lines, reject lines and SPF policy results.
Everything else is counted as irrelevant, and lines that look like ours but
do not parse are kept as :class:`Unparsed` so a run can say what it skipped.

Formats: traditional syslog (``Aug 16 04:21:13 host prog[pid]: msg``, no
year), RFC 3339 (rsyslog's default on Debian 12, journalctl ``-o short-iso``),
``journalctl -o short-precise`` and Postfix's own ``maillog_file``. Line
shapes follow Postfix 3.x ``smtpd_check.c``/``smtpd.c`` and spf-engine; see
``postfix-reference.md`` sections 2-4.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

# Lines longer than this cannot come from Postfix (records are capped at 2000
# bytes); refusing them keeps every regex linear on hostile input.
MAX_LINE = 8192


class Kind(enum.StrEnum):
    """What a log record says happened."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    REJECT = "reject"
    """A ``reject:`` or ``reject_warning:`` line (see ``LogRecord.warning``)."""
    LOST = "lost"
    """``lost connection after X``, ``timeout after X``, ``too many errors after X``."""
    HOSTNAME_MISMATCH = "hostname_mismatch"
    """``warning: hostname X does not resolve to address Y`` and friends."""
    SPF = "spf"
    """A policyd-spf result for one client."""
    CLIENT = "client"
    """``QUEUEID: client=NAME[IP]``: a message was accepted for delivery."""


@dataclass(slots=True)
class LogRecord:
    """One event from one log line. Strings are kept exactly as logged."""

    kind: Kind
    time: datetime
    """Wall-clock time as the log wrote it (no time zone)."""
    host: str
    """The syslog host name: sessions on different hosts never mix."""
    service: str
    """The syslog tag without pid, e.g. ``postfix/submission/smtpd``."""
    pid: int
    client_name: str = ""
    """Client host name as Postfix verified it, or ``unknown``."""
    client_ip: str = ""
    helo: str | None = None
    """The ``helo=<...>`` value, when the line carries one."""
    sender: str | None = None
    """Envelope sender (``from=<...>``); empty string for the null sender."""
    recipient: str | None = None
    stage: str = ""
    """SMTP stage of a reject (RCPT, EHLO, MAIL, ...) or of a lost connection."""
    code: int = 0
    """SMTP reply code of a reject."""
    dsn: str = ""
    """Enhanced status code of a reject, e.g. ``4.7.1``."""
    reason: str = ""
    """Reply text after code and DSN; for SPF lines the policy's comment."""
    warning: bool = False
    """True for ``reject_warning`` (``warn_if_reject``): logged, not enforced."""
    queue_id: str = ""
    spf_result: str = ""
    """SPF result in lower case: pass, fail, softfail, neutral, none, temperror, permerror."""
    spf_identity: str = ""
    """``mailfrom`` or ``helo``."""
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Disconnect command counters: name -> (ok, total)."""
    lineno: int = 0


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A line we could not understand, kept so the run can report it."""

    line: str
    lineno: int
    why: str


@dataclass(slots=True)
class TokenizerStats:
    """Line counts for one run: every line read lands in exactly one bucket."""

    lines: int = 0
    matched: int = 0
    """Lines that became a :class:`LogRecord`."""
    irrelevant: int = 0
    """Well-formed lines the analysis does not need (other programs, queue manager...)."""
    unparsed: int = 0
    """Lines we could not understand."""
    samples: list[Unparsed] = field(default_factory=list)
    """The first few unparsed lines, for ``--verbose``."""

    def add_unparsed(self, item: Unparsed, keep: int = 20) -> None:
        """Count an unparsed line and keep it if there is room for a sample."""
        self.unparsed += 1
        if len(self.samples) < keep:
            self.samples.append(item)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}

# syslog header: timestamp, host, tag[pid]: message
_TAG = r"(?P<host>\S+) (?P<service>[^\s\[]+)\[(?P<pid>\d+)\]: (?P<msg>.*)"
_TRADITIONAL = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]?\d) (?P<time>\d\d:\d\d:\d\d)(?P<frac>\.\d+)? " + _TAG,
    re.DOTALL,
)
_ISO = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?)(?P<tz>Z|[+-]\d\d:?\d\d)? " + _TAG,
    re.DOTALL,
)

_NAMADDR = r"(?P<name>[^\[\s]*)\[(?P<ip>[^\]\s]*)\](?::\d+)?"
_CONNECT = re.compile(r"connect from " + _NAMADDR + r"$")
_DISCONNECT = re.compile(r"disconnect from " + _NAMADDR + r"(?P<stats>(?: \S+)*)$")
_LOST = re.compile(
    r"(?:NOQUEUE: |[0-9A-Za-z]+: )?(?P<what>lost connection|timeout|too many errors) after "
    r"(?P<stage>[A-Z-]+(?: content)?)(?: \(\d+ bytes\))? from " + _NAMADDR + r"$"
)
_MISMATCH = re.compile(
    r"warning: (?:hostname (?P<ptr>\S+) does not resolve to address (?P<ip>\S+?)(?:: .*)?"
    r"|(?P<ip2>[^\s\[]+): address not listed for hostname (?P<ptr2>\S+))$"
)
_REJECT = re.compile(
    r"(?P<qid>NOQUEUE|[0-9A-Za-z]+): (?P<action>reject|reject_warning): "
    r"(?P<stage>[A-Z][A-Z-]*) from " + _NAMADDR + r": "
    r"(?P<code>\d{3}) (?:(?P<dsn>[245]\.\d{1,3}\.\d{1,3}) )?(?P<text>.*?)"
    # The tail: the first "; " after which the rest of the line parses as
    # the fields smtpd appends. Trying positions left to right keeps a
    # stranger's ";" inside the reply text from breaking the fields.
    r"; (?P<tail>(?:from=<(?P<from>.*?)>,? ?)?(?:to=<(?P<to>.*?)>,? ?)?"
    r"(?:proto=(?P<proto>[^\s,]+),? ?)?(?:helo=<(?P<helo>.*)>)?(?: sasl_\w+=\S*)*)$",
    re.DOTALL,
)
_CLIENT = re.compile(r"(?P<qid>[0-9A-Za-z]+): client=" + _NAMADDR + r"(?:,.*)?$")
_STAT = re.compile(r"(?P<name>[a-z]+)=(?P<ok>\d+)(?:/(?P<total>\d+))?")

# policyd-spf (Python, spf-engine): optional "QUEUEID: " prefix since 3.0 (empty at RCPT).
_SPF_PY = re.compile(
    r"(?:[0-9A-Za-z]*: )?prepend Received-SPF: (?P<result>[A-Za-z]+) \((?P<comment>.*?)\) "
    r"identity=(?P<identity>\w+); client-ip=(?P<ip>[^;\s]+); helo=(?P<helo>.*?); "
    r"envelope-from=(?P<from>.*?); receiver=(?P<receiver>.*?) ?$",
    re.DOTALL,
)
# postfix-policyd-spf-perl, logged as postfix/policy-spf.
_SPF_PERL = re.compile(
    r"Policy action=PREPEND Received-SPF: (?P<result>[a-z]+) \((?P<comment>.*)\) "
    r"receiver=[^;]*; identity=(?P<identity>\w+); "
    r"(?:envelope-from=\"?(?P<from>.*?)\"?; )?helo=(?P<helo>.*?); client-ip=(?P<ip>\S+)$",
    re.DOTALL,
)

# Substrings that must appear in a message for it to matter (a cheap test
# before any regular expression).
_SMTPD_MARKERS = ("connect from", "reject", " after ", "warning: ", "client=")


class Tokenizer:
    """Stateful line parser: it infers the year of traditional syslog lines.

    Traditional syslog carries no year. The first line's year is ``year`` if
    given, otherwise this year, or last year when the month is later than the
    current month (pflogsumm's rule); a month that goes backwards by more than
    six months (December to January) starts the next year.
    """

    def __init__(self, year: int | None = None, now: datetime | None = None) -> None:
        self._now = now or datetime.now()
        self._year = year
        self._explicit_year = year is not None
        self._last_month = 0
        self._time_cache: dict[str, datetime] = {}
        self.stats = TokenizerStats()

    def _traditional_time(self, mon: str, day: str, hms: str, frac: str | None) -> datetime:
        month = _MONTHS[mon]
        if self._year is None:
            self._year = self._now.year - 1 if month > self._now.month else self._now.year
        elif self._last_month and month < self._last_month - 6:
            self._year += 1
        hour, minute, second = int(hms[0:2]), int(hms[3:5]), int(hms[6:8])
        if self._last_month and month > self._last_month + 6 and not self._explicit_year:
            # An out-of-order line from the year before; don't move the clock back.
            return datetime(self._year - 1, month, int(day), hour, minute, second)
        self._last_month = month
        micro = int((frac or ".0")[1:7].ljust(6, "0"))
        return datetime(self._year, month, int(day), hour, minute, second, micro)

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        """Parse one line into a record, or None (irrelevant or not understood).

        Unparsed lines are counted and sampled in :attr:`stats`. Never raises.
        """
        stats = self.stats
        stats.lines += 1
        if len(line) > MAX_LINE:
            stats.add_unparsed(Unparsed(line[:200], lineno, "line too long for a syslog record"))
            return None
        # Cheap rejections first: most lines of a busy log are qmgr, cleanup, delivery.
        is_spf = "spf[" in line
        if not is_spf and "smtpd[" not in line:
            if _looks_like_syslog(line):
                stats.irrelevant += 1
            else:
                stats.add_unparsed(Unparsed(line, lineno, "not a syslog line"))
            return None
        m = _TRADITIONAL.match(line)
        if m is not None:
            cached = self._time_cache.get(line[:15])
            if cached is None or m.group("frac"):
                when = self._traditional_time(
                    m.group("mon"), m.group("day"), m.group("time"), m.group("frac")
                )
                if not m.group("frac"):
                    if len(self._time_cache) > 4096:
                        self._time_cache.clear()
                    self._time_cache[line[:15]] = when
            else:
                when = cached
        else:
            m = _ISO.match(line)
            if m is None:
                stats.add_unparsed(Unparsed(line, lineno, "unknown timestamp or tag"))
                return None
            try:
                when = datetime.fromisoformat(m.group("ts"))
            except ValueError:
                stats.add_unparsed(Unparsed(line, lineno, "invalid timestamp"))
                return None
        try:
            record = self._message(
                m.group("msg"), when, m.group("host"), m.group("service"), int(m.group("pid")),
                is_spf,
            )
        except (ValueError, KeyError) as exc:  # pragma: no cover - defensive
            stats.add_unparsed(Unparsed(line, lineno, f"parse error: {exc}"))
            return None
        if record is None:
            stats.irrelevant += 1
            return None
        if isinstance(record, str):
            stats.add_unparsed(Unparsed(line, lineno, record))
            return None
        record.lineno = lineno
        stats.matched += 1
        return record

    def _message(
        self, msg: str, when: datetime, host: str, service: str, pid: int, is_spf: bool
    ) -> LogRecord | str | None:
        """Parse the message part; a str result is the reason it is not understood."""
        if is_spf:
            return _spf(msg, when, host, service, pid)
        if not service.endswith("/smtpd"):
            return None
        if not any(marker in msg for marker in _SMTPD_MARKERS):
            return None
        head = msg[:11]
        if head.startswith("connect fro"):
            m = _CONNECT.match(msg)
            if m is None:
                return "connect line with an unexpected client form"
            return LogRecord(Kind.CONNECT, when, host, service, pid, m["name"], m["ip"])
        if head.startswith("disconnect "):
            m = _DISCONNECT.match(msg)
            if m is None:
                return "disconnect line with an unexpected client form"
            return LogRecord(
                Kind.DISCONNECT, when, host, service, pid, m["name"], m["ip"],
                counters=_counters(m["stats"]),
            )
        if ": reject" in msg:
            m = _REJECT.match(msg)
            if m is None:
                if ": reject: " in msg or ": reject_warning: " in msg:
                    return "reject line with an unexpected shape"
                return None
            code = int(m["code"])
            return LogRecord(
                Kind.REJECT, when, host, service, pid, m["name"], m["ip"],
                helo=m["helo"], sender=m["from"], recipient=m["to"], stage=m["stage"],
                code=code, dsn=m["dsn"] or "", reason=m["text"],
                warning=m["action"] == "reject_warning",
                queue_id="" if m["qid"] == "NOQUEUE" else m["qid"],
            )
        if " after " in msg:
            m = _LOST.match(msg)
            if m is None:
                return None
            return LogRecord(
                Kind.LOST, when, host, service, pid, m["name"], m["ip"],
                stage=m["stage"], reason=m["what"],
            )
        if msg.startswith("warning: "):
            m = _MISMATCH.match(msg)
            if m is None:
                return None
            return LogRecord(
                Kind.HOSTNAME_MISMATCH, when, host, service, pid,
                m["ptr"] or m["ptr2"], m["ip"] or m["ip2"], reason=msg[9:],
            )
        if "client=" in msg:
            m = _CLIENT.match(msg)
            if m is None:
                return None
            return LogRecord(
                Kind.CLIENT, when, host, service, pid, m["name"], m["ip"], queue_id=m["qid"]
            )
        return None

    def tokenize(self, lines: Iterable[str], start: int = 1) -> Iterator[LogRecord]:
        """Yield the records of ``lines``; counts and unparsed samples go to ``stats``."""
        parse = self.parse
        for lineno, line in enumerate(lines, start):
            record = parse(line, lineno)
            if record is not None:
                yield record


def _spf(msg: str, when: datetime, host: str, service: str, pid: int) -> LogRecord | str | None:
    if "Received-SPF: " not in msg:
        # Reject/defer lines and debug output: the smtpd reject line says the same.
        return None
    if service.endswith("policy-spf"):
        m = _SPF_PERL.search(msg)
    else:
        m = _SPF_PY.match(msg)
    if m is None:
        return "SPF line with an unexpected shape"
    sender = m["from"]
    return LogRecord(
        Kind.SPF, when, host, service, pid, "", m["ip"], helo=m["helo"],
        sender="" if sender in ("<>", None) else sender,
        spf_result=m["result"].lower(), spf_identity=m["identity"], reason=m["comment"],
    )


def _counters(text: str) -> dict[str, tuple[int, int]]:
    counters: dict[str, tuple[int, int]] = {}
    for m in _STAT.finditer(text):
        ok = int(m["ok"])
        counters[m["name"]] = (ok, int(m["total"]) if m["total"] else ok)
    return counters


_SYSLOG_START = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)[^ ]* \S+ \S"
)


def _looks_like_syslog(line: str) -> bool:
    return _SYSLOG_START.match(line) is not None


def tokenize(
    lines: Iterable[str], *, year: int | None = None, stats: TokenizerStats | None = None
) -> Iterator[LogRecord]:
    """Parse mail-log lines into :class:`LogRecord` events (convenience wrapper)."""
    tokenizer = Tokenizer(year=year)
    if stats is not None:
        tokenizer.stats = stats
    yield from tokenizer.tokenize(lines)
