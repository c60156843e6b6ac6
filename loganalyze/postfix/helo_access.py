"""helo_access lines: which HELO names are safe to whitelist, and how to write them.

A ``name OK`` line is a door anyone can use by sending that name, so a
suggestion must be a name no forger gains from, written so that a logged
string can never inject a second token, a comment or a new line into the
table. The unforgeable alternative is a ``check_client_access cidr:`` entry
for the client's address.

Lookup semantics follow Postfix's ``check_domain_access`` with the default
``parent_domain_matches_subdomains`` (which includes smtpd_access_maps): the
full name, then each parent domain without a leading dot; keys are
case-folded; a trailing dot is part of the key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..judge.domains import is_ip_address, is_registrable_domain, registered_domain
from ..judge.hostname import utf8_hostname_ace
from .config import ServerIdentity

# One token of host-name characters; nothing else may reach a table line.
_SAFE_KEY = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,254}")

_LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "localdomain", "localhost.local", "local",
     "ip6-localhost", "ip6-loopback", "localhost6", "localhost6.localdomain6"}
)

# Large providers: a HELO in one of these groups is only credible from a
# client whose forward-confirmed name is in the same group.
_PROVIDER_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"google.com", "gmail.com", "googlemail.com"}),
    frozenset({"outlook.com", "hotmail.com", "live.com", "msn.com", "microsoft.com",
               "office365.com", "outlook.de"}),
    frozenset({"yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "ymail.com", "yahoodns.net",
               "aol.com", "aol.de"}),
    frozenset({"icloud.com", "me.com", "mac.com", "apple.com"}),
    frozenset({"amazon.com", "amazonses.com", "amazonaws.com"}),
    frozenset({"mail.ru", "yandex.ru", "yandex.com", "yandex.net"}),
    frozenset({"gmx.de", "gmx.net", "gmx.com", "web.de"}),
    frozenset({"protonmail.com", "proton.me", "protonmail.ch"}),
    frozenset({"zoho.com", "zohomail.com"}),
    frozenset({"qq.com", "163.com", "126.com", "sina.com"}),
    frozenset({"facebook.com", "facebookmail.com", "meta.com"}),
)


def provider_group(name: str) -> frozenset[str] | None:
    """The big-provider group a name belongs to, if any."""
    domain = registered_domain(name)
    for group in _PROVIDER_GROUPS:
        if domain in group:
            return group
    return None


def _safe_key(key: str) -> bool:
    """One token of host-name characters, or a valid host name in raw UTF-8."""
    return _SAFE_KEY.fullmatch(key) is not None or utf8_hostname_ace(key) is not None


def access_key(helo: str) -> str:
    """The key Postfix looks up for a stored HELO: the same string, case-folded."""
    return helo.lower()


def unsafe_reason(helo: str, server: ServerIdentity, client_name: str = "unknown") -> str | None:
    """Why whitelisting this HELO would help a forger, or None if it is safe to suggest."""
    key = access_key(helo)
    if not key:
        return "no HELO name to whitelist"
    if not key.isascii() and server.smtputf8 is False:
        # smtpd turns the non-ASCII bytes into '?' before the lookup (this HELO was
        # logged before smtputf8_enable was turned off): no key can match it.
        return ("smtputf8_enable = no: Postfix looks this UTF-8 name up with '?' for each "
                "non-ASCII byte, so no helo_access key matches it (a client-access entry "
                "works)")
    if not _safe_key(key):
        return "not a single host-name token (a client-access entry is the safe alternative)"
    bare = key.rstrip(".")
    if bare in _LOCAL_NAMES or bare.startswith("localhost.") or bare.endswith(".localhost"):
        return "localhost names are sent by any misconfigured or forging client"
    if is_ip_address(bare) or re.fullmatch(r"[0-9.]+", bare):
        return "an address as HELO proves nothing; whitelist the client address instead"
    if server.owns(bare):
        return "it is this server's own name or domain, the first name a forger uses"
    group = provider_group(bare)
    if group is not None and (client_name == "unknown" or provider_group(client_name) != group):
        return f"it claims {registered_domain(bare)} but the client is not one of its servers"
    if "." not in bare and bare in {"mail", "smtp", "mx", "server", "user", "admin", "pc",
                                    "exchange", "mailserver", "ylmf-pc"}:
        return "a generic one-word name used by countless clients"
    return None


def is_bare_domain(helo: str) -> bool:
    """True when the HELO is a registrable domain itself (``brandt-metallbau.de``).

    ``name OK`` for it would match every name under it too: Postfix looks up
    parent domains in helo_access (``parent_domain_matches_subdomains``).
    """
    return is_registrable_domain(access_key(helo))


BARE_DOMAIN_REASON = (
    "a bare domain: '{key} OK' would also let in every name under {key} (Postfix looks "
    "up parent domains), so it is offered commented out; the client-access entry is safe"
)


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """Whether to write ``name OK`` for a legitimate sender, and what else to offer."""

    refused: str | None
    """Why no ``name OK`` line is suggested (None: suggest it)."""
    client_access: bool
    """Offer the ``check_client_access`` entry for the address."""
    commented: bool = False
    """Offer the ``name OK`` line commented out (a bare domain)."""
    permitted: bool = False
    """The admin's table already lets the name in (:attr:`refused` names the entry)."""


def decide_entry(helo: str, client_ip: str, client_name: str, server: ServerIdentity,
                 table: HeloAccessTable | None) -> EntryDecision:
    """The suggestion rules for one legitimate sender's HELO and address.

    An entry of the admin's table that does not permit the name (REJECT,
    DUNNO, a 4xx/5xx text, HOLD...) is the admin's decision: nothing is
    offered against it, not even the client-access entry. A loopback or
    mynetworks address is never offered as a client-access entry.
    """
    address_ok = not server.owns_address(client_ip)
    hit = table.lookup(helo) if table is not None else None
    if hit is not None and table is not None and not table.permits(helo):
        action = comment_text(hit[1])[:60]
        return EntryDecision(f"your helo_access entry {comment_text(hit[0])!r} says {action}: "
                             "nothing is suggested against it", False)
    why = unsafe_reason(helo, server, client_name)
    if why is not None:
        return EntryDecision(why, address_ok)
    if hit is not None:
        return EntryDecision(permitted_by(hit), False, permitted=True)
    if is_bare_domain(helo):
        return EntryDecision(BARE_DOMAIN_REASON.format(key=access_key(helo).rstrip(".")),
                             address_ok, commented=True)
    return EntryDecision(None, address_ok)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def comment_text(text: str) -> str:
    """Make any string safe inside a ``#`` comment line: one line, printable."""
    return _CONTROL.sub("?", text).replace("\u2028", "?").replace("\u2029", "?")


def format_entry(helo: str, comments: list[str]) -> str:
    """A postmap-ready entry: ``# why`` lines then ``key OK``.

    Raises ValueError for a key that is not a safe single token; callers
    filter with :func:`unsafe_reason` first, this is the last line of defence.
    """
    key = access_key(helo)
    if not _safe_key(key):
        raise ValueError(f"refusing to write unsafe helo_access key {key!r}")
    lines = [f"# {comment_text(c)}" for c in comments]
    lines.append(f"{key} OK")
    return "\n".join(lines)


def format_commented_entry(helo: str, comments: list[str], reason: str) -> str:
    """:func:`format_entry` with the ``key OK`` line commented out and the reason above it."""
    block = format_entry(helo, [*comments, reason + "; uncomment only to admit the whole domain:"])
    head, _, entry = block.rpartition("\n")
    return f"{head}\n# {entry}"


def client_access_line(ip: str, comment: str = "") -> str:
    """The unforgeable alternative: a ``cidr:`` table entry for the client's address."""
    address = ipaddress.ip_address(ip)
    prefix = 32 if address.version == 4 else 128
    entry = f"{address}/{prefix} OK"
    return f"# {comment_text(comment)}\n{entry}" if comment else entry


@dataclass
class HeloAccessTable:
    """A parsed helo_access file: keys (case-folded) -> action, in file order."""

    entries: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    """The file's original lines, for a later merge that keeps comments and order."""
    path: Path | None = None
    """The source file it was read from (beside it, what postmap made of it)."""

    def lookup(self, helo: str) -> tuple[str, str] | None:
        """Postfix's lookup order: the name, then parent domains. Returns (key, action)."""
        key = access_key(helo)
        if key in self.entries:
            return key, self.entries[key]
        if is_ip_address(key):
            return None
        rest = key
        while "." in rest:
            rest = rest.split(".", 1)[1]
            if rest and rest in self.entries:
                return rest, self.entries[rest]
        return None

    def permits(self, helo: str) -> bool:
        """True when the table already lets this HELO through the HELO checks."""
        return self.permitting_entry(helo) is not None

    def permitting_entry(self, helo: str) -> tuple[str, str] | None:
        """The (key, action) that lets this HELO through the HELO checks, if one does."""
        hit = self.lookup(helo)
        if hit is None:
            return None
        # access(5): OK, RELAY (HELO lists: same as OK), and an all-numerical value
        # permit; "550 5.7.1 text" is a reject, DUNNO/HOLD/... do not permit.
        action = hit[1].strip().upper()
        return hit if action in ("OK", "RELAY", "PERMIT") or action.isdigit() else None


def permitted_by(entry: tuple[str, str]) -> str:
    """``already permitted by helo_access entry 'example.com OK'``: the one wording, which
    always names the entry (a parent domain's entry matches a name below it too)."""
    key, action = entry
    return f"already permitted by helo_access entry '{comment_text(f'{key} {action}')}'"


def parse_helo_access(text: str, source: str = "helo_access") -> HeloAccessTable:
    """Parse access(5) source text: comments, blank lines, continuation lines."""
    table = HeloAccessTable(lines=text.splitlines())
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(table.lines, 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            if not logical:
                raise ConfigError(
                    f"{source}:{number}: continuation line with nothing to continue; "
                    "remove the leading white space"
                )
            # As postmap joins them: the line break goes, the indentation stays.
            logical[-1] = (logical[-1][0], logical[-1][1] + raw)
            continue
        logical.append((number, raw))
    for number, entry in logical:
        entry = entry.strip()
        parts = entry.split(None, 1)
        if len(parts) < 2:
            raise ConfigError(
                f"{source}:{number}: entry {comment_text(parts[0])!r} has no action; "
                "write 'name OK' (or another access(5) action)"
            )
        table.entries[parts[0].lower()] = parts[1]
    return table


def load_helo_access(path: str | Path) -> HeloAccessTable:
    """Read and parse a helo_access source file."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the helo_access table ({exc.strerror})") from None
    table = parse_helo_access(text, str(path))
    table.path = Path(path)
    return table
