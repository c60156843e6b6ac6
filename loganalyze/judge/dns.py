"""DNS answers as the checks see them, and the resolvers that need no network.

A resolver is anything with ``lookup_hosts(names) -> {name: HostLookup}``
(:class:`HostResolver`): the real one, :class:`~loganalyze.judge.dns_resolver.DnsResolver`,
asks DNS what Postfix's ``reject_unknown_helo_hostname`` asks;
:class:`StaticResolver` answers from a table and :class:`NoDnsResolver`
answers nothing (``--no-dns``).  This module imports no dnspython, so a run
with ``--no-dns`` never loads it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from ..compat import StrEnum
from ..errors import ConfigError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "DnsAnswer",
    "DnsStatus",
    "HostLookup",
    "HostResolver",
    "NoDnsResolver",
    "StaticResolver",
    "lookup_key",
    "parse_nameserver",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds to wait for one server to answer one query."""
DEFAULT_DEADLINE = 30.0
"""Seconds for all the DNS work of a run (host lookups and single questions alike),
counted from its first question."""
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
    DEADLINE = "deadline"
    """Not answered: the run's DNS deadline (``--dns-deadline``) ran out first.  The
    answer is missing, which says nothing about the name (undetermined, never kept)."""

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




def lookup_key(name: str) -> str:
    """The form names are compared in: DNS names are case-insensitive."""
    return name.lower()


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



# -- resolvers without a network -------------------------------------------------------


class StaticResolver:
    """Answers from a table, never from the network (for verdict and report tests).

    Keys are names (case-insensitive); values a :class:`HostLookup` or just a
    :class:`DnsStatus`.  Names not in the table are NXDOMAIN.  :attr:`asked`
    lists the names each call asked about, to check callers ask once.
    """

    def __init__(self, table: Mapping[str, HostLookup | DnsStatus]) -> None:
        self.table = {lookup_key(name): value for name, value in table.items()}
        """The answers, keyed by lower-cased name."""
        self.asked: list[str] = []
        """Every distinct name passed to :meth:`lookup_hosts`, in order, over all calls."""

    def lookup_hosts(self, names: Iterable[str]) -> dict[str, HostLookup]:
        """Return the table's answer for each distinct name."""
        result: dict[str, HostLookup] = {}
        for name in dict.fromkeys(names):
            self.asked.append(name)
            value = self.table.get(lookup_key(name), DnsStatus.NXDOMAIN)
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
