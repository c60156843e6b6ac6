"""``--format json``: a JSON array of finding objects, written one finding at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
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
        text = json.dumps(finding_record(finding), indent=2, ensure_ascii=False)
        out.write(("[\n  " if first else ",\n  ") + text.replace("\n", "\n  "))
        first = False
    out.write("[]\n" if first else "\n]\n")
