"""The admin's own helo_access and the breadth of a key (issue 16, items 4 and 6).

Real lines from the bundled day (fixtures/mail.log); the table is read as
Postfix reads it, checked against the real ``postmap -q``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loganalyze.judge.dns import NoDnsResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.output import render_client_access, render_helo_access
from loganalyze.pipeline import AnalyzeOptions, Finding, analyze_lines, analyze_logs
from loganalyze.postfix.access_table import merge_table, review_table
from loganalyze.postfix.config import identity_from_params, load_identity
from loganalyze.postfix.helo_access import parse_helo_access

REPO = Path(__file__).resolve().parent.parent
DAY = (REPO / "fixtures" / "mail.log").read_text().splitlines()
SERVER = load_identity(REPO / "fixtures" / "postfix")
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"


def lines_of(ip: str) -> list[str]:
    return [line for line in DAY if f"[{ip}]" in line]


# Two legitimate senders of the bundled day (both suggested without a table).
RAKUTEN = lines_of("198.51.100.62")  # HELO va-massmail-02.rakutenmarketing.com
LINDQVIST = lines_of("198.51.100.140")  # HELO mail.lindqvist-consulting.se.


def run(lines: list[str], table: str | None = None,
        server: object = SERVER) -> dict[str, Finding]:
    options = AnalyzeOptions(resolver=NoDnsResolver(), server=server,  # type: ignore[arg-type]
                             helo_access=parse_helo_access(table) if table else None,
                             year=2026)
    analysis = analyze_lines(lines, options)
    return {f.client_ip: f for f in analysis.findings}


def test_both_are_suggested_without_a_table() -> None:
    found = run(RAKUTEN + LINDQVIST)
    assert found["198.51.100.62"].suggested and found["198.51.100.140"].suggested


@pytest.mark.parametrize(("entry", "key"), [
    ("va-massmail-02.rakutenmarketing.com REJECT", "va-massmail-02.rakutenmarketing.com"),
    ("rakutenmarketing.com REJECT not here", "rakutenmarketing.com"),  # parent domain
    ("VA-MASSMAIL-02.Rakutenmarketing.COM DUNNO", "va-massmail-02.rakutenmarketing.com"),
    ("rakutenmarketing.com 550 5.7.1 go away", "rakutenmarketing.com"),
    ("va-massmail-02.rakutenmarketing.com HOLD", "va-massmail-02.rakutenmarketing.com"),
    ("va-massmail-02.rakutenmarketing.com 450 try later", "va-massmail-02.rakutenmarketing.com"),
])
def test_an_entry_that_does_not_permit_is_never_overridden(entry: str, key: str) -> None:
    table = f"# the admin's own\n{entry}\n"
    found = run(RAKUTEN + LINDQVIST, table)
    rakuten = found["198.51.100.62"]
    assert rakuten.verdict.label.value == "legitimate"
    assert not rakuten.suggested and not rakuten.client_access
    assert f"your helo_access entry '{key}' says" in (rakuten.not_suggested_because or "")
    assert found["198.51.100.140"].suggested  # the other sender is unaffected
    parsed = parse_helo_access(table)
    items = review_table(parsed, {rakuten.helo}, list(found.values()), {})
    assert [(i.key, i.status) for i in items] == [(key, "conflict")]
    assert "198.51.100.62" in items[0].detail
    # --write appends only what is suggested: never "name OK" after the REJECT.
    merged = merge_table(table, [f.access_line for f in found.values() if f.access_line],
                         __import__("datetime").datetime(2026, 8, 17))
    assert "rakutenmarketing.com OK" not in merged and merged.startswith(table)


def test_a_permitting_parent_entry_counts_as_already_permitted() -> None:
    found = run(LINDQVIST, "lindqvist-consulting.se. OK\n")
    why = found["198.51.100.140"].not_suggested_because or ""
    assert why.startswith("already permitted by helo_access entry 'lindqvist-consulting.se. OK'")
    # Postfix still rejected it and the table was never compiled: the postmap hint.
    assert why.endswith("did you run postmap on your helo_access?"), why
    # A '.domain' key is never consulted with Postfix's default
    # parent_domain_matches_subdomains (postfix-reference.md 1.8): still suggested.
    assert run(LINDQVIST, ".lindqvist-consulting.se. OK\n")["198.51.100.140"].suggested


@pytest.mark.skipif(not Path(POSTMAP).exists(), reason="needs Postfix's postmap")
def test_table_reading_matches_postmap(tmp_path: Path) -> None:
    """Each key's action as postmap -q reads it (exact lookups; smtpd does the parent walk)."""
    text = ("# comment\nMail.Example.ORG   REJECT  spam\n"
            "relay.example.org OK\n  \n"
            "bulk.example.net 550 5.7.1 no  \n\tthanks\n"
            "mail.example.com. DUNNO\nexample.de HOLD\n")
    source = tmp_path / "helo_access"
    source.write_text(text)
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
    postmap = [POSTMAP, "-c", str(tmp_path)]
    subprocess.run([*postmap, f"hash:{source}"], check=True, capture_output=True)
    table = parse_helo_access(text)
    for key, action in table.entries.items():
        real = subprocess.run([*postmap, "-q", key, f"hash:{source}"], capture_output=True,
                              text=True)
        assert real.stdout.strip() == action, key
    # Case folding: postmap finds the upper-case key in lower case, as we do.
    assert table.lookup("MAIL.EXAMPLE.ORG") == ("mail.example.org", "REJECT  spam")
    absent = subprocess.run([*postmap, "-q", "sub.example.de", f"hash:{source}"],
                            capture_output=True, text=True)
    assert absent.returncode == 1  # postmap -q is exact; the parent walk is smtpd's
    assert table.lookup("sub.example.de") == ("example.de", "HOLD")


BARE = [line.replace("<mail.lindqvist-consulting.se.>", "<lindqvist-consulting.se>")
        for line in LINDQVIST]


def test_a_bare_domain_is_offered_commented_with_the_client_entry() -> None:
    finding = run(BARE)["198.51.100.140"]
    assert finding.verdict.label.value == "legitimate"
    assert not finding.suggested and finding.client_access
    assert "a bare domain" in (finding.not_suggested_because or "")
    text = render_helo_access([finding])
    assert text.rstrip().endswith("\n# lindqvist-consulting.se OK")
    assert not any(line.startswith("lindqvist") for line in text.splitlines())
    assert "198.51.100.140/32 OK" in render_client_access([finding])


@pytest.mark.parametrize("networks", ["198.51.100.0/24", "127.0.0.0/8 [198.51.100.140]/32"])
def test_no_client_entry_for_mynetworks(networks: str) -> None:
    server = identity_from_params({"myhostname": "mail.example.com", "mynetworks": networks})
    finding = run(BARE, server=server)["198.51.100.140"]
    assert not finding.client_access and render_client_access([finding]) == ""


def test_no_client_entry_for_loopback() -> None:
    moved = [line.replace("198.51.100.140", "127.0.0.5") for line in BARE]
    finding = run(moved)["127.0.0.5"]
    assert not finding.client_access


FAULTS = REPO / "fixtures" / "lab" / "recorded" / "faults-admin-table"


def test_real_postfix_recording_of_the_admins_table(dns_server: Any) -> None:
    """fixtures/lab faults-admin-table: Postfix 3.7.11 consulted 'blocked-partner.example
    DUNNO' by the parent domain and 'mail.held-vendor.example HOLD', then still refused
    both with reject_unknown_helo_hostname."""
    scenario = json.loads((REPO / "fixtures" / "lab" / "scenarios"
                           / "faults-admin-table.json").read_text())
    text = "".join(f"{k} {v}\n" for k, v in scenario["server"]["helo_access"].items())
    server = dns_server(json.loads((FAULTS / "zones.json").read_text()))
    lab = identity_from_params({"myhostname": "mx.example.net", "mydomain": "example.net"})

    def replay(table: str | None) -> dict[str, Finding]:
        options = AnalyzeOptions(resolver=DnsResolver([server.address], timeout=0.5,
                                                      deadline=20),
                                 server=lab, helo_access=parse_helo_access(table) if table else None)
        analysis = analyze_logs([str(FAULTS / "mail.log")], options)
        return {f.helo: f for f in analysis.findings}

    without = replay(None)
    assert {"relay.blocked-partner.example", "mail.held-vendor.example"} <= {
        helo for helo, f in without.items() if f.suggested}
    found = replay(text)
    assert found["relay.blocked-partner.example"].not_suggested_because == (
        "your helo_access entry 'blocked-partner.example' says DUNNO: "
        "nothing is suggested against it")
    assert "says HOLD" in (found["mail.held-vendor.example"].not_suggested_because or "")
    assert not any(f.suggested for f in found.values())
    bare = found["brandt-metallbau.de"]
    assert bare.verdict.label.value == "legitimate" and bare.client_access
    assert (bare.access_option or "").endswith("\n# brandt-metallbau.de OK")
    items = review_table(parse_helo_access(text), set(found), list(found.values()), {})
    assert {(i.key, i.status) for i in items} == {("blocked-partner.example", "conflict"),
                                                  ("mail.held-vendor.example", "conflict")}
