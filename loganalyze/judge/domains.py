"""Domain-name helpers shared by the verdict and the helo_access safety rules."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=2)
def _psl(punycode: bool = True) -> PublicSuffixList:
    """The public suffix list, loaded on first use (it takes a while).

    ``punycode`` adds each internationalised rule in its ``xn--`` form too,
    which takes most of the loading time (IDNA encoding in pure Python).
    """
    from publicsuffixlist import PublicSuffixList

    # ICANN suffixes only: the private section lists e.g. compute-1.amazonaws.com,
    # which would make every EC2 host its own "organisation".
    return PublicSuffixList(only_icann=True, accept_encoded_idn=punycode)


def _psl_for(name: str) -> PublicSuffixList:
    """The list to look ``name`` up in: the ``xn--`` forms matter only to names with one.

    Every rule the encoding adds has an ``xn--`` label, so for other names the
    answers are the same (tests/test_judge_speed.py checks the bundled list).
    """
    return _psl(punycode="xn--" in name)


@lru_cache(maxsize=65536)
def registered_domain(name: str) -> str:
    """The organisational domain of a host name (``mx1.mail.example.co.uk`` -> ``example.co.uk``).

    Returns the lower-cased name itself when it has no public suffix
    (``localdomain``, ``ec2.internal`` names, single labels).
    """
    name = name.lower().rstrip(".")
    if not name:
        return ""
    private = _psl_for(name).privatesuffix(name)
    if private:
        return str(private)
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else name


@lru_cache(maxsize=2)
def _listed_psl(punycode: bool) -> PublicSuffixList:
    """The ICANN list without its default ``*`` rule: unknown TLDs are no suffix."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True, accept_unknown=False, accept_encoded_idn=punycode)


@lru_cache(maxsize=65536)
def is_registrable_domain(name: str) -> bool:
    """True when ``name`` is exactly a domain one registers under a listed ICANN suffix
    (``brandt-metallbau.de``, ``example.co.uk``; not ``mail.example.de``, not
    ``host.localdomain``, whose suffix is on no list)."""
    name = name.lower().rstrip(".")
    return bool(name) and _listed_psl("xn--" in name).privatesuffix(name) == name


@lru_cache(maxsize=65536)
def has_public_suffix(name: str) -> bool:
    """True when the name ends in a real ICANN suffix (``.com``, ``.co.uk``...)."""
    name = name.lower().rstrip(".")
    return _psl_for(name).privatesuffix(name) is not None


def same_organisation(a: str, b: str) -> bool:
    """True when two host names share a registered domain under a real suffix."""
    if not a or not b:
        return False
    # A registered domain ends in the name's last label: different ones never match,
    # and telling so needs no public suffix lookup.
    if _last_label(a) != _last_label(b):
        return False
    da, db = registered_domain(a), registered_domain(b)
    return bool(da) and da == db and has_public_suffix(da)


def _last_label(name: str) -> str:
    """The last label of a name as :func:`registered_domain` sees it (lower case, no final dot)."""
    return name.lower().rstrip(".").rpartition(".")[2]


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


_NUMBERS = re.compile(r"\d+")
# What ipaddress.IPv4Address accepts (four decimal octets, no leading zeros), many
# times faster than constructing one.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


@lru_cache(maxsize=65536)
def is_generic_name(name: str, ip: str) -> bool:
    """True for ISP-style names with the address embedded or dynamic-pool words.

    ``ec2-54-237-201-103.compute-1.amazonaws.com`` and
    ``123-45-67-89.dsl.example.net`` are generic; ``mail-ej1-f54.google.com`` is not.
    """
    lowered = name.lower()
    # Only an IPv4 address has octets to look for.
    if _IPV4.fullmatch(ip) is not None:
        a, b, c, d = ip.split(".")  # no leading zeros: each octet as str(int()) writes it
        numbers = "-".join(str(int(n)) for n in _NUMBERS.findall(lowered) if len(n) <= 3)
        # Three or more of the octets, in either order, or the address as hex.
        runs = (f"{a}-{b}-{c}", f"{b}-{c}-{d}", f"{d}-{c}-{b}", f"{c}-{b}-{a}")
        if any(run in numbers for run in runs):
            return True
        if f"{int(a):02x}{int(b):02x}{int(c):02x}{int(d):02x}" in lowered:
            return True
    first = lowered.split(".", 1)[0]
    return _DYNAMIC_WORDS.search(first) is not None and any(ch.isdigit() for ch in first)


# Words that name an end-user access line (dial-up, DSL, cable, mobile, dynamic
# pools): mail servers do not live there, bots on infected home machines do. A
# generic name without them is a data centre's (cloud, VPS, dedicated hosting).
_ACCESS_LINE_WORDS = re.compile(
    r"(?:^|[.\-_\d])(?:dyn(?:amic)?|dhcp|dsl|adsl|vdsl|xdsl|pool|ppp|pppoe|cable|broadband"
    r"|dialup|dial|dip|cpe|res(?:idential)?|home|mobile|wireless|ftth|fttx|nat|bb)(?:$|[.\-_\d])",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def is_access_line_name(name: str) -> bool:
    """True when a reverse name says "end-user access line" (``...pool.dynamic-isp.net``,
    ``dsl-...``) in a label below its registered domain."""
    lowered = name.lower().rstrip(".")
    host_part = lowered[: -len(registered_domain(lowered))].rstrip(".")
    return _ACCESS_LINE_WORDS.search(host_part) is not None
