"""The daily report: what is new in the mail log since the last run, with history.

:func:`run_report` reads the new part of each log (:mod:`loganalyze.input.cursors`),
judges the senders of the sessions that ended in it (:func:`judge_traffic`),
compares them with what the state remembers (:mod:`loganalyze.daily.state`), hands the
finished :class:`DailyReport` to an ``output`` callback and only then commits
the state, so a run that fails or is killed anywhere before that changes
nothing. Its records are in :mod:`loganalyze.daily.records`, its formats in
:mod:`loganalyze.output.daily`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .. import __version__
from ..aggregate import Traffic, add_session
from ..compat import parse_iso
from ..errors import ConfigError
from ..input.cursors import open_source, report_sources, source_key
from ..input.positions import Cursor
from ..input.timeline import reference_time
from ..judge.checks import Check, HeloCheckResult, check_helos
from ..model import ALL_KINDS, Unparsed, Window
from ..output.summary import deadline_warning
from ..parse import Tokenizer
from ..pipeline import AnalyzeOptions, Finding, judge_traffic
from ..postfix.helo_access import access_key, permitted_by
from ..sessions import SmtpSession
from .records import DailyReport, NowPassing, SenderRow
from .resume import read_sessions
from .state import DayCount, SenderHistory, State, StateLock

# -- --since / --until ------------------------------------------------------------------

_RELATIVE = re.compile(r"(\d+)\s*([dh])")


def parse_when(text: str, now: datetime) -> datetime:
    """Parse ``yesterday``, ``today``, ``7d`` / ``12h`` (ago), or an ISO date or date-time.

    Days start at midnight: ``yesterday`` is yesterday 00:00 and
    ``2026-11-20`` is 2026-11-20 00:00, so ``--since yesterday --until today``
    is all of yesterday. Times are local, like the log's.
    """
    value = text.strip().lower()
    midnight = datetime.combine(now.date(), time())
    if value == "today":
        return midnight
    if value == "yesterday":
        return midnight - timedelta(days=1)
    if value == "now":
        return now
    m = _RELATIVE.fullmatch(value)
    if m is not None:
        amount = int(m[1])
        return now - (timedelta(days=amount) if m[2] == "d" else timedelta(hours=amount))
    try:
        parsed = parse_iso(text.strip())
    except ValueError:
        raise ConfigError(
            f"cannot understand the time {text!r}; use yesterday, today, 7d, 12h, "
            "2026-11-20 or 2026-11-20T06:00"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed


FIRST_RUN_LOOKBACK = timedelta(hours=24)
"""How far back a first report reads when ``--since`` is not given: rotated siblings
modified within it, and the journal's entries."""


@dataclass
class ReportSettings:
    """What :func:`run_report` needs besides the logs and the state."""

    options: AnalyzeOptions
    """Resolver, server identity, helo_access table, weights, year."""
    since: datetime | None = None
    until: datetime | None = None
    now: datetime | None = None
    """The wall clock (tests pin it); default: the real one."""
    journal_command: Sequence[str] = ("journalctl",)


class ReportTally:
    """What one report run counts: the traffic for the verdicts (the same
    :func:`add_session`, and the evidence that analyze's collector adds), plus
    the report's own counters (rejects per check and hour, per-day counts).
    It is called with the sessions inside :attr:`window`."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.traffic = Traffic()
        self.sessions = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.by_check: Counter[str] = Counter()
        self.by_hour: dict[datetime, Counter[str]] = defaultdict(Counter)
        self.helo_sessions: Counter[str] = Counter()
        self.helo_clients: dict[str, set[str]] = defaultdict(set)
        self.days: dict[tuple[str, str, date], DayCount] = {}
        self.hosts: set[str] = set()

    def reject_days(self) -> dict[tuple[str, str], list[date]]:
        """The days each (client, HELO) was rejected on, oldest first."""
        days: dict[tuple[str, str], list[date]] = defaultdict(list)
        for (ip, helo, day), count in sorted(self.days.items()):
            if count.rejected:
                days[(ip, helo)].append(day)
        return days

    def __call__(self, session: SmtpSession) -> None:
        self.sessions += 1
        self.hosts.add(session.host)
        start, end = session.start, session.end
        if self.first is None or start < self.first:
            self.first = start
        if self.last is None or end > self.last:
            self.last = end
        add_session(self.traffic, session)
        fired: dict[str, datetime] = {}
        for reject in session.rejects:
            if reject.helo_check is not None and reject.helo_check.value not in fired:
                fired[reject.helo_check.value] = reject.time
        no_helo = session.helo is None and session.helo_required_reject
        if no_helo:
            fired[Check.HELO_REQUIRED.value] = end
        if fired:
            for check, when in fired.items():
                self.by_check[check] += 1
                self.by_hour[when.replace(minute=0, second=0, microsecond=0)][check] += 1
            if session.helo:
                self.helo_sessions[session.helo] += 1
                self.helo_clients[session.helo].add(session.client_ip)
        if session.helo is None and not no_helo:
            return  # add_session keeps no sender for it either
        key = (session.client_ip, session.helo or "", start.date())
        old = self.days.get(key)
        rejected = 1 if fired else 0
        self.days[key] = DayCount(1, rejected, session.client_name, start, end) if old is None \
            else DayCount(old.sessions + 1, old.rejected + rejected, session.client_name,
                          min(old.first, start), max(old.last, end))


def _rejected_span(history: SenderHistory | None, days: list[date]) -> tuple[int, date | None]:
    firsts = [d for d in (history.first_rejected if history else None, *days) if d is not None]
    lasts = [d for d in (history.last_rejected if history else None, *days) if d is not None]
    if not firsts:
        return 0, None
    return (max(lasts) - min(firsts)).days + 1, min(firsts)


def _passing_reason(
    helo: str, options: AnalyzeOptions, last_rejected: date | None,
    result: HeloCheckResult | None,
) -> str:
    table = options.helo_access
    entry = table.permitting_entry(helo) if helo and table is not None else None
    if entry is not None:
        return f"{permitted_by(entry)}: it gets in"
    since = f" since {last_rejected.isoformat()}" if last_rejected else ""
    if result is not None and not result.failed and result.unknown is False:
        return "its HELO passes the checks now: the sender fixed its DNS"
    if result is not None and result.failed:
        return (f"no HELO reject{since}, though its old HELO still fails "
                f"{result.failed[0].value}: it may send another name now")
    return f"no HELO reject{since}: the sender fixed its DNS, or an access entry lets it in"


def _now_passing(
    state: State, collector: ReportTally, findings: list[Finding], options: AnalyzeOptions,
    history: dict[tuple[str, str], SenderHistory],
) -> list[NowPassing]:
    """Senders rejected on an earlier day whose mail gets through in this run."""
    traffic = collector.traffic
    out: dict[tuple[str, str], NowPassing] = {}
    for finding in findings:
        old = history.get((finding.client_ip, finding.helo))
        if finding.passes_now and old is not None:
            out[(finding.client_ip, finding.helo)] = NowPassing(
                finding.client_ip, finding.helo, finding.client_name, old.last_rejected,
                "its HELO passes the checks now: the sender fixed its DNS",
            )
    # (key, client name, last rejected, prefix of the reason) to explain below.
    pending: list[tuple[tuple[str, str], str, date | None, str]] = []
    # Senders whose HELO is known (policyd-spf logged it) and that got no HELO reject.
    finding_keys = {(f.client_ip, f.helo) for f in findings}
    for key, sender in traffic.senders.items():
        old = history.get(key)
        if key in finding_keys or old is None or old.last_rejected is None or not sender.helo:
            continue
        pending.append((key, sender.client_name, old.last_rejected, ""))
    # Clients whose mail was accepted with no HELO reject: their HELO is not logged
    # then, so name the HELOs they were rejected for before.
    finding_ips = {f.client_ip for f in findings}
    accepted = [
        ip for ip, client in traffic.clients.items()
        if client.queued and ip not in finding_ips
        and not any(k.startswith("helo_") and n for k, n in client.rejects.items())
    ]
    known = {p[0] for p in pending} | set(out) | finding_keys
    for old in state.rejected_senders_of(accepted):
        key = (old.client_ip, old.helo)
        if key not in known:
            client = traffic.clients[old.client_ip]
            pending.append((key, client.name, old.last_rejected,
                            f"{client.queued} message(s) accepted; "))
    checked = check_helos(sorted({helo for (_, helo), *_ in pending if helo}), options.resolver)
    for (ip, helo), name, last, prefix in pending:
        out[(ip, helo)] = NowPassing(
            ip, helo, name, last,
            prefix + _passing_reason(helo, options, last, checked.get(helo)))
    return sorted(out.values(), key=lambda p: (p.client_ip, p.helo))


def run_report(
    logs: Sequence[str],
    state_path: Path,
    settings: ReportSettings,
    output: Callable[[DailyReport], None],
    *,
    before_commit: Callable[[], None] | None = None,
) -> DailyReport:
    """Read what is new, judge it, remember it; call ``output``; then commit.

    Holds the state's lock for the whole run (:class:`StateLockedError` if
    another run has it). ``output`` runs inside the transaction: if it
    raises, nothing is committed and the next run reports the same lines.
    ``before_commit`` is a hook for tests that interrupt a run at the last
    moment.
    """
    now = settings.now or datetime.now()
    options = settings.options
    with StateLock(state_path), State.open(state_path) as state:
        state.begin()
        try:
            first_report = state.last_run() is None
            run_id = state.start_run(now, __version__)
            collector = ReportTally(Window(settings.since, settings.until))
            lines_read = held = 0
            warnings: list[str] = []
            read: list[str] = []
            unparsed: list[Unparsed] = []
            cursors: list[Cursor] = []
            # One cursor per log: naming a log twice must not read it twice.
            # Each file once, with the rotated siblings named beside it (report_sources).
            for name, siblings in report_sources(logs):
                stored = state.load_cursor(source_key(name))
                cursor = Cursor.from_record(stored) if stored else None
                # A first run reads the rotated siblings written to in the last day too
                # (FIRST_RUN_LOOKBACK; --since for more), and the journal from then on.
                source = open_source(name, cursor,
                                     since=settings.since or now - FIRST_RUN_LOOKBACK,
                                     journal_command=settings.journal_command,
                                     named=siblings)
                # The parser and evidence of analyze (ALL_KINDS): postscreen, dnsblog
                # and SPF rejects weigh in the verdicts here too.
                # Years inferred back from the log's modification time, as analyze does.
                reference = reference_time(name, options.now or now)
                tokenizer = Tokenizer(year=options.year, now=reference, tz=options.tz,
                                      input_format=options.input_format, kinds=ALL_KINDS)
                new_cursor, stats = read_sessions(
                    source, tokenizer, collector, traffic=collector.traffic,
                    window=collector.window, until=settings.until,
                    progress=options.on_line_block,
                )
                lines_read += stats.lines_read
                held += stats.held
                read.append(source.read_summary())
                warnings += stats.warnings
                unparsed += tokenizer.stats.samples
                cursors.append(new_cursor)
            judged = judge_traffic(collector.traffic, options)
            findings = judged.findings
            if judged.resolver_disagrees:
                warnings.append(judged.resolver_disagrees)
            late = deadline_warning(judged)
            if late:  # like analyze's warning: missing answers must not look like a quiet day
                warnings.append(late)
            keys = set(collector.traffic.senders) | {(f.client_ip, f.helo) for f in findings}
            history = state.history(keys)
            passing = _now_passing(state, collector, findings, options, history)
            state.record_days(run_id, collector.days)
            state.record_findings(run_id, findings, now)
            rows = []
            reject_days = collector.reject_days()  # once: not a scan of all days per finding
            for finding in findings:
                key = (finding.client_ip, finding.helo)
                old = history.get(key)
                span, first_rejected = _rejected_span(old, reject_days.get(key, []))
                rows.append(SenderRow(
                    finding, old is None, state.days_seen(*key), span, first_rejected,
                    old.first_suggested if old else None,
                ))
            since = settings.since or collector.first
            until = settings.until or collector.last
            report = DailyReport(
                since, until, lines_read, collector.sessions,
                {c.value: n for c in Check if (n := collector.by_check[c.value])},
                {h: dict(c) for h, c in sorted(collector.by_hour.items())},
                rows, passing,
                [(h, n, len(collector.helo_clients[h]))
                 for h, n in sorted(collector.helo_sessions.items(),
                                    key=lambda item: (-item[1], item[0]))[:10]],
                sorted(collector.hosts), now, warnings, first_report, held, read, unparsed,
            )
            for cursor in cursors:
                state.save_cursor(cursor.to_record(), run_id, now)
            state.finish_run(run_id, since, until, lines_read, collector.sessions)
            output(report)
            if before_commit is not None:
                before_commit()
        except BaseException:
            state.rollback()
            raise
        state.commit()
    return report


def trace_entry(state_path: Path, helo: str) -> list[str]:
    """Lines telling when and why the helo_access key for ``helo`` was suggested."""
    with State.open(state_path) as state:
        traces = state.trace(access_key(helo))
    return [
        f"{t.suggested:%Y-%m-%d %H:%M} {t.client_name}[{t.client_ip}] {t.check} "
        f"{t.label} {t.score:+g}: " + "; ".join(t.evidence)
        for t in traces
    ]
