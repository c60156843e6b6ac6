"""Several logs read as one timeline: rotated files in any order, and standard input.

``mail.log.2.gz mail.log mail.log.1`` (any order, any mix of formats and
compression) becomes one stream of lines, oldest file first, so that the
tokenizer's year inference and the session builder see time run forward.
Files are ordered by the time of their first line; each file's format is
detected from its first lines (:func:`~loganalyze.tokenizer.detect_format`).

A traditional syslog stamp has no year. A line cannot be later than the
modification time of its file (a file was last written when its last line
was), nor than now: :func:`reference_time` is the earlier of the two
(standard input: now). A file's first line is dated by the tokenizer's rule
(:func:`~loganalyze.parse.header.latest_year`): the latest year in which
its whole stamp is not later than the reference; the tokenizer reading the
timeline takes the reference of its oldest input (:func:`timeline_reference`).

Files are concatenated, not merged line by line: rotated logs do not
overlap. A central log holding many hosts is one file; sessions are keyed
by host downstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import chain, islice

from ..model import InputFormat
from ..parse import Tokenizer, detect_format
from .files import STDIN, file_mtime, line_blocks, read_blocks, read_lines, read_raw_blocks

# Lines read from the start of each input to detect its format and first time.
_HEAD = 200


@dataclass(slots=True)
class TimelineInput:
    """One input of a timeline, probed: its format and the time of its first line."""

    name: str
    """The path as given, or ``-`` for standard input."""
    input_format: InputFormat
    """Detected from the first lines (or forced); ``auto`` if none was recognised."""
    first_time: datetime | None
    """Time of the first line with a valid stamp (year inferred as described above)."""
    reference: datetime = datetime.max
    """No line of this input is later (:func:`reference_time`)."""
    _head: list[str] | None = field(default=None, repr=False)
    _rest: Iterator[str] | None = field(default=None, repr=False)

    def lines(self) -> Iterator[str]:
        """All lines of this input (standard input: the probed head, then the rest)."""
        if self._rest is not None:
            head, rest = self._head or [], self._rest
            self._head, self._rest = None, None
            return chain(head, rest)
        return read_lines(self.name)

    def blocks(self, *, compiled: bool = False) -> Iterator[list[str]]:
        """All lines of this input in lists, as :func:`~loganalyze.input.files.read_blocks`
        (``compiled``: the compiled core may leave out irrelevant lines)."""
        if self._rest is not None:
            head, rest = self._head or [], self._rest
            self._head, self._rest = None, None
            return chain([head] if head else [], line_blocks(rest))
        return read_blocks(self.name, compiled=compiled)

    def raw_blocks(self) -> Iterator[Sequence[str]]:
        """All lines of this input for the compiled core's scanner
        (:func:`~loganalyze.input.files.read_raw_blocks`)."""
        if self._rest is not None:
            return self.blocks()  # already being read as text (standard input)
        return read_raw_blocks(self.name)


def reference_time(name: str, now: datetime | None) -> datetime:
    """The latest time a line of ``name`` can have, in this machine's wall clock (that of
    syslog stamps, whatever ``--tz``): the file's modification time, or ``now``
    (default the clock) when that is earlier or there is none (standard input, the
    journal)."""
    clock = now or datetime.now()
    mtime = file_mtime(name)
    return clock if mtime is None else min(datetime.fromtimestamp(mtime), clock)


def timeline_reference(inputs: Sequence[TimelineInput], now: datetime | None) -> datetime:
    """The reference of a timeline's tokenizer: that of its oldest input with a stamp,
    so that its first line is dated as :func:`probe` dated it (else ``now``)."""
    return next((i.reference for i in inputs if i.first_time is not None),
                now or datetime.now())


def probe(
    name: str,
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> TimelineInput:
    """Read the first lines of one input: its format and first time.

    Raises :class:`~loganalyze.errors.InputError` if it cannot be opened or
    read. Standard input keeps what was read for :meth:`TimelineInput.lines`.
    """
    forced = InputFormat(input_format)
    stream = read_lines(name)
    try:
        head = list(islice(stream, _HEAD))
    except BaseException:
        stream.close()
        raise
    detected = detect_format(head) if forced is InputFormat.AUTO else forced
    reference = reference_time(name, now)
    tokenizer = Tokenizer(now=reference, tz=tz, input_format=forced)
    first = next((t for t in map(tokenizer.line_time, head) if t is not None), None)
    if name == STDIN:
        return TimelineInput(name, detected, first, reference, head, stream)
    stream.close()
    return TimelineInput(name, detected, first, reference)


def order_inputs(
    names: Sequence[str],
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> list[TimelineInput]:
    """Probe every input and sort them by first time (inputs without one first).

    The sort is stable: inputs with the same first time keep the given order.
    """
    inputs = [probe(name, input_format=input_format, tz=tz, now=now) for name in names]
    return sorted(inputs, key=lambda i: (i.first_time is not None, i.first_time or datetime.min))


def read_timeline(
    names: Sequence[str],
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Iterator[str]:
    """Yield the lines of several logs as one timeline, oldest input first.

    Every input is opened (and probed) before the first line is yielded, so a
    missing file fails early with :class:`~loganalyze.errors.InputError`.
    Pass the same ``input_format`` and ``tz`` to the :class:`Tokenizer`.
    """
    for item in order_inputs(names, input_format=input_format, tz=tz, now=now):
        yield from item.lines()


def read_timeline_blocks(
    names: Sequence[str],
    *,
    input_format: InputFormat | str = InputFormat.AUTO,
    tz: tzinfo | None = None,
    now: datetime | None = None,
    compiled: bool = False,
) -> Iterator[list[str]]:
    """:func:`read_timeline` in lists of lines (about a megabyte each), for
    :meth:`~loganalyze.tokenizer.Tokenizer.scan` (``compiled``: see
    :func:`~loganalyze.input.files.read_blocks`)."""
    for item in order_inputs(names, input_format=input_format, tz=tz, now=now):
        yield from item.blocks(compiled=compiled)
