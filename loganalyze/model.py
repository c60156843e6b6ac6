"""The records passed between the stages of the pipeline: parse -> sessions -> aggregate.

Only types live here (no parsing, no I/O), so that every stage, and storage,
can import them without importing the parser. :class:`LogRecord` is one event
from one log line; :class:`LineSink` is what the fast path of
:meth:`~loganalyze.parse.Tokenizer.scan` calls instead of making records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .compat import StrEnum


class Kind(StrEnum):
    """What a log record says happened."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    REJECT = "reject"
    """A ``reject:`` or ``reject_warning:`` line (see ``LogRecord.warning``).

    Also the ``503 5.5.1 Error: send HELO/EHLO first`` reply of
    ``smtpd_helo_required``, which smtpd logs only as a verbose chat line
    (``> name[addr]: 503 ...``, ``smtpd_chat.c``; ``debug_peer_list``).
    """
    LOST = "lost"
    """``lost connection after X``, ``timeout after X``, ``too many errors after X``."""
    HOSTNAME_MISMATCH = "hostname_mismatch"
    """``warning: hostname X does not resolve to address Y`` and friends."""
    SPF = "spf"
    """A policyd-spf result for one client (a ``Received-SPF`` header it prepends)."""
    SPF_REJECT = "spf_reject"
    """A policyd-spf reject or defer line (``LogRecord.action``). Its result
    (usually fail; no Received-SPF line is logged then) is derived from the
    explanation and status code, and the client from the explanation URL."""
    CLIENT = "client"
    """``QUEUEID: client=NAME[IP]``: a message was accepted for delivery."""
    POSTSCREEN_CONNECT = "postscreen_connect"
    """postscreen ``CONNECT from [ip]:port to [ip]:port``."""
    POSTSCREEN_PASS = "postscreen_pass"
    """postscreen ``PASS NEW``/``PASS OLD``: ``reason`` is ``NEW`` or ``OLD``."""
    POSTSCREEN_DNSBL = "postscreen_dnsbl"
    """postscreen ``DNSBL rank N for [ip]:port``: ``score`` is N."""
    POSTSCREEN_REJECT = "postscreen_reject"
    """postscreen's own ``NOQUEUE: reject:`` lines (RCPT with ``helo=``, or CONNECT)."""
    POSTSCREEN_EVENT = "postscreen_event"
    """Other postscreen client lines: ``stage`` is the event word (``PREGREET``,
    ``HANGUP``, ``COMMAND TIME LIMIT``, ``NON-SMTP COMMAND``, ``BARE NEWLINE``,
    ``ALLOWLISTED``, ``DENYLISTED``, ``ALLOWLIST VETO``, ...)."""
    POSTSCREEN_DISCONNECT = "postscreen_disconnect"
    """postscreen ``DISCONNECT [ip]:port`` (the client did not reach smtpd)."""
    DNSBL_LISTED = "dnsbl_listed"
    """dnsblog ``addr IP listed by domain D as A``: ``reason`` is D, ``detail`` A."""


SESSION_KINDS: frozenset[Kind] = frozenset(
    {Kind.CONNECT, Kind.DISCONNECT, Kind.REJECT, Kind.LOST, Kind.HOSTNAME_MISMATCH,
     Kind.SPF, Kind.CLIENT}
)
"""The kinds the session builder consumes; the default of the tokenizer."""
POSTSCREEN_KINDS: frozenset[Kind] = frozenset(
    {Kind.POSTSCREEN_CONNECT, Kind.POSTSCREEN_PASS, Kind.POSTSCREEN_DNSBL,
     Kind.POSTSCREEN_REJECT, Kind.POSTSCREEN_EVENT, Kind.POSTSCREEN_DISCONNECT,
     Kind.DNSBL_LISTED}
)
"""postscreen and dnsblog records (evidence such as "postscreen PASS", "DNSBL rank N")."""
EVIDENCE_KINDS: frozenset[Kind] = POSTSCREEN_KINDS | {Kind.SPF_REJECT}
"""Records the session builder does not consume yet: evidence for a later stage."""
ALL_KINDS: frozenset[Kind] = frozenset(Kind)
"""Every kind of record."""


class InputFormat(StrEnum):
    """How the lines of a log are written (:mod:`loganalyze.parse.header`)."""

    AUTO = "auto"
    """Pick the parser per line."""
    SYSLOG = "syslog"
    """``Mmm dd hh:mm:ss[.frac] host tag[pid]: msg`` (syslog, maillog_file, journalctl short)."""
    RFC3339 = "rfc3339"
    """``YYYY-MM-DDThh:mm:ss[.frac]±hh:mm host tag[pid]: msg`` (rsyslog, short-iso)."""
    JOURNAL_FULL = "journal-full"
    """``journalctl -o short-full``."""
    JOURNAL_UNIX = "journal-unix"
    """``journalctl -o short-unix``."""
    JOURNAL_JSON = "journal-json"
    """``journalctl -o json``."""


@dataclass(slots=True)
class LogRecord:
    """One event from one log line. Strings are kept exactly as logged.

    Not frozen: the parser sets :attr:`lineno` once the record is accepted, and
    building it field by field would cost the hot path a second object.
    """

    kind: Kind
    """What happened."""
    time: datetime
    """Naive wall-clock time: as written, or an epoch converted to ``tz``
    (:mod:`loganalyze.parse.header`)."""
    host: str
    """The syslog host name: sessions on different hosts never mix."""
    service: str
    """The syslog tag without pid, e.g. ``postfix/submission/smtpd``."""
    pid: int
    """The process id of the tag: one smtpd process serves one session at a time."""
    client_name: str = ""
    """Client host name as Postfix verified it, or ``unknown`` (empty for postscreen)."""
    client_ip: str = ""
    """Client address as logged (IPv6 without brackets)."""
    helo: str | None = None
    """The ``helo=<...>`` value, when the line carries one."""
    sender: str | None = None
    """Envelope sender (``from=<...>``); empty string for the null sender."""
    recipient: str | None = None
    """Envelope recipient (``to=<...>``), when the line carries one."""
    stage: str = ""
    """SMTP stage of a reject (RCPT, EHLO, MAIL, ...) or of a lost connection;
    the event word of a postscreen event."""
    code: int = 0
    """SMTP reply code of a reject."""
    dsn: str = ""
    """Enhanced status code of a reject, e.g. ``4.7.1``."""
    reason: str = ""
    """Reply text after code and DSN; for SPF lines the policy's comment."""
    warning: bool = False
    """True for ``reject_warning`` (``warn_if_reject``): logged, not enforced."""
    queue_id: str = ""
    """Postfix queue id, when the line names one (``NOQUEUE`` is kept as empty)."""
    spf_result: str = ""
    """SPF result in lower case: pass, fail, softfail, neutral, none, temperror, permerror."""
    spf_identity: str = ""
    """``mailfrom`` or ``helo``."""
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Disconnect command counters: name -> (ok, total)."""
    lineno: int = 0
    """Line number in the input (1-based; 0 when not known)."""
    port: int = 0
    """Client port, when logged (postscreen always; smtpd with smtpd_client_port_logging)."""
    score: int = 0
    """postscreen DNSBL rank."""
    detail: str = ""
    """Extra text: the dnsblog answer, a postscreen event's middle part (``28 after 0``)."""
    action: str = ""
    """``prepend`` for SPF records; ``reject`` or ``defer`` for SPF_REJECT records."""


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A line we could not understand, kept so the run can report it."""

    line: str
    """The line (cut to a bounded length when it is far too long)."""
    lineno: int
    """Its line number (0 when not known)."""
    why: str
    """Why it was not understood, for ``--verbose``."""


@dataclass(slots=True)
class TokenizerStats:
    """Line counts for one run: every line read lands in exactly one bucket."""

    lines: int = 0
    """Lines read."""
    matched: int = 0
    """Lines that became a :class:`LogRecord`."""
    irrelevant: int = 0
    """Well-formed lines the analysis does not need (other programs, queue manager...)."""
    unparsed: int = 0
    """Lines we could not understand."""
    unparsed_postfix: int = 0
    """Of those, lines that name Postfix or an SPF policy daemon: lines the analysis
    should have used (a parser that lost them makes the findings incomplete)."""
    samples: list[Unparsed] = field(default_factory=list)
    """The first few unparsed lines, for ``--verbose``."""

    def problems(self) -> list[str]:
        """One line for each reason to distrust findings built from these lines.

        Lost Postfix lines make the findings incomplete without any other sign (a parser
        that fails on one Python, a log format not supported); a file with no Postfix
        line at all is not a mail log. Empty when the lines look sound.
        """
        if self.lines and not self.matched and not self.unparsed_postfix:
            return [f"none of the {self.lines} lines read is a Postfix smtpd, postscreen or "
                    "policyd-spf line: is this a mail log? (-v shows samples)"]
        lost = self.unparsed_postfix
        if lost >= 10 and lost * 100 >= self.matched:  # 10 lines and 1 % of those used
            return [f"{lost} Postfix lines were not understood ({self.matched} used): the "
                    "findings may be incomplete (-v shows samples)"]
        return []

    def add_unparsed(self, item: Unparsed, keep: int = 20) -> None:
        """Count an unparsed line and keep it if there is room for a sample."""
        self.unparsed += 1
        if "postfix" in item.line or "spf[" in item.line:
            self.unparsed_postfix += 1
        if len(self.samples) < keep:
            self.samples.append(item)


@dataclass(frozen=True, slots=True)
class Window:
    """The time window of a run: ``since <= time < until`` (either open).

    A session counts when it *starts* inside; an evidence line (postscreen,
    dnsblog, SPF reject) when it is logged inside. ``analyze --since/--until``,
    the daily report and :func:`loganalyze.frames.analyze` share this rule.
    """

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, time: datetime) -> bool:
        """True if ``time`` is inside."""
        return (self.since is None or time >= self.since) and (
            self.until is None or time < self.until)

    @property
    def is_open(self) -> bool:
        """True when nothing is excluded."""
        return self.since is None and self.until is None


EVERYTHING = Window()


class LineSink(Protocol):
    """Where :meth:`~loganalyze.parse.Tokenizer.scan` sends what it reads
    (:class:`~loganalyze.aggregate.TrafficCollector`).

    The methods named after a record kind take that record's facts; any
    other record goes to :meth:`record`.
    """

    def record(self, record: LogRecord) -> None:
        """Any record the fast path does not make itself."""

    def connect(self, time: datetime, host: str, service: str, pid: int, name: str,
                ip: str) -> None:
        """smtpd ``connect from NAME[IP]``."""

    def disconnect(self, time: datetime, host: str, service: str, pid: int, name: str,
                   ip: str, counters: dict[str, tuple[int, int]]) -> None:
        """smtpd ``disconnect from NAME[IP] counters``."""

    def reject(
        self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
        helo: str | None, sender: str | None, recipient: str | None, stage: str, code: int,
        dsn: str, reason: str, warning: bool,
    ) -> None:
        """smtpd ``NOQUEUE: reject:`` or ``reject_warning:``."""

    def client(self, time: datetime, host: str, service: str, pid: int, name: str,
               ip: str) -> None:
        """smtpd ``QUEUEID: client=NAME[IP]``."""

    def lost(self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
             stage: str, what: str) -> None:
        """smtpd ``lost connection after STAGE from NAME[IP]`` and friends."""

    def spf(self, time: datetime, host: str, ip: str, helo: str | None, sender: str | None,
            result: str, identity: str) -> None:
        """A policyd-spf ``Received-SPF`` result."""

    def postscreen_seen(self, time: datetime, ip: str) -> None:
        """postscreen ``CONNECT from`` or ``DISCONNECT``."""

    def postscreen_pass(self, time: datetime, ip: str) -> None:
        """postscreen ``PASS NEW`` or ``PASS OLD``."""

    def postscreen_dnsbl(self, time: datetime, ip: str, rank: int) -> None:
        """postscreen ``DNSBL rank N``."""

    def dnsbl_listed(self, time: datetime, ip: str, domain: str) -> None:
        """dnsblog ``addr IP listed by domain D``."""
