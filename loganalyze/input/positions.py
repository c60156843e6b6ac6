"""Where a daily report stopped reading a log: positions, cursors, and the
interface of a log source that can resume (:mod:`loganalyze.input.cursors`)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# -- positions and cursors ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilePosition:
    """A place in a log file, identified by content rather than by name."""

    fingerprint: str
    """SHA-256 (hex) of the file's first ``fp_len`` bytes (decompressed)."""
    fp_len: int
    offset: int
    """Byte offset of a line start, in the decompressed content."""
    device: int = 0
    """``st_dev`` when the position was taken (a hint: compression changes it)."""
    inode: int = 0
    """``st_ino`` when the position was taken (a hint: copytruncate keeps it)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"fp": self.fingerprint, "n": self.fp_len, "off": self.offset,
                "dev": self.device, "ino": self.inode}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FilePosition:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["fp"]), int(data["n"]), int(data["off"]), int(data.get("dev", 0)),
                   int(data.get("ino", 0)))


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """A journal entry: its cursor, and its wall-clock time in microseconds."""

    cursor: str
    realtime: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"cursor": self.cursor, "realtime": self.realtime}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalPosition:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["cursor"]), int(data.get("realtime", 0)))


Position = FilePosition | JournalPosition


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where one log source was read up to, as stored in the state's ``cursors`` table."""

    source: str
    """The log's absolute path, or ``journal``."""
    kind: str
    """``file`` or ``journal``."""
    done: Position | None = None
    """Files: the first byte not yet consumed. Journal: the last entry consumed."""
    held: tuple[Position, ...] = ()
    """First lines of the sessions still open at ``done``, oldest first (replayed next run)."""
    size: int | None = None
    """Size of the file holding ``done`` when the run read it."""
    updated: datetime | None = None
    """Wall clock of the run that stored the cursor."""

    def to_record(self) -> dict[str, Any]:
        """The ``cursors`` row (see :meth:`loganalyze.daily.state.State.save_cursor`)."""
        record: dict[str, Any] = {
            "source": self.source, "kind": self.kind, "size": self.size,
            "held": [p.to_json() for p in self.held],
        }
        if isinstance(self.done, FilePosition):
            record.update(device=self.done.device, inode=self.done.inode,
                          offset=self.done.offset, fingerprint=self.done.fingerprint,
                          fp_len=self.done.fp_len)
        elif isinstance(self.done, JournalPosition):
            record.update(journal_cursor=self.done.cursor, journal_realtime=self.done.realtime)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Cursor:
        """Inverse of :meth:`to_record` (accepts the row as stored, with ``updated``)."""
        kind = str(record["kind"])
        done: Position | None = None
        held: tuple[Position, ...]
        if kind == "journal":
            if record.get("journal_cursor"):
                done = JournalPosition(str(record["journal_cursor"]),
                                       int(record.get("journal_realtime") or 0))
            held = tuple(JournalPosition.from_json(p) for p in record.get("held") or ())
        else:
            if record.get("fingerprint") is not None:
                done = FilePosition(str(record["fingerprint"]), int(record["fp_len"]),
                                    int(record["offset"]), int(record.get("device") or 0),
                                    int(record.get("inode") or 0))
            held = tuple(FilePosition.from_json(p) for p in record.get("held") or ())
        updated = record.get("updated")
        return cls(
            str(record["source"]), kind, done, held,
            None if record.get("size") is None else int(record["size"]),
            datetime.fromisoformat(updated) if updated else None,
        )


# -- sources ---------------------------------------------------------------------------


class LineKeys(Protocol):
    """The keys of a block's lines: ``keys[i]`` is line ``i``'s."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Hashable: ...

    def find(self, key: Hashable) -> int | None:
        """The index of the line with ``key`` in this block, or None."""
        ...


@dataclass(frozen=True, slots=True)
class FileKeys:
    """Keys ``(file, offset)`` of consecutive lines of one file, from their end offsets."""

    file: int
    start: int
    """Offset of the first line."""
    ends: Sequence[int]
    """Offset past each line."""

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index: int) -> Hashable:
        return (self.file, self.ends[index - 1] if index else self.start)

    def find(self, key: Hashable) -> int | None:
        """The index of the line starting at ``key``'s offset, if in this block."""
        if not isinstance(key, tuple) or key[0] != self.file:
            return None
        offset = key[1]
        if offset == self.start:
            return 0
        index = bisect_left(self.ends, offset, 0, max(len(self.ends) - 1, 0))
        if index < len(self.ends) - 1 and self.ends[index] == offset:
            return index + 1
        return None


class ListedKeys(list[Hashable]):
    """Keys given one per line (journal cursors)."""

    def find(self, key: Hashable) -> int | None:
        """The index of ``key``, or None."""
        try:
            return self.index(key)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class SourceBlock:
    """Consecutive lines of a log source, with their keys."""

    lines: Sequence[str]
    """A list, or :class:`~loganalyze.input.lines.RawLines` (``FileLog.raw_blocks``)."""
    keys: LineKeys
    new_from: int
    """Index of the first new line (``len(lines)`` when all are replay): lines are read
    again, to rebuild the sessions open last time, only before the new ones."""


class LineSource(Protocol):
    """A log that yields blocks of lines with their keys and can say where it stopped.

    A key identifies a line within this run (hashable, unique). Replayed lines
    (read again to rebuild sessions still open last time) all come before the
    new ones.
    """

    source: str
    kind: str
    warnings: list[str]

    def blocks(self) -> Iterator[SourceBlock]:
        """The lines from the replay point to the end, in log order."""
        ...

    def held_keys(self) -> set[Hashable]:
        """The keys of the previous run's held lines (valid once :meth:`blocks` started)."""
        ...

    def position(self, key: Hashable) -> Position:
        """The persistent position of a line read in this run."""
        ...

    def done(self, stop: Hashable | None) -> Position | None:
        """Where the next run continues: before line ``stop``, or after the last line read."""
        ...

    def size(self) -> int | None:
        """The size of the file holding :meth:`done`, if a file."""
        ...

    def read_summary(self) -> str:
        """What this run read, for the admin (``/var/log/mail.log (from byte 1,204)``)."""
        ...
