"""DNS lookups for the unknown-hostname check.

:class:`DnsResolver` asks DNS what Postfix's ``reject_unknown_helo_hostname``
asks (postfix-reference 1.5, from Postfix ``dns/dns_lookup.c`` and
``smtpd/smtpd_check.c``): A, then AAAA, then MX for the name as an absolute
name, stopping at the first success, and folds the answers into one
:class:`DnsStatus`.  Many names are in flight at once on dnspython's
asynchronous resolver; callers see a plain synchronous
:meth:`DnsResolver.lookup_hosts`.  :class:`StaticResolver` answers from a table
and :class:`NoDnsResolver` answers nothing (``--no-dns``).

dnspython and asyncio are imported by the functions that use them: a run
with ``--no-dns`` (or a static table) never loads them.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from .compat import StrEnum
from .errors import ConfigError

if TYPE_CHECKING:
    import dns.message
    import dns.name
    import dns.rdata
    import dns.rdatatype
    import dns.resolver
    import dns.rrset

    from .dns_cache import DnsCache

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "DnsAnswer",
    "DnsResolver",
    "DnsStatus",
    "HostLookup",
    "HostResolver",
    "NoDnsResolver",
    "StaticResolver",
    "parse_nameserver",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds to wait for one server to answer one query."""
DEFAULT_DEADLINE = 20.0
"""Seconds for a whole :meth:`DnsResolver.lookup_hosts` batch."""
DEFAULT_CONCURRENCY = 50
"""Names looked up at the same time."""


class DnsStatus(StrEnum):
    """What DNS said about a HELO name, in the words `loganalyze check` prints."""

    FOUND = "found"
    """An A, AAAA or MX record exists (after following CNAMEs)."""
    NXDOMAIN = "nxdomain"
    """The name does not exist."""
    NODATA = "nodata"
    """The name exists but has no A, AAAA or MX record."""
    NULLMX = "nullmx"
    """Only a null MX (``MX 0 .``): Postfix lets such a HELO pass."""
    MALFORMED = "malformed"
    """An MX target is not a valid hostname: ``Malformed DNS server reply``."""
    SERVFAIL = "servfail"
    """Temporary failure: the server said SERVFAIL."""
    TIMEOUT = "timeout"
    """Temporary failure: no answer within the timeout or the run's deadline."""
    REFUSED = "refused"
    """The server refused; Postfix with glibc sees it as temporary."""
    SKIPPED = "skipped"
    """DNS was not asked (``--no-dns``)."""

    @property
    def is_temporary(self) -> bool:
        """True for outcomes Postfix turns into a deferral, never a rejection."""
        return self in _TEMPORARY

    @property
    def passes(self) -> bool | None:
        """Whether reject_unknown_helo_hostname lets the name pass; None if unknown."""
        return _PASSES.get(self)


# Tables rather than tuples of members in the properties: looking members up on the
# class is slow, and the checks ask these for every HELO name.
_TEMPORARY = frozenset({DnsStatus.SERVFAIL, DnsStatus.TIMEOUT, DnsStatus.REFUSED})
_PASSES: dict[DnsStatus, bool] = {
    DnsStatus.FOUND: True,
    DnsStatus.NULLMX: True,
    DnsStatus.NXDOMAIN: False,
    DnsStatus.NODATA: False,
    DnsStatus.MALFORMED: False,
}


@dataclass(frozen=True, slots=True)
class HostLookup:
    """The combined A/AAAA/MX answer for one name."""

    name: str
    """The name as asked (no trailing dot, as Postfix stores it)."""
    status: DnsStatus
    """The outcome that decides the unknown check."""
    addresses: tuple[str, ...] = ()
    """A and AAAA addresses found, if any."""
    mx: tuple[str, ...] = ()
    """MX targets found, if any."""


class HostResolver(Protocol):
    """Anything that can look up many HELO names at once."""

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return one :class:`HostLookup` per distinct name (asked at most once)."""
        ...


class DnsAnswer(NamedTuple):
    """The answer to one question (one name, one type), as :meth:`DnsResolver.query` gives it."""

    status: DnsStatus
    """FOUND when records came back; otherwise NXDOMAIN, NODATA or a temporary status."""
    records: tuple[str, ...]
    """The records as text: addresses, ``"10 mx.example"``, TXT strings joined, names
    without the trailing dot."""
    ttl: int
    """Seconds the answer may be kept: the records' minimum TTL (CNAMEs included), for
    NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) per RFC 2308, and 0 when it must not be
    kept (temporary failures, negative answers without an SOA)."""


# -- helpers -------------------------------------------------------------------------

_T = TypeVar("_T")

# Postfix valid_hostname() (util/valid_hostname.c, postfix-reference 1.2): letters,
# digits, '_' and '-'; no empty label; no '-' at either end of a label; labels of at
# most 63 characters; at most 255 in all; not made only of digits and dots.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC = re.compile(r"[0-9.]+")


def _valid_hostname(text: str) -> bool:
    """Postfix's ``valid_hostname()`` on an MX target (no trailing dot)."""
    return (
        len(text) <= 255 and _HOSTNAME.fullmatch(text) is not None and not _NUMERIC.fullmatch(text)
    )


def _key(name: str) -> str:
    """The form names are compared in: DNS names are case-insensitive."""
    return name.lower()


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


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address.

    HOST must be an IP address (a server's name would need DNS to find).
    Returns ``(address, port)``; the port defaults to 53.  Raises
    :class:`~loganalyze.errors.ConfigError` on anything else.
    """
    spec = text.strip()
    port_text: str | None = None
    if spec.startswith("["):
        match = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", spec)
        if match is None:
            raise ConfigError(f"DNS server {text!r}: expected [IPv6] or [IPv6]:PORT")
        host, port_text = match.group(1), match.group(2)
        if ":" not in host:
            raise ConfigError(f"DNS server {text!r}: only IPv6 addresses go in brackets")
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
    else:
        host = spec
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigError(
            f"DNS server {text!r}: {host!r} is not an IP address "
            "(use HOST, HOST:PORT, [IPv6]:PORT or a bare IPv6 address)"
        ) from None
    if port_text is None:
        return address, 53
    if not port_text.isdecimal() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"DNS server {text!r}: port must be a number from 1 to 65535")
    return address, int(port_text)


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
    long one server gets to answer one query, ``deadline`` bounds a whole
    :meth:`lookup_hosts` batch (names not answered by then are TIMEOUT),
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
        """Seconds one :meth:`lookup_hosts` batch may take."""
        self.concurrency = concurrency
        """Names looked up at the same time."""
        self.cache = cache
        """The persistent cache, if any."""
        self.progress = progress
        """Called with (names answered, names to answer) during a batch."""
        self._memo: dict[str, HostLookup] = {}
        self._answers: dict[tuple[str, int], DnsAnswer] = {}
        self._lock = threading.Lock()

    # -- host lookups --

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return one :class:`HostLookup` per distinct name, keyed by the name as given.

        Spellings that differ only in case share one lookup.  Synchronous; safe
        to call from inside a running event loop.
        """
        spellings = list(dict.fromkeys(names))
        keys = list(dict.fromkeys(_key(name) for name in spellings))
        with self._lock:
            known = {key: self._memo[key] for key in keys if key in self._memo}
        wanted = [key for key in keys if key not in known]
        if wanted and self.cache is not None:
            cached = self.cache.get_many(wanted)
            self._remember(cached)
            known.update(cached)
            wanted = [key for key in wanted if key not in cached]
        if wanted:
            resolved = _run_sync(lambda: self._lookup_batch(wanted))
            if self.cache is not None:
                self.cache.put_many((r.lookup, r.ttl) for r in resolved.values() if r.ttl > 0)
            answered = {key: r.lookup for key, r in resolved.items()}
            self._remember(answered)  # not the deadline's TIMEOUTs: a later batch may ask
            known.update(answered)
            for key in wanted:
                known.setdefault(key, HostLookup(key, DnsStatus.TIMEOUT))
        result: dict[str, HostLookup] = {}
        for name in spellings:
            lookup = known[_key(name)]
            result[name] = lookup if lookup.name == name else replace(lookup, name=name)
        return result

    def _remember(self, lookups: Mapping[str, HostLookup]) -> None:
        with self._lock:
            self._memo.update(lookups)

    async def lookup_hosts_async(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Like :meth:`lookup_hosts`, for async callers (runs it in a worker thread)."""
        import asyncio

        return await asyncio.to_thread(self.lookup_hosts, names)

    async def _lookup_batch(self, keys: Sequence[str]) -> dict[str, _Resolved]:
        """Look up ``keys`` concurrently; those still unanswered at the deadline are left out."""
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
        _, pending = await asyncio.wait(tasks, timeout=self.deadline)
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
        too: one run sees one answer).
        """
        import dns.rdatatype

        rdtype = dns.rdatatype.RdataType.make(rdtype)
        memo_key = (_key(name), int(rdtype))
        with self._lock:
            if memo_key in self._answers:
                return self._answers[memo_key]
        qname = _query_name(name if name == "." else name.removesuffix("."))
        if qname is None:
            result = DnsAnswer(DnsStatus.NXDOMAIN, (), 0)
        else:
            status, rrset, ttl = await self._ask(qname, rdtype)
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
        t != dns.name.root and not _valid_hostname(t.to_text(omit_final_dot=True)) for t in targets
    ):
        return DnsStatus.MALFORMED
    return DnsStatus.FOUND


# -- resolvers without a network -------------------------------------------------------


class StaticResolver:
    """Answers from a table, never from the network (for verdict and report tests).

    Keys are names (case-insensitive); values a :class:`HostLookup` or just a
    :class:`DnsStatus`.  Names not in the table are NXDOMAIN.  :attr:`asked`
    lists the names each call asked about, to check callers ask once.
    """

    def __init__(self, table: Mapping[str, HostLookup | DnsStatus]) -> None:
        self.table = {_key(name): value for name, value in table.items()}
        """The answers, keyed by lower-cased name."""
        self.asked: list[str] = []
        """Every distinct name passed to :meth:`lookup_hosts`, in order, over all calls."""

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return the table's answer for each distinct name."""
        result: dict[str, HostLookup] = {}
        for name in dict.fromkeys(names):
            self.asked.append(name)
            value = self.table.get(_key(name), DnsStatus.NXDOMAIN)
            if isinstance(value, DnsStatus):
                result[name] = HostLookup(name, value)
            else:
                result[name] = replace(value, name=name)
        return result


class NoDnsResolver:
    """Asks nothing: every name is SKIPPED (``--no-dns``)."""

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return a SKIPPED lookup for each distinct name."""
        skipped = DnsStatus.SKIPPED  # once: a member lookup on the class is slow
        return {name: HostLookup(name, skipped) for name in dict.fromkeys(names)}
