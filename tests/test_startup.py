"""Start-up: ``analyze --no-dns`` loads only what it needs (issue 8).

Each check runs in a fresh interpreter, since this test process has long
imported everything. Only which modules get loaded is asserted, never how
long anything takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loganalyze.cli import report as cli_report
from loganalyze.input import cursors as incremental

REPO = Path(__file__).resolve().parent.parent

# Never needed to read a log and judge it without DNS.
NOT_FOR_NO_DNS = [
    "dns",  # dnspython (loganalyze.judge.dns itself is light)
    "asyncio",
    "sqlite3",
    "spf",
    "pandas",
    "rich",
    "tabulate",
    "statistics",
    "tomllib",
    "zoneinfo",
    "loganalyze.daily.run",
    "loganalyze.daily.state",
    "loganalyze.input.cursors",
    "loganalyze.judge.dns_cache",
    "loganalyze.frames",
    # The cluster backend (issue 18): only with --scheduler.
    "dask",
    "distributed",
    "fsspec",
    "loganalyze.parallel.cluster",
]


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    loaded = loaded_after("import loganalyze.cli.app")
    assert sorted(loaded & set(NOT_FOR_NO_DNS)) == []


def test_analyze_no_dns_json_loads_no_heavy_module() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from loganalyze.cli.app import analyze_main\n"
        "sys.argv = ['analyze', 'fixtures/mail.log', '--format', 'json', '--no-dns',"
        " '--year', '2026', '--quiet']\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        analyze_main()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "assert out.getvalue().startswith('['), out.getvalue()[:200]\n"
    )
    loaded = loaded_after(code)
    # pydantic, which typer uses to convert option values, loads zoneinfo itself.
    assert sorted(loaded & set(NOT_FOR_NO_DNS) - {"zoneinfo"}) == []


def test_dns_resolver_still_loads_dnspython_when_built() -> None:
    loaded = loaded_after(
        "from loganalyze.judge.dns_resolver import DnsResolver\n"
        "DnsResolver(['127.0.0.1:53'])\n"
    )
    assert {"dns.asyncresolver", "dns.nameserver"} <= loaded


def test_report_help_names_the_journal_argument_of_the_incremental_reader() -> None:
    # cli_report spells the constant out so as not to import the incremental reader.
    assert cli_report._JOURNAL == incremental.JOURNAL
