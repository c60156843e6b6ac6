"""Output details a new admin trips over (issue 21, item 5): the CSV formula guard is
documented, times have whole seconds everywhere, ``--tz`` moves every stamp, the
helo_access wording names the entry, and a table not yet postmapped is pointed out."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyze.output.json_format import indented_json

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent

# A real smtpd session of the bundled day (fixtures/mail.log), with the HELO and the
# stamps to fill in.
CONNECT = ("{stamp} mail postfix/smtpd[{pid}]: connect from "
           "mail.lindqvist-consulting.se[198.51.100.140]")
REJECT = ("{stamp} mail postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from "
          "mail.lindqvist-consulting.se[198.51.100.140]: {reply}; "
          "from=<anna@lindqvist-consulting.se> to=<bob@example.com> proto=ESMTP helo=<{helo}>")
DISCONNECT = ("{stamp} mail postfix/smtpd[{pid}]: disconnect from "
              "mail.lindqvist-consulting.se[198.51.100.140] ehlo=1 mail=1 rcpt=0/1 quit=1 "
              "commands=3/4")
UNKNOWN = "450 4.7.1 <{helo}>: Helo command rejected: Host not found"
INVALID = "501 5.5.2 <{helo}>: Helo command rejected: Invalid name"


def session(helo: str, pid: int, stamps: tuple[str, str, str], reply: str = UNKNOWN) -> str:
    fill = {"pid": pid, "helo": helo, "reply": reply.format(helo=helo)}
    return "\n".join(line.format(stamp=stamp, **fill) for line, stamp in
                     zip((CONNECT, REJECT, DISCONNECT), stamps, strict=True)) + "\n"


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "analyze"), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, **(env or {})})


# -- (a) the CSV guard, said where an admin reads -----------------------------------------


def test_csv_formula_guard_is_applied_and_documented(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(session("-lead.example.test", 1, ("Aug 16 09:47:13",) * 3, INVALID)
                   + session("=cmd.example.test", 2, ("Aug 16 09:48:13",) * 3, INVALID))
    result = analyze(str(log), "--no-dns", "--year", "2026", "-f", "csv", "-q")
    assert result.returncode == 0, result.stderr
    helos = {row["helo"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert helos == {"'-lead.example.test", "'=cmd.example.test"}
    # ... and said, in the help of --format and in the README.
    help_text = " ".join(analyze("--help").stdout.split())
    assert "csv: leading = + - @ get '" in help_text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`csv` puts a `'` before a cell that starts with `-`, `=`, `+` or `@`" in readme


# -- (b) whole seconds, whatever the stamps carry ------------------------------------------


def test_first_and_last_seen_have_whole_seconds_in_every_output(tmp_path: Path) -> None:
    # journalctl -o short-precise: microseconds on some lines, none on others.
    log = tmp_path / "mail.log"
    log.write_text(session("mail.lindqvist-consulting.se.", 1,
                           ("Aug 16 09:47:13.000000", "Aug 16 09:47:13.512345",
                            "Aug 16 09:47:14.250000")))
    rows = json.loads(analyze(str(log), "--no-dns", "--year", "2026", "-f", "json").stdout)
    assert [(r["first_seen"], r["last_seen"]) for r in rows] == [
        ("2026-08-16T09:47:13", "2026-08-16T09:47:14")]
    (row,) = csv.DictReader(io.StringIO(
        analyze(str(log), "--no-dns", "--year", "2026", "-f", "csv").stdout))
    assert (row["first_seen"], row["last_seen"]) == ("2026-08-16T09:47:13", "2026-08-16T09:47:14")
    report = subprocess.run(
        [str(BIN / "loganalyze"), "report", str(log), "--state", str(tmp_path / "s.sqlite"),
         "--no-dns", "--year", "2026", "--now", "2026-08-17T06:00", "-f", "json"],
        capture_output=True, text=True, check=False)
    record = json.loads(report.stdout)
    assert (record["since"], record["until"]) == ("2026-08-16T09:47:13", "2026-08-16T09:47:14")
    (sender,) = record["senders"]
    assert (sender["first_seen"], sender["last_seen"]) == (
        "2026-08-16T09:47:13", "2026-08-16T09:47:14")


# -- (c) --tz moves the journal's short stamps as it moves its epoch stamps --------------


def _journal_entry(message: str, when: datetime, number: int) -> str:
    micros = str(int(when.timestamp()) * 1_000_000)
    return json.dumps({
        "MESSAGE": message, "SYSLOG_IDENTIFIER": "postfix/smtpd", "SYSLOG_PID": "7",
        "_PID": "7", "_HOSTNAME": "mail", "SYSLOG_FACILITY": "2", "_TRANSPORT": "syslog",
        "__REALTIME_TIMESTAMP": micros, "_SOURCE_REALTIME_TIMESTAMP": micros,
        "__CURSOR": f"s=0;i={number}",
    })


def test_tz_applies_to_short_stamps_so_a_session_keeps_one_clock(tmp_path: Path) -> None:
    # The machine runs in Berlin (UTC+1 in November); --tz UTC. The session's connect
    # comes from `journalctl -o json`, the rest from `journalctl -o short` (Berlin's
    # wall clock) one second later.
    connect_at = datetime(2026, 11, 24, 22, 0, 0, tzinfo=timezone.utc)
    head = tmp_path / "journal.json"
    head.write_text(_journal_entry(
        "connect from mail.lindqvist-consulting.se[198.51.100.140]", connect_at, 1) + "\n")
    tail = tmp_path / "journal.short"
    tail.write_text("\n".join(session("mail.lindqvist-consulting.se.", 7,
                                      ("", "Nov 24 23:00:01", "Nov 24 23:00:01"))
                              .splitlines()[1:]) + "\n")
    os.utime(tail, (0, datetime(2026, 11, 25).timestamp()))
    berlin = {"TZ": "Europe/Berlin"}
    result = analyze(str(head), str(tail), "--no-dns", "--tz", "UTC", "-f", "json", env=berlin)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["first_seen"], row["last_seen"], row["sessions"]) == (
        "2026-11-24T22:00:00", "2026-11-24T22:00:01", 1)
    # Without --tz both are Berlin's wall clock.
    (row,) = json.loads(analyze(str(head), str(tail), "--no-dns", "-f", "json", env=berlin).stdout)
    assert (row["first_seen"], row["last_seen"]) == ("2026-11-24T23:00:00", "2026-11-24T23:00:01")


# -- (d) the helo_access wording names the entry; (e) "did you run postmap?" ---------------

POSTMAP = "/usr/sbin/postmap"  # Postfix's own (Makefile installs Debian's postfix for it)


def _postmap(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POSTMAP, "-c", str(config), *args], capture_output=True, text=True,
                          check=False)


def _why_not(table: Path) -> dict[str, str]:
    result = analyze(str(REPO / "fixtures" / "mail.log"), "--no-dns", "--year", "2026",
                     "--postfix-config", str(REPO / "fixtures" / "postfix"),
                     "--helo-access", str(table), "-f", "json", "-q")
    assert result.returncode == 0, result.stderr
    return {r["helo"]: r.get("not_suggested_because") for r in json.loads(result.stdout)}


def test_permitted_senders_name_the_entry_and_a_stale_table_gets_the_postmap_hint(
        tmp_path: Path) -> None:
    config = tmp_path / "postfix"
    config.mkdir()
    (config / "main.cf").write_text("")  # postmap -c needs one; the defaults do
    table = config / "helo_access"
    # A parent domain's entry and an exact one (written as the admin wrote it).
    table.write_text("rakutenmarketing.com OK\nEXCH01 OK\n")
    os.utime(table, (0, datetime(2026, 8, 15, 12).timestamp()))  # before the bundled day
    rakuten, exch = "va-massmail-02.rakutenmarketing.com", "EXCH01"

    # Never compiled: Postfix reads no table at all.
    why = _why_not(table)
    assert why[rakuten] == (
        "already permitted by helo_access entry 'rakutenmarketing.com OK', yet Postfix "
        f"rejected it (last 2026-08-16 23:14): did you run postmap {table}? (there is no "
        "helo_access.db beside it)")
    assert why[exch].startswith("already permitted by helo_access entry 'exch01 OK', yet ")

    # Compiled (real postmap) after the day's rejects: Postfix sees the entries; the
    # rejects were before, so no hint.
    assert _postmap(config, f"hash:{table}").returncode == 0
    os.utime(table.with_name("helo_access.db"), (0, datetime(2026, 8, 17).timestamp()))
    assert _postmap(config, "-q", "exch01", f"hash:{table}").stdout == "OK\n"  # the oracle
    why = _why_not(table)
    assert why[rakuten] == "already permitted by helo_access entry 'rakutenmarketing.com OK'"
    assert why[exch] == "already permitted by helo_access entry 'exch01 OK'"

    # An entry added to the source afterwards, postmap not run: Postfix does not see it
    # (postmap -q says so), and the hint says why.
    table.write_text("rakutenmarketing.com OK\nEXCH01 OK\noptimus-webapi-prod-2.localdomain OK\n")
    os.utime(table, (0, datetime(2026, 8, 17, 6).timestamp()))
    optimus = "optimus-webapi-prod-2.localdomain"
    assert _postmap(config, "-q", optimus, f"hash:{table}").returncode == 1
    why = _why_not(table)
    assert why[optimus] == (
        f"already permitted by helo_access entry '{optimus} OK', yet Postfix "
        f"rejected it (last 2026-08-16 23:55): did you run postmap {table}? (helo_access.db "
        "is older than helo_access, so Postfix does not see the newer entries)")

    # Compiled before the rejects, and still rejected: postmap is not the cause.
    assert _postmap(config, f"hash:{table}").returncode == 0
    os.utime(table, (0, datetime(2026, 8, 15).timestamp()))
    os.utime(table.with_name("helo_access.db"), (0, datetime(2026, 8, 16).timestamp()))
    assert _why_not(table)[exch].endswith(
        "yet Postfix rejected it (last 2026-08-16 13:48): helo_access.db is current: is "
        "check_helo_access listed in smtpd_helo_restrictions before the "
        "reject_*_helo_hostname checks?")


_JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
                 | st.text())
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text() | st.integers() | st.floats() | st.booleans()
                                     | st.none(), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_the_json_writer_writes_what_json_dumps_writes(value: object) -> None:
    # Hostile strings (controls, quotes, non-ASCII, lone surrogates), NaN and
    # infinities, non-string keys, empty and nested containers.
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert indented_json(value, "\n  ") == json.dumps(
        value, indent=2, ensure_ascii=False).replace("\n", "\n  ")


def test_the_json_writer_refuses_what_json_refuses() -> None:
    for value in ({1j: 1}, [object()], {"a": {1, 2}}):
        with pytest.raises(TypeError):
            json.dumps(value, indent=2)
        with pytest.raises(TypeError):
            indented_json(value)
