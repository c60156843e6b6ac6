"""smtpd messages: connect, disconnect, reject, lost connection, hostname warnings, client=.

Line shapes follow Postfix 3.x ``smtpd.c``, ``smtpd_check.c``, ``smtpd_peer.c`` and
``smtpd_chat.c`` (``postfix-reference.md`` sections 2-3). Each rule is one function or
regular expression, used both by :meth:`~loganalyze.parse.Tokenizer.parse` (through
:func:`record`) and by the fast path of :meth:`~loganalyze.parse.Tokenizer.scan`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from ..model import Kind, LogRecord

CACHE_ENTRIES = 16384
"""Distinct texts remembered by each cached rule: a day of new clients would otherwise
take tens of megabytes."""

# smtpd_peer.c: "name[addr]" or, with smtpd_client_port_logging, "name[addr]:port".
NAMADDR_TEXT = r"(?P<name>[^\[\s]*)\[(?P<ip>[^\]\s]*)\](?::(?P<port>\d+))?"
_NAMADDR = re.compile(NAMADDR_TEXT)


class Client(NamedTuple):
    """A client as smtpd logs it."""

    name: str
    """Verified host name, or ``unknown``."""
    ip: str
    """Address."""
    port: int
    """Port, or 0 when not logged."""


def port(text: str | None) -> int:
    """A port group of a match (0 when absent)."""
    return int(text) if text else 0


@lru_cache(maxsize=CACHE_ENTRIES)
def client_of(text: str) -> Client | None:
    """``name[address]`` or ``name[address]:port`` and nothing else, or None."""
    m = _NAMADDR.fullmatch(text)
    return None if m is None else Client(m["name"], m["ip"], port(m["port"]))


CONNECT = "connect from "
"""smtpd.c: ``connect from %s`` (the client)."""
DISCONNECT = "disconnect from "
"""smtpd.c: ``disconnect from %s%s`` (the client, then the command counters)."""


def disconnect_parts(msg: str, at: int) -> tuple[str, str]:
    """The client text and the counter text of a disconnect message starting at ``at``.

    The client has no space in it, so it ends at the first space.
    """
    start = at + len(DISCONNECT)
    space = msg.find(" ", start)
    if space < 0:
        space = len(msg)
    return msg[start:space], msg[space:]


_COUNTER_TEXT = re.compile(r"(?: \S+)*")


@lru_cache(maxsize=4096)
def counter_items(text: str) -> tuple[tuple[str, tuple[int, int]], ...] | None:
    """``" ehlo=1 mail=1 rcpt=0/1 ... commands=3/4"`` -> ((name, (ok, total)), ...).

    smtpd.c smtpd_format_cmd_stats(): "name=ok" or "name=ok/total"; other
    words (3.10 ``notes=bare_lf``) are skipped. None if the text is not words
    each after one space.
    """
    if _COUNTER_TEXT.fullmatch(text) is None:
        return None
    counters: dict[str, tuple[int, int]] = {}
    for word in text.split():
        name, _, value = word.partition("=")
        ok, _, total = value.partition("/")
        if ok.isdecimal() and name.isalpha():
            good = int(ok)
            counters[name] = (good, int(total) if total.isdecimal() else good)
    return tuple(counters.items())


# smtpd.c: "%s: %s after %s from %s" with NOQUEUE/queue id since 3.10.
_LOST_WORDS = ("lost connection", "timeout", "too many errors")
LOST_PREFIXES = tuple(f"{word} after " for word in _LOST_WORDS)
"""How a lost-connection message starts when it has no queue id."""
LOST = re.compile(
    r"(?:NOQUEUE: |[0-9A-Za-z]+: )?(?P<what>" + "|".join(_LOST_WORDS) + r") after "
    r"(?P<stage>[A-Z-]+(?: content)?)(?: \(\d+ bytes\))? from " + NAMADDR_TEXT + r"$"
)
"""``lost connection after STAGE from CLIENT`` and friends."""
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
    r"(?P<stage>[A-Z][A-Z-]*) from " + NAMADDR_TEXT + r": "
    r"(?:(?P<code>[245]\d\d) (?:(?P<dsn>[245]\.\d{1,3}\.\d{1,3}) )?)?"
)
REJECT = "NOQUEUE: reject"
"""How the reject lines of a session start (before a queue id exists)."""
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


class Reject(NamedTuple):
    """The facts of a ``reject:`` or ``reject_warning:`` line (smtpd or postscreen)."""

    qid: str
    """The queue id, or ``NOQUEUE``."""
    stage: str
    """The SMTP command: RCPT, EHLO, MAIL, CONNECT, ..."""
    name: str
    """Client host name."""
    ip: str
    """Client address."""
    port: int
    """Client port, or 0."""
    code: int
    """SMTP reply code, or 0 for a bare text."""
    dsn: str
    """Enhanced status code, or empty."""
    text: str
    """The reply text after code and DSN."""
    warning: bool
    """True for ``reject_warning`` (logged, not enforced)."""
    sender: str | None
    """``from=<...>``."""
    recipient: str | None
    """``to=<...>``."""
    helo: str | None
    """``helo=<...>``."""


def _sasl_start(msg: str) -> int:
    """Where the sasl_* fields at the end of a reject line begin (len(msg) if none)."""
    end = len(msg)
    while True:
        start = msg.rfind(" sasl_", 0, end)
        if start < 0 or _SASL_FIELD.fullmatch(msg, start, end) is None:
            return end
        end = start


def parse_reject(msg: str) -> Reject | None:
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
            return Reject(
                head["qid"], head["stage"], head["name"], head["ip"], port(head["port"]),
                int(head["code"] or 0), head["dsn"] or "", msg[start:semi],
                head["action"] == "reject_warning", fields["from"], fields["to"], helo)
        semi = msg.find(";", semi + 1)
    return None


_CLIENT_FIELD = ": client="


def accepted(msg: str, at: int) -> tuple[str, str] | None:
    """``QUEUEID: client=...`` (smtpd.c, a message was accepted): (queue id, client text)."""
    colon = msg.find(_CLIENT_FIELD, at)
    if colon <= at:
        return None
    queue_id = msg[at:colon]
    if not (queue_id.isalnum() and queue_id.isascii()) or queue_id == "warning":
        return None
    return queue_id, msg[colon + len(_CLIENT_FIELD):]


@lru_cache(maxsize=CACHE_ENTRIES)
def accepted_client(text: str) -> Client | None:
    """The client of a ``client=`` line: ``name[addr]``, then nothing or ``, sasl_...``."""
    m = _NAMADDR.match(text)
    if m is None or (m.end() < len(text) and text[m.end()] != ","):
        return None
    return Client(m["name"], m["ip"], port(m["port"]))


# smtpd_chat.c smtpd_chat_reply(): 'msg_info("> %s: %s", state->namaddr, cp)'
# under msg_verbose; the reply comes from smtpd.c mail_cmd()/etrn_cmd().
_CHAT_HELO_REQUIRED = re.compile(
    r"> " + NAMADDR_TEXT + r": (?P<code>503) (?:(?P<dsn>5\.5\.1) )?"
    r"(?P<text>Error: send HELO/EHLO first)$"
)

NOISE = ("Anonymous TLS ", "Trusted TLS ", "Verified TLS ", "Untrusted TLS ",
         "NOQUEUE: filter:", "improper command pipelining")
"""Frequent smtpd messages that (almost always) contain none of :func:`has_words`."""


def has_words(msg: str) -> bool:
    """Whether an smtpd message has a word that makes :func:`record` look closer."""
    return ("connect from" in msg or "reject" in msg or " after " in msg or "warning: " in msg
            or "client=" in msg or "HELO/EHLO" in msg)


def record(msg: str, when: datetime, host: str, service: str, pid: int
           ) -> LogRecord | str | None:
    """The record of one smtpd message; a str is why it is not understood, None irrelevant."""
    if not has_words(msg):
        return None
    head = msg[:11]
    if head.startswith("connect fro"):
        client = client_of(msg[len(CONNECT):]) if msg.startswith(CONNECT) else None
        if client is None:
            return "connect line with an unexpected client form"
        return LogRecord(Kind.CONNECT, when, host, service, pid, client.name, client.ip,
                         port=client.port)
    if head.startswith("disconnect "):
        client, items = None, None
        if msg.startswith(DISCONNECT):
            text, tail = disconnect_parts(msg, 0)
            client = client_of(text)
            items = counter_items(tail)
        if items is None or client is None:
            return "disconnect line with an unexpected client form"
        return LogRecord(Kind.DISCONNECT, when, host, service, pid, client.name, client.ip,
                         counters=dict(items), port=client.port)
    if ": reject" in msg:
        r = parse_reject(msg)
        if r is None:
            if ": reject: " in msg or ": reject_warning: " in msg:
                return "reject line with an unexpected shape"
            return None
        return LogRecord(
            Kind.REJECT, when, host, service, pid, r.name, r.ip, helo=r.helo, sender=r.sender,
            recipient=r.recipient, stage=r.stage, code=r.code, dsn=r.dsn, reason=r.text,
            warning=r.warning, queue_id="" if r.qid == "NOQUEUE" else r.qid, port=r.port,
        )
    if " after " in msg:
        m = LOST.match(msg)
        if m is None:
            return None
        return LogRecord(Kind.LOST, when, host, service, pid, m["name"], m["ip"],
                         stage=m["stage"], reason=m["what"], port=port(m["port"]))
    if msg.startswith("warning: "):
        m = _MISMATCH.match(msg)
        if m is None:
            return None
        return LogRecord(Kind.HOSTNAME_MISMATCH, when, host, service, pid,
                         m["ptr"] or m["ptr2"], m["ip"] or m["ip2"], reason=msg[9:])
    if "client=" in msg:
        found = accepted(msg, 0)
        client = None if found is None else accepted_client(found[1])
        if found is None or client is None:
            return None
        return LogRecord(Kind.CLIENT, when, host, service, pid, client.name, client.ip,
                         queue_id=found[0], port=client.port)
    if msg.startswith("> "):
        m = _CHAT_HELO_REQUIRED.match(msg)
        if m is None:
            return None
        # MAIL gets "503 5.5.1 ...", ETRN "503 Error: ..." (smtpd.c).
        return LogRecord(Kind.REJECT, when, host, service, pid, m["name"], m["ip"],
                         stage="MAIL" if m["dsn"] else "ETRN", code=503, dsn=m["dsn"] or "",
                         reason=m["text"], port=port(m["port"]))
    return None
