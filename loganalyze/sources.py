"""Open log files (plain or compressed, or standard input) as streams of text lines.

This is the only module that opens files. Compression is detected from the
first bytes, not the file name, because rotated logs are renamed freely.

Lines are split on ``\\n`` only, in big blocks (the tokenizer's cost per line
is what matters, not syscalls). Nothing is lost: bytes that are not UTF-8
become U+FFFD, a ``\\r`` before the newline and NUL bytes at the start of a
line (what a crash leaves in a syslog file) are dropped, a last line without
a newline is still a line, and a line longer than :data:`MAX_KEPT_LINE` is cut
to that length (no log line is that long; the tokenizer reports it).
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import sys
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, cast

from .errors import InputError

STDIN = "-"
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}
# Big reads: the tokenizer's cost per line is what matters, not syscalls.
_BUFFER = 1 << 20
# Bytes decoded and split at a time.
_BLOCK = 1 << 20
MAX_KEPT_LINE = 1 << 20
"""Longer lines are cut to this many bytes, so a file without newlines cannot fill memory."""


@dataclass(frozen=True, slots=True)
class LogSource:
    """One input: a path, or ``-`` for standard input."""

    name: str
    """The path as the user gave it, or ``-``."""

    @property
    def is_stdin(self) -> bool:
        """True for standard input."""
        return self.name == STDIN


def _compression(head: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _open_binary(name: str) -> BinaryIO:
    if name == STDIN:
        return sys.stdin.buffer
    path = Path(name)
    try:
        return open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 - closed by caller
    except FileNotFoundError:
        raise InputError(f"{name}: no such file; check the path to the mail log") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory; give the mail log file itself") from None
    except PermissionError:
        raise InputError(
            f"{name}: permission denied; "
            "run as a user who can read the mail log (e.g. in group adm)"
        ) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot open: {exc.strerror}") from None


class _Decompressing(io.BufferedIOBase):
    """A decompressor that also closes the file under it (GzipFile, BZ2File and
    LZMAFile leave a file object they were given open)."""

    def __init__(self, stream: io.BufferedIOBase, under: io.BufferedIOBase, owner: bool) -> None:
        super().__init__()
        self._stream = stream
        self._under = under
        self._owner = owner

    @property
    def name(self) -> Any:
        """The name of the file under the decompressor."""
        return getattr(self._under, "name", None)

    def readable(self) -> bool:
        """Always true."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Read decompressed bytes."""
        return self._stream.read(size)

    def read1(self, size: int = -1) -> bytes:
        """Read decompressed bytes with at most one read of the file."""
        return self._stream.read1(size)

    def close(self) -> None:
        """Close the decompressor, and the file unless it is standard input."""
        if not self.closed:
            try:
                self._stream.close()
            finally:
                if self._owner:
                    self._under.close()
                super().close()


def open_log_binary(name: str) -> io.BufferedIOBase:
    """Open a log for reading bytes, decompressing gzip, bzip2 or xz by content.

    Closing the result closes the file (never standard input).
    """
    raw = _open_binary(name)
    peekable = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    owner = name != STDIN
    try:
        head = peekable.peek(6)[:6]
    except OSError as exc:
        if owner:
            peekable.close()
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    kind = _compression(head)
    stream: io.BufferedIOBase
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=peekable, mode="rb")
    elif kind == "bz2":
        stream = bz2.BZ2File(peekable, mode="rb")
    elif kind == "xz":
        stream = lzma.LZMAFile(peekable, mode="rb")
    else:
        return peekable
    return _Decompressing(stream, peekable, owner)


def open_log(name: str) -> io.TextIOWrapper:
    """Open a log for reading text, decompressing gzip, bzip2 or xz by content.

    Bytes that are not UTF-8 are replaced (Postfix itself writes ``?`` for
    them), so decoding never fails.
    """
    return io.TextIOWrapper(
        cast(BinaryIO, open_log_binary(name)),
        encoding="utf-8",
        errors="replace",
        newline="\n",
    )


_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


def _blocks(stream: io.BufferedIOBase, name: str) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read)
    while True:
        try:
            chunk = read(_BLOCK)
        except _DECOMPRESSION_ERRORS as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"{name}: cannot read: {message}; is the file a complete log, "
                "or a damaged compressed file?"
            ) from None
        if not chunk:
            return
        yield chunk


def _clean(lines: list[str], text: str) -> list[str]:
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    if "\x00" in text:
        lines = [line.lstrip("\x00") for line in lines]
    return lines


def read_lines(name: str) -> Generator[str, None, None]:
    """Yield the lines of one log without their line endings.

    A corrupt or truncated compressed file raises :class:`InputError` naming
    the file; the lines read before the damage have been yielded already.
    """
    blocks = read_blocks(name)
    try:
        for block in blocks:
            yield from block
    finally:
        blocks.close()


def read_blocks(name: str) -> Generator[list[str], None, None]:
    """Yield the lines of one log in lists (about a megabyte each), as :func:`read_lines`.

    For :meth:`~loganalyze.tokenizer.Tokenizer.scan`, which works a block at a time.
    """
    stream = open_log_binary(name)
    try:
        # Splitting decoded blocks is the fastest way to lines in CPython; the
        # incremental decoder keeps a UTF-8 sequence cut by a block boundary.
        decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        tail = ""
        cutting = False  # inside a line longer than MAX_KEPT_LINE: drop text to its end
        for chunk in _blocks(stream, name):
            text = decode(chunk)
            if cutting:
                newline = text.find("\n")
                if newline < 0:
                    continue
                yield _clean([tail], tail)
                tail, cutting, text = "", False, text[newline + 1:]
            if tail:
                text = tail + text
            lines = text.split("\n")
            tail = lines.pop()
            if len(tail) > MAX_KEPT_LINE:
                tail, cutting = tail[:MAX_KEPT_LINE], True
            if lines:
                yield _clean(lines, text)
        tail += decode(b"", True)
        if tail or cutting:
            yield _clean([tail], tail)
    finally:
        if name != STDIN:
            stream.close()


def line_blocks(lines: Iterable[str], size: int = 8192) -> Iterator[list[str]]:
    """Group an iterable of lines into lists of ``size`` (the last may be shorter)."""
    iterator = iter(lines)
    while block := list(islice(iterator, size)):
        yield block


def file_size(name: str) -> int | None:
    """Size in bytes of a regular file, or None (standard input, pipes)."""
    if name == STDIN:
        return None
    try:
        return os.stat(name).st_size
    except OSError:
        return None


def file_mtime(name: str) -> float | None:
    """Last modification time of a file (epoch seconds), or None (standard input)."""
    if name == STDIN:
        return None
    try:
        return os.stat(name).st_mtime
    except OSError:
        return None


# -- byte ranges of plain files, for reading one big log on several cores --

_RANGE_BLOCK = 8 << 20


def is_plain_file(name: str) -> bool:
    """A regular, uncompressed file: the only kind that can be read from an offset."""
    try:
        with open(name, "rb") as handle:
            head = handle.read(6)
    except OSError:
        return False
    return os.path.isfile(name) and _compression(head) is None


def line_boundaries(name: str, size: int, pieces: int) -> list[int]:
    """Byte offsets that split a file into ``pieces`` ranges starting at line starts."""
    cuts = [0]
    with open(name, "rb") as handle:
        for k in range(1, pieces):
            handle.seek(max(size * k // pieces, cuts[-1]))
            handle.readline()  # to the start of the next line
            offset = handle.tell()
            if cuts[-1] < offset < size:
                cuts.append(offset)
    cuts.append(size)
    return cuts


def line_at(name: str, offset: int) -> str:
    """The line that starts at ``offset`` of a plain file (cleaned like :func:`read_lines`)."""
    with open(name, "rb") as handle:
        handle.seek(offset)
        raw = handle.readline(64 << 10).decode("utf-8", "replace").rstrip("\n")
    return _clean([raw], raw)[0]


def read_range(
    name: str, start: int, end: int | None, *, lookahead: int = 0
) -> Iterator[tuple[bool, str]]:
    """Yield (inside [start, end), line) for the lines of a plain file from ``start``.

    Past ``end`` (a line start) lines keep coming, marked outside, for up to
    ``lookahead`` bytes or until the caller stops.
    """
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    position = start  # file offset of ``tail``'s first byte
    tail = b""
    with open(name, "rb") as handle:
        handle.seek(start)
        while True:
            block = handle.read(_RANGE_BLOCK)
            if not block:
                break
            data = tail + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                tail = data
                continue
            body, tail = data[:cut], data[cut:]
            if end is None or position + cut <= end:
                portions = [(True, body)]
            elif position >= end:
                portions = [(False, body)]
            else:
                portions = [(True, body[: end - position]), (False, body[end - position:])]
            position += cut
            for inside, chunk in portions:
                text = decode(chunk)
                for line in _clean(text.split("\n")[:-1], text):
                    yield inside, line
            if end is not None and position > end + lookahead:
                return
        if tail:
            text = decode(tail, True)
            yield end is None or position < end, _clean([text], text)[0]
