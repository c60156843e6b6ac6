"""The per-client HELO-reject lines the ban cross-check judges (aggregate stage).

Bounded (the earliest :data:`KEEP_BAN_LINES` times and a count) and exact
when a log is read in parts: ``--jobs 2`` keeps what one read keeps.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from loganalyze.aggregate import ClientStats, Traffic, add_session
from loganalyze.aggregate import fold as fold_module
from loganalyze.aggregate import traffic as traffic_module
from loganalyze.input import split as input_split
from loganalyze.judge.checks import Check
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.pipeline import AnalyzeOptions, analyze_logs
from loganalyze.sessions import Reject, SmtpSession

ROOT = Path(__file__).resolve().parent.parent
LOGS = [ROOT / "fixtures" / "mail.log",
        *sorted((ROOT / "fixtures" / "lab" / "recorded").glob("*/mail*.log"))]
START = datetime(2026, 11, 24, 23, 0, 0)


Kept = tuple[dict[str, tuple[int, list[datetime]]],
             dict[tuple[str, str], tuple[list[date], list[str], datetime | None, datetime | None]]]


def _kept(path: Path, jobs: int) -> Kept:
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=jobs)
    traffic = analyze_logs([str(path)], options).traffic
    clients = {ip: (c.helo_reject_lines, c.helo_reject_times)
               for ip, c in traffic.clients.items() if c.helo_reject_lines}
    senders = {key: (sorted(s.reject_days), s.replies, s.first_refused, s.last_refused)
               for key, s in traffic.senders.items() if s.reject_days}
    return clients, senders


@pytest.mark.parametrize("path", LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_jobs_2_keeps_what_one_read_keeps(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_split, "MIN_RANGE", path.stat().st_size // 2)
    assert len(input_split.plan([str(path)], 2, input_format=input_split.InputFormat.AUTO,
                                tz=None, now=None, year=2026)) == 2  # really split
    assert _kept(path, 2) == _kept(path, 1)


def test_lines_are_the_helo_rejects_crowdsec_counts() -> None:
    clients, senders = _kept(ROOT / "fixtures" / "lab" / "recorded" / "legit-broken-helo"
                             / "mail.log", 1)
    text = (ROOT / "fixtures" / "lab" / "recorded" / "legit-broken-helo" / "mail.log").read_text()
    lines = [line for line in text.splitlines()
             if " NOQUEUE: reject: " in line and "Helo command rejected" in line]
    assert sum(count for count, _ in clients.values()) == len(lines) > 0
    # reject_warning lines are what a warn_if_reject pass writes: not counted.
    warn = ROOT / "fixtures" / "lab" / "recorded" / "legit-broken-helo" / "mail-warn.log"
    assert "reject_warning" in warn.read_text() and _kept(warn, 1) == ({}, {})
    replies = {reply for _, kept, _, _ in senders.values() for reply in kept}
    assert "450 4.7.1 <mail.acme-corp.example.>: Helo command rejected: Host not found" in replies


def _session(ip: str, at: datetime, rejects: int) -> SmtpSession:
    reject = Reject(at, "RCPT", 450, "4.7.1", "<x.example>: Helo command rejected: Host not found",
                    "a@example.net", False, Check.UNKNOWN)
    return SmtpSession("mx", "postfix/smtpd", 1, "unknown", ip, at, at, helo="x.example",
                       rejects=[reject] * rejects)


def test_bounded_to_the_earliest_lines_with_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traffic_module, "KEEP_BAN_LINES", 3)  # merge
    monkeypatch.setattr(fold_module, "KEEP_BAN_LINES", 3)  # add_session
    times = [START + timedelta(minutes=m) for m in (50, 10, 40, 0, 30, 20)]
    whole, first, second = Traffic(), Traffic(), Traffic()
    for i, at in enumerate(times):
        add_session(whole, _session("192.0.2.1", at, 1))
        add_session(first if i < 3 else second, _session("192.0.2.1", at, 1))
    first.merge(second)
    for traffic in (whole, first):
        client: ClientStats = traffic.clients["192.0.2.1"]
        assert client.helo_reject_lines == 6
        assert client.helo_reject_times == sorted(times)[:3]
