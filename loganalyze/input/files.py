"""Open log files (plain or compressed, or standard input) as streams of text lines.

Compression is detected from the first bytes (:func:`compression_of`, the rule the
report's cursors use too), not the file name, because rotated logs are renamed freely.
Byte ranges of plain files for ``--jobs`` are in :mod:`loganalyze.input.ranges`.

Lines are split by the rules of :mod:`loganalyze.input.lines` (in big blocks;
bytes that are not UTF-8 become U+FFFD; nothing is lost).

Compressed logs are decompressed in a background thread, a few blocks ahead of
the reader (zlib, bz2 and lzma let go of the GIL while they work), so on a
second core a ``.gz`` costs little more than the plain file.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
import lzma
import os
import queue
import stat
import sys
import threading
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, cast

from .. import core
from ..errors import InputError
from .lines import LineBlock, LineSplitter
from .urls import is_url, open_url, url_info

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
# Compressed bytes read at a time by the decompressing thread.
_COMPRESSED_CHUNK = 256 << 10
# Decompressed blocks waiting for the reader: memory stays bounded by a few _BLOCKs.
_QUEUE_BLOCKS = 4


def _gzip_inflater() -> Any:
    """The zlib-like module for gzip: ``isal_zlib`` (igzip, about twice as fast)
    when the optional ``isal`` package is installed, else the standard zlib."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        return zlib


_INFLATE: Any = _gzip_inflater()


@dataclass(frozen=True, slots=True)
class LogSource:
    """One input: a path, or ``-`` for standard input."""

    name: str
    """The path as the user gave it, or ``-``."""

    @property
    def is_stdin(self) -> bool:
        """True for standard input."""
        return self.name == STDIN


def compression_of(head: bytes) -> str | None:
    """The compression of a file starting with ``head`` (gzip, bz2, xz), or None."""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _open_binary(name: str) -> BinaryIO:
    if name == STDIN:
        return sys.stdin.buffer
    if is_url(name):
        return open_url(name)
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


def _open_detected(name: str) -> tuple[io.BufferedReader, str | None]:
    """The opened file, buffered for peeking, and its compression (None: plain)."""
    raw = _open_binary(name)
    peekable = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw))
    try:
        head = peekable.peek(6)[:6]
    except OSError as exc:
        if name != STDIN:
            peekable.close()
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    return peekable, compression_of(head)


def _decompressor(kind: str, peekable: io.BufferedReader) -> io.BufferedIOBase:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=peekable, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(peekable, mode="rb")
    return lzma.LZMAFile(peekable, mode="rb")


def open_log_binary(name: str) -> io.BufferedIOBase:
    """Open a log for reading bytes, decompressing gzip, bzip2 or xz by content.

    Closing the result closes the file (never standard input).
    """
    peekable, kind = _open_detected(name)
    if kind is None:
        return peekable
    return _Decompressing(_decompressor(kind, peekable), peekable, name != STDIN)


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


_DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, zlib.error, lzma.LZMAError, ValueError, _INFLATE.error)


def _damaged(name: str, exc: BaseException) -> InputError:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(
        f"{name}: cannot read: {message}; is the file a complete log, "
        "or a damaged compressed file?"
    )


def _blocks(stream: io.BufferedIOBase, name: str) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read)
    while True:
        try:
            chunk = read(_BLOCK)
        except _DECOMPRESSION_ERRORS as exc:
            raise _damaged(name, exc) from None
        if not chunk:
            return
        yield chunk


def _inflate_gzip(raw: BinaryIO, stop: threading.Event) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file, at most ``_BLOCK`` at a time.

    Big reads of the compressed file go straight to zlib (GzipFile reads
    128 KiB at a time and copies more). Members written one after another
    (``cat a.gz b.gz``, some log rotations) are all read, zero padding between
    them is skipped as gzip does, and a file cut inside a member is an error.
    """
    block = _BLOCK
    read = getattr(raw, "read1", raw.read)  # what a pipe has, not waiting for more
    inflater: Any = None  # None between members
    data = b""
    at_end = False
    while not stop.is_set():
        if not data and not at_end:
            data = read(_COMPRESSED_CHUNK)
            at_end = not data
        if inflater is None:
            data = data.lstrip(b"\x00")
            if not data:
                if at_end:
                    return
                continue
            inflater = _INFLATE.decompressobj(31)  # gzip header and trailer, CRC checked
        out = inflater.decompress(data, block)
        if inflater.eof:
            data, inflater = inflater.unused_data, None
        else:
            data = inflater.unconsumed_tail
        if out:
            yield out
        elif at_end and inflater is not None and not data:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")


def _decompress_streams(
    raw: BinaryIO,
    new: Callable[[], Any],
    trailing_error: type[Exception],
    stop: threading.Event,
) -> Iterator[bytes]:
    """The decompressed bytes of a bzip2 or xz file, at most ``_BLOCK`` at a time.

    What BZ2File and LZMAFile do (streams one after another are all read, data
    after the last one that is not a stream is ignored, a cut stream is an
    error), with big reads: their 8 KiB reads would each wait for the GIL.
    """
    block = _BLOCK
    read = getattr(raw, "read1", raw.read)
    decompressor = new()
    while not stop.is_set():
        if decompressor.eof:
            data = decompressor.unused_data or read(_COMPRESSED_CHUNK)
            if not data:
                return
            decompressor = new()
            try:
                out = decompressor.decompress(data, block)
            except trailing_error:
                return  # not another stream: ignored, as BZ2File and LZMAFile do
        else:
            if decompressor.needs_input:
                data = read(_COMPRESSED_CHUNK)
                if not data:
                    raise EOFError(
                        "Compressed file ended before the end-of-stream marker was reached")
            else:
                data = b""
            out = decompressor.decompress(data, block)
        if out:
            yield out


_END = object()


def _in_background(
    produce: Callable[[threading.Event], Iterator[bytes]],
    cleanup: Callable[[], object],
    name: str,
    wait_on_close: bool,
) -> Generator[bytes, None, None]:
    """Yield what ``produce`` yields, computed in a thread ahead of the reader.

    zlib, bz2 and lzma release the GIL on big buffers, so decompression runs
    on another core while the reader splits and tokenizes. The queue is
    bounded, so memory is too. ``cleanup`` (closing the file) runs in the
    thread when it ends. Closing this generator stops the thread; it is waited
    for when ``wait_on_close`` (a regular file, whose reads always return),
    not for standard input or a pipe, which may block for ever.
    """
    blocks: queue.Queue[object] = queue.Queue(_QUEUE_BLOCKS)
    stop = threading.Event()

    def hand(item: object) -> bool:
        while not stop.is_set():
            try:
                blocks.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for chunk in produce(stop):
                if not hand(chunk):
                    return
            hand(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            hand(exc)
        finally:
            cleanup()

    thread = threading.Thread(target=work, name=f"decompress {name}", daemon=True)
    thread.start()
    try:
        while True:
            item = blocks.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                if isinstance(item, _DECOMPRESSION_ERRORS):
                    raise _damaged(name, item) from None
                raise item
            yield cast(bytes, item)
    finally:
        stop.set()  # a waiting put gives up within 0.1 s
        if wait_on_close:
            thread.join()


def read_lines(name: str) -> Generator[str, None, None]:
    """Yield the lines of one log without their line endings (:mod:`loganalyze.input.lines`).

    A corrupt or truncated compressed file raises :class:`InputError` naming
    the file; the lines read before the damage have been yielded already.
    """
    blocks = read_blocks(name)
    try:
        for block in blocks:
            yield from block
    finally:
        blocks.close()


def read_blocks(name: str, *, compiled: bool = False) -> Generator[list[str], None, None]:
    """Yield the lines of one log in lists (about a megabyte each), as :func:`read_lines`.

    For :meth:`~loganalyze.parse.Tokenizer.scan`, which works a block at a time.
    With ``compiled``, the compiled core (when it is built) leaves out lines the
    tokenizer would only count as irrelevant: blocks are then
    :class:`~loganalyze.input.lines.KeptLines`.
    """
    for block in _split(name, LineSplitter(keep=core.line_filter() if compiled else None)):
        yield block.lines


def read_raw_blocks(name: str) -> Generator[Sequence[str], None, None]:
    """As :func:`read_blocks`, but for the compiled core's scanner: the blocks are
    :class:`~loganalyze.input.lines.RawLines` (not decoded) when the core is built
    (the sequential run's :class:`~loganalyze.aggregate.TrafficCollector` reads them
    in C; other readers decode them), lists otherwise."""
    raw = core.library() is not None
    for block in _split(name, LineSplitter(raw=raw)):
        yield block.raw if block.raw is not None else block.lines


def _split(name: str, splitter: LineSplitter) -> Generator[LineBlock, None, None]:
    """The blocks ``splitter`` makes of the bytes of a log."""
    chunks = decompressed_blocks(name)
    try:
        for chunk in chunks:
            block = splitter.feed(chunk)
            if block is not None:
                yield block
        last = splitter.finish()
        if last is not None:
            yield last
    finally:
        chunks.close()


def decompressed_blocks(name: str) -> Generator[bytes, None, None]:
    """The bytes of a log, decompressed (in a background thread) if need be."""
    peekable, kind = _open_detected(name)
    owner = name != STDIN
    if kind is None:
        try:
            yield from _blocks(peekable, name)
        finally:
            if owner:
                peekable.close()
        return

    def cleanup() -> None:
        if owner:
            peekable.close()

    produce: Callable[[threading.Event], Iterator[bytes]]
    if kind == "gzip":
        produce = partial(_inflate_gzip, peekable)
    elif kind == "bz2":
        produce = partial(_decompress_streams, peekable, bz2.BZ2Decompressor, OSError)
    else:
        produce = partial(_decompress_streams, peekable, lzma.LZMADecompressor, lzma.LZMAError)
    try:
        regular = owner and stat.S_ISREG(os.fstat(peekable.fileno()).st_mode)
    except (OSError, ValueError):
        regular = False
    yield from _in_background(produce, cleanup, name, wait_on_close=regular)


def line_blocks(lines: Iterable[str], size: int = 8192) -> Iterator[list[str]]:
    """Group an iterable of lines into lists of ``size`` (the last may be shorter)."""
    iterator = iter(lines)
    while block := list(islice(iterator, size)):
        yield block


def distinct_files(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``names`` without a file named again (the same device and inode under the same or
    another name), and the names left out: a log named twice is read once."""
    seen: set[tuple[int, int]] = set()
    kept: list[str] = []
    repeated: list[str] = []
    for name in names:
        try:
            st = os.stat(name) if name != STDIN else None
        except OSError:
            st = None  # opening it says what is wrong
        if st is not None and stat.S_ISREG(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                repeated.append(name)
                continue
            seen.add((st.st_dev, st.st_ino))
        kept.append(name)
    return kept, repeated


def open_raw(name: str) -> BinaryIO:
    """A log file (a path or an fsspec URL), open for reading its bytes as stored:
    for byte ranges (:mod:`loganalyze.input.ranges`)."""
    return _open_binary(name)


def is_regular_file(name: str) -> bool:
    """True for a regular file (or a URL's file), not a directory, pipe or device."""
    if is_url(name):
        info = url_info(name)
        return info is not None and info.is_file
    return name != STDIN and os.path.isfile(name)


def file_size(name: str) -> int | None:
    """Size in bytes of a regular file, or None (standard input, pipes)."""
    if name == STDIN:
        return None
    if is_url(name):
        info = url_info(name)
        return info.size if info is not None else None
    try:
        return os.stat(name).st_size
    except OSError:
        return None


def file_mtime(name: str) -> float | None:
    """Last modification time of a file (epoch seconds), or None (standard input)."""
    if name == STDIN:
        return None
    if is_url(name):
        info = url_info(name)
        return info.mtime if info is not None else None
    try:
        return os.stat(name).st_mtime
    except OSError:
        return None
