"""The whole pipeline: log lines -> records -> sessions -> senders -> checks -> findings.

This is the library entry point the CLI and the notebooks share. Input is
streamed; only per-sender aggregates are kept.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from itertools import chain
from pathlib import Path

from .aggregate import SenderStats, Traffic, rare_gc_passes
from .errors import ConfigError
from .input.files import distinct_files, line_blocks, read_lines
from .input.ranges import is_plain_file
from .input.timeline import TimelineInput, order_inputs, timeline_reference
from .input.urls import expand, is_url
from .judge.bans import BanCheck, ban_claims, fail2ban_matches
from .judge.checks import Check, HeloCheckResult, check_helo, dns_query_name, lookup_and_check
from .judge.dns import DnsStatus, HostResolver
from .judge.dns_resolver import DnsResolver
from .judge.resolver_check import disagreement, distrusted, proven_names
from .judge.spf import SpfOutcome, SpfRechecks, check_many
from .judge.verdict import DEFAULT_WEIGHTS, Label, Verdict, Weights, best_spf, judge
from .model import EVERYTHING, InputFormat, TokenizerStats, Window
from .parallel.worker import RunSettings, collect_all
from .postfix.config import ServerIdentity, enforces_unknown_check
from .postfix.entry_notes import entry_comments
from .postfix.helo_access import (
    HeloAccessTable,
    decide_entry,
    format_commented_entry,
    format_entry,
)
from .postfix.learned import learn_identity
from .postfix.postmap import rejected_despite_entry
from .sessions import SessionStats

# Resolvers that can answer the single questions SPF needs.
QueryResolverTypes = (DnsResolver,)


@dataclass(frozen=True, slots=True)
class Finding:
    """One sender whose HELO was, or would be, rejected: a row of the report."""

    helo: str
    """HELO as Postfix stored it (empty when the client sent none)."""
    client_ip: str
    client_name: str
    check: Check
    """The check that fired (first in the tutorial's order), or helo_required."""
    rejected: bool
    """True if Postfix really rejected it; False if it only would be (what-if)."""
    verdict: Verdict
    sessions: int
    first_seen: datetime
    last_seen: datetime
    spf: str | None
    """Best SPF result logged for this sender, if policyd-spf saw it."""
    reply: str
    """The reject reply: as logged, or as Postfix would give it."""
    dns: str
    """DNS outcome for the unknown check (found, nxdomain, ..., skipped, not_queried)."""
    senders: tuple[str, ...]
    """Envelope senders seen (a few)."""
    sender_domain: str
    """The envelope sender's domain (the HELO for the null sender): findings group by it."""
    access_line: str | None
    """The postmap-ready helo_access entry, when the sender is suggested."""
    not_suggested_because: str | None
    """For a legitimate sender that is not suggested: why (forger rule, already permitted)."""
    passes_now: bool = False
    """Postfix rejected this HELO, but it passes all three checks now (e.g. DNS fixed)."""
    client_access: bool = False
    """True when a check_client_access entry for the address is offered (legitimate
    sender, suggested or refused by a forger rule): it cannot be forged."""
    would_be_banned_by: tuple[str, ...] | None = None
    """Ban tools that would firewall the client on these lines, and when
    (``fail2ban postfix[mode=more] after 5 matches at 2026-11-24T23:24:10``);
    empty when none would; None when not checked (``--bans`` not asked)."""
    refused_sessions: int = 0
    """Sessions a HELO check really rejected (not warnings)."""
    first_refused: datetime | None = None
    """The first reject line of those sessions."""
    last_refused: datetime | None = None
    """The last reject line of those sessions."""
    refused_days: tuple[date, ...] = ()
    """The days of those sessions, sorted."""
    replies: tuple[str, ...] = ()
    """The distinct HELO reject replies of those sessions (a few), as Postfix wrote them."""
    access_option: str | None = None
    """A ``name OK`` entry offered commented out, with its reason (a bare domain)."""

    @property
    def suggested(self) -> bool:
        """True when a helo_access line is suggested for this sender."""
        return self.access_line is not None


@dataclass
class Analysis:
    """The result of one run."""

    findings: list[Finding]
    lines: TokenizerStats
    sessions: SessionStats
    traffic: Traffic
    dns_names: int = 0
    """Distinct HELO names looked up in DNS."""
    dns_temporary: int = 0
    """How many of those lookups failed temporarily (results undetermined)."""
    repeated: tuple[str, ...] = ()
    """Log names left out because they name a file already read."""
    bans: BanCheck | None = None
    """The ban tools the findings were cross-checked with, if they were."""
    dns_deadline_names: int = 0
    """HELO names left without an answer because the DNS deadline ran out."""
    spf_deadline_pairs: int = 0
    """SPF re-checks (client address, domain) the DNS deadline left undone."""
    dns_deadline: float | None = None
    """The deadline in seconds, when a real resolver had one."""
    resolver_disagrees: str | None = None
    """One line when the resolver contradicted Postfix: the findings then ignore its answers."""
    server: ServerIdentity | None = None
    """The server identity used (names learned from the log when main.cf was missing)."""

    @property
    def suggestions(self) -> list[Finding]:
        """The findings with a helo_access line."""
        return [f for f in self.findings if f.suggested]

    @property
    def held_back(self) -> list[Finding]:
        """Legitimate senders not suggested because the DNS deadline left them undecided."""
        return held_back(self.findings)


def held_back(findings: Iterable[Finding]) -> list[Finding]:
    """The findings the DNS deadline kept from being suggested."""
    return [f for f in findings if (f.not_suggested_because or "").startswith(DEADLINE_REASON)]


@dataclass
class AnalyzeOptions:
    """Settings for :func:`analyze_logs`."""

    resolver: HostResolver
    server: ServerIdentity = field(default_factory=ServerIdentity)
    helo_access: HeloAccessTable | None = None
    weights: Weights = DEFAULT_WEIGHTS
    year: int | None = None
    now: datetime | None = None
    """The clock used to infer the year of traditional syslog lines (tests pin it)."""
    on_line_block: Callable[[int], None] | None = None
    """Progress callback: called with the number of lines read so far, every 64k lines."""
    input_format: InputFormat = InputFormat.AUTO
    """Force one log format instead of detecting it per line."""
    tz: tzinfo | None = None
    """Zone for epoch time stamps (journal JSON); default the machine's."""
    jobs: int = 1
    """Processes for reading big plain files (split at line boundaries); 0: one per core.
    Several files are read in parallel too; a session cut by a log rotation then
    counts as two halves."""
    recheck_spf: bool = True
    """Evaluate SPF ourselves for rejected senders policyd-spf never saw (needs real DNS);
    within the resolver's one DNS deadline, like the HELO lookups."""
    window: Window = EVERYTHING
    """Count only the sessions that start, and the evidence logged, in this window."""
    bans: BanCheck | None = None
    """Cross-check the findings with these ban tools (:func:`analyze_logs` only:
    ``fail2ban-regex`` reads the log files again); None: not checked."""
    scheduler: str | None = None
    """A Dask scheduler's address (``tcp://host:8786``): read, parse and aggregate on its
    workers (:mod:`loganalyze.parallel.cluster`), one task per file or byte range;
    the judge stage (DNS) stays here. None: this machine (``jobs``)."""


def _check_of(sender: SenderStats, result: HeloCheckResult | None) -> Check | None:
    """The check this sender failed: as logged, else as re-run; None if it passes."""
    if not sender.helo:
        return Check.HELO_REQUIRED if sender.helo_required_rejects else None
    logged = sender.logged_check_kinds
    if logged:
        return _first_in_order(logged)
    return result.first_failed if result is not None else None


_ORDER = [Check.INVALID, Check.NON_FQDN, Check.UNKNOWN, Check.HELO_REQUIRED]


def _first_in_order(checks: Iterable[Check]) -> Check:
    """The check Postfix evaluates first in the tutorial's restriction order."""
    return min(checks, key=_ORDER.index)


def _finding(
    sender: SenderStats, traffic: Traffic, result: HeloCheckResult | None,
    options: AnalyzeOptions, spf_recheck: SpfOutcome | None, spf_missed: bool = False,
) -> Finding | None:
    logged_kinds = sender.logged_check_kinds
    logged = _first_in_order(logged_kinds) if logged_kinds else None
    check_or_none = _check_of(sender, result)
    if check_or_none is None:
        return None
    check = check_or_none
    if check is Check.HELO_REQUIRED or result is None:
        reply = "503 5.5.1 Error: send HELO/EHLO first"
        dns = "not_queried"
    else:
        reply = sender.first_reply or result.reply or ""
        dns = result.dns
    client = traffic.clients.get(sender.client_ip)
    verdict = judge(sender, client, options.weights, spf_recheck=spf_recheck, helo_dns=dns,
                    spf_missed=spf_missed)
    now_passes = result is not None and logged is not None and not result.failed and (
        result.unknown is False
    )
    access_line = access_option = None
    why_not: str | None = None
    client_access = False
    if verdict.label is Label.LEGITIMATE:
        if now_passes:
            why_not = "the HELO passes the checks now (the sender fixed its DNS)"
        elif check is Check.HELO_REQUIRED:
            why_not = "sent no HELO: only a client-access entry can let it in"
            client_access = not options.server.owns_address(sender.client_ip)
        elif missing := _cut_by_deadline(dns, spf_missed):
            why_not = f"{DEADLINE_REASON} before {missing}: run again with a longer --dns-deadline"
        else:
            decision = decide_entry(sender.helo, sender.client_ip, sender.client_name,
                                    options.server, options.helo_access)
            why_not, client_access = decision.refused, decision.client_access
            if decision.permitted and options.helo_access is not None:
                why_not = f"{why_not}{_despite_entry(sender, options.helo_access)}"
            if why_not is None:
                access_line = format_entry(sender.helo, entry_comments(sender, check, verdict, dns))
            elif decision.commented:
                access_option = format_commented_entry(
                    sender.helo, entry_comments(sender, check, verdict, dns), why_not)
    first = sender.first_seen or datetime.min
    return Finding(
        helo=sender.helo,
        client_ip=sender.client_ip,
        client_name=sender.client_name,
        check=check,
        rejected=sender.rejected or (check is Check.HELO_REQUIRED),
        verdict=verdict,
        sessions=sender.sessions,
        first_seen=first,
        last_seen=sender.last_seen or first,
        spf=best_spf(sender),
        reply=reply,
        dns=dns,
        senders=tuple(sorted(sender.senders))[:5],
        sender_domain=_sender_domain(sender),
        access_line=access_line,
        access_option=access_option,
        not_suggested_because=why_not,
        client_access=client_access,
        passes_now=now_passes,
        refused_sessions=sender.enforced_rejects,
        first_refused=sender.first_refused,
        last_refused=sender.last_refused,
        refused_days=tuple(sorted(sender.reject_days)),
        replies=tuple(sender.replies),
    )


def _despite_entry(sender: SenderStats, table: HeloAccessTable) -> str:
    """What to look at when Postfix rejected a HELO the admin's table permits ("" when it
    did not, or nothing is amiss with the table's files)."""
    if not sender.enforced_rejects:
        return ""
    hint = rejected_despite_entry(table.path, sender.last_refused)
    if hint is None:
        return ""
    last = f" (last {sender.last_refused:%Y-%m-%d %H:%M})" if sender.last_refused else ""
    return f", yet Postfix rejected it{last}: {hint}"


DEADLINE_REASON = "the DNS deadline ran out"
"""How ``not_suggested_because`` begins for a sender the DNS deadline left undecided."""


def _cut_by_deadline(dns: str, spf_missed: bool) -> str:
    """What the DNS deadline left undone for one finding ("" when nothing)."""
    missing = (["its HELO lookup"] if dns == DnsStatus.DEADLINE.value else []) + (
        ["its SPF re-check"] if spf_missed else [])
    return " and ".join(missing)


def _sender_domain(sender: SenderStats) -> str:
    """The envelope sender's domain (the first one seen), or the HELO for the null sender."""
    for address in sorted(sender.senders):
        if "@" in address:
            return address.rpartition("@")[2].lower()
    return sender.helo.lower().rstrip(".")


def _recheck_spf(candidates: list[SenderStats], options: AnalyzeOptions) -> SpfRechecks:
    """SPF for the candidates policyd-spf never saw, when real DNS is available."""
    resolver = options.resolver
    if not options.recheck_spf or not isinstance(resolver, QueryResolverTypes):
        return SpfRechecks({})
    items = []
    for sender in candidates:
        if sender.spf or not sender.helo:
            continue
        address = next((a for a in sorted(sender.senders) if "@" in a), "")
        items.append((sender.client_ip, address, sender.helo))
    return check_many(resolver, items)


@dataclass(frozen=True)
class Judged:
    """What :func:`judge_traffic` gives back."""

    findings: list[Finding]
    dns_names: int
    """Distinct HELO names looked up."""
    dns_temporary: int
    """Lookups that failed temporarily."""
    dns_deadline_names: int
    """Lookups the DNS deadline left unanswered."""
    spf_deadline_pairs: int
    """SPF re-checks the DNS deadline left undone."""
    resolver_disagrees: str | None = None
    """The warning when the resolver contradicted Postfix (the findings then ignore DNS)."""
    server: ServerIdentity | None = None
    """The server's identity the findings were judged with (with the names learned
    from the log when there was no main.cf)."""
    dns_deadline: float | None = None
    """The deadline in seconds, when a real resolver had one."""

    @property
    def held_back(self) -> list[Finding]:
        """Legitimate senders not suggested because the DNS deadline left them undecided."""
        return held_back(self.findings)

    def into(self, analysis: Analysis) -> Analysis:
        """``analysis`` with these findings and counts."""
        analysis.findings = self.findings
        analysis.dns_names = self.dns_names
        analysis.dns_temporary = self.dns_temporary
        analysis.dns_deadline_names = self.dns_deadline_names
        analysis.spf_deadline_pairs = self.spf_deadline_pairs
        analysis.resolver_disagrees = self.resolver_disagrees
        analysis.server = self.server
        analysis.dns_deadline = self.dns_deadline
        return analysis


def judge_traffic(traffic: Traffic, options: AnalyzeOptions) -> Judged:
    """Run the checks (one DNS batch), the SPF re-checks and the verdicts over every sender.

    All of it shares the resolver's one DNS deadline; what the deadline cuts off
    is counted, and the findings it touches are never suggested.
    """
    if options.server.learn_from_log:
        options = replace(options, server=learn_identity(options.server, traffic))
    helos = sorted({s.helo for s in traffic.senders.values() if s.helo})
    # Many small objects and no reference cycles: each full collection would walk
    # all of ``traffic`` again.
    with rare_gc_passes():
        results, lookups = lookup_and_check(helos, options.resolver)
        proven = _proven_names(traffic, results, options)
        disagrees = disagreement(proven, lookups)
        distrust = disagrees is not None and disagrees.definite
        if distrust:
            # Nothing rests on "no such host" answers that contradict Postfix's.
            trusted = distrusted(lookups)
            results = {name: check_helo(name, trusted.get(dns_query_name(name) or ""))
                       for name in helos}
        # A HELO Postfix accepted under the unknown check passed it: a "would be
        # rejected" from today's DNS contradicts Postfix, not the sender.
        candidates = [s for s in traffic.senders.values()
                      if (check := _check_of(s, results.get(s.helo))) is not None
                      and not (check is Check.UNKNOWN and not s.logged_check_kinds
                               and s.helo in proven)]
        rechecks = SpfRechecks({}) if distrust else _recheck_spf(candidates, options)
        findings = []
        for sender in candidates:
            # The sender's domain keys the SPF re-checks; without any, skip finding it.
            key = (sender.client_ip, _sender_domain(sender))
            finding = _finding(sender, traffic, results.get(sender.helo), options,
                               rechecks.outcomes.get(key), key in rechecks.missed)
            if finding is not None:
                findings.append(finding)
        findings.sort(key=lambda f: (not f.suggested, f.verdict.label != Label.LEGITIMATE,
                                     -f.verdict.score, f.first_seen, f.client_ip, f.helo))
    temporary = sum(1 for lk in lookups.values() if lk.status.is_temporary)
    late = sum(1 for lk in lookups.values() if lk.status is DnsStatus.DEADLINE)
    return Judged(findings, len(lookups), temporary, late, len(rechecks.missed),
                  disagrees.warning() if disagrees is not None else None, options.server,
                  getattr(options.resolver, "deadline", None))


def _proven_names(traffic: Traffic, results: dict[str, HeloCheckResult],
                  options: AnalyzeOptions) -> set[str]:
    """HELO names Postfix accepted under the unknown check (see judge/resolver_check.py)."""
    table = options.helo_access
    permitted = {s.helo for s in traffic.senders.values()
                 if s.accepted and table is not None and table.permits(s.helo)}
    return proven_names(traffic, results, enforces_unknown_check(options.server), permitted,
                        options.server.owns_address)


def analyze_lines(lines: Iterable[str], options: AnalyzeOptions) -> Analysis:
    """Analyze an iterable of log lines (one timeline)."""
    return analyze_blocks(line_blocks(lines), options)


def analyze_blocks(blocks: Iterable[Sequence[str]], options: AnalyzeOptions) -> Analysis:
    """Analyze a timeline given in blocks of lines (:func:`~loganalyze.input.files.read_blocks`)."""
    part = collect_all(blocks, _run_settings(options), options.on_line_block)
    judged = judge_traffic(part.traffic, options)
    return judged.into(Analysis([], part.lines, part.sessions, part.traffic))


def _run_settings(options: AnalyzeOptions) -> RunSettings:
    return RunSettings(options.input_format, options.tz, options.now, options.window,
                       options.year)


def analyze_logs(paths: Sequence[str], options: AnalyzeOptions) -> Analysis:
    """Analyze log files (plain or compressed) or ``-`` for standard input as one timeline.

    Files may be given in any order (mail.log, mail.log.1, mail.log.2.gz):
    they are read oldest first, by their first time stamp.
    A file named twice (or by a link) is read once (:attr:`Analysis.repeated`).
    """
    paths, repeated = distinct_files(expand(list(paths)))
    if options.bans is not None and options.bans.jail.enabled:
        _fail2ban_can_read(paths)  # before reading: standard input cannot be read twice
    analysis = _analyze_paths(paths, options)
    if options.bans is not None:
        analysis = with_bans(analysis, paths, options.bans, options.tz)
    return replace(analysis, repeated=tuple(repeated)) if repeated else analysis


def _analyze_paths(paths: Sequence[str], options: AnalyzeOptions) -> Analysis:
    from .input import split

    if options.scheduler is not None:
        from .parallel import cluster  # Dask is imported only here

        cluster.refuse_stdin(paths)
    # Probed once (standard input cannot be read twice): the order, and the reference
    # the first line's year is inferred back from.
    inputs = order_inputs(paths, input_format=options.input_format, tz=options.tz,
                          now=options.now)
    reference = timeline_reference(inputs, options.now)
    dated = replace(options, now=reference)
    if options.scheduler is not None:
        traffic, line_stats, session_stats = cluster.run_on_cluster(
            paths, options.scheduler, _run_settings(dated), on_lines=options.on_line_block)
        judged = judge_traffic(traffic, options)
        return judged.into(Analysis([], line_stats, session_stats, traffic))
    merged = None
    if options.jobs != 1:
        merged = _run_split(inputs, options.jobs or split.default_jobs(), reference, options)
    if merged is not None:
        traffic, line_stats, session_stats = merged
        judged = judge_traffic(traffic, options)
        return judged.into(Analysis([], line_stats, session_stats, traffic))
    return analyze_blocks(chain.from_iterable(i.raw_blocks() for i in inputs), dated)


def _run_split(inputs: Sequence[TimelineInput], jobs: int, reference: datetime,
               options: AnalyzeOptions) -> tuple[Traffic, TokenizerStats, SessionStats] | None:
    """The inputs read by ``jobs`` processes, big compressed ones unpacked first so they
    can be cut too; None when not worth it, or when a worker dated its lines otherwise
    than one read would (months that jump around): then one process reads it all
    again, as if --jobs 1."""
    from . import parallel
    from .input import split
    from .input.unpack import unpacked

    # One process (a single core) gains nothing from cutting a compressed file.
    with unpacked(inputs, 2 * split.MIN_RANGE) if jobs > 1 else nullcontext(inputs) as readable:
        names = [item.name for item in readable]
        if not split.worth_splitting(names):
            return None
        tasks = split.plan(names, jobs, input_format=options.input_format, tz=options.tz,
                           now=options.now, year=options.year, inputs=readable)
        if len(tasks) < 2:
            return None
        return parallel.run_tasks(
            tasks, jobs, input_format=options.input_format, tz=options.tz, now=reference,
            on_lines=options.on_line_block, window=options.window, year=options.year,
        )


def with_bans(analysis: Analysis, paths: Sequence[str], check: BanCheck,
              tz: tzinfo | None = None) -> Analysis:
    """``analysis`` with each finding's ``would_be_banned_by`` filled in.

    fail2ban's matches are what ``fail2ban-regex`` finds in ``paths`` (every
    line of the client its filter matches, HELO reject or not); CrowdSec's are
    the client's HELO-reject lines the aggregate kept.
    """
    matches: dict[str, list[datetime]] = {}
    if check.jail.enabled and analysis.findings:
        with _fail2ban_inputs(paths) as files:
            matches = fail2ban_matches(files, check.jail, tz)
    claims: dict[str, tuple[str, ...]] = {}
    findings = []
    for finding in analysis.findings:
        ip = finding.client_ip
        if ip not in claims:
            client = analysis.traffic.clients.get(ip)
            claims[ip] = ban_claims(
                ip, matches.get(ip, []), client.helo_reject_times if client else [],
                client.helo_reject_lines if client else 0, check)
        findings.append(dataclasses.replace(finding, would_be_banned_by=claims[ip]))
    return dataclasses.replace(analysis, findings=findings, bans=check)


def _fail2ban_can_read(paths: Sequence[str]) -> None:
    """Raise :class:`ConfigError` when ``fail2ban-regex`` cannot read ``paths`` again."""
    if "-" in paths:
        raise ConfigError("--bans needs the logs as files (fail2ban-regex reads them again), "
                          "not standard input")


@contextmanager
def _fail2ban_inputs(paths: Sequence[str]) -> Iterator[list[str]]:
    """Plain syslog files ``fail2ban-regex`` can read: the logs, compressed ones unpacked."""
    with tempfile.TemporaryDirectory(prefix="loganalyze-bans-") as scratch:
        files = []
        _fail2ban_can_read(paths)
        for number, path in enumerate(paths):
            lines = read_lines(path)
            first = next((line for line in lines if line.strip()), "")
            if first.lstrip().startswith("{"):
                lines.close()
                raise ConfigError(f"{path}: --bans needs syslog lines (fail2ban-regex reads "
                                  "them); this is a journal JSON export")
            if is_plain_file(path) and not is_url(path):
                lines.close()
                files.append(path)
                continue
            copy = Path(scratch) / f"{number}.log"
            with copy.open("w", encoding="utf-8") as out:
                out.write(first + "\n")
                for line in lines:
                    out.write(line + "\n")
            files.append(str(copy))
        yield files
