"""The year of traditional syslog stamps: dated back from the file's modification time
(standard input: now), whole stamps compared; the same rule for analyze and the report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from loganalyze.cli.report import report_command
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.parse.header import latest_year
from loganalyze.pipeline import AnalyzeOptions, analyze_logs

BIN = Path(sys.executable).parent

# One rejected session each side of midnight, Dec 31 -> Jan 1 (a real fixture session,
# re-stamped).
SESSION = (
    "{day} {hms} mail postfix/smtpd[{pid}]: connect from "
    "mail.lindqvist-consulting.se[198.51.100.140]\n"
    "{day} {hms} mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from "
    "mail.lindqvist-consulting.se[198.51.100.140]: 450 4.7.1 <mail.lindqvist-consulting.se.>: "
    "Helo command rejected: Host not found; from=<anna@lindqvist-consulting.se> "
    "to=<bob@example.com> proto=ESMTP helo=<mail.lindqvist-consulting.se.>\n"
    "{day} {hms} mail postfix/smtpd[{pid}]: disconnect from "
    "mail.lindqvist-consulting.se[198.51.100.140] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4\n"
)
NEW_YEAR = (SESSION.format(day="Dec 31", hms="23:50:00", pid=1)
            + SESSION.format(day="Jan  1", hms="00:10:00", pid=2))
SPAN = ("2025-12-31T23:50:00", "2026-01-01T00:10:00")


@pytest.mark.parametrize("stamp,reference,year", [
    ((12, 31, "23:59:59"), datetime(2026, 1, 2), 2025),
    ((1, 1, "00:00:00"), datetime(2026, 1, 2), 2026),
    ((1, 2, "00:00:00"), datetime(2026, 1, 2), 2026),  # the very second: not later
    ((1, 2, "00:00:01"), datetime(2026, 1, 2), 2025),  # one second later: last year
    ((12, 2, "10:00:00"), datetime(2026, 12, 2, 9), 2025),  # same month, later day
    ((2, 29, "12:00:00"), datetime(2026, 3, 1), 2024),  # back to a leap year
])
def test_latest_year_compares_whole_stamps(stamp: tuple[int, int, str], reference: datetime,
                                           year: int) -> None:
    assert latest_year(*stamp, reference) == year


def _span(rows: list[dict[str, object]]) -> tuple[object, object]:
    (row,) = rows
    return row["first_seen"], row["last_seen"]


def test_a_file_is_dated_back_from_its_modification_time(tmp_path: Path) -> None:
    # Read today (whatever the clock says), the file was last written on 2026-01-02:
    # its lines cannot be later than that.
    log = tmp_path / "mail.log"
    log.write_text(NEW_YEAR)
    os.utime(log, (0, datetime(2026, 1, 2, 6, 25).timestamp()))
    result = subprocess.run([str(BIN / "analyze"), str(log), "--no-dns", "-f", "json", "-q"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert _span(json.loads(result.stdout)) == SPAN
    # --year stays the override.
    result = subprocess.run([str(BIN / "analyze"), str(log), "--no-dns", "-f", "json", "-q",
                             "--year", "2019"], capture_output=True, text=True, check=False)
    assert _span(json.loads(result.stdout)) == ("2019-12-31T23:50:00", "2020-01-01T00:10:00")


@pytest.mark.parametrize("now", [datetime(2026, 1, 1, 0, 30), datetime(2026, 12, 2, 9)])
def test_standard_input_is_dated_back_from_now(monkeypatch: pytest.MonkeyPatch,
                                               now: datetime) -> None:
    # On 2026-12-02 the month alone said 2026-12-31 .. 2027-01-01, a month ahead.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(NEW_YEAR.encode())))
    analysis = analyze_logs(["-"], AnalyzeOptions(resolver=NoDnsResolver(), now=now))
    (finding,) = analysis.findings
    assert (finding.first_seen.isoformat(), finding.last_seen.isoformat()) == SPAN


def test_the_report_follows_the_same_rule(tmp_path: Path) -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("report")(report_command)
    app.callback()(lambda: None)
    log = tmp_path / "mail.log"
    log.write_text(NEW_YEAR)
    os.utime(log, (0, datetime(2026, 1, 2, 6, 25).timestamp()))
    # The clock (--now) is long after the file was written; the file's time decides.
    result = CliRunner().invoke(app, ["report", str(log), "--state", str(tmp_path / "s.sqlite"),
                                      "--no-dns", "--now", "2026-12-02T09:00", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["senders"]
    assert _span(rows) == SPAN


def test_the_dataframe_api_follows_the_same_rule(tmp_path: Path) -> None:
    from loganalyze.frames.logs import read_events, sessions_frame

    log = tmp_path / "mail.log"
    log.write_text(NEW_YEAR)
    os.utime(log, (0, datetime(2026, 1, 2, 6, 25).timestamp()))
    events = read_events(str(log))
    assert (str(events["time"].min()), str(events["time"].max())) == (
        "2025-12-31 23:50:00", "2026-01-01 00:10:00")
    assert str(sessions_frame(str(log))["start"].min()) == "2025-12-31 23:50:00"
