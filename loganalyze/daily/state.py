"""The report's memory: an SQLite database of senders, verdicts, suggestions and log cursors.

One database per mail server, written only by ``loganalyze report``. It
keeps every sender ever judged (client address + HELO) with first and last
seen and counts per day, each run's verdicts, every helo_access line that
was suggested (with its evidence, so an entry can be traced back later), and
where each log was read up to (see :mod:`loganalyze.input.cursors`).

Consistency rules:

* A run is one transaction (:meth:`State.begin` ... :meth:`State.commit`):
  cursors advance together with the history they produced, so a run that is
  interrupted at any point leaves the database exactly as it was.
* Two runs never overlap: :class:`StateLock` takes an exclusive
  ``fcntl.flock`` on ``<state>.lock`` (released by the kernel if the process
  dies), and the transaction is ``BEGIN IMMEDIATE`` as a second line of defence.
* The schema is versioned with ``PRAGMA user_version``; its migrations
  (:mod:`loganalyze.daily.schema`) upgrade an older database step by step.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from ..errors import StateError, StateLockedError
from .schema import SCHEMA_VERSION, migrate

if TYPE_CHECKING:  # storage needs no stage at run time: a Finding is only read here
    from ..pipeline import Finding

SYSTEM_STATE = Path("/var/lib/loganalyze/state.sqlite")
"""The state file of a system-wide cron job (used when running as root)."""

def default_state_path() -> Path:
    """``/var/lib/loganalyze/state.sqlite`` for root or when writable, else the user's data dir."""
    system_dir = SYSTEM_STATE.parent
    if os.geteuid() == 0 or (system_dir.is_dir() and os.access(system_dir, os.W_OK)):
        return SYSTEM_STATE
    return Path(platformdirs.user_data_dir("loganalyze")) / "state.sqlite"


def lock_path(state_path: Path) -> Path:
    """The lock file that guards a state file: ``<state>.lock`` beside it."""
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """An exclusive, non-blocking ``flock`` on the lock file next to the state.

    The kernel drops the lock when the process ends, however it ends, so a
    killed run never leaves a stale lock behind.
    """

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        """The state file this lock guards."""
        self.path = lock_path(state_path)
        """The lock file."""
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StateLockedError` at once."""
        _make_parent(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot open the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateLockedError(
                f"another loganalyze report is using {self.state_path} "
                f"(lock {self.path} is held); not starting a second one"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise StateError(f"{path.parent}: cannot create the state directory: {exc.strerror}") \
            from None


@dataclass(frozen=True, slots=True)
class SenderHistory:
    """What the state knew about one sender before this run."""

    client_ip: str
    helo: str
    first_seen: datetime
    last_seen: datetime
    days_seen: int
    """Distinct days with at least one session."""
    first_rejected: date | None
    """First day with a HELO reject, if any."""
    last_rejected: date | None
    """Last day with a HELO reject, if any."""
    first_suggested: datetime | None
    """When a helo_access line was first suggested for it (wall clock of that run)."""


@dataclass(frozen=True, slots=True)
class SuggestionTrace:
    """One suggestion of a helo_access entry, with the evidence it was based on."""

    access_key: str
    access_line: str
    """The whole entry as suggested: ``# why`` lines and ``key OK``."""
    suggested: datetime
    client_ip: str
    helo: str
    client_name: str
    check: str
    label: str
    score: float
    evidence: list[str]
    reply: str


@dataclass(frozen=True, slots=True)
class DayCount:
    """Sessions of one sender on one day, as counted by one run."""

    sessions: int
    rejected: int
    """Sessions with a HELO reject or reject_warning (or a helo_required 503)."""
    client_name: str
    first: datetime
    last: datetime


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


class State:
    """An open state database. Use :meth:`open`; write only inside :meth:`begin`/:meth:`commit`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        """The connection, in autocommit mode: transactions are explicit."""
        self.path = path
        """The database file."""

    @classmethod
    def open(cls, path: Path, *, migrate_to: int = SCHEMA_VERSION) -> State:
        """Open (creating it if needed) and upgrade a state database."""
        _make_parent(path)
        created = not path.exists()
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        except sqlite3.Error as exc:
            raise StateError(f"{path}: cannot open the state database: {exc}") from None
        if created:
            # Client addresses and envelope senders: not for every local user.
            os.chmod(path, 0o640)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, migrate_to)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateError(f"{path}: cannot use the state database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        self.conn.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------

    def begin(self) -> None:
        """Start the run's only write transaction."""
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Make the run's changes durable, all at once."""
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Forget the run's changes (no-op outside a transaction)."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``begin``; ``commit`` on success; ``rollback`` on any exception, even Ctrl-C."""
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # -- runs and cursors -----------------------------------------------------------

    def start_run(self, started: datetime, version: str) -> int:
        """Record the start of a run; returns its id."""
        cur = self.conn.execute(
            "INSERT INTO runs (started, version) VALUES (?, ?)", (started.isoformat(), version)
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(
        self, run_id: int, since: datetime | None, until: datetime | None, lines_read: int,
        sessions: int,
    ) -> None:
        """Store what the run covered."""
        self.conn.execute(
            "UPDATE runs SET since = ?, until = ?, lines_read = ?, sessions = ? WHERE id = ?",
            (_iso(since), _iso(until), lines_read, sessions, run_id),
        )

    def last_run(self) -> dict[str, Any] | None:
        """The latest run as a dict of its columns, or None."""
        cur = self.conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def load_cursor(self, source: str) -> dict[str, Any] | None:
        """The stored cursor row of a source (``held`` decoded), or None."""
        cur = self.conn.execute("SELECT * FROM cursors WHERE source = ?", (source,))
        row = cur.fetchone()
        if row is None:
            return None
        record = dict(zip([d[0] for d in cur.description], row, strict=True))
        record["held"] = json.loads(record["held"])
        return record

    def save_cursor(self, record: Mapping[str, Any], run_id: int, updated: datetime) -> None:
        """Insert or replace the cursor of ``record["source"]`` (keys as the table's columns)."""
        columns = ("source", "kind", "device", "inode", "size", "offset", "fingerprint",
                   "fp_len", "journal_cursor", "journal_realtime")
        values = [record.get(c) for c in columns]
        self.conn.execute(
            f"INSERT OR REPLACE INTO cursors ({', '.join(columns)}, held, run_id, updated) "
            f"VALUES ({', '.join('?' * len(columns))}, ?, ?, ?)",
            (*values, json.dumps(list(record.get("held", []))), run_id, updated.isoformat()),
        )

    # -- senders --------------------------------------------------------------------

    def history(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], SenderHistory]:
        """What is known about these (client_ip, helo) senders; unknown ones are absent."""
        out: dict[tuple[str, str], SenderHistory] = {}
        for ip, helo in keys:
            row = self.conn.execute(
                "SELECT id, first_seen, last_seen FROM senders WHERE client_ip = ? AND helo = ?",
                (ip, helo),
            ).fetchone()
            if row is None:
                continue
            out[(ip, helo)] = self._history(row[0], ip, helo, row[1], row[2])
        return out

    def _history(
        self, sender_id: int, ip: str, helo: str, first_seen: str, last_seen: str
    ) -> SenderHistory:
        days, first_rej, last_rej = self.conn.execute(
            "SELECT COUNT(*), MIN(CASE WHEN rejected > 0 THEN day END), "
            "MAX(CASE WHEN rejected > 0 THEN day END) FROM sender_days WHERE sender_id = ?",
            (sender_id,),
        ).fetchone()
        suggested = self.conn.execute(
            "SELECT MIN(suggested) FROM suggestions WHERE sender_id = ?", (sender_id,)
        ).fetchone()[0]
        return SenderHistory(
            ip, helo, datetime.fromisoformat(first_seen), datetime.fromisoformat(last_seen),
            int(days),
            date.fromisoformat(first_rej) if first_rej else None,
            date.fromisoformat(last_rej) if last_rej else None,
            datetime.fromisoformat(suggested) if suggested else None,
        )

    def rejected_senders_of(self, ips: Iterable[str]) -> list[SenderHistory]:
        """Senders of these client addresses that had a HELO reject on some day."""
        out: list[SenderHistory] = []
        for ip in sorted(set(ips)):
            rows = self.conn.execute(
                "SELECT s.id, s.helo, s.first_seen, s.last_seen FROM senders s "
                "WHERE s.client_ip = ? AND EXISTS (SELECT 1 FROM sender_days d "
                "WHERE d.sender_id = s.id AND d.rejected > 0) ORDER BY s.helo",
                (ip,),
            ).fetchall()
            out.extend(self._history(r[0], ip, r[1], r[2], r[3]) for r in rows)
        return out

    def _sender_id(self, ip: str, helo: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM senders WHERE client_ip = ? AND helo = ?", (ip, helo)
        ).fetchone()
        return None if row is None else int(row[0])

    def record_days(
        self, run_id: int, counts: Mapping[tuple[str, str, date], DayCount]
    ) -> None:
        """Add one run's per-day session counts, creating senders seen for the first time."""
        for (ip, helo, day), count in sorted(counts.items()):
            sender_id = self._sender_id(ip, helo)
            if sender_id is None:
                cur = self.conn.execute(
                    "INSERT INTO senders (client_ip, helo, client_name, first_seen, last_seen, "
                    "first_run, last_run) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ip, helo, count.client_name, count.first.isoformat(),
                     count.last.isoformat(), run_id, run_id),
                )
                assert cur.lastrowid is not None
                sender_id = cur.lastrowid
            else:
                self.conn.execute(
                    "UPDATE senders SET client_name = ?, last_run = ?, "
                    "first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?) "
                    "WHERE id = ?",
                    (count.client_name, run_id, count.first.isoformat(), count.last.isoformat(),
                     sender_id),
                )
            self.conn.execute(
                "INSERT INTO sender_days (sender_id, day, sessions, rejected) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sender_id, day) DO UPDATE SET "
                "sessions = sessions + excluded.sessions, rejected = rejected + excluded.rejected",
                (sender_id, day.isoformat(), count.sessions, count.rejected),
            )

    def days_seen(self, ip: str, helo: str) -> int:
        """Distinct days on which this sender had a session (0 if never seen)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM sender_days d JOIN senders s ON s.id = d.sender_id "
            "WHERE s.client_ip = ? AND s.helo = ?", (ip, helo),
        ).fetchone()
        return int(row[0])

    def record_findings(self, run_id: int, findings: Sequence[Finding], when: datetime) -> None:
        """Store each finding's verdict, and its helo_access line when one is suggested."""
        for finding in findings:
            sender_id = self._sender_id(finding.client_ip, finding.helo)
            if sender_id is None:
                # A finding always comes from counted sessions, recorded by record_days.
                raise StateError(f"no sender row for {finding.client_ip} {finding.helo!r}")
            cur = self.conn.execute(
                "INSERT INTO verdicts (sender_id, run_id, check_name, rejected, label, score, "
                "evidence, dns, reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sender_id, run_id, finding.check.value, int(finding.rejected),
                 finding.verdict.label.value, finding.verdict.score,
                 json.dumps(finding.verdict.summary, ensure_ascii=False), finding.dns,
                 finding.reply),
            )
            if finding.access_line is not None:
                key = finding.access_line.rsplit("\n", 1)[-1].split()[0]
                self.conn.execute(
                    "INSERT INTO suggestions (sender_id, run_id, verdict_id, suggested, "
                    "access_key, access_line) VALUES (?, ?, ?, ?, ?, ?)",
                    (sender_id, run_id, cur.lastrowid, when.isoformat(), key,
                     finding.access_line),
                )

    def trace(self, helo: str) -> list[SuggestionTrace]:
        """Every suggestion of the helo_access key for ``helo``, oldest first, with evidence."""
        rows = self.conn.execute(
            "SELECT g.access_key, g.access_line, g.suggested, s.client_ip, s.helo, "
            "s.client_name, v.check_name, v.label, v.score, v.evidence, v.reply "
            "FROM suggestions g JOIN senders s ON s.id = g.sender_id "
            "JOIN verdicts v ON v.id = g.verdict_id WHERE g.access_key = ? ORDER BY g.id",
            (helo.lower(),),
        ).fetchall()
        return [
            SuggestionTrace(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], r[5], r[6],
                            r[7], float(r[8]), json.loads(r[9]), r[10])
            for r in rows
        ]
