"""Bounded samples that merge exactly: what the aggregates keep of lists that could grow
with the log (addresses, times), chosen so that the parts of a log read by several
workers (``--jobs``) merge into exactly what one read keeps."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import datetime
from typing import TypeAlias, TypeVar

Item = TypeVar("Item", str, int)

Sample: TypeAlias = "tuple[Item, ...] | Item"
"""A capped sample: the ``cap`` smallest items seen (in code-point order), sorted;
a lone item is held bare, not in a tuple (most samples hold one). Read it with
:func:`items`.

The smallest, not the first: then the sample of a log read in parts
(``--jobs``) and merged is the sample of the log read in one go, and what is
shown does not depend on order. A sorted tuple, not a set or a list: a set
takes five times the memory and a list over-allocates, and the samples are
most of the aggregates' memory; once the sample is full, most items are
refused before a new tuple is made.
"""


def items(kept: Sample[Item] | None) -> tuple[Item, ...]:
    """The items of a sample, smallest first."""
    if kept is None:
        return ()
    return kept if type(kept) is tuple else (kept,)  # type: ignore[return-value]


def sample(kept: Sample[Item] | None, new: Iterable[Item], cap: int) -> Sample[Item] | None:
    """``kept`` with the ``new`` items added: the ``cap`` smallest of all (see :data:`Sample`)."""
    for item in new:
        kept = sample_one(kept, item, cap)
    return kept


def sample_one(kept: Sample[Item] | None, item: Item, cap: int) -> Sample[Item]:
    """``kept`` with ``item`` added (:func:`sample` of one item); ``cap`` is 2 or more."""
    if kept is None:
        return item
    if type(kept) is not tuple:
        if kept == item:
            return kept
        return (kept, item) if kept < item else (item, kept)  # type: ignore[operator, return-value]
    n = len(kept)
    if n >= cap and item >= kept[-1]:  # beyond a full sample, or its largest
        return kept
    at = bisect_left(kept, item)
    if at < n and kept[at] == item:
        return kept
    return kept[:at] + (item,) + (kept[at:] if n < cap else kept[at:-1])


def as_set(kept: Sample[Item] | None) -> set[Item]:
    return set(items(kept))


def capped_union(mine: Sample[Item] | None, theirs: Sample[Item] | None,
                 cap: int) -> Sample[Item] | None:
    """The sample of both parts: the ``cap`` smallest of their union."""
    return sample(mine, items(theirs), cap) if theirs is not None else mine


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
