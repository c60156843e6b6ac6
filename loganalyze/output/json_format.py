"""``--format json``: a JSON array of finding objects, written one finding at a time."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring as _string  # C when available
from typing import TYPE_CHECKING, TextIO

from .records import finding_record

if TYPE_CHECKING:
    from ..pipeline import Finding


def render_json(findings: Sequence[Finding]) -> str:
    """A JSON array of finding objects."""
    out = io.StringIO()
    write_json(findings, out)
    return out.getvalue()


def write_json(findings: Iterable[Finding], out: TextIO) -> None:
    """:func:`render_json` written to ``out`` one finding at a time (bounded memory)."""
    first = True
    for finding in findings:
        # Exactly what json.dumps(list, indent=2) writes: each object indented once more.
        text = indented_json(finding_record(finding), "\n  ")
        out.write(("[\n  " if first else ",\n  ") + text)
        first = False
    out.write("[]\n" if first else "\n]\n")


def indented_json(value: object, newline: str = "\n") -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, with ``newline`` (a newline
    and the indentation the value starts at) for each line break: the same text, but
    strings and numbers go to the C encoder's functions (json's own indenting encoder is
    pure Python, and the report's slowest part on a big log)."""
    parts: list[str] = []
    _encode(value, newline, parts.append)
    return "".join(parts)


def _encode(value: object, newline: str, add: Callable[[str], object]) -> None:
    # The order of json.encoder's own tests (a bool is an int; a str subclass is a str).
    if isinstance(value, str):
        add(_string(value))
    elif value is None:
        add("null")
    elif value is True:
        add("true")
    elif value is False:
        add("false")
    elif isinstance(value, int):
        add(int.__repr__(value))
    elif isinstance(value, float):
        add(_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            add("[]")
            return
        inner = newline + "  "
        add("[")
        for index, item in enumerate(value):
            add("," + inner if index else inner)
            _encode(item, inner, add)
        add(newline + "]")
    elif isinstance(value, dict):
        if not value:
            add("{}")
            return
        inner = newline + "  "
        add("{")
        for index, (key, item) in enumerate(value.items()):
            add(("," + inner if index else inner) + _string(_key(key)) + ": ")
            _encode(item, inner, add)
        add(newline + "}")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: object) -> str:
    """A dict key as json.dumps writes it."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
