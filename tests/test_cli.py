"""The console scripts as a user runs them: exit codes, one-line errors, real DNS on loopback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from dnsserver import SilentDnsServer
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.dnsserver import SilentDnsServer

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
PEER_LOGS = REPO / "tests" / "data" / "peer-logs"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO
    )


def analyze(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(str(BIN / "analyze"), *args, stdin=stdin)


def loganalyze(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(str(BIN / "loganalyze"), *args, stdin=stdin)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(analyze(str(tmp_path / "nope.log")), "nope.log", "no such file")


def test_damaged_gzip(tmp_path: Path) -> None:
    damaged = tmp_path / "mail.log.2.gz"
    damaged.write_bytes(gzip.compress(b"Aug 16 04:21:13 mail postfix/smtpd[1]: x\n" * 50)[:40])
    assert_one_line_error(analyze(str(damaged)), "mail.log.2.gz", "damaged compressed file")


def test_unknown_option() -> None:
    assert_one_line_error(analyze("--frobnicate", "x.log"), "--frobnicate", "--help")


def test_bad_format_choice(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_text("")
    assert_one_line_error(analyze(str(log), "--format", "xml"), "xml")


def test_malformed_helo_access(tmp_path: Path) -> None:
    table = tmp_path / "helo_access"
    table.write_text("# ok\nlonely-key\n")
    log = tmp_path / "m.log"
    log.write_text("")
    assert_one_line_error(
        analyze(str(log), "--helo-access", str(table), "--no-dns"), "helo_access:2", "no action"
    )


def test_unreadable_nameserver_option(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_text("")
    assert_one_line_error(analyze(str(log), "--nameserver", "not a server"), "not a server")


def test_python_dash_m_and_stdin() -> None:
    line = (
        "Apr  6 13:05:01 server postfix/smtpd[20589]: NOQUEUE: reject: RCPT from "
        "unknown[192.0.2.116]: 504 5.5.2 <WIN-6A0KEE6QVP5>: Helo command rejected: need "
        "fully-qualified hostname; from=<spameri@example.com> to=<spameri@example.com> "
        "proto=ESMTP helo=<WIN-6A0KEE6QVP5>\n"
    )
    result = run(sys.executable, "-m", "loganalyze", "analyze", "-", "--no-dns", "-f", "json",
                 "--year", "2026", stdin=line)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["helo"] == "WIN-6A0KEE6QVP5"
    assert row["check"] == "non_fqdn"
    assert row["client_ip"] == "192.0.2.116"
    assert row["rejected"] is True
    assert row["verdict"] in ("spam", "suspicious")
    assert "access_line" not in row
    assert "1 lines read" in result.stderr


def test_summary_counts_garbage_and_verbose_shows_it(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_bytes(
        b"Aug 16 04:21:13 mail postfix/smtpd[1]: connect from a.example[192.0.2.1]\n"
        b"\xff\xfe binary \x00 junk\n"
        b"Aug 16 04:21:14 mail postfix/qmgr[2]: 4F1A21C0F3A: removed\n"
    )
    result = analyze(str(log), "--no-dns", "-v")
    assert result.returncode == 0
    assert "3 lines read: 1 used, 1 irrelevant, 1 not understood" in result.stderr
    assert "line 2: not a syslog line" in result.stderr


def test_check_json_against_loopback_dns(dns_server) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({
        "mx.example.com": {"A": ["192.0.2.25"]},
        "nodata.example.com": {"TXT": ["v=spf1 -all"]},
        "broken.example.com": {"rcode": "SERVFAIL"},
    })
    result = loganalyze(
        "check", "-f", "json", "--nameserver", server.address, "--no-dns-cache",
        "ip-172-30-0-149.ec2.internal", "mx.example.com", "mailer01", "nodata.example.com",
        "broken.example.com", "[192.0.2.1]", "mx.example.com.",
    )
    assert result.returncode == 0, result.stderr
    rows = {r["helo"]: r for r in json.loads(result.stdout)}
    assert rows["ip-172-30-0-149.ec2.internal"] == {
        "helo": "ip-172-30-0-149.ec2.internal", "invalid": False, "non_fqdn": False,
        "unknown": True, "dns": "nxdomain",
        "reply": "450 4.7.1 <ip-172-30-0-149.ec2.internal>: Helo command rejected: Host not found",
    }
    assert rows["mx.example.com"]["reply"] is None and rows["mx.example.com"]["dns"] == "found"
    assert rows["mailer01"]["reply"] == (
        "504 5.5.2 <mailer01>: Helo command rejected: need fully-qualified hostname")
    assert rows["nodata.example.com"]["dns"] == "nodata"
    assert rows["nodata.example.com"]["unknown"] is True
    # A temporary failure is never reported as unknown host.
    assert rows["broken.example.com"]["dns"] == "servfail"
    assert rows["broken.example.com"]["unknown"] is None
    assert rows["[192.0.2.1]"]["dns"] == "not_queried" and rows["[192.0.2.1]"]["reply"] is None
    # The trailing dot always fails the unknown check, without a query.
    assert rows["mx.example.com."]["unknown"] is True
    assert server.count("mx.example.com.") == 0 or server.count("mx.example.com") >= 1


def test_check_reads_names_from_stdin() -> None:
    result = loganalyze("check", "-", "--no-dns", "-f", "json", stdin="EXCH01\n\nfoo bar\n")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert [r["helo"] for r in rows] == ["EXCH01", "foo?bar"]
    assert rows[1]["invalid"] is True


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "helo-access", "client-access"])
def test_every_format_runs_on_a_real_log(fmt: str) -> None:
    log = PEER_LOGS / "local_postfix-3.7.11_maillog_helo-checks-enforce-nodelay.log"
    result = analyze(str(log), "--no-dns", "--format", fmt, "--postfix-config",
                     str(REPO / "fixtures" / "postfix"))
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        rows = json.loads(result.stdout)
        assert rows and {"helo", "client_ip", "client_name", "check", "verdict", "evidence",
                         "sessions", "first_seen", "last_seen", "spf", "rejected"} <= set(rows[0])


def run_against_silent_dns(
    *args: str, truncate: bool = False
) -> tuple[subprocess.CompletedProcess[str], float, SilentDnsServer]:
    """``analyze`` on the bundled day, asking a DNS server on loopback that never answers."""
    with SilentDnsServer(truncate=truncate) as server:
        started = time.monotonic()
        result = analyze(str(REPO / "fixtures" / "mail.log"), "--year", "2026", "-f", "json",
                         "--nameserver", server.address, "--no-dns-cache",
                         "--postfix-config", str(REPO / "fixtures" / "postfix"), *args)
        return result, time.monotonic() - started, server


# The deadline is timed at the DNS server: from the first query to the last one, which a
# deadline must keep inside it (plus one scheduling slice). The whole run gets a loose bound
# for interpreter start and reading the day on a loaded machine: it still fails a run that
# ignores the deadline (about 36 s against this server).
SLICE = 1.0
START_UP = 12.0


def dns_work_span(server: SilentDnsServer) -> float:
    """Seconds from the first query the server saw to the last."""
    return max(server.arrivals) - min(server.arrivals)


@pytest.mark.parametrize("truncate", [False, True], ids=["udp-dropped", "tcp-stalled"])
def test_one_dns_deadline_ends_the_run_and_says_what_is_missing(truncate: bool) -> None:
    # Each name needs A, AAAA and MX at 2 s each: none can finish within 3 s.
    result, elapsed, server = run_against_silent_dns("--dns-deadline", "3", truncate=truncate)
    assert result.returncode == 0, result.stderr
    assert dns_work_span(server) < 3 + SLICE
    assert elapsed < 3 + START_UP
    assert server.queries and (server.connections if truncate else True)
    (warning,) = [line for line in result.stderr.splitlines()
                  if line.startswith("warning: DNS deadline")]
    assert warning.startswith("warning: DNS deadline (3 s) reached: 36 of 36 HELO names "
                              "unanswered (dns: deadline)"), warning
    assert "run again with a longer --dns-deadline" in warning
    rows = json.loads(result.stdout)
    assert {r["dns"] for r in rows} == {"deadline", "not_queried"}
    for row in rows:
        if row["dns"] != "deadline":
            continue
        # Missing, not guessed: no suggestion, no "the HELO's DNS fails" held against it.
        assert "access_line" not in row
        assert not any("DNS fails temporarily" in e for e in row["evidence"]), row
        assert "the HELO was not looked up: the DNS deadline ran out" in row["evidence"]
        if row["verdict"] == "legitimate":
            assert row["not_suggested_because"].startswith(
                "the DNS deadline ran out before its HELO lookup"), row
    assert "legitimate senders are not suggested for that" in warning
    # Monitoring can tell: --strict turns the missing answers into exit status 1.
    strict, _, _ = run_against_silent_dns("--dns-deadline", "1", "--strict", "-q")
    assert strict.returncode == 1
    assert "DNS deadline (1 s) reached" in strict.stderr


def test_spf_rechecks_are_inside_the_same_deadline() -> None:
    # The HELO lookups give up after 3 x 0.5 s; the SPF re-checks (0.5 s each, one per
    # rejected sender policyd-spf never saw) then run into the deadline, not past it.
    result, elapsed, server = run_against_silent_dns("--dns-timeout", "0.5", "--dns-deadline", "4")
    assert result.returncode == 0, result.stderr
    assert dns_work_span(server) < 4 + SLICE
    assert elapsed < 4 + START_UP
    assert "could not be resolved" in result.stderr  # the HELO lookups: real timeouts
    (warning,) = [line for line in result.stderr.splitlines()
                  if line.startswith("warning: DNS deadline")]
    assert "SPF re-checks not done" in warning and "HELO names" not in warning, warning
    rows = json.loads(result.stdout)
    assert {r["dns"] for r in rows} <= {"timeout", "not_queried"}
    cut = [r for r in rows if "SPF not re-checked: the DNS deadline ran out" in r["evidence"]]
    assert cut
    assert all("access_line" not in r for r in cut)
    assert all(r["not_suggested_because"].endswith(
        "before its SPF re-check: run again with a longer --dns-deadline")
        for r in cut if r["verdict"] == "legitimate")


def test_hostile_strings_cannot_drive_the_terminal_or_the_table(tmp_path: Path) -> None:
    # Postfix writes '?' for control characters, but a log can hold anything (other
    # syslog senders, a tampered file): escape sequences must never reach the terminal.
    evil_helo = "x\x1b]0;pwned\x07\x1b[2J.example"
    log = tmp_path / "mail.log"
    log.write_text(
        "Aug 16 10:00:00 mail postfix/smtpd[1]: connect from evil\x1b[31m.example[192.0.2.66]\n"
        "Aug 16 10:00:01 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
        f"evil\x1b[31m.example[192.0.2.66]: 501 5.5.2 <{evil_helo}>: Helo command rejected: "
        f"Invalid name; from=<a@b.example> to=<c@example.com> proto=ESMTP helo=<{evil_helo}>\n"
        "Aug 16 10:00:01 mail postfix/smtpd[1]: disconnect from evil\x1b[31m.example[192.0.2.66] "
        "ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4\n"
    )
    for fmt in ("table", "helo-access", "client-access", "csv"):
        result = analyze(str(log), "--no-dns", "--year", "2026", "--format", fmt, "-v")
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, fmt
        assert "\x1b" not in result.stderr
    table = analyze(str(log), "--no-dns", "--year", "2026").stdout
    assert "x\\x1b]0;pwned\\x07\\x1b[2J.example" in table
    # JSON keeps the string exactly (escaped by JSON itself).
    (row,) = json.loads(analyze(str(log), "--no-dns", "--year", "2026", "-f", "json").stdout)
    assert row["helo"] == evil_helo


def test_progress_on_a_terminal_and_silence_under_cron(tmp_path: Path) -> None:
    import os
    import pty

    log = tmp_path / "mail.log"
    subprocess.run([sys.executable, str(REPO / "tests" / "benchmarks" / "generate_log.py"),
                    "--lines", "200k", "--output", str(log)], check=True, timeout=120)
    args = [str(BIN / "analyze"), str(log), "--no-dns", "--jobs", "1", "--format", "json",
            "--quiet"]
    # Not a terminal (cron, a pipe): nothing but the report.
    quiet = run(*args)
    assert quiet.returncode == 0 and quiet.stderr == ""
    # On a terminal: a progress display on stderr while reading.
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(args[0], args)
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"reading log lines" in seen


# -- the input guard: a run that could not use its input says so ---------------------------


def test_not_a_mail_log_is_said_and_strict_fails() -> None:
    result = analyze("/etc/services", "--no-dns", "-q")
    assert result.returncode == 0
    [line] = result.stderr.strip().splitlines()  # -q keeps the warning
    assert line.startswith("warning: none of the ") and "is this a mail log?" in line
    strict = analyze("/etc/services", "--no-dns", "-q", "--strict")
    assert strict.returncode == 1
    assert "is this a mail log?" in strict.stderr and "Traceback" not in strict.stderr


def test_lost_reject_lines_are_counted_and_strict_fails(tmp_path: Path) -> None:
    # The failure of issue 14: a parser that cannot read reject lines (here made
    # unreadable by a stage name Postfix never writes) must not look like a quiet day.
    text = (REPO / "fixtures" / "mail.log").read_text()
    lost = text.count("NOQUEUE: reject: RCPT from")
    assert lost > 100
    bad = tmp_path / "mail.log"
    bad.write_text(text.replace("NOQUEUE: reject: RCPT from", "NOQUEUE: reject: rcpt from"))
    result = analyze(str(bad), "--no-dns", "--format", "json", "--strict")
    assert result.returncode == 1
    assert f"warning: {lost} Postfix lines were not understood" in result.stderr


def test_sound_log_gives_no_warning() -> None:
    result = analyze("fixtures/mail.log", "--no-dns", "--format", "json", "--strict")
    assert result.returncode == 0
    assert "warning:" not in result.stderr
