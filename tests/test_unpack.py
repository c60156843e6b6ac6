"""Big compressed logs are unpacked to a temporary plain file so ``--jobs`` cuts them too
(loganalyze/input/unpack.py): the result is one sequential read's, a damaged file is
the same one-line error, and nothing is left in the temporary directory."""

from __future__ import annotations

import gzip
import lzma
import tempfile
from pathlib import Path

import pytest

from loganalyze import parallel
from loganalyze.errors import InputError
from loganalyze.input import split as input_split
from loganalyze.input import unpack
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.output import finding_record
from loganalyze.pipeline import Analysis, AnalyzeOptions, analyze_logs

REPO = Path(__file__).resolve().parent.parent
LOG = REPO / "fixtures" / "mail.log"


def run(names: list[Path], jobs: int) -> Analysis:
    return analyze_logs([str(n) for n in names],
                        AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=jobs))


def summary(analysis: Analysis) -> tuple[object, ...]:
    lines, sessions = analysis.lines, analysis.sessions
    return ([finding_record(f) for f in analysis.findings],
            (lines.lines, lines.matched, lines.irrelevant, lines.unparsed),
            (sessions.sessions, sessions.without_connect, sessions.without_disconnect),
            len(analysis.traffic.clients), len(analysis.traffic.senders))


@pytest.fixture
def tasks_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[input_split.Task]:
    """The tasks the workers were given (the real run_tasks runs them); temporary files
    go to a directory of the test's own."""
    seen: list[input_split.Task] = []
    real = parallel.run_tasks

    def recording(tasks, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(tasks)
        return real(tasks, *args, **kwargs)

    monkeypatch.setattr(parallel, "run_tasks", recording)
    monkeypatch.setattr(input_split, "MIN_RANGE", 4096)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return seen


def test_a_gzip_log_is_cut_into_ranges_and_gives_the_sequential_result(
        tmp_path: Path, tasks_run: list[input_split.Task]) -> None:
    gz = tmp_path / "mail.log.1.gz"
    gz.write_bytes(gzip.compress(LOG.read_bytes()))
    assert unpack.estimated_size(str(gz)) == LOG.stat().st_size  # gzip's trailer
    seen: list[int] = []  # progress, summed over the workers
    split = analyze_logs([str(gz)], AnalyzeOptions(resolver=NoDnsResolver(), year=2026, jobs=4,
                                                   on_line_block=seen.append))
    assert len(tasks_run) == 4 and all(t.end is not None for t in tasks_run[:-1])
    assert seen == sorted(seen) and seen[-1] == 1121
    assert summary(split) == summary(run([LOG], 1)) == summary(run([gz], 1))
    assert split.lines.lines == 1121
    assert not list((tmp_path / "tmp").iterdir())  # the plain copy is gone


def test_concatenated_members_and_a_plain_log_after_them(
        tmp_path: Path, tasks_run: list[input_split.Task]) -> None:
    # cat a.gz b.gz: the trailer gives the last member's size only, a guess; the
    # copy holds both. The live log follows, as a rotation left them.
    lines = LOG.read_bytes().splitlines(keepends=True)
    older, live = tmp_path / "mail.log.1.gz", tmp_path / "mail.log"
    older.write_bytes(gzip.compress(b"".join(lines[:500])) + gzip.compress(b"".join(lines[500:900])))
    live.write_bytes(b"".join(lines[900:]))
    assert summary(run([live, older], 3)) == summary(run([LOG], 1))
    assert any(t.name.endswith("mail.log.1.gz") and t.start > 0 for t in tasks_run)


def test_too_big_for_the_free_space_stays_one_task(
        tmp_path: Path, tasks_run: list[input_split.Task], monkeypatch: pytest.MonkeyPatch) -> None:
    # xz has no size in its trailer: it is guessed from the compressed size.
    xz = tmp_path / "mail.log.2.xz"
    xz.write_bytes(lzma.compress(LOG.read_bytes()))
    live = tmp_path / "mail.log"
    live.write_bytes(LOG.read_bytes())
    monkeypatch.setattr(unpack, "_GUESSED_RATIO", 1 << 50)  # more than any disk holds
    assert summary(run([live, xz], 3)) == summary(run([live, xz], 1))
    assert [t.end for t in tasks_run if t.name == str(xz)] == [None]


def test_a_damaged_gzip_is_a_one_line_error_naming_it(
        tmp_path: Path, tasks_run: list[input_split.Task]) -> None:
    gz = tmp_path / "mail.log.1.gz"
    whole = gzip.compress(LOG.read_bytes())
    gz.write_bytes(whole[: len(whole) // 2] + whole[-8:])  # cut, its trailer kept
    with pytest.raises(InputError) as raised:
        run([gz], 4)
    message = str(raised.value)
    assert message.startswith(f"{gz}: cannot read: ") and "\n" not in message
    assert "damaged compressed file" in message
    assert not tasks_run  # it failed before any worker started
    assert not list((tmp_path / "tmp").iterdir())


def test_one_core_reads_it_in_one_process(
        tmp_path: Path, tasks_run: list[input_split.Task]) -> None:
    gz = tmp_path / "mail.log.gz"
    gz.write_bytes(gzip.compress(LOG.read_bytes()))
    assert summary(run([gz], 1)) == summary(run([LOG], 1))
    assert not tasks_run


def test_no_writable_temporary_directory_reads_it_compressed(
        tmp_path: Path, tasks_run: list[input_split.Task], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    gz = tmp_path / "mail.log.1.gz"
    gz.write_bytes(gzip.compress(LOG.read_bytes()))
    live = tmp_path / "mail.log"
    live.write_bytes(LOG.read_bytes())
    assert summary(run([live, gz], 3)) == summary(run([live, gz], 1))
    assert [t.end for t in tasks_run if t.name == str(gz)] == [None]
