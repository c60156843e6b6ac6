"""Ban-tool cross-check: fail2ban's own tools and code are the oracle.

Needs Debian's ``fail2ban`` package (``make test`` installs it when run as
root): ``fail2ban-regex`` and ``fail2ban-client`` for the matching and the
configuration, and its Python package (under Debian's ``/usr/bin/python3``) to
count failures with fail2ban's real FailManager.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loganalyze.compat import UTC
from loganalyze.errors import ConfigError
from loganalyze.judge.bans import (
    CROWDSEC_HELO,
    DEBIAN_POSTFIX_JAIL,
    BanCheck,
    Fail2banJail,
    crowdsec_counts,
    fail2ban_first_ban,
    fail2ban_matches,
    first_overflow,
    load_fail2ban_jail,
    safe_address,
)
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.output import finding_record
from loganalyze.output.bans import banned_legitimate, crowdsec_whitelist, ignoreip_snippet
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import load_identity

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


# -- the claims of analyze --bans, against fail2ban-regex and fail2ban's FailManager -----

def _analysis(paths: list[Path], check: BanCheck, jobs: int = 1) -> Analysis:
    options = AnalyzeOptions(resolver=NoDnsResolver(), server=load_identity(ROOT / "fixtures" / "postfix"),
                             year=2026, jobs=jobs, bans=check)
    return analyze_logs([str(p) for p in paths], options)


def _fail2ban_regex_rows(path: Path) -> dict[str, list[float]]:
    """Each address's matched times, read straight from ``fail2ban-regex -o row``."""
    out = subprocess.run(["fail2ban-regex", "-r", "-o", "row", "--timezone", "UTC", str(path),
                          "postfix[mode=more]"], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TZ": "UTC"}).stdout
    rows: dict[str, list[float]] = {}
    for line in out.splitlines():
        if line.startswith("['"):
            ip, when = line.split("\t")[:2]
            rows.setdefault(ip.strip("[',"), []).append(float(when.rstrip(",")))
    return rows


def _failmanager_bans(rows: dict[str, list[float]], maxretry: int, findtime: float) -> dict[str, str]:
    """The claim fail2ban's own FailManager makes for each address of ``rows``."""
    ips = sorted(rows)
    found = _real_failmanager([(sorted(rows[ip]), maxretry, findtime) for ip in ips])
    claims = {}
    for ip, index in zip(ips, found, strict=True):
        if index >= 0:
            at = datetime.fromtimestamp(sorted(rows[ip])[index], UTC).replace(tzinfo=None)
            claims[ip] = f"fail2ban postfix[mode=more] after {index + 1} matches at {at.isoformat()}"
    return claims


@pytest.mark.parametrize("path", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fail2ban_claims_are_what_fail2ban_regex_and_failmanager_say(path: Path) -> None:
    analysis = _analysis([path], BanCheck())
    expected = _failmanager_bans(_fail2ban_regex_rows(path), 5, 600.0)
    for finding in analysis.findings:
        assert finding.would_be_banned_by is not None
        ours = [c for c in finding.would_be_banned_by if c.startswith("fail2ban ")]
        assert ours == ([expected[finding.client_ip]] if finding.client_ip in expected else []), \
            finding.client_ip


def test_some_recordings_have_fail2ban_bans() -> None:
    # The claims above are not all "nobody": the spam recording has a ban, mail.log three.
    banned = {p.parent.name: {ip for f in _analysis([p], BanCheck()).findings
                              for c in f.would_be_banned_by or () if c.startswith("fail2ban")
                              for ip in [f.client_ip]}
              for p in (LOGS[0], ROOT / "fixtures/lab/recorded/spam-bad-helo/mail.log")}
    assert banned == {"fixtures": {"3.88.142.17", "193.56.29.191", "117.50.7.19"},
                      "spam-bad-helo": {"198.51.100.21"}}


def _crowdsec_lines(path: Path) -> dict[str, list[datetime]]:
    """smtpd's ``NOQUEUE: reject:`` lines with a "Helo command rejected" reason, per address,
    picked from the raw lines as CrowdSec's postfix parser picks them."""
    tokenizer = Tokenizer(year=2026, now=NOW)
    found: dict[str, list[datetime]] = {}
    for line in path.read_text().splitlines():
        match = re.search(r" postfix(?:-\w+)?/(?:\w+/)?smtpd\[\d+\]: NOQUEUE: reject: \w+ from "
                          r"[^\[]*\[([^\]]+)\](?::\d+)?: \d{3} [\d.]+ (?:<[^>]*>: )?Helo command rejected", line)
        if match:
            when = tokenizer.line_time(line)
            assert when is not None
            found.setdefault(match.group(1), []).append(when)
    return found


@pytest.mark.parametrize("path", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_crowdsec_claims_follow_the_helo_reject_lines(path: Path) -> None:
    lines = _crowdsec_lines(path)
    for finding in _analysis([path], BanCheck()).findings:
        ban = first_overflow(sorted(lines.get(finding.client_ip, [])), CROWDSEC_HELO)
        ours = [c for c in finding.would_be_banned_by or () if c.startswith("crowdsec ")]
        assert ours == ([ban.describe()] if ban else []), finding.client_ip


def test_claims_with_jobs_2_are_those_of_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from loganalyze.input import split as input_split

    monkeypatch.setattr(input_split, "MIN_RANGE", 16384)
    one, two = (_analysis([LOGS[0]], BanCheck(), jobs) for jobs in (1, 2))
    assert [finding_record(f) for f in two.findings] == [finding_record(f) for f in one.findings]
    assert any(f.would_be_banned_by for f in one.findings)


def test_not_asked_not_checked() -> None:
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026)
    analysis = analyze_logs([str(LOGS[0])], options)
    assert analysis.bans is None
    assert all(f.would_be_banned_by is None for f in analysis.findings)
    assert all("would_be_banned_by" not in finding_record(f) for f in analysis.findings)


def test_the_ignoreip_line_stops_the_ban_as_fail2ban_reads_it(tmp_path: Path) -> None:
    path = ROOT / "fixtures/lab/recorded/spam-bad-helo/mail.log"
    config = _fail2ban_config(tmp_path, "[postfix]\nenabled = true\n")
    (config / "jail.local").write_text("[DEFAULT]\nignoreip = 127.0.0.1/8 ::1 192.0.2.0/24\n")
    check = BanCheck(jail=load_fail2ban_jail(config))
    before = [f for f in _analysis([path], check).findings if f.client_ip == "198.51.100.21"]
    assert before and all(any(c.startswith("fail2ban") for c in f.would_be_banned_by or ())
                          for f in before)
    snippet = ignoreip_snippet(["198.51.100.21"], check)
    assert snippet.splitlines()[-2:] == ["[postfix]",
                                        "ignoreip = 127.0.0.1/8 ::1 192.0.2.0/24 198.51.100.21"]
    (config / "jail.d" / "loganalyze-postfix.local").write_text(snippet)
    jail = load_fail2ban_jail(config)
    assert jail.ignores("198.51.100.21") and jail.ignores("192.0.2.7")  # the admin's kept
    after = _analysis([path], BanCheck(jail=jail)).findings
    assert not any(c.startswith("fail2ban") for f in after if f.client_ip == "198.51.100.21"
                   for c in f.would_be_banned_by or ())


def test_only_validated_addresses_are_written() -> None:
    analysis = _analysis([LOGS[0]], BanCheck())
    legit = next(f for f in analysis.findings if f.client_ip == "198.51.100.62")
    hostile = dataclasses.replace(legit, client_ip="198.51.100.9\nignoreip = 0.0.0.0/0")
    v6 = dataclasses.replace(legit, client_ip="2001:DB8:0:0::1")
    assert banned_legitimate([legit, hostile, v6], "crowdsec") == ["198.51.100.62", "2001:db8::1"]
    assert safe_address("198.51.100.9 ") is None and safe_address("mail.example.com") is None
    text = crowdsec_whitelist(["198.51.100.62", "2001:db8::1"])
    assert text.endswith('  ip:\n    - "198.51.100.62"\n    - "2001:db8::1"\n')


def test_default_settings_are_stated() -> None:
    assert BanCheck().describe() == (
        "bans checked with fail2ban postfix[mode=more]: maxretry 5 within 600 s (Debian's "
        "defaults); crowdsec crowdsecurity/postfix-helo-rejected: capacity 1, leak 600 s "
        "(the hub's scenario)")


def test_fail2ban_missing_is_said_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(ConfigError, match="fail2ban-regex is not installed"):
        _analysis([LOGS[0]], BanCheck())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # the table's 80 columns
    return subprocess.run([str(Path(sys.executable).parent / "analyze"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)


def test_cli_bans_with_the_admins_config(tmp_path: Path) -> None:
    config = _fail2ban_config(tmp_path, "[postfix]\nenabled = true\n")
    done = _cli(str(LOGS[0]), "--no-dns", "--year", "2026", "--format", "json",
                "--fail2ban-config", str(config))
    assert done.returncode == 0, done.stderr
    records = {r["client_ip"]: r["would_be_banned_by"] for r in json.loads(done.stdout)}
    assert records["117.50.7.19"][0] == ("fail2ban postfix[mode=more] after 5 matches at "
                                          "2026-08-16T13:26:45")
    assert records["192.0.2.45"] == []
    assert f"fail2ban postfix[mode=more]: maxretry 5 within 600 s ({config} (read by " \
           "fail2ban-client))" in done.stderr


def test_cli_bad_fail2ban_config_is_one_line(tmp_path: Path) -> None:
    done = _cli(str(LOGS[0]), "--no-dns", "--bans", "--fail2ban-config", str(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "no jail.conf" in done.stderr


def test_cli_without_fail2ban_says_so() -> None:
    # fail2ban's absence, as the CLI meets it: one line, exit 2, no claim that nobody bans.
    # No /etc/fail2ban either (as without the package): Debian's defaults, no fail2ban-regex.
    code = ("import shutil, sys; shutil.which = lambda *a, **k: None\n"
            "from loganalyze.cli import app, options\n"
            "options.DEFAULT_FAIL2BAN_CONFIG = options.Path('/nonexistent')\n"
            f"sys.argv = ['analyze', {str(LOGS[0])!r}, '--no-dns', '--bans', '--year', '2026']\n"
            "app.analyze_main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("analyze: error: fail2ban-regex is not installed: install fail2ban to "
                           "cross-check its bans\n")


def test_cli_table_has_the_column_and_the_whitelist(tmp_path: Path) -> None:
    config = _fail2ban_config(tmp_path, "[postfix]\nenabled = true\n")
    args = [str(LOGS[0]), "--no-dns", "--year", "2026", "--suggest", "--postfix-config",
            "fixtures/postfix", "--fail2ban-config", str(config), "-q"]
    wide = _cli(*args, "--wide")
    assert wide.returncode == 0, wide.stderr
    header = wide.stdout.splitlines()[0].split()
    assert header[header.index("suggest") + 1:][:3] == ["banned", "by", "evidence"]
    row = next(line for line in wide.stdout.splitlines() if "[198.51.100.62]" in line)
    assert "crowdsec 08-16 10:46" in row
    # At 80 columns, on the sender's indented lines, whole.
    done = _cli(*args)
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith("[198.51.100.62]"))
    assert lines[at + 1] == "    banned by crowdsec 08-16 10:46"
    assert "# CrowdSec would ban 3 legitimate senders; to prevent it:" in done.stdout
    assert done.stdout.endswith('  ip:\n    - "198.51.100.62"\n    - "203.0.113.148"\n'
                                '    - "198.51.100.77"\n')
    assert "fail2ban would ban" not in done.stdout  # their retries are spaced out
    # Nothing of this in a run that did not ask.
    plain = _cli(str(LOGS[0]), "--no-dns", "--year", "2026", "--suggest", "-q")
    assert "banned by" not in plain.stdout and "crowdsec" not in plain.stdout


def test_cli_bans_on_standard_input_is_refused_before_reading(tmp_path: Path) -> None:
    config = _fail2ban_config(tmp_path, "[postfix]\nenabled = true\n")
    done = subprocess.run([str(Path(sys.executable).parent / "analyze"), "-", "--no-dns",
                           "--fail2ban-config", str(config)], input=LOGS[0].read_text(),
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("analyze: error: --bans needs the logs as files (fail2ban-regex "
                           "reads them again), not standard input\n")


def test_a_compressed_log_gives_the_claims_of_the_plain_one(tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "mail.log.1.gz"
    packed.write_bytes(gzip.compress(LOGS[0].read_bytes()))
    plain, unpacked = (_analysis([p], BanCheck()) for p in (LOGS[0], packed))
    assert [f.would_be_banned_by for f in unpacked.findings] == \
           [f.would_be_banned_by for f in plain.findings]
    assert any(c.startswith("fail2ban") for f in plain.findings for c in f.would_be_banned_by or ())
