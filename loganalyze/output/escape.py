"""Text made safe to print: every logged string was chosen by a stranger.

A HELO, sender or client name can carry control characters (ANSI escapes that
drive a terminal), bidi overrides (which reorder what the admin reads) and
zero-width characters; :func:`display_text` shows them as escapes instead.
"""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e]")


def display_text(text: str) -> str:
    """Escape control and bidi characters so a logged string cannot drive a terminal."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}"
                            if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
