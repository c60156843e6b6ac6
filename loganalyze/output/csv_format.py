"""``--format csv``: one row per finding, safe to open in a spreadsheet."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

from .escape import display_text
from .records import finding_record

if TYPE_CHECKING:
    from ..pipeline import Finding

_CSV_FIELDS = ["helo", "client_ip", "client_name", "check", "rejected", "verdict", "score",
               "evidence", "sessions", "first_seen", "last_seen", "spf", "dns", "access_line",
               "would_be_banned_by"]


def render_csv(findings: Sequence[Finding]) -> str:
    """CSV with one row per finding; evidence joined with ``; ``."""
    out = io.StringIO()
    write_csv(findings, out)
    return out.getvalue()


def write_csv(findings: Iterable[Finding], out: TextIO) -> None:
    """:func:`render_csv` written to ``out`` one row at a time."""
    import csv

    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for finding in findings:
        record = finding_record(finding)
        record["evidence"] = "; ".join(record["evidence"])
        if "would_be_banned_by" in record:  # empty: checked, nobody bans; absent: not checked
            record["would_be_banned_by"] = "; ".join(record["would_be_banned_by"]) or "none"
        for key, value in record.items():
            if not isinstance(value, str):
                continue
            # Control characters would reach whoever cats the file; spreadsheets
            # run cells starting with = + - @ as formulas.
            value = display_text(value)
            record[key] = "'" + value if value[:1] in ("=", "+", "-", "@") else value
        writer.writerow(record)
