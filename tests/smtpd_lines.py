"""Log lines shared by tests: one smtpd session of a bot refused by the non-FQDN check.

The wording is Postfix 3.7's (as in fixtures/lab/recorded); tests that need many
distinct sessions on chosen days build them from this one template.
"""

from __future__ import annotations


def non_fqdn_bot_session(stamp: str, number: int) -> list[str]:
    """connect, the 504 reject, disconnect: client 203.0.113.N+1, pid 100+N, HELO botN."""
    ip = f"203.0.113.{number + 1}"
    pid = 100 + number
    return [
        f"{stamp} mail postfix/smtpd[{pid}]: connect from unknown[{ip}]",
        f"{stamp} mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from unknown[{ip}]: "
        f"504 5.5.2 <bot{number}>: Helo command rejected: need fully-qualified hostname; "
        f"from=<a@b.example> to=<c@example.com> proto=ESMTP helo=<bot{number}>",
        f"{stamp} mail postfix/smtpd[{pid}]: disconnect from unknown[{ip}] ehlo=1 mail=1 "
        "rcpt=0/1 quit=1 commands=3/4",
    ]
