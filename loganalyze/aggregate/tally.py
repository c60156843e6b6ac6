"""Counts that stay small while they count one thing.

Most senders and clients have one reject category, one logged HELO check,
one SPF result: a Counter each (about 200 bytes) would be a large part of
their memory. A :data:`Tally` is ``None`` (nothing counted), one ``(key, count)``
pair, or a Counter once a second key comes; keys keep their first-seen order,
as a Counter's do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import TypeVar, Union

Key = TypeVar("Key", bound=Hashable)

Tally = Union[tuple[Key, int], "Counter[Key]", None]


def tallied(tally: Tally[Key], key: Key, count: int = 1) -> Tally[Key]:
    """``tally`` with ``count`` more of ``key``."""
    if tally is None:
        return (key, count)
    if type(tally) is tuple:
        if tally[0] == key:
            return (key, tally[1] + count)
        return Counter({tally[0]: tally[1], key: count})
    assert isinstance(tally, Counter)
    tally[key] = tally.get(key, 0) + count
    return tally


def as_counter(tally: Tally[Key]) -> Counter[Key]:
    """The counts as a Counter (a new one unless the tally already is one)."""
    if tally is None:
        return Counter()
    if type(tally) is tuple:
        return Counter({tally[0]: tally[1]})
    assert isinstance(tally, Counter)
    return tally


def keys(tally: Tally[Key]) -> tuple[Key, ...]:
    """The keys counted, in first-seen order (no Counter made)."""
    if tally is None:
        return ()
    if type(tally) is tuple:
        return (tally[0],)
    assert isinstance(tally, Counter)
    return tuple(tally)


def merged(mine: Tally[Key], theirs: Tally[Key]) -> Tally[Key]:
    """Both tallies' counts, in ``mine`` (the keys of ``theirs`` added in their order)."""
    if theirs is None:
        return mine
    for key, count in as_counter(theirs).items():
        mine = tallied(mine, key, count)
    return mine
