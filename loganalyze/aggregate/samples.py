"""Bounded samples that merge exactly: what the aggregates keep of lists that could grow
with the log (addresses, times), chosen so that the parts of a log read by several
workers (``--jobs``) merge into exactly what one read keeps."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

Sample = list[str]
"""A capped sample of addresses: the ``cap`` smallest seen (in code-point order), sorted.

The smallest, not the first: then the sample of a log read in parts
(``--jobs``) and merged is the sample of the log read in one go, and what is
shown does not depend on order. A sorted list, not a set: a fifth of the
memory, and the samples are most of the aggregates' memory.
"""


def sample(kept: Sample | None, items: Iterable[str], cap: int) -> Sample:
    """``kept`` with ``items`` added: the ``cap`` smallest of all (see :data:`Sample`)."""
    if kept is None:
        kept = []
    for item in items:
        at = bisect_left(kept, item)
        if at < len(kept) and kept[at] == item:
            continue
        if len(kept) < cap:
            kept.insert(at, item)
        elif at < cap:
            kept.insert(at, item)
            kept.pop()
    return kept


def as_set(kept: Sample | None) -> set[str]:
    return set(kept) if kept else set()


def capped_union(mine: Sample | None, theirs: Sample | None, cap: int) -> Sample | None:
    """The sample of both parts: the ``cap`` smallest of their union."""
    return sample(mine, theirs, cap) if theirs else mine


def earliest_capped(kept: list[datetime] | None, times: Iterable[datetime],
                     cap: int) -> list[datetime]:
    """``kept`` (sorted) with ``times`` added, holding the ``cap`` earliest of all.

    The earliest, not the first seen: then the parts of a log read by several
    workers merge into exactly the list of one read.
    """
    if kept is None:
        kept = []
    for when in times:
        if len(kept) < cap:
            insort(kept, when)
        elif when < kept[-1]:
            insort(kept, when)
            kept.pop()
    return kept


def earlier(mine: datetime | None, theirs: datetime | None) -> datetime | None:
    """The earlier of two times, either of which may be unknown."""
    return theirs if mine is None or (theirs is not None and theirs < mine) else mine


def later(mine: datetime | None, theirs: datetime | None) -> datetime | None:
    """The later of two times, either of which may be unknown."""
    return theirs if mine is None or (theirs is not None and theirs > mine) else mine


def added(mine: Counter[Any] | None, theirs: Counter[Any] | None) -> Counter[Any] | None:
    if not theirs:
        return mine
    if mine is None:
        return Counter(theirs)
    mine.update(theirs)
    return mine
