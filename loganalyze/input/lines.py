"""Bytes to text lines: the one rule every reader of a log follows.

Lines are split on ``\\n`` only, in big blocks (the tokenizer's cost per line
is what matters, not the number of calls). Nothing is lost: bytes that are not
UTF-8 become U+FFFD, a ``\\r`` before the newline and NUL bytes at the start of
a line (what a crash leaves in a syslog file) are dropped, a last line without
a newline is still a line (unless the reader says it is being written), and a
line longer than :data:`MAX_KEPT_LINE` is cut to that length (no log line is
that long; the tokenizer reports it).

:class:`LineSplitter` can also say where each line ends in the bytes, which
the daily report's cursors and the ``--jobs`` ranges need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

MAX_KEPT_LINE = 1 << 20
"""Longer lines are cut to this many characters, so a file without newlines cannot fill
memory."""


def clean(lines: list[str], text: str) -> list[str]:
    """``lines`` (split from ``text``) without a ``\\r`` at the end or NULs at the start."""
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    if "\x00" in text:
        lines = [line.lstrip("\x00") for line in lines]
    return lines


def decode_line(raw: bytes) -> str:
    """One line as bytes to text, by the rules above (for readers of one line at a time,
    such as the journal's JSON entries)."""
    text = raw.decode("utf-8", "replace").rstrip("\n")
    return clean([text[:MAX_KEPT_LINE]], text)[0]


class KeptLines(list[str]):
    """The lines of a block that a line filter (the compiled core) did not prove
    irrelevant, with the number of each in the block (:attr:`numbers`, 0-based) and the number of
    lines the block had (:attr:`total`); the others would only be counted as irrelevant
    (:meth:`~loganalyze.parse.scan.Tokenizer.scan` counts them so)."""

    __slots__ = ("numbers", "total")

    def __init__(self, lines: list[str], numbers: list[int], total: int) -> None:
        super().__init__(lines)
        self.numbers = numbers
        self.total = total


def decode_block(body: bytes) -> list[str]:
    """The lines of ``body`` (complete lines, each with its newline), by the rules above."""
    text = body.decode("utf-8", "replace")
    lines = text.split("\n")
    lines.pop()  # body ends with a newline
    if len(body) > MAX_KEPT_LINE and max(map(len, lines)) > MAX_KEPT_LINE:
        lines = [line[:MAX_KEPT_LINE] for line in lines]
    return clean(lines, text)


class RawLines(Sequence[str]):
    """A block of complete lines still in bytes (:attr:`body`, each line with its
    newline), for the compiled core's scanner; decoded by the rules above when a
    reader asks for its lines as text."""

    __slots__ = ("_lines", "body", "total")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.total = body.count(b"\n")
        self._lines: list[str] | None = None

    def decoded(self) -> list[str]:
        if self._lines is None:
            self._lines = decode_block(self.body)
        return self._lines

    def cut(self, index: int) -> tuple[RawLines, RawLines]:
        """The lines before line ``index`` (0-based) and the others, still in bytes."""
        at = 0
        for _ in range(min(index, self.total)):
            at = self.body.index(b"\n", at) + 1
        return RawLines(self.body[:at]), RawLines(self.body[at:])

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: Any) -> Any:
        return self.decoded()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoded())


def block_size(lines: Sequence[str]) -> int:
    """The number of lines a block stands for (:class:`KeptLines` leaves some out)."""
    return lines.total if isinstance(lines, KeptLines) else len(lines)


LineFilter = Callable[[bytes], tuple[bytes, list[int], int]]
"""Bytes of complete lines -> (bytes of the lines kept, their numbers in the block, the
number of lines): :class:`loganalyze.core.LineFilter`."""


@dataclass(slots=True)
class LineBlock:
    """Lines split from a run of bytes."""

    lines: list[str]
    """A list, or :class:`KeptLines` (empty when :attr:`raw` holds them)."""
    start: int
    """Byte offset of the first line's first byte."""
    ends: Sequence[int] | None
    """Byte offset just past each line's newline (None unless asked for)."""
    raw: RawLines | None = None
    """The lines as bytes, when the splitter was asked not to decode them."""


class LineSplitter:
    """Cuts chunks of bytes into blocks of complete lines.

    ``start`` is the byte offset of the first chunk; with ``offsets`` each
    block says where its lines end (:attr:`LineBlock.ends`). With ``keep``, only
    the lines it keeps are decoded, and blocks are :class:`KeptLines` (no offsets);
    with ``raw``, nothing is decoded, and blocks are :class:`RawLines` (with offsets
    if asked: the daily report's compiled reading).
    """

    def __init__(self, start: int = 0, *, offsets: bool = False,
                 keep: LineFilter | None = None, raw: bool = False) -> None:
        if offsets and keep is not None:
            raise ValueError("a filtered block has no line offsets")
        self._keep = keep
        self._raw = raw
        self.position = start
        """Byte offset of the first byte not yet in a block."""
        self._offsets = offsets
        self._line_ends: Callable[[bytes, int], Sequence[int]] | None = None
        if raw and offsets:  # the compiled core's, where there is one (the same ends)
            from .. import core

            self._line_ends = core.line_ends()
        self._tail = b""
        self._dropped = 0  # bytes of the tail's line cut off beyond MAX_KEPT_LINE
        self._cutting = False

    def feed(self, chunk: bytes) -> LineBlock | None:
        """The complete lines that ``chunk`` ends (None if it ends none)."""
        if self._cutting:
            newline = chunk.find(b"\n")
            if newline < 0:
                self._dropped += len(chunk)
                return None
            self._dropped += newline
            chunk = chunk[newline:]
            self._cutting = False
        data = self._tail + chunk if self._tail else chunk
        cut = data.rfind(b"\n") + 1
        if not cut:
            self._tail = data
            if len(data) > MAX_KEPT_LINE:
                self._dropped += len(data) - MAX_KEPT_LINE
                self._tail, self._cutting = data[:MAX_KEPT_LINE], True
            return None
        body, self._tail = data[:cut], data[cut:]
        block = (self._raw_block(body) if self._raw
                 else self._kept(body) if self._keep is not None
                 else self._block(body, body.decode("utf-8", "replace")))
        if len(self._tail) > MAX_KEPT_LINE:
            self._dropped += len(self._tail) - MAX_KEPT_LINE
            self._tail, self._cutting = self._tail[:MAX_KEPT_LINE], True
        return block

    def finish(self, *, partial: bool = True) -> LineBlock | None:
        """The last line if it has no newline (None if there is none, or not ``partial``:
        a file being written ends in a line not complete yet)."""
        if not (self._tail or self._cutting) or not partial:
            return None
        tail, self._tail = self._tail, b""
        if self._keep is not None or self._raw:
            block = self._raw_block(tail + b"\n") if self._raw else self._kept(tail + b"\n")
            self.position -= 1  # the newline added for the filter
            self._cutting = False
            if block.ends is not None:
                block.ends = [self.position]
            return block
        text = tail.decode("utf-8", "replace")
        start = self.position
        self.position += len(tail) + self._dropped
        self._dropped, self._cutting = 0, False
        return LineBlock(clean([text], text), start,
                         [self.position] if self._offsets else None)

    def _ends(self, parts: Sequence[str] | Sequence[bytes]) -> list[int]:
        """Where each line ends, from the lengths of ``parts`` (a block's lines without
        their newlines, in bytes): the dropped part of a cut line belongs to the first."""
        return list(accumulate(map((1).__add__, map(len, parts)),
                               initial=self.position + self._dropped))[1:]

    def _block(self, body: bytes, text: str) -> LineBlock:
        lines = text.split("\n")
        lines.pop()  # body ends with a newline
        start = self.position
        ends: list[int] | None = None
        if self._offsets:
            # Byte lengths: the text's when it is ASCII, else the bytes'.
            ends = self._ends(lines if body.isascii() else body.split(b"\n")[:-1])
        if len(body) > MAX_KEPT_LINE and max(map(len, lines)) > MAX_KEPT_LINE:
            lines = [line[:MAX_KEPT_LINE] for line in lines]
        self.position += len(body) + self._dropped
        self._dropped = 0
        return LineBlock(clean(lines, text), start, ends)

    def _raw_block(self, body: bytes) -> LineBlock:
        start = self.position
        ends: Sequence[int] | None = None
        if self._line_ends is not None:
            ends = self._line_ends(body, self.position + self._dropped)
        elif self._offsets:
            ends = self._ends(body.split(b"\n")[:-1])
        self.position += len(body) + self._dropped
        self._dropped = 0
        return LineBlock([], start, ends, RawLines(body))

    def _kept(self, body: bytes) -> LineBlock:
        """The lines of ``body`` (complete lines) that the filter keeps, cleaned alike."""
        assert self._keep is not None
        kept, numbers, total = self._keep(body)
        if total and (not numbers or numbers[0]):
            # The block's first line is kept even when irrelevant (the tokenizer counts it
            # so): the fast path reads a block in its first line's stamp format.
            kept = body[:body.find(b"\n") + 1] + kept
            numbers = [0, *numbers]
        lines = decode_block(kept)  # every kept line ends with a newline
        start = self.position
        self.position += len(body) + self._dropped
        self._dropped = 0
        return LineBlock(KeptLines(lines, numbers, total), start, None)
