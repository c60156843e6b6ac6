"""Render findings as a table, JSON, CSV or helo_access lines.

Each ``render_*`` returns a str; ``write_json`` and ``write_csv`` write the same
text to a stream one finding at a time, so a big report is never one string.

Every string here may have been chosen by a stranger (HELO, sender, client
name), so text meant for a terminal has control characters escaped, and the
helo_access renderer only writes keys that passed the safety rules.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .compat import StrEnum
from .helo_access import client_access_line

if TYPE_CHECKING:
    from .analysis import Analysis, Finding


class OutputFormat(StrEnum):
    """The ``--format`` choices of ``analyze``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HELO_ACCESS = "helo-access"
    CLIENT_ACCESS = "client-access"


class ReportFormat(StrEnum):
    """The ``--format`` choices of ``report`` (rendered by :mod:`daily_report`).

    Here rather than there so that the CLI can declare the option without
    loading the daily report's machinery (state database, incremental reader).
    """

    TEXT = "text"
    HTML = "html"
    JSON = "json"


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e]")


def display_text(text: str) -> str:
    """Escape control and bidi characters so a logged string cannot drive a terminal."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}"
                            if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def finding_record(finding: Finding) -> dict[str, Any]:
    """The stable JSON/CSV object of one finding (scripts depend on these keys)."""
    record: dict[str, Any] = {
        "helo": finding.helo,
        "client_ip": finding.client_ip,
        "client_name": finding.client_name,
        "check": finding.check.value,
        "rejected": finding.rejected,
        "verdict": finding.verdict.label.value,
        "score": finding.verdict.score,
        "evidence": finding.verdict.summary,
        "sessions": finding.sessions,
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
        "spf": finding.spf,
        "reply": finding.reply,
        "dns": finding.dns,
        "senders": list(finding.senders),
        "sender_domain": finding.sender_domain,
    }
    if finding.access_line is not None:
        record["access_line"] = finding.access_line.rsplit("\n", 1)[-1]
    if finding.not_suggested_because:
        record["not_suggested_because"] = finding.not_suggested_because
    return record


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


_CSV_FIELDS = ["helo", "client_ip", "client_name", "check", "rejected", "verdict", "score",
               "evidence", "sessions", "first_seen", "last_seen", "spf", "dns", "access_line"]


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
        for key, value in record.items():
            if not isinstance(value, str):
                continue
            # Control characters would reach whoever cats the file; spreadsheets
            # run cells starting with = + - @ as formulas.
            value = display_text(value)
            record[key] = "'" + value if value[:1] in ("=", "+", "-", "@") else value
        writer.writerow(record)


def _when(finding: Finding) -> str:
    first = finding.first_seen.strftime("%m-%d %H:%M")
    if finding.last_seen.date() == finding.first_seen.date():
        last = finding.last_seen.strftime("%H:%M")
    else:
        last = finding.last_seen.strftime("%m-%d %H:%M")
    return first if first.endswith(last) else f"{first}..{last}"


def _action(finding: Finding) -> str:
    if finding.access_line is not None:
        return "helo_access"
    return "client only" if finding.client_access else "-"


def render_table(findings: Sequence[Finding], width: int = 48) -> str:
    """A plain-text table for a terminal or an e-mail."""
    from tabulate import tabulate  # only the table needs it

    if not findings:
        return "No HELO rejects found.\n"
    rows = []
    for f in findings:
        evidence = "; ".join(f.verdict.summary[:3])
        if len(evidence) > width:
            evidence = evidence[: width - 1] + "…"
        rows.append([
            display_text(f.helo) if f.helo else "(none)",
            f"{display_text(f.client_name)}[{f.client_ip}]",
            f.check.value + ("" if f.rejected else " (would)"),
            f.sessions,
            _when(f),
            f.spf or "-",
            f"{f.verdict.label.value} {f.verdict.score:+g}",
            _action(f),
            display_text(evidence),
        ])
    headers = ["HELO", "client", "check", "sess", "seen", "SPF", "verdict", "suggest", "evidence"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True) + "\n"


def render_helo_access(findings: Sequence[Finding]) -> str:
    """Only the suggested helo_access entries, each after its ``#`` evidence line."""
    blocks = [f.access_line for f in findings if f.access_line is not None]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def render_client_access(findings: Sequence[Finding]) -> str:
    """The unforgeable alternative: check_client_access cidr: entries for the same senders."""
    blocks = []
    seen: set[str] = set()
    for f in findings:
        if not f.client_access or f.client_ip in seen:
            continue
        seen.add(f.client_ip)
        blocks.append(
            client_access_line(f.client_ip, f"{f.client_name} HELO {f.helo or '(none)'}")
        )
    return "\n\n".join(blocks) + "\n" if blocks else ""


def render_summary(analysis: Analysis) -> str:
    """A few lines about what was read, for stderr."""
    lines = analysis.lines
    sessions = analysis.sessions
    parts = [
        f"{lines.lines} lines read: {lines.matched} used, {lines.irrelevant} irrelevant, "
        f"{lines.unparsed} not understood",
        f"{sessions.sessions} smtpd sessions"
        + (f" ({sessions.without_connect} without connect, "
           f"{sessions.without_disconnect} without disconnect)"
           if sessions.without_connect or sessions.without_disconnect else ""),
        f"{len(analysis.findings)} senders with HELO rejects, "
        f"{len(analysis.suggestions)} suggested",
    ]
    if analysis.dns_temporary:
        parts.append(
            f"DNS: {analysis.dns_temporary} of {analysis.dns_names} names could not be resolved "
            "(temporary failure or no reachable DNS); their unknown check is undetermined"
        )
    return "\n".join(parts) + "\n"


def render_unparsed(analysis: Analysis) -> str:
    """Samples of lines that were not understood (``--verbose``)."""
    out = [
        f"line {item.lineno}: {item.why}: {display_text(item.line[:300])}"
        for item in analysis.lines.samples
    ]
    return "\n".join(out) + ("\n" if out else "")


def render_suggest(findings: Sequence[Finding]) -> str:
    """``--suggest`` in table form: the suggested senders, then the lines to add."""
    suggested = [f for f in findings if f.suggested]
    if not suggested:
        return "No sender needs a helo_access entry.\n"
    text = render_table(suggested)
    text += "\n# Add to /etc/postfix/helo_access, then run: postmap /etc/postfix/helo_access\n\n"
    text += render_helo_access(suggested)
    return text

