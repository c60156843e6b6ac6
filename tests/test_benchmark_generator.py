"""The benchmark's log generator: deterministic, parseable, and the mix it claims.

The generator (``tests/benchmarks/generate_log.py``) reports what it wrote:
how many sessions of each kind, which HELO checks their rejects name, how
many distinct senders.  A small log must parse with zero unparsed lines, and
the tool's own tokenizer and session builder must find exactly those numbers.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from loganalyze.parse import Tokenizer
from loganalyze.sessions import SessionBuilder, SmtpSession


def _load_generator() -> ModuleType:
    # Loaded by path: tests/benchmarks is a directory of scripts, not a package.
    path = Path(__file__).parent / "benchmarks" / "generate_log.py"
    spec = importlib.util.spec_from_file_location("benchmark_generate_log", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = _load_generator()

LINES = 20_000


def _sessions(lines: Iterable[str]) -> tuple[Tokenizer, list[SmtpSession]]:
    tokenizer = Tokenizer(year=2026)
    builder = SessionBuilder()
    sessions: list[SmtpSession] = []
    for lineno, line in enumerate(lines, 1):
        record = tokenizer.parse(line, lineno)
        if record is not None:
            sessions.extend(builder.feed(record))
    sessions.extend(builder.close())
    return tokenizer, sessions


@pytest.fixture(scope="module", params=list(gen.LogFormat))
def small_log(request: pytest.FixtureRequest) -> tuple[list[str], object]:
    return gen.generate_lines(gen.GeneratorOptions(LINES, seed=7, fmt=request.param))


def test_deterministic() -> None:
    options = gen.GeneratorOptions(3000, seed=11)
    first, stats = gen.generate_lines(options)
    again, _ = gen.generate_lines(options)
    other, _ = gen.generate_lines(gen.GeneratorOptions(3000, seed=12))
    assert first == again
    assert first != other
    assert len(first) == stats.lines == 3000


def test_gzip_output_is_the_same_log(tmp_path: Path) -> None:
    options = gen.GeneratorOptions(2000, seed=5)
    plain, _ = gen.generate_lines(options)
    stats = gen.write_log(options, tmp_path / "mail.log.gz", compress=True)
    with gzip.open(tmp_path / "mail.log.gz", "rt", encoding="utf-8") as fh:
        assert fh.read().splitlines() == plain
    assert stats.bytes == sum(len(line) + 1 for line in plain)


def test_every_line_parses(small_log: tuple[list[str], object]) -> None:
    lines, stats = small_log
    tokenizer, _ = _sessions(lines)
    assert tokenizer.stats.lines == len(lines) == stats.lines
    assert tokenizer.stats.unparsed == 0, tokenizer.stats.samples[:3]
    assert tokenizer.stats.matched > len(lines) // 5
    assert 130 < stats.bytes / stats.lines < 170


def test_timestamps_never_go_backwards() -> None:
    lines, _ = gen.generate_lines(gen.GeneratorOptions(5000, seed=3, fmt=gen.LogFormat.RFC3339))
    stamps = [line.split(" ", 1)[0] for line in lines]
    assert stamps == sorted(stamps)
    assert stamps[0].startswith("2026-11-24T00:") and stamps[-1].startswith("2026-11-24T23:")


def test_mix_of_session_kinds(small_log: tuple[list[str], object]) -> None:
    lines, stats = small_log
    # Every kind of traffic is there, and the HELO rejects of each check.
    assert set(stats.sessions) == set(gen.SessionKind), set(gen.SessionKind) - set(stats.sessions)
    assert set(stats.helo_checks) == {"invalid", "non_fqdn", "unknown"}
    assert stats.truncated <= 1
    text = "\n".join(lines)
    for needle in (
        "postfix/postscreen[", "PASS NEW", "PASS OLD", "DNSBL rank", "postfix/dnsblog[",
        "PREGREET", "HANGUP", "DISCONNECT [", "postfix/cleanup[", "postfix/qmgr[",
        ": removed", "postfix/lmtp[", "postfix/local[", "postfix/virtual[", "postfix/smtp[",
        "status=sent", "status=deferred", "status=bounced", "postfix/bounce[",
        "postfix/pickup[", "postfix/anvil[", "policyd-spf[", ": prepend Received-SPF: ",
        "reject_warning: RCPT", "lost connection after", "timeout after",
        "does not resolve to address", "SASL LOGIN authentication failed",
        "postfix/submission/smtpd[", "sasl_method=PLAIN", "postfix/master[",
    ):
        assert needle in text, needle


def test_tool_sees_the_sessions_the_generator_wrote(small_log: tuple[list[str], object]) -> None:
    lines, stats = small_log
    _, sessions = _sessions(lines)
    complete = [s for s in sessions if s.saw_connect and s.saw_disconnect]
    slack = stats.truncated  # the one unit the end of the log may cut
    assert abs(len(complete) - stats.smtpd_sessions) <= slack
    assert len(sessions) - len(complete) <= slack

    checks: Counter[str] = Counter()
    for session in complete:
        for check in {r.helo_check for r in session.helo_rejects if r.helo_check}:
            checks[check.value] += 1
    for name in ("invalid", "non_fqdn", "unknown"):
        assert abs(checks[name] - stats.helo_checks[name]) <= slack, name

    senders = {(s.client_ip, s.helo) for s in complete if s.helo is not None}
    assert abs(len(senders) - stats.senders) <= slack

    # Sessions refused for one other reason only, by the tool's reject categories.
    only: Counter[str] = Counter()
    for session in complete:
        categories = {r.category for r in session.rejects if not r.warning}
        if len(categories) == 1 and not session.queued:
            only[categories.pop()] += 1
    kinds = stats.sessions
    expected = {
        "rbl": kinds["rbl"], "relay": kinds["relay_denied"], "spf": kinds["spf_reject"],
        "client": kinds["client_reject"], "sender": kinds["sender_reject"],
        "user_unknown": kinds["user_unknown"],
    }
    for category, count in expected.items():
        assert abs(only[category] - count) <= slack, category
    timeouts = sum(1 for s in complete if s.ended_by.startswith("timeout"))
    assert abs(timeouts - kinds["timeout"]) <= slack


def test_senders_grow_sub_linearly() -> None:
    _, small = gen.generate_lines(gen.GeneratorOptions(10_000, seed=2))
    _, large = gen.generate_lines(gen.GeneratorOptions(40_000, seed=2))
    clients_small = sum(small.clients.values())
    clients_large = sum(large.clients.values())
    assert clients_large < 3.5 * clients_small
    assert large.senders < 3.5 * small.senders


def test_botnet_day_has_many_more_distinct_clients_and_helos() -> None:
    """``--mix botnet``: the same line shapes, and about twice the distinct clients,
    senders and HELOs of the default day at 20k lines (5x at 1M, 7x at 5M)."""
    botnet_lines, botnet = gen.generate_lines(
        gen.GeneratorOptions(20_000, seed=2, mix=gen.TrafficMix.BOTNET))
    default_lines, default = gen.generate_lines(gen.GeneratorOptions(20_000, seed=2))
    assert sum(botnet.clients.values()) > 1.7 * sum(default.clients.values())
    assert botnet.senders > 1.7 * default.senders and botnet.helos > 1.4 * default.helos
    tokenizer, botnet_sessions = _sessions(botnet_lines)
    assert tokenizer.stats.unparsed == 0, tokenizer.stats.samples[:3]
    _, default_sessions = _sessions(default_lines)
    seen = {s.client_ip for s in botnet_sessions}
    assert len(seen) > 1.5 * len({s.client_ip for s in default_sessions})
