"""The same day of log in every source format gives the same records, sessions and report.

Fixtures: fixtures/formats/ (see its README): one day of real Postfix 3.7.11 log
lines, written out by rsyslogd (RFC 3339), journald + journalctl (JSON and the
short modes) and gzip/bzip2/xz by make_formats.py. All stamps are the same wall
clock in UTC, so the journal's epoch stamps are shown in UTC (tz).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loganalyze.cli.app import app
from loganalyze.compat import UTC
from loganalyze.input.files import read_lines
from loganalyze.input.timeline import order_inputs, read_timeline
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.model import ALL_KINDS, InputFormat
from loganalyze.output import render_json
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import AnalyzeOptions, analyze_lines
from loganalyze.sessions import SessionStats, build_sessions

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
NOW = datetime(2026, 11, 24, 23, 0, 0)
BASE = "day.log"
VARIANTS = {
    "day.rfc3339.log": InputFormat.RFC3339,
    "day.journal.json": InputFormat.JOURNAL_JSON,
    "day.log.gz": InputFormat.SYSLOG,
    "day.short-precise.log.bz2": InputFormat.SYSLOG,
    "day.short-iso.log.xz": InputFormat.RFC3339,
    "day.short-iso-precise.log.gz": InputFormat.RFC3339,
    "day.short-full.log.gz": InputFormat.JOURNAL_FULL,
    "day.short-unix.log.gz": InputFormat.JOURNAL_UNIX,
}
ACCEPTANCE = ["day.log", "day.rfc3339.log", "day.journal.json", "day.log.gz"]


def records(name: str, **options: Any) -> tuple[list[tuple[Any, ...]], Tokenizer]:
    tokenizer = Tokenizer(now=NOW, tz=UTC, kinds=ALL_KINDS, **options)
    found = [dataclasses.astuple(r) for r in tokenizer.tokenize(read_lines(str(FORMATS / name)))]
    return found, tokenizer


@pytest.fixture(scope="module")
def base() -> list[tuple[Any, ...]]:
    found, tokenizer = records(BASE)
    stats = tokenizer.stats
    assert stats.unparsed == 0 and stats.lines == 1030 and stats.matched > 900
    return found


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_format_gives_the_same_records(name: str, base: list[tuple[Any, ...]]) -> None:
    found, tokenizer = records(name)
    assert tokenizer.stats.unparsed == 0, tokenizer.stats.samples[:3]
    assert found == base


@pytest.mark.parametrize("name,fmt", list(VARIANTS.items()))
def test_format_is_detected_and_can_be_forced(
    name: str, fmt: InputFormat, base: list[tuple[Any, ...]]
) -> None:
    [item] = order_inputs([str(FORMATS / name)], tz=UTC, now=NOW)
    assert item.input_format is fmt
    assert item.first_time == datetime(2026, 11, 24, 21, 57, 58)
    assert records(name, input_format=fmt)[0] == base


def _sessions(name: str) -> tuple[list[Any], SessionStats]:
    stats = SessionStats()
    tokenizer = Tokenizer(now=NOW, tz=UTC)
    found = list(build_sessions(tokenizer.tokenize(read_lines(str(FORMATS / name))), stats))
    return found, stats


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_format_gives_the_same_sessions(name: str) -> None:
    expected, expected_stats = _sessions(BASE)
    assert len(expected) > 200 and any(s.helo_rejects for s in expected)
    found, stats = _sessions(name)
    assert found == expected
    assert stats == expected_stats


def _report(name: str) -> str:
    with _utc():  # the session's epoch stamps in the local zone = UTC
        analysis = analyze_lines(read_lines(str(FORMATS / name)),
                                 AnalyzeOptions(resolver=NoDnsResolver(), now=NOW))
    return render_json(analysis.findings)


class _utc:
    """Run with TZ=UTC (journal epochs in local time equal the UTC wall clock)."""

    def __enter__(self) -> None:
        self._old = os.environ.get("TZ")
        os.environ["TZ"] = "UTC"
        time.tzset()

    def __exit__(self, *exc: object) -> None:
        if self._old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = self._old
        time.tzset()


@pytest.mark.parametrize("name", ACCEPTANCE[1:] + ["day.short-full.log.gz"])
def test_every_format_gives_the_same_findings(name: str) -> None:
    expected = _report(BASE)
    assert expected.count('"helo"') > 20
    assert _report(name) == expected


@pytest.fixture
def utc_zone() -> Iterator[None]:
    with _utc():
        yield


def test_analyze_json_output_is_identical_for_the_four_forms(utc_zone: None) -> None:
    outputs = {}
    for name in ACCEPTANCE:
        result = CliRunner().invoke(
            app, ["analyze", "--format", "json", "--no-dns", "--quiet", "--year", "2026",
                  str(FORMATS / name)],
        )
        assert result.exit_code == 0, result.stderr
        outputs[name] = result.stdout
    assert len(set(outputs.values())) == 1, [len(v) for v in outputs.values()]
    assert outputs["day.log"].count('"helo"') > 20


def test_a_message_that_is_not_utf8_reads_the_same_from_journal_and_file() -> None:
    # journalctl -o json writes it as a list of byte values, -o short --all as raw bytes.
    from_json, _ = records("binary.journal.json")
    from_text, _ = records("binary.log")
    assert from_json == from_text and len(from_json) == 3
    assert from_json[1][7] == "caf\ufffd"  # LogRecord.helo


def test_rotated_day_in_mixed_formats_reads_as_one_timeline(
    tmp_path: Path, base: list[tuple[Any, ...]]
) -> None:
    import gzip
    import lzma

    lines = {name: list(read_lines(str(FORMATS / name))) for name in
             ("day.journal.json", "day.rfc3339.log", "day.log")}
    (tmp_path / "mail.log.2.gz").write_bytes(
        gzip.compress(("\n".join(lines["day.journal.json"][:400]) + "\n").encode()))
    (tmp_path / "mail.log.1").write_bytes(
        lzma.compress(("\n".join(lines["day.rfc3339.log"][400:800]) + "\n").encode()))
    (tmp_path / "mail.log").write_text("\n".join(lines["day.log"][800:]) + "\n")
    names = [str(tmp_path / n) for n in ("mail.log", "mail.log.2.gz", "mail.log.1")]
    tokenizer = Tokenizer(now=NOW, tz=UTC, kinds=ALL_KINDS)
    found = [dataclasses.astuple(r) for r in tokenizer.tokenize(
        read_timeline(names, tz=UTC, now=NOW))]
    assert found == base
