"""``report --mail-to``: the options, and sending the report as one MIME message.

The message is built by :mod:`loganalyze.output.mime` and handed over by
:mod:`loganalyze.output.delivery`; email and smtplib are imported only when a
report is mailed, so that registering the command stays light.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ConfigError, DeliveryError
from ..output.delivery import (
    DEFAULT_SENDMAIL,
    SmtpRelay,
    save_unsent,
    send_with_sendmail,
    send_with_smtp,
)
from ..postfix.config import mail_origin

if TYPE_CHECKING:
    from email.headerregistry import Address
    from email.message import EmailMessage

    from ..daily.records import DailyReport
    from ..postfix.config import ServerIdentity

MailToOpt = Annotated[
    list[str] | None,
    typer.Option("--mail-to", metavar="ADDRESS",
                 help="mail the report there (repeatable, or a comma list)"),
]
MailFromOpt = Annotated[
    str | None,
    typer.Option("--mail-from", metavar="ADDRESS",
                 help="From: address (loganalyze@ Postfix's myorigin)", show_default=False),
]
SendmailOpt = Annotated[
    str,
    typer.Option("--sendmail", metavar="PATH",
                 help="mail with PATH -t -i ({default})"),
]
SmtpOpt = Annotated[
    str | None,
    typer.Option("--smtp", metavar="HOST[:PORT]",
                 help="send by SMTP to this relay, not by sendmail"),
]


@dataclass(frozen=True)
class MailPlan:
    """Who gets the report, from whom, and how it is handed to the mail system."""

    sender: Address
    recipients: list[Address]
    domain: str
    """For the Message-ID and the chart's Content-ID: the From: address's domain."""
    sendmail: str = DEFAULT_SENDMAIL
    smtp: SmtpRelay | None = None

    def message(self, report: DailyReport, when: datetime) -> EmailMessage:
        """The report as a MIME message for these addresses."""
        from ..output.mime import build_message

        return build_message(report, self.sender, self.recipients, when=when,
                             domain=self.domain)

    def send(self, message: EmailMessage) -> list[str]:
        """Hand ``message`` over (:class:`~loganalyze.errors.DeliveryError` if refused);
        returns the warnings of a sendmail that took it."""
        if self.smtp is not None:
            send_with_smtp(message, self.smtp)
            return []
        return send_with_sendmail(message, self.sendmail)

    def via(self) -> str:
        """``via /usr/sbin/sendmail -t -i`` or ``via SMTP localhost:25``."""
        return f"via SMTP {self.smtp}" if self.smtp is not None else f"via {self.sendmail} -t -i"


def mail_plan(
    mail_to: list[str] | None, mail_from: str | None, sendmail: str, smtp: str | None,
    identity: ServerIdentity, *, mime: bool,
) -> MailPlan | None:
    """The plan the options ask for: None when the report is not mailed (nor printed as
    MIME). Raises :class:`ConfigError` for a bad address or option."""
    if not mail_to and not mime:
        if smtp is not None or mail_from is not None or sendmail != DEFAULT_SENDMAIL:
            raise ConfigError("--mail-from, --sendmail and --smtp go with --mail-to ADDRESS")
        return None
    from email.headerregistry import Address

    from ..output.mime import parse_addresses

    origin = mail_origin(identity)
    if mail_from is not None:
        senders = parse_addresses([mail_from], origin, "--mail-from")
        if len(senders) != 1:
            raise ConfigError(f"--mail-from {mail_from!r}: give one address")
        sender = senders[0]
    else:
        try:
            sender = Address("loganalyze", "loganalyze", origin)
        except ValueError:
            raise ConfigError(f"myorigin {origin!r} is not a domain: give --mail-from "
                              "ADDRESS") from None
    recipients = parse_addresses(mail_to, origin, "--mail-to") if mail_to else []
    relay = SmtpRelay.parse(smtp) if smtp is not None else None
    return MailPlan(sender, recipients, sender.domain, sendmail, relay)


def mail_report(plan: MailPlan, report: DailyReport, when: datetime, unsent_dir: Path,
                *, print_mime: bool) -> None:
    """Print the message (``--format mime``) or send it. When the mail system refuses
    it, the message is saved in ``unsent_dir`` (else printed) and the
    :class:`DeliveryError` says where, so that the report is never lost."""
    message = plan.message(report, when)
    if print_mime:
        sys.stdout.buffer.write(message.as_bytes())
        sys.stdout.flush()
        return
    try:
        warnings = plan.send(message)
    except DeliveryError as exc:
        try:
            kept = f"the report is saved in {save_unsent(message, unsent_dir, when)}"
        except OSError:
            sys.stdout.buffer.write(message.as_bytes())
            sys.stdout.flush()
            kept = "the report is on stdout"
        raise DeliveryError(f"mail not sent: {exc}; {kept}, and the next run reports "
                            "these lines again") from None
    # Taken, but maybe not on its way (Postfix stopped): cron mails these lines.
    sys.stderr.write("".join(f"{plan.sendmail}: {line}\n" for line in warnings))
