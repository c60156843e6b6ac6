"""The daily report: golden output, the command, quiet runs, the lock, interrupted runs, history.

The command is registered on a small Typer app here exactly as cli.py does it
(``app.command("report")(report_command)``). Set UPDATE_GOLDEN=1 to rewrite
``fixtures/golden/report.{txt,json}`` after an intended change.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from loganalyze.cli.report import report_command
from loganalyze.daily.records import DailyReport
from loganalyze.daily.run import ReportSettings, parse_when, run_report, trace_entry
from loganalyze.daily.state import StateLock
from loganalyze.errors import ConfigError
from loganalyze.input.cursors import JOURNAL
from loganalyze.judge.dns import DnsStatus, NoDnsResolver, StaticResolver
from loganalyze.output import ReportFormat, finding_record
from loganalyze.output.daily import render, render_html, render_text, report_record
from loganalyze.pipeline import AnalyzeOptions
from loganalyze.postfix.config import load_identity

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from dnsserver import SilentDnsServer
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.dnsserver import SilentDnsServer

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
GOLDEN = FIXTURES / "golden"
NOW = "2026-08-17T06:15:00"
GOLDEN_ARGS = ["--no-dns", "--postfix-config", str(FIXTURES / "postfix"), "--year", "2026",
               "--now", NOW]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("report")(report_command)


@app.callback()
def _main() -> None:
    """A stand-in for loganalyze's app."""


runner = CliRunner()


def report(*args: str) -> Any:
    """Run ``loganalyze report`` in-process; returns the click Result."""
    return runner.invoke(app, ["report", *args])


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# -- a small log with history ------------------------------------------------------------

REPLIES = {
    "unknown": "450 4.7.1 <{helo}>: Helo command rejected: Host not found",
    "non_fqdn": "504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname",
    "invalid": "501 5.5.2 <{helo}>: Helo command rejected: Invalid name",
}


def session(day: int, clock: str, pid: int, client: str, helo: str, check: str | None,
            sender: str = "news@example.org") -> list[str]:
    """One smtpd session: rejected by ``check``, or accepted when ``check`` is None."""
    stamp = f"Aug {day:2d} {clock}"
    out = [f"{stamp} mx postfix/smtpd[{pid}]: connect from {client}"]
    if check is None:
        out.append(f"{stamp} mx postfix/smtpd[{pid}]: 4F2A{pid}: client={client}")
        out.append(f"{stamp} mx postfix/smtpd[{pid}]: disconnect from {client} ehlo=1 mail=1 "
                   "rcpt=1 data=1 quit=1 commands=5")
    else:
        reply = REPLIES[check].format(helo=helo)
        out.append(f"{stamp} mx postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from {client}: "
                   f"{reply}; from=<{sender}> to=<anna@example.com> proto=ESMTP helo=<{helo}>")
        out.append(f"{stamp} mx postfix/smtpd[{pid}]: disconnect from {client} ehlo=1 mail=1 "
                   "rcpt=0/1 quit=1 commands=3/4")
    return out


GOOD = "mx.example.org[192.0.2.10]"
SPAM = "unknown[203.0.113.9]"


def day_lines(day: int, good_check: str | None) -> list[str]:
    lines = []
    for hour, pid in [(9, 100), (11, 101), (15, 102)]:
        lines += session(day, f"{hour:02d}:00:00", pid + day * 10, GOOD, "mx1.example.org",
                         good_check)
    lines += session(day, "12:30:00", 300 + day, SPAM, "ylmf-pc", "non_fqdn",
                     sender="x@spam.example")
    return lines


def settings(now: datetime, resolver: Any = None, **kw: Any) -> ReportSettings:
    options = AnalyzeOptions(resolver=resolver or NoDnsResolver(),
                             server=load_identity(FIXTURES / "postfix"), year=2026)
    return ReportSettings(options, now=now, **kw)


def collect(log: Path, state: Path, now: datetime, **kw: Any) -> DailyReport:
    reports: list[DailyReport] = []
    run_report([str(log)], state, settings(now, **kw), reports.append)
    return reports[0]


# -- golden ------------------------------------------------------------------------------


def golden_run(tmp_path: Path, *args: str) -> str:
    result = report(str(FIXTURES / "mail.log"), "--state", str(tmp_path / "state.sqlite"),
                    *GOLDEN_ARGS, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.mark.parametrize("name,args", [("report.txt", []), ("report.json", ["-f", "json"])])
def test_golden(tmp_path: Path, name: str, args: list[str]) -> None:
    output = golden_run(tmp_path, *args)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(output)
    assert output == golden.read_text()


def test_text_report_fits_80_columns(tmp_path: Path) -> None:
    text = golden_run(tmp_path)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Suggested helo_access entries" in text and "Top rejected HELO names" in text


def test_json_report_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    data = json.loads(golden_run(tmp_path, "-f", "json"))
    assert list(data) == ["since", "until", "lines_read", "sessions", "rejects_by_check",
                          "senders"]
    assert datetime.fromisoformat(data["since"]) < datetime.fromisoformat(data["until"])
    assert data["lines_read"] == len((FIXTURES / "mail.log").read_text().splitlines())
    assert set(data["rejects_by_check"]) <= {"invalid", "non_fqdn", "unknown", "helo_required"}
    for row in data["senders"]:
        assert row["new"] is True and row["days_seen"] == 1
    analyze = subprocess.run(
        [str(Path(sys.executable).parent / "analyze"), str(FIXTURES / "mail.log"), "--no-dns",
         "--postfix-config", str(FIXTURES / "postfix"), "--year", "2026", "--format", "json",
         "--quiet"], capture_output=True, text=True, check=True, timeout=120)
    rows = [{k: v for k, v in r.items() if k not in ("new", "days_seen")}
            for r in data["senders"]]
    assert rows == json.loads(analyze.stdout)


# -- the command -------------------------------------------------------------------------


def test_quiet_when_nothing_new_and_always_prints(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    first = report(str(log), "--state", str(state), *GOLDEN_ARGS)
    assert first.exit_code == 0 and "mx1.example.org" in first.stdout
    again = report(str(log), "--state", str(state), *GOLDEN_ARGS)
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""
    forced = report(str(log), "--state", str(state), *GOLDEN_ARGS, "--always")
    assert forced.exit_code == 0
    assert re.search(r"new log lines\s+0\n", forced.stdout)
    # Lines without any HELO reject are nothing to act on either.
    with open(log, "a") as f:
        f.write("\n".join(session(14, "20:00:00", 900, "mail.other.example[198.51.100.5]",
                                  "mail.other.example", None)) + "\n")
    accepted = report(str(log), "--state", str(state), *GOLDEN_ARGS, "-f", "json")
    assert accepted.exit_code == 0 and accepted.stdout == ""
    forced_json = json.loads(report(str(log), "--state", str(state), *GOLDEN_ARGS, "-f", "json",
                                    "--always").stdout)
    assert forced_json["lines_read"] == 0


def test_growing_log_reports_each_line_once(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite")
    log = tmp_path / "mail.log"
    lines = (FIXTURES / "mail.log").read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:600]))
    one = json.loads(report(str(log), "--state", state, *GOLDEN_ARGS, "-f", "json").stdout)
    with open(log, "a") as f:
        f.write("".join(lines[600:]))
    two = json.loads(report(str(log), "--state", state, *GOLDEN_ARGS, "-f", "json").stdout)
    assert one["lines_read"] + two["lines_read"] == len(lines)
    whole = json.loads(golden_run(tmp_path / "whole", "-f", "json"))
    assert one["sessions"] + two["sessions"] == whole["sessions"]
    for check, count in whole["rejects_by_check"].items():
        assert one["rejects_by_check"].get(check, 0) + two["rejects_by_check"].get(check, 0) \
            == count
    rejected_before = {(r["client_ip"], r["helo"]) for r in one["senders"]}
    assert any(not r["new"] for r in two["senders"])
    for row in two["senders"]:
        if (row["client_ip"], row["helo"]) in rejected_before:
            assert not row["new"]


def test_a_log_named_twice_is_read_once(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    data = json.loads(report(str(log), str(tmp_path / "." / "mail.log"), "--state",
                             str(tmp_path / "state.sqlite"), *GOLDEN_ARGS, "-f", "json").stdout)
    assert data["lines_read"] == 12 and data["sessions"] == 4


def test_second_report_waits_for_the_lock(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with StateLock(state):
        result = report(str(FIXTURES / "mail.log"), "--state", str(state), *GOLDEN_ARGS)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error: another loganalyze report" in lines[0]


@pytest.mark.parametrize("args,message", [
    (["--since", "last tuesday"], "cannot understand the time"),
    (["--since", "today", "--until", "yesterday"], "is not before --until"),
    (["--now", "soon"], "not an ISO date-time"),
    (["--format", "pdf"], "pdf"),
])
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = report(str(FIXTURES / "mail.log"), "--state", str(tmp_path / "s.sqlite"),
                    "--no-dns", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_missing_log_exits_2_and_leaves_no_run(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    result = report(str(tmp_path / "nope.log"), "--state", str(state), "--no-dns")
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert not any("INSERT INTO \"runs\"" in line for line in dump(state))


def test_since_until_window(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown") + day_lines(15, "unknown")) + "\n")
    state = str(tmp_path / "state.sqlite")
    data = json.loads(report(str(log), "--state", state, *GOLDEN_ARGS, "-f", "json",
                             "--since", "2026-08-14", "--until", "2026-08-15").stdout)
    assert data["since"] == "2026-08-14T00:00:00" and data["until"] == "2026-08-15T00:00:00"
    assert data["sessions"] == 4 and data["lines_read"] == 12
    rest = json.loads(report(str(log), "--state", state, *GOLDEN_ARGS, "-f", "json").stdout)
    assert rest["sessions"] == 4 and rest["lines_read"] == 12


@pytest.mark.parametrize("text,expected", [
    ("today", datetime(2026, 8, 17)),
    ("yesterday", datetime(2026, 8, 16)),
    ("Yesterday ", datetime(2026, 8, 16)),
    ("7d", datetime(2026, 8, 10, 6, 15)),
    ("12h", datetime(2026, 8, 16, 18, 15)),
    ("now", datetime(2026, 8, 17, 6, 15)),
    ("2026-08-01", datetime(2026, 8, 1)),
    ("2026-08-01T05:30", datetime(2026, 8, 1, 5, 30)),
    ("2026-08-01 05:30:10", datetime(2026, 8, 1, 5, 30, 10)),
])
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, datetime(2026, 8, 17, 6, 15)) == expected


@pytest.mark.parametrize("text", ["", "last week", "7", "d7", "2026-13-01", "tomorrow-ish"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_when(text, datetime(2026, 8, 17))


def test_parse_when_converts_offsets_to_local_time() -> None:
    value = parse_when("2026-08-01T05:30:00+00:00", datetime(2026, 8, 17))
    assert value.tzinfo is None


# -- interrupted runs --------------------------------------------------------------------


def test_failure_before_commit_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    state = tmp_path / "state.sqlite"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    collect(log, state, datetime(2026, 8, 15, 6))
    with open(log, "a") as f:
        f.write("\n".join(day_lines(15, "unknown")) + "\n")
    before = dump(state)

    def broken(report: DailyReport) -> None:
        raise BrokenPipeError("the mailer went away")

    with pytest.raises(BrokenPipeError):
        run_report([str(log)], state, settings(datetime(2026, 8, 16, 6)), broken)
    assert dump(state) == before
    after = collect(log, state, datetime(2026, 8, 16, 6))
    assert after.lines_read == 12 and after.sessions == 4


KILLED_RUN = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from loganalyze.pipeline import AnalyzeOptions
    from loganalyze.daily.run import ReportSettings, run_report
    from loganalyze.judge.dns import NoDnsResolver

    def before_commit():
        Path(sys.argv[3]).write_text("ready")
        time.sleep(60)

    run_report([sys.argv[1]], Path(sys.argv[2]),
               ReportSettings(AnalyzeOptions(resolver=NoDnsResolver(), year=2026)),
               lambda report: print(report.lines_read, flush=True),
               before_commit=before_commit)
""")


def test_killed_run_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    state = tmp_path / "state.sqlite"
    lines = (FIXTURES / "mail.log").read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:500]))
    collect(log, state, datetime(2026, 8, 17, 6))
    with open(log, "a") as f:
        f.write("".join(lines[500:]))
    before = dump(state)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(log), str(state), str(ready)],
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert proc.stdout is not None
        assert int(proc.stdout.readline()) == len(lines) - 500  # the report was produced
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert dump(state) == before  # SQLite rolled the hot journal back
    after = collect(log, state, datetime(2026, 8, 17, 7))
    assert after.lines_read == len(lines) - 500


# -- history -----------------------------------------------------------------------------


def test_history_new_still_rejected_and_now_passes(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    state = tmp_path / "state.sqlite"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    first = collect(log, state, datetime(2026, 8, 15, 6, 15))
    assert first.first_report
    good = next(r for r in first.senders if r.finding.helo == "mx1.example.org")
    assert good.new and good.finding.suggested and good.days_seen == 1
    assert "first report on this state" in render_text(first)

    with open(log, "a") as f:
        f.write("\n".join(day_lines(15, "unknown")) + "\n")
    second = collect(log, state, datetime(2026, 8, 16, 6, 15))
    good = next(r for r in second.senders if r.finding.helo == "mx1.example.org")
    assert not good.new and good.days_seen == 2 and good.rejected_days == 2
    assert good.first_suggested == datetime(2026, 8, 15, 6, 15)
    text = " ".join(render_text(second).split())
    assert "still rejected for 2 days (since 2026-08-14): mx1.example.org from" in text
    assert "still rejected for 2 days; seen on 2 days; suggested since 2026-08-15" in text
    assert "new since the last report: 0 of 2" in text
    assert "ylmf-pc from" not in text  # spam that keeps being rejected is no news

    with open(log, "a") as f:
        f.write("\n".join(day_lines(16, None)) + "\n")
    fixed = StaticResolver({"mx1.example.org": DnsStatus.FOUND})
    third = collect(log, state, datetime(2026, 8, 17, 6, 15), resolver=fixed)
    assert [(p.client_ip, p.helo) for p in third.now_passing] == [
        ("192.0.2.10", "mx1.example.org")]
    text = render_text(third)
    assert ("now passes: mx1.example.org from mx.example.org[192.0.2.10]: 3 message(s) "
            "accepted; its HELO passes the checks now: the sender fixed its DNS") in \
        " ".join(text.split())
    assert third.has_news

    traced = trace_entry(state, "MX1.example.org")
    assert len(traced) == 2 and traced[0].startswith("2026-08-15 06:15 mx.example.org[192.0.2.10]")


def test_now_passes_without_dns_says_less(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    state = tmp_path / "state.sqlite"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    collect(log, state, datetime(2026, 8, 15, 6, 15))
    with open(log, "a") as f:
        f.write("\n".join(session(15, "09:00:00", 700, GOOD, "", None)) + "\n")
    report_ = collect(log, state, datetime(2026, 8, 16, 6, 15))
    assert [p.why for p in report_.now_passing] == [
        "1 message(s) accepted; no HELO reject since 2026-08-14: the sender fixed its DNS, "
        "or an access entry lets it in"]


def test_hostile_strings_are_escaped_and_fit(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    evil = "\x1b[2J\u202eevil." + "x" * 150 + ".example"
    lines = session(14, "09:00:00", 100, "mx.example.org[192.0.2.10]", evil, "unknown",
                    sender="a\x1b]0;pwned\x07@example.org")
    log.write_text("\n".join(lines) + "\n")
    report_ = collect(log, tmp_path / "state.sqlite", datetime(2026, 8, 15))
    # Text and HTML are for people; JSON keeps the logged strings exact (JSON-escaped
    # control characters), as analyze --format json does.
    for output_format in (ReportFormat.TEXT, ReportFormat.HTML):
        text = render(report_, output_format)
        assert "\x1b" not in text and "\u202e" not in text
    assert "\x1b" not in render(report_, ReportFormat.JSON)
    text = render_text(report_)
    assert "\\x1b[2J\\u202eevil" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "<script" not in render_html(report_)


# -- formats -----------------------------------------------------------------------------


def test_html_has_an_embedded_chart(tmp_path: Path) -> None:
    html = golden_run(tmp_path, "-f", "html")
    assert html.startswith("<!DOCTYPE html>")
    assert re.search(r'<img alt="HELO rejects per hour by check" src="data:image/png;base64,'
                     r"[A-Za-z0-9+/=]{200,}\">", html)
    assert "va-massmail-02.rakutenmarketing.com OK" in html


def test_html_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    html = golden_run(tmp_path, "-f", "html")
    assert "<img" not in html and "HELO rejects per hour</h3>" in html


def test_json_rows_are_analyze_rows_plus_history(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    report_ = collect(log, tmp_path / "state.sqlite", datetime(2026, 8, 15))
    record = report_record(report_)
    for row, sender in zip(record["senders"], report_.senders, strict=True):
        assert row == {**finding_record(sender.finding), "new": True, "days_seen": 1}
    assert record["rejects_by_check"] == {"non_fqdn": 1, "unknown": 3}


def test_journal_when_there_is_no_mail_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) \
        -> None:
    from test_incremental import FAKE_JOURNALCTL, journal_entries

    script = tmp_path / "journalctl.py"
    script.write_text(FAKE_JOURNALCTL)
    store = tmp_path / "journal.jsonl"
    lines = [(line + "\n").encode() for line in day_lines(14, "unknown")]
    store.write_text("".join(json.dumps(e) + "\n" for e in journal_entries(lines)))
    monkeypatch.setenv("FAKE_JOURNAL", str(store))
    reports: list[DailyReport] = []
    command = (sys.executable, str(script))
    run_report([JOURNAL], tmp_path / "state.sqlite",
               settings(datetime(2026, 8, 15), journal_command=command), reports.append)
    run_report([JOURNAL], tmp_path / "state.sqlite",
               settings(datetime(2026, 8, 15), journal_command=command), reports.append)
    assert [r.lines_read for r in reports] == [12, 0]
    assert reports[0].sessions == 4 and not reports[1].has_news


def test_report_warns_when_the_dns_deadline_cut_answers(tmp_path: Path) -> None:
    # The warning analyze prints: a report with missing DNS answers must not read as complete.
    with SilentDnsServer() as server:
        result = report(str(FIXTURES / "mail.log"), "--state", str(tmp_path / "state.sqlite"),
                        "--postfix-config", str(FIXTURES / "postfix"), "--year", "2026",
                        "--now", NOW, "--nameserver", server.address, "--no-dns-cache",
                        "--dns-deadline", "1")
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.stdout)  # the report wraps at 80 columns
    assert "warning: DNS deadline (1 s) reached: 36 of 36 HELO names unanswered" in text, text
    assert "legitimate senders are not suggested for that; run again with a longer " \
        "--dns-deadline" in text
    assert "why not the DNS deadline ran out before its HELO lookup" in text
