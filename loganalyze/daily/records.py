"""The daily report's records: what one run found, ready for a renderer
(:mod:`loganalyze.output.daily`) and for scripts (``--format json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ..model import Unparsed
from ..pipeline import Finding

# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderRow:
    """A rejected sender of this run and what the state remembers about it."""

    finding: Finding
    new: bool
    """First time this sender (client address + HELO) was ever seen."""
    days_seen: int
    """Distinct days with a session, over all runs (this one included)."""
    rejected_days: int
    """Days from its first to its latest HELO reject, inclusive (0 if never rejected)."""
    first_rejected: date | None
    first_suggested: datetime | None
    """When a helo_access line was first suggested for it (earlier runs)."""


@dataclass(frozen=True, slots=True)
class NowPassing:
    """A sender rejected on an earlier day whose mail gets through now."""

    client_ip: str
    helo: str
    client_name: str
    last_rejected: date | None
    why: str


@dataclass
class DailyReport:
    """Everything one run found, ready for a renderer."""

    since: datetime | None
    """Start of what this report covers (``--since``, or the first new session)."""
    until: datetime | None
    """End of what this report covers (``--until``, or the last new session)."""
    lines_read: int
    sessions: int
    rejects_by_check: dict[str, int]
    """Sessions rejected (or warned) by each HELO check, in Postfix's order."""
    rejects_by_hour: dict[datetime, dict[str, int]]
    """The same, per clock hour of the reject."""
    senders: list[SenderRow]
    now_passing: list[NowPassing]
    top_helos: list[tuple[str, int, int]]
    """(HELO, rejected sessions, distinct clients), most rejected first."""
    hosts: list[str]
    """Syslog host names seen."""
    generated: datetime
    warnings: list[str] = field(default_factory=list)
    """Lines that could not be read (rotation lost them), and the like."""
    first_report: bool = False
    """No earlier run in the state: everything is new, there is no history to tell."""
    held: int = 0
    """Sessions still open at the end of the logs: the next run counts them."""
    read: list[str] = field(default_factory=list)
    """What was read, one entry per source (``/var/log/mail.log (from byte 1,204)``)."""
    unparsed: list[Unparsed] = field(default_factory=list)
    """Samples of the lines not understood (``report -v`` prints them)."""

    @property
    def suggestions(self) -> list[SenderRow]:
        """The senders with a helo_access line."""
        return [r for r in self.senders if r.finding.suggested]

    @property
    def has_news(self) -> bool:
        """Whether there is anything to tell (otherwise a cron report stays silent)."""
        return bool(self.senders or self.now_passing or self.warnings)
