"""``--format table``: the findings as a plain-text table, and ``--suggest`` below it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .access import render_helo_access
from .escape import display_text

if TYPE_CHECKING:
    from ..pipeline import Finding


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


def _bans(finding: Finding) -> str:
    """``crowdsec 08-16 09:47, fail2ban 08-16 10:19``: who would ban the client, and when."""
    claims = finding.would_be_banned_by or ()
    short = []
    for claim in claims:
        tool = claim.partition(" ")[0]
        _, at, when = claim.rpartition(" at ")
        short.append(f"{tool} {when[5:16].replace('T', ' ')}" if at else f"{tool} ?")
    return ", ".join(short) or "-"


def render_table(findings: Sequence[Finding], width: int = 48) -> str:
    """A plain-text table for a terminal or an e-mail."""
    from tabulate import tabulate  # only the table needs it

    if not findings:
        return "No HELO rejects found.\n"
    checked = any(f.would_be_banned_by is not None for f in findings)
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
            *([_bans(f)] if checked else []),
            display_text(evidence),
        ])
    headers = ["HELO", "client", "check", "sess", "seen", "SPF", "verdict", "suggest",
               *(["banned by"] if checked else []), "evidence"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True) + "\n"


def render_suggest(findings: Sequence[Finding]) -> str:
    """``--suggest`` in table form: the suggested senders, then the lines to add."""
    suggested = [f for f in findings if f.suggested]
    offered = [f for f in findings if f.access_option]
    if not suggested:
        return "No sender needs a helo_access entry.\n" + (
            "\n" + render_helo_access(offered) if offered else "")
    text = render_table(suggested)
    text += "\n# Add to /etc/postfix/helo_access, then run: postmap /etc/postfix/helo_access\n\n"
    text += render_helo_access([*suggested, *offered])
    return text
