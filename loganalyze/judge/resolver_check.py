"""Does the DNS resolver of this run agree with the one Postfix used?

A HELO that Postfix let through while ``reject_unknown_helo_hostname`` was in
force resolved then. When many such names fail now, the resolver of the run
is the odd one out (a filtering or broken resolver, a laptop that cannot see
the zone, a network that drops DNS), and every verdict that rests on its
answers would be wrong: the unknown check's "would be rejected", and the SPF
re-checks. The pipeline then ignores its "no such host" answers and the SPF
re-checks (as with ``--no-dns``); its temporary failures and the DNS deadline
already count against no sender.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass

from ..aggregate import Traffic
from .checks import HeloCheckResult, dns_query_name
from .dns import DnsStatus, HostLookup

# At least this many proven names, and more than half of them failing now. One
# or two names can really have gone from DNS since (a server renamed, a zone
# expired), and a few failures say nothing about the resolver; a majority of
# names Postfix resolved failing at once is a resolver fault, not the world.
MIN_PROVEN = 3


@dataclass(frozen=True, slots=True)
class ResolverDisagreement:
    """The proven names, and the ones the run's resolver does not resolve."""

    proven: int
    failing: Counter[str]
    """DNS outcome -> how many proven names got it."""

    def warning(self) -> str:
        """One line for stderr."""
        outcomes = ", ".join(f"{status} {count}" for status, count in self.failing.most_common())
        return (f"the DNS resolver disagrees with Postfix: {sum(self.failing.values())} of "
                f"{self.proven} HELO names Postfix accepted under reject_unknown_helo_hostname "
                f"do not resolve now ({outcomes}); no finding rests on its failures: check "
                "the resolver, or give one that sees the zones with --nameserver")

    @property
    def definite(self) -> bool:
        """True when some of its failures claim a name does not exist (NXDOMAIN, NODATA):
        temporary failures and the deadline are never held against a sender anyway."""
        return any(DnsStatus(status).passes is False for status in self.failing)


def distrusted(lookups: Mapping[str, HostLookup]) -> dict[str, HostLookup]:
    """``lookups`` with every "no such host" answer made SKIPPED: as if DNS had not been
    asked for those names (``--no-dns``), the answers that found a host kept."""
    skipped = DnsStatus.SKIPPED
    return {query: HostLookup(query, skipped) if lookup.status.passes is False else lookup
            for query, lookup in lookups.items()}


def proven_names(traffic: Traffic, results: Mapping[str, HeloCheckResult],
                 enforced_by_config: bool, permitted: Container[str],
                 own_address: Callable[[str], bool]) -> set[str]:
    """HELO names Postfix accepted while the unknown check was in force.

    In force on an smtpd service from its first reject by the check (not a
    warning), and on ``postfix/smtpd`` for the whole log when main.cf enforces
    it (other services may override the restrictions in master.cf). A log
    older than main.cf's restrictions adds names that may really fail now;
    the majority rule of :func:`disagreement` absorbs those. Names the
    admin's table permits and clients in mynetworks skipped the check.
    """
    since = traffic.unknown_check_since
    names: set[str] = set()
    for sender in traffic.senders.values():
        helo = sender.helo
        if not sender.accepted or not helo or helo in names or helo in permitted:
            continue
        result = results.get(helo)
        if result is None or result.invalid or result.non_fqdn or dns_query_name(helo) is None:
            continue  # Postfix did not ask DNS for it: nothing proven
        if own_address(sender.client_ip):
            continue
        for service, when in sender.accepted.items():
            start = since.get(service)
            if (start is not None and when >= start) or (
                    enforced_by_config and service == "postfix/smtpd"):
                names.add(helo)
                break
    return names


def disagreement(names: set[str], lookups: Mapping[str, HostLookup]) -> ResolverDisagreement | None:
    """The disagreement, when the run's answers for ``names`` contradict Postfix's."""
    failing: Counter[str] = Counter()
    asked = 0
    for name in names:
        lookup = lookups.get(dns_query_name(name) or "")
        if lookup is None or lookup.status is DnsStatus.SKIPPED:
            continue
        asked += 1
        if lookup.status.passes is not True:
            failing[lookup.status.value] += 1
    if asked >= MIN_PROVEN and 2 * sum(failing.values()) > asked:
        return ResolverDisagreement(asked, failing)
    return None
