"""What was read and what could not be understood: the lines ``analyze`` writes to stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .escape import display_text

if TYPE_CHECKING:
    from ..pipeline import Analysis, Finding


class DeadlineCounts(Protocol):
    """What the DNS deadline cut, as an :class:`Analysis` (analyze) or a ``Judged``
    (the daily report) counts it."""

    @property
    def dns_names(self) -> int: ...
    @property
    def dns_deadline_names(self) -> int: ...
    @property
    def spf_deadline_pairs(self) -> int: ...
    @property
    def dns_deadline(self) -> float | None: ...
    @property
    def held_back(self) -> list[Finding]: ...


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
    if analysis.repeated:
        parts.append("read once: " + ", ".join(display_text(n) for n in analysis.repeated)
                     + " named a file already read")
    if analysis.dns_temporary:
        parts.append(
            f"DNS: {analysis.dns_temporary} of {analysis.dns_names} names could not be resolved "
            "(temporary failure or no reachable DNS); their unknown check is undetermined"
        )
    if analysis.bans is not None:
        parts.append(analysis.bans.describe())
    return "\n".join(parts) + "\n"


def deadline_warning(analysis: DeadlineCounts) -> str | None:
    """What the DNS deadline left undone, in one line; None when it cut nothing.

    Printed even with ``-q`` (analyze) and as a warning of the daily report: a run
    with missing answers must not look complete.
    """
    names, pairs = analysis.dns_deadline_names, analysis.spf_deadline_pairs
    if not names and not pairs:
        return None
    missing = []
    if names:
        missing.append(f"{names} of {analysis.dns_names} HELO names unanswered (dns: deadline)")
    if pairs:
        missing.append(f"{pairs} SPF re-check{'s' if pairs != 1 else ''} not done")
    held = len(analysis.held_back)
    seconds = f" ({analysis.dns_deadline:g} s)" if analysis.dns_deadline else ""
    return (
        f"DNS deadline{seconds} reached: {' and '.join(missing)}; "
        + (f"{held} legitimate sender{'s are' if held != 1 else ' is'} not suggested for "
           "that; " if held else "")
        + "run again with a longer --dns-deadline"
    )


def render_unparsed(analysis: Analysis) -> str:
    """Samples of lines that were not understood (``--verbose``)."""
    out = [
        f"line {item.lineno}: {item.why}: {display_text(item.line[:300])}"
        for item in analysis.lines.samples
    ]
    return "\n".join(out) + ("\n" if out else "")
