"""Write a realistic, deterministic Postfix mail log of any size, for the benchmark.

    .venv/bin/python tests/benchmarks/generate_log.py --lines 1000000 -o mail.log
    .venv/bin/python tests/benchmarks/generate_log.py --lines 5000 --format rfc3339 --gzip -o x.gz

One simulated day (24 h from ``--start``, busier in office hours) on one MX,
``mx.example.net``, hosting ``example.com`` (Dovecot LMTP), ``example.net``
(virtual maildirs) and local aliases.  Traffic comes from a bounded population
of clients, in classes: big mail providers, small businesses, legitimate
servers with a broken HELO (the senders loganalyze looks for), spam bots,
scanners, authenticated submission users and local cron mail.  Each client
keeps its address, PTR name and HELO; the number of distinct clients grows
like a power (< 1) of the number of sessions (Heaps' law), and repeat
visitors are picked in proportion to their past visits, so a few big
senders dominate, as on a real server.

Line shapes are copied from Postfix 3.7 and spf-engine 3.0 output (see
``/work/shared/postfix-reference.md`` sections 2-4 and ``peer-logs/``):
postscreen (CONNECT, PASS NEW/OLD, dnsblog, DNSBL rank, PREGREET, HANGUP,
DISCONNECT, its comma-separated reject), smtpd (connect, TLS, ``QUEUEID:
client=``, disconnect with command counters that match the session, lost
connection, timeout, SASL failures, hostname warnings), rejects of every
kind (the three HELO checks, RBL, relay, unknown user, SPF, reverse
hostname, sender domain, and ``reject_warning`` while the unknown-HELO check
runs in warn mode until a ``postfix reload`` at noon), policyd-spf, cleanup,
qmgr, local/lmtp/virtual/smtp deliveries (sent, deferred, bounced),
bounce, pickup, anvil and scache statistics, and Dovecot LMTP lines.

Every host name is under a reserved test domain (``.example``, ``example.*``,
``.local``/``.lan`` for the broken HELOs) and every address is in a reserved
range (198.18.0.0/15 for benchmarking, then 100.64.0.0/10; 2001:db8::/32 for
IPv6), so running the tool with DNS on this data asks nobody real.

The output is a pure function of (lines, seed, format, start): sessions run
concurrently in a fixed number of smtpd "slots" (one process each) and their
lines are interleaved at random, with timestamps that never go backwards.
The log ends exactly at ``--lines``; only the last session may be cut short.
"""

from __future__ import annotations

import argparse
import gzip
import io
import math
import random
import sys
import time
from array import array
from base64 import b64encode
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from loganalyze.compat import StrEnum

GENERATOR_VERSION = 1
"""Bump when the output for given options changes (invalidates cached benchmark data)."""

HOST = "mx"
MYHOSTNAME = "mx.example.net"
SERVER_IP = "192.0.2.25"
OUR_DOMAINS = ("example.com", "example.net")
SESSION_SECONDS = 20.0
"""Typical time from a unit's first line to its last (connect ... delivery)."""
MAX_CONCURRENCY = 400
"""Cap on units in flight (smtpd processes): concurrency = rate x duration."""


class LogFormat(StrEnum):
    """Timestamp style of the generated lines."""

    TRADITIONAL = "traditional"
    """``Nov 24 22:00:10 mx ...`` (RFC 3164, day space-padded)."""
    RFC3339 = "rfc3339"
    """``2026-11-24T22:00:10.532125+00:00 mx ...`` (Debian 12 rsyslog default)."""


class TrafficMix(StrEnum):
    """Which traffic the day brings."""

    DEFAULT = "default"
    """A normal day: big providers dominate, a bounded population of bots."""
    BOTNET = "botnet"
    """A botnet day: bots send ten times their usual share of the traffic, nearly each
    from a new address with its own HELO, so about ten times the distinct client
    addresses and HELOs of :attr:`DEFAULT` (what the memory bound is measured on)."""


class SessionKind(StrEnum):
    """What one generated unit of traffic was; counted in :class:`GeneratorStats`."""

    ACCEPTED = "accepted"
    """smtpd session whose mail was queued (and delivered, deferred or bounced)."""
    ACCEPTED_WARN = "accepted_warn"
    """Unknown-HELO ``reject_warning`` (warn mode, before noon), then accepted."""
    HELO_INVALID = "helo_invalid"
    """``501 5.5.2 ... Invalid name`` or ``invalid ip address``."""
    HELO_NON_FQDN = "helo_non_fqdn"
    """``504 5.5.2 ... need fully-qualified hostname``."""
    HELO_UNKNOWN = "helo_unknown"
    """``450 4.7.1 ... Host not found`` / ``Malformed DNS server reply`` (after noon)."""
    RBL = "rbl"
    """smtpd ``reject_rbl_client``: ``554 5.7.1 Service unavailable; Client host ... blocked``."""
    RELAY_DENIED = "relay_denied"
    USER_UNKNOWN = "user_unknown"
    SPF_REJECT = "spf_reject"
    """policyd-spf Fail (550) or Temperror (450) reject."""
    CLIENT_REJECT = "client_reject"
    """``450 4.7.25 Client host rejected: cannot find your reverse hostname``."""
    SENDER_REJECT = "sender_reject"
    """``450 4.1.8 ... Sender address rejected: Domain not found``."""
    LOST = "lost"
    """``lost connection after X`` (scanners, dropped legitimate sessions)."""
    TIMEOUT = "timeout"
    AUTH_FAILED = "auth_failed"
    """SASL password guessing on port 25 or submission."""
    SUBMISSION = "submission"
    """Authenticated user (``postfix/submission/smtpd``) sending out through smtp."""
    POSTSCREEN_DNSBL = "postscreen_dnsbl"
    """Rejected by postscreen (DNSBL rank): never reaches smtpd."""
    POSTSCREEN_PREGREET = "postscreen_pregreet"
    """Talked before the greeting, or hung up, at postscreen: never reaches smtpd."""
    PICKUP = "pickup"
    """Local mail (cron) through pickup and local delivery: no smtpd session."""


SMTPD_KINDS = frozenset(SessionKind) - {
    SessionKind.POSTSCREEN_DNSBL, SessionKind.POSTSCREEN_PREGREET, SessionKind.PICKUP
}
"""Kinds that produce exactly one smtpd session (connect ... disconnect)."""

HELO_KINDS = {
    SessionKind.HELO_INVALID: "invalid",
    SessionKind.HELO_NON_FQDN: "non_fqdn",
    SessionKind.HELO_UNKNOWN: "unknown",
    SessionKind.ACCEPTED_WARN: "unknown",
}
"""Kinds whose session carries a HELO-check reject (or warning), by check name."""


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """What to generate."""

    lines: int
    seed: int = 1
    fmt: LogFormat = LogFormat.TRADITIONAL
    start: datetime = datetime(2026, 11, 24)
    """Local time of the first line: the log covers the 24 hours from here."""
    host: str = HOST
    """The syslog host field (one MX of several: their pids collide)."""
    mix: TrafficMix = TrafficMix.DEFAULT


@dataclass(slots=True)
class GeneratorStats:
    """What was written: the truth a test or a benchmark compares against."""

    lines: int = 0
    bytes: int = 0
    """Uncompressed size."""
    sessions: Counter[str] = field(default_factory=Counter)
    """Completely written units by :class:`SessionKind`."""
    truncated: int = 0
    """Units cut short by the end of the log (0 or 1); not in the counts above."""
    clients: Counter[str] = field(default_factory=Counter)
    """Distinct clients by class."""
    helo_checks: Counter[str] = field(default_factory=Counter)
    """Completely written smtpd sessions whose rejects or warnings name a HELO check
    (``invalid``, ``non_fqdn``, ``unknown``), by check."""
    senders: int = 0
    """Distinct (client address, HELO) pairs among completely written smtpd sessions
    that log their HELO (in a reject, warning or policyd-spf line)."""
    helos: int = 0
    """Distinct HELO names among those pairs."""
    seconds: float = 0.0
    """Time taken to generate and write."""

    @property
    def smtpd_sessions(self) -> int:
        """Completely written units that are one smtpd session each."""
        return sum(n for kind, n in self.sessions.items() if kind in SMTPD_KINDS)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "lines": self.lines,
            "bytes": self.bytes,
            "bytes_per_line": round(self.bytes / self.lines, 1) if self.lines else 0,
            "sessions": dict(sorted(self.sessions.items())),
            "smtpd_sessions": self.smtpd_sessions,
            "helo_checks": dict(sorted(self.helo_checks.items())),
            "truncated": self.truncated,
            "clients": dict(sorted(self.clients.items())),
            "distinct_clients": sum(self.clients.values()),
            "distinct_senders": self.senders,
            "distinct_helos": self.helos,
            "seconds": round(self.seconds, 2),
        }


# --- vocabulary ------------------------------------------------------------------------

_ADJ = (
    "acme alpine amber apex arctic atlas azure bold bright cedar cobalt coral crimson delta "
    "eagle ember falcon golden granite harbor hazel indigo iron jade lunar maple meadow noble "
    "north ocean orbit pacific pine polar prairie quantum rapid raven redwood river silver "
    "solar summit swift terra tidal topaz urban vector velvet vista willow zenith"
).split()
_NOUN = (
    "analytics bakery capital clinic consulting dental design dynamics energy engineering "
    "finance foods freight games health holdings hotels insurance labs law logistics media "
    "metals motors networks partners pharma press realty robotics school security software "
    "solutions sports studio supply systems tech textiles travel ventures works"
).split()
_FIRST = (
    "alice bob carol dave erin frank grace heidi ivan judy karl laura mallory nina oscar peggy "
    "quentin rupert sybil trent ursula victor wendy xavier yvonne zoe anna ben chloe dan eva "
    "felix gina hugo iris jack kate leo mia noah olga paul rosa sam tina uma vera will"
).split()
_LAST = (
    "smith jones brown taylor wilson davies evans thomas johnson roberts walker wright "
    "robinson thompson white hughes edwards green hall wood harris lewis martin jackson clarke"
).split()
_PROVIDERS = (
    "bigmail", "mailhub", "postbox", "inboxly", "sendwave", "cloudpost", "mailforge",
    "letterbox", "outpost", "massmail", "newsburst", "transmit",
)
_ROLE = ("info", "sales", "support", "office", "billing", "hr", "contact", "jobs", "admin")
_BOT_HELOS_NON_FQDN = (
    "ylmf-pc", "User", "localhost", "PC", "admin", "mailserver", "smtp", "server", "HOST",
    "win7", "desktop", "EXCHANGE", "home", "default", "windows",
)
_BOT_HELOS_INVALID = (
    "mail?server", "User?PC", "123456", "localhost..localdomain", "-smtp.example",
    "smtp_.example..com", "mail.example.com:25", "192.0.2.256", "1.2.3", "mail?example.com",
)
_BOT_HELOS_LITERAL_BAD = ("[mail.example.com]", "[192.0.2.256]", "[1.2.3]", "[127.0.0.1].")
_BROKEN_NON_FQDN = ("EXCH01", "SRV-MAIL", "mail", "MAILSRV", "exchange", "SBS2011", "gateway")
_BROKEN_UNKNOWN_TLD = ("local", "lan", "internal", "corp", "intra", "localdomain")
_DNSBLS = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com")
_TLS_IN = (
    ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256",
    ": TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256",
    ": TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
)
_SASL_FAIL = (
    "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
    "SASL LOGIN authentication failed: authentication failure",
    "SASL PLAIN authentication failed: ",
)
_CMD_ORDER = (
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop",
    "vrfy", "quit", "unknown",
)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ALNUM_UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Relative traffic by hour of day (quiet nights, busy office hours).
_HOURLY = (
    0.45, 0.4, 0.38, 0.36, 0.38, 0.45, 0.6, 0.85, 1.25, 1.5, 1.55, 1.5,
    1.35, 1.4, 1.5, 1.45, 1.35, 1.15, 0.95, 0.85, 0.8, 0.72, 0.62, 0.52,
)


def _company(i: int) -> str:
    """A deterministic company label for index ``i`` (unique for every i)."""
    a, rest = divmod(i, len(_NOUN))
    adj = _ADJ[a % len(_ADJ)]
    n = a // len(_ADJ)
    return f"{adj}-{_NOUN[rest]}" + (str(n) if n else "")


def _company_domain(i: int) -> str:
    tld = ("example", "example.com", "example.net", "example.org")[i % 4]
    return f"{_company(i // 4)}.{tld}"


# --- clients --------------------------------------------------------------------------


class ClientClass(StrEnum):
    """Who a client is; decides its names and what its sessions do."""

    PROVIDER = "provider"
    """Big mail provider or ESP: FCrDNS name, good HELO, SPF pass."""
    BUSINESS = "business"
    """Small organisation's own MTA, good HELO."""
    BROKEN = "broken"
    """Legitimate MTA with a HELO that fails one of the three checks."""
    BOT = "bot"
    """Spam bot on a dynamic address: RBL, bad HELO, dictionary attacks, SPF fail."""
    SCANNER = "scanner"
    """Connects and drops, times out, or guesses passwords."""
    USER = "user"
    """Authenticated submission user (home or mobile address)."""


@dataclass(slots=True)
class _Client:
    cls: ClientClass
    ip: str
    name: str
    """PTR name as smtpd logs it, or ``unknown``."""
    helo: str
    domain: str
    """Mail domain it sends for (envelope sender domain)."""
    check: str = ""
    """For BROKEN clients: which HELO check its name fails."""
    ptr_warning: str = ""
    """``hostname X does not resolve to address IP`` text, if its PTR is forged."""
    seen_by_postscreen: bool = False
    namaddr: str = ""
    """``name[ip]`` as smtpd logs the client."""

    def __post_init__(self) -> None:
        self.namaddr = f"{self.name}[{self.ip}]"


@dataclass(slots=True)
class _Population:
    """A client class that grows like ``scale * visits ** exponent`` (Heaps' law)."""

    cls: ClientClass
    scale: float
    exponent: float
    members: list[_Client] = field(default_factory=list)
    history: array[int] = field(default_factory=lambda: array("I"))

    def pick(self, rnd: Callable[[], float], make: Callable[[], _Client]) -> _Client:
        n = len(self.history)
        p_new = self.scale * self.exponent * (n + 1) ** (self.exponent - 1.0)
        if not self.members or rnd() < p_new:
            index = len(self.members)
            self.members.append(make())
        else:
            index = self.history[int(rnd() * n)]
        self.history.append(index)
        return self.members[index]


# --- the simulation -------------------------------------------------------------------


class _World:
    """Server state, client populations and the session scripts.

    Each script returns the *bodies* of its lines (``postfix/smtpd[123]:
    ...``) in order; the writer adds the timestamp and host.
    """

    def __init__(self, seed: int, mix: TrafficMix = TrafficMix.DEFAULT) -> None:
        rng = random.Random(seed)
        self.rnd = rng.random
        self.bits = rng.getrandbits
        self.randbytes = rng.randbytes
        self.spf_tail = ""
        """Appended to policyd-spf lines: rsyslog keeps spf-engine's trailing space."""
        self.warn_unknown = True
        self.pid = 2000 + int(self.rnd() * 1000)
        self.qid_counter = int(self.rnd() * 1_000_000)
        self.v4_count = 0
        self.v6_count = 0
        self.pops = {
            # scale, exponent: about 2.6k providers, 1.9k businesses, 100 broken HELOs,
            # 9k bots and 2k scanners at 1M lines; 2.5-3.5x that at 5M lines.
            ClientClass.PROVIDER: _Population(ClientClass.PROVIDER, 8.0, 0.55),
            ClientClass.BUSINESS: _Population(ClientClass.BUSINESS, 4.0, 0.68),
            ClientClass.BROKEN: _Population(ClientClass.BROKEN, 1.6, 0.5),
            ClientClass.BOT: _Population(ClientClass.BOT, 2.5, 0.8),
            ClientClass.SCANNER: _Population(ClientClass.SCANNER, 3.0, 0.7),
            ClientClass.USER: _Population(ClientClass.USER, 2.0, 0.5),
        }
        if mix is TrafficMix.BOTNET:
            # Nearly every bot session from a new address: ~100k bots at 1M lines,
            # ~470k at 5M (a botnet of that size sends a few messages per member).
            self.pops[ClientClass.BOT] = _Population(ClientClass.BOT, 1.0, 0.97)
        self.companies = 0
        self.makers: dict[ClientClass, Callable[[], _Client]] = {
            ClientClass.PROVIDER: self._provider,
            ClientClass.BUSINESS: self._business,
            ClientClass.BROKEN: self._broken,
            ClientClass.BOT: self._bot,
            ClientClass.SCANNER: self._scanner,
            ClientClass.USER: self._user,
        }
        self.counter_cache: dict[frozenset[tuple[str, tuple[int, int]]], str] = {}
        self.users = [f"{f}.{last}" for f in _FIRST for last in _LAST[:8]] + list(_FIRST)
        self.postscreen = self.new_pid()
        self.qmgr = self.new_pid()
        self.anvil = self.new_pid()
        self.master = 1000 + int(self.rnd() * 500)
        self.pools = {
            name: [self.new_pid() for _ in range(size)]
            for name, size in (
                ("cleanup", 6), ("lmtp", 4), ("local", 2), ("virtual", 2), ("smtp", 8),
                ("bounce", 1), ("pickup", 1), ("policyd-spf", 6), ("dnsblog", 2),
            )
        }
        # Postfix prints delays with 2 significant digits; precompute realistic sets.
        self.fast_delays = [self._delays(0.3) for _ in range(256)]
        self.slow_delays = [self._delays(2.0) for _ in range(256)]

    # helpers ----------------------------------------------------------------------

    def pick(self, seq: Sequence[str]) -> str:
        return seq[int(self.rnd() * len(seq))]

    def new_pid(self) -> int:
        self.pid += 1 + int(self.rnd() * 40)
        if self.pid > 4_000_000:
            self.pid = 1000
        return self.pid

    def pool_pid(self, name: str) -> int:
        pool = self.pools[name]
        i = int(self.rnd() * len(pool))
        if self.rnd() < 0.002:  # the process exited (max_idle/max_use); a new one took over
            pool[i] = self.new_pid()
        return pool[i]

    def qid(self) -> str:
        # Unique, 11 upper-case hex digits, like Postfix's short queue ids.
        self.qid_counter += 1
        return f"{0x10000000000 + (self.qid_counter * 0x9E3779B1) % 0xF0000000000:X}"

    def _delays(self, scale: float) -> str:
        rnd = self.rnd
        parts = [rnd() * scale * 0.6, rnd() * 0.02, rnd() * scale * 0.2, rnd() * scale * 0.5]
        parts = [0.0 if p < 0.004 else p for p in parts]
        total = sum(parts)
        return f"delay={total:.2g}, delays=" + "/".join(
            "0" if p == 0 else f"{p:.2g}" for p in parts
        )

    def ipv4(self) -> str:
        n = self.v4_count
        self.v4_count += 1
        if n < 1 << 17:  # 198.18.0.0/15, permuted so neighbours look unrelated
            x = (n * 40503 + 12345) & 0x1FFFF
            return f"198.{18 + (x >> 16)}.{(x >> 8) & 255}.{x & 255}"
        x = ((n - (1 << 17)) * 2654435761 + 99) & 0x3FFFFF  # then 100.64.0.0/10
        return f"100.{64 + (x >> 16)}.{(x >> 8) & 255}.{x & 255}"

    def ipv6(self) -> str:
        self.v6_count += 1
        n = self.v6_count * 0x9E3779B1 & 0xFFFFFFFFFFFF
        return f"2001:db8:{n >> 32:x}:{(n >> 16) & 0xFFFF:x}::{n & 0xFFFF:x}"

    def word(self, n: int) -> str:
        return "".join(_B64[int(self.rnd() * 26) + 26] for _ in range(n))

    def msgid(self, domain: str) -> str:
        if self.rnd() < 0.5:  # the long, UUID-bearing ids of bulk senders
            x = self.bits(128)
            return (f"<{x >> 64:016x}-{x >> 32 & 0xFFFFFFFF:08x}-{x >> 16 & 0xFFFF:04x}-"
                    f"{x & 0xFFFF:04x}-000000@email.{domain}>")
        return f"<{self.bits(64):016x}.{self.bits(20):05x}@{domain}>"

    def recipient(self) -> str:
        r = self.rnd()
        if r < 0.05:
            return f"{self.pick(_ROLE)}@{self.pick(OUR_DOMAINS)}"
        return f"{self.pick(self.users)}@{'example.com' if r < 0.75 else 'example.net'}"

    def bogus_recipient(self) -> str:
        r = self.rnd()
        if r < 0.5:
            return f"{self.pick(_FIRST)}{int(self.rnd() * 100)}@{self.pick(OUR_DOMAINS)}"
        return f"{self.word(6)}@{self.pick(OUR_DOMAINS)}"

    # clients ------------------------------------------------------------------------

    def client(self, cls: ClientClass) -> _Client:
        return self.pops[cls].pick(self.rnd, self.makers[cls])

    def _provider(self) -> _Client:
        p = self.pick(_PROVIDERS)
        v6 = self.rnd() < 0.25
        ip = self.ipv6() if v6 else self.ipv4()
        n = int(self.rnd() * 900) + 10
        name = f"mail-{self.word(2)}{int(self.rnd() * 9) + 1}-f{n}.{p}.example"
        return _Client(ClientClass.PROVIDER, ip, name, name, f"{p}.example")

    def _business(self) -> _Client:
        self.companies += 1
        domain = _company_domain(self.companies)
        name = f"{self.pick(('mail', 'smtp', 'mx1', 'mx', 'mailgw'))}.{domain}"
        helo = name if self.rnd() < 0.9 else name.upper() if self.rnd() < 0.5 else domain
        return _Client(ClientClass.BUSINESS, self.ipv4(), name, helo, domain)

    def _broken(self) -> _Client:
        self.companies += 1
        domain = _company_domain(self.companies)
        label = _company(self.companies // 4)
        ptr = f"mail.{domain}" if self.rnd() < 0.7 else "unknown"
        r = self.rnd()
        if r < 0.4:
            check = "non_fqdn"
            helo = self.pick(_BROKEN_NON_FQDN)
            if self.rnd() < 0.5:
                helo = f"{helo}-{label.split('-')[0].upper()}"
        elif r < 0.9:
            check = "unknown"
            s = self.rnd()
            if s < 0.35:
                helo = f"{self.pick(('exch01', 'mail', 'srv-mail', 'mx'))}.{label}.{self.pick(_BROKEN_UNKNOWN_TLD)}"
            elif s < 0.6:
                helo = f"mail.{domain}."
            elif s < 0.8:
                helo = f"old-mx.{domain}"
            else:
                helo = f"{self.pick(('EXCH', 'SRV', 'MAIL'))}{int(self.rnd() * 9) + 1}.ad.{domain}"
        else:
            check = "invalid"
            helo = self.pick((f"mail_server..{domain}", f"-mail.{domain}", f"mail.{domain}:25",
                              f"mail?{domain}", f"[{label}]"))
        return _Client(ClientClass.BROKEN, self.ipv4(), ptr, helo, domain, check=check)

    def _bot(self) -> _Client:
        ip = self.ipv6() if self.rnd() < 0.05 else self.ipv4()
        r = self.rnd()
        if r < 0.55 or ":" in ip:
            name = "unknown"
        else:
            a = ip.replace(".", "-")
            name = f"{a}.{self.pick(('dyn', 'cable', 'dsl', 'pool', 'static'))}.isp{int(self.rnd() * 40)}.example"
        ptr_warning = ""
        if name == "unknown" and self.rnd() < 0.25:
            ptr_warning = f"hostname {self.word(8)}.isp{int(self.rnd() * 40)}.example does not resolve to address {ip}"
            if self.rnd() < 0.6:
                ptr_warning += ": Name or service not known"
        # Which of the three checks the HELO fails decides how far its sessions get.
        r = self.rnd()
        check = "non_fqdn"
        if r < 0.3:
            helo = self.pick(_BOT_HELOS_NON_FQDN)
        elif r < 0.38:
            helo = f"WIN-{''.join(self.pick(_ALNUM_UP) for _ in range(11))}"
        elif r < 0.43 and ":" not in ip:
            helo = ip  # a bare IPv4 address passes the invalid check, not the FQDN one
        elif r < 0.53:
            helo, check = (f"[{ip}]" if ":" not in ip else f"[IPv6:{ip}]"), ""
        elif r < 0.57:
            helo, check = self.pick(_BOT_HELOS_INVALID + _BOT_HELOS_LITERAL_BAD), "invalid"
        elif r < 0.72:
            helo, check = f"mail.{self.word(7)}.example", "unknown"
        else:
            helo, check = (name if name != "unknown" else f"{self.word(5)}.example.com"), ""
        domain = f"{self.word(6)}.example" if self.rnd() < 0.8 else self.pick(OUR_DOMAINS)
        return _Client(ClientClass.BOT, ip, name, helo, domain, check=check,
                       ptr_warning=ptr_warning)

    def _scanner(self) -> _Client:
        ip = self.ipv4()
        name = "unknown" if self.rnd() < 0.7 else f"scan-{ip.replace('.', '-')}.research{int(self.rnd() * 9)}.example"
        return _Client(ClientClass.SCANNER, ip, name, self.pick(("User", "localhost", name)), "")

    def _user(self) -> _Client:
        mobile = self.rnd() < 0.3
        ip = self.ipv6() if mobile and self.rnd() < 0.5 else self.ipv4()
        if ":" in ip or self.rnd() < 0.3:
            name = "unknown"
        else:
            name = f"{ip.replace('.', '-')}.{self.pick(('home', 'fiber', 'mobile'))}.isp{int(self.rnd() * 40)}.example"
        user = f"{self.pick(self.users)}@{self.pick(OUR_DOMAINS)}"
        return _Client(ClientClass.USER, ip, name, f"[{ip}]" if ":" not in ip else "localhost", user)

    # line pieces ------------------------------------------------------------------

    def counters(self, cmds: dict[str, tuple[int, int]]) -> str:
        """Format smtpd's disconnect counters in Postfix's order, with ok/total when they differ."""
        key = frozenset(cmds.items())
        text = self.counter_cache.get(key)
        if text is None:
            text = self.counter_cache[key] = self._counters(cmds)
        return text

    @staticmethod
    def _counters(cmds: dict[str, tuple[int, int]]) -> str:
        if not cmds:
            return "commands=0/0"
        parts = []
        ok_sum = total_sum = 0
        for name in _CMD_ORDER:
            if name in cmds:
                ok, total = cmds[name]
                ok_sum += ok
                total_sum += total
                parts.append(f"{name}={ok}" if ok == total else f"{name}={ok}/{total}")
        parts.append(
            f"commands={ok_sum}" if ok_sum == total_sum else f"commands={ok_sum}/{total_sum}"
        )
        return " ".join(parts)

    def postscreen_pass(self, c: _Client, out: list[str]) -> None:
        port = 1024 + int(self.rnd() * 64000)
        ps = f"postfix/postscreen[{self.postscreen}]: "
        out.append(f"{ps}CONNECT from [{c.ip}]:{port} to [{SERVER_IP}]:25")
        out.append(f"{ps}PASS {'OLD' if c.seen_by_postscreen else 'NEW'} [{c.ip}]:{port}")
        c.seen_by_postscreen = True

    def spf_line(self, c: _Client, sender: str, result: str, rcpt_domain: str) -> str:
        pid = self.pool_pid("policyd-spf")
        if sender:
            head = f"{result} (mailfrom) identity=mailfrom"
        else:
            comment = {"Pass": "sender SPF authorized", "Fail": "SPF fail - not authorized"}.get(
                result, "no SPF record"
            )
            head = f"{result} ({comment}) identity=helo"
        return (
            f"policyd-spf[{pid}]: : prepend Received-SPF: {head}; client-ip={c.ip}; "
            f"helo={c.helo}; envelope-from={sender or '<>'}; receiver={rcpt_domain}"
            f"{self.spf_tail}"
        )

    def deliver_inbound(self, qid: str, msgid: str, rcpts: list[str], out: list[str]) -> bool:
        """Delivery lines for local recipients; True when the message left the queue."""
        done = True
        for rcpt in rcpts:
            domain = rcpt.rpartition("@")[2]
            delays = self.pick(self.fast_delays)
            if rcpt.startswith(("postmaster@", "abuse@", "admin@")):
                pid = self.pool_pid("local")
                out.append(
                    f"postfix/local[{pid}]: {qid}: to=<root@{MYHOSTNAME}>, orig_to=<{rcpt}>, "
                    f"relay=local, {delays}, dsn=2.0.0, status=sent (delivered to mailbox)"
                )
            elif domain == "example.com":
                pid = self.pool_pid("lmtp")
                if self.rnd() < 0.01:
                    done = False
                    out.append(
                        f"postfix/lmtp[{pid}]: {qid}: to=<{rcpt}>, relay={MYHOSTNAME}"
                        f"[private/dovecot-lmtp], {delays}, dsn=4.2.2, status=deferred (host "
                        f"{MYHOSTNAME}[private/dovecot-lmtp] said: 452 4.2.2 <{rcpt}> Quota "
                        "exceeded (mailbox for user is full) (in reply to end of DATA command))"
                    )
                    continue
                session = b64encode(self.randbytes(16), b"xy")[:22].decode()
                out.append(
                    f"dovecot: lmtp({rcpt})<{pid + 7}><{session}>: "
                    f"msgid={msgid}: saved mail to INBOX"
                )
                out.append(
                    f"postfix/lmtp[{pid}]: {qid}: to=<{rcpt}>, relay={MYHOSTNAME}"
                    f"[private/dovecot-lmtp], {delays}, dsn=2.0.0, status=sent "
                    f"(250 2.0.0 <{rcpt}> {session} Saved)"
                )
            else:
                pid = self.pool_pid("virtual")
                out.append(
                    f"postfix/virtual[{pid}]: {qid}: to=<{rcpt}>, relay=virtual, {delays}, "
                    "dsn=2.0.0, status=sent (delivered to maildir)"
                )
        return done

    def queue_message(
        self, qid: str, sender: str, msgid: str, nrcpt: int, out: list[str]
    ) -> None:
        out.append(f"postfix/cleanup[{self.pool_pid('cleanup')}]: {qid}: message-id={msgid}")
        size = min(52_428_800, 1500 + int(9000 / (1.0001 - self.rnd())))  # heavy tail
        out.append(
            f"postfix/qmgr[{self.qmgr}]: {qid}: from=<{sender}>, size={size}, "
            f"nrcpt={nrcpt} (queue active)"
        )

    # scripts ----------------------------------------------------------------------

    def smtpd_prologue(
        self, c: _Client, service: str, pid: int, out: list[str], postscreen: bool = True
    ) -> str:
        if postscreen:
            self.postscreen_pass(c, out)
        tag = f"{service}[{pid}]: "
        if c.ptr_warning:
            out.append(f"{tag}warning: {c.ptr_warning}")
        out.append(f"{tag}connect from {c.namaddr}")
        return tag

    def inbound(
        self, c: _Client, kind: SessionKind, warn: bool, tag: str, out: list[str]
    ) -> None:
        """A port-25 conversation from EHLO to QUIT, ending as ``kind`` says.

        ``warn``: the unknown-HELO check is in warn mode and this HELO fails it,
        so every RCPT first logs a ``reject_warning``.
        """
        rnd = self.rnd
        tls = rnd() < (0.3 if c.cls is ClientClass.BOT else 0.8)
        use_ehlo = not (c.cls is ClientClass.BOT and rnd() < 0.3)
        cmds: dict[str, tuple[int, int]] = (
            {"ehlo": (2, 2) if tls else (1, 1)} if use_ehlo else {"helo": (1, 1)}
        )
        if tls:
            cmds["starttls"] = (1, 1)
            out.append(f"{tag}Anonymous TLS connection established from {c.namaddr}"
                       f"{self.pick(_TLS_IN)}")
        if c.cls is ClientClass.BOT:
            sender = f"{self.word(7)}@{c.domain}"
        elif rnd() < 0.06:
            sender = ""  # a bounce
        elif c.cls is ClientClass.PROVIDER and rnd() < 0.5:
            sender = f"bounces+{self.bits(32):08x}@{c.domain}"
        else:
            sender = f"{self.pick(_FIRST)}@{c.domain}"
        cmds["mail"] = (1, 1)
        tail = f" proto={'ESMTP' if use_ehlo else 'SMTP'} helo=<{c.helo}>"
        noq = f"{tag}NOQUEUE: "

        def reject(text: str, rcpt: str, action: str = "reject") -> str:
            return (f"{noq}{action}: RCPT from {c.namaddr}: {text}; from=<{sender}> "
                    f"to=<{rcpt}>{tail}")

        warning = f"450 4.7.1 <{c.helo}>: Helo command rejected: Host not found"
        nrcpt = 1 if rnd() < 0.7 else 2 + int(rnd() * 3)

        if kind is SessionKind.LOST or kind is SessionKind.TIMEOUT:
            # A client that dropped or stalled in DATA, or stalled after MAIL.
            what = "lost connection" if kind is SessionKind.LOST else "timeout"
            if rnd() < 0.5:
                rcpt = self.recipient()
                if warn:
                    out.append(reject(warning, rcpt, "reject_warning"))
                out.append(f"{tag}{self.qid()}: client={c.namaddr}")
                cmds["rcpt"] = (1, 1)
                cmds["data"] = (0, 1)
                out.append(f"{tag}{what} after DATA ({int(rnd() * 50000)} bytes) "
                           f"from {c.namaddr}")
            else:
                out.append(f"{tag}{what} after MAIL from {c.namaddr}")
            out.append(f"{tag}disconnect from {c.namaddr} {self.counters(cmds)}")
            return

        if kind is SessionKind.ACCEPTED or kind is SessionKind.ACCEPTED_WARN:
            rcpts = [self.recipient() for _ in range(nrcpt)]
            if sender:
                result = "Pass" if c.cls is not ClientClass.BOT else self.pick(
                    ("None", "Softfail", "Neutral", "Pass"))
            else:
                result = "Pass" if rnd() < 0.7 else "None"
            qid = self.qid()
            for n, rcpt in enumerate(rcpts):
                if warn:
                    out.append(reject(warning, rcpt, "reject_warning"))
                if n == 0:
                    out.append(self.spf_line(c, sender, result, rcpt.rpartition("@")[2]))
                    out.append(f"{tag}{qid}: client={c.namaddr}")
            cmds["rcpt"] = (nrcpt, nrcpt)
            if nrcpt > 1 and rnd() < 0.2:  # one more recipient that does not exist
                bad = self.bogus_recipient()
                if warn:
                    out.append(reject(warning, bad, "reject_warning"))
                out.append(
                    f"{tag}{qid}: reject: RCPT from {c.namaddr}: 550 5.1.1 <{bad}>: Recipient "
                    f"address rejected: User unknown in virtual mailbox table; from=<{sender}> "
                    f"to=<{bad}>{tail}"
                )
                cmds["rcpt"] = (nrcpt, nrcpt + 1)
            cmds["data"] = (1, 1)
            cmds["quit"] = (1, 1)
            msgid = self.msgid(c.domain)
            self.queue_message(qid, sender, msgid, nrcpt, out)
            out.append(f"{tag}disconnect from {c.namaddr} {self.counters(cmds)}")
            if self.deliver_inbound(qid, msgid, rcpts, out):
                out.append(f"postfix/qmgr[{self.qmgr}]: {qid}: removed")
            return

        # Every recipient is refused; the reply depends on the restriction that fired.
        rcpts = [self.recipient() for _ in range(nrcpt)]
        rejects: list[str] = []
        if kind is SessionKind.HELO_NON_FQDN:
            text = f"504 5.5.2 <{c.helo}>: Helo command rejected: need fully-qualified hostname"
        elif kind is SessionKind.HELO_INVALID:
            reason = "invalid ip address" if c.helo.startswith("[") else "Invalid name"
            text = f"501 5.5.2 <{c.helo}>: Helo command rejected: {reason}"
        elif kind is SessionKind.HELO_UNKNOWN:
            reason = "Malformed DNS server reply" if rnd() < 0.03 else "Host not found"
            text = f"450 4.7.1 <{c.helo}>: Helo command rejected: {reason}"
        elif kind is SessionKind.RBL:
            bl = self.pick(_DNSBLS[:2])
            info = (f"https://www.spamhaus.org/query/ip/{c.ip}" if bl.startswith("zen")
                    else f"Blocked - see https://www.spamcop.net/bl.shtml?{c.ip}")
            text = f"554 5.7.1 Service unavailable; Client host [{c.ip}] blocked using {bl}; {info}"
        elif kind is SessionKind.CLIENT_REJECT:
            text = f"450 4.7.25 Client host rejected: cannot find your reverse hostname, [{c.ip}]"
        else:
            text = ""
        if text:  # client and HELO restrictions: before any warning or policy lookup
            rejects = [reject(text, r) for r in rcpts]
        elif kind is SessionKind.SENDER_REJECT:
            text = f"450 4.1.8 <{sender}>: Sender address rejected: Domain not found"
            for r in rcpts:
                if warn:
                    rejects.append(reject(warning, r, "reject_warning"))
                rejects.append(reject(text, r))
        elif kind is SessionKind.RELAY_DENIED:
            rcpts = [f"{self.pick(_FIRST)}@{_company_domain(int(rnd() * 5000))}" for _ in rcpts]
            for r in rcpts:
                if warn:
                    rejects.append(reject(warning, r, "reject_warning"))
                rejects.append(reject(f"554 5.7.1 <{r}>: Relay access denied", r))
        elif kind is SessionKind.USER_UNKNOWN:
            rcpts = [self.bogus_recipient() for _ in rcpts]
            for r in rcpts:
                if warn:
                    rejects.append(reject(warning, r, "reject_warning"))
                result = "Pass" if c.cls is not ClientClass.BOT else self.pick(
                    ("None", "Softfail", "Neutral"))
                rejects.append(self.spf_line(c, sender, result, r.rpartition("@")[2]))
                table = ("virtual mailbox table" if r.endswith("example.com")
                         else "virtual alias table")
                rejects.append(reject(
                    f"550 5.1.1 <{r}>: Recipient address rejected: User unknown in {table}", r))
        elif kind is SessionKind.SPF_REJECT:
            temp = rnd() < 0.1
            scope, ident = ("helo", c.helo) if rnd() < 0.15 else ("mfrom", sender)
            for r in rcpts:
                if warn:
                    rejects.append(reject(warning, r, "reject_warning"))
                rd = r.rpartition("@")[2]
                url = f"Please see http://www.openspf.net/Why?s={scope};id={ident};ip={c.ip};r={rd}"
                spf = f"policyd-spf[{self.pool_pid('policyd-spf')}]: : "
                if temp:
                    why = (f"Message deferred due to: SPF Temporary Error: DNS Timeout error on "
                           f"DNS 'TXT' lookup of '{c.domain}'. {url}")
                    rejects.append(f"{spf}defer_if_permit 4.7.24 {why}")
                    rejects.append(reject(f"450 4.7.24 <{r}>: Recipient address rejected: {why}",
                                          r))
                else:
                    why = f"Message rejected due to: SPF fail - not authorized. {url}"
                    rejects.append(f"{spf}550 5.7.23 {why}")
                    rejects.append(reject(f"550 5.7.23 <{r}>: Recipient address rejected: {why}",
                                          r))
        else:  # pragma: no cover - every kind that reaches here is handled above
            raise ValueError(kind)
        out.extend(rejects)
        cmds["rcpt"] = (0, len(rcpts))
        if c.cls is ClientClass.BOT and rnd() < 0.6:  # pipelining bots send DATA anyway
            cmds["data"] = (0, 1)
            cmds["rset"] = (1, 1)
        if rnd() < 0.9:
            cmds["quit"] = (1, 1)
        out.append(f"{tag}disconnect from {c.namaddr} {self.counters(cmds)}")

    def scanner(self, c: _Client, kind: SessionKind, tag: str, out: list[str]) -> None:
        """Connect-and-drop, timeout and password guessing sessions."""
        r = self.rnd()
        if kind is SessionKind.AUTH_FAILED:
            cmds = {"ehlo": (1, 1), "auth": (0, 1)}
            out.append(f"{tag}warning: {c.namaddr}: {self.pick(_SASL_FAIL)}")
            if r < 0.5:
                out.append(f"{tag}lost connection after AUTH from {c.namaddr}")
            else:
                cmds["rset"] = (1, 1)
                cmds["quit"] = (1, 1)
        elif kind is SessionKind.TIMEOUT:
            cmds = {}
            out.append(f"{tag}timeout after CONNECT from {c.namaddr}")
        else:
            if r < 0.6:
                cmds = {}
                out.append(f"{tag}lost connection after CONNECT from {c.namaddr}")
            elif r < 0.85:
                cmds = {"ehlo": (1, 1)}
                out.append(f"{tag}lost connection after EHLO from {c.namaddr}")
            else:
                cmds = {"ehlo": (1, 1), "starttls": (1, 1)}
                out.append(f"{tag}lost connection after STARTTLS from {c.namaddr}")
        out.append(f"{tag}disconnect from {c.namaddr} {self.counters(cmds)}")

    def submission(self, c: _Client, tag: str, out: list[str]) -> None:
        """An authenticated user sends one message out through the smtp client."""
        rnd = self.rnd
        out.append(f"{tag}Anonymous TLS connection established from {c.namaddr}{self.pick(_TLS_IN)}")
        qid = self.qid()
        out.append(f"{tag}{qid}: client={c.namaddr}, sasl_method=PLAIN, sasl_username={c.domain}")
        n = 1 if rnd() < 0.85 else 2
        rcpts = [f"{self.pick(_FIRST)}.{self.pick(_LAST)}@{_company_domain(int(rnd() * 3000))}"
                 for _ in range(n)]
        self.queue_message(qid, c.domain, self.msgid(c.domain.rpartition("@")[2]), n, out)
        cmds = {"ehlo": (2, 2), "starttls": (1, 1), "auth": (1, 1), "mail": (1, 1),
                "rcpt": (n, n), "data": (1, 1), "quit": (1, 1)}
        out.append(f"{tag}disconnect from {c.namaddr} {self.counters(cmds)}")
        done = True
        for rcpt in rcpts:
            domain = rcpt.rpartition("@")[2]
            mx = f"mx{1 + int(rnd() * 2)}.{domain}"
            mx_ip = self.pick(("192.0.2.", "198.51.100.", "203.0.113.")) + str(1 + int(rnd() * 254))
            pid = self.pool_pid("smtp")
            delays = self.pick(self.slow_delays)
            r = rnd()
            if r < 0.1:
                done = False
                out.append(
                    f"postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, relay=none, {delays}, dsn=4.4.1, "
                    f"status=deferred (connect to {mx}[{mx_ip}]:25: Connection timed out)"
                )
                continue
            if rnd() < 0.7:
                out.append(
                    f"postfix/smtp[{pid}]: Trusted TLS connection established to {mx}[{mx_ip}]:25"
                    f"{self.pick(_TLS_IN)}"
                )
            if r < 0.15:
                out.append(
                    f"postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, relay={mx}[{mx_ip}]:25, {delays}, "
                    f"dsn=5.1.1, status=bounced (host {mx}[{mx_ip}] said: 550 5.1.1 <{rcpt}>: "
                    "Recipient address rejected: User unknown in virtual mailbox table (in reply "
                    "to RCPT TO command))"
                )
                dsn = self.qid()
                out.append(f"postfix/bounce[{self.pool_pid('bounce')}]: {qid}: sender "
                           f"non-delivery notification: {dsn}")
                msgid = f"<{dsn}.{1700000000 + int(rnd() * 1e8)}/{MYHOSTNAME}>"
                self.queue_message(dsn, "", msgid, 1, out)
                if self.deliver_inbound(dsn, msgid, [c.domain], out):
                    out.append(f"postfix/qmgr[{self.qmgr}]: {dsn}: removed")
            else:
                out.append(
                    f"postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, relay={mx}[{mx_ip}]:25, {delays}, "
                    f"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {self.qid()})"
                )
        if done:
            out.append(f"postfix/qmgr[{self.qmgr}]: {qid}: removed")

    def pickup(self, out: list[str]) -> None:
        """Cron mail to root, delivered locally."""
        qid = self.qid()
        out.append(f"postfix/pickup[{self.pool_pid('pickup')}]: {qid}: uid=0 from=<root>")
        out.append(f"postfix/cleanup[{self.pool_pid('cleanup')}]: {qid}: message-id="
                   f"<{self.bits(40):010X}.{qid}@{MYHOSTNAME}>")
        out.append(f"postfix/qmgr[{self.qmgr}]: {qid}: from=<root@{MYHOSTNAME}>, "
                   f"size={600 + int(self.rnd() * 3000)}, nrcpt=1 (queue active)")
        out.append(
            f"postfix/local[{self.pool_pid('local')}]: {qid}: to=<root@{MYHOSTNAME}>, "
            f"orig_to=<root>, relay=local, {self.pick(self.fast_delays)}, dsn=2.0.0, "
            "status=sent (delivered to mailbox)"
        )
        out.append(f"postfix/qmgr[{self.qmgr}]: {qid}: removed")

    def postscreen_reject(self, c: _Client, kind: SessionKind, out: list[str]) -> None:
        """A bot stopped by postscreen: it never reaches smtpd."""
        port = 1024 + int(self.rnd() * 64000)
        ps = f"postfix/postscreen[{self.postscreen}]: "
        out.append(f"{ps}CONNECT from [{c.ip}]:{port} to [{SERVER_IP}]:25")
        if kind is SessionKind.POSTSCREEN_DNSBL:
            lists = [bl for bl in _DNSBLS if self.rnd() < 0.5] or [_DNSBLS[0]]
            out.extend(
                f"postfix/dnsblog[{self.pool_pid('dnsblog')}]: addr {c.ip} listed by domain {bl} "
                f"as 127.0.0.{self.pick(('2', '3', '4', '10', '11'))}"
                for bl in lists
            )
            out.append(f"{ps}DNSBL rank {len(lists) + 2} for [{c.ip}]:{port}")
            if self.rnd() < 0.7:
                out.append(
                    f"{ps}NOQUEUE: reject: RCPT from [{c.ip}]:{port}: 550 5.7.1 Service "
                    f"unavailable; client [{c.ip}] blocked using {lists[0]}; "
                    f"from=<{self.word(7)}@{c.domain}>, to=<{self.recipient()}>, proto=ESMTP, "
                    f"helo=<{c.helo}>"
                )
            else:
                out.append(f"{ps}HANGUP after {self.rnd() * 5:.2g} from [{c.ip}]:{port} in "
                           "tests after SMTP handshake")
        else:
            if self.rnd() < 0.6:
                text = self.pick((f"EHLO {c.helo}\\r\\n", f"HELO {c.helo}\\r\\n", "\\r\\n",
                                  "QUIT\\r\\n"))
                out.append(f"{ps}PREGREET {len(text) - 2 * text.count(chr(92))} after "
                           f"{self.rnd() * 2:.2g} from [{c.ip}]:{port}: {text}")
            else:
                out.append(f"{ps}HANGUP after {self.rnd() * 3:.2g} from [{c.ip}]:{port} in "
                           "tests before SMTP handshake")
        out.append(f"{ps}DISCONNECT [{c.ip}]:{port}")

    def reload(self) -> list[str]:
        """``postfix reload`` at noon: the unknown-HELO check leaves warn mode."""
        self.warn_unknown = False
        self.postscreen = self.new_pid()
        return [
            f"postfix/postfix-script[{self.new_pid()}]: refreshing the Postfix mail system",
            f"postfix/master[{self.master}]: reload -- "
            "version 3.7.11, configuration /etc/postfix",
        ]


# --- what happens next ---------------------------------------------------------------

# (weight, client class, {kind: weight}) -- the unit mix before renormalising.
_MIX: tuple[tuple[float, ClientClass | None, dict[SessionKind, float]], ...] = (
    (38.0, ClientClass.PROVIDER, {SessionKind.ACCEPTED: 93, SessionKind.USER_UNKNOWN: 5,
                                  SessionKind.LOST: 1.5, SessionKind.TIMEOUT: 0.5}),
    (9.0, ClientClass.BUSINESS, {SessionKind.ACCEPTED: 92, SessionKind.USER_UNKNOWN: 4,
                                 SessionKind.RELAY_DENIED: 1, SessionKind.SPF_REJECT: 1,
                                 SessionKind.LOST: 2}),
    (4.0, ClientClass.BROKEN, {}),  # decided by the client's HELO and the time of day
    (30.0, ClientClass.BOT, {
        SessionKind.POSTSCREEN_DNSBL: 28, SessionKind.POSTSCREEN_PREGREET: 8,
        SessionKind.RBL: 7, SessionKind.HELO_NON_FQDN: 12, SessionKind.HELO_INVALID: 4,
        SessionKind.HELO_UNKNOWN: 9, SessionKind.USER_UNKNOWN: 12, SessionKind.SPF_REJECT: 6,
        SessionKind.RELAY_DENIED: 4, SessionKind.CLIENT_REJECT: 4,
        SessionKind.SENDER_REJECT: 2, SessionKind.ACCEPTED: 3, SessionKind.LOST: 1,
    }),
    (11.0, ClientClass.SCANNER, {SessionKind.LOST: 60, SessionKind.TIMEOUT: 15,
                                 SessionKind.AUTH_FAILED: 25}),
    (6.0, ClientClass.USER, {SessionKind.SUBMISSION: 1}),
    (2.0, None, {SessionKind.PICKUP: 1}),
)

_BOTNET_FACTOR = 10.0
"""How much more of the traffic bots send on a :attr:`TrafficMix.BOTNET` day."""


_BEFORE_HELO_CHECKS = frozenset({
    SessionKind.RBL, SessionKind.CLIENT_REJECT, SessionKind.LOST, SessionKind.TIMEOUT,
    SessionKind.AUTH_FAILED, SessionKind.POSTSCREEN_DNSBL, SessionKind.POSTSCREEN_PREGREET,
    SessionKind.SUBMISSION, SessionKind.PICKUP,
})
"""Outcomes decided before the HELO restrictions run (or without them)."""


@dataclass(slots=True)
class _Unit:
    """One scripted unit of traffic."""

    kind: SessionKind
    lines: list[str]
    smtpd: bool = False
    """True when it is one smtpd session."""
    sender: tuple[str, str] | None = None
    """(client address, HELO) when the session logs its HELO."""
    helo_check: str = ""
    """The HELO check the session's rejects or warnings name, if any."""
    truncated: bool = False
    """Cut short by the end of the log."""


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    acc = 0.0
    out = []
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


class _Generator:
    """Runs the world: picks what happens next and interleaves the sessions' lines."""

    def __init__(self, options: GeneratorOptions) -> None:
        self.options = options
        self.world = _World(options.seed, options.mix)
        self.stats = GeneratorStats()
        self.senders: set[tuple[str, str]] = set()
        bots = _BOTNET_FACTOR if options.mix is TrafficMix.BOTNET else 1.0
        self.mix_cum = _cumulative([m[0] * (bots if m[1] is ClientClass.BOT else 1.0)
                                    for m in _MIX])
        self.kind_cum = [
            (list(kinds), _cumulative(list(kinds.values()))) if kinds else ([], [])
            for _, _, kinds in _MIX
        ]

    def _choose(self, cum: list[float]) -> int:
        return min(bisect_right(cum, self.world.rnd()), len(cum) - 1)

    def new_unit(self, slot: list[object]) -> _Unit:
        """Script the next unit of traffic; an smtpd session runs in ``slot``'s process."""
        w = self.world
        i = self._choose(self.mix_cum)
        _, cls, _ = _MIX[i]
        out: list[str] = []
        if cls is None:
            w.pickup(out)
            return _Unit(SessionKind.PICKUP, out)
        c = w.client(cls)
        if cls is ClientClass.BROKEN:
            drawn = SessionKind.ACCEPTED  # it is sending real mail
        else:
            kinds, cum = self.kind_cum[i]
            drawn = kinds[self._choose(cum)]
        kind, warn = self._outcome(c, drawn)
        if kind in (SessionKind.POSTSCREEN_DNSBL, SessionKind.POSTSCREEN_PREGREET):
            w.postscreen_reject(c, kind, out)
            return _Unit(kind, out)
        submission = cls is ClientClass.USER or (
            kind is SessionKind.AUTH_FAILED and w.rnd() < 0.7
        )
        service = "postfix/submission/smtpd" if submission else "postfix/smtpd"
        pid = self._slot_pid(slot, service)
        tag = w.smtpd_prologue(c, service, pid, out, postscreen=not submission)
        if cls is ClientClass.USER:
            w.submission(c, tag, out)
            return _Unit(SessionKind.SUBMISSION, out, smtpd=True)
        if cls is ClientClass.SCANNER:
            w.scanner(c, kind, tag, out)
            return _Unit(kind, out, smtpd=True)
        w.inbound(c, kind, warn, tag, out)
        check = HELO_KINDS.get(kind, "unknown" if warn else "")
        logs_helo = True
        if kind in (SessionKind.LOST, SessionKind.TIMEOUT):
            # No reject or policy line; only a warned RCPT before a dropped DATA shows the HELO.
            logs_helo = warn and any("client=" in line for line in out)
            check = "unknown" if logs_helo else ""
        return _Unit(kind, out, smtpd=True, sender=(c.ip, c.helo) if logs_helo else None,
                     helo_check=check)

    def _outcome(self, c: _Client, drawn: SessionKind) -> tuple[SessionKind, bool]:
        """What really happens, given Postfix's restriction order (client, HELO, sender,
        recipient) and the client's HELO; and whether the HELO draws a warning."""
        if drawn is SessionKind.CLIENT_REJECT and c.name != "unknown":
            drawn = SessionKind.RBL  # reverse-hostname rejects need a client without PTR
        if drawn in _BEFORE_HELO_CHECKS:
            return drawn, False
        if drawn in HELO_KINDS:
            drawn = SessionKind.USER_UNKNOWN  # what a bot with a passing HELO runs into
        if c.check == "invalid":
            return SessionKind.HELO_INVALID, False
        if c.check == "non_fqdn":
            return SessionKind.HELO_NON_FQDN, False
        if c.check == "unknown":
            if not self.world.warn_unknown:
                return SessionKind.HELO_UNKNOWN, False
            if drawn is SessionKind.ACCEPTED:
                return SessionKind.ACCEPTED_WARN, True
            return drawn, True
        return drawn, False

    def _slot_pid(self, slot: list[object], service: str) -> int:
        pid, uses, current = slot
        assert isinstance(pid, int) and isinstance(uses, int)
        # smtpd exits after max_use (100) clients or when idle; a new pid takes the slot.
        if current != service or uses >= 100 or self.world.rnd() < 0.03:
            pid = self.world.new_pid()
            uses = 0
        slot[:] = [pid, uses + 1, service]
        return pid

    def run(self, write: Callable[[str], object]) -> GeneratorStats:
        """Generate ``options.lines`` lines through ``write`` (called with big chunks).

        Units of traffic run in slots (smtpd processes), as many as the hour's
        traffic needs for a unit to last about :data:`SESSION_SECONDS`; each
        output line is the next line of a random slot.  ``budget`` is the number of lines not
        yet promised to a unit: the unit that would overrun it is cut to fit, so
        the log has exactly ``options.lines`` lines and at most one cut unit.
        """
        opts = self.options
        w = self.world
        rnd = w.rnd
        total = opts.lines
        host = opts.host
        stats = self.stats
        kinds = stats.sessions
        helo_checks = stats.helo_checks
        senders = self.senders

        # Lines per hour follow _HOURLY; the clock advances by a jittered step.
        weights = [h / sum(_HOURLY) for h in _HOURLY]
        hour_end_line = [0] * 24
        acc = 0.0
        for h in range(24):
            acc += weights[h] * total
            hour_end_line[h] = int(acc)
        hour = 0
        mean_step = 3600e6 / max(1.0, weights[0] * total)

        def concurrency(step_us: float) -> int:
            per_unit = 9.0  # lines, on average
            return max(1, min(MAX_CONCURRENCY, round(SESSION_SECONDS * 1e6 / step_us / per_unit)))

        target = concurrency(mean_step)
        clock = 0.0
        start = opts.start
        start_offset = start.hour * 3600 + start.minute * 60 + start.second
        traditional = opts.fmt is LogFormat.TRADITIONAL
        last_sec = -1
        prefix = ""
        day_prefix = ""
        last_day = -1
        w.spf_tail = "" if traditional else " "

        next_timed = 300e6
        reload_at = 12 * 3600e6
        cleanup_at = 6 * 3600e6

        active: list[list[str]] = []
        """Lines still to write of each unit in flight, reversed."""
        units: list[_Unit] = []
        slots: list[list[object]] = []
        """The smtpd process of each slot: [pid, clients served, service]."""
        budget = total
        written = 0
        ramp = 0
        buf: list[str] = []
        nbytes = 0

        def begin(slot: list[object]) -> tuple[list[str], _Unit]:
            nonlocal budget
            unit = self.new_unit(slot)
            lines = unit.lines
            if len(lines) >= budget:
                if len(lines) > budget:
                    del lines[budget:]
                    unit.truncated = True
                    stats.truncated += 1
                budget = 0
            else:
                budget -= len(lines)
            return lines[::-1], unit

        while written < total:
            if budget and len(active) < target and written >= ramp:
                # Ramp up gradually (no burst of CONNECTs), then keep every slot busy.
                ramp = written + 2
                slot: list[object] = [w.new_pid(), 0, "postfix/smtpd"]
                lines, unit = begin(slot)
                slots.append(slot)
                active.append(lines)
                units.append(unit)

            # Timestamp of this line.
            clock += mean_step * (0.5 + rnd())
            if written >= hour_end_line[hour] and hour < 23:
                hour += 1
                clock = max(clock, hour * 3600e6)
                mean_step = 3600e6 / max(1.0, weights[hour] * total)
                target = concurrency(mean_step)
            usec = int(clock)
            sec = usec // 1_000_000
            if sec != last_sec:
                last_sec = sec
                day, rem = divmod(sec + start_offset, 86400)
                if day != last_day:
                    last_day = day
                    d = start.date() + timedelta(days=day)
                    day_prefix = (f"{_MONTHS[d.month - 1]} {d.day:2d}" if traditional
                                  else f"{d.year:04d}-{d.month:02d}-{d.day:02d}")
                hh, rem = divmod(rem, 3600)
                mm, ss = divmod(rem, 60)
                if traditional:
                    prefix = f"{day_prefix} {hh:02d}:{mm:02d}:{ss:02d} {host} "
                else:
                    prefix = f"{day_prefix}T{hh:02d}:{mm:02d}:{ss:02d}."
            head = prefix if traditional else f"{prefix}{usec % 1_000_000:06d}+00:00 {host} "

            if clock >= next_timed:
                # Periodic daemon lines (anvil, scache, the noon reload).
                extra = self._timed(clock, reload_at, cleanup_at)[:budget]
                budget -= len(extra)
                next_timed += 600e6
                if clock >= reload_at:
                    reload_at = math.inf
                if clock >= cleanup_at:
                    cleanup_at += 12 * 3600e6
                buf.extend(f"{head}{body}\n" for body in extra)
                written += len(extra)
                if written >= total:
                    break

            # The next line of a random unit in flight.
            if not active:  # pragma: no cover - only if the budget ran out in timed lines
                break
            i = int(rnd() * len(active))
            lines = active[i]
            buf.append(f"{head}{lines.pop()}\n")
            written += 1
            if not lines:
                unit = units[i]
                if not unit.truncated:
                    kinds[unit.kind] += 1
                    if unit.sender is not None:
                        senders.add(unit.sender)
                    if unit.helo_check:
                        helo_checks[unit.helo_check] += 1
                if budget and len(active) <= target:
                    active[i], units[i] = begin(slots[i])
                else:  # quieter hour, or the end is near: the process exits
                    active[i], units[i], slots[i] = active[-1], units[-1], slots[-1]
                    del active[-1], units[-1], slots[-1]
            if len(buf) >= 8192:
                chunk = "".join(buf)
                nbytes += len(chunk)
                write(chunk)
                buf.clear()

        chunk = "".join(buf)
        nbytes += len(chunk)
        write(chunk)
        stats.lines = written
        stats.bytes = nbytes
        stats.senders = len(senders)
        stats.helos = len({helo for _, helo in senders})
        for cls, pop in w.pops.items():
            if pop.members:
                stats.clients[cls.value] = len(pop.members)
        return stats

    def _timed(self, clock: float, reload_at: float, cleanup_at: float) -> list[str]:
        """Periodic daemon lines: anvil and scache statistics, reload, postscreen cache."""
        w = self.world
        rnd = w.rnd
        when = self.options.start + timedelta(microseconds=clock - 600e6 * rnd())
        at = f"{_MONTHS[when.month - 1]} {when.day} {when:%H:%M:%S}"
        peer = w.pick(("198.18.0.5", "198.18.7.9", "198.19.1.77", "198.18.200.3"))
        lines = [
            f"postfix/anvil[{w.anvil}]: statistics: max connection rate "
            f"{2 + int(rnd() * 30)}/60s for (smtp:{peer}) at {at}",
            f"postfix/anvil[{w.anvil}]: statistics: max connection count "
            f"{1 + int(rnd() * 6)} for (smtp:{peer}) at {at}",
            f"postfix/anvil[{w.anvil}]: statistics: max cache size {20 + int(rnd() * 400)} at {at}",
        ]
        scache = f"postfix/scache[{w.pool_pid('smtp') + 3}]: statistics: "
        hits, miss = int(rnd() * 20), 1 + int(rnd() * 30)
        lines += [
            f"{scache}start interval {at}",
            f"{scache}domain lookup hits={hits} miss={miss} success={100 * hits // (hits + miss)}%",
            f"{scache}address lookup hits={hits // 2} miss={miss} "
            f"success={100 * (hits // 2) // (hits // 2 + miss)}%",
            f"{scache}max simultaneous domains=1 addresses=1 connection=1",
        ]
        if clock >= reload_at:
            lines += w.reload()
        if clock >= cleanup_at:
            retained, dropped = int(rnd() * 5000), int(rnd() * 800)
            lines.append(f"postfix/postscreen[{w.postscreen}]: cache btree:/var/lib/postfix/"
                         f"postscreen_cache full cleanup: retained={retained} dropped={dropped} "
                         "entries")
        return lines


# --- public API -----------------------------------------------------------------------


def generate(options: GeneratorOptions, out: TextIO) -> GeneratorStats:
    """Write the log described by ``options`` to a text stream; return what was written."""
    began = time.perf_counter()
    stats = _Generator(options).run(out.write)
    stats.seconds = time.perf_counter() - began
    return stats


def generate_lines(options: GeneratorOptions) -> tuple[list[str], GeneratorStats]:
    """The log as a list of lines without newlines (for small logs in tests)."""
    buffer = io.StringIO()
    stats = generate(options, buffer)
    return buffer.getvalue().splitlines(), stats


def write_log(
    options: GeneratorOptions, path: Path | None, compress: bool = False, level: int = 6
) -> GeneratorStats:
    """Write the log to ``path`` (stdout when None), gzip-compressed if asked."""
    if path is None:
        if compress:
            with gzip.GzipFile(fileobj=sys.stdout.buffer, mode="wb", compresslevel=level) as gz:
                with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text:
                    return generate(options, text)
        return generate(options, sys.stdout)
    tmp = path.with_name(path.name + ".part")
    if compress:
        with gzip.open(tmp, "wt", encoding="utf-8", newline="\n", compresslevel=level) as fh:
            stats = generate(options, fh)
    else:
        with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            stats = generate(options, fh)
    tmp.replace(path)
    return stats


def _size(text: str) -> int:
    """``1000000``, ``1M``, ``500k`` -> int."""
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a log and print its statistics to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", "-n", type=_size, default=_size("100k"),
                        help="number of lines (accepts 1M, 500k; default 100k)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="fmt", type=LogFormat, choices=list(LogFormat),
                        default=LogFormat.TRADITIONAL)
    parser.add_argument("--start", type=datetime.fromisoformat, default=datetime(2026, 11, 24),
                        help="local time of the first line (default 2026-11-24T00:00)")
    parser.add_argument("--host", default=HOST, help=f"syslog host field (default {HOST})")
    parser.add_argument("--mix", type=TrafficMix, choices=list(TrafficMix),
                        default=TrafficMix.DEFAULT,
                        help="traffic: default, or botnet (ten times the distinct clients)")
    parser.add_argument("--output", "-o", type=Path, default=None,
                        help="output file (default: standard output)")
    parser.add_argument("--gzip", action="store_true", help="gzip the output")
    parser.add_argument("--gzip-level", type=int, default=6)
    parser.add_argument("--stats", action="store_true", help="print statistics as JSON to stderr")
    args = parser.parse_args(argv)
    options = GeneratorOptions(args.lines, args.seed, args.fmt, args.start, args.host,
                               args.mix)
    stats = write_log(options, args.output, args.gzip, args.gzip_level)
    if args.stats or args.output is not None:
        import json

        print(json.dumps(stats.as_dict(), indent=None if not args.stats else 2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
