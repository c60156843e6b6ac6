"""Reading a file on several cores gives exactly what one sequential pass gives."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from smtpd_lines import non_fqdn_bot_session
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.smtpd_lines import non_fqdn_bot_session

from loganalyze import core, parallel
from loganalyze.errors import InputError, LogAnalyzeError
from loganalyze.input import split as input_split
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.output import finding_record
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import load_identity

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
LOGS = [
    FIXTURES / "mail.log",
    FIXTURES / "formats" / "day.log",
    FIXTURES / "formats" / "day.rfc3339.log",
    FIXTURES / "lab" / "recorded" / "legit-broken-helo" / "mail.log",
]


def run(path: Path, jobs: int) -> Analysis:
    options = AnalyzeOptions(resolver=NoDnsResolver(), server=load_identity(FIXTURES / "postfix"),
                             year=2026, jobs=jobs)
    return analyze_logs([str(path)], options)


def summary(analysis: Analysis) -> tuple[object, ...]:
    lines, sessions = analysis.lines, analysis.sessions
    return (
        [finding_record(f) for f in analysis.findings],
        (lines.lines, lines.matched, lines.irrelevant, lines.unparsed),
        (sessions.sessions, sessions.without_connect, sessions.without_disconnect),
        analysis.traffic.sessions, len(analysis.traffic.clients), len(analysis.traffic.senders),
    )


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
@pytest.mark.parametrize("range_bytes", [2048, 16384])
def test_split_file_equals_sequential(
    path: Path, range_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(input_split, "MIN_RANGE", range_bytes)
    sequential = run(path, 1)
    tasks = input_split.plan([str(path)], 64, input_format=input_split.InputFormat.AUTO, tz=None,
                          now=None, year=2026)
    assert len(tasks) == min(64, max(1, path.stat().st_size // range_bytes))  # really split
    assert len(tasks) > 1 or range_bytes > 2048
    for task in tasks[1:]:
        with open(path, "rb") as handle:
            handle.seek(task.start - 1)
            assert handle.read(1) == b"\n"
    split = run(path, 64)
    assert summary(split) == summary(sequential)


def test_split_keeps_the_year_across_new_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_split, "MIN_RANGE", 256)
    days = ["Dec 31 23:50:00", "Dec 31 23:59:00", "Jan  1 00:05:00", "Jan  1 00:10:00",
            "Jan  1 00:20:00"]
    lines = [line for i, day in enumerate(days) for line in non_fqdn_bot_session(day, i)]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=8)
    split = analyze_logs([str(log)], options)
    assert sorted(f.first_seen.year for f in split.findings) == [2026, 2026, 2027, 2027, 2027]
    options.jobs = 1
    assert summary(split) == summary(analyze_logs([str(log)], options))


def test_cli_jobs_option(monkeypatch: pytest.MonkeyPatch) -> None:
    analyze = str(Path(sys.executable).parent / "analyze")
    base = [analyze, str(FIXTURES / "mail.log"), "--no-dns", "--year", "2026", "-q",
            "--postfix-config", str(FIXTURES / "postfix"), "-f", "json"]
    one = subprocess.run([*base, "--jobs", "1"], capture_output=True, text=True, timeout=120)
    two = subprocess.run([*base, "--jobs", "2"], capture_output=True, text=True, timeout=120)
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout


def test_split_run_reports_progress_of_all_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Progress goes to the callback of the process that shows it, summed over the
    # workers (forked processes write their counts to shared memory).
    monkeypatch.setattr(input_split, "MIN_RANGE", 16384)
    path = FIXTURES / "mail.log"
    seen: list[int] = []
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=4,
                             on_line_block=seen.append)
    analysis = analyze_logs([str(path)], options)
    lines = analysis.lines.lines
    assert seen, "no progress reported"
    assert seen == sorted(seen)
    # At the end, each worker counts the lines of its range (not those it read past it).
    assert seen[-1] == lines == 1121


def _rotated(tmp_path: Path) -> list[str]:
    """A month-like set of rotated logs: one day split into five files, some gzip'd."""
    lines = (FIXTURES / "mail.log").read_text().splitlines(keepends=True)
    names = []
    step = len(lines) // 5 + 1
    for k in range(5):
        chunk = "".join(lines[k * step:(k + 1) * step]).encode()
        name = tmp_path / (f"mail.log.{4 - k}.gz" if k < 3 else f"mail.log.{4 - k}")
        name.write_bytes(gzip.compress(chunk) if k < 3 else chunk)
        names.append(str(name))
    return names[::-1]  # as a shell glob might list them: newest first


def test_several_files_share_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each file is a task (the plain ones split too); the processes take the next
    # one as they finish. A session cut by a rotation is finished by the worker of
    # the older file, reading on into the next: the result is a sequential run's.
    monkeypatch.setattr(input_split, "MIN_RANGE", 1024)
    names = _rotated(tmp_path)
    tasks = input_split.plan(names, 3, input_format=input_split.InputFormat.AUTO, tz=None, now=None,
                          year=2026)
    assert len(tasks) > 5  # the plain files are split as well
    assert [t.first for t in tasks].count(True) == 1
    options = AnalyzeOptions(resolver=NoDnsResolver(), server=load_identity(FIXTURES / "postfix"),
                             year=2026, jobs=1)
    sequential = analyze_logs(names, options)
    options.jobs = 3
    shared = analyze_logs(names, options)
    assert summary(shared) == summary(sequential)
    assert _traffic(shared.traffic) == _traffic(sequential.traffic)
    assert shared.lines.lines == 1121


def test_a_damaged_file_in_a_worker_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(input_split, "MIN_RANGE", 1024)
    names = _rotated(tmp_path)
    damaged = Path(names[-1])  # the oldest, gzip'd: cut in the middle
    damaged.write_bytes(damaged.read_bytes()[:200])
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=3)
    with pytest.raises(InputError, match=f"{damaged.name}: cannot read"):
        analyze_logs(names, options)


@pytest.fixture(params=["python", "compiled"])
def either_core(request: pytest.FixtureRequest,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each core in turn (the compiled one builds a range's sessions in C, by the
    range rules of ``sessions.c``); the compiled one only where it is built."""
    if request.param == "python":
        monkeypatch.setenv("LOGANALYZE_CORE", "python")
    elif core.library() is None and not os.environ.get("LOGANALYZE_REQUIRE_CORE"):
        pytest.skip(f"needs the compiled core ({core.describe()})")
    core.reset()
    yield request.param
    core.reset()


def test_every_cut_point_gives_the_sequential_result(tmp_path: Path, either_core: str) -> None:
    # Two ranges, cut at each line boundary of a stretch around a hostname warning
    # (logged just before its connect, so a cut can fall between them), a reject,
    # SPF lines and disconnects: the range rules (lookbehind, lookahead, the tail
    # of the previous range's sessions) must add up to one sequential pass.
    assert (core.library() is None) == (either_core == "python")
    lines = (FIXTURES / "mail.log").read_text().splitlines(keepends=True)[60:160]
    log = tmp_path / "mail.log"
    log.write_text("".join(lines))
    assert any("does not resolve to address" in line for line in lines)

    def run(tasks: list[input_split.Task]) -> Any:
        return parallel.run_tasks(tasks, 1, input_format=input_split.InputFormat.AUTO, tz=None,
                                  now=None)

    whole = run([input_split.Task(str(log), 0, None, True, 2026)])
    size = log.stat().st_size
    offset = 0
    for line in lines[:-1]:
        offset += len(line.encode())
        tasks = [input_split.Task(str(log), 0, offset, True, 2026),
                 input_split.Task(str(log), offset, size, False, 2026)]
        split = run(tasks)
        assert split[1:] == whole[1:], offset
        assert _traffic(split[0]) == _traffic(whole[0]), offset


def _traffic(traffic: Any) -> object:
    clients = {ip: (c.sessions, c.queued, c.hostname_warnings, sorted(c.names.items()),
                    sorted(c.rejects.items()), sorted(c.recipients), sorted(c.senders))
               for ip, c in traffic.clients.items()}
    senders = {key: (s.sessions, sorted(s.attempts), s.first_seen, s.last_seen, s.first_reply,
                     sorted(s.logged_checks.items()), sorted(s.spf.items()), sorted(s.senders),
                     sorted(s.recipients), s.enforced_rejects, s.queued,
                     s.envelope_sessions, s.messages_retried)
               for key, s in traffic.senders.items()}
    return (traffic.sessions, traffic.sessions_with_helo, clients, senders)


def test_a_worker_that_dies_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # As when the kernel's OOM killer ends a worker: no part ever comes back.
    monkeypatch.setattr(input_split, "MIN_RANGE", 16384)
    main = os.getpid()
    run = parallel._run

    def dying(task: input_split.Task, settings: Any, slot: int = -1) -> parallel.Part:
        if os.getpid() != main:
            os._exit(9)
        return run(task, settings, slot)

    take = parallel._take

    def others(taken: Any, order: Any) -> int | None:  # the main process leaves them
        return None if os.getpid() == main else take(taken, order)

    monkeypatch.setattr(parallel, "_run", dying)
    monkeypatch.setattr(parallel, "_take", others)
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=2)
    with pytest.raises(LogAnalyzeError, match="worker process ended .* try again with --jobs 1"):
        analyze_logs([str(FIXTURES / "mail.log")], options)


def test_default_jobs_is_one_per_usable_core_at_most_four() -> None:
    cores = len(os.sched_getaffinity(0))
    assert input_split.default_jobs() == max(1, min(cores, input_split.DEFAULT_MAX_JOBS))
    # Pinned to one core (as under taskset -c 0), the default is one process.
    script = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
              "from loganalyze.input import split; print(split.default_jobs())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "1"
