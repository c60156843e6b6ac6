"""The daily report as one e-mail: multipart/alternative of the text report and the
HTML report, whose chart is an inline image part referred to by ``cid:``.

Mail clients block ``data:`` images, so the chart travels as its own part
(multipart/related). Every header is built here from the admin's addresses, the
dates and counts, and the syslog host names, which are logged strings: they pass
:func:`~loganalyze.output.escape.display_text` and are clipped before they reach
the Subject, and the stdlib policy refuses CR/LF in any header on top of that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid

from ..daily.records import DailyReport
from ..errors import ConfigError
from .daily import CHART_ALT, chart_png, clip_text, html_report, render_text
from .escape import display_text

_NO_DOMAIN = "addr-spec local part with no domain"  # the parser's words: a bare local part
_SUBJECT_HOSTS = 3
_HOST_CHARS = 64


def parse_addresses(values: Sequence[str], origin: str, option: str) -> list[Address]:
    """``--mail-to`` values (repeated, or comma lists) as addresses; a bare local part
    gets ``@origin``, as Postfix's ``append_at_myorigin`` does."""
    out: list[Address] = []
    for value in values:
        if display_text(value) != value:
            raise ConfigError(f"{option} {display_text(value)!r}: control characters are not "
                              "allowed in an address")
        try:
            # The header parser, so that names, quotes and comma lists read as mail
            # clients read them; each address is then checked on its own.
            header = default.header_factory("To", value)
            if any(str(d) != _NO_DOMAIN for d in header.defects):
                raise ValueError(header.defects[0])
            parsed = header.addresses
            out.extend(Address(item.display_name,
                               addr_spec=f"{item.username}@{item.domain or origin}")
                       for item in parsed)
        except (ValueError, IndexError, HeaderParseError):  # IndexError: "anna@" (3.11)
            raise ConfigError(f"{option} {value!r}: not an e-mail address") from None
        if not parsed:
            raise ConfigError(f"{option} {value!r}: not an e-mail address")
    return out


def _day_span(report: DailyReport) -> str:
    first = report.since or report.until or report.generated
    last = report.until or first
    if first.date() == last.date():
        return f"{first:%Y-%m-%d}"
    return f"{first:%Y-%m-%d}..{last:%Y-%m-%d}"


def subject(report: DailyReport, fallback_host: str) -> str:
    """``Postfix HELO report for mx: 2026-08-16, 3 suggestions``; the host names are
    the log's (escaped, at most three, each clipped)."""
    hosts = [clip_text(h, _HOST_CHARS) for h in report.hosts[:_SUBJECT_HOSTS]] or \
        [clip_text(fallback_host, _HOST_CHARS)]
    if len(report.hosts) > _SUBJECT_HOSTS:
        hosts.append(f"+{len(report.hosts) - _SUBJECT_HOSTS} more")
    count = len(report.suggestions)
    suggested = {0: "no suggestions", 1: "1 suggestion"}.get(count, f"{count} suggestions")
    return f"Postfix HELO report for {', '.join(hosts)}: {_day_span(report)}, {suggested}"


def build_message(
    report: DailyReport, sender: Address, recipients: Sequence[Address], *,
    when: datetime, domain: str,
) -> EmailMessage:
    """The report as a MIME message: text/plain and multipart/related HTML (the chart
    as an inline PNG when matplotlib is there; without it, the HTML alone)."""
    message = EmailMessage()
    message["From"] = sender
    if recipients:
        message["To"] = list(recipients)
    message["Subject"] = subject(report, domain)
    message["Date"] = format_datetime(when.astimezone())
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to it
    message.set_content(render_text(report), cte="quoted-printable")
    png = chart_png(report)
    if png is None:
        message.add_alternative(html_report(report, None), subtype="html",
                                cte="quoted-printable")
        return message
    cid = make_msgid(domain=domain)
    message.add_alternative(html_report(report, "cid:" + cid[1:-1]), subtype="html",
                            cte="quoted-printable")
    _, html_part = message.iter_parts()
    html_part.add_related(png, "image", "png", cid=cid, disposition="inline",
                          filename="helo-rejects.png",
                          headers=[f"Content-Description: {CHART_ALT}"])
    return message
