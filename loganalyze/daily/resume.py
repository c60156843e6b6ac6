"""Sessions that end in the new lines of a log, and where the rest began: the replay
that lets each daily report count every session exactly once (see
:mod:`loganalyze.input.cursors`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..aggregate import Traffic, TrafficCollector, rare_gc_passes
from ..input.lines import RawLines
from ..input.positions import Cursor, LineSource, SourceBlock
from ..model import EVERYTHING, Window
from ..parse import Tokenizer
from ..sessions import SmtpSession

# -- the incremental session reader -------------------------------------------------------


@dataclass
class ReadStats:
    """What one incremental read did."""

    lines_read: int = 0
    """New lines consumed (each line of the log is counted by exactly one run)."""
    replayed: int = 0
    """Lines read again to rebuild the sessions left open by the last run."""
    sessions: int = 0
    """Sessions passed to the callback (each session by exactly one run)."""
    held: int = 0
    """Sessions still open at the end, left for the next run."""
    warnings: list[str] = field(default_factory=list)


# Seconds between a hostname warning and its connect line that still count as
# one session's beginning (they are logged back to back by one process).
_WARNING_WINDOW = 60.0


def read_sessions(
    source: LineSource,
    tokenizer: Tokenizer,
    on_session: Callable[[SmtpSession], None],
    *,
    traffic: Traffic | None = None,
    window: Window = EVERYTHING,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Cursor, ReadStats]:
    """Feed the new part of a log through ``tokenizer``'s block scanner and analyze's
    :class:`~loganalyze.aggregate.TrafficCollector`.

    Calls ``on_session`` for each session inside ``window`` that ends in this
    run's lines and began in them or at a line the last run held (see the
    module docstring of :mod:`loganalyze.input.cursors` for why none is seen
    twice or lost), and returns the cursor the next run continues from.
    Evidence (postscreen, dnsblog, SPF rejects) of new lines inside ``window``
    goes into ``traffic``; a replayed line's evidence was counted by the run
    that read it first. With ``until``, reading stops before the first new
    line logged at or after that time; the rest is left for the next run.
    """
    held = source.held_keys()
    stats = ReadStats()
    held_lines: set[int] = set()  # numbers, in this run, of the lines the last run held
    first_new = 0  # number of the first new line, once known

    def take(session: SmtpSession) -> None:
        line = session.first_line
        if (first_new and line >= first_new) or line in held_lines:
            stats.sessions += 1
            on_session(session)

    collector = TrafficCollector(traffic, window, on_session=take, lines=tokenizer)
    scan = tokenizer.scan
    # Keys of the lines that sessions (or waiting hostname warnings) still open began with.
    begun: dict[int, Hashable] = {}
    stop: Hashable | None = None
    lineno = 1
    blocks = _blocks(source, tokenizer, collector, window, until)
    try:
        with rare_gc_passes():
            for block in blocks:
                lines, keys, new_from = block.lines, block.keys, block.new_from
                count = len(lines)
                if new_from:
                    for key in held:
                        index = keys.find(key)
                        if index is not None and index < new_from:
                            held_lines.add(lineno + index)
                    collector.count_evidence(False)
                    scan(_part(lines, 0, new_from), lineno, collector)
                    stats.replayed += min(new_from, count)
                if new_from < count:
                    if not first_new:
                        first_new = lineno + new_from
                        collector.count_evidence(True)
                    stopped = scan(_part(lines, new_from, count), lineno + new_from,
                                   collector, until)
                    before = stats.lines_read
                    stats.lines_read += (count if stopped is None else stopped - lineno) - new_from
                    if progress is not None and before >> 16 != stats.lines_read >> 16:
                        progress(stats.lines_read)
                    if stopped is not None:
                        stop = keys[stopped - lineno]
                begun = {line: begun[line] if line < lineno else keys[line - lineno]
                         for line in collector.open_lines()}
                if stop is not None:
                    break
                lineno += count
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
    stats.held = collector.open_count()
    still_open = sorted(collector.open_lines(_WARNING_WINDOW))
    stats.warnings = list(source.warnings)
    cursor = Cursor(
        source.source, source.kind, source.done(stop),
        tuple(source.position(begun[line]) for line in still_open), source.size(),
    )
    return cursor, stats


def _blocks(source: LineSource, tokenizer: Tokenizer, collector: TrafficCollector,
            window: Window, until: datetime | None) -> Iterator[SourceBlock]:
    """The source's blocks, in bytes when the compiled core can read them all (a file
    source, an open window, no ``until``, the tokenizer reading as its scanner does:
    decided before the first line); else as text, for the Python path."""
    raw_blocks = getattr(source, "raw_blocks", None)
    if (raw_blocks is not None and until is None and window.is_open
            and tokenizer.compiled_builder(collector) is not None):
        blocks: Iterator[SourceBlock] = raw_blocks()
        return blocks
    return source.blocks()


def _part(lines: Sequence[str], start: int, stop: int) -> Sequence[str]:
    """Lines ``start`` to ``stop`` of a block (of bytes, for :class:`RawLines`)."""
    if start == 0 and stop >= len(lines):
        return lines
    if isinstance(lines, RawLines):
        head, tail = lines.cut(start or stop)
        return tail if start else head
    return lines[start:stop]
