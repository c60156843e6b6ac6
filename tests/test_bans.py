"""Ban-tool cross-check: fail2ban's own tools and code are the oracle.

Needs Debian's ``fail2ban`` package (``make test`` installs it when run as
root): ``fail2ban-regex`` and ``fail2ban-client`` for the matching and the
configuration, and its Python package (under Debian's ``/usr/bin/python3``) to
count failures with fail2ban's real FailManager.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loganalyze.errors import ConfigError
from loganalyze.judge.bans import (
    CROWDSEC_HELO,
    DEBIAN_POSTFIX_JAIL,
    Fail2banJail,
    crowdsec_counts,
    fail2ban_first_ban,
    fail2ban_matches,
    first_overflow,
    load_fail2ban_jail,
)
from loganalyze.parse import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
LOGS = [ROOT / "fixtures" / "mail.log", *sorted((ROOT / "fixtures" / "lab" / "recorded").glob("*/*.log"))]
DEBIAN_PYTHON = "/usr/bin/python3"
NOW = datetime(2026, 12, 2, 12, 0, 0)


def _fail2ban_regex_summary(path: Path, spec: str) -> int:
    """The "N matched" of fail2ban-regex's own summary."""
    out = subprocess.run(["fail2ban-regex", "-r", str(path), spec], capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "TZ": "UTC"}).stdout
    match = re.search(r"^Lines: \d+ lines, \d+ ignored, (\d+) matched", out, re.M)
    assert match, out
    return int(match.group(1))


def test_fail2ban_is_installed() -> None:
    # Not a skip: without fail2ban these tests cannot say anything, and that must be red.
    assert shutil.which("fail2ban-regex"), "install Debian's fail2ban (make test does as root)"
    assert shutil.which("fail2ban-client")


@pytest.mark.parametrize("path", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_matches_are_fail2ban_regex_matches_on_reject_lines(path: Path) -> None:
    found = fail2ban_matches([str(path)], DEBIAN_POSTFIX_JAIL)
    assert sum(len(t) for t in found.values()) == _fail2ban_regex_summary(path, "postfix[mode=more]")
    # Every match is a line about that client at that second (a reject, or "improper
    # command pipelining"), as our parser dates it; the recordings are stamped in UTC,
    # so wall time as written is fail2ban's UTC.
    tokenizer = Tokenizer(year=2026, now=NOW)
    lines = path.read_text().splitlines()
    for ip, times in found.items():
        ours = {when.replace(microsecond=0) for line in lines if f"[{ip}]" in line
                if (when := tokenizer.line_time(line)) is not None}
        missing = {t.replace(microsecond=0) for t in times} - ours
        assert not missing, (ip, sorted(missing)[:3])


# Timelines of one client's matched lines (seconds after the first), and the jail.
_TIMELINES = [
    ([0, 10, 20, 30, 40], 5, 600),  # five in 40 s: banned on the fifth
    ([0, 10, 20, 30], 5, 600),  # four: not banned
    ([0, 300, 600, 900, 1200, 1500], 5, 600),  # every 5 min: the window keeps sliding
    ([0, 700, 1400, 2100, 2800, 3500], 5, 600),  # every 11 min: each finds the ticket gone
    ([0, 1, 2, 3000, 3001, 3002, 3003], 5, 600),
    ([0, 100, 200, 900, 1000, 1100, 1200], 3, 1000),
]


def _real_failmanager(jobs: list[tuple[list[float], int, float]]) -> list[int]:
    """Index of the banning failure by fail2ban's own FailManager (-1: none), per job.

    Driven as the filter drives it (``Filter.processLineAndAdd``), with its
    periodic cleanup before each line. One interpreter for all jobs.
    """
    driver = (
        "import json, sys\n"
        "from fail2ban.server.failmanager import FailManager\n"
        "from fail2ban.server.ticket import FailTicket\n"
        "for times, maxretry, findtime in json.load(sys.stdin):\n"
        "    fm = FailManager(); fm.setMaxRetry(maxretry); fm.setMaxTime(findtime)\n"
        "    for i, t in enumerate(times):\n"
        "        fm.cleanup(t)\n"
        "        if fm.addFailure(FailTicket('192.0.2.1', t)) >= maxretry:\n"
        "            fm.toBan('192.0.2.1'); print(i); break\n"
        "    else:\n"
        "        print(-1)\n"
    )
    done = subprocess.run([DEBIAN_PYTHON, "-c", driver], input=json.dumps(jobs),
                          capture_output=True, text=True, check=True)
    return [int(line) for line in done.stdout.split()]


def _ours(offsets: list[float], maxretry: int, findtime: float) -> int:
    start = datetime(2026, 11, 24, 23, 0, 0)
    jail = Fail2banJail("postfix", "more", maxretry, findtime, 600.0)
    times = [start + timedelta(seconds=s) for s in offsets]
    ban = fail2ban_first_ban(times, jail)
    return -1 if ban is None else times.index(ban.at) if ban.matches else -1


def test_jail_counting_is_fail2bans() -> None:
    rng = random.Random(20261202)
    timelines: list[tuple[list[float], int, float]] = [
        ([float(s) for s in offsets], maxretry, float(findtime))
        for offsets, maxretry, findtime in _TIMELINES]
    for _ in range(200):
        gaps = [rng.choice([1, 30, 90, 200, 400, 599, 601, 900, 3000]) for _ in range(12)]
        timelines.append(([float(sum(gaps[:i])) for i in range(len(gaps))],
                          rng.choice([2, 3, 5]), rng.choice([300.0, 600.0, 3600.0])))
    start = datetime(2026, 11, 24, 23, 0, 0).timestamp()
    expected = _real_failmanager([([start + s for s in offsets], maxretry, findtime)
                                  for offsets, maxretry, findtime in timelines])
    ours = [_ours(*timeline) for timeline in timelines]
    assert ours == expected
    assert {-1} < set(expected)  # the table has both outcomes


def test_ban_describes_tool_count_and_time() -> None:
    start = datetime(2026, 11, 24, 23, 24, 10, 123456)
    ban = fail2ban_first_ban([start] * 5, DEBIAN_POSTFIX_JAIL)
    assert ban is not None
    assert ban.describe() == "fail2ban postfix[mode=more] after 5 matches at 2026-11-24T23:24:10"


def _fail2ban_config(tmp_path: Path, jail_local: str | None) -> Path:
    config = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", config)
    if jail_local is not None:
        (config / "jail.d" / "postfix.local").write_text(jail_local)
    return config


def test_admin_configuration_is_read_by_fail2ban(tmp_path: Path) -> None:
    config = _fail2ban_config(tmp_path, "[postfix]\nenabled = true\nmode = normal\nmaxretry = 3\n"
                              "findtime = 1h\nbantime = 2h\nignoreip = 127.0.0.1/8 192.0.2.0/24\n")
    jail = load_fail2ban_jail(config)
    assert (jail.enabled, jail.mode, jail.maxretry, jail.findtime, jail.bantime) == (
        True, "normal", 3, 3600.0, 7200.0)
    assert jail.tool == "fail2ban postfix[mode=normal]"
    assert jail.ignores("192.0.2.150") and not jail.ignores("198.51.100.24")
    assert jail.failregex  # fail2ban's own expansion of the filter


def test_jail_not_enabled_bans_nobody(tmp_path: Path) -> None:
    jail = load_fail2ban_jail(_fail2ban_config(tmp_path, None))  # Debian enables only sshd
    assert not jail.enabled
    assert fail2ban_first_ban([NOW] * 10, jail) is None


def test_not_a_fail2ban_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no jail.conf"):
        load_fail2ban_jail(tmp_path)


@pytest.mark.parametrize("path", LOGS[::3], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_admins_filter_matches_what_fail2ban_regex_matches(tmp_path: Path, path: Path) -> None:
    # The jail's regexes as fail2ban-client dumps them, run by fail2ban-regex from our
    # filter file, match what Debian's filter matches.
    jail = load_fail2ban_jail(_fail2ban_config(tmp_path, "[postfix]\nenabled = true\n"))
    found = fail2ban_matches([str(path)], jail)
    assert sum(len(t) for t in found.values()) == _fail2ban_regex_summary(
        path, "postfix[mode=more]")


# CrowdSec: real reject lines of the lab recordings, and what the hub's parser and
# scenario make of them.
_REJECT_LINES = [
    ("postfix/smtpd", "<mail.slow-dns.example>: Helo command rejected: Host not found", False, True),
    ("postfix/smtpd", "<exch01>: Helo command rejected: need fully-qualified hostname", False, True),
    ("postfix/smtpd", "<mail..example>: Helo command rejected: Invalid name", False, True),
    ("postfix/smtpd", "<mail.slow-dns.example>: Helo command rejected: Host not found", True, False),
    ("postfix/submission/smtpd", "<x>: Helo command rejected: Host not found", False, True),
    ("postfix/smtpd", "<bob@example.net>: Recipient address rejected: User unknown", False, False),
    ("postfix/smtpd", "Client host rejected: cannot find your hostname", False, False),
    ("postfix/postscreen", "Helo command rejected: Host not found", False, False),
]


@pytest.mark.parametrize(("service", "reason", "warning", "counted"), _REJECT_LINES)
def test_crowdsec_counts_helo_rejects(service: str, reason: str, warning: bool,
                                      counted: bool) -> None:
    assert crowdsec_counts(reason, warning, service) is counted


@pytest.mark.parametrize(("offsets", "banned_at"), [
    ([0], None),  # one reject fills the bucket: no overflow
    ([0, 599], 1),  # a second within 10 minutes overflows it
    ([0, 600], None),  # a second after 10 minutes finds it drained
    ([0, 0, 0], 1),  # one session, two recipients: two reject lines at once
    ([0, 700, 1400, 1900], 3),
])
def test_crowdsec_bucket(offsets: list[int], banned_at: int | None) -> None:
    start = datetime(2026, 11, 24, 23, 0, 0)
    times = [start + timedelta(seconds=s) for s in offsets]
    ban = first_overflow(times, CROWDSEC_HELO)
    if banned_at is None:
        assert ban is None
    else:
        assert ban is not None and ban.at == times[banned_at] and ban.matches == banned_at + 1
        assert ban.describe().startswith("crowdsec crowdsecurity/postfix-helo-rejected after ")
