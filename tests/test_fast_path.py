"""The block-wise fast path (Tokenizer.scan -> TrafficCollector) equals the line-by-line one.

``Tokenizer.parse`` + ``SessionBuilder.feed`` + ``add_session``/``add_evidence`` is
the reference; ``Tokenizer.scan`` learns headers and time stamps from earlier
lines and sends the common lines straight to the collector. Both must give the
same line counts (with the same unparsed samples), the same sessions and the
same senders and clients, on every log we have and on damaged lines.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loganalyze.aggregate import (
    ClientStats,
    SenderStats,
    Traffic,
    TrafficCollector,
    add_evidence,
    add_session,
    collect_blocks,
)
from loganalyze.input.files import line_blocks, read_blocks, read_lines
from loganalyze.input.timeline import read_timeline, read_timeline_blocks
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.model import ALL_KINDS, EVIDENCE_KINDS, SESSION_KINDS, Kind
from loganalyze.output import render_csv, render_json, write_csv, write_json
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import AnalyzeOptions, analyze_lines, judge_traffic
from loganalyze.sessions import SessionBuilder

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
NOW = datetime(2026, 12, 1)
LOGS = sorted(
    [FIXTURES / "mail.log", *(FIXTURES / "formats").glob("day.*"),
     *(FIXTURES / "formats").glob("binary.*"), *(FIXTURES / "lab" / "recorded").glob("*/mail*.log"),
     *(REPO / "tests" / "data" / "peer-logs").glob("*.log")]
)


def _canon(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(([_canon(k), _canon(v)] for k, v in value.items()), key=repr)
    if isinstance(value, set | frozenset):
        return sorted((_canon(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return getattr(value, "value", value)


_SENDER = ["client_ip", "helo", "client_names", "client_name", "sessions", "attempts",
           "first_seen", "last_seen", "days", "logged_checks", "enforced_rejects",
           "temporary_rejects", "first_reply", "helo_required_rejects", "spf", "senders",
           "recipients", "queued", "rejected"]
_CLIENT = ["ip", "names", "name", "sessions", "queued", "rejects", "hostname_warnings",
           "temporary_hostname_warnings", "recipients", "senders", "postscreen_pass",
           "dnsbl_rank", "dnsbl_lists", "postscreen_rejects", "spf_rejects"]


def dump(tokenizer: Tokenizer, stats: Any, traffic: Traffic) -> dict[str, Any]:
    """Everything both paths compute, comparable (dict order included)."""
    lines = tokenizer.stats
    return {
        "lines": (lines.lines, lines.matched, lines.irrelevant, lines.unparsed,
                  [(u.line, u.lineno, u.why) for u in lines.samples]),
        "sessions": (stats.sessions, stats.without_connect, stats.without_disconnect,
                     stats.spf_unmatched),
        "traffic": (traffic.sessions, traffic.sessions_with_helo),
        "senders": [(key, [_canon(getattr(s, f)) for f in _SENDER])
                    for key, s in traffic.senders.items()],
        "clients": [(ip, [_canon(getattr(c, f)) for f in _CLIENT])
                    for ip, c in traffic.clients.items()],
    }


def reference(lines: Iterable[str], **options: Any) -> dict[str, Any]:
    """The line-by-line path: parse, feed, add_session/add_evidence."""
    tokenizer = Tokenizer(now=NOW, **options)
    builder = SessionBuilder()
    traffic = Traffic()
    for lineno, line in enumerate(lines, 1):
        record = tokenizer.parse(line, lineno)
        if record is None:
            continue
        if record.kind in EVIDENCE_KINDS:
            add_evidence(traffic, record)
        else:
            for session in builder.feed(record):
                add_session(traffic, session)
    for session in builder.close():
        add_session(traffic, session)
    return dump(tokenizer, builder.stats, traffic)


def fast(blocks: Iterable[list[str]], **options: Any) -> dict[str, Any]:
    """The block-wise path."""
    tokenizer = Tokenizer(now=NOW, **options)
    collector = TrafficCollector()
    collect_blocks(blocks, tokenizer, collector)
    return dump(tokenizer, collector.stats, collector.traffic)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
@pytest.mark.parametrize("kinds", [ALL_KINDS, SESSION_KINDS], ids=["all", "session"])
def test_scan_equals_parse_on_every_log(path: Path, kinds: frozenset[Kind]) -> None:
    lines = list(read_lines(str(path)))
    assert fast(read_blocks(str(path)), kinds=kinds, year=2026) == reference(
        lines, kinds=kinds, year=2026)


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_block_size_does_not_matter(size: int) -> None:
    lines = list(read_lines(str(FIXTURES / "mail.log")))
    assert fast(line_blocks(lines, size), kinds=ALL_KINDS) == reference(lines, kinds=ALL_KINDS)


@pytest.mark.parametrize("fmt", ["traditional", "rfc3339"])
def test_generated_log(fmt: str) -> None:
    lines = _generated(30_000, 5, fmt)
    result = fast(line_blocks(lines, 5000), kinds=ALL_KINDS, year=2026)
    assert result == reference(lines, kinds=ALL_KINDS, year=2026)
    assert result["lines"][3] == 0


# Lines that look like ours but are not quite, mixed into a normal log: the fast
# path learns headers and stamps from the good lines and must not accept these.
DAMAGED = [
    "", " ", "garbage", "{broken json", '{"MESSAGE": "x"}',
    "Nov 24 10:00:01 mx postfix/smtpd[77]:connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]:  connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: connect from a[192.0.2.1] extra",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: connect from a [192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[7x]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[²]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01.5 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov  4 10:00:01 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 4 10:00:01 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01  mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx\tpostfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01 <mail.info> mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: [ID 197553 mail.info] connect from a[192.0.2.1]",
    "Feb 30 10:00:01 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Xyz 24 10:00:01 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:60 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: disconnect from a[192.0.2.1]  ehlo=1",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: disconnect from a[192.0.2.1] ehlo=1 ",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: disconnect from a[192.0.2.1]:25 ehlo=1 mail=0/1",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: disconnect from a[192.0.2.1]:x ehlo=1",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: NOQUEUE: reject: RCPT from a[192.0.2.1]: odd",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: warning: client=a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: ABC12: client=a[192.0.2.1], sasl_method=PLAIN",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: ABC-12: client=a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: NOQUEUE: lost connection after RCPT from "
    "a[192.0.2.1]",
    "Nov 24 10:00:01 mx postfix/smtpd[77]: lost connection after RCPT from a[192.0.2.1] x",
    "Nov 24 10:00:01 mx postfix/postscreen[5]: CONNECT from [192.0.2.1]:5 to [192.0.2.9]:25 x",
    "Nov 24 10:00:01 mx postfix/postscreen[5]: PASS NEW [192.0.2.1]:5 extra",
    "Nov 24 10:00:01 mx postfix/postscreen[5]: DNSBL rank x for [192.0.2.1]:5",
    "Nov 24 10:00:01 mx postfix/postscreen[5]: CONNECT from []:5 to [192.0.2.9]:25",
    "Nov 24 10:00:01 mx policyd-spf[9]: prepend Received-SPF: odd",
    "Nov 24 10:00:01 mx postfix/dnsblog[9]: addr 192.0.2.1 listed by domain z",
    "Nov 24 10:00:01 mx postfix/qmgr[3]: mentions smtpd[ in passing",
    "Nov 24 10:00:01 mx postfix/qmgr[3]: " + "x" * 9000,
    "Nov 24 10:00:01 mx postfix/smtpd[77]: " + "x" * 9000,
    "Nov 24 10:00:01 mx dovecot: lmtp(1): mentions smtpd[ too",
    "Nov 24 10:00:01 mx dovecot: lmtp(1): plain",
    "2026-11-24T10:00:01+00:00 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.123456+00:00 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.123456+00:00 mx postfix/qmgr[3]: plain",
    "2026-11-24 10:00:01.123456+00:00 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.12345x+00:00 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-13-24T10:00:01.123456+00:00 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.123456+0000 mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.123456Z mx postfix/smtpd[77]: connect from a[192.0.2.1]",
    "2026-11-24T10:00:01.123456+00:00  mx postfix/smtpd[77]: connect from a[192.0.2.1]",
]


@pytest.mark.parametrize("fmt", ["syslog", "rfc3339"])
def test_damaged_lines_mixed_into_a_log(fmt: str) -> None:
    good = (list(read_lines(str(FIXTURES / "mail.log"))) if fmt == "syslog"
            else _generated(3000, 9, "rfc3339"))
    rng = random.Random(8)
    lines = list(good)
    for bad in DAMAGED * 3:
        lines.insert(rng.randrange(len(lines) + 1), bad)
    assert fast(line_blocks(lines, 500), kinds=ALL_KINDS) == reference(lines, kinds=ALL_KINDS)


def _generated(lines: int, seed: int, fmt: str) -> list[str]:
    sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
    try:
        import generate_log
    finally:
        sys.path.pop(0)
    options = generate_log.GeneratorOptions(lines, seed, generate_log.LogFormat(fmt))
    return list(generate_log.generate_lines(options)[0])


_TEMPLATES = {
    "syslog": list(read_lines(str(FIXTURES / "mail.log")))[:4000:7],
    "rfc3339": _generated(4000, 3, "rfc3339")[::7],
}
_NOISE = " :[]<>.0123456789abcXYZ\t/=;-"


@st.composite
def _mutated_logs(draw: st.DrawFn) -> list[str]:
    templates = _TEMPLATES[draw(st.sampled_from(sorted(_TEMPLATES)))]
    count = draw(st.integers(10, 120))
    start = draw(st.integers(0, len(templates) - count))
    # The same lines twice: the second time, what they taught is in the caches.
    lines = list(templates[start:start + count]) * 2
    for _ in range(draw(st.integers(0, 12))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        # Mostly in the header and the start of the message, where the fast path looks.
        position = draw(st.integers(0, min(len(line), 60)) | st.integers(0, len(line)))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        char = draw(st.sampled_from(_NOISE))
        if edit == "insert":
            line = line[:position] + char + line[position:]
        elif edit == "delete":
            line = line[:position] + line[position + 1:]
        elif edit == "replace":
            line = line[:position] + char + line[position + 1:]
        else:
            lines.insert(index, line)
        lines[index] = line
    return lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_logs(), st.integers(1, 50))
def test_scan_equals_parse_on_mutated_lines(lines: list[str], size: int) -> None:
    assert fast(line_blocks(lines, size), kinds=ALL_KINDS, year=2026) == reference(
        lines, kinds=ALL_KINDS, year=2026)


def test_analysis_is_the_same() -> None:
    """End to end on the bundled day: same findings, same report bytes."""
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, now=NOW)
    paths = [str(FIXTURES / "mail.log")]
    expected = analyze_lines(read_timeline(paths, now=NOW), options)
    tokenizer = Tokenizer(year=2026, now=NOW, kinds=ALL_KINDS)
    collector = TrafficCollector()
    collect_blocks(read_timeline_blocks(paths, now=NOW), tokenizer, collector)
    findings = judge_traffic(collector.traffic, options).findings
    assert render_json(findings) == render_json(expected.findings)
    assert render_csv(findings) == render_csv(expected.findings)


def test_streamed_json_and_csv_are_the_render_functions() -> None:
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, now=NOW)
    analysis = analyze_lines(read_lines(str(FIXTURES / "mail.log")), options)
    from loganalyze.output import finding_record

    records = [finding_record(f) for f in analysis.findings]
    assert render_json(analysis.findings) == json.dumps(
        records, indent=2, ensure_ascii=False) + "\n"
    assert render_json([]) == "[]\n"
    out = io.StringIO()
    write_json(iter(analysis.findings), out)
    assert out.getvalue() == render_json(analysis.findings)
    out = io.StringIO()
    write_csv(iter(analysis.findings), out)
    assert out.getvalue() == render_csv(analysis.findings)


def test_collector_counts_like_feed_and_discard() -> None:
    builder = SessionBuilder()
    t = datetime(2026, 11, 24, 10, 0, 0)
    builder.connect(t, "mx", "postfix/smtpd", 1, "a.example", "192.0.2.1")
    assert builder.discard(("mx", "postfix/smtpd", 1)) is not None
    builder.spf(t, "mx", "192.0.2.1", "a.example", "x@a.example", "pass", "mailfrom")
    assert builder.stats.spf_unmatched == 1  # the discarded session is not attached to
    assert list(builder.close()) == []


def test_merge_adds_up() -> None:
    first, second = Traffic(), Traffic()
    for traffic, names, day in ((first, ["a", "a"], 24), (second, ["a", "b"], 25)):
        collector = TrafficCollector(traffic)
        for n, name in enumerate(names):
            t = datetime(2026, 11, day, 10, n)
            collector.connect(t, "mx", "postfix/smtpd", n, name, "192.0.2.1")
            collector.reject(t, "mx", "postfix/smtpd", n, name, "192.0.2.1", "helo", "s@x",
                             f"r{day}{n}@y", "RCPT", 450, "4.7.1",
                             "<helo>: Helo command rejected: Host not found", False)
            collector.disconnect(t, "mx", "postfix/smtpd", n, name, "192.0.2.1", {})
        collector.postscreen_pass(datetime(2026, 11, day, 11), "192.0.2.1")
        collector.dnsbl_listed(datetime(2026, 11, day, 11), "192.0.2.1", f"list{day}.example")
        collector.finish()
    first.merge(second)
    sender = first.senders[("192.0.2.1", "helo")]
    client = first.clients["192.0.2.1"]
    assert (first.sessions, sender.sessions, client.sessions) == (4, 4, 4)
    assert sender.client_names == Counter({"a": 3, "b": 1}) == client.names
    assert sender.client_name == client.name == "a"
    assert len(sender.days) == 2 and len(sender.attempts) == 4
    assert sender.recipients == {"r240@y", "r241@y", "r250@y", "r251@y"}
    assert sender.logged_checks and sender.enforced_rejects == 4
    assert client.postscreen_pass == 2 and client.dnsbl_lists == {"list24.example",
                                                                   "list25.example"}


def test_empty_aggregates_read_like_fields() -> None:
    client, sender = ClientStats("192.0.2.1"), SenderStats("192.0.2.1", "h")
    assert client.name == sender.client_name == "unknown"
    assert client.names == Counter() and client.rejects["rbl"] == 0
    assert client.recipients == client.senders == client.dnsbl_lists == set()
    assert sender.days == set() and sender.spf == Counter() and not sender.logged_checks
    assert sender.senders == sender.recipients == set() and not sender.rejected


def test_tokenizer_import_is_light() -> None:
    code = ("import sys, loganalyze, loganalyze.parse, loganalyze.input.timeline; "
            "print(any(m == 'dns' or m.startswith(('dns.', 'publicsuffixlist', 'pandas')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "False"
