"""Display width on a terminal: how wide the terminal is, and text cut to fit it.

Text here is already escaped (:func:`~.escape.display_text`): a cut never falls
inside an escape such as ``\\x1b`` or ``\\u202e``, and wide characters (CJK, most
emoji) count two columns, combining marks none (wcwidth).
"""

from __future__ import annotations

import re
import shutil

from wcwidth import wcwidth

ELLIPSIS = "…"
# One unit of escaped text: an escape display_text wrote, or one character.
_UNITS = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|.", re.DOTALL)


def terminal_width() -> int:
    """``COLUMNS`` if set, else the terminal's width when stdout is one, else 80 (so that
    output piped or mailed from cron is the same on every machine)."""
    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def _unit_width(unit: str) -> int:
    if len(unit) > 1:
        return len(unit)  # an escape: plain ASCII
    columns = wcwidth(unit)
    return 1 if columns < 0 else columns


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(_unit_width(u) for u in _UNITS.findall(text))


def clip(text: str, columns: int) -> str:
    """``text`` if it fits in ``columns``, else its start and a visible ellipsis."""
    if text_width(text) <= columns:
        return text
    kept, used = [], 0
    for unit in _UNITS.findall(text):
        size = _unit_width(unit)
        if used + size > columns - 1:
            break
        kept.append(unit)
        used += size
    return "".join(kept) + ELLIPSIS if columns >= 1 else ""


def pad(text: str, columns: int) -> str:
    """``text`` and spaces to fill ``columns``."""
    return text + " " * max(columns - text_width(text), 0)
