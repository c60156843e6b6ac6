"""Sessions from real log sequences: connect..disconnect per (host, service, pid)."""

from __future__ import annotations

from datetime import datetime

from loganalyze.judge.checks import Check
from loganalyze.parse import Tokenizer
from loganalyze.sessions import SessionStats, build_sessions

NOW = datetime(2026, 11, 24, 23, 0, 0)


def sessions_of(text: str) -> tuple[list, SessionStats]:
    stats = SessionStats()
    lines = text.strip("\n").split("\n")
    records = Tokenizer(now=NOW).tokenize(lines)
    return list(build_sessions(records, stats)), stats


def test_interleaved_sessions_and_helo_reject() -> None:
    # Real Postfix 3.7.11 lines (peer-logs, enforce mode): two smtpd processes interleave.
    sessions, stats = sessions_of("""
Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: connect from localhost[127.0.0.1]
Nov 24 21:58:31 mx postfix/enforce/smtpd[10608]: connect from localhost[127.0.0.1]
Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 450 4.7.1 <mail.example.test.>: Helo command rejected: Host not found; from=<e2@example.org> to=<user@example.com> proto=ESMTP helo=<mail.example.test.>
Nov 24 21:58:31 mx postfix/enforce/smtpd[10608]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 501 5.5.2 <mail.example.test..>: Helo command rejected: Invalid name; from=<e3@example.org> to=<user@example.com> proto=ESMTP helo=<mail.example.test..>
Nov 24 21:58:31 mx postfix/enforce/smtpd[10606]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Nov 24 21:58:31 mx postfix/enforce/smtpd[10608]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
""")
    assert [s.pid for s in sessions] == [10606, 10608]
    first, second = sessions
    assert first.helo == "mail.example.test."
    assert [r.helo_check for r in first.helo_rejects] == [Check.UNKNOWN]
    assert second.helo == "mail.example.test.."
    assert [r.helo_check for r in second.helo_rejects] == [Check.INVALID]
    assert first.senders == ["e2@example.org"] and first.recipients == ["user@example.com"]
    assert first.counters is not None and first.counters["rcpt"] == (0, 1)
    assert stats.sessions == 2 and stats.without_connect == 0 and stats.without_disconnect == 0


def test_pid_reused_starts_a_new_session() -> None:
    sessions, _ = sessions_of("""
Nov 24 21:59:36 mx postfix/smtpd[11602]: connect from good.example.test[127.0.0.3]
Nov 24 21:59:36 mx postfix/smtpd[11602]: 796FF16611B: client=good.example.test[127.0.0.3]
Nov 24 21:59:36 mx postfix/smtpd[11602]: disconnect from good.example.test[127.0.0.3] ehlo=1 mail=1 rcpt=1 quit=1 commands=4
Nov 24 21:59:40 mx postfix/smtpd[11602]: connect from unknown[127.0.0.5]
Nov 24 21:59:40 mx postfix/smtpd[11602]: NOQUEUE: reject_warning: RCPT from unknown[127.0.0.5]: 450 4.7.1 <allow.example.test>: Helo command rejected: Host not found; from=<ps@example.org> to=<user@example.com> proto=ESMTP helo=<allow.example.test>
Nov 24 21:59:40 mx postfix/smtpd[11602]: 02DC916610F: client=unknown[127.0.0.5]
Nov 24 21:59:40 mx postfix/smtpd[11602]: disconnect from unknown[127.0.0.5] ehlo=1 mail=1 rcpt=1 quit=1 commands=4
""")
    assert [(s.client_name, s.queued) for s in sessions] == [
        ("good.example.test", 1), ("unknown", 1)]
    assert sessions[0].helo is None
    assert sessions[1].helo == "allow.example.test"
    assert sessions[1].helo_rejects[0].warning is True


def test_log_cut_at_both_ends_keeps_and_marks_sessions() -> None:
    sessions, stats = sessions_of("""
Aug 16 00:00:01 mail postfix/smtpd[100]: NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 504 5.5.2 <ylmf-pc>: Helo command rejected: need fully-qualified hostname; from=<a@b.example> to=<info@example.com> proto=ESMTP helo=<ylmf-pc>
Aug 16 00:00:01 mail postfix/smtpd[100]: disconnect from unknown[203.0.113.5] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Aug 16 23:59:59 mail postfix/smtpd[200]: connect from unknown[203.0.113.6]
""")
    assert len(sessions) == 2
    assert sessions[0].saw_connect is False and sessions[0].helo == "ylmf-pc"
    assert sessions[1].saw_disconnect is False
    assert stats.without_connect == 1 and stats.without_disconnect == 1


def test_hosts_are_kept_apart() -> None:
    # A central syslog: the same pid on two hosts is two sessions.
    sessions, _ = sessions_of("""
Aug 16 10:00:00 mx1 postfix/smtpd[500]: connect from a.example[192.0.2.1]
Aug 16 10:00:00 mx2 postfix/smtpd[500]: connect from b.example[192.0.2.2]
Aug 16 10:00:01 mx2 postfix/smtpd[500]: NOQUEUE: reject: RCPT from b.example[192.0.2.2]: 504 5.5.2 <bee>: Helo command rejected: need fully-qualified hostname; from=<x@b.example> to=<y@example.com> proto=ESMTP helo=<bee>
Aug 16 10:00:02 mx1 postfix/smtpd[500]: disconnect from a.example[192.0.2.1] ehlo=1 quit=1 commands=2
Aug 16 10:00:02 mx2 postfix/smtpd[500]: disconnect from b.example[192.0.2.2] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
""")
    by_host = {s.host: s for s in sessions}
    assert by_host["mx1"].helo is None and by_host["mx1"].rejects == []
    assert by_host["mx2"].helo == "bee"


def test_spf_attaches_to_the_right_session_of_one_client() -> None:
    # Two sessions from one address at once, with different HELOs.
    sessions, stats = sessions_of("""
Aug 16 10:00:00 mail postfix/smtpd[1]: connect from mx.example.net[198.51.100.7]
Aug 16 10:00:00 mail postfix/smtpd[2]: connect from mx.example.net[198.51.100.7]
Aug 16 10:00:01 mail policyd-spf[77]: prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.51.100.7; helo=two.example.net; envelope-from=b@example.net; receiver=<UNKNOWN> 
Aug 16 10:00:01 mail postfix/smtpd[2]: 1A2B3C4D5E: client=mx.example.net[198.51.100.7]
Aug 16 10:00:02 mail postfix/smtpd[2]: disconnect from mx.example.net[198.51.100.7] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Aug 16 10:00:03 mail policyd-spf[77]: prepend Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=198.51.100.7; helo=one.example.net; envelope-from=a@example.net; receiver=<UNKNOWN> 
Aug 16 10:00:04 mail postfix/smtpd[1]: disconnect from mx.example.net[198.51.100.7] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Aug 16 10:00:05 mail policyd-spf[77]: prepend Received-SPF: None (mailfrom) identity=mailfrom; client-ip=192.0.2.99; helo=x.example; envelope-from=c@x.example; receiver=<UNKNOWN> 
""")
    by_pid = {s.pid: s for s in sessions}
    assert by_pid[2].helo == "two.example.net"
    assert [(r.result, r.sender) for r in by_pid[2].spf] == [("pass", "b@example.net")]
    assert by_pid[1].helo == "one.example.net"
    assert [r.result for r in by_pid[1].spf] == ["softfail"]
    assert stats.spf_unmatched == 1


def test_helo_required_shows_only_in_counters() -> None:
    # smtpd_helo_required: MAIL without HELO gets 503, which Postfix does not log as a reject.
    sessions, _ = sessions_of("""
Aug 16 10:00:00 mail postfix/smtpd[9]: connect from unknown[203.0.113.9]
Aug 16 10:00:01 mail postfix/smtpd[9]: disconnect from unknown[203.0.113.9] mail=0/1 quit=1 commands=1/2
""")
    (session,) = sessions
    assert session.sent_helo is False
    assert session.helo_required_reject is True


def test_hostname_warning_and_lost_connection() -> None:
    sessions, _ = sessions_of("""
Nov 24 22:04:11 vm postfix/enforce/smtpd[15967]: warning: hostname forged.example.test does not resolve to address 127.0.0.2
Nov 24 22:04:11 vm postfix/enforce/smtpd[15967]: connect from unknown[127.0.0.2]
Nov 24 22:04:12 vm postfix/enforce/smtpd[15967]: lost connection after EHLO from unknown[127.0.0.2]
Nov 24 22:04:12 vm postfix/enforce/smtpd[15967]: disconnect from unknown[127.0.0.2] ehlo=1 commands=1
""")
    (session,) = sessions
    assert "does not resolve" in session.hostname_warning
    assert session.ended_by == "lost connection after EHLO"
    assert session.sent_helo is True and session.helo is None


def test_ehlo_without_a_name_stores_no_helo() -> None:
    # Fixture line shape: EHLO with no argument gets 501 Syntax, then MAIL gets 503.
    sessions, _ = sessions_of("""
Aug 16 19:48:51 mail postfix/smtpd[838792]: connect from unknown[80.94.92.60]
Aug 16 19:48:52 mail postfix/smtpd[838792]: disconnect from unknown[80.94.92.60] ehlo=0/1 mail=0/1 rcpt=0/1 quit=1 commands=1/4
""")
    (session,) = sessions
    assert session.sent_helo is False
    assert session.helo_required_reject is True
