"""Byte ranges of plain files, for reading one big log on several cores (``--jobs``):
where to cut, and the lines of one range (by the rules of :mod:`loganalyze.input.lines`)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from .. import core
from ..errors import InputError
from .files import compression_of, is_regular_file, open_raw
from .lines import LineBlock, LineSplitter, decode_line

_RANGE_BLOCK = 8 << 20
_FILTER_BLOCK = 1 << 20
"""Bytes per read through the compiled core's filter (as :func:`read_blocks`)."""


def is_plain_file(name: str) -> bool:
    """A regular, uncompressed file: the only kind that can be read from an offset."""
    if not is_regular_file(name):
        return False
    try:
        with open_raw(name) as handle:
            head = handle.read(6)
    except (OSError, InputError):
        return False
    return compression_of(head) is None


def line_boundaries(name: str, size: int, pieces: int) -> list[int]:
    """Byte offsets that split a file into ``pieces`` ranges starting at line starts."""
    cuts = [0]
    with open_raw(name) as handle:
        for k in range(1, pieces):
            handle.seek(max(size * k // pieces, cuts[-1]))
            handle.readline()  # to the start of the next line
            offset = handle.tell()
            if cuts[-1] < offset < size:
                cuts.append(offset)
    cuts.append(size)
    return cuts


def line_start_before(name: str, offset: int, distance: int) -> int:
    """The first line start at or after ``offset - distance`` (and at most ``offset``)."""
    if offset <= distance:
        return 0
    with open_raw(name) as handle:
        handle.seek(offset - distance)
        handle.readline(distance)  # to the start of the next line
        return min(handle.tell(), offset)


def line_at(name: str, offset: int) -> str:
    """The line that starts at ``offset`` of a plain file (cleaned like :func:`read_lines`)."""
    with open_raw(name) as handle:
        handle.seek(offset)
        return decode_line(handle.readline(64 << 10))


def read_range(
    name: str, start: int, end: int | None, *, lookahead: int = 0, compiled: bool = False,
    raw: bool = False,
) -> Iterator[tuple[bool, Sequence[str]]]:
    """Yield (inside [start, end), lines) for the lines of a plain file from ``start``,
    in blocks (cleaned like :func:`read_blocks`).

    Past ``end`` (a line start) lines keep coming, marked outside, for up to
    ``lookahead`` bytes or until the caller stops. With ``compiled``, the inside
    blocks may be :class:`~loganalyze.input.lines.KeptLines` (as ``read_blocks``);
    with ``raw``, they are :class:`~loganalyze.input.lines.RawLines` (for the
    compiled scanner, as ``read_raw_blocks``).
    """
    keep = core.line_filter() if compiled and not raw else None
    with open_raw(name) as handle:
        handle.seek(start)
        if keep is not None or raw:
            # The range alone through the filter (``end`` is a line start), then the rest.
            yield from _whole_blocks(handle, start, end, LineSplitter(start, keep=keep, raw=raw))
            if end is None:
                return
            start = end
        yield from _split(handle, start, end, lookahead)


def _whole_blocks(handle: BinaryIO, start: int, end: int | None,
                  splitter: LineSplitter) -> Iterator[tuple[bool, Sequence[str]]]:
    """The range's blocks as ``splitter`` makes them (filtered or raw: no offsets)."""
    left = None if end is None else end - start
    while left is None or left > 0:
        chunk = handle.read(_FILTER_BLOCK if left is None else min(_FILTER_BLOCK, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        block = splitter.feed(chunk)
        if block is not None:
            yield True, _lines_of(block)
    last = splitter.finish()
    if last is not None:
        yield True, _lines_of(last)


def _lines_of(block: LineBlock) -> Sequence[str]:
    return block.raw if block.raw is not None else block.lines


def _split(handle: BinaryIO, start: int, end: int | None,
           lookahead: int) -> Iterator[tuple[bool, list[str]]]:
    splitter = LineSplitter(start, offsets=True)
    while True:
        chunk = handle.read(_RANGE_BLOCK)
        block = splitter.feed(chunk) if chunk else splitter.finish()
        if block is None:
            if not chunk:
                return
            continue
        assert block.ends is not None
        # Lines ending at or before ``end`` (a line start) are inside.
        inside = len(block.ends) if end is None else bisect_right(block.ends, end)
        if inside:
            yield True, block.lines[:inside] if inside < len(block.lines) else block.lines
        if inside < len(block.lines):
            yield False, block.lines[inside:]
        if not chunk or (end is not None and splitter.position > end + lookahead):
            return
