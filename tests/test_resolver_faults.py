"""A resolver that disagrees with Postfix (issue 16, item 3), on the real lab recordings.

The lab's Postfix 3.7.11 accepted these HELOs with reject_unknown_helo_hostname
in force, so they resolved then. A loopback DNS server that answers NXDOMAIN
for everything, or never answers, must not turn them into "would be rejected",
nor get anything suggested on its word.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loganalyze.judge.dns import NoDnsResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import identity_from_params, parse_main_cf
from loganalyze.postfix.entry_notes import MAYBE_TEMPORARY
from loganalyze.postfix.helo_access import parse_helo_access

try:
    from dnsserver import DnsServer, SilentDnsServer
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.dnsserver import DnsServer, SilentDnsServer

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "fixtures" / "lab"
# The lab's main.cf (fixtures/lab/labtool.py), enforce mode.
MAIN_CF = """\
myhostname = mx.example.net
mydomain = example.net
mydestination = $myhostname, $mydomain, localhost
mynetworks = 127.0.0.0/8
smtpd_helo_restrictions =
    permit_mynetworks,
    check_helo_access hash:/etc/postfix/helo_access,
    reject_invalid_helo_hostname,
    reject_non_fqdn_helo_hostname,
    reject_unknown_helo_hostname
"""
SERVER = identity_from_params(parse_main_cf(MAIN_CF))


def table_text(name: str) -> str:
    scenario = json.loads((LAB / "scenarios" / f"{name}.json").read_text())
    entries = scenario.get("server", {}).get("helo_access", {})
    return "".join(f"{key} {action}\n" for key, action in entries.items())


def truth(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads((LAB / "recorded" / name / "expected.json").read_text())
    return {(r["client_ip"], r["helo"] or ""): r for r in rows}


def analyze(name: str, resolver: Any) -> Analysis:
    text = table_text(name)
    options = AnalyzeOptions(resolver=resolver, server=SERVER,
                             helo_access=parse_helo_access(text) if text else None)
    return analyze_logs([str(LAB / "recorded" / name / "mail.log")], options)


def suggested(analysis: Analysis) -> set[tuple[str, str]]:
    return {(f.client_ip, f.helo) for f in analysis.suggestions}


@pytest.fixture(params=["nxdomain", "silent"])
def bad_resolver(request: pytest.FixtureRequest) -> Any:
    server = DnsServer({}) if request.param == "nxdomain" else SilentDnsServer()
    with server:
        yield DnsResolver([server.address], timeout=0.3, deadline=3)


def test_good_and_whitelisted_detects_the_resolver(bad_resolver: Any) -> None:
    name = "good-and-whitelisted"
    analysis = analyze(name, bad_resolver)
    assert analysis.resolver_disagrees is not None
    assert analysis.resolver_disagrees.startswith("the DNS resolver disagrees with Postfix: 3 of 3")
    expected = truth(name)
    listed = {(f.client_ip, f.helo) for f in analysis.findings}
    good = {k for k, r in expected.items() if r["check"] is None}
    assert not listed & good  # no sender Postfix accepted becomes "would be rejected"
    should = {k for k, r in expected.items() if r["suggest"]}
    assert suggested(analysis) <= should
    # Nothing rests on its failures: no more advice than without DNS at all (a run the
    # deadline cut holds back what it could not decide).
    assert suggested(analysis) <= suggested(analyze(name, NoDnsResolver()))
    assert not any(f.dns in ("nxdomain", "nodata") for f in analysis.findings)


def test_a_sender_postfix_accepted_is_never_would_be_rejected(bad_resolver: Any) -> None:
    """Too few accepted names to judge the resolver, but the one accepted under the
    check (mail.partner.example) is not listed on the resolver's word."""
    name = "legit-broken-helo"
    analysis = analyze(name, bad_resolver)
    assert analysis.resolver_disagrees is None
    expected = truth(name)
    listed = {(f.client_ip, f.helo) for f in analysis.findings}
    assert not listed & {k for k, r in expected.items() if r["check"] is None}
    assert suggested(analysis) <= {k for k, r in expected.items() if r["suggest"]}


@pytest.mark.parametrize("name", ["good-and-whitelisted", "legit-broken-helo",
                                  "dns-trouble-and-domains"])
def test_the_recorded_zone_agrees(name: str, dns_server: Any) -> None:
    server = dns_server(json.loads((LAB / "recorded" / name / "zones.json").read_text()))
    analysis = analyze(name, DnsResolver([server.address], timeout=0.5, deadline=20))
    assert analysis.resolver_disagrees is None
    assert suggested(analysis) == {k for k, r in truth(name).items() if r["suggest"]}


def test_cli_warns_once_and_strict_fails(tmp_path: Path) -> None:
    (tmp_path / "main.cf").write_text(MAIN_CF)
    table = tmp_path / "helo_access"
    table.write_text(table_text("good-and-whitelisted"))
    log = LAB / "recorded" / "good-and-whitelisted" / "mail.log"
    analyze_bin = Path(sys.executable).parent / "analyze"
    with DnsServer({}) as server:
        args = [str(analyze_bin), str(log), "--nameserver", server.address, "--no-dns-cache",
                "--postfix-config", str(tmp_path), "--helo-access", str(table),
                "--format", "helo-access", "-q"]
        plain = subprocess.run(args, capture_output=True, text=True, timeout=120)
        strict = subprocess.run([*args, "--strict"], capture_output=True, text=True,
                                timeout=120)
    assert plain.returncode == 0 and strict.returncode == 1
    warning = [line for line in plain.stderr.splitlines() if "disagrees" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: the DNS resolver disagrees")
    assert strict.stdout == plain.stdout
    keys = [line.split()[0] for line in plain.stdout.splitlines()
            if line and not line.startswith("#")]
    should = {helo for (_, helo), r in truth("good-and-whitelisted").items() if r["suggest"]}
    assert set(keys) <= {k.lower() for k in should}
    # Each suggestion says its 450 Host not found may have been temporary.
    for block in plain.stdout.strip().split("\n\n"):
        if "failed reject_unknown_helo_hostname" in block:
            assert MAYBE_TEMPORARY in block


def test_the_bundled_day_with_an_nxdomain_resolver() -> None:
    """fixtures/mail.log: 22 names Postfix accepted after 09:10; the zone resolves them."""
    from loganalyze.postfix.config import load_identity

    server = load_identity(REPO / "fixtures" / "postfix")
    log = [str(REPO / "fixtures" / "mail.log")]
    zone = json.loads((REPO / "fixtures" / "mail.zone.json").read_text())
    runs = {}
    for label, table in (("zone", zone), ("nxdomain", {})):
        with DnsServer(table) as dns:
            options = AnalyzeOptions(resolver=DnsResolver([dns.address], timeout=0.5,
                                                          deadline=20), server=server, year=2026)
            runs[label] = analyze_logs(log, options)
    assert runs["zone"].resolver_disagrees is None
    assert runs["nxdomain"].resolver_disagrees is not None
    no_dns = analyze_logs(log, AnalyzeOptions(resolver=NoDnsResolver(), server=server,
                                              year=2026))
    assert suggested(runs["nxdomain"]) == suggested(no_dns)
    assert suggested(no_dns) < suggested(runs["zone"])
