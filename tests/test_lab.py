"""The analyzer against logs recorded from the real Postfix 3.7.11 in fixtures/lab/.

Each scenario's ``expected.json`` is the ground truth written before the run
(see fixtures/lab/README.md). The recordings are replayed with the
scenario's own DNS table served by the loopback DNS server, its helo_access
table, and the lab server's identity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.output import finding_record
from loganalyze.pipeline import AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import identity_from_params
from loganalyze.postfix.helo_access import parse_helo_access

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "lab"
SCENARIOS = sorted(p.name for p in (LAB / "recorded").iterdir() if p.is_dir())
# The lab's Postfix: myhostname mx.example.net, recipients @example.net.
LAB_SERVER = identity_from_params({"myhostname": "mx.example.net", "mydomain": "example.net",
                                   "mydestination": "$myhostname, $mydomain, localhost"})


def scenario(name: str) -> dict[str, Any]:
    return json.loads((LAB / "scenarios" / f"{name}.json").read_text())


def run(name: str, log: str, dns_address: str) -> list[dict[str, Any]]:
    table = scenario(name).get("server", {}).get("helo_access")
    helo_access = None
    if table:
        helo_access = parse_helo_access("\n".join(f"{k} {v}" for k, v in table.items()))
    options = AnalyzeOptions(
        resolver=DnsResolver([dns_address], timeout=0.5, deadline=20),
        server=LAB_SERVER, helo_access=helo_access,
    )
    analysis = analyze_logs([str(LAB / "recorded" / name / log)], options)
    assert analysis.lines.unparsed == 0, analysis.lines.samples
    return [finding_record(f) for f in analysis.findings]


def key(row: dict[str, Any]) -> tuple[str, str]:
    return row["client_ip"], row["helo"] or ""


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_matches_expected_outcomes(
    name: str, dns_server: Any, suggestion_metrics: dict[str, str]
) -> None:
    truth = {key(r): r for r in json.loads((LAB / "recorded" / name / "expected.json")
                                           .read_text())}
    server = dns_server(json.loads((LAB / "recorded" / name / "zones.json").read_text()))
    rows = {key(r): r for r in run(name, "mail.log", server.address)}
    listed = {k for k, r in truth.items() if r["check"] is not None}
    assert listed <= set(rows), f"not found: {sorted(listed - set(rows))}"
    unlisted = {k for k, r in truth.items() if r["check"] is None}
    assert not unlisted & set(rows), f"good senders listed: {sorted(unlisted & set(rows))}"
    for k in listed:
        assert rows[k]["check"] == truth[k]["check"], k
        assert rows[k]["rejected"] == truth[k]["rejected"], k
    suggested = {k for k, r in rows.items() if "access_line" in r}
    should = {k for k, r in truth.items() if r["suggest"]}
    hits = len(suggested & should)
    precision = hits / len(suggested) if suggested else 1.0
    recall = hits / len(should) if should else 1.0
    suggestion_metrics[f"lab/{name}"] = (
        f"precision {precision:.2f}, recall {recall:.2f} "
        f"({len(suggested)} suggested, {len(should)} expected)")
    wrong = {k for k in suggested if k in truth and truth[k]["role"] in ("spam", "forger")}
    assert not wrong, f"suggested a spammer or forger: {sorted(wrong)}"
    assert suggested == should


@pytest.mark.parametrize("name", SCENARIOS)
def test_traditional_and_rfc3339_recordings_agree(name: str, dns_server: Any) -> None:
    server = dns_server(json.loads((LAB / "recorded" / name / "zones.json").read_text()))
    rfc3339 = run(name, "mail.log", server.address)
    traditional = run(name, "mail.traditional.log", server.address)
    # Traditional syslog has no sub-second times; everything else must agree.
    for row in rfc3339 + traditional:
        row["first_seen"] = row["first_seen"][:19]
        row["last_seen"] = row["last_seen"][:19]
    assert rfc3339 == traditional


@pytest.mark.parametrize("name", SCENARIOS)
def test_warn_if_reject_recording_is_the_what_if_view(name: str, dns_server: Any) -> None:
    truth = {key(r): r for r in json.loads((LAB / "recorded" / name / "expected.json")
                                           .read_text())}
    server = dns_server(json.loads((LAB / "recorded" / name / "zones.json").read_text()))
    rows = {key(r): r for r in run(name, "mail-warn.log", server.address)}
    for k, want in truth.items():
        if want["check"] in ("invalid", "non_fqdn", "unknown") and want["rejected"]:
            assert k in rows, k
            assert rows[k]["check"] == want["check"], k
            # reject_warning: it would have been rejected, it was not.
            assert rows[k]["rejected"] is False, k
