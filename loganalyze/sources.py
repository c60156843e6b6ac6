"""Open log files (plain or compressed, or standard input) as streams of text lines.

This is the only module that opens files. Compression is detected from the
first bytes, not the file name, because rotated logs are renamed freely.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
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


def open_log(name: str) -> io.TextIOWrapper:
    """Open a log for reading text, decompressing gzip, bzip2 or xz by content.

    Bytes that are not UTF-8 are replaced (Postfix itself writes ``?`` for
    them), so decoding never fails.
    """
    raw = _open_binary(name)
    peekable = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    kind = _compression(peekable.peek(6)[:6])
    stream: io.BufferedIOBase
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=peekable, mode="rb")
    elif kind == "bz2":
        stream = bz2.BZ2File(peekable, mode="rb")
    elif kind == "xz":
        stream = lzma.LZMAFile(peekable, mode="rb")
    else:
        stream = peekable
    return io.TextIOWrapper(
        stream,
        encoding="utf-8",
        errors="replace",
        newline="\n",
    )


_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


def read_lines(name: str) -> Iterator[str]:
    """Yield the lines of one log without their line endings.

    A corrupt or truncated compressed file raises :class:`InputError` naming
    the file; the lines read before the damage have been yielded already.
    """
    stream = open_log(name)
    try:
        while True:
            try:
                block = stream.readlines(_BUFFER)
            except _DECOMPRESSION_ERRORS as exc:
                raise InputError(
                    f"{name}: cannot read: {exc}; is the file a complete log, "
                    "or a damaged compressed file?"
                ) from None
            if not block:
                return
            for line in block:
                yield line.rstrip("\r\n")
    finally:
        if name != STDIN:
            stream.close()


def file_size(name: str) -> int | None:
    """Size in bytes of a regular file, or None (standard input, pipes)."""
    if name == STDIN:
        return None
    try:
        return os.stat(name).st_size
    except OSError:
        return None
