"""One pipeline (issue 20): every way from a log to findings gives the same findings.

For every bundled log, the recordings of the real Postfix 3.7 in fixtures/lab and
the real lines in tests/data/peer-logs:

- ``analyze_logs`` (what ``analyze`` runs) and ``analyze --format json``,
- the first ``run_report`` on a fresh state (what ``loganalyze report`` runs) and
  the first ``loganalyze report --format json``,
- ``findings_frame(analyze(...))``, without and with a ``since``/``until`` window
  covering the whole log,
- ``--jobs 2`` and ``--jobs 4`` with ranges small enough that the log is split,

must give, for every sender, the same check, sessions, verdict, score, evidence,
SPF result, DNS outcome and suggestion. (The report alone holds back the sessions
still open at the end of a log, for its next run: the peer logs' collections of
sample lines end inside sessions.) The DNS answers come from a real DNS
server on 127.0.0.1 serving the log's zone table (or none: every name NXDOMAIN).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loganalyze import frames
from loganalyze.cli.app import app
from loganalyze.daily.records import DailyReport
from loganalyze.daily.run import ReportSettings, run_report
from loganalyze.input import split as input_split
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.output import finding_record
from loganalyze.output.records import iso_seconds
from loganalyze.pipeline import AnalyzeOptions, Finding, analyze_logs
from loganalyze.postfix.config import load_identity

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
PEER_LOGS = REPO / "tests" / "data" / "peer-logs"
NOW = datetime(2026, 12, 1, 12, 0)

LOGS = sorted(
    [FIXTURES / "mail.log"]
    + list((FIXTURES / "lab" / "recorded").glob("*/*.log"))
    + [p for p in (FIXTURES / "formats").iterdir() if ".log" in p.name or ".json" in p.name]
    + list(PEER_LOGS.glob("*.log"))
)
# The fields that must agree: everything a finding says about its sender.
FIELDS = ("check", "rejected", "sessions", "verdict", "score", "evidence", "spf", "dns",
          "first_seen", "last_seen", "access_line", "not_suggested_because")


def _zones(log: Path) -> dict[str, Any]:
    """The DNS of a log: a lab scenario's zones.json, the bundled day's mail.zone.json."""
    table = FIXTURES / "mail.zone.json" if log == FIXTURES / "mail.log" else (
        log.parent / "zones.json")
    zones: dict[str, Any] = json.loads(table.read_text()) if table.exists() else {}
    return zones


def _config(log: Path, tmp_path: Path) -> Path:
    """The Postfix configuration a log is analyzed with: the bundled one for the bundled
    day, else an empty main.cf (not this machine's /etc/postfix)."""
    if log.parent == FIXTURES:
        return FIXTURES / "postfix"
    (tmp_path / "postfix").mkdir(exist_ok=True)
    (tmp_path / "postfix" / "main.cf").write_text("")
    return tmp_path / "postfix"


def _cli_rows(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The same fields from the JSON the commands print."""
    rows = {}
    for record in records:
        record = dict(record, evidence="; ".join(record["evidence"]))
        rows[(record["client_ip"], record["helo"])] = {k: record.get(k) for k in FIELDS}
    return rows


def _rows(findings: list[Finding]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = {}
    for finding in findings:
        record = finding_record(finding)
        record["evidence"] = "; ".join(record["evidence"])
        record.setdefault("access_line", None)
        record.setdefault("not_suggested_because", None)
        rows[(finding.client_ip, finding.helo)] = {k: record[k] for k in FIELDS}
    return rows


def _frame_rows(frame: Any) -> dict[tuple[str, str], dict[str, Any]]:
    rows = {}
    for item in frame.to_dict("records"):
        row = {}
        for name in FIELDS:
            value = item[name]
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "isoformat"):
                value = iso_seconds(value)  # as every output writes it
            elif hasattr(value, "item"):
                value = value.item()
            row[name] = value
        rows[(item["client_ip"], item["helo"])] = row
    return rows


def _label(log: Path) -> str:
    return str(log.relative_to(REPO))


@pytest.mark.parametrize("log", LOGS, ids=_label)
def test_every_path_gives_the_same_findings(
    log: Path, dns_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = dns_server(_zones(log)).address
    config = _config(log, tmp_path)
    server = load_identity(config)

    def options(jobs: int = 1) -> AnalyzeOptions:
        return AnalyzeOptions(resolver=DnsResolver([address], timeout=0.5, deadline=20),
                              server=server, year=2026, now=NOW, jobs=jobs)

    paths = [str(log)]
    reference = analyze_logs(paths, options())
    assert reference.lines.unparsed == 0 or log.parent == PEER_LOGS, reference.lines.samples
    expected = _rows(reference.findings)

    reports: list[DailyReport] = []
    run_report(paths, tmp_path / "state.sqlite", ReportSettings(options(), now=NOW),
               reports.append)
    report = reports[0]
    from_report = _rows([row.finding for row in report.senders])
    # The report keeps the sessions still open at the end of the log for the next
    # run (they may go on in lines not yet written); analyze cuts them off.
    assert report.sessions + report.held == reference.sessions.sessions
    if report.held == 0:
        assert from_report == expected, "loganalyze report differs from analyze"
    else:  # the sample collections in the peer logs: fragments of sessions
        assert set(from_report) <= set(expected)
        for key, row in from_report.items():
            assert row["sessions"] <= expected[key]["sessions"], key
            if row["sessions"] == expected[key]["sessions"]:
                assert row == expected[key], key

    # The commands: the same, in the JSON an admin's script reads.
    common = ["--format", "json", "--year", "2026", "--nameserver", address,
              "--dns-timeout", "0.5", "--no-dns-cache", "--postfix-config", str(config)]
    ran = CliRunner().invoke(app, ["analyze", str(log), *common])
    assert ran.exit_code == 0, ran.output
    assert _cli_rows(json.loads(ran.stdout)) == expected, "analyze --format json differs"
    ran = CliRunner().invoke(app, ["report", str(log), "--state", str(tmp_path / "cli.sqlite"),
                                   "--always", *common])
    assert ran.exit_code == 0, ran.output
    printed = json.loads(ran.stdout)
    assert printed["sessions"] == report.sessions
    assert _cli_rows(printed["senders"]) == from_report, "report --format json differs"

    def frame(**window: Any) -> dict[tuple[str, str], dict[str, Any]]:
        analysis = frames.analyze(log, year=2026, now=NOW, server=server,
                                  resolver=DnsResolver([address], timeout=0.5, deadline=20),
                                  **window)
        return _frame_rows(frames.findings_frame(analysis))

    assert frame() == expected, "findings_frame(analyze(...)) differs from analyze"
    whole_log = {"since": datetime(1970, 1, 2), "until": datetime(2100, 1, 1)}
    assert frame(**whole_log) == expected, "a since/until window over the whole log differs"

    # Ranges of a few kB: every log here is split among the workers.
    monkeypatch.setattr(input_split, "MIN_RANGE", max(512, log.stat().st_size // 8))
    for jobs in (2, 4):
        split = analyze_logs(paths, options(jobs))
        assert _rows(split.findings) == expected, f"--jobs {jobs} differs from analyze"
