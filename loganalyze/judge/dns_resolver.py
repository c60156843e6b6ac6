"""The real resolver: asks DNS what Postfix's unknown-hostname check asks, many names at once.

:class:`DnsResolver` asks what ``reject_unknown_helo_hostname`` asks
(postfix-reference 1.5, from Postfix ``dns/dns_lookup.c`` and
``smtpd/smtpd_check.c``): A, then AAAA, then MX for the name as an absolute
name, stopping at the first success, and folds the answers into one
:class:`~loganalyze.judge.dns.DnsStatus`.  Many names are in flight at once on
dnspython's asynchronous resolver; callers see a plain synchronous
:meth:`DnsResolver.lookup_hosts`.

dnspython and asyncio are imported by the functions that use them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigError
from .dns import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    DnsAnswer,
    DnsStatus,
    HostLookup,
    lookup_key,
    parse_nameserver,
)
from .hostname import valid_hostname

if TYPE_CHECKING:
    import dns.message
    import dns.name
    import dns.rdata
    import dns.rdatatype
    import dns.resolver
    import dns.rrset

    from .dns_cache import DnsCache

__all__ = ["DnsResolver"]

_T = TypeVar("_T")



def _query_name(name: str) -> dns.name.Name | None:
    """The absolute DNS name to ask for ``name``, or None if it cannot be asked.

    Postfix's DNS client refuses names ending in a dot (except the root, ``.``)
    and names that are not ASCII hostnames before sending anything and reports
    "Host not found" (postfix-reference 1.5; ``checks.dns_query_name`` applies
    the full rule); empty names and over-long labels cannot be sent at all.
    """
    import dns.exception
    import dns.name

    if name == ".":
        return dns.name.root
    if not name or name.endswith(".") or not name.isascii():
        return None
    try:
        return dns.name.from_text(name, origin=dns.name.root)
    except dns.exception.DNSException:
        return None


def _rdata_text(rdata: dns.rdata.Rdata) -> str:
    """One record as plain text (see :attr:`DnsAnswer.records`)."""
    import dns.rdatatype

    if rdata.rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {_target_text(rdata.exchange)}"  # type: ignore[attr-defined]
    if rdata.rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.NS):
        return _target_text(rdata.target)  # type: ignore[attr-defined]
    return rdata.to_text()


def _target_text(name: dns.name.Name) -> str:
    """A name from a record: ``"."`` for the root, otherwise without the trailing dot."""
    import dns.name

    return "." if name == dns.name.root else name.to_text(omit_final_dot=True)


def _negative_ttl(response: dns.message.Message | None) -> int:
    """RFC 2308 TTL of a NXDOMAIN/NODATA answer; 0 without an SOA (do not keep)."""
    import dns.exception
    import dns.rdatatype

    if response is None or not any(r.rdtype == dns.rdatatype.SOA for r in response.authority):
        return 0
    try:
        return response.resolve_chaining().minimum_ttl  # type: ignore[attr-defined]
    except dns.exception.DNSException:
        return 0


def _no_nameservers_status(exc: dns.resolver.NoNameservers) -> DnsStatus:
    """The temporary status for "every server failed", from the servers' errors."""
    said = {str(error[3]) for error in exc.kwargs.get("errors", ()) if isinstance(error[3], str)}
    if "SERVFAIL" in said:
        return DnsStatus.SERVFAIL
    if "REFUSED" in said:
        return DnsStatus.REFUSED
    if said:  # another rcode (NOTIMP, FORMERR...): the server failed us
        return DnsStatus.SERVFAIL
    return DnsStatus.TIMEOUT  # no answer at all: network errors, bad replies


# Postfix's precedence when combining the A, AAAA and MX outcomes (dns_lookup_types.c):
# OK > RETRY > INVALID-REPLY > FAIL > NULLMX > NOTFOUND.  Within NOTFOUND, NODATA
# ranks before NXDOMAIN: the name exists.  Equal ranks keep the first outcome.
_RANK = {
    DnsStatus.FOUND: 0,
    DnsStatus.SERVFAIL: 1,
    DnsStatus.TIMEOUT: 1,
    DnsStatus.REFUSED: 1,
    DnsStatus.MALFORMED: 2,
    DnsStatus.NULLMX: 3,
    DnsStatus.NODATA: 4,
    DnsStatus.NXDOMAIN: 5,
}


def _run_sync(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion from synchronous code.

    Inside a running event loop (a Jupyter kernel, an async caller) the loop
    cannot be re-entered, so the coroutine gets its own loop in a worker thread.
    """
    import asyncio
    import concurrent.futures

    async def main() -> _T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="loganalyze-dns") as pool:
        return pool.submit(asyncio.run, main()).result()



# -- the real resolver -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resolved:
    """One name's combined answer and how long it may be kept (0: not at all)."""

    lookup: HostLookup
    ttl: int


class DnsResolver:
    """Look up HELO names the way Postfix does, many at once.

    ``nameservers`` are ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or bare IPv6
    strings; None means the system's resolver configuration.  ``timeout`` is how
    long one server gets to answer one query.  ``deadline`` bounds all the DNS
    work of the resolver's life, counted from its first question: every
    :meth:`lookup_hosts` batch and every :meth:`query` (the SPF re-checks) share
    it, and what is not answered by then is :attr:`DnsStatus.DEADLINE`.
    ``concurrency`` is how many names are looked up at once.  Answers are
    remembered for the resolver's lifetime, so each distinct name (case-
    insensitively) is asked once per run, and kept across runs in ``cache`` if
    given.  ``progress(done, total)`` is called as each name that needs DNS
    (neither remembered nor cached) is answered.
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: DnsCache | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if not timeout > 0 or not deadline > 0:
            raise ConfigError("DNS timeout and deadline must be positive")
        if concurrency < 1:
            raise ConfigError("DNS concurrency must be at least 1")
        import dns.asyncresolver
        import dns.exception
        import dns.nameserver

        if nameservers is None:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.exception.DNSException as exc:
                raise ConfigError(f"cannot read the system's DNS settings: {exc}") from None
        else:
            servers = [parse_nameserver(s) for s in nameservers]
            if not servers:
                raise ConfigError("no DNS server given")
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(a, p) for a, p in servers]
        # Absolute names only, no search list (Postfix turns RES_DNSRCH/RES_DEFNAMES off).
        resolver.search = []
        resolver.use_search_by_default = False
        resolver.cache = None
        resolver.retry_servfail = False
        resolver.timeout = timeout
        # Each server gets one full try per query.
        resolver.lifetime = timeout * max(1, len(resolver.nameservers))
        self._resolver = resolver
        self.timeout = timeout
        """Seconds one server gets to answer one query."""
        self.deadline = deadline
        """Seconds all the DNS work may take, from the first question on."""
        self.concurrency = concurrency
        """Names looked up at the same time."""
        self.cache = cache
        """The persistent cache, if any."""
        self.progress = progress
        """Called with (names answered, names to answer) during a batch."""
        self._memo: dict[str, HostLookup] = {}
        self._answers: dict[tuple[str, int], DnsAnswer] = {}
        self._lock = threading.Lock()
        self._expires: float | None = None
        self.missed = 0
        """Names and questions left unanswered because the deadline ran out."""

    # -- the one deadline --

    def remaining(self) -> float:
        """Seconds left before the deadline; the clock starts at the first call."""
        now = time.monotonic()
        with self._lock:
            if self._expires is None:
                self._expires = now + self.deadline
            return max(0.0, self._expires - now)

    def _count_missed(self, count: int) -> None:
        with self._lock:
            self.missed += count

    # -- host lookups --

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return one :class:`HostLookup` per distinct name, keyed by the name as given.

        Spellings that differ only in case share one lookup.  Synchronous; safe
        to call from inside a running event loop.
        """
        spellings = list(dict.fromkeys(names))
        keys = list(dict.fromkeys(lookup_key(name) for name in spellings))
        with self._lock:
            known = {key: self._memo[key] for key in keys if key in self._memo}
        wanted = [key for key in keys if key not in known]
        if wanted and self.cache is not None:
            cached = self.cache.get_many(wanted)
            self._remember(cached)
            known.update(cached)
            wanted = [key for key in wanted if key not in cached]
        if wanted:
            budget = self.remaining()
            resolved = _run_sync(lambda: self._lookup_batch(wanted, budget)) if budget else {}
            if self.cache is not None:
                self.cache.put_many((r.lookup, r.ttl) for r in resolved.values() if r.ttl > 0)
            answered = {key: r.lookup for key, r in resolved.items()}
            self._remember(answered)  # not the DEADLINE ones: they were never answered
            known.update(answered)
            late = [key for key in wanted if key not in resolved]
            self._count_missed(len(late))
            for key in late:
                known[key] = HostLookup(key, DnsStatus.DEADLINE)
        result: dict[str, HostLookup] = {}
        for name in spellings:
            lookup = known[lookup_key(name)]
            result[name] = lookup if lookup.name == name else replace(lookup, name=name)
        return result

    def _remember(self, lookups: Mapping[str, HostLookup]) -> None:
        with self._lock:
            self._memo.update(lookups)

    async def lookup_hosts_async(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Like :meth:`lookup_hosts`, for async callers (runs it in a worker thread)."""
        import asyncio

        return await asyncio.to_thread(self.lookup_hosts, names)

    async def _lookup_batch(self, keys: Sequence[str], budget: float) -> dict[str, _Resolved]:
        """Look up ``keys`` concurrently; those unanswered after ``budget`` s are left out."""
        import asyncio

        semaphore = asyncio.Semaphore(self.concurrency)
        results: dict[str, _Resolved] = {}
        total = len(keys)

        async def one(key: str) -> None:
            async with semaphore:
                results[key] = await self._lookup_one(key)
            if self.progress is not None:
                self.progress(len(results), total)

        tasks = [asyncio.create_task(one(key)) for key in keys]
        _, pending = await asyncio.wait(tasks, timeout=budget)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending and self.progress is not None:
            self.progress(total, total)
        return results

    async def _lookup_one(self, key: str) -> _Resolved:
        """A, then AAAA, then MX until one succeeds; combine as Postfix does.

        The TTL is the minimum over all answers consulted; 0 (do not keep) if
        the outcome is temporary or a negative answer carried no SOA.
        """
        import dns.rdatatype

        qname = _query_name(key)
        if qname is None:
            return _Resolved(HostLookup(key, DnsStatus.NXDOMAIN), 0)
        outcomes: list[tuple[DnsStatus, dns.rrset.RRset | None, int]] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.MX):
            status, rrset, ttl = await self._ask(qname, rdtype)
            if rdtype == dns.rdatatype.MX and rrset is not None:
                status = _mx_status(rrset)
            outcomes.append((status, rrset, ttl))
            # Postfix goes on after NXDOMAIN too, but a name that does not exist has no
            # record of any type (RFC 8020): the other questions cannot change the outcome.
            if status in (DnsStatus.FOUND, DnsStatus.NXDOMAIN):
                break
        status = min((s for s, _, _ in outcomes), key=_RANK.__getitem__)
        addresses: list[str] = []
        mx: list[str] = []
        for _, rrset, _ in outcomes:
            if rrset is None:
                continue
            if rrset.rdtype == dns.rdatatype.MX:
                mx.extend(_target_text(r.exchange) for r in rrset)
            else:
                addresses.extend(r.to_text() for r in rrset)
        ttl = 0 if status.is_temporary else min(t for _, _, t in outcomes)
        return _Resolved(HostLookup(key, status, tuple(addresses), tuple(mx)), ttl)

    async def _ask(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> tuple[DnsStatus, dns.rrset.RRset | None, int]:
        """Ask one question; map every outcome to a status (failures are values)."""
        import dns.exception
        import dns.resolver

        try:
            answer = await self._resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            responses = exc.responses()
            return DnsStatus.NXDOMAIN, None, _negative_ttl(next(iter(responses.values()), None))
        except dns.resolver.NoNameservers as exc:
            return _no_nameservers_status(exc), None, 0
        except dns.exception.Timeout:
            return DnsStatus.TIMEOUT, None, 0
        except dns.exception.DNSException:
            return DnsStatus.SERVFAIL, None, 0
        if answer.rrset is None:
            return DnsStatus.NODATA, None, _negative_ttl(answer.response)
        return DnsStatus.FOUND, answer.rrset, answer.chaining_result.minimum_ttl

    # -- generic questions, for later checks (SPF, PTR) --

    async def query_async(self, name: str, rdtype: str | dns.rdatatype.RdataType) -> DnsAnswer:
        """Ask one question (``"TXT"``, ``"PTR"``...) about an absolute name.

        Answers are remembered for the resolver's lifetime (temporary failures
        too: one run sees one answer).  After the deadline nothing is asked and
        the answer is :attr:`DnsStatus.DEADLINE` (not remembered).
        """
        import asyncio

        import dns.rdatatype

        rdtype = dns.rdatatype.RdataType.make(rdtype)
        memo_key = (lookup_key(name), int(rdtype))
        with self._lock:
            if memo_key in self._answers:
                return self._answers[memo_key]
        qname = _query_name(name if name == "." else name.removesuffix("."))
        if qname is None:
            result = DnsAnswer(DnsStatus.NXDOMAIN, (), 0)
        else:
            budget = self.remaining()
            try:
                if not budget:
                    raise TimeoutError
                status, rrset, ttl = await asyncio.wait_for(self._ask(qname, rdtype), budget)
            except (TimeoutError, asyncio.TimeoutError):  # the same class from 3.11 on
                self._count_missed(1)
                return DnsAnswer(DnsStatus.DEADLINE, (), 0)
            records = tuple(_rdata_text(r) for r in rrset) if rrset is not None else ()
            result = DnsAnswer(status, records, ttl)
        with self._lock:
            self._answers[memo_key] = result
        return result

    def query(self, name: str, rdtype: str | dns.rdatatype.RdataType) -> DnsAnswer:
        """Synchronous :meth:`query_async`."""
        return _run_sync(lambda: self.query_async(name, rdtype))


def _mx_status(rrset: dns.rrset.RRset) -> DnsStatus:
    """FOUND, NULLMX (only ``MX 0 .``) or MALFORMED (a target Postfix rejects)."""
    import dns.name

    targets = [r.exchange for r in rrset]
    if all(t == dns.name.root for t in targets):
        return DnsStatus.NULLMX
    if any(
        t != dns.name.root and not valid_hostname(t.to_text(omit_final_dot=True)) for t in targets
    ):
        return DnsStatus.MALFORMED
    return DnsStatus.FOUND

