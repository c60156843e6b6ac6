"""``--format postmaster-note``: golden notes for each check and an IDN name, on real
lab recordings; hostile strings stay inert; nothing of ours beyond our domain.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loganalyze.compat import UTC
from loganalyze.judge.checks import Check
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.output.postmaster import render_postmaster_notes
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import ServerIdentity

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "fixtures" / "golden"
LAB = ROOT / "fixtures" / "lab" / "recorded" / "legit-broken-helo" / "mail.log"
# fixtures/lab/labtool.py DEFAULT_SERVER: the lab's Postfix.
LAB_SERVER = ServerIdentity(hostnames=frozenset({"mx.example.net"}),
                            domains=frozenset({"example.net"}))


def _analysis(path: Path) -> Analysis:
    return analyze_logs([str(path)], AnalyzeOptions(resolver=NoDnsResolver(), server=LAB_SERVER,
                                                    year=2026, tz=UTC))


def _golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("check", [Check.INVALID, Check.NON_FQDN, Check.UNKNOWN])
def test_golden_note_for_each_check(check: Check) -> None:
    findings = [f for f in _analysis(LAB).findings if f.check is check]
    text = render_postmaster_notes(findings, LAB_SERVER, UTC)
    assert text.count("To: postmaster@") == (4 if check is Check.UNKNOWN else 2)
    _golden(f"postmaster-{check.value}.txt", text)


def test_golden_note_for_an_idn_name() -> None:
    # fixtures/postmaster/idn.log: a lab sender's lines with an internationalised name
    # (see fixtures/postmaster/README.md).
    text = render_postmaster_notes(_analysis(ROOT / "fixtures" / "postmaster" / "idn.log")
                                   .findings, LAB_SERVER, UTC)
    assert "EHLO mail.bücher.example" in text
    assert "mail.xn--bcher-kva.example (mail.bücher.example)" in text
    _golden("postmaster-idn.txt", text)


def test_only_legitimate_senders_that_were_refused_get_a_note() -> None:
    analysis = _analysis(LAB)
    text = render_postmaster_notes(analysis.findings, LAB_SERVER, UTC)
    noted = set(re.findall(r"from your server ([\d.]+)", text))
    assert noted == {f.client_ip for f in analysis.findings
                     if f.verdict.label.value == "legitimate" and f.rejected}
    bots = LAB.parent.parent / "cloud-imitators" / "mail.log"  # all suspicious
    assert render_postmaster_notes(_analysis(bots).findings, LAB_SERVER, UTC).startswith(
        "No legitimate sender was refused")
    warn = render_postmaster_notes(_analysis(LAB.with_name("mail-warn.log")).findings,
                                   LAB_SERVER, UTC)
    assert warn.startswith("No legitimate sender was refused")  # warnings refuse nobody


def test_nothing_of_ours_but_our_postmaster() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "analyze"), "fixtures/mail.log", "--no-dns",
         "--year", "2026", "--postfix-config", "fixtures/postfix", "--format", "postmaster-note",
         "-q"], capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "TZ": "UTC"})
    assert done.returncode == 0, done.stderr
    addresses = set(re.findall(r"[\w.+-]+@[\w.-]+", done.stdout))
    assert {a for a in addresses if not a.startswith("postmaster@")} == set()
    assert "postmaster@example.com" in addresses
    assert done.stdout.count("\nTo: postmaster@") + done.stdout.startswith("To: ") == 7


def test_hostile_strings_stay_inert() -> None:
    finding = next(f for f in _analysis(LAB).findings if f.helo == "EXCH2016")
    hostile = dataclasses.replace(
        finding, helo="EXCH\x1b[2J\u202eevil", client_name="x.example\nBcc: someone",
        sender_domain="evil.example>\r\nBcc: x@y", replies=("504 5.5.2 <EXCH\x1b[2J\u202e>: x",))
    text = render_postmaster_notes([hostile], LAB_SERVER, UTC)
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "EHLO EXCH\\x1b[2J\\u202eevil" in text
    assert "To: postmaster (no domain known for this client)" in text
    assert "Bcc" not in text
