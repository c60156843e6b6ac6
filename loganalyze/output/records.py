"""The stable object of one finding, shared by the JSON and CSV formats (and the daily report)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..pipeline import Finding


def iso_seconds(when: datetime) -> str:
    """``2026-08-16T09:47:13``: whole seconds in every output, whether the log's stamps
    carry microseconds (``-o short-precise``, RFC 3339) or not."""
    return when.isoformat(timespec="seconds")


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
        "first_seen": iso_seconds(finding.first_seen),
        "last_seen": iso_seconds(finding.last_seen),
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
    if finding.would_be_banned_by is not None:  # only when --bans checked it
        record["would_be_banned_by"] = list(finding.would_be_banned_by)
    return record
