"""pandas DataFrames of mail logs: events, sessions, senders, checks, findings, suggestions.

The same pipeline as the command line (:mod:`~loganalyze.parse`, :mod:`~loganalyze.sessions`,
:mod:`~loganalyze.aggregate`, :func:`~loganalyze.pipeline.judge_traffic`), ending in a
DataFrame instead of a report. This is the only package that imports pandas.

Every frame has a fixed schema: a ``*_COLUMNS`` dict (column name -> dtype)
built from a frozen dataclass with :func:`dataclasses.asdict`, shown in the
docstring of the function that returns it, and checked by the tests. Repeated
strings (hosts, services, client names and addresses, HELO names, stages,
reasons) are ``category``; times are ``datetime64[us]`` (naive, as logged);
counts are small integers; nullable columns use pandas' ``boolean``/``Int16``
types or NaN. A month of a busy server's relevant lines fits in memory.

Where the input is a log (``logs``), it may be:

* a ``str`` or :class:`os.PathLike`: one log file (plain, .gz, .bz2, .xz) or ``-``;
* a ``list`` or ``tuple`` of those: several files, oldest first (one timeline);
* any other iterable of ``str`` (an open file, a generator, ``io.StringIO``):
  the log lines themselves. To pass lines held in a list, pass ``iter(lines)``.

Example::

    import loganalyze.frames as lf

    events = lf.read_events("/var/log/mail.log", year=2026)
    analysis = lf.analyze("/var/log/mail.log", no_dns=True)
    lf.findings_frame(analysis).query("verdict == 'legitimate'")
    print("\\n\\n".join(lf.suggestions_frame(analysis).access_entry))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from ..aggregate import SenderStats
from ..compat import Unpack, parse_iso
from ..errors import ConfigError
from ..judge.checks import Check, check_helos
from ..judge.dns import HostResolver
from ..judge.dns_setup import make_resolver
from ..judge.verdict import Weights, best_spf
from ..model import Window
from ..pipeline import Analysis, AnalyzeOptions, Finding, analyze_lines, analyze_logs
from ..postfix.config import ServerIdentity, default_identity, load_identity
from ..postfix.helo_access import HeloAccessTable, load_helo_access
from .columns import Table
from .logs import LogInput, address_domain, log_paths, log_sources, read_events, sessions_frame
from .schemas import (
    CHECK_COLUMNS,
    COLUMNS,
    EVENT_COLUMNS,
    FINDING_COLUMNS,
    HELO_CHECKS,
    SENDER_COLUMNS,
    SESSION_COLUMNS,
    SUGGESTION_COLUMNS,
)

__all__ = [
    "CHECK_COLUMNS",
    "COLUMNS",
    "EVENT_COLUMNS",
    "FINDING_COLUMNS",
    "SENDER_COLUMNS",
    "SESSION_COLUMNS",
    "SUGGESTION_COLUMNS",
    "AnalyzeArgs",
    "LogInput",
    "analyze",
    "check_frame",
    "findings_frame",
    "make_resolver",
    "read_events",
    "senders_frame",
    "sessions_frame",
    "suggestions_frame",
]

# --- DNS and the analysis ----------------------------------------------------------------


class AnalyzeArgs(TypedDict, total=False):
    """Keyword arguments of :func:`analyze`, accepted by every frame built from an analysis."""

    year: int | None
    now: datetime | None
    since: datetime | str | None
    until: datetime | str | None
    resolver: HostResolver | None
    nameservers: Sequence[str] | None
    no_dns: bool
    dns_timeout: float
    dns_deadline: float
    dns_cache: str | os.PathLike[str] | None
    no_dns_cache: bool
    postfix_config: str | os.PathLike[str] | None
    server: ServerIdentity | None
    helo_access: HeloAccessTable | str | os.PathLike[str] | None
    weights: Weights | None
    scheduler: str | None


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_iso(value)


def analyze(
    logs: LogInput,
    *,
    year: int | None = None,
    now: datetime | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    resolver: HostResolver | None = None,
    nameservers: Sequence[str] | None = None,
    no_dns: bool = False,
    dns_timeout: float = 2.0,
    dns_deadline: float = 30.0,
    dns_cache: str | os.PathLike[str] | None = None,
    no_dns_cache: bool = False,
    postfix_config: str | os.PathLike[str] | None = None,
    server: ServerIdentity | None = None,
    helo_access: HeloAccessTable | str | os.PathLike[str] | None = None,
    weights: Weights | None = None,
    scheduler: str | None = None,
) -> Analysis:
    """Run the whole analysis once, as ``analyze LOG...`` does; pass the result to the frames.

    DNS: ``resolver`` if given (e.g. a :class:`~loganalyze.judge.dns.StaticResolver`),
    else :func:`make_resolver` with the CLI's options; with neither ``no_dns``
    nor a resolver, the system's DNS is asked, as the CLI does. ``server`` (or
    ``postfix_config``, the directory of main.cf; default /etc/postfix if
    present) names our own hosts and domains, never suggested.
    ``helo_access`` (a table or its path) holds entries already in place.

    ``since``/``until`` (datetimes or ISO strings, as logged, no time zone)
    keep only the sessions that start, and the evidence logged, at
    ``since <= time < until`` (:class:`~loganalyze.model.Window`, the daily
    report's rule): for example the weeks before the HELO restrictions were
    switched on.

    ``scheduler`` (a Dask scheduler's address, ``tcp://host:8786``) reads, parses and
    aggregates the log files on that cluster's workers, as ``analyze --scheduler`` does
    (needs the ``cluster`` extra); the DNS work stays here.
    """
    if resolver is None:
        resolver = make_resolver(nameservers, no_dns=no_dns, dns_timeout=dns_timeout,
                                 dns_deadline=dns_deadline, dns_cache=dns_cache,
                                 no_dns_cache=no_dns_cache)
    if server is None:
        server = load_identity(Path(postfix_config)) if postfix_config is not None \
            else default_identity()
    table = helo_access if isinstance(helo_access, HeloAccessTable) or helo_access is None \
        else load_helo_access(Path(helo_access))
    options = AnalyzeOptions(resolver=resolver, server=server, helo_access=table, year=year,
                             now=now, scheduler=scheduler)
    if weights is not None:
        options.weights = weights
    options.window = Window(_moment(since), _moment(until))
    paths = log_paths(logs)
    if paths is not None:
        return analyze_logs(paths, options)  # exactly what the CLI runs
    if scheduler is not None:
        raise ConfigError("scheduler: the workers read log files; give paths or URLs, "
                          "not lines")
    return analyze_lines(log_sources(logs)[0][1], options)


def _analysis(source: Analysis | LogInput, options: AnalyzeArgs) -> Analysis:
    if isinstance(source, Analysis):
        if options:
            raise TypeError(
                f"analysis options {sorted(options)} given with an Analysis: "
                "pass them to analyze() instead"
            )
        return source
    return analyze(source, **options)


def _stats_attrs(frame: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    lines = analysis.lines
    frame.attrs.update(lines=lines.lines, matched=lines.matched, irrelevant=lines.irrelevant,
                       unparsed=lines.unparsed, sessions=analysis.sessions.sessions,
                       dns_names=analysis.dns_names, dns_temporary=analysis.dns_temporary)
    return frame


# --- senders -----------------------------------------------------------------------------


def _sender_row(sender: SenderStats) -> tuple[Any, ...]:
    checks = [c.value for c in (*HELO_CHECKS, Check.HELO_REQUIRED) if sender.logged_checks[c]]
    domains = sorted({d for s in sender.senders if (d := address_domain(s)) is not None})
    first = sender.first_seen or datetime.min
    return (
        sender.client_ip, sender.helo, sender.client_name, sender.sessions, first,
        sender.last_seen or first, len(sender.days), ",".join(checks) or None,
        sender.rejected, sender.enforced_rejects, sender.temporary_rejects,
        sender.helo_required_rejects, sender.first_reply or None, best_spf(sender),
        ",".join(domains), ",".join(sorted(sender.senders)[:5]), len(sender.recipients),
        sender.queued,
    )


def senders_frame(source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]) -> pd.DataFrame:
    """One row per sender, a (client address, HELO) pair: what a helo_access line lets in.

    Only sessions whose HELO is known (from a reject, reject_warning or
    policyd-spf line) or that hit smtpd_helo_required make a sender. ``source``
    is an :class:`~loganalyze.pipeline.Analysis` from :func:`analyze`, or a log
    with :func:`analyze`'s keyword arguments (DNS is not used for this frame,
    but ``since``/``until``/``year`` are).

    Schema (:data:`SENDER_COLUMNS`)::

        client_ip              str             client address
        helo                   str             HELO as Postfix stored it ("" when none was sent)
        client_name            str             client name most often logged
        sessions               int32           sessions of this sender
        first_seen             datetime64[us]  start of the first session
        last_seen              datetime64[us]  end of the last session
        days                   int32           distinct days with a session
        logged_checks          category        HELO checks the log shows firing, comma-separated
        rejected               bool            a HELO check really rejected at least one session
        enforced_rejects       int32           sessions really rejected by a HELO check
        temporary_rejects      int32           sessions with a 4xx HELO reject
        helo_required_rejects  int32           sessions that tried MAIL without HELO
        first_reply            str             first HELO reject reply logged, NaN when none
        spf                    category        best policyd-spf result seen
        sender_domains         str             envelope sender domains, comma-separated
        senders                str             envelope senders (a few), comma-separated
        recipients             int32           distinct recipients seen (capped at 50)
        queued                 int32           messages accepted from this sender
    """
    analysis = _analysis(source, options)
    table = Table(SENDER_COLUMNS)
    table.add_all(_sender_row(sender) for sender in analysis.traffic.senders.values())
    frame = table.frame().sort_values(["first_seen", "client_ip", "helo"], ignore_index=True)
    return _stats_attrs(frame, analysis)


# --- checks ------------------------------------------------------------------------------


def check_frame(
    helos: Iterable[str],
    *,
    resolver: HostResolver | None = None,
    nameservers: Sequence[str] | None = None,
    no_dns: bool = False,
    dns_timeout: float = 2.0,
    dns_deadline: float = 30.0,
    dns_cache: str | os.PathLike[str] | None = None,
    no_dns_cache: bool = False,
) -> pd.DataFrame:
    """Postfix's three HELO checks on each distinct name, as ``loganalyze check`` runs them.

    Names are HELO values as Postfix stored them (the ``helo=<...>`` of a log
    line); each distinct name is one row, in first-seen order, and DNS is asked
    once per name that needs it. DNS options as :func:`make_resolver`.

    Schema (:data:`CHECK_COLUMNS`)::

        helo      str       the HELO value
        invalid   bool      reject_invalid_helo_hostname rejects it
        non_fqdn  bool      reject_non_fqdn_helo_hostname rejects it
        unknown   boolean   reject_unknown_helo_hostname rejects it; NA when undetermined
                            (DNS skipped, or a temporary failure Postfix would defer)
        dns       category  found, nxdomain, nodata, nullmx, malformed, servfail, timeout,
                            refused, skipped, deadline (the run's DNS deadline came
                            first), or not_queried (Postfix decides without DNS)
        check     category  the first check that rejects, in restriction order; NaN if none
        reply     str       the reply Postfix would log, NaN when all pass
    """
    names = list(dict.fromkeys(h for h in helos if isinstance(h, str)))
    if resolver is None:
        resolver = make_resolver(nameservers, no_dns=no_dns, dns_timeout=dns_timeout,
                                 dns_deadline=dns_deadline, dns_cache=dns_cache,
                                 no_dns_cache=no_dns_cache)
    table = Table(CHECK_COLUMNS)
    for result in check_helos(names, resolver).values():
        first = result.first_failed
        table.add((result.helo, result.invalid, result.non_fqdn, result.unknown, result.dns,
                   first.value if first else None, result.reply))
    return table.frame()


# --- findings and suggestions -------------------------------------------------------------


def _finding_row(finding: Finding) -> tuple[Any, ...]:
    access = finding.access_line
    return (
        finding.helo, finding.client_ip, finding.client_name, finding.check.value,
        finding.rejected, finding.verdict.label.value, finding.verdict.score,
        "; ".join(finding.verdict.summary), finding.sessions, finding.first_seen,
        finding.last_seen, finding.spf, finding.reply, finding.dns,
        ", ".join(finding.senders), finding.sender_domain, access is not None,
        access.rsplit("\n", 1)[-1] if access is not None else None,
        finding.not_suggested_because,
    )


def findings_frame(source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]) -> pd.DataFrame:
    """One row per sender whose HELO was (or would be) rejected, with its verdict.

    The rows and their order are those of ``analyze`` (suggested first, then
    legitimate, then by score); the columns are the JSON report's keys
    (:func:`loganalyze.output.finding_record`) plus ``suggested``. ``source``
    is an :class:`~loganalyze.pipeline.Analysis` from :func:`analyze`, or a log
    with :func:`analyze`'s keyword arguments (DNS, server, helo_access, window).

    Schema (:data:`FINDING_COLUMNS`)::

        helo                   str             HELO as Postfix stored it ("" when none was sent)
        client_ip              str             client address
        client_name            str             client name most often logged
        check                  category        the check that fired: invalid, non_fqdn, unknown,
                                               helo_required
        rejected               bool            really rejected; False: it only would be (what-if)
        verdict                category        legitimate, suspicious or spam
        score                  float64         sum of the evidence weights
        evidence               str             the evidence, strongest first, joined with "; "
        sessions               int32           sessions of this sender
        first_seen             datetime64[us]  start of the first session
        last_seen              datetime64[us]  end of the last session
        spf                    category        best policyd-spf result, NaN when none was logged
        reply                  str             the reject reply, as logged or as Postfix would say
        dns                    category        DNS outcome for the unknown check
        senders                str             envelope senders seen (a few), joined with ", "
        sender_domain          category        the envelope sender's domain (HELO for <>)
        suggested              bool            a helo_access line is suggested
        access_line            str             the helo_access line, NaN when not suggested
        not_suggested_because  str             why a legitimate sender is not suggested, else NaN
    """
    analysis = _analysis(source, options)
    table = Table(FINDING_COLUMNS)
    table.add_all(_finding_row(finding) for finding in analysis.findings)
    return _stats_attrs(table.frame(), analysis)


def suggestions_frame(
    source: Analysis | LogInput, **options: Unpack[AnalyzeArgs]
) -> pd.DataFrame:
    """The senders worth a helo_access entry (``analyze --suggest``), one row each.

    ``"\\n\\n".join(frame.access_entry)`` is what ``--format helo-access``
    prints: append it to /etc/postfix/helo_access and run ``postmap``.
    ``source`` as :func:`findings_frame`.

    Schema (:data:`SUGGESTION_COLUMNS`)::

        helo          str             HELO as Postfix stored it
        client_ip     str             client address
        client_name   str             client name most often logged
        check         category        the check that rejected it
        rejected      bool            really rejected; False: it only would be
        score         float64         sum of the evidence weights
        evidence      str             the evidence, strongest first, joined with "; "
        sessions      int32           sessions of this sender
        first_seen    datetime64[us]  start of the first session
        last_seen     datetime64[us]  end of the last session
        access_line   str             the helo_access line, e.g. "mail.example.com OK"
        access_entry  str             the line after its "#" evidence comment, postmap-ready
    """
    analysis = _analysis(source, options)
    table = Table(SUGGESTION_COLUMNS)
    table.add_all(
        (f.helo, f.client_ip, f.client_name, f.check.value, f.rejected, f.verdict.score,
         "; ".join(f.verdict.summary), f.sessions, f.first_seen, f.last_seen,
         (f.access_line or "").rsplit("\n", 1)[-1], f.access_line)
        for f in analysis.suggestions
    )
    return _stats_attrs(table.frame(), analysis)
