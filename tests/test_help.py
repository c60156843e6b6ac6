"""Help and usage errors as an admin meets them: the real entry points, at 80 columns.

The help reads like ``postconf(1)`` or ``pflogsumm --help``: one line per option, the
choices spelled out, examples; every bad input gives one line saying what is wrong
and what to do, exit status 2, no traceback. The help texts are golden files
(``fixtures/golden/help/``; UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "fixtures" / "golden" / "help"
LOG = str(REPO / "fixtures" / "mail.log")


def run(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)


@pytest.mark.parametrize("command,golden", [
    (("analyze", "--help"), "analyze.txt"),
    (("loganalyze", "--help"), "loganalyze.txt"),
    (("loganalyze", "check", "--help"), "check.txt"),
    (("loganalyze", "report", "--help"), "report.txt"),
])
def test_help_at_80_columns(command: tuple[str, ...], golden: str) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "<bool>" not in result.stdout and "╭" not in result.stdout
    assert "Examples:" in result.stdout
    # -h is --help.
    assert run(*command[:-1], "-h").stdout == result.stdout


def test_analyze_help_is_one_line_per_option_with_the_choices_spelled_out() -> None:
    text = run("analyze", "--help").stdout
    assert text.startswith("Usage: analyze [OPTIONS] LOG...\n")
    options = text.split("Options:\n")[1].split("\n\n")[0].splitlines()
    continued = [line for line in options if not line.lstrip().startswith("-")]
    # Only the output formats and the six journal formats take a second line at 80 columns.
    assert continued == [" " * 28 + "postmaster-note (table); csv: leading = + - @ get '",
                         " " * 28 + "journal-json"], continued
    assert "  -f, --format FORMAT       table, json, csv, helo-access, client-access," in options
    assert any(line.startswith("  --dns-deadline SECONDS    limit for all DNS work, SPF re-checks")
               for line in options)
    # A wider terminal joins those lines too, and breaks nothing else.
    wide = run("analyze", "--help", columns=120).stdout.split("Options:\n")[1].split("\n\n")[0]
    joined = [line for line in options if line not in continued]
    at = joined.index("  -f, --format FORMAT       table, json, csv, helo-access, client-access,")
    joined[at] += " postmaster-note (table);"
    joined.insert(at + 1, " " * 28 + "csv: leading = + - @ get '")
    joined[joined.index("  --input-format FORMAT     auto, syslog, rfc3339, journal-full, "
                        "journal-unix,")] += " journal-json"
    assert wide.splitlines() == joined


def test_check_no_dns_speaks_of_names_not_of_a_log() -> None:
    (line,) = [x for x in run("loganalyze", "check", "-h").stdout.splitlines()
               if x.startswith("  --no-dns ")]
    assert "log" not in line and "undecided" in line


def test_report_takes_quiet_verbose_and_tz_like_analyze() -> None:
    def option_lines(*command: str) -> dict[str, str]:
        text = run(*command, "-h").stdout.split("Options:\n")[1]
        return {line.split()[0].rstrip(","): line for line in text.splitlines()
                if line.startswith("  -")}

    analyze, report = option_lines("analyze"), option_lines("loganalyze", "report")
    for name in ("-v", "-q", "--tz"):
        assert report[name] == analyze[name]


@pytest.mark.parametrize("command", [("analyze",), ("loganalyze",)])
def test_version(command: tuple[str, ...]) -> None:
    result = run(*command, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("loganalyze ") and result.stdout.count("\n") == 1


ERRORS = [
    (("analyze", LOG, "--bogus"),
     "analyze: error: unknown option --bogus (see 'analyze --help')"),
    (("analyze", LOG, "--sugest"),
     "analyze: error: unknown option --sugest: did you mean --suggest? (see 'analyze --help')"),
    (("analyze", LOG, "--format", "xml"),
     "analyze: error: --format xml: choose one of table, json, csv, helo-access, client-access,"
     " postmaster-note (see 'analyze --help')"),
    (("analyze", LOG, "-fxml"),
     "analyze: error: --format xml: choose one of table, json, csv, helo-access, client-access,"
     " postmaster-note (see 'analyze --help')"),
    (("analyze", LOG, "--input-format", "foo"),
     "analyze: error: --input-format foo: choose one of auto, syslog, rfc3339, journal-full, "
     "journal-unix, journal-json (see 'analyze --help')"),
    (("analyze", LOG, "--jobs", "x"),
     "analyze: error: --jobs x: give a whole number, 0 or more (see 'analyze --help')"),
    (("analyze", LOG, "--jobs", "-1"),
     "analyze: error: --jobs -1: give a whole number, 0 or more (see 'analyze --help')"),
    (("analyze", LOG, "--dns-timeout", "soon"),
     "analyze: error: --dns-timeout soon: give a number of seconds (see 'analyze --help')"),
    (("analyze", LOG, "--year", "last"),
     "analyze: error: --year last: give a whole number (see 'analyze --help')"),
    (("analyze", LOG, "--weights"),
     "analyze: error: --weights needs a value (see 'analyze --help')"),
    (("analyze",), "analyze: error: missing LOG: give at least one (see 'analyze --help')"),
    (("analyze", LOG, "--tz", "Mars/Base"),
     "analyze: error: --tz 'Mars/Base' is not a time zone name (e.g. Europe/Berlin or UTC)"),
    (("loganalyze",),
     "loganalyze: error: no command given: choose one of analyze, check, report "
     "(see 'loganalyze --help')"),
    (("loganalyze", "bogus"),
     "loganalyze: error: no such command 'bogus': choose one of analyze, check, report "
     "(see 'loganalyze --help')"),
    (("loganalyze", "check"),
     "loganalyze: error: missing NAME: give at least one (see 'loganalyze check --help')"),
    (("loganalyze", "check", "-f", "xml", "a.example"),
     "loganalyze: error: --format xml: choose one of table, json "
     "(see 'loganalyze check --help')"),
    (("loganalyze", "report", "--format", "pdf"),
     "loganalyze: error: --format pdf: choose one of text, html, json, mime "
     "(see 'loganalyze report --help')"),
    (("loganalyze", "report", "--tz", "Nowhere"),
     "loganalyze: error: --tz 'Nowhere' is not a time zone name (e.g. Europe/Berlin or UTC)"),
]


@pytest.mark.parametrize("command,line", ERRORS, ids=[" ".join(c[0:1] + c[2:]) or c[0]
                                                       for c, _ in ERRORS])
def test_every_bad_input_is_one_line_and_exit_2(command: tuple[str, ...], line: str) -> None:
    result = run(*command)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_report_tz_and_verbose_work_as_on_analyze(tmp_path: Path) -> None:
    journal = str(REPO / "fixtures" / "formats" / "day.journal.json")
    common = ["--no-dns", "--postfix-config", str(REPO / "fixtures" / "postfix"), "--always",
              "-f", "json", "--now", "2026-08-17T06:15:00"]

    def first_seen(tz: str) -> set[str]:
        state = str(tmp_path / f"{tz.replace('/', '-')}.sqlite")
        result = run("loganalyze", "report", journal, "--state", state, "--tz", tz, *common)
        assert result.returncode == 0, result.stderr
        return {row["first_seen"] for row in json.loads(result.stdout)["senders"]}

    analyze_rows = run("analyze", journal, "--no-dns", "--tz", "Asia/Tokyo", "-f", "json",
                       "--postfix-config", str(REPO / "fixtures" / "postfix")).stdout
    tokyo, utc = first_seen("Asia/Tokyo"), first_seen("UTC")
    assert tokyo and tokyo != utc
    assert tokyo <= {row["first_seen"] for row in json.loads(analyze_rows)}
    log = tmp_path / "mail.log"
    log.write_text("Aug 16 10:00:00 mail postfix/smtpd[1]: connect from x[192.0.2.1]\n"
                   "Aug 16 10:00:01 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from\n",
                   encoding="utf-8")
    verbose = run("loganalyze", "report", str(log), "--state", str(tmp_path / "v.sqlite"),
                  "-v", *common)
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stderr.splitlines() == [
        f"read {log} (from its start)",
        "line 2: reject line with an unexpected shape: Aug 16 10:00:01 mail postfix/smtpd[1]: "
        "NOQUEUE: reject: RCPT from"]


def test_the_readme_quotes_the_real_help() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("`analyze --help` at 80 columns begins and ends:\n\n```\n")[1]
    quoted = block.split("```")[0].splitlines()
    golden = (GOLDEN / "analyze.txt").read_text(encoding="utf-8").splitlines()
    cut = quoted.index("...")
    assert quoted[:cut] == golden[:cut]
    assert quoted[cut + 1:] == golden[len(golden) - len(quoted) + cut + 1:]
