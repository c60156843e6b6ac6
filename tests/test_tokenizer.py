"""The tokenizer on real log lines: each row is a line and the event it must yield.

Lines come from ../shared/peer-logs (real Postfix 3.7.11, fail2ban's and
logwatch's test data) unless marked otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyze.tokenizer import Kind, LogRecord, Tokenizer

NOW = datetime(2026, 11, 24, 23, 0, 0)

ROWS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: connect from localhost[127.0.0.1]",
        "connect",
        {"host": "mx", "service": "postfix/enforce/smtpd", "pid": 10606,
         "client_name": "localhost", "client_ip": "127.0.0.1",
         "time": datetime(2026, 11, 24, 21, 58, 31)},
    ),
    (
        "Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: NOQUEUE: reject: RCPT from "
        "localhost[127.0.0.1]: 450 4.7.1 <mail.example.test.>: Helo command rejected: Host not "
        "found; from=<e2@example.org> to=<user@example.com> proto=ESMTP helo=<mail.example.test.>",
        "reject",
        {"stage": "RCPT", "code": 450, "dsn": "4.7.1", "helo": "mail.example.test.",
         "sender": "e2@example.org", "recipient": "user@example.com", "warning": False,
         "reason": "<mail.example.test.>: Helo command rejected: Host not found",
         "queue_id": ""},
    ),
    (
        "Nov 24 21:59:40 mx postfix/smtpd[11602]: NOQUEUE: reject_warning: RCPT from "
        "unknown[127.0.0.5]: 450 4.7.1 <allow.example.test>: Helo command rejected: Host not "
        "found; from=<ps@example.org> to=<user@example.com> proto=ESMTP helo=<allow.example.test>",
        "reject",
        {"warning": True, "client_name": "unknown", "client_ip": "127.0.0.5",
         "helo": "allow.example.test"},
    ),
    (
        "Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: disconnect from localhost[127.0.0.1] "
        "ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
        "disconnect",
        {"counters": {"ehlo": (1, 1), "mail": (1, 1), "rcpt": (0, 1), "quit": (1, 1),
                      "commands": (3, 4)}},
    ),
    (
        # delay_reject=no: the EHLO stage, no from=/to=.
        "Jan 31 13:55:24 xxx postfix-incoming/smtpd[3462]: NOQUEUE: reject: EHLO from "
        "s271272.static.corbina.ru[78.107.251.238]: 504 5.5.2 <User>: Helo command rejected: "
        "need fully-qualified hostname; proto=SMTP helo=<User>",
        "reject",
        {"stage": "EHLO", "helo": "User", "sender": None, "recipient": None,
         "service": "postfix-incoming/smtpd", "code": 504},
    ),
    (
        "Apr 12 02:24:11 xxx postfix/smtps/smtpd[42]: NOQUEUE: reject: EHLO from "
        "astra4139.startdedicated.de[62.138.2.143]: 504 5.5.2 <User>: Helo command rejected: "
        "need fully-qualified hostname; proto=SMTP helo=<User>",
        "reject",
        {"service": "postfix/smtps/smtpd", "client_ip": "62.138.2.143"},
    ),
    (
        # The reply text has its own "; " (RBL): the fields still parse.
        "Dec 30 18:19:15 xxx postfix-incoming/smtpd[1574]: NOQUEUE: reject: RCPT from "
        "badguy.example.com[93.184.216.34]: 454 4.7.1 Service unavailable; Client host "
        "[93.184.216.34] blocked using rbl.example.com; http://www.example.com/query?ip="
        "93.184.216.34; from=<spammer@example.com> to=<goodguy@example.com> proto=ESMTP "
        "helo=<badguy.example.com>",
        "reject",
        {"reason": "Service unavailable; Client host [93.184.216.34] blocked using "
                   "rbl.example.com; http://www.example.com/query?ip=93.184.216.34",
         "sender": "spammer@example.com", "helo": "badguy.example.com"},
    ),
    (
        "Aug 13 15:45:46 server postfix/smtpd[13844]: 00ADB3C0899: reject: RCPT from "
        "example.com[192.0.2.1]: 550 5.1.1 <sales@server.com>: Recipient address rejected: User "
        "unknown in local recipient table; from=<xxxxxx@example.com> to=<sales@server.com> "
        "proto=ESMTP helo=<mail.example.com>",
        "reject",
        {"queue_id": "00ADB3C0899", "code": 550, "recipient": "sales@server.com"},
    ),
    (
        # Null sender, and a HELO with a space as logged with delay_reject=no (not yet neutered).
        "Nov 24 21:58:40 mx postfix-nodelay/smtpd[10620]: NOQUEUE: reject: EHLO from "
        "localhost[127.0.0.1]: 501 5.5.2 <foo bar>: Helo command rejected: Invalid name; "
        "proto=SMTP helo=<foo bar>",
        "reject",
        {"helo": "foo bar", "reason": "<foo bar>: Helo command rejected: Invalid name"},
    ),
    (
        "Nov 24 21:58:40 mx postfix/enforce/smtpd[10620]: NOQUEUE: reject: RCPT from "
        "localhost[127.0.0.1]: 504 5.5.2 <a>: Helo command rejected: need fully-qualified "
        "hostname; from=<> to=<user@example.com> proto=ESMTP helo=<a>",
        "reject",
        {"sender": "", "helo": "a"},
    ),
    (
        "Sep 17 18:19:20 mxhost postfix/smtpd[12345]: NOQUEUE: lost connection after CONNECT "
        "from unknown[192.0.2.25]",
        "lost",
        {"stage": "CONNECT", "reason": "lost connection", "client_ip": "192.0.2.25"},
    ),
    (
        "Nov 24 22:04:14 vm postfix/misc/smtpd[15975]: timeout after EHLO from "
        "unknown[127.0.0.4]:49743",
        "lost",
        {"stage": "EHLO", "reason": "timeout", "client_ip": "127.0.0.4"},
    ),
    (
        "Aug 14 10:00:01 mail postfix/smtpd[1234]: warning: hostname bad.example.com does not "
        "resolve to address 192.0.2.44: Name or service not known",
        "hostname_mismatch",
        {"client_name": "bad.example.com", "client_ip": "192.0.2.44"},
    ),
    (
        "Nov 24 22:04:11 vm postfix/enforce/smtpd[15967]: warning: hostname forged.example.test "
        "does not resolve to address 127.0.0.2",
        "hostname_mismatch",
        {"client_name": "forged.example.test", "client_ip": "127.0.0.2"},
    ),
    (
        # Made-up IPv6 form of the same warning.
        "Aug 14 10:00:01 mail postfix/smtpd[1234]: warning: hostname v6.example.com does not "
        "resolve to address 2001:db8::25: Name or service not known",
        "hostname_mismatch",
        {"client_ip": "2001:db8::25"},
    ),
    (
        "Nov 24 21:59:36 mx postfix/smtpd[11602]: 796FF16611B: client=good.example.test[127.0.0.3]",
        "client",
        {"queue_id": "796FF16611B", "client_name": "good.example.test"},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Pass (mailfrom) "
        "identity=mailfrom; client-ip=192.0.2.20; helo=mail.spf-pass.example.test; "
        "envelope-from=a@spf-pass.example.test; receiver=example.com ",
        "spf",
        {"spf_result": "pass", "spf_identity": "mailfrom", "client_ip": "192.0.2.20",
         "helo": "mail.spf-pass.example.test", "sender": "a@spf-pass.example.test"},
    ),
    (
        # spf-engine 2.x: no queue-id prefix, receiver=<UNKNOWN>.
        "Aug 16 04:21:13 mail policyd-spf[8125]: prepend Received-SPF: Softfail (mailfrom) "
        "identity=mailfrom; client-ip=54.237.201.103; helo=ip-172-30-0-149.ec2.internal; "
        "envelope-from=superdiem@carpaythe.tk; receiver=<UNKNOWN> ",
        "spf",
        {"spf_result": "softfail", "helo": "ip-172-30-0-149.ec2.internal",
         "sender": "superdiem@carpaythe.tk", "time": datetime(2026, 8, 16, 4, 21, 13)},
    ),
    (
        "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=PREPEND Received-SPF: "
        "pass (spf-pass.example.test: 192.0.2.20 is authorized to use 'a@spf-pass.example.test' "
        "in 'mfrom' identity (mechanism 'ip4:192.0.2.0/24' matched)) receiver=vm; "
        "identity=mailfrom; envelope-from=\"a@spf-pass.example.test\"; "
        "helo=mail.spf-pass.example.test; client-ip=192.0.2.20",
        "spf",
        {"spf_result": "pass", "sender": "a@spf-pass.example.test", "client_ip": "192.0.2.20",
         "helo": "mail.spf-pass.example.test"},
    ),
    (
        # rsyslog RSYSLOG_FileFormat (Debian 12 default)
        "2026-11-24T22:00:10.564716+00:00 vm postfix/enforce/smtpd[12232]: NOQUEUE: reject: "
        "RCPT from good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<b@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<User>",
        "reject",
        {"time": datetime(2026, 11, 24, 22, 0, 10, 564716), "host": "vm", "helo": "User"},
    ),
    (
        # journalctl -o short-iso (systemd 252: offset without colon)
        "2026-11-24T22:00:29+0000 vm postfix/enforce/smtpd[12232]: NOQUEUE: reject: RCPT from "
        "good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<j2@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<User>",
        "reject",
        {"time": datetime(2026, 11, 24, 22, 0, 29)},
    ),
    (
        # journalctl -o short-precise
        "Nov 24 22:00:29.622313 vm postfix/enforce/smtpd[12232]: NOQUEUE: reject: RCPT from "
        "good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<j2@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<User>",
        "reject",
        {"time": datetime(2026, 11, 24, 22, 0, 29, 622313)},
    ),
    (
        # Single-digit day as some syslogs write it (fail2ban data).
        "Mar 7 02:09:33 server postfix/smtpd[27246]: connect from unknown[192.0.2.151]",
        "connect",
        {"time": datetime(2026, 3, 7, 2, 9, 33)},
    ),
    (
        "Apr  6 13:05:01 server postfix/smtpd[20589]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.116]: 504 5.5.2 <WIN-6A0KEE6QVP5>: Helo command rejected: need "
        "fully-qualified hostname; from=<spameri@example.com> to=<spameri@example.com> "
        "proto=ESMTP helo=<WIN-6A0KEE6QVP5>",
        "reject",
        {"time": datetime(2026, 4, 6, 13, 5, 1), "helo": "WIN-6A0KEE6QVP5"},
    ),
]


@pytest.mark.parametrize("line,kind,fields", ROWS, ids=[f"row{i}" for i in range(len(ROWS))])
def test_line_yields_event(line: str, kind: str, fields: dict[str, Any]) -> None:
    tokenizer = Tokenizer(now=NOW)
    record = tokenizer.parse(line, 1)
    assert isinstance(record, LogRecord), tokenizer.stats.samples
    assert record.kind == Kind(kind)
    for name, expected in fields.items():
        assert getattr(record, name) == expected, name


IRRELEVANT = [
    "Nov 24 22:00:09 vm postfix/anvil[11606]: statistics: max cache size 3 at Nov 24 21:59:42",
    "Nov 24 22:00:09 vm postfix/postfix-script[12182]: refreshing the Postfix mail system",
    "Aug 16 04:21:14 mail postfix/qmgr[812]: 4F1A21C0F3A: removed",
    "Aug 16 04:21:14 mail postfix/cleanup[9112]: 4F1A21C0F3A: message-id=<x@y>",
    "Nov 24 22:01:56 vm policyd-spf[13934]: : 550 5.7.23 Message rejected due to: SPF fail - not "
    "authorized. Please see http://www.openspf.net/Why?s=mfrom;id=a@spf-fail.example.test;"
    "ip=192.0.2.20;r=example.com",
    "Sep  6 00:44:56 trianon postfix/submission/smtpd[11538]: warning: unknown[82.221.106.233]: "
    "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
    "Aug 16 04:21:14 mail CRON[9999]: (root) CMD (command -v debian-sa1 > /dev/null)",
]


@pytest.mark.parametrize("line", IRRELEVANT)
def test_irrelevant_lines_are_counted_not_unparsed(line: str) -> None:
    tokenizer = Tokenizer(now=NOW)
    assert tokenizer.parse(line) is None
    assert tokenizer.stats.irrelevant == 1
    assert tokenizer.stats.unparsed == 0


GARBAGE = [
    "",
    "\x00\x00\x00",
    "random text that is not a log line",
    "Nov 24 22:00:10 vm postfix/smtpd[1]: NOQUEUE: reject: RCPT from broken line without fields",
    "Nov 24 22:00:10 vm postfix/smtpd[1]: connect from no-brackets-here",
    "x" * 100_000 + " postfix/smtpd[1]: connect from a[1.2.3.4]",
]


@pytest.mark.parametrize("line", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_counted_as_unparsed(line: str) -> None:
    tokenizer = Tokenizer(now=NOW)
    assert tokenizer.parse(line, 7) is None
    assert tokenizer.stats.unparsed == 1
    assert tokenizer.stats.samples[0].lineno == 7


def test_year_is_inferred_and_crosses_new_year() -> None:
    tokenizer = Tokenizer(now=datetime(2027, 1, 2))
    lines = [
        "Dec 31 23:59:58 mail postfix/smtpd[1]: connect from a.example[192.0.2.1]",
        "Jan  1 00:00:02 mail postfix/smtpd[1]: disconnect from a.example[192.0.2.1] commands=0/0",
    ]
    times = [r.time for r in tokenizer.tokenize(lines)]
    assert times == [datetime(2026, 12, 31, 23, 59, 58), datetime(2027, 1, 1, 0, 0, 2)]


def test_explicit_year_wins() -> None:
    tokenizer = Tokenizer(year=2019, now=NOW)
    record = tokenizer.parse(
        "Aug 16 04:21:13 mail postfix/smtpd[1]: connect from a.example[192.0.2.1]"
    )
    assert record is not None and record.time.year == 2019


def test_stats_add_up() -> None:
    tokenizer = Tokenizer(now=NOW)
    lines = [row[0] for row in ROWS] + IRRELEVANT + GARBAGE
    records = list(tokenizer.tokenize(lines))
    stats = tokenizer.stats
    assert len(records) == stats.matched == len(ROWS)
    assert stats.lines == len(lines) == stats.matched + stats.irrelevant + stats.unparsed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    tokenizer = Tokenizer(now=NOW)
    for line in text.split("\n"):
        tokenizer.parse(line)
    assert tokenizer.stats.lines == text.count("\n") + 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_hostile_helo_is_kept_exactly(helo: str) -> None:
    helo = helo.replace("\n", "").replace("\r", "")
    line = (
        "Nov 24 21:58:31 mx postfix/smtpd[10606]: NOQUEUE: reject: RCPT from "
        f"unknown[192.0.2.9]: 504 5.5.2 <x>: Helo command rejected: need fully-qualified "
        f"hostname; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<{helo}>"
    )
    record = Tokenizer(now=NOW).parse(line)
    assert record is not None
    assert record.helo == helo
    assert record.client_ip == "192.0.2.9"
