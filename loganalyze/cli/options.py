"""Option declarations and helpers shared by the commands (``analyze``, ``check``, ``report``)."""

from __future__ import annotations

import sys
from datetime import tzinfo
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
        help="ask this DNS server, not the system's (repeatable)",
    ),
]
NoDnsOpt = Annotated[
    bool, typer.Option("--no-dns", help="no DNS at all: the unknown check relies on the log")
]
CheckNoDnsOpt = Annotated[
    bool, typer.Option("--no-dns", help="no DNS at all: the unknown check stays undecided (?)")
]
TimeoutOpt = Annotated[
    float, typer.Option("--dns-timeout", metavar="SECONDS",
                        help="wait this long for each DNS answer ({default:g} s)")
]
DeadlineOpt = Annotated[
    float,
    typer.Option("--dns-deadline", metavar="SECONDS",
                 help="limit for all DNS work, SPF re-checks too ({default:g} s)"),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--dns-cache", metavar="PATH",
                 help="DNS cache file (in the user's cache directory)"),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-dns-cache", help="neither read nor write the DNS cache")
]
HeloAccessOpt = Annotated[
    Path | None,
    typer.Option("--helo-access", metavar="PATH",
                 help="your helo_access: what it permits is not suggested"),
]
PostfixConfigOpt = Annotated[
    Path | None,
    typer.Option("--postfix-config", metavar="DIR",
                 help="dir of main.cf, or postconf -n output (/etc/postfix)"),
]
BansOpt = Annotated[
    bool,
    typer.Option("--bans",
                 help="would fail2ban or CrowdSec ban these clients?"),
]
Fail2banConfigOpt = Annotated[
    Path | None,
    typer.Option("--fail2ban-config", metavar="DIR",
                 help="fail2ban's config for --bans (/etc/fail2ban)"),
]
YearOpt = Annotated[
    int | None,
    typer.Option("--year", metavar="YEAR", help="year of a traditional syslog log's first line"),
]


DEFAULT_FAIL2BAN_CONFIG = Path("/etc/fail2ban")


def ban_check(config: Path | None) -> BanCheck:
    """The ban tools to cross-check: the jail as fail2ban reads ``config`` (default
    /etc/fail2ban when it is there), else Debian's package defaults."""
    if config is None and (DEFAULT_FAIL2BAN_CONFIG / "jail.conf").is_file():
        config = DEFAULT_FAIL2BAN_CONFIG
    return BanCheck(jail=load_fail2ban_jail(config))
TzOpt = Annotated[
    str | None,
    typer.Option("--tz", metavar="ZONE", help="zone to show all times in (this machine's)"),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="show samples of the lines not understood")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="no summary on stderr (warnings still)")
]


def zone(name: str | None) -> tzinfo | None:
    """The ``--tz`` zone, or None for the machine's."""
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz {name!r} is not a time zone name (e.g. Europe/Berlin or UTC)")
