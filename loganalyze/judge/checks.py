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

# Limits from util/valid_hostname.h (VALID_LABEL_LEN, VALID_HOSTNAME_LEN).
_LABEL_MAX = 63
_NAME_MAX = 255

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

# Postfix's ctype macros are ASCII-only (sys_defs.h ISALNUM, ISDIGIT, ISSPACE).
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_SPACE = frozenset(" \t\n\v\f\r")
# smtpd.c NEUTER_CHARACTERS, applied to the stored HELO after printable().
_NEUTER = frozenset(' <>()\\";@')

# valid_hostname() as patterns (the loop in valid_hostname.c, rule for rule, but a
# regex runs many times faster): a label is 1 to 63 of [A-Za-z0-9_-] ('_' is
# tolerated, "grr.."), with no '-' at either end; DO_WILDCARD also takes '*' as the
# whole first label.  Explicit ASCII ranges: Postfix's ctype macros are ASCII-only.
_HOST_LABEL = rf"[A-Za-z0-9_](?:[A-Za-z0-9_-]{{0,{_LABEL_MAX - 2}}}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
_WILDCARD_HOSTNAME = re.compile(rf"(?:\*|{_HOST_LABEL})(?:\.{_HOST_LABEL})*")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]*")
_DOTTED_QUAD = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)")


# --- util/valid_hostname.c ------------------------------------------------------


def valid_hostname(name: str, *, wildcard: bool = False) -> bool:
    """Return True if *name* passes Postfix's ``valid_hostname()``.

    Letters, digits, ``_`` and ``-`` in dot-separated labels; no empty label
    (so no leading, trailing or double dot); no ``-`` at either end of a label;
    labels of at most 63 and names of at most 255 characters; not all digits
    and dots.  ``wildcard`` is ``DO_WILDCARD``: a first label of exactly ``*``
    is allowed, as the DNS client asks since Postfix 3.5.21, 3.6.11, 3.7.7,
    3.8.2 and 3.9.  A bare ``*`` passes too (released Postfix up to 3.11);
    the 3.12 snapshot of 2026-04-13 and later also wants a ``.`` after it.
    """
    # Every accepted character is ASCII, so characters == bytes here.
    if len(name) > _NAME_MAX:
        return False
    pattern = _WILDCARD_HOSTNAME if wildcard else _HOSTNAME
    return pattern.fullmatch(name) is not None and _DIGITS_AND_DOTS.fullmatch(name) is None


def valid_ipv4_hostaddr(addr: str) -> bool:
    """Return True for a dotted quad as Postfix's ``valid_ipv4_hostaddr()`` accepts it.

    Four decimal fields of value <= 255 (leading zeros allowed), no empty
    field, no trailing dot; a first field of 0 only when the whole string is
    zeros and dots (``0.0.0.0``).
    """
    quad = _DOTTED_QUAD.fullmatch(addr)
    if quad is None:
        return False
    for octet in quad.groups():
        # Leading zeros do not count (and a long run of them must not reach int()).
        digits = octet.lstrip("0")
        if len(digits) > 3 or (digits and int(digits) > 255):
            return False
    return not (quad[1].lstrip("0") == "" and addr.lstrip("0."))


def valid_ipv6_hostaddr(addr: str) -> bool:
    """Return True for IPv6 text as Postfix's ``valid_ipv6_hostaddr()`` accepts it.

    Hex fields of at most 4 digits between 2 to 7 colons, at most one ``::``,
    optionally ending in a dotted quad.  No ``IPv6:`` prefix.  Postfix does
    not count the fields, so short forms such as ``1:2:3`` pass.
    """
    n = len(addr)
    colons = 0
    double_colon_at = 0
    run = 0  # length of the hex run just read
    i = 0
    while True:
        ch = addr[i] if i < n else ""
        if not ch:
            if colons < 2:
                return False
            # An empty last field is only allowed right after "::".
            return not (run == 0 and double_colon_at != colons - 1)
        if ch == ".":
            if colons < 2 or colons > 6:
                return False
            return valid_ipv4_hostaddr(addr[i - run :])
        if ch == ":":
            after = addr[i + 1] if i + 1 < n else ""
            if colons == 0 and run == 0 and after in _ALNUM:
                return False  # a leading single ':'
            colons += 1
            if colons > 7:
                return False
            i += 1
            run = 0
            if i < n and addr[i] == ":":
                if double_colon_at:
                    return False
                double_colon_at = colons
            continue
        start = i
        while i < n and addr[i] in _HEX:
            i += 1
        run = i - start
        if run == 0 or run > 4:
            return False


def valid_hostaddr(addr: str) -> bool:
    """Return True for an IPv6 (if *addr* has a ``:``) or else IPv4 address."""
    if not addr:
        return False
    if ":" in addr:
        return valid_ipv6_hostaddr(addr)
    return valid_ipv4_hostaddr(addr)


# --- global/valid_mailhost_addr.c -----------------------------------------------


def valid_mailhost_addr(literal_inside: str) -> bool:
    """Return True for the inside of an address literal (``[...]`` without brackets).

    ``IPv6:`` (ASCII, any case) selects the IPv6 rules for the rest; anything
    else must be IPv4, so ``2001:db8::1`` without the tag is refused.
    """
    tag = literal_inside[:5]
    if tag.isascii() and tag.lower() == "ipv6:":
        return valid_ipv6_hostaddr(literal_inside[5:])
    return valid_ipv4_hostaddr(literal_inside)


# --- what smtpd stores: smtpd.c, smtpd_token.c, printable.c -----------------------


def _quoted(text: str, i: int, out: list[str], opener: str, closer: str) -> int:
    """Copy a ``<...>`` or ``"..."`` group starting after *opener*; return the new index.

    Follows smtpd_token.c: quotes nest inside ``<>``, ``\\`` escapes the
    next character, whitespace inside the group is kept.
    """
    expect = [closer]
    out.append(opener)
    n = len(text)
    while i < n:
        ch = text[i]
        i += 1
        out.append(ch)
        if ch == "\\":
            if i >= n:
                break
            out.append(text[i])
            i += 1
        elif ch == expect[-1]:
            if len(expect) == 1:
                return i
            expect.pop()
        elif ch == '"':
            expect.append('"')
        elif ch == "<" and expect[-1] == ">":
            expect.append(">")
    return i


def _smtpd_tokens(text: str) -> list[str]:
    """Split a command's argument text into words the way smtpd_token.c does."""
    words: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        out: list[str] = []
        while i < n:
            ch = text[i]
            i += 1
            if ch in _SPACE:
                while i < n and text[i] in _SPACE:
                    i += 1
                if out:
                    break
            elif ch in ('"', "<"):
                i = _quoted(text, i, out, ch, '"' if ch == '"' else ">")
            elif ch == ":":
                out.append(ch)
                # "to:" and "from:" end a word (meant for MAIL/RCPT).
                if "".join(out).lower() in ("to:", "from:"):
                    break
            else:
                if ch == "\\":
                    out.append(ch)
                    if i >= n:
                        break
                    ch = text[i]
                    i += 1
                out.append(ch)
        if out:
            words.append("".join(out))
    return words


def _byte_count(ch: str) -> int:
    """Bytes that *ch* takes in the client's line (1 for an undecodable byte)."""
    try:
        return len(ch.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate stands for one raw byte
        return 1


def _printable(text: str, replacement: str, *, utf8: bool) -> str:
    """Postfix ``printable()``: keep printable ASCII and (with *utf8*) valid UTF-8.

    Every other byte becomes *replacement*.  Undecodable bytes are expected as
    lone surrogates (``errors="surrogateescape"``); each is one byte.  This is
    the strict UTF-8 test of Postfix 3.9 and later; 3.8 and older also keep
    stray continuation bytes that follow a multibyte character.
    """
    if text.isascii() and text.isprintable():
        return text  # the usual case: nothing to replace (ASCII printable is 0x20-0x7e)
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x80:
            out.append(replacement)
        elif utf8 and not 0xD800 <= code <= 0xDFFF:
            out.append(ch)
        else:
            out.append(replacement * _byte_count(ch))
    return "".join(out)


def sanitize_helo(raw: str, *, smtputf8: bool = True) -> str:
    """Return the HELO value smtpd stores (and logs as ``helo=<...>``) for *raw*.

    *raw* is the text after ``HELO``/``EHLO``.  Steps, as in smtpd.c
    ``helo_cmd``/``ehlo_cmd``: split into words like smtpd_token.c (quoted
    ``"..."`` and ``<...>`` groups stay whole) and rejoin them with single
    spaces (``collapse_args``); ``printable(..., '?')`` replaces control
    characters, DEL and bytes that are not valid UTF-8 (every non-ASCII
    byte when *smtputf8* is false, i.e. ``smtputf8_enable = no``); finally the
    characters `` <>()\\";@`` become ``?``.  An argument with no words gives
    ``""`` (Postfix answers ``501 Syntax`` and stores nothing).
    """
    joined = " ".join(_smtpd_tokens(raw))
    shown = _printable(joined, "?", utf8=smtputf8)
    return "".join("?" if ch in _NEUTER else ch for ch in shown)


# --- smtpd/smtpd_check.c ----------------------------------------------------------


def _reply(code: str, helo: str, reason: str) -> str:
    """Format a reply the way smtpd_check_reject() does (510 bytes, printable(' '))."""
    text = f"{code} <{helo}>: {_REPLY_CLASS}: {reason}"
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > _REPLY_MAX_BYTES:
        # A character cut in half leaves bytes that printable() blanks.
        text = raw[:_REPLY_MAX_BYTES].decode("utf-8", "surrogateescape")
    return _printable(text, " ", utf8=True)


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
