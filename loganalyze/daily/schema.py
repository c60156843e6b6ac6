"""The state database's schema: versioned with ``PRAGMA user_version``, upgraded by
:data:`MIGRATIONS` step by step, each step in its own transaction."""

from __future__ import annotations

import sqlite3

from ..errors import StateError

# Each step: (version it produces, SQL statements). Never edit a released step:
# add a new one, and a test that upgrades a database of the previous version.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            since TEXT,
            until TEXT,
            lines_read INTEGER NOT NULL DEFAULT 0,
            sessions INTEGER NOT NULL DEFAULT 0,
            version TEXT NOT NULL
        )""",
        """CREATE TABLE cursors (
            source TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            device INTEGER,
            inode INTEGER,
            size INTEGER,
            offset INTEGER,
            fingerprint TEXT,
            fp_len INTEGER,
            journal_cursor TEXT,
            journal_realtime INTEGER,
            held TEXT NOT NULL DEFAULT '[]',
            run_id INTEGER REFERENCES runs(id),
            updated TEXT NOT NULL
        )""",
        """CREATE TABLE senders (
            id INTEGER PRIMARY KEY,
            client_ip TEXT NOT NULL,
            helo TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            first_run INTEGER REFERENCES runs(id),
            last_run INTEGER REFERENCES runs(id),
            UNIQUE (client_ip, helo)
        )""",
        """CREATE TABLE sender_days (
            sender_id INTEGER NOT NULL REFERENCES senders(id),
            day TEXT NOT NULL,
            sessions INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (sender_id, day)
        )""",
    )),
    (2, (
        "ALTER TABLE senders ADD COLUMN client_name TEXT NOT NULL DEFAULT 'unknown'",
        """CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            sender_id INTEGER NOT NULL REFERENCES senders(id),
            run_id INTEGER NOT NULL REFERENCES runs(id),
            check_name TEXT NOT NULL,
            rejected INTEGER NOT NULL,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL,
            dns TEXT NOT NULL,
            reply TEXT NOT NULL
        )""",
        """CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            sender_id INTEGER NOT NULL REFERENCES senders(id),
            run_id INTEGER NOT NULL REFERENCES runs(id),
            verdict_id INTEGER NOT NULL REFERENCES verdicts(id),
            suggested TEXT NOT NULL,
            access_key TEXT NOT NULL,
            access_line TEXT NOT NULL
        )""",
        "CREATE INDEX suggestions_by_key ON suggestions (access_key)",
        "CREATE INDEX verdicts_by_sender ON verdicts (sender_id)",
    )),
)

SCHEMA_VERSION = MIGRATIONS[-1][0]
"""The schema version this code writes."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version of a database (0 for a new, empty one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Upgrade the schema to ``target``, one transaction per step; return the old version.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise StateError(
            f"the state database has schema version {current}, newer than this loganalyze "
            f"understands ({SCHEMA_VERSION}); upgrade loganalyze or use another --state"
        )
    for version, statements in MIGRATIONS:
        if not current < version <= target:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current
