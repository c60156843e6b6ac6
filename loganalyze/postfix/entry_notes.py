"""The ``#`` lines above a suggested helo_access entry: who, which check, why trusted,
and what the log cannot prove (a 450 that may have been a DNS hiccup)."""

from __future__ import annotations

from datetime import datetime

from ..aggregate import SenderStats
from ..judge.checks import Check
from ..judge.dns import DnsStatus
from ..judge.verdict import Verdict

__all__ = ["MAYBE_TEMPORARY", "RESTRICTION", "entry_comments"]


RESTRICTION = {
    Check.INVALID: "reject_invalid_helo_hostname",
    Check.NON_FQDN: "reject_non_fqdn_helo_hostname",
    Check.UNKNOWN: "reject_unknown_helo_hostname",
    Check.HELO_REQUIRED: "smtpd_helo_required",
}


# DNS answers that tell a name Postfix could not find from a passing DNS hiccup.
_DEFINITE = frozenset({DnsStatus.NXDOMAIN.value, DnsStatus.NODATA.value,
                       DnsStatus.MALFORMED.value, "not_queried"})
MAYBE_TEMPORARY = ("its 450 Host not found may have been a temporary DNS failure at the time "
                   "(Postfix logs the same reply for SERVFAIL and timeouts) and DNS here did not "
                   "confirm it: check that the name still fails before adding it")


def entry_comments(sender: SenderStats, check: Check, verdict: Verdict, dns: str) -> list[str]:
    """The ``#`` lines above a suggested entry: who, what fired, and why we trust it."""
    first = sender.first_seen or datetime.min
    last = sender.last_seen or first
    span = first.strftime("%Y-%m-%d %H:%M")
    if last != first:
        span += ".." + last.strftime("%H:%M" if last.date() == first.date() else "%Y-%m-%d %H:%M")
    plural = "s" if sender.sessions != 1 else ""
    return [
        f"{sender.client_name}[{sender.client_ip}] failed {RESTRICTION[check]}, "
        f"{sender.sessions} session{plural} {span}",
        f"{verdict.label.value} ({verdict.score:+g}): " + "; ".join(verdict.summary[:4]),
        *([MAYBE_TEMPORARY] if _maybe_temporary(sender, check, dns) else []),
    ]


def _maybe_temporary(sender: SenderStats, check: Check, dns: str) -> bool:
    """A logged ``450 ... Host not found`` that DNS now neither confirms nor refutes
    (``--no-dns``, a failed or distrusted resolver)."""
    return (check is Check.UNKNOWN and dns not in _DEFINITE
            and any(r.startswith("450 ") and "Host not found" in r
                    for r in (sender.replies or [sender.first_reply])))
