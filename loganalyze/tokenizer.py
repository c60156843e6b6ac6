"""Turn mail-log lines into typed events with regular expressions; no I/O here.

Only the lines the HELO analysis needs become :class:`LogRecord` objects:
smtpd (and postscreen) session lines, reject lines and SPF policy results.
Everything else is counted as irrelevant, and lines that look like ours but
do not parse are kept as :class:`Unparsed` so a run can say what it skipped.
Every line lands in exactly one of ``stats.matched``, ``stats.irrelevant``
and ``stats.unparsed``. Which records are made is chosen with ``kinds``: by
default those the session builder consumes (:data:`SESSION_KINDS`); postscreen,
dnsblog and policyd-spf reject/defer records (:data:`EVIDENCE_KINDS`) on request.

Line formats (:class:`InputFormat`; ``postfix-reference.md`` section 4):

* ``syslog``: ``Nov 24 22:00:10 host prog[pid]: msg``. Traditional syslog
  (RFC 3164, space-padded day), Postfix's own ``maillog_file`` (zero-padded
  day, host = first label of ``myhostname``), ``journalctl -o short`` and
  ``-o short-precise`` (``22:00:10.622313``). No year: see :class:`Tokenizer`.
* ``rfc3339``: ``2026-11-24T22:00:10.532125+00:00 host prog[pid]: msg``:
  rsyslog's ``RSYSLOG_FileFormat`` (Debian 12's default), ``journalctl -o
  short-iso`` and ``-o short-iso-precise`` (offset ``+00:00``, ``+0000``, ``Z``).
* ``journal-full``: ``Tue 2026-11-24 22:00:29 UTC host prog[pid]: msg``
  (``journalctl -o short-full``; the zone name is not interpreted).
* ``journal-unix``: ``1795557629.622313 host prog[pid]: msg`` (``-o short-unix``).
* ``journal-json``: ``journalctl -o json``, one JSON object per line.
* ``auto`` (the default) picks the parser per line from its first character,
  so concatenated inputs of different formats still parse.

Time convention: :attr:`LogRecord.time` is a *naive wall-clock time*, the
time a traditional syslog file would show for the line. Stamps written with
a wall clock (syslog, RFC 3339, short-full) are kept as written; epoch stamps
(journal JSON, short-unix) are converted to wall-clock time in the zone ``tz``
(default: this machine's zone, as journalctl prints them). When ``tz`` is
given, RFC 3339 stamps with an offset are converted to that zone too, so a
log written in UTC and one written in local time line up.

Line shapes follow Postfix 3.x ``smtpd.c``, ``smtpd_check.c``, ``smtpd_peer.c``,
``postscreen/*.c``, ``dnsblog.c``, spf-engine 3.0.4 ``policyd_spf.py`` and
postfix-policyd-spf-perl 2.011; see ``postfix-reference.md`` sections 2-4.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import NamedTuple, Protocol
from urllib.parse import unquote

from .compat import StrEnum, parse_iso

# Lines longer than this cannot come from Postfix (records are capped at 2000
# bytes, postfix-reference 2.1); refusing them keeps every regex linear on
# hostile input.
MAX_LINE = 8192
# A journal JSON entry carries ~30 fields besides MESSAGE, and a MESSAGE that
# is not UTF-8 is written as a list of byte values (up to 4 characters each).
MAX_JSON_LINE = 65536


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
"""The kinds the session builder consumes; the default of :class:`Tokenizer`."""
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
    """How the lines of a log are written (see the module docstring)."""

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
    """One event from one log line. Strings are kept exactly as logged."""

    kind: Kind
    time: datetime
    """Naive wall-clock time: as written, or an epoch converted to ``tz`` (module docstring)."""
    host: str
    """The syslog host name: sessions on different hosts never mix."""
    service: str
    """The syslog tag without pid, e.g. ``postfix/submission/smtpd``."""
    pid: int
    client_name: str = ""
    """Client host name as Postfix verified it, or ``unknown`` (empty for postscreen)."""
    client_ip: str = ""
    helo: str | None = None
    """The ``helo=<...>`` value, when the line carries one."""
    sender: str | None = None
    """Envelope sender (``from=<...>``); empty string for the null sender."""
    recipient: str | None = None
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
    spf_result: str = ""
    """SPF result in lower case: pass, fail, softfail, neutral, none, temperror, permerror."""
    spf_identity: str = ""
    """``mailfrom`` or ``helo``."""
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Disconnect command counters: name -> (ok, total)."""
    lineno: int = 0
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


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}

# syslog header: timestamp, host, tag[pid]: message. Solaris inserts
# "[ID 197553 mail.info] " before the message and FreeBSD "<mail.info> "
# before the host (pflogsumm and postfix-logwatch strip both; reference 4).
_TAG = (
    r"(?P<host>\S+) (?P<service>[^\s\[]+)\[(?P<pid>\d+)\]: "
    r"(?:\[ID \d+ [a-z0-9]+\.[a-z]+\] )?(?P<msg>.*)"
)
_TRADITIONAL = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]?\d) (?P<time>\d\d:\d\d:\d\d)(?P<frac>\.\d+)? "
    r"(?:<[a-z0-9]+\.[a-z]+> )?" + _TAG,
    re.DOTALL,
)
_ISO = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?)(?P<tz>Z|[+-]\d\d:?\d\d)? " + _TAG,
    re.DOTALL,
)
_FULL = re.compile(
    r"[A-Z][a-z]{2} (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) [A-Za-z0-9+-]+ " + _TAG,
    re.DOTALL,
)
_UNIX = re.compile(r"(?P<sec>\d{1,12})(?:\.(?P<frac>\d{1,9}))? " + _TAG, re.DOTALL)
# RFC 5424 (RSYSLOG_SyslogProtocol23Format): APP-NAME is cut at the first "/",
# so smtpd cannot be told from qmgr (reference 4).
_RFC5424 = re.compile(r"<\d{1,3}>1 \d{4}-")

_NAMADDR = r"(?P<name>[^\[\s]*)\[(?P<ip>[^\]\s]*)\](?::(?P<port>\d+))?"
_CONNECT = re.compile(r"connect from " + _NAMADDR + r"$")
_DISCONNECT = re.compile(r"disconnect from " + _NAMADDR + r"(?P<stats>(?: \S+)*)$")
# smtpd.c: "%s: %s after %s from %s" with NOQUEUE/queue id since 3.10.
_LOST = re.compile(
    r"(?:NOQUEUE: |[0-9A-Za-z]+: )?(?P<what>lost connection|timeout|too many errors) after "
    r"(?P<stage>[A-Z-]+(?: content)?)(?: \(\d+ bytes\))? from " + _NAMADDR + r"$"
)
# smtpd_peer.c: "hostname %s does not resolve to address %s[: %s]"; the
# "address not listed for hostname" form is from Postfix 2.x.
_MISMATCH = re.compile(
    r"warning: (?:hostname (?P<ptr>\S+) does not resolve to address (?P<ip>\S+?)(?:: .*)?"
    r"|(?P<ip2>[^\s\[]+): address not listed for hostname (?P<ptr2>\S+))$"
)
# smtpd_check.c log_whatsup(): "%s: %s: %s from %s: %s;" then the fields it
# knows: " from=<%s>", " to=<%s>", " proto=%s", " helo=<%s>" and (3.10) the
# sasl_* fields; postscreen joins its fields with ", ". The text is a reply
# (code, DSN, text), or a bare text such as "bare <LF> received" (smtpd.c).
_REJECT_HEAD = re.compile(
    r"(?P<qid>NOQUEUE|[0-9A-Za-z]+): (?P<action>reject|reject_warning): "
    r"(?P<stage>[A-Z][A-Z-]*) from " + _NAMADDR + r": "
    r"(?:(?P<code>[245]\d\d) (?:(?P<dsn>[245]\.\d{1,3}\.\d{1,3}) )?)?"
)
# After a from=/to= value: what may follow its closing ">" (the next field).
_AFTER_ADDR = r"(?:,| to=<| proto=| helo=<| sasl_\w+=|$)"


def _atomic_addr(group: str) -> str:
    """An address value up to the first ">" that is followed by the next field.

    An unrolled loop, made atomic the portable way: captured inside a lookahead (which
    never backtracks once it matched) and consumed by a backreference. So a stranger's
    ">" or ";" never makes the regex backtrack over the line again. Not ``(?>...)`` or
    ``*+``: Python 3.10 lacks them, and 3.11 before 3.11.5 (Debian 12's 3.11.2) matches
    a possessive repeat of a group wrongly (CPython gh-106052).
    """
    loop = r"[^>]*(?:>(?!" + _AFTER_ADDR + r")[^>]*)*"
    return rf"(?=(?P<{group}>{loop}))(?P={group})"


_REJECT_FIELDS = re.compile(
    r";(?: from=<" + _atomic_addr("from") + r">,?)?(?: to=<" + _atomic_addr("to") + r">,?)?"
    r"(?: proto=[^\s,]+,?)?"
)
_SASL_FIELD = re.compile(r" sasl_\w+=\S*")


class _Reject(NamedTuple):
    m: re.Match[str]
    """The head match: qid, action, stage, name, ip, port, code, dsn."""
    text: str
    sender: str | None
    recipient: str | None
    helo: str | None


def _sasl_start(msg: str) -> int:
    """Where the sasl_* fields at the end of a reject line begin (len(msg) if none)."""
    end = len(msg)
    while True:
        start = msg.rfind(" sasl_", 0, end)
        if start < 0 or _SASL_FIELD.fullmatch(msg, start, end) is None:
            return end
        end = start


def _reject(msg: str) -> _Reject | None:
    """Split a reject line into head, reply text and fields, or None.

    The text ends at the first ";" after which the rest parses as the fields,
    so a stranger's ";" in the reply text (an RBL URL, a raw HELO) does not
    break them; the HELO is everything from ``helo=<`` to the last ``>``
    (``postfix-reference.md`` 2.3: anchor it at the end of the line). Linear
    in practice: no regex here backtracks over the whole line.
    """
    head = _REJECT_HEAD.match(msg)
    if head is None:
        return None
    start = head.end()
    size = len(msg)
    sasl = -1
    semi = msg.find(";", start)
    while semi >= 0:
        fields = _REJECT_FIELDS.match(msg, semi)
        assert fields is not None  # every field is optional
        after = fields.end()
        helo: str | None = None
        ok = after == size
        if not ok and msg.startswith(" helo=<", after):
            if msg[-1] == ">" and size - 1 >= after + 7:
                ok, helo = True, msg[after + 7:-1]
            else:
                if sasl < 0:
                    sasl = _sasl_start(msg)
                if msg[sasl - 1] == ">" and sasl - 1 >= after + 7:
                    ok, helo = True, msg[after + 7:sasl - 1]
        elif not ok:
            if sasl < 0:
                sasl = _sasl_start(msg)
            ok = after == sasl
        if ok:
            return _Reject(head, msg[start:semi], fields["from"], fields["to"], helo)
        semi = msg.find(";", semi + 1)
    return None


_CLIENT = re.compile(r"(?P<qid>[0-9A-Za-z]+): client=" + _NAMADDR + r"(?:,.*)?$")
# smtpd_chat.c smtpd_chat_reply(): 'msg_info("> %s: %s", state->namaddr, cp)'
# under msg_verbose; the reply comes from smtpd.c mail_cmd()/etrn_cmd().
_CHAT_HELO_REQUIRED = re.compile(
    r"> " + _NAMADDR + r": (?P<code>503) (?:(?P<dsn>5\.5\.1) )?"
    r"(?P<text>Error: send HELO/EHLO first)$"
)

# postscreen (postscreen.c, postscreen_early.c, postscreen_misc.c,
# postscreen_smtpd.c): the client is always "[addr]:port".
_PS_ADDR = r"\[(?P<ip>[^\]\s]*)\]:(?P<port>\d+)"
_PS_CONNECT = re.compile(r"CONNECT from " + _PS_ADDR + r" to \[[^\]\s]*\]:\d+$")
_PS_PASS = re.compile(r"PASS (?P<what>NEW|OLD) " + _PS_ADDR + r"$")
_PS_DNSBL = re.compile(r"DNSBL rank (?P<rank>-?\d+) for " + _PS_ADDR + r"$")
_PS_DISCONNECT = re.compile(r"DISCONNECT " + _PS_ADDR + r"$")
_PS_REJECT_CONNECT = re.compile(
    r"(?:NOQUEUE: )?reject: (?P<stage>CONNECT|connect) from " + _PS_ADDR + r": (?P<text>.*)$",
    re.DOTALL,
)
_PS_EVENT = re.compile(
    r"(?P<event>[A-Z][A-Z-]+(?: [A-Z][A-Z-]+)*)(?: (?P<mid>[^\[]*?))? (?:from )?" + _PS_ADDR
    + r"(?::? (?P<rest>.*))?$",
    re.DOTALL,
)
_DNSBLOG = re.compile(r"addr (?P<ip>\S+) listed by domain (?P<domain>\S+) as (?P<answer>\S+)$")

# policyd-spf (Python, spf-engine 3.0.4 policyd_spf.py): an optional
# "QUEUEID: " prefix since 3.0 (empty at RCPT, hence ": "), then
# "prepend <header>" or, with Header_Type = None, "Header field not
# prepended: <header>". The header ends with a space (spfDetail).
_SPF_PY = re.compile(
    r"(?:(?P<qid>[0-9A-Za-z]*): )?(?:prepend|Header field not prepended:) Received-SPF: "
    r"(?P<result>[A-Za-z]+) \((?P<comment>.*?)\) "
    r"identity=(?P<identity>\w+); client-ip=(?P<ip>[^;\s]+); helo=(?P<helo>.*?); "
    r"envelope-from=(?P<from>.*?); receiver=(?P<receiver>.*?) ?$",
    re.DOTALL,
)
# Its reject and defer lines: "<qid>: 550 5.7.23 <Reason_Message>" and
# "<qid>: defer_if_permit 4.7.24 <Reason_Message>"; the default Reason_Message
# is "Message {rejected|deferred} due to: {spf}. Please see {url}".
_SPF_PY_ACTION = re.compile(
    r"(?:(?P<qid>[0-9A-Za-z]*): )?(?P<action>550|defer_if_permit)"
    r"(?: (?P<dsn>[45]\.\d{1,3}\.\d{1,3}))? (?P<text>.*)$",
    re.DOTALL,
)
# postfix-policyd-spf-perl 2.011, logged as postfix/policy-spf.
_SPF_PERL = re.compile(
    r"Policy action=PREPEND Received-SPF: (?P<result>[a-z]+) \((?P<comment>.*)\) "
    r"receiver=[^;\s]*;? identity=(?P<identity>\w+); "
    r"(?:envelope-from=(?P<from>\"(?:[^\"\\]|\\.)*\"|[^;]*); )?"
    r"helo=(?P<helo>\"(?:[^\"\\]|\\.)*\"|[^;]*); client-ip=(?P<ip>\S+)$",
    re.DOTALL,
)
_SPF_PERL_ACTION = re.compile(
    r"Policy action=(?P<action>550|DEFER_IF_PERMIT) (?P<text>.*)$", re.DOTALL
)
# The explanation URL of both daemons: openspf.net (Python), openspf.org (Perl).
_SPF_WHY = re.compile(
    r"Why\?s=(?P<scope>mfrom|helo);id=(?P<id>.*);ip=(?P<ip>[^;\s]+);r=(?P<receiver>[^;\s]*)"
)
# pyspf's explanation strings (spf.py EXPLANATIONS and SPFError messages).
_SPF_EXPLANATIONS = (
    ("SPF fail - not authorized", "fail"),
    ("domain owner discourages use of this host", "softfail"),
    ("access neither permitted nor denied", "neutral"),
    ("no SPF record", "none"),
    ("sender SPF authorized", "pass"),
    ("SPF Permanent Error", "permerror"),
    ("permanent error in processing", "permerror"),
    ("SPF Temporary Error", "temperror"),
    ("temporary error in processing", "temperror"),
)
_SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")

_LOG_START = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d"
    r"|[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+|\d{9,12}\.\d+)[^ ]* \S+ \S"
)
# The start of a line in each format: is a line from another program well formed?
_STARTS: dict[InputFormat, re.Pattern[str]] = {
    InputFormat.SYSLOG: re.compile(r"[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d[^ ]* \S+ \S"),
    InputFormat.RFC3339: re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^ ]* \S+ \S"),
    InputFormat.JOURNAL_FULL: re.compile(
        r"[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \S+ \S"),
    InputFormat.JOURNAL_UNIX: re.compile(r"\d{9,12}\.\d+ \S+ \S"),
    InputFormat.JOURNAL_JSON: re.compile(r"\{"),
}


def line_format(line: str) -> InputFormat | None:
    """The format one line is written in, or None if it is none we know."""
    first = line[:1]
    if first == "{":
        return InputFormat.JOURNAL_JSON if line.rstrip().endswith("}") else None
    if first.isdigit():
        if _ISO.match(line):
            return InputFormat.RFC3339
        if _UNIX.match(line):
            return InputFormat.JOURNAL_UNIX
        return None
    if _TRADITIONAL.match(line):
        return InputFormat.SYSLOG
    if _FULL.match(line):
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


_HEADERS: dict[InputFormat, re.Pattern[str]] = {
    InputFormat.SYSLOG: _TRADITIONAL,
    InputFormat.RFC3339: _ISO,
    InputFormat.JOURNAL_FULL: _FULL,
    InputFormat.JOURNAL_UNIX: _UNIX,
}
# A pattern no line matches: the header regex of a forced journal-json tokenizer.
_NEVER = re.compile(r"(?!)")
_JSON_START = _STARTS[InputFormat.JOURNAL_JSON]


# The fast path of Tokenizer.scan(): what a learned "host tag[pid]" is.
_T_OTHER = 0
"""Another program (qmgr, cleanup, ...): the line is only counted."""
_T_NOTAG = 1
"""A well-formed line without ``tag[pid]`` (``host dovecot: ...``)."""
_T_SMTPD = 2
_T_SPF = 3
_T_SPF_PERL = 4
_T_POSTSCREEN = 5
_T_DNSBLOG = 6
_Tag = tuple[int, str, str, int]
"""(what it is, host, service, pid)."""
_OTHER_TAG: _Tag = (_T_OTHER, "", "", 0)
_NOTAG_TAG: _Tag = (_T_NOTAG, "", "", 0)
_SECONDS = {f"{n:02d}": timedelta(seconds=n) for n in range(60)}
# RFC 3339 as rsyslog's RSYSLOG_FileFormat writes it: the parts the fast path checks.
_RFC_START = 33
_RFC_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d ")
_STAMP = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")
_NOTAG_START = re.compile(r"\S+ \S")
# Entries kept in each of the fast path's caches before it starts again: a
# day's worth of new pids and clients would otherwise take tens of megabytes.
_CACHE_ENTRIES = 16384
_TAG_TEXT = re.compile(r"(\S+) ([^\s\[]+)\[(\d+)\]")
_NAMADDR_ONLY = re.compile(r"([^\[\s]*)\[([^\]\s]*)\](?::\d+)?")
_STATS_ONLY = re.compile(r"(?: \S+)*")
_LOST_PREFIXES = ("lost connection after ", "timeout after ", "too many errors after ")


class LineSink(Protocol):
    """Where :meth:`Tokenizer.scan` sends what it reads (:class:`~loganalyze.senders.Collector`).

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

    def postscreen_seen(self, ip: str) -> None:
        """postscreen ``CONNECT from`` or ``DISCONNECT``."""

    def postscreen_pass(self, ip: str) -> None:
        """postscreen ``PASS NEW`` or ``PASS OLD``."""

    def postscreen_dnsbl(self, ip: str, rank: int) -> None:
        """postscreen ``DNSBL rank N``."""

    def dnsbl_listed(self, ip: str, domain: str) -> None:
        """dnsblog ``addr IP listed by domain D``."""


class Tokenizer:
    """Stateful line parser: it infers the year of traditional syslog lines.

    Traditional syslog carries no year. The first line's year is ``year`` if
    given, otherwise this year, or last year when the month is later than the
    current month (pflogsumm's rule); a month that goes backwards by more than
    six months (December to January) starts the next year.

    ``tz`` is the zone epoch stamps are shown in (default: this machine's),
    and the zone RFC 3339 stamps are converted to when given (module
    docstring). ``input_format`` forces one line format (lines in any other
    shape are unparsed); ``auto`` picks it per line. ``kinds`` selects the
    records to emit (default :data:`SESSION_KINDS`, what the session builder
    consumes); lines that would give another kind count as irrelevant.
    """

    def __init__(
        self,
        year: int | None = None,
        now: datetime | None = None,
        *,
        tz: tzinfo | None = None,
        input_format: InputFormat | str = InputFormat.AUTO,
        kinds: Iterable[Kind] | None = None,
    ) -> None:
        self._now = now or datetime.now()
        self._year = year
        self._explicit_year = year is not None
        self._last_month = 0
        self._time_cache: dict[str, datetime] = {}
        self._tz = tz
        self.input_format = InputFormat(input_format)
        # The format of the last text line parsed, tried first on the next one.
        self._fmt: InputFormat = (InputFormat.SYSLOG if self.input_format is InputFormat.AUTO
                                  else self.input_format)
        self._regex = _HEADERS.get(self._fmt, _NEVER)
        self._start = _STARTS[self._fmt]
        self.kinds: frozenset[Kind] = SESSION_KINDS if kinds is None else frozenset(kinds)
        self._postscreen = bool(self.kinds & POSTSCREEN_KINDS)
        self.stats = TokenizerStats()
        # The fast path of scan() (syslog lines): what it has learned so far.
        self._scan_fast = (
            self.input_format in (InputFormat.AUTO, InputFormat.SYSLOG)
            and SESSION_KINDS <= self.kinds
            and (not self._postscreen or POSTSCREEN_KINDS <= self.kinds)
        )
        self._tags: dict[str, _Tag] = {}
        self._minutes: dict[str, datetime] = {}
        self._shapes: set[str] = set()
        self._namaddrs: dict[str, tuple[str, str] | None] = {}
        self._counter_texts: dict[str, tuple[tuple[str, tuple[int, int]], ...] | None] = {}

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

    def _epoch_time(self, seconds: int, micro: int) -> datetime:
        # Integer arithmetic: a float epoch would lose the microseconds.
        if self._tz is None:
            local = datetime.fromtimestamp(seconds)
        else:
            local = datetime.fromtimestamp(seconds, self._tz).replace(tzinfo=None)
        return local.replace(microsecond=micro)

    def _iso_time(self, stamp: str, offset: str | None) -> datetime:
        when = parse_iso(stamp)
        if offset is None or self._tz is None:
            return when
        if offset == "Z":
            delta = timedelta(0)
        else:
            sign = -1 if offset[0] == "-" else 1
            delta = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
        aware = when.replace(tzinfo=timezone(delta))
        return aware.astimezone(self._tz).replace(tzinfo=None)

    def _time(self, m: re.Match[str], fmt: InputFormat) -> datetime:
        """The time of a header match of format ``fmt``."""
        if fmt is InputFormat.SYSLOG:
            return self._traditional_time(m["mon"], m["day"], m["time"], m["frac"])
        if fmt is InputFormat.RFC3339:
            return self._iso_time(m["ts"], m["tz"])
        if fmt is InputFormat.JOURNAL_FULL:
            return parse_iso(m["ts"])
        frac = m["frac"] or "0"
        return self._epoch_time(int(m["sec"]), int(frac[:6].ljust(6, "0")))

    def _pick(self, line: str) -> InputFormat | str:
        """The line format of one text line in auto mode, or why there is none."""
        first = line[:1]
        if first.isdigit():
            return InputFormat.RFC3339 if line[4:5] == "-" else InputFormat.JOURNAL_UNIX
        if line[3:4] == " " and line[4:5].isdigit() and line[8:9] == "-":
            return InputFormat.JOURNAL_FULL
        if first == "<" and _RFC5424.match(line):
            return ("RFC 5424 line: the program name is cut at '/'; "
                    "log with RSYSLOG_FileFormat instead")
        return InputFormat.SYSLOG

    def _match(self, line: str) -> tuple[re.Match[str], InputFormat] | str:
        """Match the header of a text line, or say why it does not match."""
        m = self._regex.match(line)
        if m is not None:
            return m, self._fmt
        fmt: InputFormat = self.input_format
        if fmt is InputFormat.JOURNAL_JSON:
            return "not a journal JSON entry"
        if fmt is InputFormat.AUTO:
            picked = self._pick(line)
            if not isinstance(picked, InputFormat):
                return picked
            fmt = picked
            m = _HEADERS[fmt].match(line)
            if m is not None:
                # Most inputs keep one format: try it first on the next line.
                self._fmt, self._regex, self._start = fmt, _HEADERS[fmt], _STARTS[fmt]
                return m, fmt
        return "unknown timestamp or tag"

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        """Parse one line into a record, or None (irrelevant or not understood).

        Unparsed lines are counted and sampled in :attr:`stats`. Never raises.
        """
        self.stats.lines += 1
        return self._parse(line, lineno)

    def _parse(self, line: str, lineno: int) -> LogRecord | None:
        stats = self.stats
        # Cheap rejections first: most lines of a busy log are qmgr, cleanup, delivery.
        if (
            "smtpd[" not in line
            and "spf[" not in line
            and not (self._postscreen and ("postscreen[" in line or "dnsblog[" in line))
        ):
            start = self._start
            if start.match(line) is not None:
                if start is _JSON_START:
                    return self._parse_json(line, lineno)
                stats.irrelevant += 1
            elif line[:1] == "{":
                return self._parse_json(line, lineno)
            elif _LOG_START.match(line) is not None:
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
        if not (service.endswith(("/smtpd", "spf")) or (
                self._postscreen and service.endswith(("/postscreen", "/dnsblog")))):
            stats.irrelevant += 1  # another program: its time stamp is not even read
            return None
        try:
            if fmt is InputFormat.SYSLOG and not m["frac"]:
                # Many lines share a second: cache the inferred time. The key is
                # the stamp and the space after it (what the fast path looks up).
                key = line[:m.end("time") + 1]
                when = self._time_cache.get(key)
                if when is None:
                    when = self._traditional_time(m["mon"], m["day"], m["time"], None)
                    if len(self._time_cache) > 4096:
                        self._time_cache.clear()
                    self._time_cache[key] = when
            else:
                when = self._time(m, fmt)
        except (ValueError, KeyError, OverflowError, OSError):
            stats.add_unparsed(Unparsed(line, lineno, "invalid timestamp"))
            return None
        return self._finish(line, lineno, when, m["host"], service, int(m["pid"]), m["msg"])

    def _finish(
        self, line: str, lineno: int, when: datetime, host: str, service: str, pid: int,
        msg: str,
    ) -> LogRecord | None:
        stats = self.stats
        try:
            record = self._message(msg, when, host, service, pid)
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
        # The identifier is followed by its closing quote: a cheap screen.
        if (
            'smtpd"' not in line
            and 'spf"' not in line
            and not (self._postscreen and ('postscreen"' in line or 'dnsblog"' in line))
        ):
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
        service = _journal_str(entry.get("SYSLOG_IDENTIFIER")) or _journal_str(
            entry.get("_COMM"))
        if not (service.endswith("smtpd") or service.endswith("spf") or (
                self._postscreen and service.endswith(("postscreen", "dnsblog")))):
            stats.irrelevant += 1
            return None
        msg = entry.get("MESSAGE")
        stamp = _journal_str(entry.get("_SOURCE_REALTIME_TIMESTAMP")) or _journal_str(
            entry.get("__REALTIME_TIMESTAMP"))
        pid_text = _journal_str(entry.get("SYSLOG_PID")) or _journal_str(entry.get("_PID"))
        if msg is None or not stamp.isdecimal() or not pid_text.isdecimal():
            stats.add_unparsed(Unparsed(
                line[:MAX_LINE], lineno, "journal entry without MESSAGE, time or PID"))
            return None
        try:
            micros = int(stamp)
            when = self._epoch_time(micros // 1_000_000, micros % 1_000_000)
        except (ValueError, OverflowError, OSError):
            stats.add_unparsed(Unparsed(line[:MAX_LINE], lineno, "invalid timestamp"))
            return None
        text = _journal_str(msg)
        if len(text) > MAX_LINE:
            stats.add_unparsed(Unparsed(line[:200], lineno, "message too long for a syslog record"))
            return None
        host = _journal_str(entry.get("_HOSTNAME"))
        return self._finish(line, lineno, when, host, service, int(pid_text), text)

    def line_time(self, line: str) -> datetime | None:
        """The time of one line, without counting it; None if it has no valid stamp.

        Uses (and advances) this tokenizer's year inference, so call it on a
        tokenizer of its own, e.g. to find the first time of a file.
        """
        try:
            if line[:1] == "{":
                entry = json.loads(line)
                stamp = _journal_str(entry.get("_SOURCE_REALTIME_TIMESTAMP")) or _journal_str(
                    entry.get("__REALTIME_TIMESTAMP"))
                micros = int(stamp)
                return self._epoch_time(micros // 1_000_000, micros % 1_000_000)
            matched = self._match(line)
            if isinstance(matched, str):
                return None
            return self._time(*matched)
        except (ValueError, KeyError, OverflowError, OSError, AttributeError, RecursionError):
            return None

    def _message(
        self, msg: str, when: datetime, host: str, service: str, pid: int
    ) -> LogRecord | str | None:
        """Parse the message part; a str result is the reason it is not understood."""
        if service.endswith("/smtpd"):
            return _smtpd(msg, when, host, service, pid)
        if service.endswith("spf"):
            return _spf(msg, when, host, service, pid)
        if self._postscreen:
            if service.endswith("/postscreen"):
                return _postscreen(msg, when, host, service, pid)
            if service.endswith("/dnsblog"):
                m = _DNSBLOG.match(msg)
                if m is None:
                    return None
                return LogRecord(Kind.DNSBL_LISTED, when, host, service, pid, "", m["ip"],
                                 reason=m["domain"], detail=m["answer"])
        return None

    def tokenize(self, lines: Iterable[str], start: int = 1) -> Iterator[LogRecord]:
        """Yield the records of ``lines``; counts and unparsed samples go to ``stats``."""
        parse = self.parse
        for lineno, line in enumerate(lines, start):
            record = parse(line, lineno)
            if record is not None:
                yield record

    # -- the fast path: blocks of syslog lines ----------------------------------------

    def scan(self, lines: Sequence[str], lineno: int, sink: LineSink) -> None:
        """Parse a block of lines into calls of ``sink``; ``lineno`` is the first line's number.

        The result is exactly that of :meth:`parse` on each line with every
        record passed to ``sink.record``, and the same counts in :attr:`stats`.
        But the common lines of a syslog file cost no regular expression for
        their header and make no record object: the header ``host tag[pid]``
        and the time stamp are looked up in what earlier lines taught (a line
        that teaches nothing takes the :meth:`parse` way), lines of other
        programs are only counted, and the frequent smtpd, postscreen and
        policyd-spf messages go straight to the sink's methods named after
        their kind (:class:`LineSink`). Lines are given without line endings.
        """
        if not self._scan_fast:
            parse, emit = self.parse, sink.record
            for number, line in enumerate(lines, lineno):
                record = parse(line, number)
                if record is not None:
                    emit(record)
            return
        stats = self.stats
        stats.lines += len(lines)
        tags, shapes, times = self._tags, self._shapes, self._time_cache
        namaddrs, counter_texts = self._namaddrs, self._counter_texts
        matched = irrelevant = 0
        # Lines longer than a syslog record are left to parse() (rare: test per block).
        long_lines = max(map(len, lines), default=0) > MAX_LINE
        # "host tag[pid]: " starts after the time stamp and a space: at 16 in syslog
        # ("Nov 24 22:00:10 "), at 33 in RFC 3339 as rsyslog writes it
        # ("2026-11-24T22:00:10.532125+00:00 "). Lines in another layout take parse().
        rfc = bool(lines) and "0" <= lines[0][:1] <= "9"
        start = _RFC_START if rfc else 16
        rfc_stamp, fromisoformat, local = _RFC_STAMP.match, datetime.fromisoformat, self._tz is None
        stamp = ""
        for number, line in enumerate(lines, lineno):
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
                stamp = line[:16]
            if tag is _OTHER_TAG or tag is _NOTAG_TAG:
                # Another program's line: well formed if its stamp is (and, for a
                # line without "tag[pid]", if it does not look like ours).
                if (rfc or stamp in shapes or self._shape(stamp)) and (
                        tag is _OTHER_TAG or not (
                            "smtpd[" in line or "spf[" in line or "postscreen[" in line
                            or "dnsblog[" in line)):
                    irrelevant += 1
                else:
                    self._scan_slow(line, number, sink)
                continue
            kind, host, service, pid = tag
            if rfc:
                try:
                    # Without --tz the offset is not applied: the stamp is local time.
                    when = (fromisoformat(line[:26]) if local
                            else self._iso_time(line[:26], line[26:32]))
                except (ValueError, KeyError, OverflowError, OSError):
                    self._scan_slow(line, number, sink)  # parse() says why
                    continue
            else:
                cached = times.get(stamp) or self._scan_time(stamp)
                if cached is None:
                    self._scan_slow(line, number, sink)
                    continue
                when = cached
            at = end + 2  # where the message starts: matched in place, not sliced
            if kind == _T_SMTPD:
                if line.startswith("connect from ", at):
                    text = line[at + 13:]
                    na = namaddrs.get(text) or self._namaddr(text)
                    if na is not None:
                        sink.connect(when, host, service, pid, na[0], na[1])
                        matched += 1
                        continue
                elif line.startswith("disconnect from ", at):
                    space = line.find(" ", at + 16)
                    if space < 0:
                        space = len(line)
                    text = line[at + 16:space]
                    na = namaddrs.get(text) or self._namaddr(text)
                    tail = line[space:]
                    items = counter_texts.get(tail) or self._counter_text(tail)
                    if na is not None and items is not None:
                        sink.disconnect(when, host, service, pid, na[0], na[1], dict(items))
                        matched += 1
                        continue
                elif line.startswith("NOQUEUE: reject", at):
                    r = _reject(line[at:])
                    if r is not None:
                        rm = r.m
                        sink.reject(when, host, service, pid, rm["name"], rm["ip"], r.helo,
                                    r.sender, r.recipient, rm["stage"], int(rm["code"] or 0),
                                    rm["dsn"] or "", r.text, rm["action"] == "reject_warning")
                        matched += 1
                        continue
                elif line.startswith(_LOST_PREFIXES, at):
                    m = _LOST.match(line, at)
                    if m is not None:
                        sink.lost(when, host, service, pid, m["name"], m["ip"], m["stage"],
                                  m["what"])
                        matched += 1
                        continue
                elif line.startswith(_SMTPD_NOISE, at):
                    # TLS and other chatter: _smtpd() finds nothing in it (no need to look).
                    if not _smtpd_words(line[at:]):
                        irrelevant += 1
                        continue
                else:
                    colon = line.find(": client=", at)
                    if colon > at:
                        queue_id = line[at:colon]
                        text = line[colon + 9:]
                        na = namaddrs.get(text) or self._namaddr(text)
                        if (na is not None and queue_id.isalnum() and queue_id.isascii()
                                and queue_id != "warning"):
                            sink.client(when, host, service, pid, na[0], na[1])
                            matched += 1
                            continue
            elif kind == _T_POSTSCREEN:
                if line.startswith("CONNECT from ", at):
                    m = _PS_CONNECT.match(line, at)
                    if m is not None:
                        sink.postscreen_seen(m["ip"])
                        matched += 1
                        continue
                elif line.startswith("PASS ", at):
                    m = _PS_PASS.match(line, at)
                    if m is not None:
                        sink.postscreen_pass(m["ip"])
                        matched += 1
                        continue
                elif line.startswith("DISCONNECT ", at):
                    m = _PS_DISCONNECT.match(line, at)
                    if m is not None:
                        sink.postscreen_seen(m["ip"])
                        matched += 1
                        continue
                elif line.startswith("DNSBL rank ", at):
                    m = _PS_DNSBL.match(line, at)
                    if m is not None:
                        sink.postscreen_dnsbl(m["ip"], int(m["rank"]))
                        matched += 1
                        continue
            elif kind == _T_SPF:
                if line.find("Received-SPF: ", at) >= 0:
                    m = _SPF_PY.match(line, at)
                    if m is not None:
                        envelope = m["from"]
                        identity = m["identity"]
                        sink.spf(when, host, m["ip"], m["helo"],
                                 "" if envelope in ("<>", None) else envelope,
                                 m["result"].lower(),
                                 "mailfrom" if identity == "mfrom" else identity)
                        matched += 1
                        continue
            elif kind == _T_DNSBLOG:
                m = _DNSBLOG.match(line, at)
                if m is not None:
                    sink.dnsbl_listed(m["ip"], m["domain"])
                    matched += 1
                    continue
            # Anything else: the general parser, without reading the header again.
            if line.startswith("[ID ", at):
                self._scan_slow(line, number, sink)
                continue
            msg = line[at:]
            record = self._finish(line, number, when, host, service, pid, msg)
            if record is not None:
                sink.record(record)
        stats.matched += matched
        stats.irrelevant += irrelevant

    def _learn_tag(self, text: str) -> _Tag | None:
        """What ``host service[pid]`` is, learned without parsing its line (each new pid).

        What :meth:`_scan_slow` would learn from a well-formed line with this
        tag; the fast path checks the rest of the line (time stamp, ``[ID``)
        itself. Other shapes (no pid, extra fields) are left to it.
        """
        m = _TAG_TEXT.fullmatch(text)
        if m is None:
            return None
        host, service, pid = m.groups()
        learned = self._tag(host, service, pid)
        self._remember_tag(text, learned)
        return learned

    def _tag(self, host: str, service: str, pid: str) -> _Tag:
        """What the fast path does with lines of ``host service[pid]``."""
        if service.endswith("/smtpd"):
            kind = _T_SMTPD
        elif service.endswith("spf"):
            kind = _T_SPF_PERL if service.endswith("policy-spf") else _T_SPF
        elif self._postscreen and service.endswith("/postscreen"):
            kind = _T_POSTSCREEN
        elif self._postscreen and service.endswith("/dnsblog"):
            kind = _T_DNSBLOG
        else:
            return _OTHER_TAG
        return (kind, host, service, int(pid))

    def _remember_tag(self, text: str, learned: _Tag) -> None:
        if len(self._tags) >= _CACHE_ENTRIES:
            self._tags.clear()
        self._tags[text] = learned

    def _scan_slow(self, line: str, lineno: int, sink: LineSink) -> None:
        """A line the fast path does not know: parse it, and learn its header."""
        record = self._parse(line, lineno)
        if record is not None:
            sink.record(record)
        if "A" <= line[:1] <= "Z":
            start, header = 16, _TRADITIONAL
            if not (line[:16] in self._shapes or self._shape(line[:16])):
                return
        elif "0" <= line[:1] <= "9":
            start, header = _RFC_START, _ISO
            if not self._rfc_stamp(line):
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
                    header is _TRADITIONAL and m.end("time") != 15):
                return  # fractions of seconds, FreeBSD or Solaris extras: not learned
            learned = self._tag(m["host"], m["service"], m["pid"])
        elif _NOTAG_START.match(tag) is not None:
            learned = _NOTAG_TAG  # e.g. "host dovecot: ..."
        else:
            return
        self._remember_tag(tag, learned)

    def _rfc_stamp(self, line: str) -> bool:
        """Whether ``line`` starts with ``YYYY-MM-DDThh:mm:ss.ffffff+hh:mm ``."""
        return _RFC_STAMP.match(line) is not None

    def _shape(self, stamp: str) -> bool:
        """Whether ``stamp`` (16 characters) is a syslog time stamp and a space; remembered."""
        if _STAMP.fullmatch(stamp) is None:
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
        minute = self._minutes.get(stamp[:13])
        delta = _SECONDS.get(stamp[13:15])
        if (minute is not None and delta is not None and stamp[15] == " "
                and minute.month == self._last_month and minute.year == self._year):
            when = minute + delta
        elif stamp not in self._shapes and not self._shape(stamp):
            return None
        else:
            try:
                when = self._traditional_time(stamp[:3], stamp[4:6], stamp[7:15], None)
            except (ValueError, KeyError, OverflowError, OSError):
                return None  # parse() says so (the inference above does not count twice)
            if len(self._minutes) >= 4096:
                self._minutes.clear()
            self._minutes[stamp[:13]] = when.replace(second=0)
        if len(self._time_cache) > 4096:
            self._time_cache.clear()
        self._time_cache[stamp] = when
        return when

    def _namaddr(self, text: str) -> tuple[str, str] | None:
        """``name[address]`` or ``name[address]:port`` -> (name, address); remembered."""
        m = _NAMADDR_ONLY.fullmatch(text)
        value = None if m is None else (m[1], m[2])
        if value is not None:
            if len(self._namaddrs) >= _CACHE_ENTRIES:
                self._namaddrs.clear()
            self._namaddrs[text] = value
        return value

    def _counter_text(self, text: str) -> tuple[tuple[str, tuple[int, int]], ...] | None:
        """The counters after a disconnect's client, parsed once per distinct text."""
        if _STATS_ONLY.fullmatch(text) is None:
            return None
        value = tuple(_counters(text).items())
        if len(self._counter_texts) >= 4096:
            self._counter_texts.clear()
        self._counter_texts[text] = value
        return value


def _journal_str(value: object) -> str:
    """A journal field as text: a string, a list of byte values, or (repeated) a list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        if all(isinstance(b, int) and 0 <= b < 256 for b in value):
            # journald stores a MESSAGE that is not UTF-8 as raw bytes.
            return bytes(value).decode("utf-8", "replace")
        return _journal_str(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _port(text: str | None) -> int:
    return int(text) if text else 0


# Frequent smtpd messages that (almost always) contain none of those words.
_SMTPD_NOISE = ("Anonymous TLS ", "Trusted TLS ", "Verified TLS ", "Untrusted TLS ",
                "NOQUEUE: filter:", "improper command pipelining")


def _smtpd_words(msg: str) -> bool:
    """Whether an smtpd message has a word that makes _smtpd() look closer."""
    return ("connect from" in msg or "reject" in msg or " after " in msg or "warning: " in msg
            or "client=" in msg or "HELO/EHLO" in msg)


def _smtpd(msg: str, when: datetime, host: str, service: str, pid: int) -> LogRecord | str | None:
    if not _smtpd_words(msg):
        return None
    head = msg[:11]
    if head.startswith("connect fro"):
        m = _CONNECT.match(msg)
        if m is None:
            return "connect line with an unexpected client form"
        return LogRecord(Kind.CONNECT, when, host, service, pid, m["name"], m["ip"],
                         port=_port(m["port"]))
    if head.startswith("disconnect "):
        m = _DISCONNECT.match(msg)
        if m is None:
            return "disconnect line with an unexpected client form"
        return LogRecord(
            Kind.DISCONNECT, when, host, service, pid, m["name"], m["ip"],
            counters=_counters(m["stats"]), port=_port(m["port"]),
        )
    if ": reject" in msg:
        r = _reject(msg)
        if r is None:
            if ": reject: " in msg or ": reject_warning: " in msg:
                return "reject line with an unexpected shape"
            return None
        m = r.m
        return LogRecord(
            Kind.REJECT, when, host, service, pid, m["name"], m["ip"],
            helo=r.helo, sender=r.sender, recipient=r.recipient, stage=m["stage"],
            code=int(m["code"] or 0), dsn=m["dsn"] or "", reason=r.text,
            warning=m["action"] == "reject_warning",
            queue_id="" if m["qid"] == "NOQUEUE" else m["qid"], port=_port(m["port"]),
        )
    if " after " in msg:
        m = _LOST.match(msg)
        if m is None:
            return None
        return LogRecord(
            Kind.LOST, when, host, service, pid, m["name"], m["ip"],
            stage=m["stage"], reason=m["what"], port=_port(m["port"]),
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
            Kind.CLIENT, when, host, service, pid, m["name"], m["ip"], queue_id=m["qid"],
            port=_port(m["port"]),
        )
    if msg.startswith("> "):
        m = _CHAT_HELO_REQUIRED.match(msg)
        if m is None:
            return None
        # MAIL gets "503 5.5.1 ...", ETRN "503 Error: ..." (smtpd.c).
        return LogRecord(
            Kind.REJECT, when, host, service, pid, m["name"], m["ip"],
            stage="MAIL" if m["dsn"] else "ETRN", code=503, dsn=m["dsn"] or "",
            reason=m["text"], port=_port(m["port"]),
        )
    return None


def _postscreen(
    msg: str, when: datetime, host: str, service: str, pid: int
) -> LogRecord | str | None:
    first = msg[:1]
    if first == "C" and msg.startswith("CONNECT from "):
        m = _PS_CONNECT.match(msg)
        if m is None:
            return "postscreen CONNECT line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_CONNECT, when, host, service, pid, "", m["ip"],
                         port=int(m["port"]))
    if first == "P" and msg.startswith("PASS "):
        m = _PS_PASS.match(msg)
        if m is not None:
            return LogRecord(Kind.POSTSCREEN_PASS, when, host, service, pid, "", m["ip"],
                             reason=m["what"], port=int(m["port"]))
    elif first == "D" and msg.startswith("DNSBL rank "):
        m = _PS_DNSBL.match(msg)
        if m is None:
            return "postscreen DNSBL line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_DNSBL, when, host, service, pid, "", m["ip"],
                         score=int(m["rank"]), port=int(m["port"]))
    elif first == "D" and msg.startswith("DISCONNECT "):
        m = _PS_DISCONNECT.match(msg)
        if m is None:
            return "postscreen DISCONNECT line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_DISCONNECT, when, host, service, pid, "", m["ip"],
                         port=int(m["port"]))
    elif "reject: " in msg:
        r = _reject(msg)
        if r is not None:
            return LogRecord(
                Kind.POSTSCREEN_REJECT, when, host, service, pid, "", r.m["ip"],
                helo=r.helo, sender=r.sender, recipient=r.recipient, stage=r.m["stage"],
                code=int(r.m["code"] or 0), dsn=r.m["dsn"] or "", reason=r.text,
                port=_port(r.m["port"]),
            )
        m = _PS_REJECT_CONNECT.match(msg)
        if m is None:
            return "postscreen reject line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_REJECT, when, host, service, pid, "", m["ip"],
                         stage="CONNECT", reason=m["text"], port=int(m["port"]))
    if not ("A" <= first <= "Z") or len(msg) > 1024:
        return None  # cache cleanup, warnings, statistics
    m = _PS_EVENT.match(msg)
    if m is None:
        return None
    return LogRecord(Kind.POSTSCREEN_EVENT, when, host, service, pid, "", m["ip"],
                     stage=m["event"], detail=m["mid"] or "", reason=m["rest"] or "",
                     port=int(m["port"]))


def _spf_result_of(text: str, dsn: str, action: str) -> str:
    """The SPF result behind a policyd-spf reject/defer line.

    spf-engine rejects on Fail by default but can be told to reject other
    results (``HELO_reject``/``Mail_From_reject`` = SPF_Not_Pass, Softfail);
    the explanation is pyspf's text for the result (``spf_engine/__init__.py``
    ``_rejectmessage``), except that a Fail may carry the domain's own
    ``exp=`` text. ``5.7.24`` marks Permerror; defers are Temperror.
    """
    for phrase, result in _SPF_EXPLANATIONS:
        if phrase in text:
            return result
    policy = text.find("Receiver policy for SPF ")
    if policy >= 0:
        word = text[policy + 24:].split(".", 1)[0].split(" ", 1)[0].lower()
        if word in _SPF_RESULTS:
            return word
    if action == "defer":
        return "temperror"
    return "permerror" if dsn == "5.7.24" else "fail"


def _spf(msg: str, when: datetime, host: str, service: str, pid: int) -> LogRecord | str | None:
    perl = service.endswith("policy-spf")
    if "Received-SPF: " in msg:
        m = _SPF_PERL.match(msg) if perl else _SPF_PY.match(msg)
        if m is None:
            return "SPF line with an unexpected shape"
        envelope = _unquote(m["from"]) if perl else m["from"]
        return LogRecord(
            Kind.SPF, when, host, service, pid, "", m["ip"],
            helo=_unquote(m["helo"]) if perl else m["helo"],
            sender="" if envelope in ("<>", None) else envelope,
            spf_result=m["result"].lower(), reason=m["comment"],
            # Mail::SPF before 2.007 wrote "mfrom" for the MAIL FROM identity.
            spf_identity="mailfrom" if m["identity"] == "mfrom" else m["identity"],
            queue_id="" if perl else (m["qid"] or ""), action="prepend",
        )
    # Reject and defer lines: a later stage counts them; a Fail has no
    # prepend line at all (spf-engine logs one action per request).
    if perl:
        if not msg.startswith("Policy action="):
            return None
        m = _SPF_PERL_ACTION.match(msg)
        qid = ""
        dsn = ""
    else:
        if not ("550" in msg or "defer_if_permit" in msg):
            return None
        m = _SPF_PY_ACTION.match(msg)
        if m is None:
            return None  # debug output ("spfcheck: ...", "Pass; identity=...")
        qid = m["qid"] or ""
        dsn = m["dsn"] or ""
    if m is None:
        return None
    text = m["text"]
    action = "reject" if m["action"] == "550" else "defer"
    why = _SPF_WHY.search(text)
    identity = ""
    client_ip = ""
    sender: str | None = None
    helo: str | None = None
    if why is not None:
        client_ip = why["ip"]
        ident = unquote(why["id"]) if perl else why["id"]
        if why["scope"] == "helo":
            identity, helo = "helo", ident
        else:
            identity, sender = "mailfrom", ident
    return LogRecord(
        Kind.SPF_REJECT, when, host, service, pid, "", client_ip, helo=helo, sender=sender,
        code=550 if action == "reject" else 450, dsn=dsn, reason=text,
        spf_result="fail" if perl and action == "reject" else (
            "temperror" if perl else _spf_result_of(text, dsn, action)),
        spf_identity=identity, queue_id=qid, action=action,
    )


def _unquote(value: str | None) -> str | None:
    """Mail::SPF quotes values that are not dot-atoms (``envelope-from="a@b"``)."""
    if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _counters(text: str) -> dict[str, tuple[int, int]]:
    """``ehlo=1 mail=1 rcpt=0/1 ... commands=3/4`` -> name: (ok, total).

    smtpd.c smtpd_format_cmd_stats(): "name=ok" or "name=ok/total"; other
    words (3.10 ``notes=bare_lf``) are skipped.
    """
    counters: dict[str, tuple[int, int]] = {}
    for word in text.split():
        name, _, value = word.partition("=")
        ok, _, total = value.partition("/")
        if ok.isdecimal() and name.isalpha():
            good = int(ok)
            counters[name] = (good, int(total) if total.isdecimal() else good)
    return counters


def tokenize(
    lines: Iterable[str],
    *,
    year: int | None = None,
    stats: TokenizerStats | None = None,
    tz: tzinfo | None = None,
    input_format: InputFormat | str = InputFormat.AUTO,
    kinds: Iterable[Kind] | None = None,
) -> Iterator[LogRecord]:
    """Parse mail-log lines into :class:`LogRecord` events (convenience wrapper)."""
    tokenizer = Tokenizer(year=year, tz=tz, input_format=input_format, kinds=kinds)
    if stats is not None:
        tokenizer.stats = stats
    yield from tokenizer.tokenize(lines)
