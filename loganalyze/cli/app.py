"""Command line: options -> library calls -> output -> exit status.

Exit status: 0 on success (with or without suggestions), 2 on bad usage or
unreadable input (one line on stderr, no traceback), 1 on other failures.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from .. import core
from ..compat import StrEnum
from ..errors import LogAnalyzeError
from ..judge.checks import check_helos, sanitize_helo
from ..judge.verdict import DEFAULT_WEIGHTS, load_weights
from ..model import InputFormat
from ..output import (
    OutputFormat,
    deadline_warning,
    display_text,
    render_ban_prevention,
    render_client_access,
    render_helo_access,
    render_postmaster_notes,
    render_suggest,
    render_summary,
    render_table,
    render_unparsed,
    write_csv,
    write_json,
)
from ..pipeline import Analysis, AnalyzeOptions, analyze_logs
from ..postfix.access_table import (
    domain_options,
    merge_table,
    render_domain_options,
    render_review,
    review,
    write_atomically,
)
from ..postfix.config import restriction_advice
from ..postfix.helo_access import load_helo_access
from ..postfix.learned import learned_note
from ..progress import progress
from .help import CONTEXT, PlainCommand, PlainGroup, VersionOpt, usage_message, with_examples
from .options import (
    BansOpt,
    CacheOpt,
    CheckNoDnsOpt,
    DeadlineOpt,
    Fail2banConfigOpt,
    HeloAccessOpt,
    NameserverOpt,
    NoCacheOpt,
    NoDnsOpt,
    PostfixConfigOpt,
    QuietOpt,
    TimeoutOpt,
    TzOpt,
    VerboseOpt,
    YearOpt,
    ban_check,
    fail,
    resolver_for,
    server_identity,
    zone,
)
from .report import REPORT_EXAMPLES, report_command


class CheckFormat(StrEnum):
    """The ``--format`` choices of ``check``."""

    TABLE = "table"
    JSON = "json"


ANALYZE_EXAMPLES = (
    "analyze /var/log/mail.log --suggest",
    "analyze /var/log/mail.log /var/log/mail.log.1 /var/log/mail.log.2.gz -f json",
    "zcat /var/log/mail.log.*.gz | analyze - -f helo-access > /tmp/suggested",
)
CHECK_EXAMPLES = (
    "loganalyze check ip-172-30-0-149.ec2.internal mx.example.com mailer01",
    "loganalyze check --no-dns EXCH01",
)

app = typer.Typer(
    name="loganalyze",
    help="Find the legitimate senders that Postfix's HELO restrictions reject.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=with_examples(PlainGroup, "loganalyze analyze /var/log/mail.log --suggest",
                      *CHECK_EXAMPLES[:1], "loganalyze report --always"),
    context_settings=CONTEXT,
)


@app.callback()
def _group(version: Annotated[bool, VersionOpt] = False) -> None:
    """Find the legitimate senders that Postfix's HELO restrictions reject."""


@app.command("analyze", cls=with_examples(PlainCommand, *ANALYZE_EXAMPLES),
             context_settings=CONTEXT)
def analyze_command(
    logs: Annotated[
        list[str],
        typer.Argument(metavar="LOG...",
                       help="mail logs, plain, .gz, .bz2 or .xz, in any order; - is stdin"),
    ],
    suggest: Annotated[
        bool,
        typer.Option("--suggest", help="only senders worth whitelisting, and their lines"),
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option(
            "--format", "-f",
            # The spreadsheet-injection guard of csv_format, in the room one line leaves.
            help="{choices} ({default}); csv: leading = + - @ get '")
    ] = OutputFormat.TABLE,
    wide: Annotated[
        bool, typer.Option("--wide", help="table: one line per sender, nothing cut")
    ] = False,
    nameserver: NameserverOpt = None,
    no_dns: NoDnsOpt = False,
    dns_timeout: TimeoutOpt = 2.0,
    dns_deadline: DeadlineOpt = 30.0,
    dns_cache: CacheOpt = None,
    no_dns_cache: NoCacheOpt = False,
    helo_access: HeloAccessOpt = None,
    postfix_config: PostfixConfigOpt = None,
    year: YearOpt = None,
    bans: BansOpt = False,
    fail2ban_config: Fail2banConfigOpt = None,
    write: Annotated[
        Path | None,
        typer.Option("--write", metavar="PATH",
                     help="append the suggestions to this helo_access file"),
    ] = None,
    input_format: Annotated[
        InputFormat,
        typer.Option("--input-format", help="{choices}"),
    ] = InputFormat.AUTO,
    tz: TzOpt = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", metavar="N", min=0,
                     help="processes for big inputs (0: per core, at most 4)"),
    ] = 0,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="ADDRESS",
                     help="read the logs on this Dask cluster (tcp://HOST:8786)"),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", metavar="TOML",
                     help="evidence weights to change (see class Weights)"),
    ] = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    strict: Annotated[
        bool, typer.Option("--strict",
                           help="exit 1 on a suspect input or a missed DNS deadline")
    ] = False,
    version: Annotated[bool, VersionOpt] = False,
) -> None:
    """List senders whose HELO was (or would be) rejected, with a verdict and evidence."""
    if helo_access is None and write is not None and write.exists():
        helo_access = write  # what is already in the file is not suggested again
    try:
        server = server_identity(postfix_config)
        table = load_helo_access(helo_access) if helo_access is not None else None
        checked_bans = ban_check(fail2ban_config) if bans or fail2ban_config else None
        time_zone = zone(tz)
        with progress() as sink:
            resolver = resolver_for(nameserver, no_dns, dns_timeout, dns_deadline, dns_cache,
                                 no_dns_cache, sink)
            options = AnalyzeOptions(
                resolver=resolver, server=server, helo_access=table, year=year,
                on_line_block=sink.lines,
                weights=load_weights(weights) if weights is not None else DEFAULT_WEIGHTS,
                input_format=input_format, tz=time_zone, jobs=jobs, bans=checked_bans,
                scheduler=scheduler,
            )
            analysis = analyze_logs(logs, options)
    except LogAnalyzeError as exc:
        fail(str(exc))
    server = analysis.server or server  # with the names learned from the log, if any
    findings = analysis.suggestions if suggest else analysis.findings
    options_text = render_domain_options(domain_options(analysis.findings, server))
    if output_format is OutputFormat.TABLE:
        text = (render_suggest(analysis.findings, wide=wide) if suggest
                else render_table(findings, wide=wide))
        if suggest and options_text:
            text += "\n" + options_text
        if analysis.bans is not None:
            text += "\n" + render_ban_prevention(findings, analysis.bans)
        if table is not None:
            try:
                items = review(table, analysis, resolver)
            except LogAnalyzeError as exc:
                fail(str(exc))
            text += ("\n" + render_review(items)) if items else ""
    elif output_format is OutputFormat.JSON:
        write_json(findings, sys.stdout)
        text = ""
    elif output_format is OutputFormat.CSV:
        write_csv(findings, sys.stdout)
        text = ""
    elif output_format is OutputFormat.HELO_ACCESS:
        text = render_helo_access(analysis.findings)
        if options_text:
            text += "\n" + options_text
    elif output_format is OutputFormat.POSTMASTER_NOTE:
        text = render_postmaster_notes(findings, server, time_zone)
    else:
        text = render_client_access(analysis.findings)
    sys.stdout.write(text)
    if not quiet:
        sys.stderr.write(render_summary(analysis) + core.fallback_note())
        note = learned_note(server)
        if note:
            sys.stderr.write(display_text(note) + "\n")
        advice = restriction_advice(server)
        if advice and analysis.suggestions:
            sys.stderr.write(f"warning: {advice}\n")
    if write is not None:
        _write_table(write, analysis, options_text)
    if verbose:
        sys.stderr.write(f"lines read by the {core.describe()}\n")
        sys.stderr.write(render_unparsed(analysis))
    # Printed even with -q: a run that lost its input must not look like a quiet day.
    problems = analysis.lines.problems()
    late = deadline_warning(analysis)
    if late:
        problems = [*problems, late]
    if analysis.resolver_disagrees:
        problems = [*problems, analysis.resolver_disagrees]
    for problem in problems:
        sys.stderr.write(f"warning: {problem}\n")
    if strict and problems:
        raise typer.Exit(code=1)


def _write_table(path: Path, analysis: Analysis, options_text: str) -> None:
    """Append the suggestions to the user's table, safely, and say what to run next."""
    additions = [f.access_line for f in analysis.suggestions if f.access_line is not None]
    if options_text:
        additions.append(options_text.rstrip("\n"))
    if not additions:
        sys.stderr.write(f"{path}: nothing to add\n")
        return
    when = datetime.now()
    try:
        original = path.read_text(encoding="utf-8") if path.exists() else ""
        backup = write_atomically(path, merge_table(original, additions, when), when)
    except OSError as exc:
        fail(f"{path}: cannot read the table ({exc.strerror})")
    except LogAnalyzeError as exc:
        fail(str(exc))
    count = len(analysis.suggestions)
    sys.stderr.write(
        f"{path}: added {count} entr{'y' if count == 1 else 'ies'}"
        + (f" (backup: {backup})" if backup else "") + "\n"
        + f"Review it, then run: postmap hash:{path} && postfix reload\n"
    )


@app.command("check", cls=with_examples(PlainCommand, *CHECK_EXAMPLES),
             context_settings=CONTEXT)
def check_command(
    names: Annotated[
        list[str],
        typer.Argument(metavar="NAME...", help="HELO names to check; - reads them from stdin"),
    ],
    output_format: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="{choices} ({default})")
    ] = CheckFormat.TABLE,
    nameserver: NameserverOpt = None,
    no_dns: CheckNoDnsOpt = False,
    dns_timeout: TimeoutOpt = 2.0,
    dns_deadline: DeadlineOpt = 30.0,
    dns_cache: CacheOpt = None,
    no_dns_cache: NoCacheOpt = False,
) -> None:
    """Run Postfix's three HELO checks on names, as Postfix would log them."""
    if names == ["-"]:
        names = [line.strip() for line in sys.stdin if line.strip()]
    # Check what Postfix would store for the name a client sent (space -> ?, ...).
    names = [sanitize_helo(name) for name in names]
    try:
        with progress() as sink:
            resolver = resolver_for(nameserver, no_dns, dns_timeout, dns_deadline, dns_cache,
                                 no_dns_cache, sink)
            checked = check_helos(names, resolver)
    except LogAnalyzeError as exc:
        fail(str(exc))
    results = [checked[n] for n in names]
    if output_format is CheckFormat.JSON:
        records = [
            {"helo": r.helo, "invalid": r.invalid, "non_fqdn": r.non_fqdn, "unknown": r.unknown,
             "dns": r.dns, "reply": r.reply}
            for r in results
        ]
        sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        return
    from tabulate import tabulate

    def mark(value: bool | None) -> str:
        return "?" if value is None else ("FAIL" if value else "ok")

    rows = [
        [display_text(r.helo), mark(r.invalid), mark(r.non_fqdn), mark(r.unknown), r.dns,
         display_text(r.reply or "-")]
        for r in results
    ]
    sys.stdout.write(
        tabulate(rows, headers=["HELO", "invalid", "non_fqdn", "unknown", "dns", "Postfix reply"],
                 disable_numparse=True) + "\n"
    )


def _run(typer_app: typer.Typer, prog: str) -> None:
    """Run a Typer app with one-line usage errors and quiet broken pipes."""
    try:
        status = typer_app(prog_name=prog, standalone_mode=False)
    except typer.TyperException as exc:
        if exc.exit_code == 2:
            message = usage_message(exc, sys.argv[1:], _command_path(exc, prog))
        else:
            message = exc.format_message()
        sys.stderr.write(f"{prog}: error: {message}\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write(f"{prog}: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    # Without standalone mode an Exit comes back as the return value.
    sys.exit(status if isinstance(status, int) else 0)


def _command_path(exc: typer.TyperException, prog: str) -> str:
    """``loganalyze check`` for an error in the check command (the help to read)."""
    ctx = getattr(exc, "ctx", None)
    return str(getattr(ctx, "command_path", "") or prog)


def main() -> None:
    """Entry point of ``loganalyze`` (and ``python -m loganalyze``)."""
    _run(app, "loganalyze")


app.command("report", cls=with_examples(PlainCommand, *REPORT_EXAMPLES),
            context_settings=CONTEXT)(report_command)

analyze_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
analyze_app.command(cls=with_examples(PlainCommand, *ANALYZE_EXAMPLES),
                    context_settings=CONTEXT)(analyze_command)


def analyze_main() -> None:
    """Entry point of ``analyze``: the main job without a subcommand."""
    _run(analyze_app, "analyze")
