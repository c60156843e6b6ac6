"""postscreen messages: CONNECT, PASS, DNSBL rank, DISCONNECT, its own rejects, other events.

Line shapes follow Postfix 3.x ``postscreen/postscreen.c``, ``postscreen_early.c``,
``postscreen_misc.c`` and ``postscreen_smtpd.c`` (``postfix-reference.md`` section 3):
the client is always ``[addr]:port``. Each regular expression is used both by
:func:`record` and by the fast path of :meth:`~loganalyze.parse.Tokenizer.scan`.
"""

from __future__ import annotations

import re
from datetime import datetime

from ..model import Kind, LogRecord
from .smtpd import parse_reject, port

_ADDR = r"\[(?P<ip>[^\]\s]*)\]:(?P<port>\d+)"
CONNECT_PREFIX = "CONNECT from "
CONNECT = re.compile(CONNECT_PREFIX + _ADDR + r" to \[[^\]\s]*\]:\d+$")
"""postscreen.c: ``CONNECT from [%s]:%s to [%s]:%s``."""
PASS_PREFIX = "PASS "
PASS = re.compile(PASS_PREFIX + r"(?P<what>NEW|OLD) " + _ADDR + r"$")
"""postscreen_early.c / postscreen_smtpd.c: ``PASS NEW`` or ``PASS OLD [%s]:%s``."""
DNSBL_PREFIX = "DNSBL rank "
DNSBL = re.compile(DNSBL_PREFIX + r"(?P<rank>-?\d+) for " + _ADDR + r"$")
"""postscreen_early.c: ``DNSBL rank %d for [%s]:%s``."""
DISCONNECT_PREFIX = "DISCONNECT "
DISCONNECT = re.compile(DISCONNECT_PREFIX + _ADDR + r"$")
"""postscreen.c: ``DISCONNECT [%s]:%s`` (the client did not reach smtpd)."""
_REJECT_CONNECT = re.compile(
    r"(?:NOQUEUE: )?reject: (?P<stage>CONNECT|connect) from " + _ADDR + r": (?P<text>.*)$",
    re.DOTALL,
)
_EVENT = re.compile(
    r"(?P<event>[A-Z][A-Z-]+(?: [A-Z][A-Z-]+)*)(?: (?P<mid>[^\[]*?))? (?:from )?" + _ADDR
    + r"(?::? (?P<rest>.*))?$",
    re.DOTALL,
)
_MAX_EVENT = 1024
"""Longer messages are not client events (and are not worth a regex)."""


def record(msg: str, when: datetime, host: str, service: str, pid: int
           ) -> LogRecord | str | None:
    """The record of one postscreen message; a str is why it is not understood."""
    first = msg[:1]
    if first == "C" and msg.startswith(CONNECT_PREFIX):
        m = CONNECT.match(msg)
        if m is None:
            return "postscreen CONNECT line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_CONNECT, when, host, service, pid, "", m["ip"],
                         port=int(m["port"]))
    if first == "P" and msg.startswith(PASS_PREFIX):
        m = PASS.match(msg)
        if m is not None:
            return LogRecord(Kind.POSTSCREEN_PASS, when, host, service, pid, "", m["ip"],
                             reason=m["what"], port=int(m["port"]))
    elif first == "D" and msg.startswith(DNSBL_PREFIX):
        m = DNSBL.match(msg)
        if m is None:
            return "postscreen DNSBL line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_DNSBL, when, host, service, pid, "", m["ip"],
                         score=int(m["rank"]), port=int(m["port"]))
    elif first == "D" and msg.startswith(DISCONNECT_PREFIX):
        m = DISCONNECT.match(msg)
        if m is None:
            return "postscreen DISCONNECT line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_DISCONNECT, when, host, service, pid, "", m["ip"],
                         port=int(m["port"]))
    elif "reject: " in msg:
        r = parse_reject(msg)
        if r is not None:
            return LogRecord(
                Kind.POSTSCREEN_REJECT, when, host, service, pid, "", r.ip, helo=r.helo,
                sender=r.sender, recipient=r.recipient, stage=r.stage, code=r.code,
                dsn=r.dsn, reason=r.text, port=r.port,
            )
        m = _REJECT_CONNECT.match(msg)
        if m is None:
            return "postscreen reject line with an unexpected shape"
        return LogRecord(Kind.POSTSCREEN_REJECT, when, host, service, pid, "", m["ip"],
                         stage="CONNECT", reason=m["text"], port=port(m["port"]))
    if not ("A" <= first <= "Z") or len(msg) > _MAX_EVENT:
        return None  # cache cleanup, warnings, statistics
    m = _EVENT.match(msg)
    if m is None:
        return None
    return LogRecord(Kind.POSTSCREEN_EVENT, when, host, service, pid, "", m["ip"],
                     stage=m["event"], detail=m["mid"] or "", reason=m["rest"] or "",
                     port=int(m["port"]))
