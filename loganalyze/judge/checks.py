"""Re-run Postfix's three HELO restrictions on a HELO name, offline.

The functions here answer, for one HELO value as Postfix stored and logged it,
what ``reject_invalid_helo_hostname``, ``reject_non_fqdn_helo_hostname`` and
``reject_unknown_helo_hostname`` would say, with the exact reply text that
Postfix logs at the default reply codes.  DNS is not asked here: the caller
passes the :class:`~loganalyze.judge.dns.HostLookup` for :func:`dns_query_name`.

Sources (read for facts, Postfix 3.0 to 3.12; the checks are the same there):

* ``src/util/valid_hostname.c``: ``valid_hostname``, ``valid_ipv4_hostaddr``,
  ``valid_ipv6_hostaddr``, ``valid_hostaddr``;
* ``src/global/valid_mailhost_addr.c``: ``valid_mailhost_addr``;
* ``src/smtpd/smtpd_check.c``: ``generic_checks`` (dispatch on a leading
  ``[``), ``dup_if_truncate``, ``reject_invalid_hostaddr``,
  ``reject_invalid_hostname``, ``reject_non_fqdn_hostname``,
  ``reject_unknown_hostname`` and ``smtpd_check_reject`` (reply formatting);
* ``src/dns/dns_lookup.c``: ``dns_lookup_x`` (names refused before any query);
* ``src/smtpd/smtpd.c`` ``helo_cmd``/``ehlo_cmd``/``collapse_args``,
  ``src/smtpd/smtpd_token.c`` and ``src/util/printable.c`` (what is stored).

Nothing here does I/O or imports anything heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..compat import StrEnum
from .dns import DnsStatus, HostLookup, HostResolver
from .hostname import (
    printable,
    sanitize_helo,
    valid_hostaddr,
    valid_hostname,
    valid_ipv4_hostaddr,
    valid_ipv6_hostaddr,
    valid_mailhost_addr,
)

__all__ = [
    "NOT_QUERIED",
    "Check",
    "HeloCheckResult",
    "check_for_reason",
    "check_helo",
    "dns_query_name",
    "invalid_reply",
    "non_fqdn_reply",
    "sanitize_helo",
    "unknown_reply",
    "valid_hostaddr",
    "valid_hostname",
    "valid_ipv4_hostaddr",
    "valid_ipv6_hostaddr",
    "valid_mailhost_addr",
]


class Check(StrEnum):
    """One Postfix HELO restriction, named as ``loganalyze`` reports it."""

    INVALID = "invalid"
    """``reject_invalid_helo_hostname`` (alias ``reject_invalid_hostname``)."""
    NON_FQDN = "non_fqdn"
    """``reject_non_fqdn_helo_hostname`` (alias ``reject_non_fqdn_hostname``)."""
    UNKNOWN = "unknown"
    """``reject_unknown_helo_hostname`` (alias ``reject_unknown_hostname``)."""
    HELO_REQUIRED = "helo_required"
    """``smtpd_helo_required = yes``: MAIL without HELO/EHLO gets a 503."""


NOT_QUERIED = "not_queried"
"""``HeloCheckResult.dns`` when Postfix decides the unknown check without DNS."""
_SKIPPED = DnsStatus.SKIPPED.value

# Default reply codes (global/mail_params.h): invalid_hostname_reject_code,
# non_fqdn_reject_code, unknown_hostname_reject_code; the tempfail code is
# hard-wired to 450 in smtpd_check.c reject_unknown_hostname.
_INVALID_CODE = "501 5.5.2"
_NON_FQDN_CODE = "504 5.5.2"
_UNKNOWN_CODE = "450 4.7.1"
_TEMPFAIL_CODE = "450 4.7.1"
_REPLY_CLASS = "Helo command rejected"

_INVALID_NAME = "Invalid name"
_INVALID_ADDR = "invalid ip address"
_NEED_FQDN = "need fully-qualified hostname"
_HOST_NOT_FOUND = "Host not found"
_MALFORMED = "Malformed DNS server reply"

# smtpd_check.c smtpd_check_reject truncates the formatted reply to this many bytes.
_REPLY_MAX_BYTES = 510

# --- smtpd/smtpd_check.c ----------------------------------------------------------


def _reply(code: str, helo: str, reason: str) -> str:
    """Format a reply the way smtpd_check_reject() does (510 bytes, printable(' '))."""
    text = f"{code} <{helo}>: {_REPLY_CLASS}: {reason}"
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > _REPLY_MAX_BYTES:
        # A character cut in half leaves bytes that printable() blanks.
        text = raw[:_REPLY_MAX_BYTES].decode("utf-8", "surrogateescape")
    return printable(text, " ", utf8=True)


def _drop_one_trailing_dot(name: str) -> str:
    """smtpd_check.c dup_if_truncate: drop a final '.' unless the name is '.' or ends '..'."""
    if len(name) > 1 and name[-1] == "." and name[-2] != ".":
        return name[:-1]
    return name


def _literal_is_valid(helo: str) -> bool:
    """smtpd_check.c reject_invalid_hostaddr for a HELO that starts with '['."""
    if len(helo) > 2 and helo[-1] == "]":
        return valid_mailhost_addr(helo[1:-1])
    return valid_mailhost_addr(helo)  # brackets not stripped: always refused


def _literal_reply(helo: str) -> str | None:
    """The reply all three checks give for an address literal, or None if it is valid."""
    if _literal_is_valid(helo):
        return None
    return _reply(_INVALID_CODE, helo, _INVALID_ADDR)


def invalid_reply(helo: str) -> str | None:
    """Return what ``reject_invalid_helo_hostname`` answers for *helo*, or None if it passes.

    A name starting with ``[`` must be a valid address literal
    (``501 5.5.2 <x>: Helo command rejected: invalid ip address``).  Any other
    name, after dropping one trailing dot, must pass :func:`valid_hostname`
    or :func:`valid_hostaddr` (bare IPs pass, for backward compatibility),
    else ``501 5.5.2 <x>: Helo command rejected: Invalid name``.
    """
    if helo.startswith("["):
        return _literal_reply(helo)
    name = _drop_one_trailing_dot(helo)
    if valid_hostname(name) or valid_hostaddr(name):
        return None
    return _reply(_INVALID_CODE, helo, _INVALID_NAME)


def non_fqdn_reply(helo: str) -> str | None:
    """Return what ``reject_non_fqdn_helo_hostname`` answers for *helo*, or None if it passes.

    Literals are treated as in :func:`invalid_reply` (the same 501).  Other
    names, after dropping one trailing dot, must pass :func:`valid_hostname`
    and contain a dot, else ``504 5.5.2 <x>: Helo command rejected: need
    fully-qualified hostname``.  Postfix accepts non-ASCII (IDNA) names here
    only when the client used ``MAIL FROM ... SMTPUTF8``, which a log does
    not show, so non-ASCII names fail.
    """
    if helo.startswith("["):
        return _literal_reply(helo)
    name = _drop_one_trailing_dot(helo)
    if valid_hostname(name) and "." in name:
        return None
    return _reply(_NON_FQDN_CODE, helo, _NEED_FQDN)


@lru_cache(maxsize=65536)  # asked once for the DNS batch, again by check_helo
def dns_query_name(helo: str) -> str | None:
    """Return the name ``reject_unknown_helo_hostname`` sends to DNS, or None if none.

    Postfix never queries an address literal (a valid one passes, a bad one
    gets the 501), nor, in dns_lookup_x, a bare IPv4/IPv6 address or a name
    that fails :func:`valid_hostname` with ``DO_WILDCARD``: that includes
    every name ending in a dot, as this check does not drop it.  ``*.x`` is
    queried (Postfix 3.5.21, 3.6.11, 3.7.7, 3.8.2, 3.9 and later).  The root
    name ``.`` is exempt from the syntax test and is queried.  The name is
    returned unchanged; Postfix asks for it as an absolute name
    (``localhost`` means ``localhost.``).
    """
    if helo.startswith("["):
        return None
    if valid_hostaddr(helo):
        return None
    if helo != "." and not valid_hostname(helo, wildcard=True):
        return None
    return helo


def unknown_reply(helo: str, lookup: HostLookup | None) -> str | None:
    """Return what ``reject_unknown_helo_hostname`` answers for *helo*.

    *lookup* is the A/AAAA/MX answer for :func:`dns_query_name`; it is ignored
    when Postfix does not query.  Returns None when the check passes (valid
    literal, an address or MX found, null MX) and also when it cannot be
    decided because DNS was not asked (*lookup* None or ``skipped``);
    :func:`check_helo` tells these apart.  NXDOMAIN, NODATA and unqueried
    names give ``450 4.7.1 <x>: Helo command rejected: Host not found``; a bad
    MX target ``... Malformed DNS server reply``.  A temporary failure
    (SERVFAIL, timeout, REFUSED via glibc) gives the same ``Host not found``
    text, which Postfix uses as the ``defer_if_permit`` deferral.
    """
    if helo.startswith("["):
        return _literal_reply(helo)
    return _unknown_name_reply(helo, dns_query_name(helo), lookup)


def _unknown_name_reply(helo: str, query: str | None, lookup: HostLookup | None) -> str | None:
    """:func:`unknown_reply` for a *helo* that is not a literal, given its ``dns_query_name``."""
    if query is None:
        return _reply(_UNKNOWN_CODE, helo, _HOST_NOT_FOUND)
    if lookup is None:
        return None
    status = lookup.status
    if status.is_temporary:
        return _reply(_TEMPFAIL_CODE, helo, _HOST_NOT_FOUND)
    passes = status.passes
    if passes is None or passes:
        return None
    if status is DnsStatus.MALFORMED:
        return _reply(_UNKNOWN_CODE, helo, _MALFORMED)
    return _reply(_UNKNOWN_CODE, helo, _HOST_NOT_FOUND)


# --- reason text -> check ---------------------------------------------------------

_REASONS: dict[str, Check] = {
    _INVALID_NAME.lower(): Check.INVALID,
    # All three checks give this for a bad literal; the invalid check comes first.
    _INVALID_ADDR.lower(): Check.INVALID,
    _NEED_FQDN.lower(): Check.NON_FQDN,
    _HOST_NOT_FOUND.lower(): Check.UNKNOWN,
    _MALFORMED.lower(): Check.UNKNOWN,
}

# "<code> <dsn> " then an optional "<name>: " echo (greedy: raw names may hold '>').
_REPLY_PREFIX = re.compile(r"^(?:\d{3}(?: [245]\.\d{1,3}\.\d{1,3})? +)?(?:<.*>: +)?")
_OTHER_CLASS = re.compile(
    r"\b(?:Client host|Sender address|Recipient address|Data command"
    r"|End-of-data|Etrn command|Command) rejected: "
)
_HELO_REQUIRED = "send helo/ehlo first"


def check_for_reason(reason: str) -> Check | None:
    """Return the check whose reply text contains *reason*, or None for other texts.

    Accepts the bare reason (``need fully-qualified hostname``), the reason
    after the class (``Helo command rejected: Invalid name``), the whole
    reply (``504 5.5.2 <x>: Helo command rejected: ...``) and a trailing
    ``; from=<...> ...`` tail.  ``invalid ip address`` maps to
    :attr:`Check.INVALID`; ``Host not found`` and ``Malformed DNS server
    reply`` to :attr:`Check.UNKNOWN`; ``Error: send HELO/EHLO first`` to
    :attr:`Check.HELO_REQUIRED`.  Access-table and policy texts give None.
    """
    text = reason.strip()
    marker = f"{_REPLY_CLASS}: "
    pos = text.rfind(marker)
    if pos >= 0:
        text = text[pos + len(marker) :]
    else:
        if _OTHER_CLASS.search(text):
            return None
        text = _REPLY_PREFIX.sub("", text, count=1)
    key = text.split(";", 1)[0].strip().lower()
    if key.endswith(_HELO_REQUIRED) and pos < 0:
        return Check.HELO_REQUIRED
    return _REASONS.get(key)


# --- all three at once ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeloCheckResult:
    """What the three HELO checks say about one stored HELO value."""

    helo: str
    """The HELO as Postfix stored and logged it (``helo=<...>``)."""
    invalid: bool
    """True if ``reject_invalid_helo_hostname`` rejects it."""
    non_fqdn: bool
    """True if ``reject_non_fqdn_helo_hostname`` rejects it."""
    unknown: bool | None
    """True if ``reject_unknown_helo_hostname`` rejects it; None when undetermined
    (DNS skipped, or a temporary DNS failure that Postfix would defer)."""
    dns: str
    """A :class:`~loganalyze.judge.dns.DnsStatus` value, or ``"not_queried"`` when
    Postfix decides without DNS (literal, bare IP, bad syntax, trailing dot)."""
    reply: str | None
    """The reply of the first failing check in the order invalid, non_fqdn,
    unknown (what an enforcing server logs); the 450 deferral text for a
    temporary DNS failure when nothing else fails; None if all pass."""

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that reject, in restriction order (temporary failures excluded)."""
        pairs = (
            (Check.INVALID, self.invalid),
            (Check.NON_FQDN, self.non_fqdn),
            (Check.UNKNOWN, self.unknown),
        )
        return tuple(check for check, rejects in pairs if rejects)

    @property
    def first_failed(self) -> Check | None:
        """The first check that rejects, or None."""
        # Asked for every sender: no tuple built on the way.
        if self.invalid:
            return Check.INVALID
        if self.non_fqdn:
            return Check.NON_FQDN
        return Check.UNKNOWN if self.unknown else None


def check_helos(helos: Iterable[str], resolver: HostResolver) -> dict[str, HeloCheckResult]:
    """The three checks on each distinct name, with one DNS batch for all of them."""
    return lookup_and_check(helos, resolver)[0]


def lookup_and_check(
    helos: Iterable[str], resolver: HostResolver
) -> tuple[dict[str, HeloCheckResult], dict[str, HostLookup]]:
    """:func:`check_helos`, and the DNS answers it got (by query name)."""
    names = list(dict.fromkeys(helos))
    queries = {name: q for name in names if (q := dns_query_name(name)) is not None}
    lookups = resolver.lookup_hosts(sorted(set(queries.values()))) if queries else {}
    results = {name: check_helo(name, lookups.get(queries[name]) if name in queries else None)
               for name in names}
    return results, lookups


def check_helo(helo: str, lookup: HostLookup | None) -> HeloCheckResult:
    """Run the three HELO checks on *helo* (the value as stored) with DNS answer *lookup*.

    *lookup* is the answer for :func:`dns_query_name` (None when DNS was
    skipped or is not needed); it is ignored when Postfix would not query.
    """
    if helo.startswith("["):
        # All three checks give the literal's answer, without DNS.
        literal_reply = _literal_reply(helo)
        rejects = literal_reply is not None
        return HeloCheckResult(helo=helo, invalid=rejects, non_fqdn=rejects, unknown=rejects,
                               dns=NOT_QUERIED, reply=literal_reply)
    # invalid_reply, non_fqdn_reply and unknown_reply in one pass: each fact once,
    # and only the reply that is shown (the first failing check's) is formatted.
    name = _drop_one_trailing_dot(helo)
    hostname_ok = valid_hostname(name)
    invalid = not hostname_ok and not valid_hostaddr(name)
    non_fqdn = not hostname_ok or "." not in name
    query = dns_query_name(helo)
    unknown: bool | None
    if query is None:
        dns = NOT_QUERIED
        unknown = True
    elif lookup is None:
        dns = _SKIPPED
        unknown = None
    else:
        dns = lookup.status.value
        passes = lookup.status.passes
        unknown = None if passes is None else not passes
    reply: str | None
    if invalid:
        reply = _reply(_INVALID_CODE, helo, _INVALID_NAME)
    elif non_fqdn:
        reply = _reply(_NON_FQDN_CODE, helo, _NEED_FQDN)
    else:
        reply = _unknown_name_reply(helo, query, lookup)
    return HeloCheckResult(
        helo=helo, invalid=invalid, non_fqdn=non_fqdn, unknown=unknown, dns=dns, reply=reply
    )
