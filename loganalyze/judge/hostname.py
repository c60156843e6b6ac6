"""Postfix's rules for host names and addresses, and for the HELO value smtpd stores.

Sources (read for facts): ``src/util/valid_hostname.c`` (``valid_hostname``,
``valid_ipv4_hostaddr``, ``valid_ipv6_hostaddr``, ``valid_hostaddr``),
``src/global/valid_mailhost_addr.c``, and ``src/smtpd/smtpd.c``
``helo_cmd``/``collapse_args``, ``src/smtpd/smtpd_token.c`` and
``src/util/printable.c`` (what is stored). :mod:`~loganalyze.judge.checks` runs
the HELO restrictions with them.
"""

from __future__ import annotations

import re

# Limits from util/valid_hostname.h (VALID_LABEL_LEN, VALID_HOSTNAME_LEN).
_LABEL_MAX = 63
_NAME_MAX = 255

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


def printable(text: str, replacement: str, *, utf8: bool) -> str:
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
    shown = printable(joined, "?", utf8=smtputf8)
    return "".join("?" if ch in _NEUTER else ch for ch in shown)


# --- raw UTF-8 host names (smtputf8_enable = yes) -------------------------------


# Full stops that IDNA would take as label separators; Postfix (and its parent-domain
# lookups) split on "." only, so a name with one of these is not the name it looks like.
_OTHER_DOTS = ("\u3002", "\uff0e", "\uff61")


def utf8_hostname_ace(name: str) -> str | None:
    """The ACE (``xn--``) form of a host name written in raw UTF-8, or None if it is none.

    With ``smtputf8_enable = yes`` smtpd keeps such a HELO as UTF-8 and a
    helo_access key in UTF-8 matches it, so a suggestion may be written that
    way: but only a name whose every label IDNA 2008 accepts (no space, control,
    symbol or ``#``, checked by the ``idna`` package) and whose ACE form passes
    :func:`valid_hostname`.  An ASCII name is not one (the ASCII rules apply).
    """
    if name.isascii() or any(dot in name for dot in _OTHER_DOTS):
        return None
    import idna  # only UTF-8 names need it

    bare = name[:-1] if name.endswith(".") else name
    try:
        ace = idna.encode(bare.lower(), uts46=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return ace if valid_hostname(ace) else None
