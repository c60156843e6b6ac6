"""Output details a new admin trips over (issue 21, item 5): the CSV formula guard is
documented, times have whole seconds everywhere, ``--tz`` moves every stamp, the
helo_access wording names the entry, and a table not yet postmapped is pointed out."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent

# A real smtpd session of the bundled day (fixtures/mail.log), with the HELO and the
# stamps to fill in.
CONNECT = ("{stamp} mail postfix/smtpd[{pid}]: connect from "
           "mail.lindqvist-consulting.se[198.51.100.140]")
REJECT = ("{stamp} mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from "
          "mail.lindqvist-consulting.se[198.51.100.140]: {reply}; "
          "from=<anna@lindqvist-consulting.se> to=<bob@example.com> proto=ESMTP helo=<{helo}>")
DISCONNECT = ("{stamp} mail postfix/smtpd[{pid}]: disconnect from "
              "mail.lindqvist-consulting.se[198.51.100.140] ehlo=1 mail=1 rcpt=0/1 quit=1 "
              "commands=3/4")
UNKNOWN = "450 4.7.1 <{helo}>: Helo command rejected: Host not found"
INVALID = "501 5.5.2 <{helo}>: Helo command rejected: Invalid name"


def session(helo: str, pid: int, stamps: tuple[str, str, str], reply: str = UNKNOWN) -> str:
    fill = {"pid": pid, "helo": helo, "reply": reply.format(helo=helo)}
    return "\n".join(line.format(stamp=stamp, **fill) for line, stamp in
                     zip((CONNECT, REJECT, DISCONNECT), stamps, strict=True)) + "\n"


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "analyze"), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, **(env or {})})


# -- (a) the CSV guard, said where an admin reads -----------------------------------------


def test_csv_formula_guard_is_applied_and_documented(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(session("-lead.example.test", 1, ("Aug 16 09:47:13",) * 3, INVALID)
                   + session("=cmd.example.test", 2, ("Aug 16 09:48:13",) * 3, INVALID))
    result = analyze(str(log), "--no-dns", "--year", "2026", "-f", "csv", "-q")
    assert result.returncode == 0, result.stderr
    helos = {row["helo"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert helos == {"'-lead.example.test", "'=cmd.example.test"}
    # ... and said, in the help of --format and in the README.
    help_text = " ".join(analyze("--help").stdout.split())
    assert "csv: leading = + - @ get '" in help_text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`csv` puts a `'` before a cell that starts with `-`, `=`, `+` or `@`" in readme


# -- (b) whole seconds, whatever the stamps carry ------------------------------------------


def test_first_and_last_seen_have_whole_seconds_in_every_output(tmp_path: Path) -> None:
    # journalctl -o short-precise: microseconds on some lines, none on others.
    log = tmp_path / "mail.log"
    log.write_text(session("mail.lindqvist-consulting.se.", 1,
                           ("Aug 16 09:47:13.000000", "Aug 16 09:47:13.512345",
                            "Aug 16 09:47:14.250000")))
    rows = json.loads(analyze(str(log), "--no-dns", "--year", "2026", "-f", "json").stdout)
    assert [(r["first_seen"], r["last_seen"]) for r in rows] == [
        ("2026-08-16T09:47:13", "2026-08-16T09:47:14")]
    (row,) = csv.DictReader(io.StringIO(
        analyze(str(log), "--no-dns", "--year", "2026", "-f", "csv").stdout))
    assert (row["first_seen"], row["last_seen"]) == ("2026-08-16T09:47:13", "2026-08-16T09:47:14")
    report = subprocess.run(
        [str(BIN / "loganalyze"), "report", str(log), "--state", str(tmp_path / "s.sqlite"),
         "--no-dns", "--year", "2026", "--now", "2026-08-17T06:00", "-f", "json"],
        capture_output=True, text=True, check=False)
    record = json.loads(report.stdout)
    assert (record["since"], record["until"]) == ("2026-08-16T09:47:13", "2026-08-16T09:47:14")
    (sender,) = record["senders"]
    assert (sender["first_seen"], sender["last_seen"]) == (
        "2026-08-16T09:47:13", "2026-08-16T09:47:14")


# -- (c) --tz moves the journal's short stamps as it moves its epoch stamps --------------


def _journal_entry(message: str, when: datetime, number: int) -> str:
    micros = str(int(when.timestamp()) * 1_000_000)
    return json.dumps({
        "MESSAGE": message, "SYSLOG_IDENTIFIER": "postfix/smtpd", "SYSLOG_PID": "7",
        "_PID": "7", "_HOSTNAME": "mail", "SYSLOG_FACILITY": "2", "_TRANSPORT": "syslog",
        "__REALTIME_TIMESTAMP": micros, "_SOURCE_REALTIME_TIMESTAMP": micros,
        "__CURSOR": f"s=0;i={number}",
    })


def test_tz_applies_to_short_stamps_so_a_session_keeps_one_clock(tmp_path: Path) -> None:
    # The machine runs in Berlin (UTC+1 in November); --tz UTC. The session's connect
    # comes from `journalctl -o json`, the rest from `journalctl -o short` (Berlin's
    # wall clock) one second later.
    connect_at = datetime(2026, 11, 24, 22, 0, 0, tzinfo=timezone.utc)
    head = tmp_path / "journal.json"
    head.write_text(_journal_entry(
        "connect from mail.lindqvist-consulting.se[198.51.100.140]", connect_at, 1) + "\n")
    tail = tmp_path / "journal.short"
    tail.write_text("\n".join(session("mail.lindqvist-consulting.se.", 7,
                                      ("", "Nov 24 23:00:01", "Nov 24 23:00:01"))
                              .splitlines()[1:]) + "\n")
    os.utime(tail, (0, datetime(2026, 11, 25).timestamp()))
    berlin = {"TZ": "Europe/Berlin"}
    result = analyze(str(head), str(tail), "--no-dns", "--tz", "UTC", "-f", "json", env=berlin)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["first_seen"], row["last_seen"], row["sessions"]) == (
        "2026-11-24T22:00:00", "2026-11-24T22:00:01", 1)
    # Without --tz both are Berlin's wall clock.
    (row,) = json.loads(analyze(str(head), str(tail), "--no-dns", "-f", "json", env=berlin).stdout)
    assert (row["first_seen"], row["last_seen"]) == ("2026-11-24T23:00:00", "2026-11-24T23:00:01")
