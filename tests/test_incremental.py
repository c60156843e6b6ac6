"""Incremental reading: every line counted once, every session reported once, across rotation.

The oracle is one uninterrupted pass over the whole log: any sequence of runs,
appends and rotations must report exactly the sessions that pass reports
(sessions still open at the very end are held by both) and count each line
exactly once.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loganalyze.daily.resume import read_sessions
from loganalyze.errors import InputError
from loganalyze.input.cursors import (
    JOURNAL,
    FileLog,
    default_logs,
    generations,
    open_source,
    source_key,
)
from loganalyze.input.journal import JournalLog
from loganalyze.input.positions import Cursor, FilePosition, JournalPosition
from loganalyze.model import Kind
from loganalyze.parse import Tokenizer
from loganalyze.sessions import SessionBuilder, SmtpSession

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from logrotate import shift_numbered
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.logrotate import shift_numbered

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mail.log"
NOW = datetime(2026, 8, 17, 6, 15)


def ident(s: SmtpSession) -> tuple[Any, ...]:
    """Everything that would change a verdict if a session were cut or merged wrongly."""
    return (s.host, s.service, s.pid, s.start, s.end, s.client_ip, s.client_name, s.helo,
            tuple((r.time, r.reason) for r in s.rejects), tuple(s.senders), tuple(s.recipients),
            s.queued, s.saw_connect, s.saw_disconnect, s.hostname_warning, s.ended_by,
            tuple(s.spf), None if s.counters is None else tuple(sorted(s.counters.items())))


def one_pass(lines: Sequence[bytes]) -> list[tuple[Any, ...]]:
    """Sessions of one pass over all lines, leaving the open ones open (as a run does)."""
    tokenizer = Tokenizer(year=2026, now=NOW)
    builder = SessionBuilder()
    out = []
    for number, line in enumerate(lines, 1):
        record = tokenizer.parse(line.decode("utf-8", "replace").rstrip("\r\n"), number)
        if record is not None:
            out.extend(ident(s) for s in builder.feed(record))
    return sorted(out, key=repr)


@pytest.fixture(scope="module")
def fixture_lines() -> list[bytes]:
    return FIXTURE.read_bytes().splitlines(keepends=True)


class Runs:
    """Cron-like runs over a log directory; the cursor goes through its stored form each time."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.log = directory / "mail.log"
        self.record: dict[str, Any] | None = None
        self.sessions: list[tuple[Any, ...]] = []
        self.lines_read = 0
        self.warnings: list[str] = []
        self.runs = 0

    def run(self, until: datetime | None = None) -> None:
        cursor = Cursor.from_record(self.record) if self.record is not None else None
        source = FileLog(self.log, cursor)
        new, stats = read_sessions(source, Tokenizer(year=2026, now=NOW),
                                   lambda s: self.sessions.append(ident(s)), until=until)
        record = json.loads(json.dumps(new.to_record()))
        record["updated"] = datetime(2000, 1, 1).isoformat()
        self.record = record
        self.lines_read += stats.lines_read
        self.warnings += stats.warnings
        self.runs += 1

    # -- what syslog and logrotate do ---------------------------------------------

    def append(self, lines: Sequence[bytes], path: Path | None = None) -> None:
        with open(path or self.log, "ab") as f:
            f.write(b"".join(lines))

    def _shift(self) -> None:
        shift_numbered(self.log)

    def rotate_rename(self, late: Sequence[bytes] = ()) -> None:
        """``create`` rotation; ``late`` lines reach the old file before syslog reopens."""
        self._shift()
        self.log.rename(self.dir / "mail.log.1")
        self.append(late, self.dir / "mail.log.1")
        self.log.touch()

    def rotate_copytruncate(self) -> None:
        self._shift()
        shutil.copyfile(self.log, self.dir / "mail.log.1")
        with open(self.log, "r+b") as f:
            f.truncate(0)


def check(runs: Runs, lines: Sequence[bytes]) -> None:
    assert runs.lines_read == len(lines), "a line was counted twice or lost"
    got = sorted(runs.sessions, key=repr)
    expected = one_pass(lines)
    assert len(got) == len(set(got)), "a session was reported twice"
    assert got == expected


def test_two_runs_over_a_growing_log_split_anywhere(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    lines = fixture_lines
    # Every 17th line plus the places where a hostname warning precedes its connect.
    splits = set(range(0, len(lines) + 1, 17))
    splits |= {i + 1 for i, line in enumerate(lines) if b"does not resolve" in line}
    for split in sorted(splits):
        directory = tmp_path / f"s{split}"
        directory.mkdir()
        runs = Runs(directory)
        runs.append(lines[:split])
        runs.run()
        runs.append(lines[split:])
        runs.run()
        check(runs, lines)


def test_many_small_runs(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    for start in range(0, len(fixture_lines), 7):
        runs.append(fixture_lines[start:start + 7])
        runs.run()
    runs.run()
    check(runs, fixture_lines)


def test_nothing_new_changes_nothing(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    runs.append(fixture_lines[:500])
    runs.run()
    before = (list(runs.sessions), runs.record)
    runs.run()
    runs.run()
    assert runs.sessions == before[0]
    assert runs.record is not None and before[1] is not None
    assert runs.record["offset"] == before[1]["offset"]
    assert runs.record["held"] == before[1]["held"]


@pytest.mark.parametrize("late", [0, 5])
def test_rename_rotation_between_runs(
    tmp_path: Path, fixture_lines: list[bytes], late: int
) -> None:
    lines = fixture_lines
    runs = Runs(tmp_path)
    runs.append(lines[:400])
    runs.run()
    runs.append(lines[400:450])
    runs.rotate_rename(late=lines[450:450 + late])
    runs.append(lines[450 + late:])
    runs.run()
    check(runs, lines)
    assert not runs.warnings


def test_two_rotations_between_runs_with_compression(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    lines = fixture_lines
    runs = Runs(tmp_path)
    runs.append(lines[:300])
    runs.run()
    runs.append(lines[300:333])
    runs.rotate_rename()
    runs.append(lines[333:600])
    runs.rotate_rename()  # the file read last is now mail.log.2.gz
    runs.append(lines[600:])
    assert (tmp_path / "mail.log.2.gz").exists()
    runs.run()
    check(runs, lines)


def test_copytruncate_between_runs(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    lines = fixture_lines
    runs = Runs(tmp_path)
    runs.append(lines[:500])
    runs.run()
    inode = runs.log.stat().st_ino
    runs.append(lines[500:520])
    runs.rotate_copytruncate()
    runs.append(lines[520:])
    assert runs.log.stat().st_ino == inode  # same file, new content
    runs.run()
    check(runs, lines)


def test_copytruncate_regrown_beyond_the_old_offset(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    lines = fixture_lines
    runs = Runs(tmp_path)
    runs.append(lines[:100])
    runs.run()
    runs.rotate_copytruncate()
    runs.append(lines[100:])  # longer than the old offset: only the fingerprint tells
    assert runs.log.stat().st_size > (runs.record or {})["offset"]
    runs.run()
    check(runs, lines)


def test_session_open_across_a_rotation(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    lines = fixture_lines
    # Stop right after a connect line: that session is held, its start is in mail.log.1.
    cut = next(i for i, line in enumerate(lines) if b"]: connect from" in line and i > 200) + 1
    runs = Runs(tmp_path)
    runs.append(lines[:cut])
    runs.run()
    assert runs.record is not None and runs.record["held"]
    runs.rotate_rename()
    runs.run()  # the new file is empty: the session stays held
    runs.append(lines[cut:])
    runs.run()
    check(runs, lines)


@pytest.mark.parametrize("seed", range(8))
def test_cron_like_sequence(tmp_path: Path, fixture_lines: list[bytes], seed: int) -> None:
    """Random appends, runs and rotations of every kind: the sum is one pass."""
    rng = random.Random(seed)
    lines = fixture_lines
    runs = Runs(tmp_path)
    # The first run sees a non-empty log (an empty one has no fingerprint: see
    # test_first_run_on_an_empty_log for what then works).
    runs.append(lines[:1])
    runs.run()
    position = 1
    while position < len(lines):
        step = rng.randint(1, 120)
        runs.append(lines[position:position + step])
        position += step
        event = rng.random()
        if event < 0.15:
            late = rng.randint(0, 3)
            runs.rotate_rename(late=lines[position:position + late])
            position += late
        elif event < 0.25:
            runs.rotate_copytruncate()
        if rng.random() < 0.5:
            runs.run()
    runs.run()
    check(runs, lines)


def test_first_run_on_an_empty_log(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    runs.log.touch()
    runs.run()
    runs.append(fixture_lines[:300])
    runs.rotate_rename()  # same inode as the empty file read: found
    runs.append(fixture_lines[300:])
    runs.run()
    check(runs, fixture_lines)


def test_empty_live_log_after_rotation_keeps_the_old_file(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    """The cursor stays in the last file with content, which late lines may still reach."""
    runs = Runs(tmp_path)
    runs.append(fixture_lines[:300])
    runs.run()
    runs.append(fixture_lines[300:400])
    runs.rotate_copytruncate()
    runs.run()  # reads the rest of mail.log.1; mail.log is empty
    assert runs.record is not None and runs.record["inode"] != runs.log.stat().st_ino
    runs.append(fixture_lines[400:500])
    runs.rotate_copytruncate()  # mail.log.1 -> .2.gz: found by its first bytes
    runs.append(fixture_lines[500:])
    runs.run()
    check(runs, fixture_lines)


def test_until_leaves_the_rest_for_the_next_run(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    runs = Runs(tmp_path)
    runs.append(fixture_lines)
    runs.run(until=datetime(2026, 8, 16, 12, 0))
    first = runs.lines_read
    assert 0 < first < len(fixture_lines)
    assert all(s[3] < datetime(2026, 8, 16, 12, 0) for s in runs.sessions)
    runs.run()
    check(runs, fixture_lines)


def test_partial_last_line_waits(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    runs.append(fixture_lines[:10])
    runs.append([fixture_lines[10][:20]])  # syslog is in the middle of writing a line
    runs.run()
    assert runs.lines_read == 10
    runs.append([fixture_lines[10][20:], *fixture_lines[11:]])
    runs.run()
    check(runs, fixture_lines)


def test_lost_file_is_reported(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    runs.append(fixture_lines[:100])
    runs.run()
    runs.append(fixture_lines[100:150])
    runs.rotate_rename()
    (tmp_path / "mail.log.1").unlink()  # rotate 0: the old file is gone before we read it
    runs.append(fixture_lines[150:])
    runs.run()
    assert runs.warnings and "gone" in runs.warnings[0]
    assert runs.lines_read == len(fixture_lines) - 50


def test_first_run_reads_only_the_live_log_unless_since(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    (tmp_path / "mail.log.1").write_bytes(b"".join(fixture_lines[:100]))
    (tmp_path / "mail.log").write_bytes(b"".join(fixture_lines[100:]))
    plain = FileLog(tmp_path / "mail.log")
    assert [s.index for s in plain.plan()] == [0]
    wider = FileLog(tmp_path / "mail.log", since=datetime(2000, 1, 1))
    assert [s.index for s in wider.plan()] == [1, 0]


def test_generations_order(tmp_path: Path) -> None:
    for name in ["mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.gz", "mail.log.bak",
                 "mail.log-20261123.gz", "mail.log-20261124", "mail.logger"]:
        (tmp_path / name).write_bytes(b"")
    names = [g.path.name for g in generations(tmp_path / "mail.log")]
    assert names == ["mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.gz",
                     "mail.log-20261124", "mail.log-20261123.gz"]


def test_dateext_rotation(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    runs = Runs(tmp_path)
    runs.append(fixture_lines[:600])
    runs.run()
    runs.append(fixture_lines[600:650])
    runs.log.rename(tmp_path / "mail.log-20260817")
    runs.append(fixture_lines[650:])
    runs.run()
    check(runs, fixture_lines)


def test_cursor_round_trip() -> None:
    cursor = Cursor("/var/log/mail.log", "file", FilePosition("ab", 10, 99, 1, 2),
                    (FilePosition("cd", 4096, 5, 1, 3),), 1234, datetime(2026, 1, 2, 3, 4))
    record = cursor.to_record()
    record["updated"] = cursor.updated.isoformat() if cursor.updated else None
    assert Cursor.from_record(json.loads(json.dumps(record))) == cursor
    journal = Cursor("journal", "journal", JournalPosition("s=1;i=2", 77),
                     (JournalPosition("s=1;i=1", 70),))
    assert Cursor.from_record(json.loads(json.dumps(journal.to_record()))) == journal


def test_sessions_know_the_line_they_began_with(fixture_lines: list[bytes]) -> None:
    """The replay resumes at a session's first line: its connect, or the hostname
    warning smtpd logged just before it (the builder attaches that warning)."""
    tokenizer = Tokenizer(year=2026, now=NOW)
    sessions: list[SmtpSession] = []
    builder = SessionBuilder(sessions.append, lines=tokenizer)
    texts = [line.decode().rstrip("\n") for line in fixture_lines]
    for number, text in enumerate(texts, 1):
        record = tokenizer.parse(text, number)
        if record is not None:
            builder.apply(record)
    list(builder.close())
    assert len(sessions) > 100
    warned = 0
    for session in sessions:
        first = tokenizer.parse(texts[session.first_line - 1], session.first_line)
        assert first is not None and (first.host, first.pid) == (session.host, session.pid)
        if session.hostname_warning:
            warned += 1
            assert first.kind is Kind.HOSTNAME_MISMATCH
        elif session.saw_connect:
            assert first.kind is Kind.CONNECT and first.time == session.start
    assert warned


def test_default_logs(tmp_path: Path) -> None:
    assert default_logs(tmp_path) == [JOURNAL]
    (tmp_path / "maillog").write_text("")
    assert default_logs(tmp_path) == [str(tmp_path / "maillog")]
    (tmp_path / "mail.log").write_text("")
    assert default_logs(tmp_path) == [str(tmp_path / "mail.log")]
    assert source_key(JOURNAL) == "journal"
    assert isinstance(open_source(JOURNAL, None), JournalLog)
    with pytest.raises(InputError):
        open_source("-", None)


def test_missing_log_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        FileLog(tmp_path / "mail.log").plan()


# -- the journal -------------------------------------------------------------------------

FAKE_JOURNALCTL = textwrap.dedent("""\
    import json, os, sys
    entries = [json.loads(l) for l in open(os.environ["FAKE_JOURNAL"], encoding="utf-8")]
    with open(os.environ["FAKE_JOURNAL"] + ".args", "a", encoding="utf-8") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
    start = 0
    for arg in sys.argv[1:]:
        if arg.startswith("--cursor="):
            start = [e["__CURSOR"] for e in entries].index(arg[9:])
        elif arg.startswith("--after-cursor="):
            start = [e["__CURSOR"] for e in entries].index(arg[15:]) + 1
        elif arg == "--fail":
            sys.stderr.write("Failed to open journal: Permission denied\\n")
            sys.exit(1)
    for entry in entries[start:]:
        print(json.dumps(entry))
""")


def journal_entries(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    """The fixture's lines as journald would store them (traditional syslog -> fields)."""
    out = []
    for number, raw in enumerate(lines):
        text = raw.decode().rstrip("\n")
        head, _, message = text.partition(": ")
        parts = head.split(" ")
        stamp = " ".join(parts[:3]).replace("  ", " ")
        when = datetime.strptime(f"2026 {stamp}", "%Y %b %d %H:%M:%S")
        tag = parts[-1]
        ident_, _, pid = tag.partition("[")
        entry: dict[str, Any] = {
            "__CURSOR": f"s=abc;i={number:x}",
            "__REALTIME_TIMESTAMP": str(int(when.timestamp() * 1_000_000) + number),
            "_HOSTNAME": parts[3], "SYSLOG_IDENTIFIER": ident_, "SYSLOG_PID": pid.rstrip("]"),
            "MESSAGE": message,
        }
        out.append(entry)
    return out


@pytest.fixture
def fake_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Path]:
    script = tmp_path / "journalctl.py"
    script.write_text(FAKE_JOURNALCTL)
    store = tmp_path / "journal.jsonl"
    store.write_text("")
    monkeypatch.setenv("FAKE_JOURNAL", str(store))
    return [sys.executable, str(script)], store


def test_journal_runs_report_each_entry_once(
    fake_journal: tuple[list[str], Path], fixture_lines: list[bytes]
) -> None:
    command, store = fake_journal
    entries = journal_entries(fixture_lines)
    sessions: list[tuple[Any, ...]] = []
    cursor: Cursor | None = None
    lines_read = 0
    texts: list[bytes] = []
    for start, end in [(0, 333), (333, 334), (334, 334), (334, 800), (800, len(entries))]:
        with open(store, "a", encoding="utf-8") as f:
            for entry in entries[start:end]:
                f.write(json.dumps(entry) + "\n")
                texts.append((json.dumps(entry) + "\n").encode())
        source = JournalLog(cursor, command=command)
        cursor, stats = read_sessions(source, Tokenizer(year=2026, now=NOW),
                                      lambda s: sessions.append(ident(s)))
        cursor = Cursor.from_record(json.loads(json.dumps(cursor.to_record())))
        lines_read += stats.lines_read
    assert lines_read == len(entries)
    assert sorted(sessions, key=repr) == one_pass(texts)
    args = [json.loads(line) for line in Path(str(store) + ".args").read_text().splitlines()]
    assert "--output=json" in args[0] and "SYSLOG_FACILITY=2" in args[0]
    assert any(a.startswith("--cursor=") for call in args[1:] for a in call)


def test_journal_failure_is_an_input_error(fake_journal: tuple[list[str], Path]) -> None:
    command, _ = fake_journal
    source = JournalLog(None, command=[*command, "--fail"])
    with pytest.raises(InputError, match="journalctl failed: Failed to open journal"):
        read_sessions(source, Tokenizer(), lambda s: None)


def test_journal_missing_command() -> None:
    source = JournalLog(None, command=["/nonexistent/journalctl"])
    with pytest.raises(InputError, match="cannot run"):
        read_sessions(source, Tokenizer(), lambda s: None)


def test_journal_entries_are_read_as_analyze_reads_journal_json(
    fake_journal: tuple[list[str], Path],
) -> None:
    """The report hands each entry to the parser as journalctl wrote it: the time the
    message was sent, a MESSAGE journald kept as bytes, the identifier and PID."""
    command, store = fake_journal
    sent = datetime(2026, 11, 24, 22, 0, 29, 622313)
    entry = {"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": "1",
             "_SOURCE_REALTIME_TIMESTAMP": str(int(sent.timestamp()) * 1_000_000 + 622313),
             "_HOSTNAME": "vm", "SYSLOG_IDENTIFIER": "postfix/smtpd", "SYSLOG_PID": "12",
             "MESSAGE": list(b"connect from mail.example.org[192.0.2.1]")}
    store.write_text(json.dumps(entry) + "\n")
    [block] = list(JournalLog(None, command=command).blocks())
    assert block.new_from == 0 and list(block.keys) == ["s=1"]
    [text] = block.lines
    record = Tokenizer().parse(text)
    assert record is not None
    assert (record.time, record.host, record.service, record.pid) == (
        sent, "vm", "postfix/smtpd", 12)
    assert record.kind.value == "connect" and record.client_ip == "192.0.2.1"


def test_a_journal_it_may_not_read_is_an_error_not_silence(tmp_path: Path) -> None:
    """journalctl run by a user outside systemd-journal/adm exits 0 with nothing but
    this warning (systemd's wording): the report must say it read nothing (issue 15)."""
    script = tmp_path / "journalctl"
    script.write_text("import sys\nsys.stderr.write('No journal files were opened due to "
                      "insufficient permissions.\\n')\n")
    source = JournalLog(None, command=[sys.executable, str(script)])
    with pytest.raises(InputError, match="may not read the system journal"):
        read_sessions(source, Tokenizer(), lambda s: None)


def test_each_report_says_what_it_read(tmp_path: Path, fixture_lines: list[bytes]) -> None:
    """stderr names every file read and from where, so cron mail shows it (issue 15)."""
    from typer.testing import CliRunner

    from loganalyze.cli.app import app

    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(fixture_lines[:600]))
    args = ["report", str(log), str(tmp_path / "mail.log.1"), "--state",
            str(tmp_path / "state.sqlite"), "--no-dns", "--year", "2026"]
    first = CliRunner().invoke(app, args[:2] + args[3:])
    assert first.exit_code == 0, first.output
    assert f"read {log} (from its start)" in first.stderr
    log.rename(tmp_path / "mail.log.1")
    log.write_bytes(b"".join(fixture_lines[600:]))
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    offset = len(b"".join(fixture_lines[:600]))
    assert (f"read {tmp_path / 'mail.log.1'} (from byte {offset:,}), {log} (from its start)"
            in second.stderr)


def test_a_first_report_reads_the_last_day_of_rotated_logs(
    tmp_path: Path, fixture_lines: list[bytes]
) -> None:
    """No cursor yet: the siblings written to in the last 24 hours are read too, oldest
    first; older ones are not (``--since`` reaches further) (issue 15)."""
    import time

    from loganalyze.daily.records import DailyReport
    from loganalyze.daily.run import ReportSettings, run_report
    from loganalyze.judge.dns import NoDnsResolver
    from loganalyze.pipeline import AnalyzeOptions

    (tmp_path / "mail.log").write_bytes(b"".join(fixture_lines[800:]))
    (tmp_path / "mail.log.1").write_bytes(b"".join(fixture_lines[400:800]))
    with gzip.open(tmp_path / "mail.log.2.gz", "wb") as f:
        f.write(b"".join(fixture_lines[:400]))
    two_days_ago = time.time() - 2 * 86400
    os.utime(tmp_path / "mail.log.2.gz", (two_days_ago, two_days_ago))
    reports: list[DailyReport] = []
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026)
    run_report([str(tmp_path / "mail.log")], tmp_path / "state.sqlite",
               ReportSettings(options), reports.append)
    [report] = reports
    assert report.read == [f"{tmp_path / 'mail.log.1'} (from its start), "
                           f"{tmp_path / 'mail.log'} (from its start)"]
    assert report.lines_read == len(fixture_lines) - 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(0, 1121), min_size=1, max_size=5), empty_runs=st.booleans())
def test_journal_cursor_resumes_exactly_wherever_the_runs_fall(
    cuts: list[int], empty_runs: bool
) -> None:
    """The journal source, like the files (tests/test_rotation_property.py): runs at random
    points between appends count every entry and every session once (issue 15)."""
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    entries = journal_entries(lines)
    bounds = sorted({min(c, len(entries)) for c in cuts} | {len(entries)})
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "journalctl.py"
        script.write_text(FAKE_JOURNALCTL)
        store = Path(tmp) / "journal.jsonl"
        store.write_text("")
        old = os.environ.get("FAKE_JOURNAL")
        os.environ["FAKE_JOURNAL"] = str(store)
        sessions: list[tuple[Any, ...]] = []
        cursor: Cursor | None = None
        read = 0
        try:
            start = 0
            for end in bounds:
                with open(store, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(e) + "\n" for e in entries[start:end])
                start = end
                for _ in range(2 if empty_runs else 1):
                    source = JournalLog(cursor, command=[sys.executable, str(script)])
                    cursor, stats = read_sessions(source, Tokenizer(year=2026, now=NOW),
                                                  lambda s: sessions.append(ident(s)))
                    cursor = Cursor.from_record(json.loads(json.dumps(cursor.to_record())))
                    read += stats.lines_read
        finally:
            if old is None:
                del os.environ["FAKE_JOURNAL"]
            else:
                os.environ["FAKE_JOURNAL"] = old
    texts = [(json.dumps(e) + "\n").encode() for e in entries]
    assert read == len(entries)
    assert len(sessions) == len(set(sessions))
    assert sorted(sessions, key=repr) == one_pass(texts)
