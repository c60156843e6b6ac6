"""The admin's helo_access file: review, domain options, merge and atomic write."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from loganalyze.judge.dns import DnsStatus, HostLookup, StaticResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.pipeline import AnalyzeOptions, analyze_logs
from loganalyze.postfix.access_table import (
    domain_options,
    merge_table,
    review,
    write_atomically,
)
from loganalyze.postfix.config import identity_from_params, load_identity
from loganalyze.postfix.helo_access import parse_helo_access

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ANALYZE = str(Path(sys.executable).parent / "analyze")
WHEN = datetime(2026, 8, 17, 6, 15, 0)

# A table as an admin keeps it: comments, blank lines, a continuation line, odd spacing.
TABLE = """\
# /etc/postfix/helo_access -- senders with broken HELO we accept anyway
#   2025-03-02  optimus billing (ticket 4711)

optimus-webapi-prod-2.localdomain	OK
old-partner.example      OK
# 2025-11-30 someone added this "to stop bounces"
ylmf-pc    OK
mail.brandt-metallbau.de OK
WIN-6A0KEE6QVP5   REJECT
    Windows default name
"""


def fixture_analysis(table_text: str, resolver=None):  # type: ignore[no-untyped-def]
    options = AnalyzeOptions(
        resolver=resolver or StaticResolver({}),
        server=load_identity(FIXTURES / "postfix"),
        helo_access=parse_helo_access(table_text), year=2026,
    )
    return analyze_logs([str(FIXTURES / "mail.log")], options), options


def test_review_statuses() -> None:
    resolver = StaticResolver({
        "mail.brandt-metallbau.de": HostLookup("mail.brandt-metallbau.de", DnsStatus.FOUND,
                                               ("192.0.2.45",)),
    })
    analysis, options = fixture_analysis(TABLE, resolver)
    items = {i.key: i for i in review(options.helo_access, analysis, resolver)}  # type: ignore[arg-type]
    assert items["optimus-webapi-prod-2.localdomain"].status == "in use"
    assert items["old-partner.example"].status == "never seen"
    assert items["ylmf-pc"].status == "now spam"
    assert "unknown[117.50.7.19]" in items["ylmf-pc"].detail
    # The fixture's Exchange server never sent this name, and it resolves anyway.
    assert items["mail.brandt-metallbau.de"].status == "never seen"
    assert "win-6a0kee6qvp5" not in items  # REJECT entries are not permits
    # The permitted sender is not suggested again.
    optimus = [f for f in analysis.findings if f.helo == "optimus-webapi-prod-2.localdomain"]
    assert optimus and optimus[0].access_line is None
    assert "already permitted" in (optimus[0].not_suggested_because or "")


def test_review_no_longer_needed() -> None:
    table = "va-massmail-02.rakutenmarketing.com OK\n"
    resolver = StaticResolver({
        "va-massmail-02.rakutenmarketing.com": HostLookup(
            "va-massmail-02.rakutenmarketing.com", DnsStatus.FOUND, ("198.51.100.62",)),
    })
    analysis, options = fixture_analysis(table, resolver)
    (item,) = review(options.helo_access, analysis, resolver)  # type: ignore[arg-type]
    assert item.status == "no longer needed"


def test_merge_keeps_the_users_bytes_and_order() -> None:
    merged = merge_table(TABLE, ["# why\nexch01 OK"], WHEN)
    assert merged.startswith(TABLE)
    assert merged.endswith("# why\nexch01 OK\n")
    assert "# Added by loganalyze on 2026-08-17 06:15" in merged
    assert parse_helo_access(merged).entries["exch01"] == "OK"
    assert merge_table(TABLE, [], WHEN) == TABLE
    no_newline = "a.example OK"
    assert merge_table(no_newline, ["b.example OK"], WHEN).startswith("a.example OK\n\n")


def test_write_atomically_keeps_mode_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "helo_access"
    path.write_text(TABLE)
    os.chmod(path, 0o640)
    backup = write_atomically(path, TABLE + "new.example OK\n", WHEN)
    assert backup == tmp_path / "helo_access.20260817-061500.bak"
    assert backup.read_text() == TABLE
    assert path.read_text().endswith("new.example OK\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "helo_access", "helo_access.20260817-061500.bak"]


def test_write_to_a_new_file_has_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "helo_access"
    assert write_atomically(path, "x.example OK\n", WHEN) is None
    assert path.read_text() == "x.example OK\n"


def test_cli_write_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "helo_access"
    path.write_text(TABLE)
    args = [ANALYZE, str(FIXTURES / "mail.log"), "--no-dns", "--year", "2026",
            "--postfix-config", str(FIXTURES / "postfix"), "--write", str(path), "-q",
            "--format", "json"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "added 4 entries" in first.stderr
    assert "postmap hash:" in first.stderr and "postfix reload" in first.stderr
    text = path.read_text()
    assert text.startswith(TABLE)
    entries = parse_helo_access(text).entries
    assert {"va-massmail-02.rakutenmarketing.com", "exch01", "mailout..weber-partner.de",
            "mail.lindqvist-consulting.se."} <= set(entries)
    # The second run finds everything already permitted.
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert "nothing to add" in second.stderr
    assert path.read_text() == text
    rows = json.loads(second.stdout)
    assert not any("access_line" in r for r in rows)
    backups = list(tmp_path.glob("helo_access.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == TABLE


def test_domain_option_for_several_names_of_one_domain(dns_server) -> None:  # type: ignore[no-untyped-def]
    lab = FIXTURES / "lab" / "recorded" / "dns-trouble-and-domains"
    server = dns_server(json.loads((lab / "zones.json").read_text()))
    options = AnalyzeOptions(
        resolver=DnsResolver([server.address], timeout=0.5),
        server=identity_from_params({"myhostname": "mx.example.net", "mydomain": "example.net"}),
    )
    analysis = analyze_logs([str(lab / "mail.log")], options)
    (option,) = domain_options(analysis.findings, options.server)
    assert option.domain == "corp.bigcorp.example"
    assert option.names == ("exch-node2.corp.bigcorp.example", "exch-node3.corp.bigcorp.example")
    assert parse_helo_access("corp.bigcorp.example OK\n").permits(
        "exch-node2.corp.bigcorp.example")
