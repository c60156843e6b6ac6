"""SPF policy daemon messages: Received-SPF results, and reject or defer lines.

Two daemons: spf-engine 3.0.4 ``policyd_spf.py`` (Python, tag ``policyd-spf``) and
postfix-policyd-spf-perl 2.011 (tag ``postfix/policy-spf``); ``postfix-reference.md``
section 3. :func:`received` is used both by :func:`record` and by the fast path of
:meth:`~loganalyze.parse.Tokenizer.scan`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple
from urllib.parse import unquote as url_unquote

from ..model import Kind, LogRecord

# policyd-spf (Python, policyd_spf.py): an optional "QUEUEID: " prefix since
# 3.0 (empty at RCPT, hence ": "), then "prepend <header>" or, with
# Header_Type = None, "Header field not prepended: <header>". The header ends
# with a space (spfDetail).
_PY = re.compile(
    r"(?:(?P<qid>[0-9A-Za-z]*): )?(?:prepend|Header field not prepended:) Received-SPF: "
    r"(?P<result>[A-Za-z]+) \((?P<comment>.*?)\) "
    r"identity=(?P<identity>\w+); client-ip=(?P<ip>[^;\s]+); helo=(?P<helo>.*?); "
    r"envelope-from=(?P<from>.*?); receiver=(?P<receiver>.*?) ?$",
    re.DOTALL,
)
# Its reject and defer lines: "<qid>: 550 5.7.23 <Reason_Message>" and
# "<qid>: defer_if_permit 4.7.24 <Reason_Message>"; the default Reason_Message
# is "Message {rejected|deferred} due to: {spf}. Please see {url}".
_PY_ACTION = re.compile(
    r"(?:(?P<qid>[0-9A-Za-z]*): )?(?P<action>550|defer_if_permit)"
    r"(?: (?P<dsn>[45]\.\d{1,3}\.\d{1,3}))? (?P<text>.*)$",
    re.DOTALL,
)
# postfix-policyd-spf-perl 2.011, logged as postfix/policy-spf.
_PERL = re.compile(
    r"Policy action=PREPEND Received-SPF: (?P<result>[a-z]+) \((?P<comment>.*)\) "
    r"receiver=[^;\s]*;? identity=(?P<identity>\w+); "
    r"(?:envelope-from=(?P<from>\"(?:[^\"\\]|\\.)*\"|[^;]*); )?"
    r"helo=(?P<helo>\"(?:[^\"\\]|\\.)*\"|[^;]*); client-ip=(?P<ip>\S+)$",
    re.DOTALL,
)
_PERL_ACTION = re.compile(r"Policy action=(?P<action>550|DEFER_IF_PERMIT) (?P<text>.*)$",
                          re.DOTALL)
# The explanation URL of both daemons: openspf.net (Python), openspf.org (Perl).
_WHY = re.compile(
    r"Why\?s=(?P<scope>mfrom|helo);id=(?P<id>.*);ip=(?P<ip>[^;\s]+);r=(?P<receiver>[^;\s]*)"
)
# pyspf's explanation strings (spf.py EXPLANATIONS and SPFError messages).
_EXPLANATIONS = (
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
_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
RECEIVED = "Received-SPF: "
"""The header both daemons prepend with a result."""


def is_perl(service: str) -> bool:
    """Whether a tag is postfix-policyd-spf-perl's (its lines have their own shape)."""
    return service.endswith("policy-spf")


class Received(NamedTuple):
    """The facts of a Received-SPF result line."""

    ip: str
    """Client address."""
    helo: str | None
    """HELO name as the daemon saw it."""
    sender: str | None
    """Envelope sender; empty for the null sender."""
    result: str
    """The result in lower case."""
    identity: str
    """``mailfrom`` or ``helo``."""
    comment: str
    """The daemon's comment in parentheses."""
    queue_id: str
    """Queue id (Python daemon since 3.0), or empty."""


def _unquote(value: str | None) -> str | None:
    """Mail::SPF quotes values that are not dot-atoms (``envelope-from="a@b"``)."""
    if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def received(msg: str, at: int, perl: bool) -> Received | None:
    """A Received-SPF line starting at ``at``, or None if it has another shape."""
    m = (_PERL if perl else _PY).match(msg, at)
    if m is None:
        return None
    envelope = _unquote(m["from"]) if perl else m["from"]
    identity = m["identity"]
    return Received(
        m["ip"], _unquote(m["helo"]) if perl else m["helo"],
        "" if envelope in ("<>", None) else envelope, m["result"].lower(),
        # Mail::SPF before 2.007 wrote "mfrom" for the MAIL FROM identity.
        "mailfrom" if identity == "mfrom" else identity, m["comment"],
        "" if perl else (m["qid"] or ""))


def result_of(text: str, dsn: str, action: str) -> str:
    """The SPF result behind a policyd-spf reject/defer line.

    spf-engine rejects on Fail by default but can be told to reject other
    results (``HELO_reject``/``Mail_From_reject`` = SPF_Not_Pass, Softfail);
    the explanation is pyspf's text for the result (``spf_engine/__init__.py``
    ``_rejectmessage``), except that a Fail may carry the domain's own
    ``exp=`` text. ``5.7.24`` marks Permerror; defers are Temperror.
    """
    for phrase, result in _EXPLANATIONS:
        if phrase in text:
            return result
    policy = text.find("Receiver policy for SPF ")
    if policy >= 0:
        word = text[policy + 24:].split(".", 1)[0].split(" ", 1)[0].lower()
        if word in _RESULTS:
            return word
    if action == "defer":
        return "temperror"
    return "permerror" if dsn == "5.7.24" else "fail"


def record(msg: str, when: datetime, host: str, service: str, pid: int
           ) -> LogRecord | str | None:
    """The record of one SPF policy message; a str is why it is not understood."""
    perl = is_perl(service)
    if RECEIVED in msg:
        r = received(msg, 0, perl)
        if r is None:
            return "SPF line with an unexpected shape"
        return LogRecord(
            Kind.SPF, when, host, service, pid, "", r.ip, helo=r.helo, sender=r.sender,
            spf_result=r.result, reason=r.comment, spf_identity=r.identity,
            queue_id=r.queue_id, action="prepend",
        )
    # Reject and defer lines: a later stage counts them; a Fail has no
    # prepend line at all (spf-engine logs one action per request).
    if perl:
        if not msg.startswith("Policy action="):
            return None
        m = _PERL_ACTION.match(msg)
        qid = ""
        dsn = ""
    else:
        if not ("550" in msg or "defer_if_permit" in msg):
            return None
        m = _PY_ACTION.match(msg)
        if m is None:
            return None  # debug output ("spfcheck: ...", "Pass; identity=...")
        qid = m["qid"] or ""
        dsn = m["dsn"] or ""
    if m is None:
        return None
    text = m["text"]
    action = "reject" if m["action"] == "550" else "defer"
    why = _WHY.search(text)
    identity = ""
    client_ip = ""
    sender: str | None = None
    helo: str | None = None
    if why is not None:
        client_ip = why["ip"]
        ident = url_unquote(why["id"]) if perl else why["id"]
        if why["scope"] == "helo":
            identity, helo = "helo", ident
        else:
            identity, sender = "mailfrom", ident
    return LogRecord(
        Kind.SPF_REJECT, when, host, service, pid, "", client_ip, helo=helo, sender=sender,
        code=550 if action == "reject" else 450, dsn=dsn, reason=text,
        spf_result="fail" if perl and action == "reject" else (
            "temperror" if perl else result_of(text, dsn, action)),
        spf_identity=identity, queue_id=qid, action=action,
    )
