"""The state database: migrations, the lock, transactions, history and tracing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import pytest

from loganalyze.daily import schema as schema_module
from loganalyze.daily import state as state_module
from loganalyze.daily.schema import SCHEMA_VERSION, migrate, schema_version
from loganalyze.daily.state import (
    DayCount,
    State,
    StateLock,
    default_state_path,
    lock_path,
)
from loganalyze.errors import StateError, StateLockedError
from loganalyze.judge.checks import Check
from loganalyze.judge.verdict import Evidence, Label, Verdict
from loganalyze.pipeline import Finding

T0 = datetime(2026, 8, 16, 10, 0)


def finding(helo: str = "mail.example.org", ip: str = "192.0.2.10",
            access: bool = True) -> Finding:
    verdict = Verdict(Label.LEGITIMATE, 5.0, (Evidence("SPF pass for example.org", 3.0),
                                              Evidence("reverse DNS forward-confirmed", 2.0)))
    return Finding(
        helo=helo, client_ip=ip, client_name="mx.example.org", check=Check.UNKNOWN,
        rejected=True, verdict=verdict, sessions=2, first_seen=T0, last_seen=T0, spf="pass",
        reply="450 4.7.1 <x>: Helo command rejected: Host not found", dns="skipped",
        senders=("a@example.org",), sender_domain="example.org",
        access_line=f"# evidence\n{helo.lower()} OK" if access else None,
        not_suggested_because=None,
    )


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_new_database_has_the_latest_schema(tmp_path: Path) -> None:
    with State.open(tmp_path / "s" / "state.sqlite") as state:
        assert schema_version(state.conn) == SCHEMA_VERSION
        tables = {r[0] for r in state.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "cursors", "senders", "sender_days", "verdicts", "suggestions"} <= tables
    assert (tmp_path / "s" / "state.sqlite").stat().st_mode & 0o777 == 0o640


def test_migrates_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with State.open(path, migrate_to=1) as old:
        assert schema_version(old.conn) == 1
        old.conn.execute("INSERT INTO runs (started, version) VALUES ('2026-08-15T06:15', '0')")
        old.conn.execute(
            "INSERT INTO senders (client_ip, helo, first_seen, last_seen, first_run, last_run) "
            "VALUES ('192.0.2.10', 'mail.example.org', '2026-08-15T10:00', "
            "'2026-08-15T11:00', 1, 1)")
        old.conn.execute("INSERT INTO sender_days VALUES (1, '2026-08-15', 3, 3)")
        old.conn.execute(
            "INSERT INTO cursors (source, kind, offset, fingerprint, fp_len, updated) "
            "VALUES ('/var/log/mail.log', 'file', 10, 'ab', 4, '2026-08-15T06:15')")
        columns = [r[1] for r in old.conn.execute("PRAGMA table_info(senders)")]
        assert "client_name" not in columns
    with State.open(path) as state:
        assert schema_version(state.conn) == SCHEMA_VERSION
        assert state.conn.execute("SELECT client_name FROM senders").fetchone() == ("unknown",)
        history = state.history([("192.0.2.10", "mail.example.org")])
        old_sender = history[("192.0.2.10", "mail.example.org")]
        assert old_sender.days_seen == 1
        assert old_sender.first_rejected == date(2026, 8, 15)
        assert old_sender.first_suggested is None
        cursor = state.load_cursor("/var/log/mail.log")
        assert cursor is not None and cursor["offset"] == 10 and cursor["held"] == []
        # The upgraded database takes this version's writes.
        state.begin()
        run = state.start_run(T0, "test")
        state.record_days(run, {("192.0.2.10", "mail.example.org", date(2026, 8, 16)):
                                DayCount(1, 1, "mx.example.org", T0, T0)})
        state.record_findings(run, [finding()], T0)
        state.commit()
        assert state.trace("MAIL.example.org")[0].evidence == [
            "SPF pass for example.org", "reverse DNS forward-confirmed"]


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer than this loganalyze"):
        State.open(path)


def test_a_failed_migration_step_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.sqlite"
    State.open(path).close()
    broken = (SCHEMA_VERSION + 1, ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema_module, "MIGRATIONS", (*schema_module.MIGRATIONS, broken))
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, SCHEMA_VERSION + 1)
    assert schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() \
        == []
    conn.close()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="cannot use the state database"):
        State.open(path)


def test_transaction_rolls_back_on_any_exception(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with State.open(path) as state:
        before = dump(path)
        with pytest.raises(KeyboardInterrupt), state.transaction():
            state.start_run(T0, "test")
            raise KeyboardInterrupt
        assert dump(path) == before
        with state.transaction():
            state.start_run(T0, "test")
        assert state.last_run() is not None


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateLock(path):
        with pytest.raises(StateLockedError, match="another loganalyze report"):
            StateLock(path).acquire()
    with StateLock(path):  # released
        pass
    assert lock_path(path) == tmp_path / "state.sqlite.lock"


def test_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    script = textwrap.dedent(f"""\
        import sys, time
        from pathlib import Path
        from loganalyze.daily.state import StateLock
        StateLock(Path({str(path)!r})).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(StateLockedError):
            StateLock(path).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with StateLock(path):
        pass


def test_history_accumulates_days_and_suggestions(tmp_path: Path) -> None:
    key = ("192.0.2.10", "mail.example.org")
    with State.open(tmp_path / "state.sqlite") as state:
        assert state.history([key]) == {}
        for day, rejected in [(15, 2), (16, 0), (16, 1), (18, 1)]:
            with state.transaction():
                run = state.start_run(T0, "test")
                when = datetime(2026, 8, day, 12)
                state.record_days(run, {(*key, when.date()):
                                        DayCount(2, rejected, "mx.example.org", when, when)})
                if rejected:
                    state.record_findings(run, [finding()], when)
        history = state.history([key])[key]
        assert history.first_seen == datetime(2026, 8, 15, 12)
        assert history.last_seen == datetime(2026, 8, 18, 12)
        assert history.days_seen == 3 == state.days_seen(*key)
        assert (history.first_rejected, history.last_rejected) == (date(2026, 8, 15),
                                                                   date(2026, 8, 18))
        assert history.first_suggested == datetime(2026, 8, 15, 12)
        days = state.conn.execute("SELECT day, sessions, rejected FROM sender_days "
                                  "ORDER BY day").fetchall()
        assert days == [("2026-08-15", 2, 2), ("2026-08-16", 4, 1), ("2026-08-18", 2, 1)]
        assert [h.helo for h in state.rejected_senders_of(["192.0.2.10", "192.0.2.99"])] == [
            "mail.example.org"]
        traces = state.trace("mail.example.org")
        assert [t.suggested.day for t in traces] == [15, 16, 18]
        assert traces[0].access_line == "# evidence\nmail.example.org OK"
        assert traces[0].label == "legitimate" and traces[0].check == "unknown"


def test_finding_without_sender_row_is_an_error(tmp_path: Path) -> None:
    with State.open(tmp_path / "state.sqlite") as state, pytest.raises(StateError):
        state.record_findings(1, [finding()], T0)


def test_default_state_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "lib" / "loganalyze" / "state.sqlite"
    monkeypatch.setattr(state_module, "SYSTEM_STATE", system)
    monkeypatch.setattr(state_module.platformdirs, "user_data_dir",
                        lambda name: str(tmp_path / "home" / name))
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 1000)
    assert default_state_path() == tmp_path / "home" / "loganalyze" / "state.sqlite"
    system.parent.mkdir(parents=True)
    assert default_state_path() == system  # writable by this user
    monkeypatch.setattr(state_module.os, "access", lambda path, mode: False)
    assert default_state_path() == tmp_path / "home" / "loganalyze" / "state.sqlite"
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 0)
    assert default_state_path() == system


def test_storage_loads_no_stage_of_the_pipeline() -> None:
    """The state is storage: importing it must not pull in the parser, judge or pipeline."""
    code = ("import sys, loganalyze.daily.state; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('loganalyze'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["loganalyze", "loganalyze.daily", "loganalyze.daily.schema",
                   "loganalyze.daily.state", "loganalyze.errors"]
