"""Reading logs: compression, standard input, damaged files, odd bytes, and timelines."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loganalyze.cli.app import app
from loganalyze.errors import InputError
from loganalyze.input import files as sources
from loganalyze.input import lines as lines_module
from loganalyze.input.files import read_lines
from loganalyze.input.timeline import order_inputs, probe, read_timeline
from loganalyze.model import InputFormat
from loganalyze.parse import Tokenizer

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
DAY = (FORMATS / "day.log").read_bytes()
NOW = datetime(2026, 11, 24, 23, 0, 0)

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda data: data,
    "gz": lambda data: gzip.compress(data, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def expected_lines(data: bytes) -> list[str]:
    """What read_lines must yield: split on \\n, the documented clean-ups, nothing lost."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "replace").rstrip("\r").lstrip("\x00") for p in parts]


@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_compressed_by_content_not_name(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "mail.log.1"  # no telling suffix
    path.write_bytes(COMPRESSORS[kind](DAY))
    assert list(read_lines(str(path))) == DAY.decode().split("\n")[:-1]


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(DAY))))
    monkeypatch.setattr(sys, "stdin", fake)
    assert list(read_lines("-")) == DAY.decode().split("\n")[:-1]


ODD = [
    (b"", []),
    (b"\n", [""]),
    (b"a\nb", ["a", "b"]),  # truncated last line
    (b"a\r\nb\r\n", ["a", "b"]),
    (b"caf\xe9 \xff\xfe\n", ["caf\ufffd \ufffd\ufffd"]),
    (b"\x00\x00\x00Nov 24 22:00:29 vm x[1]: y\n", ["Nov 24 22:00:29 vm x[1]: y"]),
    (b"a\x00b\n", ["a\x00b"]),
    (b"\xe2\x82", ["\ufffd"]),  # a cut UTF-8 sequence at the end
]


@pytest.mark.parametrize("data,lines", ODD)
@pytest.mark.parametrize("kind", ["plain", "gz"])
def test_odd_bytes(tmp_path: Path, data: bytes, lines: list[str], kind: str) -> None:
    path = tmp_path / "log"
    path.write_bytes(COMPRESSORS[kind](data))
    assert list(read_lines(str(path))) == lines


def test_small_blocks_split_utf8_and_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_BLOCK", 3)
    data = "é€\nab\r\n\ncafé\n".encode() + DAY[:3000]
    path = tmp_path / "log"
    path.write_bytes(data)
    assert list(read_lines(str(path))) == expected_lines(data)


def test_megabyte_lines_are_kept_then_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_BLOCK", 1000)
    monkeypatch.setattr(lines_module, "MAX_KEPT_LINE", 5000)
    data = b"first\n" + b"x" * 4000 + b"\n" + b"y" * 50_000 + b"\nlast\n" + b"z" * 20_000
    path = tmp_path / "log"
    path.write_bytes(data)
    lines = list(read_lines(str(path)))
    assert lines[0] == "first" and lines[1] == "x" * 4000 and lines[3] == "last"
    assert lines[2] == "y" * 5000 and lines[4] == "z" * 5000  # cut, not lost
    assert len(lines) == 5


def test_a_real_megabyte_line_is_counted_unparsed(tmp_path: Path) -> None:
    data = DAY[:500] + b"Nov 24 22:00:29 vm postfix/smtpd[1]: " + b"a" * 3_000_000 + b"\n"
    path = tmp_path / "log"
    path.write_bytes(data)
    tokenizer = Tokenizer(now=NOW)
    list(tokenizer.tokenize(read_lines(str(path))))
    stats = tokenizer.stats
    assert stats.unparsed >= 1
    assert stats.lines == data.count(b"\n") == stats.matched + stats.irrelevant + stats.unparsed


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(list(COMPRESSORS)), st.integers(1, 64))
def test_random_bytes_lose_no_line(data: bytes, kind: str, block: int) -> None:
    # A plain file starting with a compression magic number is read as compressed.
    assume(kind != "plain" or not data.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log"
        path.write_bytes(COMPRESSORS[kind](data))
        old = sources._BLOCK
        sources._BLOCK = block
        try:
            lines = list(read_lines(str(path)))
        finally:
            sources._BLOCK = old
    assert lines == expected_lines(data)
    tokenizer = Tokenizer(now=NOW)
    list(tokenizer.tokenize(lines))
    stats = tokenizer.stats
    assert stats.lines == len(lines) == stats.matched + stats.irrelevant + stats.unparsed


def _damaged() -> dict[str, bytes]:
    whole = gzip.compress(DAY, mtime=0)
    middle = bytearray(whole)
    middle[len(middle) // 2] ^= 0xFF
    return {
        "truncated": whole[: len(whole) // 2],
        "flipped byte": bytes(middle),
        "bad header": b"\x1f\x8b" + b"\x00" * 40,
        "bad crc": whole[:-8] + b"\x00\x00\x00\x00" + whole[-4:],
        "truncated xz": lzma.compress(DAY)[:-30],
        "truncated bz2": bz2.compress(DAY)[:-30],
    }


@pytest.mark.parametrize("name", list(_damaged()))
def test_damaged_compressed_file_is_an_input_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "mail.log.2.gz"
    path.write_bytes(_damaged()[name])
    with pytest.raises(InputError) as caught:
        list(read_lines(str(path)))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_damaged_gzip_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "mail.log.2.gz"
    path.write_bytes(_damaged()["truncated"])
    result = CliRunner().invoke(app, ["analyze", "--no-dns", "--quiet", str(path)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name,expected", [("missing", "no such file"), ("dir", "directory")])
def test_unreadable_inputs(tmp_path: Path, name: str, expected: str) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match=expected):
        list(read_lines(str(tmp_path / name)))


# -- timelines -------------------------------------------------------------------------------


def _rotate(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Split the fixture day into mail.log.2.gz, mail.log.1 (bz2) and mail.log."""
    lines = DAY.decode().split("\n")[:-1]
    parts = [lines[:300], lines[300:700], lines[700:]]
    names = []
    for index, (part, kind) in enumerate(zip(parts, ["gz", "bz2", "plain"], strict=True)):
        suffix = {2: ".2.gz", 1: ".1", 0: ""}[2 - index]
        path = tmp_path / f"mail.log{suffix}"
        path.write_bytes(COMPRESSORS[kind](("\n".join(part) + "\n").encode()))
        names.append(str(path))
    return names, lines


def test_rotated_files_in_any_order_are_one_timeline(tmp_path: Path) -> None:
    names, lines = _rotate(tmp_path)
    shuffled = [names[2], names[0], names[1]]
    assert list(read_timeline(shuffled, now=NOW)) == lines
    order = order_inputs(shuffled, now=NOW)
    assert [i.name for i in order] == names
    assert {i.input_format for i in order} == {InputFormat.SYSLOG}
    assert order[0].first_time == datetime(2026, 11, 24, 21, 57, 58)


def test_mixed_formats_and_stdin_in_the_middle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = DAY.decode().split("\n")[:-1]
    json_part = (FORMATS / "day.journal.json").read_text().split("\n")[300:700]
    first = tmp_path / "a.log"
    first.write_text("\n".join(lines[:300]) + "\n")
    last = tmp_path / "c.log.gz"
    iso = (FORMATS / "day.rfc3339.log").read_text().split("\n")[700:-1]
    last.write_bytes(gzip.compress(("\n".join(iso) + "\n").encode()))
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(("\n".join(json_part) + "\n").encode())))
    monkeypatch.setattr(sys, "stdin", stdin)
    got = list(read_timeline([str(last), "-", str(first)], now=NOW))
    assert got == lines[:300] + json_part + iso
    assert [i.input_format for i in order_inputs([str(first), str(last)], now=NOW)] == [
        InputFormat.SYSLOG, InputFormat.RFC3339]


def test_new_year_order_comes_from_file_times(tmp_path: Path) -> None:
    december = tmp_path / "mail.log.1"
    december.write_text("Dec 28 10:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n"
                        "Jan  3 23:59:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n")
    january = tmp_path / "mail.log"
    january.write_text("Jan  4 00:00:10 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n")
    # Rotated on Jan 4 2027; the current log last written on Jan 10 2027.
    os.utime(december, (0, datetime(2027, 1, 4, 6, 25).timestamp()))
    os.utime(january, (0, datetime(2027, 1, 10, 12, 0).timestamp()))
    # In December, month order alone would put January first.
    order = order_inputs([str(january), str(december)], now=datetime(2027, 12, 1))
    assert [i.name for i in order] == [str(december), str(january)]
    assert order[0].first_time == datetime(2026, 12, 28, 10, 0)
    records = Tokenizer(now=datetime(2027, 1, 10)).tokenize(
        read_timeline([str(january), str(december)]))
    assert [r.time.year for r in records] == [2026, 2027, 2027]


def test_inputs_without_a_time_come_first_and_missing_files_fail_early(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.log"
    garbage.write_bytes(b"\x00\xff\nnot a log\n")
    real = tmp_path / "mail.log"
    real.write_bytes(DAY[:2000])
    order = order_inputs([str(real), str(garbage), str(empty)], now=NOW)
    assert [i.name for i in order] == [str(garbage), str(empty), str(real)]
    assert probe(str(empty)).input_format is InputFormat.AUTO
    timeline = read_timeline([str(real), str(tmp_path / "missing.log")], now=NOW)
    with pytest.raises(InputError, match="no such file"):
        next(timeline)


def test_forced_format_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    path.write_bytes(DAY[:2000])
    assert probe(str(path), input_format="rfc3339").input_format is InputFormat.RFC3339
    assert probe(str(path), input_format="rfc3339").first_time is None


def test_central_log_keeps_hosts_apart() -> None:
    # Two hosts whose smtpd processes share a pid, interleaved in one central file.
    from loganalyze.sessions import build_sessions

    text = """\
Nov 24 21:58:31 mx1 postfix/smtpd[100]: connect from a.example[192.0.2.1]
Nov 24 21:58:31 mx2 postfix/smtpd[100]: connect from b.example[192.0.2.2]
Nov 24 21:58:32 mx1 postfix/smtpd[100]: NOQUEUE: reject: RCPT from a.example[192.0.2.1]: 504 5.5.2 <a>: Helo command rejected: need fully-qualified hostname; from=<x@a.example> to=<u@example.com> proto=ESMTP helo=<a>
Nov 24 21:58:32 mx2 postfix/smtpd[100]: NOQUEUE: reject: RCPT from b.example[192.0.2.2]: 504 5.5.2 <b>: Helo command rejected: need fully-qualified hostname; from=<x@b.example> to=<u@example.com> proto=ESMTP helo=<b>
Nov 24 21:58:33 mx2 postfix/smtpd[100]: disconnect from b.example[192.0.2.2] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Nov 24 21:58:33 mx1 postfix/smtpd[100]: disconnect from a.example[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
"""
    sessions = list(build_sessions(Tokenizer(now=NOW).tokenize(text.splitlines())))
    assert sorted((s.host, s.client_ip, s.helo, s.saw_connect, s.saw_disconnect)
                  for s in sessions) == [
        ("mx1", "192.0.2.1", "a", True, True), ("mx2", "192.0.2.2", "b", True, True)]


# -- gzip read in a background thread ---------------------------------------------------------


def _inflaters() -> list[object]:
    import importlib
    import zlib

    try:
        return [zlib, importlib.import_module("isal.isal_zlib")]
    except ImportError:
        return [zlib]


@pytest.fixture(params=_inflaters(), ids=lambda module: module.__name__)
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    """Each zlib that can read gzip here: the standard one, and isal's when installed."""
    monkeypatch.setattr(sources, "_INFLATE", request.param)
    return request.param


def _decompress_threads(path: Path) -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name == f"decompress {path}"]


@pytest.mark.parametrize("block,chunk", [(1 << 20, 256 << 10), (1000, 777), (7, 3)])
def test_gzip_members_one_after_another_are_all_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inflater: object, block: int, chunk: int
) -> None:
    # As `cat mail.log.2.gz mail.log.1.gz` makes, with gzip's zero padding between two.
    monkeypatch.setattr(sources, "_BLOCK", block)
    monkeypatch.setattr(sources, "_COMPRESSED_CHUNK", chunk)
    data = DAY[:5000] if block < 100 else DAY
    third = len(data) // 3
    parts = [data[:third], data[third:2 * third], b"", data[2 * third:]]
    path = tmp_path / "mail.log.gz"
    path.write_bytes(gzip.compress(parts[0]) + gzip.compress(parts[1]) + b"\x00" * 1000
                     + b"".join(gzip.compress(p) for p in parts[2:]))
    assert list(read_lines(str(path))) == expected_lines(data)
    assert gzip.decompress(path.read_bytes()) == data  # the reference agrees


@pytest.mark.parametrize("block,chunk", [(1 << 20, 256 << 10), (1000, 777)])
@pytest.mark.parametrize("kind", ["bz2", "xz"])
def test_bz2_and_xz_read_as_their_stdlib_files_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, block: int, chunk: int
) -> None:
    # Streams one after another are all read; what follows the last, if not a stream, is
    # ignored (BZ2File and LZMAFile do so); a cut stream is an error.
    monkeypatch.setattr(sources, "_BLOCK", block)
    monkeypatch.setattr(sources, "_COMPRESSED_CHUNK", chunk)
    half = len(DAY) // 2
    path = tmp_path / "mail.log.1"
    whole = COMPRESSORS[kind](DAY[:half]) + COMPRESSORS[kind](DAY[half:])
    opener = {"bz2": bz2.open, "xz": lzma.open}[kind]
    for data in (whole, whole + b"not a stream\n"):
        path.write_bytes(data)
        with opener(path, "rb") as reference:
            assert reference.read() == DAY
        assert list(read_lines(str(path))) == expected_lines(DAY)
    path.write_bytes(whole[:-20])
    with pytest.raises(InputError, match="damaged compressed file"):
        list(read_lines(str(path)))


def _gzip_damages() -> dict[str, bytes]:
    whole = gzip.compress(DAY, mtime=0)
    return {
        **{f"cut at {cut}": whole[:cut] for cut in (2, 10, 11, 100, len(whole) - 8, len(whole) - 1)},
        "second member cut": whole + whole[: len(whole) // 2],
        "garbage after a member": whole + b"this is not gzip\n",
        "bad length": whole[:-4] + b"\x00\x00\x00\x00",
    }


@pytest.mark.parametrize("name", list(_gzip_damages()))
def test_damaged_gzip_is_an_input_error_with_either_zlib(
    tmp_path: Path, inflater: object, name: str
) -> None:
    path = tmp_path / "mail.log.2.gz"
    path.write_bytes(_gzip_damages()[name])
    lines: list[str] = []
    with pytest.raises(InputError) as caught:
        lines.extend(read_lines(str(path)))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "damaged compressed file" in message
    assert lines == (DAY * 2).decode().split("\n")[: len(lines)]  # all read before the damage
    assert not _decompress_threads(path)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_a_reader_that_stops_early_stops_the_thread_and_closes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setattr(sources, "_BLOCK", 64)  # many small blocks: the queue fills up
    opened: list[io.BufferedReader] = []
    real_open = sources._open_binary

    def recording_open(name: str) -> object:
        handle = real_open(name)
        opened.append(handle)  # type: ignore[arg-type]
        return handle

    monkeypatch.setattr(sources, "_open_binary", recording_open)
    path = tmp_path / "mail.log.1"
    path.write_bytes(COMPRESSORS[kind](DAY * 20))
    lines = read_lines(str(path))
    assert [next(lines) for _ in range(3)] == DAY.decode().split("\n")[:3]
    assert _decompress_threads(path)
    lines.close()
    assert not _decompress_threads(path)
    assert len(opened) == 1 and opened[0].closed


def test_compressed_standard_input_stopped_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_BLOCK", 64)
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(DAY * 20))))
    monkeypatch.setattr(sys, "stdin", fake)
    lines = read_lines("-")
    assert next(lines) == DAY.decode().split("\n")[0]
    lines.close()  # does not wait for standard input, and leaves it open
    assert not fake.buffer.closed


def test_a_log_named_twice_is_read_once(tmp_path: Path) -> None:
    """``analyze x x`` (or x and a link to it) reads x once and says so (issue 15)."""
    log = Path(__file__).resolve().parent.parent / "fixtures" / "mail.log"
    link = tmp_path / "link.log"
    link.symlink_to(log)
    runner = CliRunner()
    once = runner.invoke(app, ["analyze", str(log), "--no-dns", "--year", "2026",
                               "--format", "json"])
    twice = runner.invoke(app, ["analyze", str(log), str(link), str(log), "--no-dns",
                                "--year", "2026", "--format", "json"])
    assert once.exit_code == twice.exit_code == 0
    assert json.loads(twice.stdout) == json.loads(once.stdout) != []
    assert f"read once: {link}, {log} named a file already read" in twice.stderr
