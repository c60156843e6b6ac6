"""The compiled session builder (``loganalyze/core/scan.c``, ``sessions.c``) against the
Python tokenizer and :class:`~loganalyze.sessions.SessionBuilder` it stands in for.

Random logs made of real line shapes (Postfix 3.7 smtpd, postscreen, dnsblog,
spf-engine's policyd-spf; traditional and RFC 3339 stamps) with hostile variations
(``;`` and ``>`` in HELOs and addresses, sasl fields, queue ids, bad bytes, invalid
dates, month and year rollovers, stamps out of order, sessions left open for hours,
several sessions of one client with SPF results to share) are read both ways; the
sessions each gives (every field, in order), the clients' evidence (in order) and
every count must be the same.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loganalyze import core, parallel
from loganalyze.aggregate import TrafficCollector
from loganalyze.input import split as input_split
from loganalyze.input.lines import LineSplitter, RawLines, block_size
from loganalyze.model import ALL_KINDS, SESSION_KINDS, InputFormat
from loganalyze.parallel import worker
from loganalyze.parse import Tokenizer
from loganalyze.sessions import SmtpSession

NOW = datetime(2027, 1, 10, 12, 0)

_CLIENTS = ["unknown[198.18.0.1]", "mail.example.org[198.18.0.2]", "a.example[198.18.0.2]",
            "x[2001:db8::1]", "unknown[198.18.0.3]:2525", "[198.18.0.4]", "b[]", "c[1 2]"]
_HELOS = ["mail.example.org", "Mail.Example.ORG", "ÜNÏ.x", "\u212a", "localhost", "x;y", "a>b", "a> to=<b", "", "ip-1-2-3-4.ec2.internal",
          "h>", "<h>", "a; from=<b>", "ünï", "sasl_x=y", "h\x01"]
_ADDRS = ["a@b.example", "a@B.Example", "x@Ü.Example", "", "x>y@z", "a>, to=<b", "q@x", "bounce+1@lists.example.org"]
_REPLIES = [
    "450 4.7.1 <{h}>: Helo command rejected: Host not found",
    "504 5.5.2 <{h}>: Helo command rejected: need fully-qualified hostname",
    "501 5.5.2 <{h}>: Helo command rejected: Invalid name",
    "554 5.7.1 Service unavailable; Client host [198.18.0.1] blocked using zen.spamhaus.org; "
    "https://www.spamhaus.org/query/ip/198.18.0.1",
    "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table",
    "454 4.7.1 <{r}>: Relay access denied", "4501 odd", "450 4.7.1234 odd", "bare <LF> received",
]


@st.composite
def _smtpd_message(draw: st.DrawFn, client: str) -> str:
    helo, sender, rcpt = (draw(st.sampled_from(_HELOS)), draw(st.sampled_from(_ADDRS)),
                          draw(st.sampled_from(_ADDRS)))
    reply = draw(st.sampled_from(_REPLIES)).format(h=helo, r=rcpt)
    qid = draw(st.sampled_from(["NOQUEUE", "4F1A2B3C", "warning", "x-1"]))
    action = draw(st.sampled_from(["reject", "reject_warning"]))
    stage = draw(st.sampled_from(["RCPT", "EHLO", "MAIL", "DATA", "CONNECT", "rcpt"]))
    fields = draw(st.sampled_from([
        f"; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{helo}>",
        f"; from=<{sender}> to=<{rcpt}> proto=SMTP helo=<{helo}> sasl_method=PLAIN",
        f"; from=<{sender}>, to=<{rcpt}>, proto=ESMTP, helo=<{helo}>",
        f"; from=<{sender}> proto=ESMTP helo=<{helo}>", f"; to=<{rcpt}>", ";", "",
        f"; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{helo}> sasl_username=a b",
    ]))
    counters = draw(st.sampled_from([
        " ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4", " ehlo=1 quit=1 commands=2", "",
        " mail=0/1 commands=0/1", " ehlo=2 ehlo=1", " rcpt=0/1/2 notes=bare_lf", "  ehlo=1",
        " ehlo=1 ", " ehlo=00012/007", " x=1 =2 a1=3 ok=/4", " ehlo=" + "9" * 20,
    ]))
    return draw(st.sampled_from([
        f"connect from {client}", f"disconnect from {client}{counters}",
        f"{qid}: {action}: {stage} from {client}: {reply}{fields}",
        f"{qid}: client={client}", f"{qid}: client={client}, sasl_method=PLAIN, "
        f"sasl_username={sender}", f"{qid}: client={client}, orig_client=x[1]",
        f"lost connection after {stage} from {client}", f"timeout after DATA (120 bytes) "
        f"from {client}", f"too many errors after RCPT content from {client}",
        f"warning: hostname {helo or 'x'} does not resolve to address 198.18.0.1",
        "warning: hostname x does not resolve to address 198.18.0.1: Name or service not known",
        "warning: hostname x does not resolve to address 1 2",
        "warning: 198.18.0.1: address not listed for hostname x",
        f"warning: {client}: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        f"warning: {client}: SASL PLAIN authentication failed: {reply}",
        "warning: hostnamex", "warning: a[1]: address not listed for hostname b c",
        f"warning: {client}: address not listed for hostname x", "warning: ",
        "Anonymous TLS connection established from x[198.18.0.1]: TLSv1.3",
        "Anonymous TLS connection: reject", "> x[198.18.0.1]: 503 5.5.1 Error: send HELO/EHLO first",
        f"NOQUEUE: filter: RCPT from {client}: <x>: Sender address triggers FILTER x",
    ]))


@st.composite
def _spf_message(draw: st.DrawFn, ip: str) -> str:
    helo, sender = draw(st.sampled_from(_HELOS)), draw(st.sampled_from(_ADDRS + ["<>"]))
    result = draw(st.sampled_from(["Pass", "None", "Softfail", "fail", "PermError", "Weird"]))
    identity = draw(st.sampled_from(["mailfrom", "helo", "mfrom"]))
    prefix = draw(st.sampled_from(["prepend", ": prepend", "4F1A: prepend",
                                   "Header field not prepended:"]))
    return draw(st.sampled_from([
        f"{prefix} Received-SPF: {result} (mailfrom) identity={identity}; client-ip={ip}; "
        f"helo={helo}; envelope-from={sender}; receiver=<UNKNOWN> ",
        f"{prefix} Received-SPF: {result} (x) identity=y) identity={identity}; client-ip={ip}; "
        f"helo={helo}; envelope-from={sender}; receiver=x",
        f": 550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see "
        f"http://www.openspf.net/Why?s=mfrom;id={sender};ip={ip};r=<UNKNOWN>",
        "spfcheck: pyspf result: \"['Pass', 250, 'sender SPF authorized']\"",
    ]))


@st.composite
def _postscreen_message(draw: st.DrawFn, ip: str) -> str:
    return draw(st.sampled_from([
        f"CONNECT from [{ip}]:4242 to [198.51.100.1]:25", f"PASS NEW [{ip}]:4242",
        f"PASS OLD [{ip}]:4242", f"DISCONNECT [{ip}]:4242", f"DNSBL rank 3 for [{ip}]:4242",
        f"DNSBL rank -1 for [{ip}]:4242", f"PREGREET 11 after 0.1 from [{ip}]:4242: EHLO x",
        f"NOQUEUE: reject: RCPT from [{ip}]:4242: 550 5.7.1 Service unavailable; client "
        f"[{ip}] blocked using zen.spamhaus.org; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>",
        f"NOQUEUE: reject_warning: RCPT from [{ip}]:4242: 450 x; from=<a>",
        f"HANGUP after 1.2 from [{ip}]:4242 in tests after SMTP handshake", "CONNECT from [",
        f"HANGUP after 1 from [{ip}]:42", f"HANGUP [{ip}]:42", f"HANGUP after 1 from [{ip}]:42:x",
        f"HANGUP after 1 from [{ip}]:42: x", f"HANGUP after [y] from [{ip}]:42",
        f"HANGUP after 1 from[{ip}]:42", f"HANGUPX after 1 from [{ip}]:42",
        f"HANGUP AFTER 1 from [{ip}]:42 x", f"HANGUP  from  [{ip}]:42",
        f"HANGUP after 1 from [{ip}]:42 reject: x", f"HANGUP after 1 from [{ip}]:",
        f"PREGREET 11 after 0.1 from [{ip}]:4242: EHLO [x]", *(  # the longest message postscreen.record reads as an event, and one more
            (head + "y" * (1024 - len(head) + more)) for head in [f"PREGREET [{ip}]:1 x"]
            for more in (0, 1)),
        f"PASS NEW [{ip}]:x",
    ]))


_IPS = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "2001:db8::1", ""]
_TAGS = ["postfix/smtpd[{p}]", "postfix/submission/smtpd[{p}]", "policyd-spf[77]",
         "postfix/postscreen[5]", "postfix/dnsblog[6]", "postfix/qmgr[7]",
         "postfix/policy-spf[8]", "postfix/smtpd[00{p}]"]
_BAD_BYTES = [b"\x00", b"\xff", b"\r", b"\xc3", b"\t", b" "]


# RFC 3339 as rsyslog (RSYSLOG_FileFormat), syslog-ng and journalctl -o short-iso(-precise)
# write it, and forms only Python reads (other fractions, a lower-case z).
_RFC_FORMS = ["T{hms}.{us}+01:00", "T{hms}.{us}+01:00", "T{hms}+01:00", "T{hms}+0100",
              "T{hms}.{us}+0000", "T{hms}Z", "T{hms}.{us}Z", " {hms}.{us}-05:00", "T{hms}",
              "T{hms}.{ms}+01:00", "T{hms}z", "T{hms}+01", "T{hms}.{us}7+01:00"]


def _stamp(when: datetime, rfc: bool, invalid: bool, form: int = 0) -> str:
    if rfc:
        day = "02-30" if invalid else f"{when:%m-%d}"
        return f"{when:%Y}-{day}" + _RFC_FORMS[form].format(
            hms=f"{when:%H:%M:%S}", us=f"{when.microsecond:06d}", ms=f"{when.microsecond:06d}"[:3])
    day = "31" if invalid and when.month in (2, 4, 6, 9, 11) else f"{when.day:2d}"
    return f"{when:%b} {day} {when:%H:%M:%S}"


@st.composite
def _log(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    when = draw(st.sampled_from([datetime(2026, 12, 31, 23, 50), datetime(2026, 2, 27, 23, 0),
                                 datetime(2026, 11, 24, 22, 0)]))
    rfc_log = draw(st.booleans())
    rfc_forms = draw(st.booleans())  # one stamp form (often), or any
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 60))):
        step = draw(st.sampled_from([0, 0, 1, 2, 30, 700, 4000, -5, -40 * 86400]))
        when += timedelta(seconds=step, microseconds=draw(st.integers(0, 999)))
        rfc = rfc_log if draw(st.integers(0, 9)) else not rfc_log
        stamp = _stamp(when, rfc, invalid=not draw(st.integers(0, 30)),
                       form=draw(st.integers(0, len(_RFC_FORMS) - 1)) if rfc_forms else 0)
        tag = draw(st.sampled_from(_TAGS)).format(p=draw(st.sampled_from([101, 102, 103])))
        host = draw(st.sampled_from(["mx", "mx", "mx2"]))
        ip = draw(st.sampled_from(_IPS))
        if "smtpd" in tag:
            message = draw(_smtpd_message(draw(st.sampled_from(_CLIENTS))))
        elif "spf" in tag:
            message = draw(_spf_message(ip))
        elif "postscreen" in tag:
            message = draw(_postscreen_message(ip))
        elif "dnsblog" in tag:
            message = f"addr {ip or 'x'} listed by domain zen.spamhaus.org as 127.0.0.2"
        else:
            message = "4F1A2B3C: removed"
        solaris = "[ID 197553 mail.info] " if not draw(st.integers(0, 20)) else ""
        raw = f"{stamp} {host} {tag}: {solaris}{message}".encode("utf-8", "surrogatepass")
        if not draw(st.integers(0, 15)):
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(_BAD_BYTES)) + raw[at:]
        lines.append(raw)
    data = b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=3))
    return data, cuts


def _collect(data: bytes, cuts: list[int], raw: bool, kinds: frozenset[Any],
             collector: TrafficCollector) -> Tokenizer:
    tokenizer = Tokenizer(now=NOW, kinds=kinds)
    splitter = LineSplitter(raw=raw)
    lineno, at = 1, 0
    blocks = []
    for cut in [*sorted(set(cuts)), len(data)]:
        block = splitter.feed(data[at:cut])
        at = cut
        if block is not None:
            blocks.append(block.raw if block.raw is not None else block.lines)
    last = splitter.finish()
    if last is not None:
        blocks.append(last.raw if last.raw is not None else last.lines)
    for lines in blocks:
        assert isinstance(lines, RawLines) == raw
        tokenizer.scan(lines, lineno, collector)
        lineno += block_size(lines)
    collector.finish()
    used = collector.compiled is not None
    assert used == (raw and bool(blocks)), "the compiled builder was not used"
    return tokenizer


def _read(data: bytes, cuts: list[int], raw: bool, kinds: frozenset[Any]) -> tuple[Any, ...]:
    """The sessions, in order, the evidence of each client (in the order the clients
    came), and the counts."""
    sessions: list[SmtpSession] = []
    collector = TrafficCollector(on_session=sessions.append)
    tokenizer = _collect(data, cuts, raw, kinds, collector)
    clients = [(ip, c.postscreen_pass, c.postscreen_rejects, c.dnsbl_rank, c._dnsbl_lists,
                c.spf_rejects) for ip, c in collector.traffic.clients.items()]
    return sessions, clients, collector.stats, tokenizer.stats


@settings(max_examples=int(os.environ.get("LOGANALYZE_CORE_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_log())
def test_same_sessions_as_python(log: tuple[bytes, list[int]]) -> None:
    if core.library() is None:
        raise AssertionError(f"the compiled core is needed here: {core.describe()}")
    for kinds in (ALL_KINDS, SESSION_KINDS):
        assert _read(*log, raw=True, kinds=kinds) == _read(*log, raw=False, kinds=kinds)
        assert _fold(*log, raw=True) == _fold(*log, raw=False)


def _state(stats: object) -> dict[str, Any]:
    """Every attribute of an aggregate record (they compare by identity), with its type
    (a bare item is not a tuple of one, a tuple tally not a Counter)."""
    return {name: (type(value).__name__, value) for cls in type(stats).__mro__
            for name in getattr(cls, "__slots__", ())
            for value in (getattr(stats, name, None),)}


def _fold(data: bytes, cuts: list[int], raw: bool) -> tuple[Any, ...]:
    """The aggregates, as the sequential run makes them (add_session), in order."""
    collector = TrafficCollector()
    _collect(data, cuts, raw, ALL_KINDS, collector)
    # the compiled core folds the aggregates itself (core/aggregate.c)
    assert collector.compiled is None or collector.compiled.folds
    traffic = collector.traffic
    return ([(ip, _state(c)) for ip, c in traffic.clients.items()],
            [(key, _state(s)) for key, s in traffic.senders.items()], traffic.sessions,
            traffic.sessions_with_helo, list(traffic.hosts.items()),
            list(traffic.unknown_check_since.items()), collector.stats)


def _syslog(start: datetime, lines: list[tuple[int, str]]) -> bytes:
    """Lines ``(seconds after start, tag: message)`` with traditional stamps."""
    return "".join(f"{start + timedelta(seconds=at):%b %e %H:%M:%S} mx {text}\n"
                   for at, text in lines).encode()


def test_aggregates_past_their_caps() -> None:
    """One busy client and sender, beyond every cap of the aggregates (attempts, ban
    lines, samples of recipients, senders, replies, envelopes, DNSBL lists), over days,
    with names, services, warnings, checks and SPF domains in mixed case: the records
    folded in C are those add_session makes."""
    ip, lines = "198.18.0.7", []
    spf_domains = ["Y.Example", "ÜX.Example", "\u212a.example", "plain.example", "",
                   *(f"d{k}.Example" for k in range(20))]
    checks = ["450 4.7.1 <{h}>: Helo command rejected: Host not found",
              "550 5.7.1 <{h}>: Helo command rejected: Host not found",
              "450 4.7.2 <{h}>: Helo command rejected:  Host not found",
              "504 5.5.2 <{h}>:  Helo command rejected: need fully-qualified hostname",
              "504 5.5.2 <{h}>: Helo command rejected: need fully-qualified hostname",
              "501 5.5.2 <{h}>: Helo command rejected: Invalid name",
              "550 5.1.1 <r@x>: Recipient address rejected: User unknown"]
    at = 0
    # the last sessions start before the others: the earliest attempts are kept
    for n, at in [(n, 17 * 60 * n) for n in range(1150)] + [(n, 60 * n) for n in range(40)]:
        pid = 100 + n % 3
        tag = f"postfix/{'submission/' if n % 7 == 0 else ''}smtpd[{pid}]"
        name = ("a.example", "unknown", "b.example", f"n{n % 17}.example")[n % 11 % 4]
        helo = ("Mail.Example.ORG", "mx", "[1.2.3.4]")[n % 3 if n % 13 == 0 else 0]
        client = f"{name}[{ip}]"
        sender = f"s{n % 70}@{spf_domains[n % len(spf_domains)]}"
        rcpt = f"r{n % 61}@x.example"
        if n % 9 == 0:
            lines.append((at - 1, f"{tag}: warning: hostname {name} does not resolve to "
                                  f"address {ip}: Temporary failure in name resolution"))
        lines.append((at, f"{tag}: connect from {client}"))
        if n % 4:
            for k in range(1 + n % 3):
                action = "reject_warning" if n % 10 == 0 else "reject"
                reply = checks[(n + k) % len(checks)].format(h=helo)
                lines.append((at + 1, f"{tag}: NOQUEUE: {action}: RCPT from {client}: {reply}; "
                                      f"from=<{sender}> to=<{rcpt}> proto=ESMTP "
                                      f"helo=<{helo}>"))
        else:
            lines.append((at + 1, f"{tag}: 4F1A{n:04X}: client={client}"))
        identity = "mailfrom" if n % 3 else "helo"
        lines.append((at + 2, f"policyd-spf[77]: prepend Received-SPF: Pass (mailfrom) "
                              f"identity={identity}; client-ip={ip}; helo={helo}; "
                              f"envelope-from={sender}; receiver=<UNKNOWN> "))
        lines.append((at + 2, f"postfix/dnsblog[6]: addr {ip} listed by domain "
                              f"list{n % 13}.example as 127.0.0.2"))
        if n % 5 == 0:
            lines.append((at + 2, f"{tag}: 4F1B{n:04X}: client={client}"))
        lines.append((at + 3, f"{tag}: disconnect from {client} ehlo=1 mail=1 rcpt=0/1 "
                              f"quit=1 commands=3/4"))
    data = _syslog(datetime(2026, 11, 20, 0, 0), lines)
    assert _fold(data, [], raw=True) == _fold(data, [], raw=False)


def test_evidence_and_sessions_interleaved() -> None:
    """Evidence lines the scanner reads and those Python reads, before, inside and
    after the sessions of the same clients: the clients come in the same order, with
    the same evidence."""
    evidence = ["postfix/postscreen[5]: CONNECT from [{ip}]:4242 to [198.51.100.1]:25",
                "postfix/postscreen[5]: PASS NEW [{ip}]:4242",
                "postfix/postscreen[5]: DNSBL rank 3 for [{ip}]:4242",
                "postfix/postscreen[5]: DNSBL rank 99999999999999999999999 for [{ip}]:4242",
                "postfix/postscreen[5]: DNSBL rank -99999999999999999999999 for [{ip}]:4242",
                "postfix/postscreen[5]: PREGREET 11 after 0.1 from [{ip}]:4242: EHLO x",
                "postfix/postscreen[5]: HANGUP after 1.2 from [{ip}]:4242 in tests after "
                "SMTP handshake",
                "postfix/postscreen[5]: NOQUEUE: reject: RCPT from [{ip}]:4242: 550 5.7.1 "
                "Service unavailable; client [{ip}] blocked using zen.spamhaus.org; "
                "from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>",
                "postfix/dnsblog[6]: addr {ip} listed by domain zen.spamhaus.org as 127.0.0.2",
                "policyd-spf[77]: : 550 5.7.23 Message rejected due to: SPF fail - not "
                "authorized. Please see http://www.openspf.net/Why?s=mfrom;id=a@b;ip={ip};"
                "r=<UNKNOWN>",
                "postfix/postscreen[5]: DISCONNECT [{ip}]:4242"]
    ips = [f"198.18.1.{n}" for n in range(8)]
    for order in range(4):
        lines, at = [], 0
        for n in range(40):
            ip = ips[(n * (order + 3)) % len(ips)]
            at += 5
            kind = (n + order) % 3
            if kind == 0:
                lines.append((at, evidence[(n * 7 + order) % len(evidence)].format(ip=ip)))
            else:
                tag = f"postfix/smtpd[{200 + n % 4}]"
                lines += [(at, f"{tag}: connect from x[{ip}]"),
                          (at + 1, f"{tag}: NOQUEUE: reject: RCPT from x[{ip}]: 450 4.7.1 <h>: "
                                   "Helo command rejected: Host not found; from=<a@b> "
                                   "to=<c@d> proto=ESMTP helo=<h>"),
                          (at + 2, evidence[(n + order) % len(evidence)].format(
                              ip=ips[(n + 1) % len(ips)])),
                          (at + 3, f"{tag}: disconnect from x[{ip}] ehlo=1 quit=1 commands=2")]
        data = _syslog(datetime(2026, 11, 24, 22, 0), lines)
        for cuts in ([], [len(data) // 3, len(data) // 2]):
            assert _fold(data, cuts, raw=True) == _fold(data, cuts, raw=False)


@pytest.mark.parametrize("long", [
    b"Nov 24 22:00:10 mx postfix/smtpd[101]: connect from a[198.18.0.9]" + b"x" * (2 << 20),
    b"Nov 24 22:00:10 mx postfix/qmgr[5]: " + b"x" * ((1 << 20) - 40) + b"smtpd[1]: c",
    b"Nov 24 22:00:10 mx postfix/smtpd[101]: NOQUEUE: reject: RCPT from a[198.18.0.9]: 450 "
    b"4.7.1 <x>: Helo command rejected: Host not found; helo=<" + b"y" * 9000 + b">",
])
@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_long_lines(long: bytes, newline: bytes) -> None:
    """Lines longer than a syslog record, and than what the splitter keeps (1 MiB)."""
    session = (b"Nov 24 22:00:09 mx postfix/smtpd[101]: connect from a[198.18.0.9]\n"
               b"Nov 24 22:00:11 mx postfix/smtpd[101]: disconnect from a[198.18.0.9] ehlo=1\n")
    data = session + long + newline + session
    for cuts in ([], [100, (1 << 20) + 7]):
        assert _read(data, cuts, raw=True, kinds=ALL_KINDS) == _read(
            data, cuts, raw=False, kinds=ALL_KINDS)
        assert _fold(data, cuts, raw=True) == _fold(data, cuts, raw=False)


@settings(max_examples=int(os.environ.get("LOGANALYZE_CORE_EXAMPLES", "150")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(_log(), st.integers(2, 6), st.integers(1, 400))
def test_split_runs_same_as_python(log: tuple[bytes, list[int]], jobs: int,
                                   range_bytes: int) -> None:
    """The split run's ranges built in C (``la_set_range``: the sessions that open in
    a range, the lookahead that finishes them, the SPF lines set aside at a cut) give
    the Python ranges' merged result, wherever the cuts fall."""
    if core.library() is None:
        raise AssertionError(f"the compiled core is needed here: {core.describe()}")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mail.log"
        path.write_bytes(log[0])
        results = [_split_run(str(path), jobs, range_bytes, choice)
                   for choice in ("python", "")]
    assert results[0] == results[1]


def _split_run(path: str, jobs: int, range_bytes: int, choice: str) -> tuple[Any, ...]:
    """``path`` cut into about ``jobs`` ranges of at least ``range_bytes``, each read on
    the core ``choice`` (as ``LOGANALYZE_CORE``), merged; with whether C built them."""
    saved_env, saved_range = os.environ.get(core.ENV), input_split.MIN_RANGE
    os.environ[core.ENV] = choice
    input_split.MIN_RANGE = range_bytes
    core.reset()
    used: list[bool] = []
    finish = worker._RangeCollector.finish

    def noting(collector: Any) -> None:
        used.append(collector.compiled is not None)
        finish(collector)

    worker._RangeCollector.finish = noting  # type: ignore[method-assign]
    try:
        tasks = input_split.plan([path], jobs, input_format=InputFormat.AUTO, tz=None,
                                 now=NOW, year=None)
        merged = parallel.run_tasks(tasks, 1, input_format=InputFormat.AUTO, tz=None, now=NOW)
    finally:
        worker._RangeCollector.finish = finish  # type: ignore[method-assign]
        input_split.MIN_RANGE = saved_range
        if saved_env is None:
            os.environ.pop(core.ENV, None)
        else:
            os.environ[core.ENV] = saved_env
        core.reset()
    assert used and all(used) == bool(choice != "python"), used
    if merged is None:  # dated otherwise than one read: the caller reads sequentially
        return (None, len(tasks))
    traffic, lines, sessions = merged
    return ([(ip, _state(c)) for ip, c in traffic.clients.items()],
            [(key, _state(s)) for key, s in traffic.senders.items()], traffic.sessions,
            traffic.sessions_with_helo, list(traffic.hosts.items()),
            list(traffic.unknown_check_since.items()), lines, sessions,
            len(tasks))
