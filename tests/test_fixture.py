"""End to end on the bundled day of mail.log: golden outputs and the ground truth.

``fixtures/mail.expected.json`` says, for every sender the HELO checks hit,
what a careful admin concludes. The analyzer must find every one with the
right check, suggest every legitimate one that can safely be whitelisted,
and never suggest a spammer or a forger. Set UPDATE_GOLDEN=1 to rewrite the
golden files after an intended change, and review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
GOLDEN = FIXTURES / "golden"
ANALYZE = str(Path(sys.executable).parent / "analyze")
BASE = [str(FIXTURES / "mail.log"), "--postfix-config", str(FIXTURES / "postfix"),
        "--year", "2026", "--quiet"]


def run_analyze(*args: str) -> str:
    # Not a terminal and no COLUMNS: the table's stable 80 columns.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run([ANALYZE, *BASE, *args], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def expected() -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads((FIXTURES / "mail.expected.json").read_text())
    return {(r["client_ip"], r["helo"]): r for r in rows}


@pytest.mark.parametrize(
    "name,args",
    [
        ("mail.txt", ["--no-dns"]),
        ("mail-suggest.txt", ["--no-dns", "--suggest"]),
        ("mail.json", ["--no-dns", "--format", "json"]),
        ("mail.helo_access", ["--no-dns", "--format", "helo-access"]),
        ("mail.cidr", ["--no-dns", "--format", "client-access"]),
    ],
)
def test_golden(name: str, args: list[str]) -> None:
    output = run_analyze(*args)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(output)
    assert output == golden.read_text()


def check_against_truth(
    rows: list[dict[str, Any]], metrics: dict[str, str], label: str, *, dns: bool = True
) -> None:
    truth = expected()
    found = {(r["client_ip"], r["helo"]): r for r in rows}
    assert set(found) == set(truth), (
        f"missing {sorted(set(truth) - set(found))}, extra {sorted(set(found) - set(truth))}")
    for key, want in truth.items():
        got = found[key]
        assert got["check"] == want["check"], key
        assert got["rejected"] == want["rejected"], key
    suggested = {k for k, r in found.items() if "access_line" in r}
    should = {k for k, r in truth.items()
              if (r["suggest"] if dns else r.get("suggest_without_dns", r["suggest"]))}
    true_positive = len(suggested & should)
    precision = true_positive / len(suggested) if suggested else 1.0
    recall = true_positive / len(should) if should else 1.0
    metrics[label] = (f"precision {precision:.2f}, recall {recall:.2f} "
                      f"({len(suggested)} suggested, {len(should)} expected)")
    bad = {k for k in suggested if truth[k]["role"] in ("spam", "forger")}
    assert not bad, f"suggested a spammer or forger: {sorted(bad)}"
    assert suggested == should


def test_ground_truth_without_dns(suggestion_metrics: dict[str, str]) -> None:
    rows = json.loads(run_analyze("--no-dns", "--format", "json"))
    check_against_truth(rows, suggestion_metrics, "fixtures/mail.log, --no-dns", dns=False)


def test_ground_truth_with_loopback_dns(dns_server, suggestion_metrics: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    table = json.loads((FIXTURES / "mail.zone.json").read_text())
    server = dns_server(table)
    rows = json.loads(run_analyze("--nameserver", server.address, "--no-dns-cache",
                                  "--dns-timeout", "0.5", "--format", "json"))
    check_against_truth(rows, suggestion_metrics, "fixtures/mail.log, loopback DNS")
    by_key = {(r["client_ip"], r["helo"]): r for r in rows}
    truth = expected()
    for key, want in truth.items():
        if want["check"] == "unknown" and not key[1].endswith("."):
            # Every HELO rejected as unknown is really not in DNS, or failed temporarily.
            assert by_key[key]["dns"] in ("nxdomain", "nodata", "servfail"), key
    # The temporary failure is never called "unknown host" evidence, and only the
    # re-checked SPF pass makes it legitimate.
    (temporary,) = [r for r in by_key.values() if r["dns"] == "servfail"]
    assert "SPF pass for kellner-steuerberatung.de (re-checked)" in temporary["evidence"]
    assert "the HELO's DNS fails temporarily (servfail)" in temporary["evidence"]
