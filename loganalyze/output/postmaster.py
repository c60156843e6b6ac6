"""``--format postmaster-note``: a short, exact message to the postmaster of each
legitimate sender whose HELO our Postfix refuses.

Small senders act on a stranger's report only when it is short and exact: what
their server said in EHLO, which Postfix check refused it and why, the name that
would work, when and how often it was refused, and the replies, in UTC.

Every logged string (HELO, client name, reply) was chosen by a stranger: each
goes through :func:`~loganalyze.output.escape.display_text`, is cut to a sane
length and is never used as a header unless it is a valid host name. Nothing
from the messages (senders, recipients, subjects) is quoted; the only address of
ours is ``postmaster@`` our own domain.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING

from ..judge.checks import Check
from ..judge.domains import registered_domain
from ..judge.hostname import valid_hostaddr, valid_hostname
from ..judge.verdict import Label
from .escape import display_text

if TYPE_CHECKING:
    from ..pipeline import Finding
    from ..postfix.config import ServerIdentity

_NOTE_CHECKS = (Check.INVALID, Check.NON_FQDN, Check.UNKNOWN)
_MAX_SHOWN = 255  # a host name is at most 255 characters; longer logged text is cut
_MAX_DAYS = 10
_RULE = "-" * 72


def needs_note(finding: Finding) -> bool:
    """A legitimate sender that a HELO check really refused (and still would)."""
    return (finding.verdict.label is Label.LEGITIMATE and finding.check in _NOTE_CHECKS
            and finding.refused_sessions > 0 and not finding.passes_now)


def _shown(text: str) -> str:
    """A logged string, safe to put in a plain-text message."""
    text = display_text(text)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "[...]"


def _host(name: str) -> str | None:
    """``name`` when it is a valid ASCII host name (fit for an address or a header)."""
    name = name.rstrip(".").lower()
    return name if name and name.isascii() and valid_hostname(name) and "." in name else None


def _unicode_form(name: str) -> str | None:
    """The Unicode form of a name with ``xn--`` labels, for the reader; None otherwise."""
    if "xn--" not in name:
        return None
    try:
        decoded = name.encode("ascii").decode("idna")
    except UnicodeError:
        return None
    return _shown(decoded) if decoded != name else None


def _ascii_form(name: str) -> str | None:
    """The ``xn--`` form of an internationalised name, if it has a valid one."""
    if name.isascii():
        return None
    try:
        encoded = name.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return encoded if valid_hostname(encoded) else None


def _named(name: str) -> str:
    """A host name as the note shows it: with its Unicode form when it is an IDN."""
    unicode_form = _unicode_form(name)
    return f"{name} ({unicode_form})" if unicode_form else name


def their_domain(finding: Finding) -> str | None:
    """The domain whose postmaster runs the client: of its forward-confirmed name,
    else of the envelope sender's domain; None when neither is a valid host name."""
    for name in (finding.client_name if finding.client_name != "unknown" else "",
                 finding.sender_domain):
        host = _host(name)
        if host is not None:
            domain = registered_domain(host)
            if _host(domain) is not None:
                return domain
    return None


def our_domain(server: ServerIdentity) -> str:
    """The domain our postmaster address is in: ``mydomain``, else our host name's."""
    for name in sorted(server.domains):
        host = _host(name)
        if host is not None and host != "localhost" and not host.startswith("localhost."):
            return registered_domain(host)
    for name in sorted(server.hostnames):
        host = _host(name)
        if host is not None:
            return registered_domain(host)
    return "your-domain.example"


def why(finding: Finding) -> str:
    """Why the check refuses this HELO, in words a postmaster acts on."""
    helo = finding.helo
    if finding.check is Check.INVALID:
        if helo.startswith("["):
            return ("it is an address literal that is not a valid address: Postfix accepts "
                    "[192.0.2.1] or [IPv6:2001:db8::1], never a name in brackets")
        if not helo.isascii():
            encoded = _ascii_form(helo)
            return ("it contains non-ASCII characters: a host name in EHLO must be ASCII, an "
                    "internationalised name in its xn-- form"
                    + (f" ({encoded})" if encoded else ""))
        if "?" in helo:
            return ("it contains characters a host name cannot have (Postfix logs a space, a "
                    "control character and any of <>()\\\";@ as '?')")
        labels = helo[:-1].split(".") if helo.endswith(".") else helo.split(".")
        if any(not label for label in labels):
            return "it has an empty label (two dots in a row, or a leading dot)"
        if any(label.startswith("-") or label.endswith("-") for label in labels):
            return "a label of it starts or ends with a hyphen"
        if any(len(label) > 63 for label in labels):
            return "a label of it is longer than 63 characters"
        return "it is not valid host name syntax (RFC 1123)"
    if finding.check is Check.NON_FQDN:
        if valid_hostaddr(helo.rstrip(".")):
            return ("it is a bare IP address: send a host name, or an address literal such "
                    f"as [{finding.client_ip}]")
        return "it is not fully qualified: a bare host name without a domain"
    if helo.endswith("."):
        return ("it ends in a dot: Postfix never looks such a name up in DNS, so it is "
                "always unknown; leave the dot out")
    text = "our server found no A, AAAA or MX record in DNS for that name"
    if finding.dns in _DNS_NOW:
        text += f"; asked again for this note: {_DNS_NOW[finding.dns]}"
    if any(reply.startswith("4") for reply in finding.replies):
        text += (" (Postfix gives the same 450 reply when a lookup fails for a while: if the "
                 "name has records, check that its DNS servers answer)")
    return text


_DNS_NOW = {"nxdomain": "the name does not exist (NXDOMAIN)",
            "nodata": "the name exists but has no A, AAAA or MX record"}


def _utc(when: datetime, tz: tzinfo | None) -> datetime:
    """A log time (wall clock in ``tz``; None: this machine's zone) in UTC."""
    aware = when.replace(tzinfo=tz) if tz is not None else when.astimezone()
    return aware.astimezone(timezone.utc)


def _stamp(when: datetime, tz: tzinfo | None) -> str:
    return _utc(when, tz).strftime("%Y-%m-%d %H:%M:%S UTC")


def _field(label: str, text: str) -> list[str]:
    """``  Label:  text``, wrapped under itself."""
    head = f"  {label + ':':<19}"
    return textwrap.wrap(text, 76, initial_indent=head, subsequent_indent=" " * len(head),
                         break_long_words=True, break_on_hyphens=False)


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, 76, break_on_hyphens=False)


def render_note(finding: Finding, server: ServerIdentity, tz: tzinfo | None = None) -> str:
    """The message for one sender (headers, a blank line, the body)."""
    from ..postfix.entry_notes import RESTRICTION  # the module that names the restrictions

    ours = our_domain(server)
    theirs = their_domain(finding)
    helo = _shown(finding.helo)
    to = f"postmaster@{theirs}" if theirs else "postmaster (no domain known for this client)"
    client = finding.client_ip
    confirmed = _host(finding.client_name) if finding.client_name != "unknown" else None
    if confirmed:
        client += f" ({confirmed})"
        works = (f"{_named(confirmed)}: your server's own name, which its address "
                 f"{finding.client_ip} resolves to and back")
    else:
        works = (f"a fully qualified name whose A or AAAA record is {finding.client_ip} "
                 f"(best also the reverse DNS name of {finding.client_ip})")
    first = finding.first_refused or finding.first_seen
    last = finding.last_refused or finding.last_seen
    days = [d.isoformat() for d in finding.refused_days[:_MAX_DAYS]]
    if len(finding.refused_days) > _MAX_DAYS:
        days.append(f"and {len(finding.refused_days) - _MAX_DAYS} more days")
    attempts = "attempt" if finding.refused_sessions == 1 else "attempts"
    if _stamp(first, tz) == _stamp(last, tz):  # to the second, as written
        when = f"at {_stamp(first, tz)}."
    else:
        when = f"the first at {_stamp(first, tz)}, the last at {_stamp(last, tz)}."
    lines = [
        f"To: {to}",
        f"From: postmaster@{ours}",
        f"Subject: Mail from {finding.client_ip} to {ours} is refused: its EHLO name",
        "",
        "Hello,",
        "",
        *_paragraph(f"our mail server refuses mail from your server {client}, because of "
                    "the name it gives in EHLO. Nothing is wrong with the mail itself."),
        "",
        *_field("Your server said", f"EHLO {helo}"),
        *_field("Refused by", f"Postfix {RESTRICTION[finding.check]}"),
        *_field("Because", why(finding)),
        *_field("A name that works", works),
        "",
        *_paragraph(f"Refused: {finding.refused_sessions} {attempts}, on {', '.join(days)}; "
                    f"{when} Our server replied:"),
        "",
        *(f"  {_shown(reply)}" for reply in finding.replies),
        "",
        "The EHLO name is a setting of the sending server (Postfix: smtp_helo_name;",
        "Exim: helo_data; Exchange: the FQDN of the send connector). Once it is a",
        "name like the one above, our server will accept your mail.",
        "",
        f"Thank you,\npostmaster@{ours}",
    ]
    return "\n".join(lines) + "\n"


def render_postmaster_notes(findings: Sequence[Finding], server: ServerIdentity,
                            tz: tzinfo | None = None) -> str:
    """One note per legitimate sender a HELO check refused, separated by a rule."""
    notes = [render_note(f, server, tz) for f in findings if needs_note(f)]
    if not notes:
        return "No legitimate sender was refused for its HELO: no note to write.\n"
    return f"\n{_RULE}\n\n".join(notes)
