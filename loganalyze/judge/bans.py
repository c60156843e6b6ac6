"""Would a ban tool firewall this client on the same log lines, and when?

A legitimate sender with a broken HELO retries, and every retry is another
reject line: fail2ban's ``postfix`` jail and CrowdSec's
``crowdsecurity/postfix-helo-rejected`` scenario count those lines and
firewall the client. After that no helo_access entry helps, and the sender
disappears from the mail log. This module answers, for each client, when the
first ban would have come.

Which lines fail2ban counts is decided by fail2ban itself: its own
configuration reader (``fail2ban-client -d``) gives the jail's effective
filter, ``maxretry``, ``findtime`` and ``ignoreip``, and ``fail2ban-regex``
runs that filter over the log. Only the jail's counting is done here, as
``fail2ban/server/failmanager.py`` and ``ticket.py`` (1.0.2) do it. CrowdSec's
scenario is a leaky bucket over the smtpd reject lines whose reason starts
with "Helo command rejected" (hub ``parsers/s01-parse/crowdsecurity/postfix-
logs.yaml`` and ``scenarios/crowdsecurity/postfix-helo-rejected.yaml``): capacity
1, one event leaks every 600 s, so a second such line within 10 minutes of
the first overflows the bucket, and the overflow is a ban.
"""

from __future__ import annotations

import ast
import ipaddress
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from ..compat import UTC
from ..errors import ConfigError

__all__ = [
    "CROWDSEC_HELO",
    "DEBIAN_POSTFIX_JAIL",
    "Ban",
    "BanCheck",
    "Fail2banJail",
    "LeakyBucket",
    "ban_claims",
    "crowdsec_counts",
    "fail2ban_first_ban",
    "fail2ban_matches",
    "first_overflow",
    "load_fail2ban_jail",
    "safe_address",
]

_TIMEOUT = 600.0
"""Seconds fail2ban's own tools may take (a big log takes fail2ban-regex a while)."""


@dataclass(frozen=True)
class Ban:
    """The first ban one tool would impose on one client."""

    tool: str
    """Who bans, as the admin knows it: ``fail2ban postfix[mode=more]``."""
    at: datetime
    """The time of the log line that triggers the ban."""
    matches: int
    """Lines of this client the tool had counted when it banned (the trigger included)."""

    def describe(self) -> str:
        """``fail2ban postfix[mode=more] after 5 matches at 2026-11-24T23:24:10``."""
        at = self.at.replace(microsecond=0).isoformat()
        return f"{self.tool} after {self.matches} matches at {at}"


# -- fail2ban ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fail2banJail:
    """The effective settings of fail2ban's ``postfix`` jail."""

    name: str
    """The jail's name (``postfix``)."""
    mode: str
    """The filter's ``mode`` (``more`` on Debian)."""
    maxretry: int
    """Matches that lead to a ban."""
    findtime: float
    """Seconds over which matches are counted."""
    bantime: float
    """Seconds a ban lasts (-1: for ever)."""
    ignoreip: tuple[str, ...] = ()
    """Addresses and networks the jail never bans."""
    source: str = "Debian's defaults"
    """Where these settings come from, said in the output."""
    enabled: bool = True
    """False when the admin's configuration does not enable the jail."""
    prefregex: str | None = None
    """The filter's effective prefregex (``fail2ban-client -d``); None: the default filter."""
    failregex: tuple[str, ...] = ()
    """The filter's effective failregex lines, or () for the default filter."""
    ignoreregex: tuple[str, ...] = ()
    """The filter's effective ignoreregex lines."""

    @property
    def tool(self) -> str:
        """How the output names this jail."""
        return f"fail2ban {self.name}[mode={self.mode}]"

    def ignores(self, ip: str) -> bool:
        """True when ``ignoreip`` covers ``ip`` (addresses and networks; names are not resolved)."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        for entry in self.ignoreip:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue  # a host name: fail2ban would resolve it; we do not guess
        return False


DEBIAN_POSTFIX_JAIL = Fail2banJail(name="postfix", mode="more", maxretry=5, findtime=600.0,
                                   bantime=600.0)
"""Debian 12's fail2ban 1.0.2 ``[postfix]`` jail once enabled (jail.conf's [DEFAULT], [postfix])."""


def _seconds(value: object) -> float:
    """A fail2ban time value (``600``, ``10m``, ``1h 30m``) in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    total, number = 0.0, ""
    for char in text.replace(" ", ""):
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        elif char.isalpha():
            continue  # the long forms: "min", "hour", "day": their first letter counted
        else:
            raise ConfigError(f"fail2ban time {value!r} is not understood")
    if number:
        total += float(number)
    return total


def _run(args: Sequence[str], what: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT, check=False,
                              env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "TZ": "UTC",
                                   "LC_ALL": "C.UTF-8"})
    except FileNotFoundError:
        raise ConfigError(f"{args[0]} is not installed: install fail2ban to cross-check "
                          "its bans") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} took more than {_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConfigError(f"{what} failed: {last}")
    return done.stdout


def load_fail2ban_jail(config_dir: Path | None, jail: str = "postfix") -> Fail2banJail:
    """The jail as fail2ban itself reads it from ``config_dir`` (``fail2ban-client -c DIR -d``).

    None means Debian's defaults (:data:`DEBIAN_POSTFIX_JAIL`). A configuration
    that does not enable the jail gives ``enabled=False``: that jail bans nobody.
    """
    if config_dir is None:
        return DEBIAN_POSTFIX_JAIL
    if not (config_dir / "jail.conf").is_file():
        raise ConfigError(f"{config_dir}: no jail.conf here; give fail2ban's configuration "
                          "directory (usually /etc/fail2ban)")
    dump = _run(["fail2ban-client", "-c", str(config_dir), "-d"], "fail2ban-client -d")
    settings: dict[str, object] = {}
    failregex: list[str] = []
    ignoreregex: list[str] = []
    ignoreip: list[str] = []
    added = False
    for line in dump.splitlines():
        if not line.startswith("["):
            continue
        try:
            command = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            continue
        if not isinstance(command, list) or len(command) < 2 or command[1] != jail:
            continue
        verb = command[0]
        if verb == "add":
            added = True
        elif verb == "set" and len(command) >= 4:
            key, value = command[2], command[3]
            if key == "addfailregex":
                failregex.append(str(value))
            elif key == "addignoreregex":
                ignoreregex.append(str(value))
            elif key == "addignoreip":  # one command, every entry: [set, jail, addignoreip, a, b]
                ignoreip.extend(str(v) for v in command[3:])
            else:
                settings[str(key)] = value
        elif verb == "multi-set" and len(command) >= 4:
            key, values = command[2], command[3]
            target = {"addfailregex": failregex, "addignoreregex": ignoreregex,
                      "addignoreip": ignoreip}.get(str(key))
            if target is not None and isinstance(values, list):
                target.extend(str(v) for v in values)
    source = f"{config_dir} (read by fail2ban-client)"
    if not added:
        return Fail2banJail(name=jail, mode="more", maxretry=0, findtime=0.0, bantime=0.0,
                            source=source, enabled=False)
    mode = _mode_of(config_dir, jail)
    return Fail2banJail(
        name=jail, mode=mode, maxretry=int(str(settings.get("maxretry", 5))),
        findtime=_seconds(settings.get("findtime", 600)),
        bantime=_seconds(settings.get("bantime", 600)),
        ignoreip=tuple(item for entry in ignoreip for item in entry.split()),
        source=source, prefregex=str(settings["prefregex"]) if "prefregex" in settings else None,
        failregex=tuple(failregex), ignoreregex=tuple(ignoreregex),
    )


def _mode_of(config_dir: Path, jail: str) -> str:
    """The jail's filter mode, for the label only (the regexes come from the dump)."""
    import configparser

    parser = configparser.RawConfigParser(strict=False)
    files = [config_dir / "jail.conf", *sorted((config_dir / "jail.d").glob("*.conf")),
             config_dir / "jail.local", *sorted((config_dir / "jail.d").glob("*.local"))]
    mode = "more"
    for path in files:
        if not path.is_file():
            continue
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option(jail, "mode"):
            mode = parser.get(jail, "mode").strip()
        if parser.has_option(jail, "filter"):
            spec = parser.get(jail, "filter")
            literal = spec.split("mode=", 1)[1].split("]", 1)[0].split(",", 1)[0].strip() \
                if "mode=" in spec else ""
            if literal and "%(" not in literal:  # jail.conf's own is "%(mode)s"
                mode = literal
    return mode


def _filter_file(jail: Fail2banJail, directory: Path) -> str:
    """What ``fail2ban-regex`` runs: the jail's own regexes, or Debian's ``postfix[mode=...]``."""
    if not jail.failregex:
        return f"postfix[mode={jail.mode}]"

    def value(lines: Sequence[str]) -> str:
        # fail2ban's config reader interpolates %(name)s: the dumped regexes are final,
        # so every % is literal.
        return "\n    ".join(line.replace("%", "%%") for line in lines)

    text = ["[Definition]"]
    if jail.prefregex is not None:
        text.append(f"prefregex = {value([jail.prefregex])}")
    text.append(f"failregex = {value(jail.failregex)}")
    text.append(f"ignoreregex = {value(jail.ignoreregex)}")
    text.append("datepattern = {^LN-BEG}")
    path = directory / f"loganalyze-{jail.name}.conf"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return str(path)


def fail2ban_matches(paths: Iterable[str], jail: Fail2banJail,
                     tz: tzinfo | None = None) -> dict[str, list[datetime]]:
    """Each client's matched line times, as ``fail2ban-regex`` finds them in ``paths``.

    The times are fail2ban's own reading of the stamps (``TZ=UTC`` for stamps
    without a zone), shown in ``tz`` (None: naive, as the log wrote them).
    """
    if shutil.which("fail2ban-regex", path="/usr/bin:/bin:/usr/sbin:/sbin") is None:
        raise ConfigError("fail2ban-regex is not installed: install fail2ban to cross-check "
                          "its bans")
    found: dict[str, list[datetime]] = {}
    with tempfile.TemporaryDirectory(prefix="loganalyze-f2b-") as scratch:
        spec = _filter_file(jail, Path(scratch))
        for path in paths:
            out = _run(["fail2ban-regex", "-r", "-o", "row", "--timezone", "UTC", path, spec],
                       f"fail2ban-regex on {path}")
            for ip, when in _rows(out):
                stamp = datetime.fromtimestamp(when, UTC)
                stamp = stamp.astimezone(tz) if tz is not None else stamp.replace(tzinfo=None)
                found.setdefault(ip, []).append(stamp)
    for times in found.values():
        times.sort()
    return found


def _rows(out: str) -> Iterator[tuple[str, float]]:
    """``['198.51.100.24', 1786844906.0, {...}],`` rows of ``fail2ban-regex -o row``."""
    for line in out.splitlines():
        line = line.strip().rstrip(",")
        if not line.startswith("['") and not line.startswith('["'):
            continue
        try:
            row = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            continue
        if isinstance(row, list) and len(row) >= 2 and isinstance(row[1], (int, float)):
            yield str(row[0]), float(row[1])


def fail2ban_first_ban(times: Sequence[datetime], jail: Fail2banJail) -> Ban | None:
    """When the jail bans a client whose matches came at ``times`` (sorted), if it does.

    As FailManager counts: a ticket per address keeps the first and last
    failure time and a retry count; a failure more than ``findtime`` after the
    ticket's last one finds the ticket gone (the jail's periodic cleanup), one
    within it stretches the window and scales the count to ``findtime``
    (``FailTicket.adjustTime``); the count reaching ``maxretry`` bans.
    """
    if not jail.enabled or jail.maxretry <= 0:
        return None
    first = last = 0.0
    retry = 0
    matches = 0
    for when in times:
        t = when.timestamp()
        if retry == 0 or t - last >= jail.findtime:
            first, last, retry, matches = t, t, 0, 0
        elif t > last:
            if first < t - jail.findtime:
                retry = round(retry / (t - first) * jail.findtime)
                first = t - jail.findtime
            last = t
        retry += 1
        matches += 1
        if retry >= jail.maxretry:
            return Ban(jail.tool, when, matches)
    return None


# -- CrowdSec ------------------------------------------------------------------------


@dataclass(frozen=True)
class LeakyBucket:
    """A CrowdSec ``type: leaky`` scenario, grouped by source address."""

    name: str
    """The scenario as the hub names it."""
    capacity: int
    """Events the bucket holds; one more overflows it."""
    leakspeed: float
    """Seconds for one event to leak out."""
    blackhole: float
    """Seconds after an overflow during which the same address is not counted again."""

    @property
    def tool(self) -> str:
        """How the output names this scenario."""
        return f"crowdsec {self.name}"


CROWDSEC_HELO = LeakyBucket("crowdsecurity/postfix-helo-rejected", capacity=1,
                            leakspeed=600.0, blackhole=60.0)
"""The hub's scenario: ``capacity: 1``, ``leakspeed: 600s``, ``blackhole: 1m``."""


def first_overflow(times: Sequence[datetime], bucket: LeakyBucket) -> Ban | None:
    """When ``bucket`` first overflows for events at ``times`` (sorted), if it does.

    The level drains continuously, one event per ``leakspeed``; an event that
    finds the bucket at capacity overflows it.
    """
    level = 0.0
    previous: datetime | None = None
    poured = 0
    for when in times:
        if previous is not None:
            level = max(0.0, level - (when - previous).total_seconds() / bucket.leakspeed)
        previous = when
        poured += 1
        if level + 1 > bucket.capacity:
            return Ban(bucket.tool, when, poured)
        level += 1
    return None


def crowdsec_counts(reason: str, warning: bool, service: str) -> bool:
    """Whether CrowdSec's postfix parser and the HELO scenario count this reject line.

    The parser takes smtpd's ``NOQUEUE: reject:`` lines (not ``reject_warning``:
    its action list has no such word), strips the ``<helo>: `` before the reason,
    and the scenario keeps reasons starting with "Helo command rejected".
    """
    if warning or not service.endswith("smtpd"):
        return False
    text = reason
    if text.startswith("<"):
        end = text.find(">: ")
        if end >= 0:
            text = text[end + 3:]
    return text.startswith("Helo command rejected")



# -- both, per client ----------------------------------------------------------------


@dataclass(frozen=True)
class BanCheck:
    """What ``--bans`` cross-checks: a fail2ban jail and a CrowdSec scenario."""

    jail: Fail2banJail = DEBIAN_POSTFIX_JAIL
    """The jail, as fail2ban read the admin's configuration, or Debian's defaults."""
    bucket: LeakyBucket = CROWDSEC_HELO
    """The CrowdSec scenario (the hub's settings)."""

    def describe(self) -> str:
        """One line saying which settings the claims come from."""
        jail = self.jail
        if not jail.enabled:
            f2b = f"fail2ban jail {jail.name}: not enabled in {jail.source}"
        else:
            f2b = (f"{jail.tool}: maxretry {jail.maxretry} within {jail.findtime:g} s "
                   f"({jail.source})")
        bucket = self.bucket
        return (f"bans checked with {f2b}; {bucket.tool}: capacity {bucket.capacity}, "
                f"leak {bucket.leakspeed:g} s (the hub's scenario)")


def ban_claims(ip: str, fail2ban_times: Sequence[datetime], crowdsec_times: Sequence[datetime],
               crowdsec_lines: int, check: BanCheck) -> tuple[str, ...]:
    """Who would ban ``ip``, and when: the ``would_be_banned_by`` of its findings.

    ``fail2ban_times`` are its lines ``fail2ban-regex`` matched; ``crowdsec_times``
    the earliest of its ``crowdsec_lines`` HELO-reject lines (sorted). When the
    kept lines do not overflow the bucket but more lines were only counted,
    the claim says it is undecided instead of saying nobody bans.
    """
    claims = []
    if not check.jail.ignores(ip):
        ban = fail2ban_first_ban(fail2ban_times, check.jail)
        if ban is not None:
            claims.append(ban.describe())
    overflow = first_overflow(crowdsec_times, check.bucket)
    if overflow is not None:
        claims.append(overflow.describe())
    elif crowdsec_lines > len(crowdsec_times):
        claims.append(f"{check.bucket.tool}: undecided (only the earliest {len(crowdsec_times)} "
                      f"of its {crowdsec_lines} lines were kept)")
    return tuple(claims)


def safe_address(text: str) -> str | None:
    """``text`` as a validated IP address in canonical form, or None.

    What goes into an ``ignoreip`` line or a whitelist file must be an address,
    never a logged string that merely looks like one.
    """
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
