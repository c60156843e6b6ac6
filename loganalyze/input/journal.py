"""The systemd journal as a log source of the daily report: ``journalctl -o json``
from the stored cursor on (``--after-cursor``), the entries as journalctl wrote them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import datetime

from ..errors import InputError
from .lines import decode_line
from .positions import Cursor, JournalPosition, ListedKeys, SourceBlock

_BLOCK_ENTRIES = 4096
"""Entries handed on at a time."""

Runner = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]
"""Starts a command with its stdout as a pipe (tests give a fake ``journalctl``)."""


def _popen(args: Sequence[str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise InputError(f"cannot run {args[0]}: {exc.strerror}; is systemd installed?") \
            from None


class JournalLog:
    """The systemd journal's mail facility, read with ``journalctl -o json``.

    ``command`` is the journalctl to run (tests substitute a script that
    prints JSON lines and honours ``--cursor``/``--after-cursor``).
    """

    kind = "journal"

    def __init__(
        self, cursor: Cursor | None = None, *, command: Sequence[str] = ("journalctl",),
        matches: Sequence[str] = ("SYSLOG_FACILITY=2",), since: datetime | None = None,
        runner: Runner = _popen,
    ) -> None:
        self.source = "journal"
        """The cursor's key."""
        self.cursor = cursor
        self.command = tuple(command)
        self.matches = tuple(matches)
        self.since = since
        self.runner = runner
        self.warnings: list[str] = []
        """Problems worth telling the admin."""
        self._last: JournalPosition | None = None
        self._before: JournalPosition | None = None  # the entry before the last block
        self._keys = ListedKeys()  # the last block's cursors
        self._realtime: dict[str, int] = {}

    def arguments(self) -> list[str]:
        """The journalctl command line for this run."""
        args = [*self.command, "--output=json", "--no-pager"]
        done = self.cursor.done if self.cursor is not None else None
        held = self.cursor.held if self.cursor is not None else ()
        if held and isinstance(held[0], JournalPosition):
            args.append(f"--cursor={held[0].cursor}")
        elif isinstance(done, JournalPosition):
            args.append(f"--after-cursor={done.cursor}")
        elif self.since is not None:
            args.append(f"--since={self.since:%Y-%m-%d %H:%M:%S}")
        return args + list(self.matches)

    def held_keys(self) -> set[Hashable]:
        """The cursors of the previous run's held entries."""
        held = self.cursor.held if self.cursor is not None else ()
        return {p.cursor for p in held if isinstance(p, JournalPosition)}

    def blocks(self) -> Iterator[SourceBlock]:
        """Blocks of entries keyed by cursor; entries up to the stored cursor are replay."""
        done = self.cursor.done if self.cursor is not None else None
        replaying = bool(self.held_keys()) and isinstance(done, JournalPosition)
        proc = self.runner(self.arguments())
        assert proc.stdout is not None
        finished = False
        lines: list[str] = []
        keys = ListedKeys()
        new_from: int | None = None
        try:
            for raw in proc.stdout:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                cursor = entry.get("__CURSOR")
                if not isinstance(cursor, str):
                    continue
                realtime = int(entry.get("__REALTIME_TIMESTAMP") or 0)
                if replaying:
                    assert isinstance(done, JournalPosition)
                    if cursor == done.cursor:
                        replaying = False  # this one is the last replayed
                    elif realtime > done.realtime:
                        # Fallback if the entry read last was vacuumed: go by the clock.
                        replaying = False
                        new_from = len(lines)
                elif new_from is None:
                    new_from = len(lines)
                self._last = JournalPosition(cursor, realtime)
                self._realtime[cursor] = realtime
                # The entry as journalctl wrote it: analyze reads journal JSON with the
                # same parser (time stamp, --tz, identifier and byte-array messages).
                lines.append(decode_line(raw))
                keys.append(cursor)
                if len(lines) >= _BLOCK_ENTRIES:
                    yield self._block(lines, keys, new_from)
                    lines, keys, new_from = [], ListedKeys(), None if replaying else 0
            if lines:
                yield self._block(lines, keys, new_from)
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            if proc.stderr is not None:
                proc.stderr.close()
            code = proc.wait()
            if finished and code != 0:
                detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {code}"
                raise InputError(f"journalctl failed: {detail}")
            if finished and self._last is None and "insufficient permissions" in stderr:
                # journalctl exits 0 when it may read no journal file: say so, not silence.
                raise InputError(
                    "journalctl may not read the system journal; run the report as root or "
                    "as a user in group systemd-journal or adm")

    def _block(self, lines: list[str], keys: ListedKeys, new_from: int | None) -> SourceBlock:
        if self._keys:
            self._before = self.position(self._keys[-1])
        self._keys = keys
        return SourceBlock(lines, keys, len(lines) if new_from is None else new_from)

    def read_summary(self) -> str:
        """What this run read, for the admin."""
        if self.cursor is not None and self.cursor.done is not None:
            return "the journal (after the entry read last time)"
        if self.since is not None:
            return f"the journal (since {self.since:%Y-%m-%d %H:%M})"
        return "the journal (from its start)"

    def position(self, key: Hashable) -> JournalPosition:
        """The position of the entry with cursor ``key``."""
        assert isinstance(key, str)
        return JournalPosition(key, self._realtime.get(key, 0))

    def done(self, stop: Hashable | None) -> JournalPosition | None:
        """The last entry consumed: the one before ``stop``, or the last one read."""
        last = self._last
        if stop is not None:
            index = self._keys.find(stop)
            last = self._before if not index else self.position(self._keys[index - 1])
        if last is None:
            old = self.cursor.done if self.cursor is not None else None
            return old if isinstance(old, JournalPosition) else None
        return last

    def size(self) -> int | None:
        """Journals have no size here."""
        return None
