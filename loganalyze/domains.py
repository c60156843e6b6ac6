"""Domain-name helpers shared by the verdict and the helo_access safety rules."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    """The public suffix list, loaded on first use (it takes a while)."""
    from publicsuffixlist import PublicSuffixList

    # ICANN suffixes only: the private section lists e.g. compute-1.amazonaws.com,
    # which would make every EC2 host its own "organisation".
    return PublicSuffixList(only_icann=True)


@lru_cache(maxsize=65536)
def registered_domain(name: str) -> str:
    """The organisational domain of a host name (``mx1.mail.example.co.uk`` -> ``example.co.uk``).

    Returns the lower-cased name itself when it has no public suffix
    (``localdomain``, ``ec2.internal`` names, single labels).
    """
    name = name.lower().rstrip(".")
    if not name:
        return ""
    private = _psl().privatesuffix(name)
    if private:
        return str(private)
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else name


@lru_cache(maxsize=65536)
def has_public_suffix(name: str) -> bool:
    """True when the name ends in a real ICANN suffix (``.com``, ``.co.uk``...)."""
    return _psl().privatesuffix(name.lower().rstrip(".")) is not None


def same_organisation(a: str, b: str) -> bool:
    """True when two host names share a registered domain under a real suffix."""
    if not a or not b:
        return False
    da, db = registered_domain(a), registered_domain(b)
    return bool(da) and da == db and has_public_suffix(da)


def is_ip_address(text: str) -> bool:
    """True for a bare IPv4/IPv6 address or an address literal like ``[192.0.2.1]``."""
    inner = text.strip("[]")
    if inner.lower().startswith("ipv6:"):
        inner = inner[5:]
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        return False
    return True


_DYNAMIC_WORDS = re.compile(
    r"(?:^|[.\-_\d])(?:dyn(?:amic)?|dhcp|dsl|adsl|vdsl|xdsl|pool|ppp|pppoe|cable|broadband"
    r"|dialup|dial|cust(?:omer)?|client|static|res(?:idential)?|home|user|host|ip|wireless"
    r"|mobile|nat|bb|fttx?|ftth)(?:$|[.\-_\d])",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def is_generic_name(name: str, ip: str) -> bool:
    """True for ISP-style names with the address embedded or dynamic-pool words.

    ``ec2-54-237-201-103.compute-1.amazonaws.com`` and
    ``123-45-67-89.dsl.example.net`` are generic; ``mail-ej1-f54.google.com`` is not.
    """
    lowered = name.lower()
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv4Address):
        octets = ip.split(".")
        digits = re.findall(r"\d+", lowered)
        # Three or more of the octets, in either order, or the address as hex.
        if _contains_run(digits, octets) or _contains_run(digits, octets[::-1]):
            return True
        if format(int(address), "08x") in lowered:
            return True
    first = lowered.split(".", 1)[0]
    return _DYNAMIC_WORDS.search(first) is not None and any(c.isdigit() for c in first)


def _contains_run(digits: list[str], octets: list[str]) -> bool:
    joined = "-".join(str(int(d)) for d in digits if len(d) <= 3)
    for start in range(2):
        run = "-".join(str(int(o)) for o in octets[start : start + 3])
        if run and run in joined:
            return True
    return False
