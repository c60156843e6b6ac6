"""Option declarations and helpers shared by the commands (``analyze``, ``check``, ``report``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ..judge.bans import BanCheck, load_fail2ban_jail
from ..judge.dns import HostResolver
from ..judge.dns_setup import make_resolver
from ..postfix.config import ServerIdentity, default_identity, load_identity
from ..progress import ProgressSink


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, ``PROG: error: message``, and exit with ``code``."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "loganalyze"
    if prog in ("__main__.py", "-c", "-m"):
        prog = "loganalyze"
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise typer.Exit(code)


def resolver_for(
    nameservers: list[str] | None, no_dns: bool, timeout: float, deadline: float,
    cache_path: Path | None, no_cache: bool, sink: ProgressSink,
) -> HostResolver:
    """The resolver the DNS options ask for, reporting progress to ``sink``."""
    return make_resolver(nameservers, no_dns=no_dns, dns_timeout=timeout,
                         dns_deadline=deadline, dns_cache=cache_path,
                         no_dns_cache=no_cache, progress=sink.names)


def server_identity(config: Path | None) -> ServerIdentity:
    """Our own names: from ``--postfix-config`` (a directory, main.cf, or ``postconf -n``
    output), else /etc/postfix/main.cf when present."""
    return load_identity(config) if config is not None else default_identity()


NameserverOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver", metavar="HOST[:PORT]",
        help="Ask this DNS server instead of the system resolver (repeatable).",
    ),
]
NoDnsOpt = Annotated[
    bool, typer.Option("--no-dns", help="Skip DNS; rely on what the log says.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--dns-timeout", metavar="SECONDS", help="Timeout per DNS query.")
]
DeadlineOpt = Annotated[
    float,
    typer.Option("--dns-deadline", metavar="SECONDS", help="Time limit for all DNS lookups."),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--dns-cache", metavar="PATH",
                 help="DNS cache file (default: in the user's cache directory)."),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-dns-cache", help="Do not use the DNS cache.")]
HeloAccessOpt = Annotated[
    Path | None,
    typer.Option("--helo-access", metavar="PATH",
                 help="Your helo_access table: don't suggest what it already permits."),
]
PostfixConfigOpt = Annotated[
    Path | None,
    typer.Option("--postfix-config", metavar="DIR",
                 help="Directory with main.cf, or a file of 'postconf -n' output "
                      "(default /etc/postfix if present)."),
]
BansOpt = Annotated[
    bool,
    typer.Option("--bans",
                 help="Say whether fail2ban's postfix jail or CrowdSec's postfix-helo-rejected "
                      "scenario would ban each client on these lines, and when (runs "
                      "fail2ban-regex over the logs)."),
]
Fail2banConfigOpt = Annotated[
    Path | None,
    typer.Option("--fail2ban-config", metavar="DIR",
                 help="fail2ban's configuration directory, read by fail2ban-client (default "
                      "/etc/fail2ban if present, else Debian's package defaults); implies "
                      "--bans."),
]
YearOpt = Annotated[
    int | None,
    typer.Option("--year", help="Year of the first line of traditional syslog logs."),
]


DEFAULT_FAIL2BAN_CONFIG = Path("/etc/fail2ban")


def ban_check(config: Path | None) -> BanCheck:
    """The ban tools to cross-check: the jail as fail2ban reads ``config`` (default
    /etc/fail2ban when it is there), else Debian's package defaults."""
    if config is None and (DEFAULT_FAIL2BAN_CONFIG / "jail.conf").is_file():
        config = DEFAULT_FAIL2BAN_CONFIG
    return BanCheck(jail=load_fail2ban_jail(config))
