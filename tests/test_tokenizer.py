"""The tokenizer on real log lines: each row is a line and the event it must yield.

Lines come from ../shared/peer-logs (real Postfix 3.7.11, fail2ban's and
logwatch's test data) unless marked otherwise.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyze.compat import UTC
from loganalyze.model import ALL_KINDS, EVIDENCE_KINDS, InputFormat, Kind, LogRecord
from loganalyze.parse import MAX_LINE, Tokenizer, detect_format

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


# --- every line form (issue 3) -------------------------------------------------------------
# Rows: (line, kind, fields). Parsed with every kind enabled (postscreen, dnsblog and
# policyd-spf reject/defer records are opt-in). Lines are verbatim from the peer logs
# unless the comment says otherwise: grok/logwatch samples are message parts only, so
# they get a syslog header; "constructed" rows follow the Postfix source format quoted.

FORMS: list[tuple[str, str, dict[str, Any]]] = [
    # -- smtpd session lines --
    (
        "Nov 24 22:04:16 vm postfix/misc/smtpd[15975]: connect from unknown[127.0.0.4]:33531",
        "connect", {"client_name": "unknown", "client_ip": "127.0.0.4", "port": 33531},
    ),
    (
        # grok: IPv6 client.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: lost connection after UNKNOWN from "
        "unknown[2001:456:cfb1:1:f5d7:dead:beef:cafe]",
        "lost", {"stage": "UNKNOWN", "client_ip": "2001:456:cfb1:1:f5d7:dead:beef:cafe"},
    ),
    (
        "Feb 10 13:26:34 srv postfix/smtpd[123]: disconnect from unknown[192.0.2.1] helo=1 "
        "auth=0/1 quit=1 commands=2/3",
        "disconnect",
        {"counters": {"helo": (1, 1), "auth": (0, 1), "quit": (1, 1), "commands": (2, 3)}},
    ),
    (
        "Feb 10 13:26:34 srv postfix/smtp-25/smtpd[123]: disconnect from unknown[192.0.2.1] "
        "helo=1 auth=0/1 quit=1 commands=2/3",
        "disconnect", {"service": "postfix/smtp-25/smtpd"},
    ),
    (
        # grok: a session that sent nothing; the client address could not be read.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: disconnect from unknown[unknown] commands=0/0",
        "disconnect", {"client_ip": "unknown", "counters": {"commands": (0, 0)}},
    ),
    (
        # constructed (smtpd.c 3.10 smtpd_format_cmd_stats): notes=bare_lf after the counters.
        "Nov 24 22:04:17 mx postfix/smtpd[1]: disconnect from unknown[192.0.2.5] ehlo=1 mail=1 "
        "rcpt=1 data=1 quit=1 commands=5 notes=bare_lf",
        "disconnect", {"counters": {"ehlo": (1, 1), "mail": (1, 1), "rcpt": (1, 1),
                                    "data": (1, 1), "quit": (1, 1), "commands": (5, 5)}},
    ),
    (
        "Nov 24 22:04:17 vm postfix/misc/smtpd[15975]: too many errors after UNKNOWN from "
        "unknown[127.0.0.4]:33531",
        "lost", {"reason": "too many errors", "stage": "UNKNOWN", "port": 33531},
    ),
    (
        "Jun  3 06:25:43 srv postfix/smtpd[29306]: too many errors after RCPT from "
        "example.com[192.0.2.11]",
        "lost", {"reason": "too many errors", "stage": "RCPT", "client_name": "example.com"},
    ),
    (
        # grok: byte count after DATA.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: lost connection after DATA (7774180 bytes) from "
        "unknown[72.13.58.7]",
        "lost", {"stage": "DATA", "client_ip": "72.13.58.7"},
    ),
    (
        # grok.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: timeout after END-OF-MESSAGE from "
        "unknown[72.13.58.7]",
        "lost", {"reason": "timeout", "stage": "END-OF-MESSAGE"},
    ),
    (
        # constructed (smtpd.c 3.10: "%s: %s after %s from %s" with the queue id).
        "Nov 24 22:04:17 mx postfix/smtpd[1]: 4F1A21C0F3A: lost connection after "
        "END-OF-MESSAGE from unknown[192.0.2.5]",
        "lost", {"stage": "END-OF-MESSAGE"},
    ),
    (
        # grok: without the error text.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: warning: hostname exemple.com does not resolve "
        "to address 185.14.29.32",
        "hostname_mismatch", {"client_name": "exemple.com", "client_ip": "185.14.29.32"},
    ),
    (
        # constructed (Postfix 2.x smtpd_peer.c).
        "Aug 14 10:00:01 mail postfix/smtpd[1234]: warning: 192.0.2.44: address not listed "
        "for hostname bad.example.com",
        "hostname_mismatch", {"client_name": "bad.example.com", "client_ip": "192.0.2.44"},
    ),
    (
        "Nov 24 22:07:58 vm postfix/whitelist/smtpd[17803]: 5A07B16611D: "
        "client=unknown[127.0.0.4], sasl_method=PLAIN, sasl_username=u",
        "client", {"queue_id": "5A07B16611D", "client_ip": "127.0.0.4"},
    ),
    (
        # Long queue id (enable_long_queue_ids) on a BDAT reject, submission service.
        "Mar 11 23:27:54 server postfix-smo/submission/smtpd[22427]: 44JCRG5tYPzCqt2: reject: "
        "BDAT from signing-milter.example.com[192.0.2.109]: 550 5.5.3 <DATA>: Data command "
        "rejected: Multi-recipient bounce; from=<> to=<some@example.com> proto=ESMTP "
        "helo=<domain.tld>",
        "reject", {"queue_id": "44JCRG5tYPzCqt2", "stage": "BDAT", "sender": "",
                   "service": "postfix-smo/submission/smtpd", "helo": "domain.tld"},
    ),
    # -- rejects at every stage --
    (
        "Jun  1 19:00:55 mail postfix/smtpd[7749]: NOQUEUE: reject: CONNECT from "
        "unknown[192.0.2.114]: 450 4.7.25 Client host rejected: cannot find your hostname, "
        "[178.215.236.114]; proto=SMTP",
        "reject", {"stage": "CONNECT", "code": 450, "dsn": "4.7.25", "helo": None,
                   "reason": "Client host rejected: cannot find your hostname, "
                             "[178.215.236.114]"},
    ),
    (
        # smtpd_check driver output (smtpd_*.ref) in a syslog header; NOQUEUE for its
        # "<queue id>" placeholder.
        "Nov 24 22:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: HELO from localhost[127.0.0.1]: "
        "554 5.7.1 <foo.dunno.com>: Helo command rejected: Access denied; proto=SMTP "
        "helo=<foo.dunno.com>",
        "reject", {"stage": "HELO", "code": 554, "helo": "foo.dunno.com",
                   "reason": "<foo.dunno.com>: Helo command rejected: Access denied"},
    ),
    (
        # smtpd_check driver output, as above; the null sender.
        "Nov 24 22:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: MAIL from "
        "bar.duno.com[44.33.44.33]: 550 5.7.1 <>: Sender address rejected: Go away "
        "postmaster; from=<> proto=SMTP helo=<foo.duuno.com>",
        "reject", {"stage": "MAIL", "sender": "", "recipient": None, "helo": "foo.duuno.com"},
    ),
    (
        # constructed: the reject_unauth_pipelining reply at DATA (smtpd_check.c).
        "Nov 24 22:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: DATA from unknown[192.0.2.9]: "
        "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining; "
        "from=<a@example.org> to=<b@example.com> proto=SMTP helo=<x.example.org>",
        "reject", {"stage": "DATA", "code": 503, "helo": "x.example.org"},
    ),
    (
        # constructed (smtpd.c: log_whatsup(state, "reject", "bare <LF> received")): no code.
        "Nov 24 22:00:00 mx postfix/smtpd[1]: 4F1A21C0F3A: reject: END-OF-MESSAGE from "
        "unknown[192.0.2.9]: bare <LF> received; from=<a@example.org> to=<b@example.com> "
        "proto=ESMTP helo=<x.example.org>",
        "reject", {"stage": "END-OF-MESSAGE", "code": 0, "reason": "bare <LF> received"},
    ),
    (
        # grok: VRFY, IPv6, no from=.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: NOQUEUE: reject: VRFY from "
        "unknown[2001:968:9999:20:88b:9b7d:2a54:2bd2]: 454 4.7.1 <aap@henk.com>: Relay access "
        "denied; to=<aap@henk.com> proto=SMTP helo=<me>",
        "reject", {"stage": "VRFY", "sender": None, "recipient": "aap@henk.com", "helo": "me"},
    ),
    (
        "Nov 24 21:57:58 mx postfix/smtpd[10351]: NOQUEUE: reject_warning: RCPT from "
        "localhost[127.0.0.1]: 450 4.7.1 <café.example.test>: Helo command rejected: Host not "
        "found; from=<w42@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<café.example.test>",
        "reject", {"warning": True, "helo": "café.example.test", "code": 450},
    ),
    (
        # 3.10 fields after helo= (constructed from smtpd_check.c log_whatsup).
        "Nov 24 22:00:00 mx postfix/submission/smtpd[1]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.9]: 554 5.7.1 <b@other.example>: Relay access denied; "
        "from=<a@example.org> to=<b@other.example> proto=ESMTP helo=<x.example.org> "
        "sasl_method=PLAIN sasl_username=alice",
        "reject", {"helo": "x.example.org", "service": "postfix/submission/smtpd"},
    ),
    (
        # smtpd_helo_required: the 503 reply, logged only as a verbose chat line
        # (constructed from smtpd_chat.c 'msg_info("> %s: %s", state->namaddr, cp)').
        "Nov 24 22:00:00 mx postfix/smtpd[1]: > unknown[192.0.2.9]: 503 5.5.1 Error: send "
        "HELO/EHLO first",
        "reject", {"stage": "MAIL", "code": 503, "dsn": "5.5.1", "helo": None,
                   "reason": "Error: send HELO/EHLO first", "client_ip": "192.0.2.9"},
    ),
    # -- every HELO reason --
    (
        "Nov 24 21:58:31 mx postfix/enforce/smtpd[10608]: NOQUEUE: reject: RCPT from "
        "localhost[127.0.0.1]: 501 5.5.2 <[256.1.1.1]>: Helo command rejected: invalid ip "
        "address; from=<e23@example.org> to=<user@example.com> proto=ESMTP helo=<[256.1.1.1]>",
        "reject", {"reason": "<[256.1.1.1]>: Helo command rejected: invalid ip address",
                   "helo": "[256.1.1.1]"},
    ),
    (
        "Nov 24 22:08:26 vm postfix/enforce/smtpd[17979]: NOQUEUE: reject: RCPT from "
        "unknown[127.0.0.4]: 550 5.7.1 <badmx.example.test>: Helo command rejected: Malformed "
        "DNS server reply; from=<c550@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<badmx.example.test>",
        "reject", {"code": 550, "reason": "<badmx.example.test>: Helo command rejected: "
                                          "Malformed DNS server reply"},
    ),
    (
        "Nov 24 22:04:11 vm postfix/whitelist/smtpd[15949]: NOQUEUE: reject: RCPT from "
        "unknown[127.0.0.4]: 554 5.7.1 <bad.example.test>: Helo command rejected: bad helo; "
        "from=<wl6@example.org> to=<user@example.com> proto=ESMTP helo=<bad.example.test>",
        "reject", {"code": 554, "reason": "<bad.example.test>: Helo command rejected: bad helo"},
    ),
    (
        "Jul 18 23:12:56 xxx postfix/smtpd[1938]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.236]: 554 5.7.1 <dom.tld>: Helo command rejected: Access denied; "
        "from=<ADMINISTRATOR@dom.tld> to=<lp@dom.tld> proto=ESMTP helo=<dom.tld>",
        "reject", {"sender": "ADMINISTRATOR@dom.tld", "helo": "dom.tld"},
    ),
    (
        "Jul 18 23:12:56 xxx postfix/smtpd[8738]: NOQUEUE: reject: RCPT from "
        "foo[192.51.100.65]: 554 5.7.1 <bad.domain>: Helo command rejected: match bad.domain; "
        "from=<foo@good.domain> to=<foo@porcupine.org> proto=SMTP helo=<bad.domain>",
        "reject", {"client_name": "foo", "reason": "<bad.domain>: Helo command rejected: "
                                                   "match bad.domain"},
    ),
    (
        # delay_reject=no: the raw HELO with a control character shown as a space in the
        # reply, and as "?" in helo=.
        "Nov 24 21:58:37 mx postfix-nodelay/smtpd[10725]: NOQUEUE: reject: EHLO from "
        "localhost[127.0.0.1]: 501 5.5.2 <ctl char.example.test>: Helo command rejected: "
        "Invalid name; proto=SMTP helo=<ctl?char.example.test>",
        "reject", {"stage": "EHLO", "helo": "ctl?char.example.test"},
    ),
    (
        # grok: reject_rhsbl_helo, with "; " inside the reply.
        "Oct 26 18:13:50 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
        "news.zihan-promo.com[192.36.205.58]: 554 5.7.1 Service unavailable; Helo command "
        "[news.zihan-promo.com] blocked using dbl.spamhaus.org; "
        "http://www.spamhaus.org/query/dbl?domain=zihan-promo.com; "
        "from=<mark.alexander@zihan-promo.com> to=<tom@example.com> proto=ESMTP "
        "helo=<news.zihan-promo.com>",
        "reject", {"helo": "news.zihan-promo.com", "recipient": "tom@example.com"},
    ),
    # -- postscreen --
    (
        "Nov 24 21:59:34 mx postfix/postscreen[11599]: CONNECT from [127.0.0.3]:52777 to "
        "[127.0.0.1]:2529",
        "postscreen_connect", {"client_ip": "127.0.0.3", "port": 52777, "client_name": ""},
    ),
    (
        "Nov 24 21:59:36 mx postfix/postscreen[11599]: PASS NEW [127.0.0.3]:52777",
        "postscreen_pass", {"reason": "NEW", "client_ip": "127.0.0.3"},
    ),
    (
        "Nov 24 21:59:36 mx postfix/postscreen[11599]: PASS OLD [127.0.0.3]:42421",
        "postscreen_pass", {"reason": "OLD", "port": 42421},
    ),
    (
        # grok: IPv6.
        "Oct 26 18:13:50 mx postfix/postscreen[1]: PASS NEW [2607:f8b0:4003:c01::23a]:36051",
        "postscreen_pass", {"client_ip": "2607:f8b0:4003:c01::23a"},
    ),
    (
        "Nov 24 21:59:39 mx postfix/postscreen[11599]: DNSBL rank 1 for [127.0.0.4]:44301",
        "postscreen_dnsbl", {"score": 1, "client_ip": "127.0.0.4"},
    ),
    (
        "Nov 24 21:59:37 mx postfix/dnsblog[11600]: addr 127.0.0.4 listed by domain bl.test "
        "as 127.0.0.2",
        "dnsbl_listed", {"client_ip": "127.0.0.4", "reason": "bl.test", "detail": "127.0.0.2"},
    ),
    (
        "Nov 24 21:59:39 mx postfix/postscreen[11599]: NOQUEUE: reject: RCPT from "
        "[127.0.0.4]:44301: 550 5.7.1 Service unavailable; client [127.0.0.4] blocked using "
        "bl.test; from=<ps@example.org>, to=<user@example.com>, proto=ESMTP, "
        "helo=<listed.example.test>",
        "postscreen_reject",
        {"helo": "listed.example.test", "sender": "ps@example.org",
         "recipient": "user@example.com", "code": 550, "stage": "RCPT", "port": 44301,
         "reason": "Service unavailable; client [127.0.0.4] blocked using bl.test"},
    ),
    (
        # grok: no HELO seen (postscreen writes helo=<>).
        "Oct 26 18:13:50 mx postfix/postscreen[1]: NOQUEUE: reject: RCPT from "
        "[182.98.255.184]:2413: 550 5.5.1 Protocol error; from=<lvtowxfdp@yahoo.com>, "
        "to=<tom@example.com>, proto=SMTP, helo=<>",
        "postscreen_reject", {"helo": "", "code": 550, "reason": "Protocol error"},
    ),
    (
        # grok.
        "Oct 26 18:13:50 mx postfix/postscreen[1]: NOQUEUE: reject: CONNECT from "
        "[1.2.3.4]:1337: too many connections",
        "postscreen_reject", {"stage": "CONNECT", "code": 0, "reason": "too many connections"},
    ),
    (
        "Nov 24 21:59:43 mx postfix/postscreen[11599]: PREGREET 28 after 0 from "
        "[127.0.0.7]:50491: EHLO pregreet.example.test\\r\\n",
        "postscreen_event", {"stage": "PREGREET", "detail": "28 after 0",
                             "reason": "EHLO pregreet.example.test\\r\\n"},
    ),
    (
        "Nov 24 21:59:46 mx postfix/postscreen[11599]: HANGUP after 3 from [127.0.0.7]:50491 "
        "in tests after SMTP handshake",
        "postscreen_event", {"stage": "HANGUP", "detail": "after 3",
                             "reason": "in tests after SMTP handshake"},
    ),
    (
        "Jun  8 23:14:28 proxy2 postfix/postscreen[473]: COMMAND TIME LIMIT from "
        "[192.0.2.77]:3608 after CONNECT",
        "postscreen_event", {"stage": "COMMAND TIME LIMIT", "reason": "after CONNECT"},
    ),
    (
        "Nov 24 21:59:40 mx postfix/postscreen[11599]: ALLOWLISTED [127.0.0.5]:60507",
        "postscreen_event", {"stage": "ALLOWLISTED", "client_ip": "127.0.0.5"},
    ),
    (
        "Nov 24 21:59:40 mx postfix/postscreen[11599]: DENYLISTED [127.0.0.6]:54763",
        "postscreen_event", {"stage": "DENYLISTED"},
    ),
    (
        # grok: pre-3.6 wording.
        "Oct 26 18:13:50 mx postfix/postscreen[1]: WHITELIST VETO [61.238.241.86]:53024",
        "postscreen_event", {"stage": "WHITELIST VETO", "client_ip": "61.238.241.86"},
    ),
    (
        # grok.
        "Oct 26 18:13:50 mx postfix/postscreen[1]: NON-SMTP COMMAND from "
        "[93.174.93.51]:45284 after CONNECT: GET http://ipv4scan.com/hello/check.txt HTTP/1.1",
        "postscreen_event", {"stage": "NON-SMTP COMMAND",
                             "reason": "after CONNECT: GET http://ipv4scan.com/hello/check.txt"
                                       " HTTP/1.1"},
    ),
    (
        "Nov 24 21:59:39 mx postfix/postscreen[11599]: DISCONNECT [127.0.0.4]:44301",
        "postscreen_disconnect", {"client_ip": "127.0.0.4", "port": 44301},
    ),
    # -- policyd-spf (Python, spf-engine 3.0.4): every result word --
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Softfail (mailfrom) "
        "identity=mailfrom; client-ip=192.0.2.20; helo=spf-none.example.test; "
        "envelope-from=a@spf-soft.example.test; receiver=example.com",
        "spf", {"spf_result": "softfail", "queue_id": "", "action": "prepend"},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Neutral (mailfrom) "
        "identity=mailfrom; client-ip=192.0.2.20; helo=spf-none.example.test; "
        "envelope-from=a@spf-neutral.example.test; receiver=example.com",
        "spf", {"spf_result": "neutral"},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: None (mailfrom) "
        "identity=mailfrom; client-ip=192.0.2.20; helo=spf-none.example.test; "
        "envelope-from=a@spf-none.example.test; receiver=example.com",
        "spf", {"spf_result": "none", "sender": "a@spf-none.example.test"},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Permerror (mailfrom) "
        "identity=mailfrom; client-ip=192.0.2.20; helo=spf-none.example.test; "
        "envelope-from=a@spf-perm.example.test; receiver=example.com",
        "spf", {"spf_result": "permerror"},
    ),
    (
        # constructed (spf_engine/__init__.py spfDetail with TempError_Defer = False).
        "Nov 24 22:01:56 vm policyd-spf[13934]: 4F1A21C0F3A: prepend Received-SPF: Temperror "
        "(mailfrom) identity=mailfrom; client-ip=192.0.2.20; helo=spf-none.example.test; "
        "envelope-from=a@spf-temp.example.test; receiver=example.com ",
        "spf", {"spf_result": "temperror", "queue_id": "4F1A21C0F3A"},
    ),
    (
        # HELO identity, null sender: the comment is pyspf's explanation.
        "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Pass (sender SPF "
        "authorized) identity=helo; client-ip=192.0.2.20; helo=spf-pass.example.test; "
        "envelope-from=<>; receiver=example.com",
        "spf", {"spf_identity": "helo", "sender": "", "reason": "sender SPF authorized",
                "helo": "spf-pass.example.test"},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : 550 5.7.23 Message rejected due to: SPF fail "
        "- not authorized. Please see http://www.openspf.net/Why?s=mfrom;"
        "id=a@spf-fail.example.test;ip=192.0.2.20;r=example.com",
        "spf_reject", {"action": "reject", "spf_result": "fail", "spf_identity": "mailfrom",
                       "sender": "a@spf-fail.example.test", "client_ip": "192.0.2.20",
                       "code": 550, "dsn": "5.7.23", "helo": None},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : 550 5.7.23 Message rejected due to: SPF fail "
        "- not authorized. Please see http://www.openspf.net/Why?s=helo;"
        "id=spf-fail.example.test;ip=192.0.2.20;r=example.com",
        "spf_reject", {"spf_identity": "helo", "helo": "spf-fail.example.test",
                       "sender": None},
    ),
    (
        "Nov 24 22:01:56 vm policyd-spf[13934]: : defer_if_permit 4.7.24 Message deferred due "
        "to: SPF Temporary Error: DNS All nameservers failed to answer the query "
        "spf-temp.example.test. IN TXT: Server 127.0.0.1 UDP port 53 answered SERVFAIL. Please "
        "see http://www.openspf.net/Why?s=mfrom;id=a@spf-temp.example.test;ip=192.0.2.20;"
        "r=example.com",
        "spf_reject", {"action": "defer", "spf_result": "temperror", "code": 450,
                       "dsn": "4.7.24", "client_ip": "192.0.2.20"},
    ),
    (
        # constructed: PermError_reject = True gives 5.7.24 (policyd_spf.py).
        "Nov 24 22:01:56 vm policyd-spf[13934]: : 550 5.7.24 Message rejected due to: SPF "
        "Permanent Error: Unknown mechanism found: foo:bar. Please see "
        "http://www.openspf.net/Why?s=mfrom;id=a@spf-perm.example.test;ip=192.0.2.20;"
        "r=example.com",
        "spf_reject", {"spf_result": "permerror"},
    ),
    (
        # constructed: SPF_Enhanced_Status_Codes = No, Mail_From_reject = SPF_Not_Pass.
        "Nov 24 22:01:56 vm policyd-spf[13934]: 550 Message rejected due to: domain owner "
        "discourages use of this host. Please see http://www.openspf.net/Why?s=mfrom;"
        "id=a@spf-soft.example.test;ip=192.0.2.20;r=example.com",
        "spf_reject", {"spf_result": "softfail", "dsn": ""},
    ),
    # -- postfix-policyd-spf-perl --
    (
        "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=PREPEND Received-SPF: "
        "softfail (spf-soft.example.test: Sender is not authorized by default to use "
        "'a@spf-soft.example.test' in 'mfrom' identity, however domain is not currently "
        "prepared for false failures (mechanism '~all' matched)) receiver=vm; "
        "identity=mailfrom; envelope-from=\"a@spf-soft.example.test\"; "
        "helo=spf-none.example.test; client-ip=192.0.2.20",
        "spf", {"spf_result": "softfail", "sender": "a@spf-soft.example.test"},
    ),
    (
        "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=PREPEND Received-SPF: "
        "pass (spf-pass.example.test: 192.0.2.20 is authorized to use 'spf-pass.example.test' "
        "in 'helo' identity (mechanism 'ip4:192.0.2.0/24' matched)) receiver=vm; "
        "identity=helo; helo=spf-pass.example.test; client-ip=192.0.2.20",
        "spf", {"spf_identity": "helo", "sender": "", "helo": "spf-pass.example.test"},
    ),
    (
        # logwatch sample (old Mail::SPF: identity=mfrom, a quoted HELO literal).
        "Nov 24 22:01:52 vm postfix/policy-spf[1]: Policy action=PREPEND Received-SPF: "
        "neutral (example.com: Domain does not state whether sender is authorized to use "
        "'f@example.com' in 'mfrom' identity (mechanism '?all' matched)) receiver=sample.net "
        "identity=mfrom; envelope-from=\"f@example.com\"; helo=\"[10.0.0.1]\"; "
        "client-ip=192.168.0.1",
        "spf", {"spf_identity": "mailfrom", "helo": "[10.0.0.1]", "sender": "f@example.com"},
    ),
    (
        "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=550 Please see "
        "http://www.openspf.org/Why?s=mfrom;id=a%40spf-fail.example.test;ip=192.0.2.20;r=vm",
        "spf_reject", {"spf_result": "fail", "sender": "a@spf-fail.example.test",
                       "client_ip": "192.0.2.20", "action": "reject"},
    ),
    (
        "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=DEFER_IF_PERMIT "
        "SPF-Result=spf-temp.example.test: 'SERVFAIL' error on DNS 'TXT' lookup of "
        "'spf-temp.example.test'",
        "spf_reject", {"spf_result": "temperror", "action": "defer", "client_ip": ""},
    ),
    # -- sources: formats of the header --
    (
        # Postfix maillog_file: zero-padded day (msg_logger.c strftime "%b %d").
        "Jan 05 07:00:01 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]",
        "connect", {"time": datetime(2026, 1, 5, 7, 0, 1)},
    ),
    (
        "2026-11-24T22:00:10.532125Z vm postfix/enforce/smtpd[12232]: connect from "
        "unknown[127.0.0.4]",
        "connect", {"time": datetime(2026, 11, 24, 22, 0, 10, 532125)},
    ),
    (
        "2026-11-24T22:00:10.5-05:00 vm postfix/enforce/smtpd[12232]: connect from "
        "unknown[127.0.0.4]",
        "connect", {"time": datetime(2026, 11, 24, 22, 0, 10, 500000)},
    ),
    (
        # journalctl -o short-full
        "Tue 2026-11-24 22:00:29 UTC vm postfix/enforce/smtpd[12232]: NOQUEUE: reject: RCPT "
        "from good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<j2@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<User>",
        "reject", {"time": datetime(2026, 11, 24, 22, 0, 29), "helo": "User"},
    ),
    (
        # FreeBSD syslogd inserts "<facility.priority> " (reference 4); constructed.
        "Nov 24 22:00:29 <mail.info> vm postfix/smtpd[1]: connect from a.example[192.0.2.1]",
        "connect", {"host": "vm"},
    ),
    (
        # Solaris syslogd inserts "[ID nnnnnn facility.priority] "; constructed.
        "Nov 24 22:00:29 vm postfix/smtpd[1]: [ID 197553 mail.info] connect from "
        "a.example[192.0.2.1]",
        "connect", {"client_ip": "192.0.2.1"},
    ),
]


@pytest.mark.parametrize("line,kind,fields", FORMS, ids=[f"form{i}" for i in range(len(FORMS))])
def test_every_line_form(line: str, kind: str, fields: dict[str, Any]) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    record = tokenizer.parse(line, 1)
    assert isinstance(record, LogRecord), tokenizer.stats.samples
    assert record.kind == Kind(kind)
    for name, expected in fields.items():
        assert getattr(record, name) == expected, name


def test_unix_and_json_stamps_are_shown_in_the_given_zone() -> None:
    # journalctl -o short-unix and -o json of the same entry (peer log, journald 252).
    unix = (
        "1795557629.622313 vm postfix/enforce/smtpd[12232]: NOQUEUE: reject: RCPT from "
        "good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<j2@example.org> to=<user@example.com> proto=ESMTP "
        "helo=<User>"
    )
    json_line = (
        '{"SYSLOG_TIMESTAMP":"Nov 24 22:00:29 ","_EXE":"/usr/lib/postfix/sbin/smtpd",'
        '"_SOURCE_REALTIME_TIMESTAMP":"1795557629622313","_TRANSPORT":"syslog","PRIORITY":"6",'
        '"__REALTIME_TIMESTAMP":"1795557629622342","_HOSTNAME":"vm","_PID":"12232",'
        '"_COMM":"smtpd","SYSLOG_IDENTIFIER":"postfix/enforce/smtpd","SYSLOG_PID":"12232",'
        '"SYSLOG_FACILITY":"2","MESSAGE":"NOQUEUE: reject: RCPT from '
        "good.example.test[127.0.0.3]: 504 5.5.2 <User>: Helo command rejected: need "
        "fully-qualified hostname; from=<j2@example.org> to=<user@example.com> proto=ESMTP "
        'helo=<User>","__MONOTONIC_TIMESTAMP":"817150668"}'
    )
    for zone, expected in [(UTC, datetime(2026, 11, 24, 22, 0, 29, 622313)),
                           (timezone(timedelta(hours=1)), datetime(2026, 11, 24, 23, 0, 29,
                                                                   622313))]:
        records = [Tokenizer(now=NOW, tz=zone).parse(line) for line in (unix, json_line)]
        assert [r.time for r in records if r is not None] == [expected, expected]
        assert records[0] == records[1]


def test_rfc3339_offsets_convert_only_when_a_zone_is_given() -> None:
    line = "2026-11-24T23:00:10+0100 vm postfix/smtpd[1]: connect from a.example[192.0.2.1]"
    as_written = Tokenizer(now=NOW).parse(line)
    in_utc = Tokenizer(now=NOW, tz=UTC).parse(line)
    assert as_written is not None and in_utc is not None
    assert as_written.time == datetime(2026, 11, 24, 23, 0, 10)
    assert in_utc.time == datetime(2026, 11, 24, 22, 0, 10)


def test_journal_json_message_as_byte_values() -> None:
    # MESSAGE that is not UTF-8: journalctl writes a list of byte values.
    message = list(b"connect from caf\xe9.example[192.0.2.1]")
    line = json.dumps({"SYSLOG_IDENTIFIER": "postfix/smtpd", "SYSLOG_PID": "7",
                       "_HOSTNAME": "mx", "__REALTIME_TIMESTAMP": "1795557629000000",
                       "MESSAGE": message})
    record = Tokenizer(now=NOW, tz=UTC).parse(line)
    assert record is not None and record.kind is Kind.CONNECT
    assert record.client_name == "caf\ufffd.example"
    assert (record.host, record.pid) == ("mx", 7)


JSON_ODD = [
    ('{"SYSLOG_IDENTIFIER":"postfix/qmgr","MESSAGE":"4F1A21C0F3A: removed"}', "irrelevant"),
    ('{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"connect from a[1.2.3.4]"}', "unparsed"),
    ('{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"connect from a[1.2', "unparsed"),
    ('{"_COMM":"smtpd","SYSLOG_IDENTIFIER":"postfix/smtpd"', "unparsed"),
    ('["postfix/smtpd"]', "unparsed"),
    ('{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":null,"_PID":"1",'
     '"__REALTIME_TIMESTAMP":"1"}', "unparsed"),
    ('{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"x","_PID":"1",'
     '"__REALTIME_TIMESTAMP":"99999999999999999999999"}', "unparsed"),
    ('{"SYSLOG_IDENTIFIER":["postfix/smtpd","postfix/smtpd"],"MESSAGE":"connect from '
     'a[1.2.3.4]","_PID":"1","__REALTIME_TIMESTAMP":"1795557629000000"}', "matched"),
    ('{"SYSLOG_IDENTIFIER":"policyd-spf","MESSAGE":"spfcheck: pyspf result: x","_PID":"1",'
     '"__REALTIME_TIMESTAMP":"1795557629000000"}', "irrelevant"),
]


@pytest.mark.parametrize("line,bucket", JSON_ODD)
def test_odd_journal_entries_are_counted(line: str, bucket: str) -> None:
    tokenizer = Tokenizer(now=NOW, tz=UTC)
    tokenizer.parse(line)
    stats = tokenizer.stats
    assert getattr(stats, bucket) == 1
    assert stats.lines == stats.matched + stats.irrelevant + stats.unparsed == 1


MORE_IRRELEVANT = [
    # smtpd lines the analysis does not need (verbatim peer-log lines).
    "Nov 24 22:07:58 vm postfix/whitelist/smtpd[17803]: NOQUEUE: permit: RCPT from "
    "unknown[127.0.0.4]: action=OK for Helo command=sub.exact.example.test from "
    "hash:/etc/postfix/helo_access; from=<perm@example.org> to=<user@example.com> "
    "proto=ESMTP helo=<sub.exact.example.test>",
    "Mar 7 02:09:33 server postfix/smtpd[27246]: 1D8CC1CA0A7F: milter-reject: DATA from "
    "66-220-155-151.mail-mail.facebook.com[192.0.2.151]: 550 5.7.1 Command rejected; "
    "from=<security@mail.example.com> to=<hostmaster@example.com> proto=ESMTP "
    "helo=<192-0-2-151.mail-mail.example.com>",
    "Dec 25 02:35:54 platypus postfix/smtpd[9144]: improper command pipelining after RSET "
    "from 173-10-140-217-BusName-washingtonDC.hfc.comcastbusiness.net[173.10.140.217]",
    "Nov 24 21:59:34 mx postfix/postscreen[11599]: cache btree:/var/lib/postfix/"
    "postscreen_cache full cleanup: retained=0 dropped=0 entries",
    "Nov 24 22:01:56 vm policyd-spf[13957]: spfcheck: pyspf result: \"['Pass', 'sender SPF "
    "authorized', 'helo']\"",
    "Nov 24 22:01:56 vm policyd-spf[13957]: Pass; identity=helo; client-ip=192.0.2.20; "
    "helo=mail.spf-pass.example.test; envelope-from=a@spf-pass.example.test; "
    "receiver=example.com",
    "Nov 24 22:01:52 vm postfix/policy-spf[13876]: Policy action=DUNNO",
    "Nov 24 22:00:09 mx postfix/master[9894]: reload -- version 3.7.11, configuration "
    "/etc/postfix",
    "2026-11-24T22:00:09.403222+00:00 vm postfix/anvil[11606]: statistics: max connection "
    "rate 2/60s for (smtpd:127.0.0.3) at Nov 24 21:59:36",
    "Tue 2026-11-24 22:00:29 UTC vm kernel[1]: something",
    "1795557629.622313 vm postfix/qmgr[1]: 4F1A21C0F3A: removed",
]


@pytest.mark.parametrize("line", MORE_IRRELEVANT)
def test_more_irrelevant_lines(line: str) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    assert tokenizer.parse(line) is None
    assert (tokenizer.stats.irrelevant, tokenizer.stats.unparsed) == (1, 0)


def test_new_kinds_are_opt_in() -> None:
    # The default kinds are what the session builder consumes; the rest count as irrelevant.
    lines = [row[0] for row in FORMS if Kind(row[1]) in EVIDENCE_KINDS]
    tokenizer = Tokenizer(now=NOW)
    assert list(tokenizer.tokenize(lines)) == []
    assert tokenizer.stats.irrelevant == len(lines) > 20
    only = Tokenizer(now=NOW, kinds={Kind.POSTSCREEN_PASS})
    assert {r.kind for r in only.tokenize(lines)} == {Kind.POSTSCREEN_PASS}


MORE_GARBAGE = [
    # RFC 5424 loses the program name (rsyslog RSYSLOG_SyslogProtocol23Format).
    "<22>1 2026-11-24T22:00:10.532125+00:00 vm postfix 12232 - -  connect from "
    "unknown[127.0.0.4]",
    # fail2ban's damaged line: "helo=" without its value.
    "Feb 21 09:21:54 xxx postfix/smtpd[14398]: NOQUEUE: reject: RCPT from "
    "example.com[192.0.43.10]: 450 4.7.1 : Helo command rejected: Host not found; from=<> "
    "to=<> proto=ESMTP helo=",
    "Nov 24 21:59:34 mx postfix/postscreen[11599]: CONNECT from nowhere",
    "Nov 24 22:01:56 vm policyd-spf[13934]: : prepend Received-SPF: Pass (mailfrom) garbled",
    "Nov 31 22:00:00 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]",
    "2026-13-24T22:00:10+00:00 vm postfix/smtpd[1]: connect from a.example[192.0.2.1]",
    "99999999999999 vm postfix/smtpd[1]: connect from a.example[192.0.2.1]",
    "Nov 24 22:00:10 mx postfix/smtpd[1]: " + "x" * 10_000,
    "\ufffd\ufffd postfix/smtpd[1]: connect from a[1.2.3.4]",
]


@pytest.mark.parametrize("line", MORE_GARBAGE, ids=range(len(MORE_GARBAGE)))
def test_more_garbage_is_unparsed(line: str) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    assert tokenizer.parse(line, 3) is None
    assert (tokenizer.stats.unparsed, tokenizer.stats.irrelevant) == (1, 0)
    assert tokenizer.stats.samples[0].why


FORCED = [
    ("syslog", "Nov 24 22:00:29 vm postfix/smtpd[1]: connect from a[192.0.2.1]", True),
    ("syslog", "2026-11-24T22:00:29+0000 vm postfix/smtpd[1]: connect from a[192.0.2.1]", False),
    ("rfc3339", "2026-11-24T22:00:29+0000 vm postfix/smtpd[1]: connect from a[192.0.2.1]", True),
    ("rfc3339", "Nov 24 22:00:29 vm postfix/smtpd[1]: connect from a[192.0.2.1]", False),
    ("journal-json", "Nov 24 22:00:29 vm postfix/smtpd[1]: connect from a[192.0.2.1]", False),
    ("syslog", '{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"connect from a[192.0.2.1]",'
               '"_PID":"1","__REALTIME_TIMESTAMP":"1795557629000000"}', False),
    ("journal-full", "Tue 2026-11-24 22:00:29 UTC vm postfix/smtpd[1]: connect from "
                     "a[192.0.2.1]", True),
    ("journal-unix", "1795557629.622313 vm postfix/smtpd[1]: connect from a[192.0.2.1]", True),
]


@pytest.mark.parametrize("fmt,line,parses", FORCED)
def test_forced_input_format(fmt: str, line: str, parses: bool) -> None:
    tokenizer = Tokenizer(now=NOW, tz=UTC, input_format=fmt)
    record = tokenizer.parse(line)
    assert (record is not None) is parses
    assert tokenizer.stats.unparsed == (0 if parses else 1)


@pytest.mark.parametrize(
    "lines,expected",
    [
        (["Nov 24 22:00:29 vm postfix/smtpd[1]: x"] * 3, "syslog"),
        (["garbage", "2026-11-24T22:00:29+00:00 vm a[1]: x", "Nov 24 22:00:29 vm a[1]: x",
          "2026-11-24T22:00:29+00:00 vm a[1]: x"], "rfc3339"),
        (['{"MESSAGE":"x"}'], "journal-json"),
        (["Tue 2026-11-24 22:00:29 UTC vm a[1]: x"], "journal-full"),
        (["1795557629.622313 vm a[1]: x"], "journal-unix"),
        ([], "auto"),
        (["", "random"], "auto"),
    ],
)
def test_detect_format(lines: list[str], expected: str) -> None:
    assert detect_format(lines) == InputFormat(expected)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(list(InputFormat)))
def test_random_bytes_never_raise_and_counts_add_up(data: bytes, fmt: InputFormat) -> None:
    tokenizer = Tokenizer(now=NOW, tz=UTC, input_format=fmt, kinds=ALL_KINDS)
    lines = data.decode("utf-8", "replace").split("\n")
    records = list(tokenizer.tokenize(lines))
    stats = tokenizer.stats
    assert stats.lines == len(lines)
    assert stats.lines == stats.matched + stats.irrelevant + stats.unparsed
    assert len(records) == stats.matched


PREFIXES = [
    "Nov 24 22:00:29 vm postfix/smtpd[1]: ",
    "2026-11-24T22:00:29.5+00:00 vm postfix/postscreen[1]: ",
    "Nov 24 22:00:29 vm policyd-spf[1]: : ",
    "Nov 24 22:00:29 vm postfix/policy-spf[1]: Policy action=",
    "1795557629.622313 vm postfix/dnsblog[1]: ",
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PREFIXES), st.text(max_size=300))
def test_random_messages_of_our_programs_never_raise(prefix: str, text: str) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    tokenizer.parse(prefix + text.replace("\n", " "))
    stats = tokenizer.stats
    assert stats.lines == 1 == stats.matched + stats.irrelevant + stats.unparsed


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["MESSAGE", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "_PID",
                                        "__REALTIME_TIMESTAMP", "_HOSTNAME"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.none(),
                                 st.lists(st.integers(-5, 300), max_size=20))))
def test_random_journal_entries_never_raise(entry: dict[str, Any]) -> None:
    entry.setdefault("SYSLOG_IDENTIFIER", "postfix/smtpd")
    tokenizer = Tokenizer(now=NOW, tz=UTC, kinds=ALL_KINDS)
    tokenizer.parse(json.dumps(entry))
    stats = tokenizer.stats
    assert stats.lines == 1 == stats.matched + stats.irrelevant + stats.unparsed


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=60))
def test_hostile_helo_in_postscreen_and_spf_lines(helo: str) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    ps = tokenizer.parse(
        "Nov 24 21:59:39 mx postfix/postscreen[11599]: NOQUEUE: reject: RCPT from "
        "[127.0.0.4]:44301: 550 5.7.1 Service unavailable; client [127.0.0.4] blocked using "
        f"bl.test; from=<ps@example.org>, to=<user@example.com>, proto=ESMTP, helo=<{helo}>"
    )
    assert ps is not None and ps.helo == helo and ps.client_ip == "127.0.0.4"


_REJECT_PREFIX = (
    "Nov 24 21:58:31 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from a[192.0.2.1]: 550 5.7.1 x"
)
ADVERSARIAL = [
    # Lines built to make a backtracking regex take minutes (each was > 60 s once).
    _REJECT_PREFIX + ">; from=<a> to=<" * 500 + "x",
    _REJECT_PREFIX + "; from=<> to=<> proto=x helo=<>" * 150 + " junk",
    _REJECT_PREFIX + "; from=<a>, to=<b>, proto=x, helo=<c>" * 150 + " junk",
    _REJECT_PREFIX + "; helo=<a>" * 900 + " x",
    _REJECT_PREFIX + "; from=<" + ">" * 7000 + " x",
    "Nov 24 21:59:43 mx policyd-spf[1]: : prepend Received-SPF: Pass ("
    + ") identity=x; client-ip=1; helo=" * 100 + "x",
    "Nov 24 21:59:43 mx postfix/policy-spf[1]: Policy action=PREPEND Received-SPF: pass ("
    + ") receiver=a; identity=b; envelope-from=c; helo=d; client-ip=e f" * 100,
    "Nov 24 21:59:43 mx postfix/postscreen[1]: PREGREET " + "A B " * 200 + "[1.2.3.4]:5 x",
    "Nov 24 21:59:43 mx postfix/smtpd[1]: lost connection after " + "A-" * 3000 + " from a[1]x",
]


@pytest.mark.parametrize("line", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_hostile_lines_parse_in_linear_time(line: str) -> None:
    tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
    start = time.perf_counter()
    tokenizer.parse(line[:MAX_LINE])
    assert time.perf_counter() - start < 0.5
    assert tokenizer.stats.lines == 1
