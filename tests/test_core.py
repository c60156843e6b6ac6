"""The compiled core (issue 17) against the Python reference it must never differ from.

- Every dropped line is one the Python tokenizer counts as irrelevant (and learns
  nothing from); the kept lines are exactly the Python splitter's lines, in order.
- Random and hostile input (NUL, invalid UTF-8, ``\\r``, non-ASCII digits and spaces,
  every start format, 2 MB lines, a last line without newline, chunks cut anywhere)
  gives the same sink calls and counts on both cores.
- Every bundled log, lab recording, peer log and a generated log give byte-identical
  ``analyze --format json`` with ``LOGANALYZE_CORE=python`` and with the core.
- ``test_sanitized`` builds the library with gcc's AddressSanitizer and UBSan and runs
  the random tests again on it (this file's and ``test_compiled_sessions.py``'s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loganalyze import core, parallel
from loganalyze.cli.app import app
from loganalyze.input import split as input_split
from loganalyze.input.lines import KeptLines, LineSplitter
from loganalyze.model import ALL_KINDS, SESSION_KINDS
from loganalyze.parse import Tokenizer

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
LOGS = sorted(
    [FIXTURES / "mail.log"]
    + list((FIXTURES / "lab" / "recorded").glob("*/*.log"))
    + [p for p in (FIXTURES / "formats").iterdir() if ".log" in p.name]
    + list((REPO / "tests" / "data" / "peer-logs").glob("*.log"))
)
SANITIZED = os.environ.get("LOGANALYZE_CORE", "").endswith(".so")

needs_core = pytest.mark.skipif(
    core.library() is None and not os.environ.get("LOGANALYZE_REQUIRE_CORE"),
    reason=f"{core.describe()}")


def _filter() -> core.LineFilter:
    lib = core.library()
    if lib is None:
        raise AssertionError(f"LOGANALYZE_REQUIRE_CORE is set but {core.describe()}")
    return core.LineFilter(lib)


def _blocks(data: bytes, cuts: list[int], keep: core.LineFilter | None) -> Iterator[list[str]]:
    splitter = LineSplitter(keep=keep)
    at = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        block = splitter.feed(data[at:cut])
        at = cut
        if block is not None:
            yield block.lines
    last = splitter.finish()
    if last is not None:
        yield last.lines


class _Recorder:
    """A sink that records every call, with the line number the tokenizer was at."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._tokenizer = tokenizer

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> None:
            self.calls.append((name, self._tokenizer.line_number, args))
        return call


def _scan(blocks: Iterator[list[str]], kinds: frozenset[Any]) -> tuple[list[Any], Any]:
    tokenizer = Tokenizer(year=2026, kinds=kinds)
    sink = _Recorder(tokenizer)
    lineno = 1
    for block in blocks:
        tokenizer.scan(block, lineno, sink)  # type: ignore[arg-type]
        lineno += block.total if isinstance(block, KeptLines) else len(block)
    return sink.calls, tokenizer.stats


def _same_on_both(data: bytes, cuts: list[int]) -> None:
    dense = [line for block in _blocks(data, cuts, None) for line in block]
    # The kept lines are the reference's lines, in order, at the numbers given.
    at = 0
    for block in _blocks(data, cuts, _filter()):
        assert isinstance(block, KeptLines)
        assert list(block) == [dense[at + i] for i in block.numbers]
        dropped = set(range(block.total)) - set(block.numbers)
        for i in dropped:
            reference = Tokenizer(year=2026, kinds=ALL_KINDS)
            assert reference.parse(dense[at + i]) is None
            assert reference.stats.irrelevant == 1, dense[at + i]
        at += block.total
    assert at == len(dense)
    # The filter on the bytes as they are (a last line without newline read to its end).
    kept, index, total = _filter()(data)
    assert total == len(dense)
    assert kept.count(b"\n") == len(index) <= total
    for kinds in (ALL_KINDS, SESSION_KINDS):
        assert _scan(_blocks(data, cuts, _filter()), kinds) == _scan(
            _blocks(data, cuts, None), kinds)


# Pieces of real lines (Postfix 3.7, rsyslog, journalctl) and hostile ones.
_STARTS = [
    "Nov 24 22:00:10 ", "Nov  4 22:00:10 ", "Dec 31 23:59:59.123456 ", "Jan  1 00:00:00 ",
    "2026-11-24T22:00:10.532125+00:00 ", "2026-11-24 22:00:10 ", "Tue 2026-11-24 22:00:29 UTC ",
    "1795557629.622313 ", "179555762.1 ", "1795557629622.1 ", "\x00\x00Nov 24 22:00:10 ",
    "Nov 24 2:00:10 ", "nov 24 22:00:10 ", "Nov 24 22:00:1 ", "2026-11-24T22:00:10", "",
    "Nov 24 22:00:10\t", "Nov ٢4 22:00:10 ", "２026-11-24T22:00:10Z ", "<22>1 2026-11-24T22:00:10Z ",
    "{", '{"MESSAGE": "x", "SYSLOG_IDENTIFIER": "postfix/smtpd"}',
]
_HOSTS = ["mx", "mx.example.net", "m\u00a0x", "mx\u2028", "", "mx\r", "\udcff"]
_TAGS = [
    "postfix/smtpd[123]", "postfix/submission/smtpd[9]", "policyd-spf[77]", "postfix/qmgr[5]",
    "postfix/postscreen[1]", "postfix/dnsblog[2]", "dovecot", "postfix/policy-spf[3]",
    "postfix/cleanup[4]", "smtpd[", "kernel", "CRON[1]",
]
_MESSAGES = [
    "connect from unknown[198.18.0.1]", "disconnect from a.example[198.18.0.2] ehlo=1 quit=1",
    "NOQUEUE: reject: RCPT from unknown[198.18.0.3]: 450 4.7.1 <x>: Helo command rejected: "
    "Host not found; from=<a@b.example> to=<c@example.com> proto=ESMTP helo=<x>",
    "4F1: client=a.example[198.18.0.4]", "4F1: removed", "warning: hostname x does not resolve",
    "prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.18.0.5; helo=h; "
    "envelope-from=a@b.example; receiver=<UNKNOWN>", "Anonymous TLS connection established",
    "lost connection after EHLO from unknown[198.18.0.6]", "[ID 197553 mail.info] connect from",
    "x" * 300, "smtpd[1]: connect from", "ü\xff", "",
]


def _line() -> st.SearchStrategy[str]:
    part = st.sampled_from
    wellformed = st.builds(lambda s, h, t, m: f"{s}{h} {t}: {m}", part(_STARTS), part(_HOSTS),
                           part(_TAGS), part(_MESSAGES))
    return st.one_of(wellformed, wellformed, st.text(max_size=60))


_BYTES = [b"\x00", b"\xff", b"\xc3", b"\xe2\x80", b"\r", b"\r\r", b"\xed\xa0\x80", b" "]


@st.composite
def _logs(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    lines = draw(st.lists(_line(), max_size=40))
    parts = []
    for line in lines:
        raw = line.encode("utf-8", "surrogatepass")
        if draw(st.booleans()):
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(_BYTES)) + raw[at:]
        parts.append(raw)
    data = b"\n".join(parts) + (b"" if draw(st.booleans()) else b"\n")
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=4))
    return data, cuts


@needs_core
def test_first_line_dropped() -> None:
    """A block whose first line the filter drops is still read in that line's stamp
    format (found by the random test: an RFC 3339 line of another program first)."""
    _same_on_both(b"2026-11-24T22:00:10.532125+00:00 mx postfix/qmgr[5]: connect from "
                  b"unknown[198.18.0.1]\nNov 24 22:00:10 mx postfix/smtpd[123]: connect from "
                  b"unknown[198.18.0.1]\n", [])


@needs_core
@settings(max_examples=int(os.environ.get("LOGANALYZE_CORE_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_logs())
def test_random_and_hostile_lines(log: tuple[bytes, list[int]]) -> None:
    _same_on_both(*log)


@needs_core
@pytest.mark.parametrize("line", [
    b"Nov 24 22:00:10 mx postfix/qmgr[5]: " + b"x" * (2 << 20),  # 2 MB: cut by Python
    b"Nov 24 22:00:10" + b"x" * (1 << 20) + b" mx postfix/qmgr[5]: y",  # start past the cut
    b"Nov 24 22:00:10 mx postfix/qmgr[5]: " + b"x" * ((1 << 20) - 40) + b"smtpd[1]: c",
])
@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_long_lines(line: bytes, newline: bytes) -> None:
    short = b"Nov 24 22:00:11 mx postfix/smtpd[1]: connect from a[198.18.0.1]\n"
    data = short + line + newline + short
    _same_on_both(data, [])
    _same_on_both(data, [100, (1 << 20) + 7])


def _json(log: Path, monkeypatch: pytest.MonkeyPatch, choice: str, *extra: str) -> str:
    monkeypatch.setenv("LOGANALYZE_CORE", choice)
    core.reset()
    result = CliRunner().invoke(app, ["analyze", str(log), "--no-dns", "--format", "json",
                                      "--year", "2026", "-q", *extra])
    core.reset()
    assert result.exit_code == 0, result.output
    return result.stdout


@needs_core
@pytest.mark.skipif(SANITIZED, reason="the sanitized run repeats the random test only")
@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_logs_same_json(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = os.environ.get("LOGANALYZE_CORE", "")
    assert _json(log, monkeypatch, "python") == _json(log, monkeypatch, compiled)


@needs_core
@pytest.mark.skipif(SANITIZED, reason="the sanitized run repeats the random test only")
@pytest.mark.parametrize("log", [p for p in LOGS if p.stat().st_size > 4096 and not
                                 p.name.endswith((".gz", ".json"))], ids=lambda p: p.name)
def test_logs_cut_in_ranges_same_json(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real recordings read by several workers, each range's sessions built in C
    # (sessions.c's range rules), against one sequential read on the Python core.
    reference = _json(log, monkeypatch, "python", "--jobs", "1")
    monkeypatch.setattr(input_split, "MIN_RANGE", max(1024, log.stat().st_size // 6))
    ranges: list[int] = []
    run_tasks = parallel.run_tasks

    def counted(tasks: Any, *args: Any, **kwargs: Any) -> Any:
        ranges.append(len(tasks))
        return run_tasks(tasks, *args, **kwargs)

    monkeypatch.setattr(parallel, "run_tasks", counted)
    assert _json(log, monkeypatch, "", "--jobs", "3") == reference
    assert _json(log, monkeypatch, "", "--jobs", "6") == reference
    assert len(ranges) == 2 and min(ranges) >= 3, ranges  # really cut


@needs_core
@pytest.mark.skipif(SANITIZED, reason="the sanitized run repeats the random test only")
@pytest.mark.parametrize("fmt", ["traditional", "rfc3339"])
def test_generated_log_same_json(fmt: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
    import generate_log

    log = tmp_path / "mail.log"
    generate_log.write_log(generate_log.GeneratorOptions(30_000, 3, generate_log.LogFormat(fmt)),
                           log)
    reference = _json(log, monkeypatch, "python", "--jobs", "1")
    assert reference.count('"helo"') > 10
    assert _json(log, monkeypatch, "", "--jobs", "1") == reference
    # Ranges small enough that the log is cut, at several points (each a line start).
    monkeypatch.setattr(input_split, "MIN_RANGE", log.stat().st_size // 8)
    assert _json(log, monkeypatch, "", "--jobs", "2") == reference
    assert _json(log, monkeypatch, "", "--jobs", "4") == reference


def _libasan() -> str | None:
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    found = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True,
                           text=True, check=False).stdout.strip()
    return found if os.path.isabs(found) and os.path.exists(found) else None


@pytest.mark.skipif(_libasan() is None or SANITIZED, reason="needs gcc with libasan")
def test_sanitized(tmp_path: Path) -> None:
    library = tmp_path / "sanitized.so"
    from loganalyze.core import build

    compiler = build.system_compiler()
    assert compiler is not None
    build.compile_library(compiler, library, build.SANITIZE)
    env = dict(os.environ, LOGANALYZE_CORE=str(library), LD_PRELOAD=str(_libasan()),
               PYTHONMALLOC="malloc", LOGANALYZE_REQUIRE_CORE="1",
               LOGANALYZE_CORE_EXAMPLES="100",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider",
         str(Path(__file__)), str(Path(__file__).with_name("test_compiled_sessions.py")),
         str(Path(__file__).with_name("test_report_cores.py")),
         "-k", "random or long_lines or same_sessions or caps or interleaved or split_runs"
         " or alike_on_both_cores or replayed_evidence or raw_blocks_have"],
        env=env, capture_output=True, text=True, check=False, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
