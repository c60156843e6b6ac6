"""The ``report`` command: the daily cron job (register with ``app.command("report")``).

Quiet when there is nothing new, so cron's ``MAILTO`` only mails when there
is something to read. Exit status: 0 on success (with or without output), 2
on bad usage or unreadable input, 1 when another report holds the lock or on
other failures. Options shared with ``analyze`` come from :mod:`cli_options`.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..compat import parse_iso
from ..output import ReportFormat
from ..output.delivery import DEFAULT_SENDMAIL
from .options import (
    CacheOpt,
    DeadlineOpt,
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
    fail,
    resolver_for,
    server_identity,
    zone,
)
from .report_mail import MailFromOpt, MailToOpt, SendmailOpt, SmtpOpt, mail_plan, mail_report

if TYPE_CHECKING:
    from ..daily.records import DailyReport

# incremental.JOURNAL, spelled out so that registering the command does not load the
# incremental reader (tests/test_startup.py checks that the two agree).
_JOURNAL = "journal:"

REPORT_EXAMPLES = (
    "loganalyze report --helo-access /etc/postfix/helo_access",
    "loganalyze report --since yesterday --always -f html > report.html",
    "loganalyze report --mail-to postmaster --helo-access /etc/postfix/helo_access",
)


def report_command(
    logs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LOG...",
            help=f"live logs (default /var/log/mail.log, else {_JOURNAL})",
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", metavar="PATH",
                     help="state file (root: /var/lib/loganalyze/state.sqlite)",
                     show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN",
                     help="from then on: yesterday, today, 7d, 12h, ISO date"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="WHEN",
                     help="stop there (same forms); later lines wait"),
    ] = None,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="{choices} ({default})")
    ] = ReportFormat.TEXT,
    always: Annotated[
        bool, typer.Option("--always", help="print the report even when nothing is new")
    ] = False,
    mail_to: MailToOpt = None,
    mail_from: MailFromOpt = None,
    sendmail: SendmailOpt = DEFAULT_SENDMAIL,
    smtp: SmtpOpt = None,
    nameserver: NameserverOpt = None,
    no_dns: NoDnsOpt = False,
    dns_timeout: TimeoutOpt = 2.0,
    dns_deadline: DeadlineOpt = 30.0,
    dns_cache: CacheOpt = None,
    no_dns_cache: NoCacheOpt = False,
    helo_access: HeloAccessOpt = None,
    postfix_config: PostfixConfigOpt = None,
    year: YearOpt = None,
    tz: TzOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", hidden=True,
                     help="Pretend the clock reads this (tests and goldens)."),
    ] = None,
) -> None:
    """Mail-ready report of what is new since the last run: for cron, quiet if nothing new."""
    # The report's machinery is loaded only when the command runs (not for `analyze`).
    import sqlite3

    from ..daily.run import ReportSettings, parse_when, run_report
    from ..daily.state import StateLockedError, default_state_path
    from ..errors import DeliveryError, LogAnalyzeError
    from ..input.cursors import default_logs
    from ..output.daily import render
    from ..output.escape import display_text
    from ..pipeline import AnalyzeOptions
    from ..postfix.helo_access import load_helo_access
    from ..progress import progress

    try:
        clock = parse_iso(now) if now else datetime.now()
    except ValueError:
        fail(f"--now {now!r} is not an ISO date-time")
    try:
        window_start = parse_when(since, clock) if since else None
        window_end = parse_when(until, clock) if until else None
        if window_start and window_end and window_start >= window_end:
            fail(f"--since ({window_start:%Y-%m-%d %H:%M}) is not before --until "
                  f"({window_end:%Y-%m-%d %H:%M})")
        server = server_identity(postfix_config)
        mime = output_format is ReportFormat.MIME
        if mail_to and output_format not in (ReportFormat.TEXT, ReportFormat.MIME):
            fail(f"--mail-to sends text and HTML in one message: leave out --format "
                 f"{output_format.value} (or use --format mime to print that message)")
        mail = mail_plan(mail_to, mail_from, sendmail, smtp, server, mime=mime)
        table = load_helo_access(helo_access) if helo_access is not None else None
        state_path = state if state is not None else default_state_path()
        sources = list(logs) if logs else default_logs()

        def output(report: DailyReport) -> None:
            if not (report.has_news or always):
                return
            if mail is not None:
                # A refused mail raises: the state is rolled back, the message kept.
                mail_report(mail, report, clock, state_path.parent / "unsent",
                            print_mime=mime)
            else:
                sys.stdout.write(render(report, output_format))
                sys.stdout.flush()

        with progress() as sink:
            resolver = resolver_for(nameserver, no_dns, dns_timeout, dns_deadline, dns_cache,
                                 no_dns_cache, sink)
            options = AnalyzeOptions(
                resolver=resolver, server=server, helo_access=table, year=year,
                now=clock if now else None, on_line_block=sink.lines, tz=zone(tz),
            )
            settings = ReportSettings(options, window_start, window_end, clock)
            report = run_report(sources, state_path, settings, output)
        sent = mail is not None and not mime and (report.has_news or always)
        if not quiet and (report.has_news or always) and (not sent or sys.stderr.isatty()):
            # Which sources were read, and from where: cron mails it with the report (a
            # day with nothing new stays silent, and so does a report mailed by us).
            sys.stderr.write(display_text("read " + "; ".join(report.read)) + "\n")
        if sent and not quiet and sys.stderr.isatty() and mail is not None:
            sys.stderr.write(f"report mailed to {', '.join(map(str, mail.recipients))} "
                             f"{mail.via()}\n")
    except StateLockedError as exc:
        fail(str(exc), 1)
    except DeliveryError as exc:
        fail(str(exc), 1)
    except LogAnalyzeError as exc:
        fail(str(exc))
    except sqlite3.Error as exc:
        fail(f"state database: {exc}", 1)
    # On a terminal only: under cron, stderr is mailed too, and a quiet day stays silent.
    if not quiet and sys.stderr.isatty():
        sys.stderr.write(f"{report.lines_read} lines read, {report.sessions} smtpd sessions, "
                         f"{len(report.senders)} senders with HELO rejects, "
                         f"{len(report.suggestions)} suggested\n")
    if verbose:
        sys.stderr.write("".join(f"line {u.lineno}: {u.why}: {display_text(u.line[:300])}\n"
                                 for u in report.unparsed))
