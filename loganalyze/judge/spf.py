"""Re-check SPF for senders the policy server never saw, over our own resolver.

With the tutorial's restrictions a HELO reject happens before
``check_policy_service``, so a rejected sender has no policyd-spf line. We
evaluate SPF ourselves with pyspf (the library spf-engine uses), answering
its DNS questions from :class:`~loganalyze.judge.dns_resolver.DnsResolver` so that
``--nameserver``, the deadline and the per-run memo apply, and nothing
reaches the network in tests but the loopback server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .dns import DnsAnswer, DnsStatus


class QueryResolver(Protocol):
    """A resolver that can answer single questions (``DnsResolver`` does)."""

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask one question about an absolute name (DEADLINE once the deadline ran out)."""
        ...

    def remaining(self) -> float:
        """Seconds left of the run's one DNS deadline."""
        ...


@dataclass(frozen=True, slots=True)
class SpfOutcome:
    """The SPF result for one (client address, envelope sender)."""

    result: str
    """pass, fail, softfail, neutral, none, temperror or permerror."""
    domain: str
    """The domain whose policy was evaluated (the sender's, or the HELO for ``<>``)."""
    explanation: str


# pyspf keeps its DNS function in a module global; one check at a time may swap it.
_PYSPF_LOCK = threading.Lock()


class _DeadlineReached(Exception):
    """The run's DNS deadline ran out in the middle of an evaluation."""


def _lookup_with(resolver: QueryResolver, cut: threading.Event) -> Any:
    import spf  # pyspf: imported lazily, only runs that re-check SPF need it

    def lookup(name: str, qtype: str, *_args: object, **_kwargs: object) -> list[Any]:
        answer = resolver.query(name, qtype)
        if answer.status is DnsStatus.DEADLINE:
            cut.set()  # pyspf swallows some exceptions (exp=, ptr): the event tells
            raise _DeadlineReached
        if answer.status.is_temporary:
            raise spf.TempError(f"DNS {answer.status.value} for {name} {qtype}")
        if answer.status is not DnsStatus.FOUND:
            return []
        out: list[Any] = []
        for record in answer.records:
            if qtype in ("TXT", "SPF"):
                out.append(((name, qtype), [record.encode("utf-8", "replace")]))
            elif qtype == "MX":
                pref, _, host = record.partition(" ")
                out.append(((name, qtype), (int(pref or 0), host)))
            else:
                out.append(((name, qtype), record))
        return out

    return lookup


def spf_domain(sender: str, helo: str) -> str:
    """The domain SPF evaluates: the sender's, or the HELO's for the null sender."""
    return sender.rpartition("@")[2].lower() if sender else helo.lower().rstrip(".")


def check_spf(resolver: QueryResolver, client_ip: str, sender: str, helo: str) -> SpfOutcome | None:
    """Evaluate SPF for ``sender`` (or the HELO identity for the null sender) from ``client_ip``.

    None when the resolver's DNS deadline ran out before the evaluation ended:
    the result is missing, not a temperror of the sender's.
    """
    import spf

    domain = spf_domain(sender, helo)
    budget = resolver.remaining()
    if not budget:
        return None
    cut = threading.Event()
    with _PYSPF_LOCK:
        saved = spf.DNSLookup
        spf.DNSLookup = _lookup_with(resolver, cut)
        try:
            query = spf.query(i=client_ip, s=sender or f"postmaster@{domain}", h=helo,
                              timeout=budget, querytime=budget)
            result, _code, explanation = query.check()
        except _DeadlineReached:
            return None
        except Exception as exc:  # noqa: BLE001 - a sender's broken SPF must not stop the run
            result, explanation = "temperror", f"SPF evaluation failed: {exc}"
        finally:
            spf.DNSLookup = saved
    if cut.is_set():
        return None
    return SpfOutcome(str(result).lower(), domain, str(explanation))


@dataclass(frozen=True)
class SpfRechecks:
    """The SPF re-checks of a run."""

    outcomes: dict[tuple[str, str], SpfOutcome]
    """Keyed by (client address, SPF domain)."""
    missed: frozenset[tuple[str, str]] = frozenset()
    """The pairs the DNS deadline left without a result."""


def check_many(resolver: QueryResolver, items: Iterable[tuple[str, str, str]]) -> SpfRechecks:
    """SPF for many (client_ip, sender, helo), within the resolver's one DNS deadline.

    Each (address, domain) pair is evaluated once. The pairs the deadline cuts
    off are listed in :attr:`SpfRechecks.missed`, not guessed.
    """
    results: dict[tuple[str, str], SpfOutcome] = {}
    missed: set[tuple[str, str]] = set()
    for ip, sender, helo in items:
        key = (ip, spf_domain(sender, helo))
        if not key[1] or key in results or key in missed:
            continue
        outcome = check_spf(resolver, ip, sender, helo)
        if outcome is None:
            missed.add(key)
        else:
            results[key] = outcome
    return SpfRechecks(results, frozenset(missed))
