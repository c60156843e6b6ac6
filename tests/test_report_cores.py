"""The daily report on both cores: the same sessions (with their first lines), cursors,
evidence and report, run after run, over growing, rotated and truncated logs.

The compiled core reads the report's lines when it can (a file source, an open window,
no ``until``: :func:`loganalyze.daily.resume.read_sessions`); the Python core is the
reference. Each case is played twice, in fresh directories, once per core.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loganalyze import core
from loganalyze.aggregate import Traffic, TrafficCollector
from loganalyze.daily.resume import read_sessions
from loganalyze.input.cursors import FileLog
from loganalyze.input.lines import RawLines
from loganalyze.input.positions import Cursor
from loganalyze.model import ALL_KINDS
from loganalyze.parse import Tokenizer

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from logrotate import shift_numbered
    from test_compiled_sessions import NOW, _log, _state
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.logrotate import shift_numbered
    from tests.test_compiled_sessions import NOW, _log, _state

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@contextmanager
def _core(choice: str) -> Iterator[list[bool]]:
    """Run on the core ``choice`` (as ``LOGANALYZE_CORE``); yields, one per
    read_sessions, whether the compiled builder held its sessions."""
    saved = os.environ.get(core.ENV)
    # "compiled": the library this run was given (the sanitizer test's), else the built one
    os.environ[core.ENV] = (saved if choice == "compiled" and saved and saved.endswith(".so")
                            else choice)
    core.reset()
    used: list[bool] = []
    open_count = TrafficCollector.open_count

    def noting(collector: TrafficCollector) -> int:
        used.append(collector.compiled is not None)
        return open_count(collector)

    TrafficCollector.open_count = noting  # type: ignore[method-assign]
    try:
        yield used
    finally:
        TrafficCollector.open_count = open_count  # type: ignore[method-assign]
        if saved is None:
            os.environ.pop(core.ENV, None)
        else:
            os.environ[core.ENV] = saved
        core.reset()


# What happens between two runs: bytes appended (up to a cut of the log), a rotation.
Step = tuple[str, int]


def _play(directory: Path, data: bytes, steps: Sequence[Step],
          until: datetime | None = None) -> list[Any]:
    """Cron-like runs of read_sessions over ``data`` written in ``steps``; what each run
    gave (sessions, evidence, cursor, counts)."""
    log = directory / "mail.log"
    log.touch()
    record: dict[str, Any] | None = None
    written = 0
    out: list[Any] = []
    for action, cut in steps:
        if action == "append":
            cut = max(cut, written)
            with open(log, "ab") as f:
                f.write(data[written:cut])
            written = cut
            continue
        if action == "rename":
            shift_numbered(log)
            log.rename(directory / "mail.log.1")
            log.touch()
            continue
        if action == "copytruncate":
            shift_numbered(log)
            shutil.copyfile(log, directory / "mail.log.1")
            with open(log, "r+b") as f:
                f.truncate(0)
            continue
        cursor = Cursor.from_record(record) if record is not None else None
        sessions: list[Any] = []
        traffic = Traffic()
        new, stats = read_sessions(FileLog(log, cursor), Tokenizer(now=NOW, kinds=ALL_KINDS), sessions.append,
                                   traffic=traffic, until=until)
        record = json.loads(json.dumps(new.to_record()))
        record["updated"] = datetime(2000, 1, 1).isoformat()
        held = [(p["off"], p["n"]) for p in record["held"]]
        out.append((sessions, [(ip, _state(c)) for ip, c in traffic.clients.items()],
                    {k: v for k, v in record.items() if k not in ("source", "device", "inode", "held")},
                    held, stats.lines_read, stats.replayed, stats.sessions, stats.held,
                    stats.warnings))
    return out


def _both(data: bytes, steps: Sequence[Step], until: datetime | None = None) -> None:
    results = []
    for choice in ("python", "compiled"):
        with tempfile.TemporaryDirectory() as name, _core(choice) as used:
            results.append(_play(Path(name), data, steps, until))
        runs = sum(action == "run" for action, _ in steps)
        assert used == [choice == "compiled" and until is None] * runs, used
    python, compiled = results
    assert len(python) == len(compiled)
    for number, (p, c) in enumerate(zip(python, compiled, strict=True)):
        assert p == c, f"run {number + 1} differs"


@st.composite
def _steps(draw: st.DrawFn, size: int) -> list[Step]:
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 6))):
        steps.append(("append", draw(st.integers(0, size))))
        if not draw(st.integers(0, 3)):
            steps.append((draw(st.sampled_from(["rename", "copytruncate"])), 0))
            if draw(st.booleans()):
                steps.append(("append", draw(st.integers(0, size))))
        steps.append(("run", 0))
    steps += [("append", size), ("run", 0)]
    return steps


@st.composite
def _case(draw: st.DrawFn) -> tuple[bytes, list[Step]]:
    data, _ = draw(_log())
    return data, draw(_steps(len(data)))


@settings(max_examples=int(os.environ.get("LOGANALYZE_CORE_EXAMPLES", "150")) // 3,
          deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(_case())
def test_report_reads_alike_on_both_cores(case: tuple[bytes, list[Step]]) -> None:
    _both(*case)


def _fixture() -> bytes:
    return (FIXTURES / "mail.log").read_bytes()


def _cuts(data: bytes, parts: int) -> list[int]:
    """``parts`` cut points of ``data``, some inside a line."""
    return [len(data) * k // parts + (k % 3) * 7 for k in range(1, parts)] + [len(data)]


@pytest.mark.parametrize("rotate", ["", "rename", "copytruncate"])
def test_fixture_in_runs_alike_on_both_cores(rotate: str) -> None:
    data = _fixture()
    steps: list[Step] = []
    for k, cut in enumerate(_cuts(data, 7)):
        steps.append(("append", cut))
        if rotate and k == 3:
            steps.append((rotate, 0))
        steps.append(("run", 0))
    _both(data, steps)


def test_until_stays_on_python() -> None:
    data = _fixture()
    _both(data, [("append", len(data)), ("run", 0)], until=datetime(2026, 8, 16, 12, 0))


def _reports(choice: str, runner: Callable[[Path, Path, datetime], str]) -> list[str]:
    data = _fixture()
    outputs = []
    with tempfile.TemporaryDirectory() as name, _core(choice) as used:
        directory = Path(name)
        log, state = directory / "mail.log", directory / "state.sqlite"
        written = 0
        for k, cut in enumerate(_cuts(data, 4)):
            with open(log, "ab") as f:
                f.write(data[written:cut])
            written = cut
            if k == 2:
                shift_numbered(log)
                log.rename(directory / "mail.log.1")
                log.touch()
            outputs.append(runner(log, state, datetime(2026, 8, 17, 6, 15 + k)))
    assert used and all(used) == (choice == "compiled"), used
    return outputs


def test_report_output_alike_on_both_cores() -> None:
    from loganalyze.daily.run import ReportSettings, run_report
    from loganalyze.judge.dns import NoDnsResolver
    from loganalyze.output import ReportFormat
    from loganalyze.output.daily import render
    from loganalyze.pipeline import AnalyzeOptions
    from loganalyze.postfix.config import load_identity

    def run(log: Path, state: Path, now: datetime) -> str:
        reports: list[Any] = []
        options = AnalyzeOptions(resolver=NoDnsResolver(),
                                 server=load_identity(FIXTURES / "postfix"), year=2026)
        run_report([str(log)], state, ReportSettings(options, now=now),
                   reports.append)
        return "".join(render(report, ReportFormat.JSON) for report in reports)

    python, compiled = _reports("python", run), _reports("compiled", run)
    assert all(python)
    assert python == compiled


def test_replayed_evidence_is_dropped_in_c() -> None:
    """count_evidence(False) reaches the C builder: the evidence the scanner reads then
    never leaves it (not only dropped by the collector afterwards)."""
    lines = (b"Aug 16 10:00:00 mx postfix/postscreen[7]: CONNECT from [192.0.2.1]:4000 "
             b"to [192.0.2.25]:25\n"
             b"Aug 16 10:00:00 mx postfix/postscreen[7]: PASS NEW [192.0.2.1]:4000\n")
    for on in (False, True):
        with _core("compiled"):
            tokenizer = Tokenizer(now=NOW, kinds=ALL_KINDS)
            collector = TrafficCollector(Traffic(), on_session=[].append, lines=tokenizer)
            compiled = tokenizer.compiled_builder(collector)
            assert compiled is not None
            collector.count_evidence(on)
            tokenizer.scan(RawLines(lines), 1, collector)  # dates the stamps, drains
            compiled.scan(lines, 0, True, 1)  # the same lines again, not drained
            size = ctypes.c_int64()
            compiled._lib.la_take_output(compiled._engine, ctypes.byref(size))
            assert bool(size.value) == on
            assert bool(collector.traffic.clients) == on


_WARNING = ("Aug 16 {t} mx postfix/smtpd[5]: warning: hostname a.example does not resolve "
            "to address 192.0.2.7")
_SESSION = ("Aug 16 {t} mx postfix/smtpd[6]: connect from b.example[192.0.2.8]\n"
            "Aug 16 {u} mx postfix/smtpd[6]: disconnect from b.example[192.0.2.8] ehlo=1 "
            "quit=1 commands=2")


@pytest.mark.parametrize("lines", [
    # a warning older than a minute before the latest finished session: not held
    [_WARNING.format(t="10:00:00"), _SESSION.format(t="10:02:00", u="10:02:01")],
    # a warning just before the run stops: held, and claimed by its connect next run
    [_SESSION.format(t="10:02:00", u="10:02:01"), _WARNING.format(t="10:02:30")],
    [_WARNING.format(t="10:00:00"), _SESSION.format(t="10:00:30", u="10:00:40")],
])
def test_waiting_warnings_alike_on_both_cores(lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    more = data + b"Aug 16 10:03:00 mx postfix/smtpd[5]: connect from a.example[192.0.2.7]\n"
    _both(more, [("append", len(data)), ("run", 0), ("append", len(more)), ("run", 0)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([b"a\n", b"\xff\xfe\n", b"\r\n", b"\x00x\n", b"b" * 700_000,
                                 b"\n", b"c" * 1_500_000 + b"\n"]), max_size=8),
       st.lists(st.integers(1, 3_000_000), max_size=6), st.booleans(), st.integers(0, 99))
def test_raw_blocks_have_the_text_blocks_offsets(parts: list[bytes], sizes: list[int],
                                                 partial: bool, start: int) -> None:
    """LineSplitter(raw=True, offsets=True): the lines and ends of the text blocks."""
    from loganalyze.input.lines import LineSplitter

    data = b"".join(parts)
    got: list[Any] = []
    for raw in (False, True):
        splitter = LineSplitter(start, offsets=True, raw=raw)
        blocks, at = [], 0
        for size in [*sizes, len(data)]:
            blocks.append(splitter.feed(data[at:at + size]))
            at += size
        blocks.append(splitter.finish(partial=partial))
        got.append([(b.start, list(b.ends or ()), list(b.raw if raw and b.raw is not None else b.lines))
                    for b in blocks if b is not None])
        got.append(splitter.position)
    assert got[0] == got[2] and got[1] == got[3]
