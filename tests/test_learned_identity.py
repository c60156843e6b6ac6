"""Without main.cf the server's names come from the log, never from this machine
(issue 16, item 5)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loganalyze.judge.dns import NoDnsResolver
from loganalyze.pipeline import AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import default_identity
from loganalyze.postfix.helo_access import unsafe_reason

REPO = Path(__file__).resolve().parent.parent
LAB_LOG = REPO / "fixtures" / "lab" / "recorded" / "legit-broken-helo" / "mail.log"
DAY = REPO / "fixtures" / "mail.log"
ANALYZE = Path(sys.executable).parent / "analyze"


def test_names_come_from_the_log(tmp_path: Path) -> None:
    env = {**os.environ, "MAIL_CONFIG": str(tmp_path / "absent")}
    result = subprocess.run([str(ANALYZE), str(LAB_LOG), "--no-dns", "-f", "json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    # The lab's Postfix is mx.example.net (syslog host "mx"); its mail goes to @example.net.
    assert notes == ["note: no main.cf (--postfix-config): this server's names, learned from "
                     "the log: mx (syslog host), example.net (recipient domain, 8 clients)"]


@pytest.fixture
def machine_in_a_senders_domain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An analysis host named like a legitimate sender of the bundled day, no main.cf."""
    monkeypatch.setenv("MAIL_CONFIG", str(tmp_path / "absent"))
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "vm.weber-partner.de")
    monkeypatch.setattr(socket, "gethostname", lambda: "vm.weber-partner.de")


@pytest.mark.usefixtures("machine_in_a_senders_domain")
def test_the_analysing_machine_is_not_the_mail_server() -> None:
    server = default_identity()
    assert server.learn_from_log and not server.hostnames and not server.domains
    analysis = analyze_logs([str(DAY)], AnalyzeOptions(resolver=NoDnsResolver(),
                                                       server=server, year=2026))
    assert analysis.server is not None
    assert analysis.server.domains == {"example.com"}
    assert analysis.server.hostnames == {"mail", "mail.example.com"}
    suggested = {f.helo for f in analysis.suggestions}
    # Before: 'vm.weber-partner.de' made weber-partner.de "our domain" and hid this sender.
    assert "mailout..weber-partner.de" in suggested
    # The learned names guard as main.cf's would.
    assert unsafe_reason("mx2.example.com", analysis.server) == (
        "it is this server's own name or domain, the first name a forger uses")
