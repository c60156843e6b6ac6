"""A persistent DNS answer cache in SQLite, so cron runs do not ask the same names again.

One row per name holds the combined :class:`~loganalyze.judge.dns.HostLookup` and
when it expires.  :class:`~loganalyze.judge.dns_resolver.DnsResolver` decides how long an
answer may live (the records' minimum TTL, or the RFC 2308 SOA minimum for
NXDOMAIN/NODATA) and never stores temporary failures; the cache caps those
lifetimes.  Any trouble with the file (corrupt, unwritable, locked for too
long) turns the cache off with one warning: a cache must never stop a run.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from .dns import DnsStatus, HostLookup

__all__ = ["DEFAULT_MAX_NEGATIVE_TTL", "DEFAULT_MAX_TTL", "DnsCache", "default_cache_path"]

log = logging.getLogger(__name__)

DEFAULT_MAX_TTL = 86400
"""Longest a positive answer is kept, whatever its TTL (one day)."""
DEFAULT_MAX_NEGATIVE_TTL = 10800
"""Longest a NXDOMAIN/NODATA answer is kept (three hours, as RFC 2308 suggests)."""

_NEGATIVE = (DnsStatus.NXDOMAIN, DnsStatus.NODATA)
_SCHEMA_VERSION = 1
_CHUNK = 500  # names per SELECT, under SQLite's parameter limit


def default_cache_path() -> Path:
    """``<user cache dir>/loganalyze/dns.sqlite`` (platformdirs; ``~/.cache`` on Linux)."""
    import platformdirs  # only needed when no path is given

    return Path(platformdirs.user_cache_dir("loganalyze")) / "dns.sqlite"


class DnsCache:
    """HostLookups by name with an expiry, in an SQLite file.

    ``path`` defaults to :func:`default_cache_path`; ``":memory:"`` keeps it
    in memory.  ``clock`` returns the time in seconds (injectable for tests).
    The file uses WAL and short transactions, so several processes (a cron job
    and a person at a shell) can share it.  Safe to use from several threads.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        max_ttl: int = DEFAULT_MAX_TTL,
        max_negative_ttl: int = DEFAULT_MAX_NEGATIVE_TTL,
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        """Where the cache lives."""
        self.clock = clock
        """Seconds since the epoch; the expiry times are in the same unit."""
        self.max_ttl = max_ttl
        """Cap on how long a positive answer is kept."""
        self.max_negative_ttl = max_negative_ttl
        """Cap on how long a NXDOMAIN/NODATA answer is kept."""
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open()
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)

    @property
    def enabled(self) -> bool:
        """False once the cache has been turned off after an error."""
        return self._db is not None

    def _open(self) -> sqlite3.Connection:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"unknown cache format version {version}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS host ("
                " name TEXT PRIMARY KEY,"
                " status TEXT NOT NULL,"
                " addresses TEXT NOT NULL,"
                " mx TEXT NOT NULL,"
                " expires REAL NOT NULL)"
            )
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    def _disable(self, exc: BaseException) -> None:
        log.warning("DNS cache %s disabled: %s", self.path, exc)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken handle
                pass
        self._db = None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection | None]:
        """The connection under the lock, or None; errors turn the cache off."""
        with self._lock:
            if self._db is None:
                yield None
                return
            try:
                yield self._db
            except (sqlite3.Error, OSError) as exc:
                self._disable(exc)

    # -- reading --

    def get_many(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """The unexpired entries among ``names``, keyed by the lower-cased name."""
        keys = list(dict.fromkeys(name.lower() for name in names))
        found: dict[str, HostLookup] = {}
        now = self.clock()
        with self._connection() as db:
            if db is None:
                return found
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = db.execute(
                    "SELECT name, status, addresses, mx FROM host"
                    f" WHERE expires > ? AND name IN ({','.join('?' * len(chunk))})",
                    [now, *chunk],
                )
                for name, status, addresses, mx in rows:
                    lookup = _decode(name, status, addresses, mx)
                    if lookup is not None:
                        found[name] = lookup
        return found

    def get(self, name: str) -> HostLookup | None:
        """The unexpired entry for ``name``, or None."""
        return self.get_many([name]).get(name.lower())

    # -- writing --

    def put_many(self, entries: Iterable[tuple[HostLookup, float]]) -> int:
        """Store ``(lookup, ttl)`` pairs in one transaction; returns how many were kept.

        Temporary failures, SKIPPED and TTLs of 0 or less are not stored;
        TTLs are capped by :attr:`max_ttl` or :attr:`max_negative_ttl`.
        """
        now = self.clock()
        rows = [
            (
                lookup.name.lower(),
                str(lookup.status),
                json.dumps(list(lookup.addresses)),
                json.dumps(list(lookup.mx)),
                now + self._cap(lookup.status, ttl),
            )
            for lookup, ttl in entries
            if self._storable(lookup.status, ttl)
        ]
        if not rows:
            return 0
        with self._connection() as db:
            if db is None:
                return 0
            with _transaction(db):
                db.executemany("INSERT OR REPLACE INTO host VALUES (?, ?, ?, ?, ?)", rows)
            return len(rows)
        return 0  # the write failed and turned the cache off

    def put(self, lookup: HostLookup, ttl: float) -> bool:
        """Store one lookup; True if it was kept (see :meth:`put_many`)."""
        return self.put_many([(lookup, ttl)]) == 1

    def _storable(self, status: DnsStatus, ttl: float) -> bool:
        return (ttl > 0 and not status.is_temporary
                and status not in (DnsStatus.SKIPPED, DnsStatus.DEADLINE))

    def _cap(self, status: DnsStatus, ttl: float) -> float:
        return min(ttl, self.max_negative_ttl if status in _NEGATIVE else self.max_ttl)

    def purge(self) -> int:
        """Delete expired entries; returns how many went."""
        with self._connection() as db:
            if db is None:
                return 0
            with _transaction(db):
                return db.execute("DELETE FROM host WHERE expires <= ?", [self.clock()]).rowcount
        return 0  # the delete failed and turned the cache off

    def clear(self) -> None:
        """Delete every entry."""
        with self._connection() as db:
            if db is not None:
                with _transaction(db):
                    db.execute("DELETE FROM host")

    def __len__(self) -> int:
        """Number of rows, expired or not."""
        with self._connection() as db:
            if db is not None:
                return int(db.execute("SELECT count(*) FROM host").fetchone()[0])
        return 0

    # -- life cycle --

    def close(self) -> None:
        """Close the file; the cache is then off."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __del__(self) -> None:
        # A cache dropped without close() (a resolver that simply goes out of scope)
        # still closes its file: Python 3.13 warns about an unclosed connection.
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def __enter__(self) -> DnsCache:
        """Use the cache in a ``with`` block; it is closed at the end."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the cache."""
        self.close()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): a short write lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _decode(name: str, status: str, addresses: str, mx: str) -> HostLookup | None:
    """A row back into a HostLookup; None for a row this version cannot read."""
    try:
        return HostLookup(
            name, DnsStatus(status), _strings(json.loads(addresses)), _strings(json.loads(mx))
        )
    except (ValueError, TypeError):
        return None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return tuple(value)
