"""The Dask cluster backend (issue 18): ``--scheduler`` gives exactly what a local run gives.

One real ``distributed.LocalCluster`` (two worker processes on 127.0.0.1, each with
one thread, behind nannies that restart a killed worker) serves the whole module.
Every bundled log, lab recording and peer log, a generated set of several MX hosts'
logs with colliding pids (plain and gzip'd, named by a glob and by ``file://`` URLs),
and the ``analyze --scheduler`` command must give the same JSON and counts as a local
run; so must a run during which one worker process is killed.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from smtpd_lines import non_fqdn_bot_session
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.smtpd_lines import non_fqdn_bot_session
from distributed import Client, LocalCluster
from test_equivalence import LOGS, NOW, _label
from test_parallel import summary

import loganalyze
from loganalyze.errors import LogAnalyzeError
from loganalyze.input import split as input_split
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.output import write_json
from loganalyze.parallel import cluster as cluster_backend
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs
from loganalyze.postfix.config import load_identity

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ANALYZE = Path(sys.executable).parent / "analyze"
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
import generate_log  # noqa: E402

pytestmark = [
    pytest.mark.cluster,
    # Distributed's own shutdown may leave a socket for the collector to close.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # The scheduler's HTTP server on a free port: 8787 may be taken by another cluster.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    """The test's own connection (the runs under test make theirs)."""
    with Client(cluster.scheduler_address, set_as_default=False) as connection:
        yield connection


def options(scheduler: str | None = None, jobs: int = 1) -> AnalyzeOptions:
    return AnalyzeOptions(resolver=NoDnsResolver(), server=load_identity(FIXTURES / "postfix"),
                          year=2026, now=NOW, jobs=jobs, scheduler=scheduler)


def outcome(analysis: Analysis) -> tuple[str, tuple[object, ...]]:
    """What ``--format json`` prints, and every count the summary gives."""
    out = io.StringIO()
    write_json(analysis.findings, out)
    return out.getvalue(), summary(analysis)


@pytest.mark.parametrize("log", LOGS, ids=_label)
def test_cluster_run_equals_local_run(log: Path, cluster: LocalCluster,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    local = analyze_logs([str(log)], options())
    # Ranges of a few kB: each log is cut into byte ranges, one task each.
    monkeypatch.setattr(input_split, "MIN_RANGE", max(512, log.stat().st_size // 8))
    on_cluster = analyze_logs([str(log)], options(cluster.scheduler_address))
    assert outcome(on_cluster) == outcome(local)


HOSTS = 4
HOST_LINES = 6000


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mx1/mail.log`` ... ``mx4/mail.log.gz``: one generated day per MX host, every
    other one gzip'd. mx1 and mx2 (and mx3 and mx4) see the same traffic, in the same
    smtpd processes at the same times: every pid collides; the others' overlap too."""
    root = tmp_path_factory.mktemp("hosts")
    for number in range(1, HOSTS + 1):
        lines, _ = generate_log.generate_lines(
            generate_log.GeneratorOptions(HOST_LINES, seed=(number + 1) // 2,
                                          host=f"mx{number}"))
        text = "\n".join(lines) + "\n"
        (root / f"mx{number}").mkdir()
        if number % 2:
            (root / f"mx{number}" / "mail.log").write_text(text)
        else:
            (root / f"mx{number}" / "mail.log.gz").write_bytes(gzip.compress(text.encode()))
    return root


def _smtpd_pids(path: Path) -> set[str]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return set(re.findall(r"postfix/smtpd\[(\d+)\]", handle.read()))


def test_many_hosts_by_glob_and_url(hosts: Path, cluster: LocalCluster,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(hosts.glob("mx*/mail.log*"))
    pids = [_smtpd_pids(path) for path in files]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[0] & pids[2]
    local = analyze_logs([str(path) for path in files], options())
    # The hosts are kept apart: together, the sessions of each host alone.
    alone = [analyze_logs([str(path)], options()) for path in files]
    assert local.traffic.sessions == sum(a.traffic.sessions for a in alone)
    assert local.sessions.sessions == sum(a.sessions.sessions for a in alone)

    monkeypatch.setattr(input_split, "MIN_RANGE", 64 << 10)  # the plain logs are split
    address = cluster.scheduler_address
    by_glob = analyze_logs([str(hosts / "mx*" / "mail.log*")], options(address))
    assert outcome(by_glob) == outcome(local)
    by_url = analyze_logs([f"file://{hosts}/mx*/mail.log*"], options(address))
    assert outcome(by_url) == outcome(local)


def test_the_command_prints_what_a_local_run_prints(cluster: LocalCluster) -> None:
    # Names relative to a directory the workers do not run in.
    command = [str(ANALYZE), "mail.log", "--no-dns", "--format", "json",
               "--postfix-config", "postfix", "--year", "2026"]
    local = subprocess.run(command, capture_output=True, text=True, check=True, cwd=FIXTURES)
    ran = subprocess.run([*command, "--scheduler", cluster.scheduler_address],
                         capture_output=True, text=True, cwd=FIXTURES)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == local.stdout
    assert ran.stderr == local.stderr  # the summary; no progress when not on a terminal


def test_a_lost_worker_changes_nothing(tmp_path: Path, cluster: LocalCluster, client: Client,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "mail.log"
    generate_log.write_log(generate_log.GeneratorOptions(100_000, seed=7), log)
    local = analyze_logs([str(log)], options())
    monkeypatch.setattr(input_split, "MIN_RANGE", log.stat().st_size // 6)
    pids = client.run(os.getpid)
    lines_read: list[int] = []
    killed: list[tuple[str, int, int]] = []

    def kill_a_busy_worker() -> None:
        """Kill the first worker the scheduler sees running one of our tasks."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                ours = [key for key in keys if str(key).startswith("loganalyze-")]
                if ours:
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append((worker, pids[worker], len(ours)))
                    return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        settings = options(cluster.scheduler_address)
        settings.on_line_block = lines_read.append
        on_cluster = analyze_logs([str(log)], settings)
    finally:
        killer.join()
    assert killed, "no task of the run was seen running"
    assert client.run_on_scheduler(_run_again, f"loganalyze-{log.name}-"), \
        "no task ran twice: the kill came too late"
    assert outcome(on_cluster) == outcome(local)
    # Progress: the lines read by the tasks, as the workers report them.
    assert lines_read == sorted(lines_read) and lines_read[-1] == local.lines.lines
    assert len(lines_read) >= 6  # at least each task's end
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker process
    assert pids[killed[0][0]] not in client.run(os.getpid).values()


def _run_again(prefix: str, dask_scheduler: Any = None) -> list[str]:
    """On the scheduler: the tasks whose key starts with ``prefix`` that went to a
    worker more than once (the scheduler's own record of its transitions)."""
    starts: dict[str, int] = {}
    for key, _, finish, *_ in dask_scheduler.transition_log:
        if str(key).startswith(prefix) and finish == "processing":
            starts[str(key)] = starts.get(str(key), 0) + 1
    return sorted(key for key, count in starts.items() if count > 1)


def test_months_that_jump_are_read_in_one_task(tmp_path: Path, cluster: LocalCluster,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Nov, one Jan session, Nov: read in one pass, the second November is the next year's;
    the worker of the second half cannot know, so the run falls back to one task."""
    days = ["Nov  1 10:00:00"] * 8 + ["Jan  5 10:00:00"] + ["Nov  2 10:00:00"] * 12
    lines = [line for i, day in enumerate(days)
             for line in non_fqdn_bot_session(day, i)]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    local = analyze_logs([str(log)], options())
    assert sorted(f.first_seen.year for f in local.findings) == [2026] * 8 + [2027] * 13
    monkeypatch.setattr(input_split, "MIN_RANGE", log.stat().st_size // 2)  # two halves
    tasks = input_split.plan([str(log)], 8, input_format=input_split.InputFormat.AUTO,
                             tz=None, now=NOW, year=2026)
    assert [task.year for task in tasks] == [2026, 2026]  # the second half's is wrong
    assert outcome(analyze_logs([str(log)], options(cluster.scheduler_address))) == \
        outcome(local)


def test_a_damaged_file_is_one_line_naming_it(tmp_path: Path, cluster: LocalCluster) -> None:
    whole = gzip.compress((FIXTURES / "mail.log").read_bytes())
    damaged = tmp_path / "mail.log.1.gz"
    damaged.write_bytes(whole[: len(whole) // 2])
    ran = subprocess.run(
        [str(ANALYZE), str(FIXTURES / "mail.log"), str(damaged), "--no-dns", "--year", "2026",
         "--scheduler", cluster.scheduler_address], capture_output=True, text=True)
    assert ran.returncode != 0
    assert ran.stdout == ""
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.startswith(f"analyze: error: {damaged}: cannot read: "), ran.stderr
    assert ran.stderr.endswith(" (on a Dask worker)\n"), ran.stderr


def test_workers_with_another_version_are_refused(cluster: LocalCluster,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = loganalyze.__version__
    monkeypatch.setattr(loganalyze, "__version__", "0.0.1-not-the-workers")
    with pytest.raises(LogAnalyzeError, match=(
            rf"^worker tcp://127\.0\.0\.1:\d+ has loganalyze {re.escape(real)}, this machine "
            r"0\.0\.1-not-the-workers; install loganalyze 0\.0\.1-not-the-workers on every "
            r"worker$")):
        analyze_logs([str(FIXTURES / "mail.log")], options(cluster.scheduler_address))


def test_standard_input_and_no_scheduler_are_one_line_errors(
        monkeypatch: pytest.MonkeyPatch, cluster: LocalCluster) -> None:
    with pytest.raises(LogAnalyzeError, match="the workers cannot read standard input"):
        analyze_logs(["-"], options(cluster.scheduler_address))
    monkeypatch.setattr(cluster_backend, "_CONNECT_SECONDS", 0.5)
    with pytest.raises(LogAnalyzeError, match=r"^--scheduler tcp://127\.0\.0\.1:9: cannot "
                                              r"connect \(.*\); give the address"):
        analyze_logs([str(FIXTURES / "mail.log")], options("tcp://127.0.0.1:9"))
