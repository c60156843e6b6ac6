"""The daily report counts every session exactly once, however the logs rotate and
however the admin names them on the command line (issue 15).

Hypothesis draws a day's log cut at random points, a sequence of what syslog and
the rotation tools do between two cron runs (grow, logrotate's rename with
delaycompress, copytruncate, ``postfix logrotate``, nothing), and a way of naming
the files (only the live log, all of them, oldest first, the ``mail.log*`` glob,
the live log twice). After every step ``loganalyze report`` runs on the same state.
Over all runs, the sessions per sender add up to one pass over the whole day, no
line is read twice or lost, and a run with nothing new reads no line.

One rotation scheme per example: logrotate's numbered siblings or postfix
logrotate's dated ones (``mail.log.YYYYMMDD-HHMMSS.gz``), not both in one
directory.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loganalyze.daily.records import DailyReport
from loganalyze.daily.run import ReportSettings, run_report
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import AnalyzeOptions
from loganalyze.sessions import SessionBuilder

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from logrotate import gzip_to, shift_numbered
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.logrotate import gzip_to, shift_numbered

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mail.log"
LINES = FIXTURE.read_bytes().splitlines(keepends=True)
NOW = datetime(2026, 8, 17, 6, 15)


def one_pass(lines: Sequence[bytes]) -> Counter[tuple[str, str]]:
    """Sessions per (client, HELO) of one pass, the ones open at the end left open."""
    tokenizer = Tokenizer(year=2026, now=NOW)
    builder = SessionBuilder()
    out: Counter[tuple[str, str]] = Counter()
    for number, line in enumerate(lines, 1):
        record = tokenizer.parse(line.decode().rstrip("\n"), number)
        if record is not None:
            for session in builder.feed(record):
                out[(session.client_ip, session.helo or "")] += 1
    return out


class Day:
    """A log directory, the tools that rotate it, and the cron runs of the report."""

    def __init__(self, directory: Path, scheme: str) -> None:
        self.dir = directory
        self.log = directory / "mail.log"
        self.log.touch()
        self.scheme = scheme
        self.state = directory / "state" / "state.sqlite"
        self.clock = datetime(2026, 8, 17, 0, 0)
        self.total = 0
        self.lines_read = 0

    def grow(self, lines: Sequence[bytes]) -> None:
        with open(self.log, "ab") as f:
            f.write(b"".join(lines))

    def rotate(self, how: str) -> None:
        if self.scheme == "postfix":  # postfix logrotate: rename, gzip, new file
            self.clock += timedelta(minutes=7)
            dated = self.dir / f"mail.log.{self.clock:%Y%m%d-%H%M%S}"
            self.log.rename(dated)
            self.log.touch()
            gzip_to(dated, Path(f"{dated}.gz"))
        elif how == "rename":
            shift_numbered(self.log)
            self.log.rename(self.dir / "mail.log.1")
            self.log.touch()
        else:
            shift_numbered(self.log)
            shutil.copyfile(self.log, self.dir / "mail.log.1")
            with open(self.log, "r+b") as f:
                f.truncate(0)

    def names(self, naming: str) -> list[str]:
        live = str(self.log)
        rotated = sorted((p for p in self.dir.glob("mail.log.*")), key=lambda p: p.name)
        if naming == "live":
            return [live]
        if naming == "all":
            return [live, *map(str, rotated)]
        if naming == "old first":
            return [*map(str, reversed(rotated)), live]
        if naming == "glob":
            return sorted(str(p) for p in self.dir.glob("mail.log*"))
        return [live, str(self.dir / ".." / self.dir.name / "mail.log")]  # the same file twice

    def run(self, naming: str) -> DailyReport:
        reports: list[DailyReport] = []
        options = AnalyzeOptions(resolver=NoDnsResolver(), year=2026)
        run_report(self.names(naming), self.state, ReportSettings(options, now=NOW),
                   reports.append)
        [report] = reports
        self.total += report.sessions
        self.lines_read += report.lines_read
        return report

    def sessions_per_sender(self) -> Counter[tuple[str, str]]:
        """What the state remembers: sessions per (client, HELO), summed over the days."""
        with sqlite3.connect(self.state) as db:
            rows = db.execute("SELECT client_ip, helo, SUM(sessions) FROM senders "
                              "JOIN sender_days ON sender_days.sender_id = senders.id "
                              "GROUP BY client_ip, helo").fetchall()
        return Counter({(ip, helo): count for ip, helo, count in rows})


STEPS = st.sampled_from(["grow", "rotate", "copytruncate", "nothing"])
NAMINGS = st.sampled_from(["live", "all", "old first", "glob", "twice"])


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    scheme=st.sampled_from(["logrotate", "postfix"]),
    cuts=st.lists(st.integers(0, len(LINES)), min_size=1, max_size=6),
    steps=st.lists(st.tuples(STEPS, NAMINGS), min_size=1, max_size=8),
    final=NAMINGS,
)
def test_every_session_is_counted_once(
    scheme: str, cuts: list[int], steps: list[tuple[str, str]], final: str
) -> None:
    bounds = sorted(set(cuts))
    pieces = [LINES[a:b] for a, b in zip([0, *bounds], [*bounds, len(LINES)], strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        day = Day(Path(tmp), scheme)
        written: list[bytes] = []
        for step, naming in steps:
            if step == "grow" and pieces:
                piece = pieces.pop(0)
                day.grow(piece)
                written += piece
            elif step in ("rotate", "copytruncate"):
                day.rotate("rename" if step == "rotate" else "copytruncate")
            day.run(naming)
        for piece in pieces:
            day.grow(piece)
            written += piece
        day.run(final)
        assert written == LINES
        assert day.lines_read == len(LINES), "a line was read twice or lost"
        expected = one_pass(LINES)
        assert day.total == sum(expected.values()), "a session was counted twice or lost"
        remembered = day.sessions_per_sender()
        assert len(remembered) > 10
        for key, count in remembered.items():
            assert count == expected[key], key
        again = day.run(final)
        assert again.lines_read == 0 and again.sessions == 0, "a run with nothing new read"
