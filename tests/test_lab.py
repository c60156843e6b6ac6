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

from loganalyze.judge.dns import NoDnsResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.output import finding_record
from loganalyze.pipeline import AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import identity_from_params
from loganalyze.postfix.helo_access import parse_helo_access

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "lab"
SCENARIOS = sorted(p.name for p in (LAB / "recorded").iterdir() if p.is_dir())
# The lab's Postfix: myhostname mx.example.net, recipients @example.net, Debian's
# main.cf (compatibility_level = 3.6) plus the scenario's own parameters.
LAB_MAIN_CF = {"myhostname": "mx.example.net", "mydomain": "example.net",
               "mydestination": "$myhostname, $mydomain, localhost",
               "compatibility_level": "3.6"}


def scenario(name: str) -> dict[str, Any]:
    return json.loads((LAB / "scenarios" / f"{name}.json").read_text())


def run(name: str, log: str, dns_address: str | None) -> list[dict[str, Any]]:
    """The findings for one recording; ``dns_address`` None: ``--no-dns``."""
    server = scenario(name).get("server", {})
    table = server.get("helo_access")
    helo_access = None
    if table:
        helo_access = parse_helo_access("\n".join(f"{k} {v}" for k, v in table.items()))
    resolver = (NoDnsResolver() if dns_address is None
                else DnsResolver([dns_address], timeout=0.5, deadline=20))
    options = AnalyzeOptions(
        resolver=resolver, server=identity_from_params({**LAB_MAIN_CF, **server.get("main_cf", {})}),
        helo_access=helo_access,
    )
    analysis = analyze_logs([str(LAB / "recorded" / name / log)], options)
    assert analysis.lines.unparsed == 0, analysis.lines.samples
    return [finding_record(f) for f in analysis.findings]


def key(row: dict[str, Any]) -> tuple[str, str]:
    return row["client_ip"], row["helo"] or ""


@pytest.mark.parametrize("dns", ["dns", "no-dns"])
@pytest.mark.parametrize("log", ["mail.log", "mail-warn.log"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_matches_expected_outcomes(
    name: str, log: str, dns: str, dns_server: Any, suggestion_metrics: dict[str, str]
) -> None:
    """Enforce and warn_if_reject recordings, with the scenario's DNS served and without.

    Without DNS the enforce recording lacks the SPF result of every HELO-rejected
    sender (the reject comes before the policy service): ``suggest_without_dns``
    says what can be told then.  The warn recording has an SPF line for everyone.
    """
    truth = {key(r): r for r in json.loads((LAB / "recorded" / name / "expected.json")
                                           .read_text())}
    address = None
    if dns == "dns":
        address = dns_server(json.loads((LAB / "recorded" / name / "zones.json")
                                        .read_text())).address
    rows = {key(r): r for r in run(name, log, address)}
    listed = {k for k, r in truth.items() if r["check"] is not None}
    if address is None:
        # Whitelisted names the log never shows refused: only DNS tells they are unknown.
        listed -= {k for k, r in truth.items() if r["check"] == "unknown" and not r["rejected"]}
    assert listed <= set(rows), f"not found: {sorted(listed - set(rows))}"
    unlisted = {k for k, r in truth.items() if r["check"] is None}
    assert not unlisted & set(rows), f"good senders listed: {sorted(unlisted & set(rows))}"
    for k in listed:
        assert rows[k]["check"] == truth[k]["check"], k
        # warn_if_reject: what a HELO check would have rejected was not (a missing
        # HELO is still refused: smtpd_helo_required has no warn mode).
        enforced = log == "mail.log" or truth[k]["check"] == "helo_required"
        assert rows[k]["rejected"] == (truth[k]["rejected"] and enforced), k
    suggested = {k for k, r in rows.items() if "access_line" in r}
    if dns == "no-dns" and log == "mail.log":
        should = {k for k, r in truth.items() if r.get("suggest_without_dns", r["suggest"])}
    else:
        should = {k for k, r in truth.items() if r["suggest"]}
    hits = len(suggested & should)
    precision = hits / len(suggested) if suggested else 1.0
    recall = hits / len(should) if should else 1.0
    suggestion_metrics[f"lab/{name} {log} {dns}"] = (
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


def _analysis(name: str, main_cf: dict[str, str]) -> Any:
    table = scenario(name)["server"]["helo_access"]
    options = AnalyzeOptions(
        resolver=NoDnsResolver(), server=identity_from_params({**LAB_MAIN_CF, **main_cf}),
        helo_access=parse_helo_access("\n".join(f"{k} {v}" for k, v in table.items())))
    findings = analyze_logs([str(LAB / "recorded" / name / "mail.log")], options).findings
    return {(f.client_ip, f.helo): f for f in findings}


def test_utf8_helo_gets_a_utf8_key_only_where_postfix_can_match_it() -> None:
    on = _analysis("utf8-smtputf8-on", {})
    assert on[("203.0.113.180", "mail.müller-bau.de")].access_line.endswith(
        "\nmail.müller-bau.de OK")
    # helo_access has the ACE form of this name: Postfix never matches it to the UTF-8 HELO.
    assert on[("203.0.113.182", "MAIL.Gärtner-GmbH.de")].access_line.endswith(
        "\nmail.gärtner-gmbh.de OK")
    # The same log, read with a main.cf that (now) says smtputf8_enable = no.
    off = _analysis("utf8-smtputf8-on", {"smtputf8_enable": "no"})
    for key in [("203.0.113.180", "mail.müller-bau.de"), ("203.0.113.182", "MAIL.Gärtner-GmbH.de")]:
        assert off[key].access_line is None
        assert off[key].client_access
        assert "smtputf8_enable = no" in (off[key].not_suggested_because or "")
    # Recorded with smtputf8_enable = no: the logged ?s are no host name; the address is.
    recorded_off = _analysis("utf8-smtputf8-off", {"smtputf8_enable": "no"})
    weiss = recorded_off[("203.0.113.185", "mail.wei??-druck.de")]
    assert weiss.verdict.label.value == "legitimate"
    assert weiss.access_line is None and weiss.client_access
