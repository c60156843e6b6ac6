"""Hand a message to the mail system: Postfix's ``sendmail -t -i``, or SMTP.

``sendmail -t`` takes the recipients from the To: header; ``-i`` keeps a line
holding a single dot from ending the message. Both exist in every sendmail
that Postfix, Exim or OpenSMTPD ship. SMTP is plain (a local relay, port 25, no
TLS or AUTH). Failures raise :class:`DeliveryError` with one line naming the
problem; :func:`save_unsent` keeps the message for the admin.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, DeliveryError
from .escape import display_text

if TYPE_CHECKING:
    from email.message import EmailMessage

DEFAULT_SENDMAIL = "/usr/sbin/sendmail"
SMTP_TIMEOUT = 60.0
"""Seconds for the SMTP connection and each reply."""


@dataclass(frozen=True)
class SmtpRelay:
    """``--smtp HOST[:PORT]``: where to talk SMTP."""

    host: str
    port: int = 25

    @classmethod
    def parse(cls, text: str) -> SmtpRelay:
        """``localhost``, ``mail.example.com:587``, ``[::1]:25``, ``127.0.0.1``."""
        value = text.strip()
        host, port = value, "25"
        if value.startswith("["):
            host, _, rest = value[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ConfigError(f"--smtp {text!r}: write an IPv6 address as [::1]:25")
                port = rest[1:]
        elif value.count(":") == 1:
            host, port = value.split(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--smtp {text!r}: give HOST or HOST:PORT (e.g. localhost:25)")
        return cls(host, int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return display_text(lines[0][:200]) if lines else ""


def send_with_sendmail(message: EmailMessage, sendmail: str = DEFAULT_SENDMAIL) -> list[str]:
    """Pipe ``message`` to ``sendmail -t -i``; returns what it said while taking it (with
    Postfix stopped, postdrop queues the message, exits 0 and warns ``unable to look up
    public/pickup``: the admin should hear of that)."""
    try:
        done = subprocess.run([sendmail, "-t", "-i"], input=message.as_bytes(),
                              capture_output=True, timeout=300, check=False)
    except FileNotFoundError:
        raise DeliveryError(f"{sendmail}: not found (install Postfix's sendmail, or give "
                            "--sendmail PATH or --smtp HOST)") from None
    except PermissionError:
        raise DeliveryError(f"{sendmail}: not executable") from None
    except OSError as exc:
        raise DeliveryError(f"{sendmail}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"{sendmail}: no answer in 300 s") from None
    if done.returncode != 0:
        said = _first_line(done.stderr.decode("utf-8", "replace"))
        raise DeliveryError(f"{sendmail} -t -i exited with status {done.returncode}"
                            + (f": {said}" if said else ""))
    said = done.stderr.decode("utf-8", "replace")
    return [display_text(line.strip())[:300] for line in said.splitlines() if line.strip()]


def send_with_smtp(message: EmailMessage, relay: SmtpRelay) -> None:
    """Send ``message`` over SMTP to ``relay`` (envelope from the From: header)."""
    import smtplib  # loads ssl and socket: only when mail goes out this way

    try:
        with smtplib.SMTP(relay.host, relay.port, timeout=SMTP_TIMEOUT) as smtp:
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        said = "; ".join(f"{rcpt}: {code} {reply.decode('utf-8', 'replace')}"
                         for rcpt, (code, reply) in exc.recipients.items())
        raise DeliveryError(f"SMTP {relay} refused every recipient: "
                            f"{display_text(said)[:300]}") from None
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode("utf-8", "replace") \
            if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"SMTP {relay} refused the message: {exc.smtp_code} "
                            f"{_first_line(reply)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DeliveryError(f"SMTP {relay}: {display_text(why)}") from None
    if refused:
        said = ", ".join(sorted(refused))
        raise DeliveryError(f"SMTP {relay} refused some recipients: {display_text(said)}")


def save_unsent(message: EmailMessage, directory: Path, when: datetime) -> Path:
    """Write ``message`` to ``directory/unsent-YYYYmmdd-HHMMSS.eml`` (a new name each
    time) and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"unsent-{when:%Y%m%d-%H%M%S}"
    for n in range(1000):
        path = directory / (stem + (f"-{n}" if n else "") + ".eml")
        try:
            with open(path, "xb") as f:
                f.write(message.as_bytes())
        except FileExistsError:
            continue
        return path
    raise OSError(f"{directory}: too many unsent reports named {stem}")
