"""The schema of every frame: column name -> dtype, from frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..judge.checks import Check
from ..judge.verdict import SPF_ORDER, Label
from ..model import Kind

HELO_CHECKS = (Check.INVALID, Check.NON_FQDN, Check.UNKNOWN)
"""The three HELO restrictions in the order Postfix's tutorial lists them (and logs them)."""

CAT = "category"
TIME = "datetime64[us]"
STR = "str"
# pandas 3's default string dtype, named "str"; pandas 2.3 (the last for Python 3.10)
# has it too, but only when asked for by its parts.
STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else pd.StringDtype(
    "python", na_value=np.nan)

# --- schemas ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSchema:
    """Columns of :func:`read_events`: the :class:`~loganalyze.tokenizer.LogRecord`
    fields, with ``counters`` flattened and ``helo_check``/``source`` added."""

    time: str = TIME
    host: str = CAT
    service: str = CAT
    pid: str = "int32"
    kind: str = CAT
    client_name: str = CAT
    client_ip: str = CAT
    helo: str = CAT
    sender: str = CAT
    recipient: str = CAT
    stage: str = CAT
    code: str = "Int16"
    dsn: str = CAT
    reason: str = CAT
    helo_check: str = CAT
    warning: str = "bool"
    queue_id: str = STR
    spf_result: str = CAT
    spf_identity: str = CAT
    counters: str = CAT
    cmd_helo: str = "UInt32"
    cmd_mail: str = "UInt32"
    cmd_rcpt: str = "UInt32"
    cmd_data: str = "UInt32"
    cmd_total: str = "UInt32"
    cmd_failed: str = "UInt32"
    port: str = "UInt16"
    score: str = "Int32"
    detail: str = CAT
    action: str = CAT
    source: str = CAT
    lineno: str = "int64"


@dataclass(frozen=True)
class SessionSchema:
    """Columns of :func:`sessions_frame`: one :class:`~loganalyze.sessions.SmtpSession`."""

    host: str = CAT
    service: str = CAT
    pid: str = "int32"
    client_name: str = CAT
    client_ip: str = CAT
    start: str = TIME
    end: str = TIME
    helo: str = CAT
    helo_sent: str = "boolean"
    sender: str = CAT
    sender_domain: str = CAT
    senders: str = "int32"
    recipients: str = "int32"
    queued: str = "int32"
    rejects: str = "int32"
    reject_categories: str = CAT
    helo_check: str = CAT
    helo_checks: str = CAT
    reply: str = CAT
    rejected: str = "bool"
    warning: str = "bool"
    helo_required: str = "bool"
    spf: str = CAT
    spf_identity: str = CAT
    ended_by: str = CAT
    hostname_warning: str = "bool"
    saw_connect: str = "bool"
    saw_disconnect: str = "bool"
    counters: str = CAT


@dataclass(frozen=True)
class SenderSchema:
    """Columns of :func:`senders_frame`: one :class:`~loganalyze.aggregate.SenderStats`."""

    client_ip: str = STR
    helo: str = STR
    client_name: str = STR
    sessions: str = "int32"
    first_seen: str = TIME
    last_seen: str = TIME
    days: str = "int32"
    logged_checks: str = CAT
    rejected: str = "bool"
    enforced_rejects: str = "int32"
    temporary_rejects: str = "int32"
    helo_required_rejects: str = "int32"
    first_reply: str = STR
    spf: str = CAT
    sender_domains: str = STR
    senders: str = STR
    recipients: str = "int32"
    queued: str = "int32"


@dataclass(frozen=True)
class CheckSchema:
    """Columns of :func:`check_frame`: one :class:`~loganalyze.judge.checks.HeloCheckResult`."""

    helo: str = STR
    invalid: str = "bool"
    non_fqdn: str = "bool"
    unknown: str = "boolean"
    dns: str = CAT
    check: str = CAT
    reply: str = STR


@dataclass(frozen=True)
class FindingSchema:
    """Columns of :func:`findings_frame`: one :class:`~loganalyze.pipeline.Finding`,
    with the keys of :func:`loganalyze.output.finding_record` plus ``suggested``."""

    helo: str = STR
    client_ip: str = STR
    client_name: str = STR
    check: str = CAT
    rejected: str = "bool"
    verdict: str = CAT
    score: str = "float64"
    evidence: str = STR
    sessions: str = "int32"
    first_seen: str = TIME
    last_seen: str = TIME
    spf: str = CAT
    reply: str = STR
    dns: str = CAT
    senders: str = STR
    sender_domain: str = CAT
    suggested: str = "bool"
    access_line: str = STR
    not_suggested_because: str = STR


@dataclass(frozen=True)
class SuggestionSchema:
    """Columns of :func:`suggestions_frame`: the suggested findings and their entries."""

    helo: str = STR
    client_ip: str = STR
    client_name: str = STR
    check: str = CAT
    rejected: str = "bool"
    score: str = "float64"
    evidence: str = STR
    sessions: str = "int32"
    first_seen: str = TIME
    last_seen: str = TIME
    access_line: str = STR
    access_entry: str = STR


EVENT_COLUMNS: dict[str, str] = asdict(EventSchema())
"""Column name -> dtype of :func:`read_events`."""
SESSION_COLUMNS: dict[str, str] = asdict(SessionSchema())
"""Column name -> dtype of :func:`sessions_frame`."""
SENDER_COLUMNS: dict[str, str] = asdict(SenderSchema())
"""Column name -> dtype of :func:`senders_frame`."""
CHECK_COLUMNS: dict[str, str] = asdict(CheckSchema())
"""Column name -> dtype of :func:`check_frame`."""
FINDING_COLUMNS: dict[str, str] = asdict(FindingSchema())
"""Column name -> dtype of :func:`findings_frame`."""
SUGGESTION_COLUMNS: dict[str, str] = asdict(SuggestionSchema())
"""Column name -> dtype of :func:`suggestions_frame`."""
COLUMNS: dict[str, dict[str, str]] = {
    "events": EVENT_COLUMNS,
    "sessions": SESSION_COLUMNS,
    "senders": SENDER_COLUMNS,
    "checks": CHECK_COLUMNS,
    "findings": FINDING_COLUMNS,
    "suggestions": SUGGESTION_COLUMNS,
}
"""Every frame's schema, by frame name."""

# Categories known in advance keep their meaningful order (enum order, SPF best
# first); values not listed are appended, so a new Postfix text never fails.
CATEGORY_SEEDS: dict[str, tuple[str, ...]] = {
    "kind": tuple(k.value for k in Kind),
    "helo_check": tuple(c.value for c in Check),
    "check": tuple(c.value for c in Check),
    "verdict": tuple(label.value for label in Label),
    "spf": tuple(SPF_ORDER),
    "spf_result": tuple(SPF_ORDER),
    "spf_identity": ("mailfrom", "helo"),
}
