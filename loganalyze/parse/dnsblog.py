"""dnsblog messages: which DNS list named a client (Postfix 3.x ``postscreen/dnsblog.c``)."""

from __future__ import annotations

import re
from datetime import datetime

from ..model import Kind, LogRecord

LISTED = re.compile(r"addr (?P<ip>\S+) listed by domain (?P<domain>\S+) as (?P<answer>\S+)$")
"""dnsblog.c: ``addr %s listed by domain %s as %s``."""


def record(msg: str, when: datetime, host: str, service: str, pid: int) -> LogRecord | None:
    """The record of one dnsblog message, or None (other dnsblog lines are irrelevant)."""
    m = LISTED.match(msg)
    if m is None:
        return None
    return LogRecord(Kind.DNSBL_LISTED, when, host, service, pid, "", m["ip"],
                     reason=m["domain"], detail=m["answer"])
