"""Build the resolver that the DNS options (CLI or notebook) ask for."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .dns import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, HostResolver, NoDnsResolver
from .dns_resolver import DnsResolver


def make_resolver(
    nameservers: Sequence[str] | None = None,
    *,
    no_dns: bool = False,
    dns_timeout: float = DEFAULT_TIMEOUT,
    dns_deadline: float = DEFAULT_DEADLINE,
    dns_cache: str | os.PathLike[str] | None = None,
    no_dns_cache: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> HostResolver:
    """The resolver for ``--nameserver``, ``--no-dns``, ``--dns-timeout``,
    ``--dns-deadline``, ``--dns-cache`` and ``--no-dns-cache``.

    ``no_dns`` asks nothing (the unknown check is undetermined unless the log
    says); otherwise ``nameservers`` (``HOST[:PORT]``, default: the system's)
    are asked, with answers kept in the SQLite cache at ``dns_cache`` (default:
    the user's cache directory) unless ``no_dns_cache``.  ``dns_deadline`` bounds
    all the DNS work done with the resolver (HELO lookups and SPF re-checks).
    """
    if no_dns:
        return NoDnsResolver()
    from .dns_cache import DnsCache  # sqlite3: not needed without DNS

    cache = None if no_dns_cache else DnsCache(dns_cache)
    return DnsResolver(list(nameservers) if nameservers else None, timeout=dns_timeout,
                       deadline=dns_deadline, cache=cache, progress=progress)
