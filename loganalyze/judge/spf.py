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
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .dns import DnsAnswer, DnsStatus


class QueryResolver(Protocol):
    """A resolver that can answer single questions (``DnsResolver`` does)."""

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask one question about an absolute name."""
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


def _lookup_with(resolver: QueryResolver, deadline: float) -> Any:
    import spf  # pyspf: imported lazily, only runs that re-check SPF need it

    def lookup(name: str, qtype: str, *_args: object, **_kwargs: object) -> list[Any]:
        if time.monotonic() > deadline:
            raise spf.TempError("DNS deadline reached")
        answer = resolver.query(name, qtype)
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


def check_spf(
    resolver: QueryResolver, client_ip: str, sender: str, helo: str, *, budget: float = 10.0
) -> SpfOutcome:
    """Evaluate SPF for ``sender`` (or the HELO identity for the null sender) from ``client_ip``."""
    import spf

    domain = sender.rpartition("@")[2].lower() if sender else helo.lower().rstrip(".")
    with _PYSPF_LOCK:
        saved = spf.DNSLookup
        spf.DNSLookup = _lookup_with(resolver, time.monotonic() + budget)
        try:
            query = spf.query(i=client_ip, s=sender or f"postmaster@{domain}", h=helo,
                              timeout=budget, querytime=budget)
            result, _code, explanation = query.check()
        except Exception as exc:  # noqa: BLE001 - a sender's broken SPF must not stop the run
            result, explanation = "temperror", f"SPF evaluation failed: {exc}"
        finally:
            spf.DNSLookup = saved
    return SpfOutcome(str(result).lower(), domain, str(explanation))


def check_many(
    resolver: QueryResolver, items: Iterable[tuple[str, str, str]], *, total_budget: float = 30.0
) -> dict[tuple[str, str], SpfOutcome]:
    """SPF for many (client_ip, sender, helo); keyed by (client_ip, sender domain).

    Each (address, domain) pair is evaluated once. When the total budget is
    spent the remaining pairs are not evaluated (absent from the result).
    """
    results: dict[tuple[str, str], SpfOutcome] = {}
    deadline = time.monotonic() + total_budget
    for ip, sender, helo in items:
        domain = sender.rpartition("@")[2].lower() if sender else helo.lower().rstrip(".")
        if not domain or (ip, domain) in results:
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            break
        results[(ip, domain)] = check_spf(resolver, ip, sender, helo, budget=min(10.0, left))
    return results
