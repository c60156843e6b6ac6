"""Read only what is new in a mail log since the last run, across log rotation.

A *cursor* per log says where the last run stopped. For a file it is a
:class:`FilePosition`: device, inode, size, byte offset, and a fingerprint
(SHA-256 of the first bytes, up to 4 KiB) that identifies the file's
contents whatever it is called now. On the next run the file holding the
cursor is looked for among the live log and its rotated siblings
(``mail.log.1``, ``mail.log.2.gz``, ``mail.log-20261124``...), by inode when
it is still the same file and by fingerprint otherwise, so that

* *rename rotation* (``create``): the old file is now ``mail.log.1`` (same
  inode); the rest of it is read, then the new ``mail.log`` from the start;
* *compressed rotation* (``compress``, ``delaycompress``, or two rotations
  between runs): ``mail.log.2.gz`` has a new inode but the same first bytes;
  it is decompressed and read from the same offset;
* *copytruncate*: ``mail.log`` keeps its inode but its first bytes changed
  (or it is shorter than the offset); the copy ``mail.log.1`` carries the
  fingerprint and is read from the offset, then ``mail.log`` from the start.
  (Lines written between logrotate's copy and its truncate are lost to
  every reader; that is copytruncate's own, documented race.)

With no ``mail.log`` the systemd journal is read instead
(``journalctl -o json --after-cursor``), see :class:`~loganalyze.input.journal.JournalLog`.

**Sessions that straddle two runs.** An SMTP session may connect before a
run and disconnect after it. Counting it half in each run would be wrong;
dropping it would lose a line. The approach here is *replay*: a session
still open when a run stops is not reported; instead the cursor keeps the
position of its first line (``held``) besides the position where reading
stopped (``done``). The next run starts reading at the earliest held
position; lines before ``done`` are fed to the session builder again (to
rebuild the open sessions exactly) but are not counted as read, and a
session that comes out of the builder is reported only if its first line is
new (at or after ``done``) or is one of the held positions. Sessions that
began before ``done`` and were not held were reported by an earlier run;
their tails seen during the replay are dropped. So every session is
reported exactly once, by the run that sees it end, and every line is
counted as read exactly once.

Why not persist the open sessions instead: that would pickle the internals
of :class:`~loganalyze.sessions.SessionBuilder` (its open sessions, pending
SPF results, hostname warnings) into the database, tying the state format to
private fields. Replay needs only positions and the builder's public
behaviour; the cost is re-reading the lines of the sessions still open,
which is a few lines unless a session has been silent for an hour (the
builder closes those as stale).

A cursor never rests in an empty file (an empty file has no first bytes to
be found by): when the live log is empty after a rotation, the cursor stays
at the end of the file before it, and the next run reads every newer file
from the start. The last line of the live log is consumed only once it ends
in a newline (syslog may be writing it).

Known limits: a first run on an empty log cannot tell a later copytruncate
from growth (rename rotation is fine); a policyd-spf line replayed while a
session that began before the replay point is still open may attach to the
held session of the same client instead (one SPF result more or less in
one sender's evidence); the journal is ordered by cursor, with the
wall-clock timestamp as a fallback only when the entry read last has been
vacuumed. The tests prove the rest: any sequence of runs, appends and
rotations reports what one pass over the whole log reports.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import math
import os
import re
import zlib
from bisect import bisect_left
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, cast

from ..errors import InputError
from .files import compression_of, distinct_files
from .journal import JournalLog
from .lines import LineSplitter
from .positions import Cursor, FileKeys, FilePosition, SourceBlock

# Bytes read and split at a time.
_BLOCK = 1 << 20
FINGERPRINT_BYTES = 4096
"""How many leading bytes identify a log file (fewer if the file was shorter)."""

JOURNAL = "journal:"
"""The ``LOG`` argument that means the systemd journal."""

_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
# logrotate's mail.log.1, mail.log.2.gz, maillog-20261124 (dateext, dateformat with an
# hour); postfix logrotate's maillog.20261124-215758.gz (maillog_file_rotate_suffix).
_ROTATED = re.compile(r"(?:\.(?P<n>\d+)|-(?P<date>\d{8})(?P<hour>\d{2})?"
                      r"|\.(?P<day>\d{8})-(?P<time>\d{6}))(?:\.(?:gz|bz2|xz))?")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _open_stream(path: Path) -> Iterator[tuple[IO[bytes], os.stat_result, bool]]:
    """Open a log for binary reading, decompressing by content; also its fstat.

    The stat comes from the open descriptor, so a rename by logrotate while
    we read cannot mix up two files.
    """
    try:
        raw = io.BufferedReader(io.FileIO(path, "rb"), 1 << 20)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path to the mail log") from None
    except PermissionError:
        raise InputError(
            f"{path}: permission denied; run as a user who can read the mail log "
            "(e.g. in group adm)"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    st = os.fstat(raw.fileno())
    kind = compression_of(raw.peek(6)[:6])
    stream: IO[bytes]
    if kind == "gzip":
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    elif kind == "bz2":
        stream = cast(IO[bytes], bz2.BZ2File(raw, mode="rb"))
    elif kind == "xz":
        stream = cast(IO[bytes], lzma.LZMAFile(raw, mode="rb"))
    else:
        stream = raw
    try:
        yield stream, st, kind is not None
    finally:
        stream.close()
        raw.close()


@dataclass
class _Generation:
    """The live log or one rotated sibling, newest first (index 0 is the live log)."""

    path: Path
    device: int
    inode: int
    size: int
    mtime: float
    _prefix: bytes | None = None
    compressed: bool = False

    def prefix(self) -> bytes:
        """The first :data:`FINGERPRINT_BYTES` bytes of the (decompressed) content."""
        if self._prefix is None:
            try:
                with _open_stream(self.path) as (stream, _, self.compressed):
                    self._prefix = stream.read(FINGERPRINT_BYTES)
            except (InputError, *_DECOMPRESSION_ERRORS):
                self._prefix = b""
        return self._prefix

    def holds(self, pos: FilePosition) -> bool:
        """Whether this file begins with the bytes the position was fingerprinted on."""
        head = self.prefix()
        if len(head) < pos.fp_len or _digest(head[: pos.fp_len]) != pos.fingerprint:
            return False
        return self.compressed or self.size >= pos.offset


def _rank(base: str, name: str) -> tuple[int, int] | None:
    """Order of a rotated sibling's name: smaller is newer; None if not a sibling."""
    if not name.startswith(base):
        return None
    m = _ROTATED.fullmatch(name[len(base):])
    if m is None:
        return None
    if m["n"] is not None:
        return (1, int(m["n"]))
    if m["day"] is not None:
        return (2, -int(m["day"] + m["time"]))
    return (2, -int(m["date"] + (m["hour"] or "00") + "0000"))


def generations(path: Path) -> list[_Generation]:
    """The live log (if it exists) and its rotated siblings, newest first."""
    found: list[tuple[tuple[int, int], Path]] = []
    if path.exists():
        found.append(((0, 0), path))
    try:
        names = os.listdir(path.parent)
    except OSError:
        names = []
    for name in names:
        rank = _rank(path.name, name)
        if rank is not None:
            found.append((rank, path.parent / name))
    out: list[_Generation] = []
    for _, candidate in sorted(found):
        try:
            st = candidate.stat()
        except OSError:
            continue
        if candidate.is_file():
            out.append(_Generation(candidate, st.st_dev, st.st_ino, st.st_size, st.st_mtime))
    return out


@dataclass
class _Segment:
    """One file to read in this run."""

    index: int
    """Generation index: 0 is the live log, larger is older."""
    start: int
    """Offset to start reading at (a line start)."""
    new_from: int | None
    """Lines at or after this offset are new; None: the whole segment is replay."""


@dataclass
class _Opened:
    fingerprint: str
    fp_len: int
    device: int
    inode: int
    size: int
    end: int = 0
    """Offset after the last line consumed."""


class FileLog:
    """A mail log file and its rotated siblings, read from where the cursor says.

    ``since`` and ``named`` only matter on the first run (no cursor): rotated
    siblings modified since then, and those named on the command line, are
    read too, oldest first; otherwise only the live
    log is read.
    """

    kind = "file"

    def __init__(
        self, path: str | Path, cursor: Cursor | None = None, *, since: datetime | None = None,
        named: Sequence[Path] = (),
    ) -> None:
        self.path = Path(os.path.abspath(path))
        """The live log."""
        self.source = str(self.path)
        """The cursor's key."""
        self.cursor = cursor
        self.since = since
        self.named = {Path(os.path.abspath(p)) for p in named}
        self.warnings: list[str] = []
        """Problems worth telling the admin (lines that could not be read)."""
        self._gens: list[_Generation] = []
        self._segments: list[_Segment] = []
        self._held: set[Hashable] = set()
        self._opened: dict[int, _Opened] = {}
        self._planned = False

    # -- planning -----------------------------------------------------------------

    def _locate(self, pos: FilePosition) -> int | None:
        """The generation holding a position: same inode preferred, else same first bytes."""
        matches = [i for i, g in enumerate(self._gens) if g.holds(pos)]
        same = [i for i in matches
                if (self._gens[i].device, self._gens[i].inode) == (pos.device, pos.inode)]
        found = same or matches
        return found[0] if found else None

    def plan(self) -> list[_Segment]:
        """Decide which files to read from where (done once, before reading)."""
        if self._planned:
            return self._segments
        self._planned = True
        self._gens = generations(self.path)
        done = self.cursor.done if self.cursor is not None else None
        live = [0] if self._gens and self._gens[0].path == self.path else []
        if not isinstance(done, FilePosition):
            if not live:
                raise InputError(f"{self.path}: no such file; check the path to the mail log")
            chosen = list(live)
            stamp = self.since.timestamp() if self.since is not None else math.inf
            chosen += [i for i, g in enumerate(self._gens)
                       if i and (g.mtime >= stamp or g.path in self.named)]
            self._segments = [_Segment(i, 0, 0) for i in sorted(chosen, reverse=True)]
            return self._segments
        d = self._locate(done)
        if d is None:
            assert self.cursor is not None
            self.warnings.append(
                f"{self.path}: the part of the log read last time is gone (rotated away or "
                "replaced); lines written to it after the last report were not read"
            )
            last = self.cursor.updated.timestamp() if self.cursor.updated else None
            chosen = [i for i, g in enumerate(self._gens)
                      if i in live or (last is not None and g.mtime >= last)]
            self._segments = [_Segment(i, 0, 0) for i in sorted(chosen, reverse=True)]
            return self._segments
        oldest, start = d, done.offset
        assert self.cursor is not None
        for pos in self.cursor.held:
            if not isinstance(pos, FilePosition):
                continue
            i = self._locate(pos)
            if i is None or i < d or (i == d and pos.offset > done.offset):
                continue  # gone: the rest of that session will show up as a fragment
            self._held.add((i, pos.offset))
            if (i, -pos.offset) > (oldest, -start):
                oldest, start = i, pos.offset
        for i in range(oldest, -1, -1):
            new_from = None if i > d else (done.offset if i == d else 0)
            self._segments.append(_Segment(i, start if i == oldest else 0, new_from))
        return self._segments

    def held_keys(self) -> set[Hashable]:
        """Keys ``(generation, offset)`` of the lines held by the previous run."""
        self.plan()
        return self._held

    # -- reading ------------------------------------------------------------------

    def blocks(self) -> Iterator[SourceBlock]:
        """Blocks of lines with keys ``(generation, offset)``, from the replay point on."""
        for segment in self.plan():
            yield from self._read(segment)

    def raw_blocks(self) -> Iterator[SourceBlock]:
        """:meth:`blocks`, the lines still in bytes (:class:`~loganalyze.input.lines.RawLines`,
        for the compiled core's scanner)."""
        for segment in self.plan():
            yield from self._read(segment, raw=True)

    def _read(self, segment: _Segment, raw: bool = False) -> Iterator[SourceBlock]:
        gen = self._gens[segment.index]
        with _open_stream(gen.path) as (stream, st, _):
            try:
                head = stream.read(FINGERPRINT_BYTES)
                opened = _Opened(_digest(head), len(head), st.st_dev, st.st_ino, st.st_size)
                self._opened[segment.index] = opened
                # Decompressing streams emulate seek (rewind and read forward): fine here.
                stream.seek(segment.start)
                opened.end = segment.start
                # The live log's last line may be being written: the next run reads it whole.
                partial = gen.path != self.path
                new_from = segment.new_from
                splitter = LineSplitter(segment.start, offsets=True, raw=raw)
                while True:
                    chunk = stream.read(_BLOCK)
                    block = splitter.feed(chunk) if chunk else splitter.finish(partial=partial)
                    if block is not None and (block.lines or block.raw):
                        ends = block.ends
                        assert ends is not None
                        opened.end = ends[-1]
                        if new_from is None:
                            first_new = len(ends)
                        elif block.start >= new_from:
                            first_new = 0
                        else:  # lines starting before new_from are replay
                            first_new = 1 + bisect_left(ends, new_from, 0, len(ends) - 1)
                        lines = block.lines if block.raw is None else block.raw
                        yield SourceBlock(lines, FileKeys(segment.index, block.start, ends),
                                          first_new)
                    if not chunk:
                        return
            except _DECOMPRESSION_ERRORS as exc:
                raise InputError(
                    f"{gen.path}: cannot read: {exc}; is the file a complete log, "
                    "or a damaged compressed file?"
                ) from None

    def read_summary(self) -> str:
        """What this run read, for the admin: each file and from where."""
        parts = []
        for segment in self._segments:
            if segment.index not in self._opened:
                continue
            path = self._gens[segment.index].path
            if segment.new_from is None:
                where = "again, for the sessions open last time"
            elif segment.new_from:
                where = f"from byte {segment.new_from:,}"
            else:
                where = "from its start"
            parts.append(f"{path} ({where})")
        return ", ".join(parts) if parts else f"{self.path} (nothing)"

    def position(self, key: Hashable) -> FilePosition:
        """The persistent position of line ``(generation, offset)``."""
        assert isinstance(key, tuple)
        index, offset = key
        opened = self._opened[index]
        return FilePosition(opened.fingerprint, opened.fp_len, offset, opened.device,
                            opened.inode)

    def _last_opened(self) -> int | None:
        """The newest file read that has content (else the newest file read).

        An empty live log has no fingerprint to find it by after a
        copytruncate, so the cursor stays at the end of the file before it:
        the next run finds that one by its content and reads every newer
        file from the start.
        """
        if not self._opened:
            return None
        with_content = [i for i, o in self._opened.items() if o.end > 0]
        return min(with_content) if with_content else min(self._opened)

    def done(self, stop: Hashable | None) -> FilePosition | None:
        """Before line ``stop``, or after the last line consumed (None if nothing was opened)."""
        if stop is not None:
            return self.position(stop)
        index = self._last_opened()
        if index is None:
            old = self.cursor.done if self.cursor is not None else None
            return old if isinstance(old, FilePosition) else None
        return self.position((index, self._opened[index].end))

    def size(self) -> int | None:
        """Size of the newest file read, when it was opened."""
        index = self._last_opened()
        if index is None:
            return self.cursor.size if self.cursor is not None else None
        return self._opened[index].size


def default_logs(log_dir: Path = Path("/var/log")) -> list[str]:
    """``mail.log`` (Debian) or ``maillog`` (Red Hat) if present, else the journal."""
    for name in ("mail.log", "maillog"):
        if (log_dir / name).is_file():
            return [str(log_dir / name)]
    return [JOURNAL]


def open_source(
    name: str, cursor: Cursor | None, *, since: datetime | None = None,
    journal_command: Sequence[str] = ("journalctl",), named: Sequence[Path] = (),
) -> FileLog | JournalLog:
    """A :class:`FileLog` for a path (``named``: its rotated siblings named too), or a
    journal reader for :data:`JOURNAL`."""
    if name == JOURNAL:
        return JournalLog(cursor, command=journal_command, since=since)
    if name == "-":
        raise InputError("report reads log files or the journal, not standard input")
    return FileLog(name, cursor, since=since, named=named)


def report_sources(names: Sequence[str]) -> list[tuple[str, list[Path]]]:
    """The sources a report reads for its ``LOG`` arguments, each with the rotated
    siblings named with it.

    A file is what it holds, not what it is called: a file named twice (by another
    path, a link) is read once, and a rotated sibling of a named live log
    (``mail.log.1`` beside ``mail.log``, as ``mail.log*`` in a crontab names it) is
    read as part of that log, under its one cursor, so a rotation does not make
    it read again from its first byte.
    """
    if "-" in names:
        open_source("-", None)  # says why not
    journal = JOURNAL in names
    unique, _ = distinct_files([os.path.abspath(n) for n in names if n != JOURNAL])
    files = list(dict.fromkeys(Path(name) for name in unique))  # a missing file, once
    out: list[tuple[str, list[Path]]] = []
    for path in files:
        if any(other != path and other.parent == path.parent
               and _rank(other.name, path.name) is not None for other in files):
            continue  # read as a generation of that log
        siblings = [p for p in files if p.parent == path.parent and p != path
                    and _rank(path.name, p.name) is not None]
        out.append((str(path), siblings))
    if journal:
        out.append((JOURNAL, []))
    return out


def source_key(name: str) -> str:
    """The key under which a ``LOG`` argument's cursor is stored."""
    return "journal" if name == JOURNAL else os.path.abspath(name)
