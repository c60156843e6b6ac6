"""``--format helo-access`` and ``client-access``: postmap-ready lines, each after its evidence.

Only keys that passed the safety rules of :mod:`helo_access` reach here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..postfix.helo_access import client_access_line

if TYPE_CHECKING:
    from ..pipeline import Finding


def render_helo_access(findings: Sequence[Finding]) -> str:
    """The suggested helo_access entries, each after its ``#`` evidence lines, then the
    entries offered commented out (bare domains), with their reason."""
    blocks = [f.access_line for f in findings if f.access_line is not None]
    blocks += [f.access_option for f in findings if f.access_option is not None]
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
