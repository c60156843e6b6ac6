"""The evidence model on real session shapes, with DNS from a static table or loopback."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from loganalyze.errors import ConfigError
from loganalyze.judge.dns import DnsStatus, NoDnsResolver, StaticResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.judge.verdict import DEFAULT_WEIGHTS, Label, load_weights
from loganalyze.pipeline import AnalyzeOptions, analyze_lines
from loganalyze.postfix.config import identity_from_params

SERVER = identity_from_params({"myhostname": "mail.example.com", "mydomain": "example.com"})
NOW = datetime(2026, 11, 24)


def analyze(text: str, resolver=None, **kw):  # type: ignore[no-untyped-def]
    options = AnalyzeOptions(resolver=resolver or NoDnsResolver(), server=SERVER, now=NOW,
                             year=2026, **kw)
    return {(f.client_ip, f.helo): f for f in analyze_lines(text.strip().split("\n"), options)
            .findings}


def rejected_session(pid: int, t: str, name: str, ip: str, helo: str, sender: str,
                     code: str = "450 4.7.1", reason: str = "Host not found",
                     rcpt: str = "alice@example.com") -> str:
    return (
        f"Aug 16 {t} mail postfix/smtpd[{pid}]: connect from {name}[{ip}]\n"
        f"Aug 16 {t} mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from {name}[{ip}]: "
        f"{code} <{helo}>: Helo command rejected: {reason}; from=<{sender}> to=<{rcpt}> "
        f"proto=ESMTP helo=<{helo}>\n"
        f"Aug 16 {t} mail postfix/smtpd[{pid}]: disconnect from {name}[{ip}] ehlo=1 mail=1 "
        "rcpt=0/1 quit=1 commands=3/4\n"
    )


RETRIES = "".join(
    rejected_session(100 + i, t, "unknown", "192.0.2.71", "mx01.kellner.example",
                     "kanzlei@kellner.example")
    for i, t in enumerate(["13:12:04", "13:17:30", "13:28:11", "13:49:40", "14:31:02"])
)


TEMPORARY_WARNING = (
    "Aug 16 13:12:04 mail postfix/smtpd[100]: warning: hostname mx01.kellner.example does "
    "not resolve to address 192.0.2.71: Temporary failure in name resolution\n")


def test_retries_alone_are_no_proof_of_identity() -> None:
    # A HELO in the sender's domain is two claims of the client's: without an SPF
    # pass it weighs nothing.  And with a threshold the retries alone reach, nothing
    # still proves who it is.
    lower = dataclasses.replace(DEFAULT_WEIGHTS, legitimate_at=2.0)
    finding = analyze(TEMPORARY_WARNING + RETRIES, weights=lower)[
        ("192.0.2.71", "mx01.kellner.example")]
    assert finding.verdict.score >= lower.legitimate_at
    assert finding.verdict.label is Label.SUSPICIOUS
    assert "retried 4 times over 79 min" in finding.verdict.summary
    assert "HELO is in the sender's domain (unproven: no SPF pass)" in finding.verdict.summary
    assert any("no proof of identity" in e for e in finding.verdict.summary)
    assert finding.access_line is None


def test_re_checked_spf_pass_over_loopback_dns_proves_identity(dns_server) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({
        "kellner.example": {"TXT": ["v=spf1 ip4:192.0.2.71 -all"]},
        "mx01.kellner.example": {"rcode": "SERVFAIL"},
    })
    finding = analyze(RETRIES, DnsResolver([server.address], timeout=0.5))[
        ("192.0.2.71", "mx01.kellner.example")]
    assert "SPF pass for kellner.example (re-checked)" in finding.verdict.summary
    assert "the HELO's DNS fails temporarily (servfail)" in finding.verdict.summary
    assert finding.dns == "servfail"
    assert finding.verdict.label is Label.LEGITIMATE
    assert finding.access_line is not None
    assert server.count("kellner.example", "TXT") == 1


def test_re_checked_spf_fail_counts_against(dns_server) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({"bank.example": {"TXT": ["v=spf1 ip4:198.51.100.0/24 -all"]}})
    text = rejected_session(7, "10:00:00", "mail.forger.example", "203.0.113.9",
                            "smtp.bank.example", "alerts@bank.example")
    finding = analyze(text, DnsResolver([server.address], timeout=0.5))[
        ("203.0.113.9", "smtp.bank.example")]
    assert "SPF fail for bank.example (re-checked)" in finding.verdict.summary
    assert finding.verdict.label is not Label.LEGITIMATE


def test_temporary_reverse_lookup_failure_is_not_evidence_against() -> None:
    finding = analyze(TEMPORARY_WARNING + RETRIES)[("192.0.2.71", "mx01.kellner.example")]
    texts = finding.verdict.summary
    assert "client's reverse name could not be verified (temporary DNS failure)" in texts
    assert "client has no forward-confirmed reverse name" not in texts


def test_static_resolver_decides_the_what_if_unknown_check() -> None:
    # Accepted before the restrictions: only policyd-spf knew the HELO.
    text = (
        "Aug 16 04:21:13 mail postfix/smtpd[9]: connect from mta.shop.example[198.51.100.8]\n"
        "Aug 16 04:21:13 mail policyd-spf[8]: prepend Received-SPF: Pass (mailfrom) "
        "identity=mailfrom; client-ip=198.51.100.8; helo=web-7.shop.internal; "
        "envelope-from=orders@shop.example; receiver=<UNKNOWN> \n"
        "Aug 16 04:21:14 mail postfix/smtpd[9]: 4F1A21C0F3A: client=mta.shop.example[198.51.100.8]\n"
        "Aug 16 04:21:14 mail postfix/smtpd[9]: disconnect from mta.shop.example[198.51.100.8] "
        "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n"
    )
    found = analyze(text, StaticResolver({"web-7.shop.internal": DnsStatus.NXDOMAIN}))
    finding = found[("198.51.100.8", "web-7.shop.internal")]
    assert finding.rejected is False
    assert finding.check.value == "unknown"
    assert finding.verdict.label is Label.LEGITIMATE
    assert finding.access_line is not None and finding.access_line.endswith(
        "web-7.shop.internal OK")
    # Without DNS the unknown check cannot be decided, so nothing is claimed.
    assert analyze(text) == {}


def test_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_text("[weights]\nspf_pass = 5\nlegitimate_at = 4.5\n")
    weights = load_weights(path)
    assert weights.spf_pass == 5.0 and weights.legitimate_at == 4.5
    assert weights.fcrdns == DEFAULT_WEIGHTS.fcrdns


@pytest.mark.parametrize("text,message", [
    ("spf_pas = 5\n", "unknown weight 'spf_pas'"),
    ("spf_pass = 'high'\n", "must be a number"),
    ("spf_pass = \n", "not valid TOML"),
])
def test_bad_weights_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "weights.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_weights(path)


CLOUD = "ec2-198-51-100-40.compute-1.amazonaws.com"


def cloud_sessions(times: list[str]) -> str:
    """A cloud instance's app queue: the same message refused (450) at each time."""
    return "".join(
        rejected_session(300 + i, t, CLOUD, "198.51.100.40", "ip-10-1-2-3.ec2.internal",
                         "noreply@webshop.example")
        for i, t in enumerate(times))


RBL_REJECT = (
    f"Aug 16 09:00:01 mail postfix/smtpd[399]: NOQUEUE: reject: RCPT from {CLOUD}"
    "[198.51.100.40]: 554 5.7.1 Service unavailable; Client host [198.51.100.40] blocked using "
    "zen.spamhaus.org; from=<noreply@webshop.example> to=<bob@example.com> proto=ESMTP "
    "helo=<ip-10-1-2-3.ec2.internal>\n")


@pytest.mark.parametrize("log,label,said", [
    # The same message retried 20 s apart after 450, SPF pass: an application server.
    (cloud_sessions(["10:00:00", "10:00:20", "10:00:40"]), Label.LEGITIMATE,
     "retried the same message 2 times within 40 s after a 4xx"),
    # Never retried: a bot with a throwaway domain looks the same.
    (cloud_sessions(["10:00:00"]), Label.SUSPICIOUS, "and no message retried"),
    # Back within a second each time: no queue waiting to retry.
    (cloud_sessions(["10:00:00", "10:00:01", "10:00:02"]), Label.SUSPICIOUS,
     "and no message retried"),
    # Retries like a queue, but the client is on a DNSBL.
    (RBL_REJECT + cloud_sessions(["10:00:00", "10:00:20", "10:00:40"]), Label.SUSPICIOUS,
     "client is listed on a DNSBL"),
])
def test_spf_pass_from_a_cloud_address_needs_a_queue_and_no_bot_sign(
        dns_server, log: str, label: Label, said: str) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({"webshop.example": {"TXT": ["v=spf1 ip4:198.51.100.40 -all"]}})
    finding = analyze(log, DnsResolver([server.address], timeout=0.5))[
        ("198.51.100.40", "ip-10-1-2-3.ec2.internal")]
    assert "SPF pass for webshop.example (re-checked)" in finding.verdict.summary
    assert f"provider's generic reverse name {CLOUD} (forward-confirmed)" in finding.verdict.summary
    assert finding.verdict.label is label
    assert any(said in e for e in finding.verdict.summary), finding.verdict.summary
    assert (finding.access_line is not None) == (label is Label.LEGITIMATE)


def test_generic_name_of_an_access_line_still_counts_against() -> None:
    name = "198-51-100-41.pool.dynamic-isp.example"
    finding = analyze(rejected_session(1, "10:00:00", name, "198.51.100.41", "desktop-7",
                                       "x@mailer.example", code="504 5.5.2",
                                       reason="need fully-qualified hostname"))[
        ("198.51.100.41", "desktop-7")]
    assert f"generic reverse name {name} (an end-user access line)" in finding.verdict.summary
    assert finding.verdict.score == DEFAULT_WEIGHTS.generic_name + DEFAULT_WEIGHTS.few_recipients


def test_a_bot_sign_blocks_an_spf_pass_whatever_it_weighs(dns_server) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({"webshop.example": {"TXT": ["v=spf1 ip4:198.51.100.40 -all"]}})
    weightless = dataclasses.replace(DEFAULT_WEIGHTS, rbl_listed=0.0)
    finding = analyze(RBL_REJECT + cloud_sessions(["10:00:00", "10:00:20", "10:00:40"]),
                      DnsResolver([server.address], timeout=0.5), weights=weightless)[
        ("198.51.100.40", "ip-10-1-2-3.ec2.internal")]
    assert finding.verdict.score >= weightless.legitimate_at
    assert finding.verdict.label is Label.SUSPICIOUS
    assert any("shows a bot's signs" in e for e in finding.verdict.summary)
