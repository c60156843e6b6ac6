"""Render findings: one module per format behind :class:`OutputFormat`.

Each ``render_*`` returns a str; :func:`write_findings` writes a format to a
stream (JSON and CSV one finding at a time, so a big report is never one
string).

Every string here may have been chosen by a stranger (HELO, sender, client
name), so text meant for a terminal has control characters escaped
(:mod:`.escape`), and the helo_access renderer only writes keys that passed
the safety rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ..compat import StrEnum
from .access import render_client_access, render_helo_access
from .bans import render_ban_prevention
from .csv_format import render_csv, write_csv
from .escape import display_text
from .json_format import render_json, write_json
from .postmaster import render_postmaster_notes
from .records import finding_record
from .summary import deadline_warning, render_summary, render_unparsed
from .table import render_suggest, render_table

if TYPE_CHECKING:
    from ..pipeline import Finding
    from ..postfix.config import ServerIdentity

__all__ = [
    "OutputFormat",
    "ReportFormat",
    "deadline_warning",
    "display_text",
    "finding_record",
    "render_ban_prevention",
    "render_client_access",
    "render_csv",
    "render_helo_access",
    "render_json",
    "render_postmaster_notes",
    "render_suggest",
    "render_summary",
    "render_table",
    "render_unparsed",
    "write_csv",
    "write_findings",
    "write_json",
]


class OutputFormat(StrEnum):
    """The ``--format`` choices of ``analyze``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HELO_ACCESS = "helo-access"
    CLIENT_ACCESS = "client-access"
    POSTMASTER_NOTE = "postmaster-note"


class ReportFormat(StrEnum):
    """The ``--format`` choices of ``report`` (rendered by :mod:`daily_report`).

    Here so that the CLI can declare the option without
    loading the daily report's machinery (state database, incremental reader).
    """

    TEXT = "text"
    HTML = "html"
    JSON = "json"
    MIME = "mime"
    """The mail (text and HTML parts) on stdout, for ``| sendmail -t -i``."""


def write_findings(findings: Sequence[Finding], suggested: Sequence[Finding],
                   output_format: OutputFormat, out: TextIO, *, suggest: bool = False,
                   server: ServerIdentity | None = None, width: int | None = None,
                   wide: bool = False) -> None:
    """Write ``findings`` in ``output_format`` to ``out``.

    ``suggested`` are the findings with a helo_access entry (the helo-access
    format writes only those); ``suggest`` turns the table into the
    ``--suggest`` view; ``server`` is who signs the postmaster notes; ``width`` and
    ``wide`` shape the table (:func:`render_table`).
    """
    if output_format is OutputFormat.JSON:
        write_json(findings, out)
    elif output_format is OutputFormat.CSV:
        write_csv(findings, out)
    elif output_format is OutputFormat.HELO_ACCESS:
        out.write(render_helo_access(suggested))
    elif output_format is OutputFormat.CLIENT_ACCESS:
        out.write(render_client_access(findings))
    elif output_format is OutputFormat.POSTMASTER_NOTE:
        from ..postfix.config import ServerIdentity

        out.write(render_postmaster_notes(findings, server or ServerIdentity()))
    else:
        out.write(render_suggest(findings, width, wide=wide) if suggest
                  else render_table(findings, width, wide=wide))
