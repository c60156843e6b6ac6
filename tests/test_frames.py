"""The DataFrame API (loganalyze.frames): exact schemas, and values checked against real logs.

Inputs are the bundled sample day (fixtures/mail.log, with its DNS table
fixtures/mail.zone.json) and the reference logs recorded from Postfix 3.7
(tests/data/peer-logs). Expected values come from the library objects the
frames are built from (records, sessions, findings) and from counting lines
of the logs themselves, so a frame can neither drop nor invent a row.
"""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import io
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import loganalyze.frames as lf
from loganalyze.frames.columns import CHUNK
from loganalyze.input.files import read_lines
from loganalyze.judge.checks import check_for_reason, check_helo, dns_query_name
from loganalyze.judge.dns import DnsStatus, HostLookup, NoDnsResolver, StaticResolver
from loganalyze.judge.dns_resolver import DnsResolver
from loganalyze.model import Kind, LogRecord
from loganalyze.output import finding_record, render_helo_access
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import Analysis, AnalyzeOptions, Finding, analyze_lines
from loganalyze.postfix.config import ServerIdentity, load_identity
from loganalyze.sessions import build_sessions

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "fixtures" / "mail.log"
ZONE = REPO / "fixtures" / "mail.zone.json"
POSTFIX = REPO / "fixtures" / "postfix"
PEER = REPO / "tests" / "data" / "peer-logs"
WARN = PEER / "local_postfix-3.7.11_maillog_helo-checks-warn.log"
ENFORCE = PEER / "local_postfix-3.7.11_maillog_helo-checks-enforce-nodelay.log"
YEAR = 2026
NOW = datetime(2026, 11, 25)


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def value(x: Any) -> Any:
    """A frame cell as a plain Python value (None for NaN/NA/NaT)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return None
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, pd.Timestamp):
        return x.to_pydatetime()
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return x


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def records(path: Path) -> list[LogRecord]:
    return list(Tokenizer(year=YEAR, now=NOW).tokenize(read_lines(str(path))))


def zone_resolver() -> StaticResolver:
    """The sample day's DNS (fixtures/mail.zone.json) as a StaticResolver: A/AAAA or MX
    found, null MX, a name without those records is NODATA, an absent name NXDOMAIN."""
    zone = {name.lower(): entry for name, entry in json.loads(ZONE.read_text()).items()}
    table: dict[str, HostLookup | DnsStatus] = {}
    for name, entry in zone.items():
        while "CNAME" in entry and entry["CNAME"].lower() in zone:
            entry = zone[entry["CNAME"].lower()]
        addresses = tuple(entry.get("A", []) + entry.get("AAAA", []))
        mx = tuple(target for _, target in entry.get("MX", []))
        if addresses or (mx and mx != (".",)):
            table[name] = HostLookup(name, DnsStatus.FOUND, addresses, mx)
        elif mx == (".",):
            table[name] = DnsStatus.NULLMX
        else:
            table[name] = DnsStatus.NODATA
    return StaticResolver(table)


@pytest.fixture(scope="module")
def sample_analysis() -> Analysis:
    return lf.analyze(str(SAMPLE), year=YEAR, now=NOW, resolver=zone_resolver(),
                      postfix_config=POSTFIX)


# --- schemas ---------------------------------------------------------------------------

EXPECTED_COLUMNS = {
    "events": {
        "time": "datetime64[us]", "host": "category", "service": "category", "pid": "int32",
        "kind": "category", "client_name": "category", "client_ip": "category",
        "helo": "category", "sender": "category", "recipient": "category", "stage": "category",
        "code": "Int16", "dsn": "category", "reason": "category", "helo_check": "category",
        "warning": "bool", "queue_id": "str", "spf_result": "category",
        "spf_identity": "category", "counters": "category", "cmd_helo": "UInt32",
        "cmd_mail": "UInt32", "cmd_rcpt": "UInt32", "cmd_data": "UInt32", "cmd_total": "UInt32",
        "cmd_failed": "UInt32", "port": "UInt16", "score": "Int32", "detail": "category",
        "action": "category", "source": "category", "lineno": "int64",
    },
    "sessions": {
        "host": "category", "service": "category", "pid": "int32", "client_name": "category",
        "client_ip": "category", "start": "datetime64[us]", "end": "datetime64[us]",
        "helo": "category", "helo_sent": "boolean", "sender": "category",
        "sender_domain": "category", "senders": "int32", "recipients": "int32",
        "queued": "int32", "rejects": "int32", "reject_categories": "category",
        "helo_check": "category", "helo_checks": "category", "reply": "category",
        "rejected": "bool", "warning": "bool", "helo_required": "bool", "spf": "category",
        "spf_identity": "category", "ended_by": "category", "hostname_warning": "bool",
        "saw_connect": "bool", "saw_disconnect": "bool", "counters": "category",
    },
    "senders": {
        "client_ip": "str", "helo": "str", "client_name": "str", "sessions": "int32",
        "first_seen": "datetime64[us]", "last_seen": "datetime64[us]", "days": "int32",
        "logged_checks": "category", "rejected": "bool", "enforced_rejects": "int32",
        "temporary_rejects": "int32", "helo_required_rejects": "int32", "first_reply": "str",
        "spf": "category", "sender_domains": "str", "senders": "str", "recipients": "int32",
        "queued": "int32",
    },
    "checks": {
        "helo": "str", "invalid": "bool", "non_fqdn": "bool", "unknown": "boolean",
        "dns": "category", "check": "category", "reply": "str",
    },
    "findings": {
        "helo": "str", "client_ip": "str", "client_name": "str", "check": "category",
        "rejected": "bool", "verdict": "category", "score": "float64", "evidence": "str",
        "sessions": "int32", "first_seen": "datetime64[us]", "last_seen": "datetime64[us]",
        "spf": "category", "reply": "str", "dns": "category", "senders": "str",
        "sender_domain": "category", "suggested": "bool", "access_line": "str",
        "not_suggested_because": "str",
    },
    "suggestions": {
        "helo": "str", "client_ip": "str", "client_name": "str", "check": "category",
        "rejected": "bool", "score": "float64", "evidence": "str", "sessions": "int32",
        "first_seen": "datetime64[us]", "last_seen": "datetime64[us]", "access_line": "str",
        "access_entry": "str",
    },
}

FUNCTIONS = {
    "events": lf.read_events, "sessions": lf.sessions_frame, "senders": lf.senders_frame,
    "checks": lf.check_frame, "findings": lf.findings_frame,
    "suggestions": lf.suggestions_frame,
}


def test_columns_are_exactly_the_schemas() -> None:
    assert lf.COLUMNS == EXPECTED_COLUMNS
    assert lf.EVENT_COLUMNS is lf.COLUMNS["events"]
    assert lf.SESSION_COLUMNS is lf.COLUMNS["sessions"]
    assert lf.SENDER_COLUMNS is lf.COLUMNS["senders"]
    assert lf.CHECK_COLUMNS is lf.COLUMNS["checks"]
    assert lf.FINDING_COLUMNS is lf.COLUMNS["findings"]
    assert lf.SUGGESTION_COLUMNS is lf.COLUMNS["suggestions"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_docstring_lists_the_schema(name: str) -> None:
    """Each function's 'Schema' block names every column with its dtype, in order."""
    # getdoc: Python 3.13 strips a docstring's indentation when compiling, older ones do not.
    doc = inspect.getdoc(FUNCTIONS[name]) or ""
    block = doc.split("Schema (", 1)[1].split("::", 1)[1]
    listed = re.findall(r"^ {4}(\w+) +(\S+) {2,}\S", block, flags=re.MULTILINE)
    assert dict(listed) == lf.COLUMNS[name]
    assert [n for n, _ in listed] == list(lf.COLUMNS[name])


def test_every_record_field_is_an_event_column() -> None:
    fields = {f.name for f in dataclasses.fields(LogRecord)}
    assert fields - {"counters"} <= set(lf.EVENT_COLUMNS)  # counters: text + cmd_* columns


def test_findings_carry_every_json_report_key(sample_analysis: Analysis) -> None:
    keys = set().union(*(finding_record(f) for f in sample_analysis.findings))
    assert keys <= set(lf.FINDING_COLUMNS)


def test_empty_input_gives_empty_frames_with_the_schemas() -> None:
    no_dns: dict[str, Any] = {"no_dns": True, "server": ServerIdentity()}
    frames = {
        "events": lf.read_events(iter([])),
        "sessions": lf.sessions_frame(iter([])),
        "senders": lf.senders_frame(iter([]), **no_dns),
        "checks": lf.check_frame([], no_dns=True),
        "findings": lf.findings_frame(iter([]), **no_dns),
        "suggestions": lf.suggestions_frame(iter([]), **no_dns),
    }
    for name, frame in frames.items():
        assert len(frame) == 0, name
        assert dtypes(frame) == lf.COLUMNS[name], name


def test_only_frames_imports_pandas() -> None:
    package = REPO / "loganalyze"
    importers = {
        path.relative_to(package).parts[0] for path in sorted(package.rglob("*.py"))
        if re.search(r"^\s*(import pandas|from pandas)", path.read_text(), flags=re.MULTILINE)
    }
    assert importers == {"frames"}


# --- events ----------------------------------------------------------------------------


def event_expectation(record: LogRecord, source: str) -> dict[str, Any]:
    """What the events frame must hold for one record, derived independently."""
    helo_check = None
    if record.kind is Kind.REJECT and "Helo command rejected" in record.reason:
        check = check_for_reason(record.reason)
        helo_check = check.value if check else None
    row: dict[str, Any] = {
        "time": record.time, "host": record.host, "service": record.service,
        "pid": record.pid, "kind": record.kind.value,
        "client_name": record.client_name or None, "client_ip": record.client_ip or None,
        "helo": record.helo, "sender": record.sender, "recipient": record.recipient,
        "stage": record.stage or None, "code": record.code or None, "dsn": record.dsn or None,
        "reason": record.reason or None, "helo_check": helo_check, "warning": record.warning,
        "queue_id": record.queue_id or None, "spf_result": record.spf_result or None,
        "spf_identity": record.spf_identity or None,
        "port": getattr(record, "port", 0) or None, "score": getattr(record, "score", 0) or None,
        "detail": getattr(record, "detail", "") or None,
        "action": getattr(record, "action", "") or None,
        "source": source, "lineno": record.lineno,
    }
    counters = record.counters
    if record.kind is Kind.DISCONNECT:
        ok, total = counters["commands"]
        row.update(
            counters=" ".join(f"{k}={a}" if a == b else f"{k}={a}/{b}"
                              for k, (a, b) in counters.items()),
            cmd_helo=sum(counters[k][1] for k in ("helo", "ehlo") if k in counters),
            cmd_mail=counters.get("mail", (0, 0))[1], cmd_rcpt=counters.get("rcpt", (0, 0))[1],
            cmd_data=sum(counters[k][1] for k in ("data", "bdat") if k in counters),
            cmd_total=total, cmd_failed=total - ok,
        )
    else:
        row.update(counters=None, cmd_helo=None, cmd_mail=None, cmd_rcpt=None, cmd_data=None,
                   cmd_total=None, cmd_failed=None)
    return row


@pytest.mark.parametrize("path", [SAMPLE, WARN, ENFORCE], ids=lambda p: p.name)
def test_events_are_the_records_row_by_row(path: Path) -> None:
    events = lf.read_events(str(path), year=YEAR, now=NOW)
    expected = [event_expectation(r, str(path)) for r in records(path)]
    assert dtypes(events) == lf.EVENT_COLUMNS
    assert len(events) == len(expected) > 0
    assert rows(events) == [{k: row[k] for k in lf.EVENT_COLUMNS} for row in expected]
    tokenizer = Tokenizer(year=YEAR, now=NOW)
    for _ in tokenizer.tokenize(read_lines(str(path))):
        pass
    stats = tokenizer.stats
    assert events.attrs == {"lines": stats.lines, "matched": stats.matched,
                            "irrelevant": stats.irrelevant, "unparsed": stats.unparsed}


def test_events_of_the_warn_log_match_its_lines() -> None:
    """Postfix 3.7 in warn_if_reject mode: 70 sessions, each reject line a reject_warning."""
    text = WARN.read_text()
    events = lf.read_events(str(WARN), year=YEAR, now=NOW)
    kinds = events.kind.value_counts()
    assert kinds["connect"] == text.count(": connect from ") == 70
    assert kinds["disconnect"] == text.count(": disconnect from ") == 70
    assert kinds["client"] == text.count(": client=") == 70
    assert kinds["reject"] == text.count(": reject_warning: ") == 124
    rejects = events[events.kind == "reject"]
    assert rejects.warning.all() and not events[events.kind != "reject"].warning.any()
    assert rejects.helo_check.value_counts().to_dict() == {
        "unknown": text.count("Host not found") + text.count("Malformed DNS server reply"),
        "invalid": text.count("Invalid name") + text.count("invalid ip address"),
        "non_fqdn": text.count("need fully-qualified hostname"),
        "helo_required": 0,
    }
    first = rows(rejects.head(1))[0]
    assert first["time"] == datetime(YEAR, 11, 24, 21, 57, 58)
    assert (first["host"], first["service"], first["pid"]) == ("mx", "postfix/smtpd", 10351)
    assert (first["helo"], first["sender"], first["recipient"]) == (
        "mail.example.test.", "w2@example.org", "user@example.com")
    assert (first["stage"], first["code"], first["dsn"], first["helo_check"]) == (
        "RCPT", 450, "4.7.1", "unknown")
    assert first["lineno"] == 9  # line 1 is the '# source' header
    disconnects = events[events.kind == "disconnect"]
    assert set(disconnects.counters) == {"ehlo=1 mail=1 rcpt=1 quit=1 commands=4"}
    assert (disconnects.cmd_total == 4).all() and (disconnects.cmd_failed == 0).all()
    assert (disconnects.cmd_helo == 1).all() and (disconnects.cmd_rcpt == 1).all()
    assert list(events.host.cat.categories) == ["mx"]


# sources.open_log leaves the raw file of a compressed log open (GzipFile does not
# close a file object it was handed); remove this filter once it closes it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_events_accept_paths_lines_and_compressed_files(tmp_path: Path) -> None:
    reference = lf.read_events(str(WARN), year=YEAR)
    lines = WARN.read_text().splitlines()
    gz = tmp_path / "mail.log.1.gz"
    gz.write_bytes(gzip.compress(WARN.read_bytes()))
    same_rows = {
        "Path": lf.read_events(WARN, year=YEAR),
        "iterator": lf.read_events(iter(lines), year=YEAR),
        "file object": lf.read_events(io.StringIO(WARN.read_text()), year=YEAR),
        "gzip": lf.read_events(str(gz), year=YEAR),
    }
    columns = [c for c in lf.EVENT_COLUMNS if c != "source"]
    for how, frame in same_rows.items():
        assert rows(frame[columns]) == rows(reference[columns]), how
    assert set(same_rows["iterator"].source) == {"<lines>"}
    assert set(same_rows["gzip"].source) == {str(gz)}


def test_events_of_several_files_keep_their_source_and_line_numbers() -> None:
    one = lf.read_events(str(WARN), year=YEAR)
    two = lf.read_events(str(ENFORCE), year=YEAR)
    both = lf.read_events([WARN, str(ENFORCE)], year=YEAR)
    assert len(both) == len(one) + len(two)
    assert both.source.value_counts().to_dict() == {str(WARN): len(one), str(ENFORCE): len(two)}
    assert list(both.lineno) == list(one.lineno) + list(two.lineno)
    assert list(both.source.cat.categories) == sorted([str(WARN), str(ENFORCE)])


def test_events_categories_are_compact_and_sorted() -> None:
    events = lf.read_events(str(SAMPLE), year=YEAR)
    assert list(events.kind.cat.categories) == [k.value for k in Kind]
    assert list(events.spf_result.cat.categories[:3]) == ["pass", "neutral", "none"]
    for column in ("host", "client_ip", "helo", "reason"):
        categories = list(events[column].cat.categories)
        assert categories == sorted(categories), column
    # A category column costs its codes plus one copy of each distinct value.
    assert events.client_ip.nbytes < len(events) * 4 + 40 * events.client_ip.nunique()


def test_events_frame_scales_in_chunks() -> None:
    """More rows than one chunk: codes and masks of all chunks line up."""
    lines = SAMPLE.read_text().splitlines()
    single = lf.read_events(iter(lines), year=YEAR)
    repeats = CHUNK // len(single) + 2
    many = lf.read_events(iter(lines * repeats), year=YEAR)
    assert len(many) == len(single) * repeats > CHUNK
    assert dtypes(many) == lf.EVENT_COLUMNS
    tail = many.tail(len(single)).reset_index(drop=True)
    columns = [c for c in lf.EVENT_COLUMNS if c not in ("lineno", "time")]
    assert rows(tail[columns]) == rows(single[columns])
    assert many.memory_usage(deep=True).sum() / len(many) < 200  # bytes per event


# --- sessions --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLE, WARN, ENFORCE], ids=lambda p: p.name)
def test_sessions_are_the_helo_sessions(path: Path) -> None:
    frame = lf.sessions_frame(str(path), year=YEAR, now=NOW)
    sessions = list(build_sessions(records(path)))
    assert dtypes(frame) == lf.SESSION_COLUMNS
    assert len(frame) == len(sessions) > 0
    for row, session in zip(rows(frame), sessions, strict=True):
        assert (row["host"], row["service"], row["pid"], row["client_ip"]) == (
            session.host, session.service, session.pid, session.client_ip)
        assert (row["start"], row["end"], row["helo"]) == (
            session.start, session.end, session.helo)
        assert row["helo_sent"] == session.sent_helo
        assert row["sender"] == (session.senders[0] if session.senders else None)
        assert (row["senders"], row["recipients"], row["queued"], row["rejects"]) == (
            len(session.senders), len(session.recipients), session.queued,
            len(session.rejects))
        fired = {r.helo_check.value for r in session.helo_rejects if r.helo_check}
        if session.helo_required_reject:
            fired.add("helo_required")
        assert set((row["helo_checks"] or "").split(",")) - {""} == fired
        assert row["helo_check"] == (row["helo_checks"].split(",")[0] if fired else None)
        assert row["rejected"] == (any(not r.warning for r in session.helo_rejects)
                                   or session.helo_required_reject)
        assert row["warning"] == any(r.warning for r in session.helo_rejects)
        assert row["helo_required"] == session.helo_required_reject
        assert (row["saw_connect"], row["saw_disconnect"]) == (
            session.saw_connect, session.saw_disconnect)


def test_sessions_of_the_warn_log() -> None:
    """Every one of the 70 sessions was warned about or clean; none was rejected."""
    text = WARN.read_text()
    frame = lf.sessions_frame(str(WARN), year=YEAR)
    assert len(frame) == text.count(": connect from ") == 70
    assert frame.attrs["sessions"] == 70 and frame.attrs["without_disconnect"] == 0
    assert not frame.rejected.any()
    warned = frame[frame.warning]
    assert len(warned) == len(set(re.findall(r"reject_warning: .*?helo=<(.*)>$", text,
                                             flags=re.MULTILINE))) == 58
    assert warned.helo_checks.value_counts().to_dict() == {
        "invalid": 8, "invalid,non_fqdn,unknown": 20, "non_fqdn,unknown": 10, "unknown": 20}
    assert (frame.queued == 1).all()
    row = rows(frame[frame.helo == "mail..example.test"])[0]
    assert row["reply"] == (
        "501 5.5.2 <mail..example.test>: Helo command rejected: Invalid name")
    assert (row["sender"], row["sender_domain"], row["helo_sent"]) == (
        "w5@example.org", "example.org", True)
    assert row["reject_categories"] == "helo_invalid,helo_non_fqdn,helo_unknown"


def test_sessions_of_the_sample_day() -> None:
    text = SAMPLE.read_text()
    frame = lf.sessions_frame(str(SAMPLE), year=YEAR)
    smtpd_connects = len(re.findall(r"/smtpd\[\d+\]: connect from ", text))
    assert len(frame) == smtpd_connects
    rejected = frame[frame.rejected & frame.helo.notna()]
    helo_reject_sessions = {
        (m["pid"], m["helo"]) for m in re.finditer(
            r"smtpd\[(?P<pid>\d+)\]: NOQUEUE: reject: \S+ from \S+: \d{3} [\d.]+ <[^>]*>: "
            r"Helo command rejected: .*helo=<(?P<helo>.*)>$", text, flags=re.MULTILINE)
    }
    assert {(str(r["pid"]), r["helo"]) for r in rows(rejected)} == helo_reject_sessions
    assert frame.spf.notna().sum() > 0
    assert set(frame.sender_domain.dropna()) >= {"gmail.com"}


# --- DNS options, analysis, senders ------------------------------------------------------


def test_make_resolver_mirrors_the_cli_options(tmp_path: Path) -> None:
    assert isinstance(lf.make_resolver(no_dns=True), NoDnsResolver)
    resolver = lf.make_resolver(["127.0.0.1:5353"], no_dns_cache=True, dns_timeout=0.5,
                                dns_deadline=3)
    assert isinstance(resolver, DnsResolver)
    assert (resolver.cache, resolver.timeout, resolver.deadline) == (None, 0.5, 3)
    cached = lf.make_resolver(["127.0.0.1"], dns_cache=tmp_path / "dns.sqlite")
    assert isinstance(cached, DnsResolver) and cached.cache is not None
    assert cached.cache.path == tmp_path / "dns.sqlite"


def test_analyze_is_the_cli_analysis(sample_analysis: Analysis) -> None:
    options = AnalyzeOptions(resolver=zone_resolver(), server=load_identity(POSTFIX),
                             year=YEAR, now=NOW)
    direct = analyze_lines(read_lines(str(SAMPLE)), options)
    assert [finding_record(f) for f in sample_analysis.findings] == [
        finding_record(f) for f in direct.findings]
    assert sample_analysis.lines.lines == direct.lines.lines


def test_frames_refuse_options_with_an_analysis(sample_analysis: Analysis) -> None:
    with pytest.raises(TypeError, match="pass them to analyze"):
        lf.findings_frame(sample_analysis, no_dns=True)


def test_analyze_window() -> None:
    """A window covering the whole log changes nothing; one ending before the first
    session a HELO check rejected leaves only would-be rejections."""
    common: dict[str, Any] = {"year": YEAR, "no_dns": True, "postfix_config": POSTFIX}
    whole = lf.findings_frame(str(SAMPLE), **common)
    windowed = lf.findings_frame(str(SAMPLE), since="2000-01-01", until=datetime(2100, 1, 1),
                                 **common)
    assert rows(windowed) == rows(whole)
    sessions = lf.sessions_frame(str(SAMPLE), year=YEAR)
    first_reject = sessions[sessions.rejected].start.min()
    before = lf.analyze(str(SAMPLE), year=YEAR, no_dns=True, postfix_config=POSTFIX,
                        until=first_reject.to_pydatetime())
    assert before.sessions.sessions == (sessions.start < first_reject).sum()
    assert before.sessions.sessions < whole.attrs["sessions"]
    morning = lf.findings_frame(before)
    assert len(morning) > 0 and not morning.rejected.any()
    assert (morning.last_seen < first_reject).all()


def test_senders_are_the_traffic_senders(sample_analysis: Analysis) -> None:
    frame = lf.senders_frame(sample_analysis)
    traffic = sample_analysis.traffic.senders
    assert dtypes(frame) == lf.SENDER_COLUMNS
    assert len(frame) == len(traffic)
    assert frame.sessions.sum() == sum(s.sessions for s in traffic.values())
    assert list(frame.first_seen) == sorted(frame.first_seen)
    for row in rows(frame):
        sender = traffic[(row["client_ip"], row["helo"])]
        assert (row["sessions"], row["queued"], row["rejected"]) == (
            sender.sessions, sender.queued, sender.rejected)
        assert (row["first_seen"], row["last_seen"]) == (sender.first_seen, sender.last_seen)
        logged = {c.value for c, n in sender.logged_checks.items() if n}
        assert set((row["logged_checks"] or "").split(",")) - {""} == logged
        assert row["first_reply"] == (sender.first_reply or None)
    no_helo = frame[frame.helo == ""]
    assert len(no_helo) > 0 and (no_helo.helo_required_rejects > 0).all()


# --- checks ----------------------------------------------------------------------------


def test_check_frame_with_a_static_resolver() -> None:
    resolver = StaticResolver({
        "mail.example.com": DnsStatus.FOUND, "nodata.example.com": DnsStatus.NODATA,
        "tmp.example.com": DnsStatus.TIMEOUT, "nullmx.example.com": DnsStatus.NULLMX,
    })
    names = ["mail.example.com", "nx.example.com", "nodata.example.com", "tmp.example.com",
             "nullmx.example.com", "localhost", "[192.0.2.1]", "a..b", "mail.example.com",
             "mail.example.com."]
    frame = lf.check_frame(names, resolver=resolver)
    assert dtypes(frame) == lf.CHECK_COLUMNS
    got = {r["helo"]: (r["invalid"], r["non_fqdn"], r["unknown"], r["dns"], r["check"])
           for r in rows(frame)}
    assert got == {
        "mail.example.com": (False, False, False, "found", None),
        "nx.example.com": (False, False, True, "nxdomain", "unknown"),
        "nodata.example.com": (False, False, True, "nodata", "unknown"),
        "tmp.example.com": (False, False, None, "timeout", None),
        "nullmx.example.com": (False, False, False, "nullmx", None),
        "localhost": (False, True, True, "nxdomain", "non_fqdn"),
        "[192.0.2.1]": (False, False, False, "not_queried", None),
        "a..b": (True, True, True, "not_queried", "invalid"),
        "mail.example.com.": (False, False, True, "not_queried", "unknown"),
    }
    assert list(frame.helo) == list(dict.fromkeys(names))  # first-seen order, no repeats
    assert sorted(resolver.asked) == sorted({"mail.example.com", "nx.example.com",
                                             "nodata.example.com", "tmp.example.com",
                                             "nullmx.example.com", "localhost"})
    replies = dict(zip(frame.helo, frame.reply, strict=True))
    assert replies["localhost"] == (
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname")
    assert replies["tmp.example.com"] == (  # the deferral Postfix gives on a DNS timeout
        "450 4.7.1 <tmp.example.com>: Helo command rejected: Host not found")
    assert value(replies["[192.0.2.1]"]) is None


def test_check_frame_of_every_sample_helo_with_its_dns() -> None:
    helos = lf.sessions_frame(str(SAMPLE), year=YEAR).helo.dropna().astype(str)
    resolver = zone_resolver()
    frame = lf.check_frame(helos, resolver=resolver)
    assert len(frame) == helos.nunique()
    lookups = StaticResolver(resolver.table)
    for row in rows(frame):
        query = dns_query_name(row["helo"])
        result = check_helo(row["helo"], lookups.lookup_hosts([query])[query] if query else None)
        assert (row["invalid"], row["non_fqdn"], row["unknown"], row["dns"], row["reply"]) == (
            result.invalid, result.non_fqdn, result.unknown, result.dns, result.reply)
    assert set(frame.dns) >= {"found", "nxdomain", "not_queried"}


def test_check_frame_asks_a_real_dns_server(dns_server: Any, tmp_path: Path) -> None:
    server = dns_server({"mail.example.com": {"A": ["192.0.2.1"]}})
    cache = tmp_path / "dns.sqlite"
    frame = lf.check_frame(["mail.example.com", "gone.example.com"],
                           nameservers=[server.address], dns_cache=cache)
    assert dict(zip(frame.helo, frame.dns.astype(str), strict=True)) == {
        "mail.example.com": "found", "gone.example.com": "nxdomain"}
    assert cache.exists()


def test_check_frame_without_dns_leaves_unknown_undetermined() -> None:
    frame = lf.check_frame(["mail.example.com", "localhost", "a..b"], no_dns=True)
    assert rows(frame)[0]["unknown"] is None and rows(frame)[0]["dns"] == "skipped"
    assert list(frame.check.astype(object).where(frame.check.notna(), None)) == [
        None, "non_fqdn", "invalid"]


# --- findings and suggestions ------------------------------------------------------------


def finding_expectation(finding: Finding) -> dict[str, Any]:
    record = finding_record(finding)
    return {
        **{k: record[k] for k in ("helo", "client_ip", "client_name", "check", "rejected",
                                  "verdict", "score", "sessions", "spf", "reply", "dns",
                                  "sender_domain")},
        "evidence": "; ".join(record["evidence"]),
        "first_seen": finding.first_seen, "last_seen": finding.last_seen,
        "senders": ", ".join(record["senders"]), "suggested": finding.suggested,
        "access_line": record.get("access_line"),
        "not_suggested_because": record.get("not_suggested_because"),
    }


def test_findings_are_the_report_rows(sample_analysis: Analysis) -> None:
    frame = lf.findings_frame(sample_analysis)
    assert dtypes(frame) == lf.FINDING_COLUMNS
    assert rows(frame) == [finding_expectation(f) for f in sample_analysis.findings]
    assert len(frame) > 0
    assert frame.attrs["sessions"] == sample_analysis.sessions.sessions
    assert set(frame.verdict) == {"legitimate", "suspicious", "spam"}
    assert frame.suggested.any() and not frame.suggested.all()
    assert set(frame.dns.dropna()) & {"found", "nxdomain", "nodata"}


def test_findings_of_the_warn_log_without_dns() -> None:
    """A trial-mode log: every HELO that drew a warning is a would-be rejection."""
    frame = lf.findings_frame(str(WARN), year=YEAR, no_dns=True, server=ServerIdentity())
    sessions = lf.sessions_frame(str(WARN), year=YEAR)
    assert not frame.rejected.any()
    assert set(frame.helo) == set(sessions.helo[sessions.warning].astype(str))
    # Each sender's check is one the log shows firing for its HELO.
    fired = dict(zip(sessions.helo.astype(str), sessions.helo_checks.astype(str), strict=True))
    for helo, check in zip(frame.helo, frame.check.astype(str), strict=True):
        assert check in fired[helo].split(","), helo
    assert len(frame) == sessions.warning.sum()


def test_suggestions_are_the_helo_access_output(sample_analysis: Analysis) -> None:
    frame = lf.suggestions_frame(sample_analysis)
    assert dtypes(frame) == lf.SUGGESTION_COLUMNS
    suggested = sample_analysis.suggestions
    assert len(frame) == len(suggested) > 0
    assert list(frame.access_entry) == [f.access_line for f in suggested]
    assert "\n\n".join(frame.access_entry) + "\n" == render_helo_access(suggested)
    findings = lf.findings_frame(sample_analysis)
    assert list(frame.access_line) == list(findings.access_line[findings.suggested])
    assert all(line.endswith(" OK") for line in frame.access_line)


def test_suggestions_from_a_log_with_options(tmp_path: Path) -> None:
    """The same options as the CLI: a helo_access table that permits a sender drops it."""
    first = lf.suggestions_frame(str(SAMPLE), year=YEAR, resolver=zone_resolver(),
                                 postfix_config=POSTFIX)
    assert len(first) > 0
    table = tmp_path / "helo_access"
    table.write_text(f"{first.access_line.iloc[0]}\n")
    again = lf.suggestions_frame(str(SAMPLE), year=YEAR, resolver=zone_resolver(),
                                 postfix_config=POSTFIX, helo_access=table)
    assert list(again.helo) == list(first.helo[1:])
