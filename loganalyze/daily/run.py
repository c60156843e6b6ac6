"""The daily report: what is new in the mail log since the last run, with history.

:func:`run_report` reads the new part of each log (:mod:`loganalyze.input.cursors`),
judges the senders of the sessions that ended in it (:func:`judge_traffic`),
compares them with what the state remembers (:mod:`loganalyze.daily.state`), hands the
finished :class:`DailyReport` to an ``output`` callback and only then commits
the state, so a run that fails or is killed anywhere before that changes
nothing. The renderers (:func:`render_text`, :func:`render_html`,
:func:`render_json`) each return one string.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from .. import __version__
from ..aggregate import Traffic, add_evidence, add_session
from ..compat import parse_iso
from ..errors import ConfigError
from ..input.cursors import Cursor, open_source, read_sessions, source_key
from ..judge.checks import Check, check_helo, dns_query_name
from ..judge.dns import HostLookup
from ..judge.verdict import Label
from ..model import ALL_KINDS, LogRecord, Window
from ..output import ReportFormat, display_text, finding_record
from ..parse import Tokenizer
from ..pipeline import AnalyzeOptions, Finding, judge_traffic
from ..postfix.helo_access import access_key, comment_text
from ..sessions import HeloSession
from .state import DayCount, SenderHistory, State, StateLock

WIDTH = 80
"""Line width of the text report."""

_CHECK_ORDER = [c.value for c in Check]


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


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderRow:
    """A rejected sender of this run and what the state remembers about it."""

    finding: Finding
    new: bool
    """First time this sender (client address + HELO) was ever seen."""
    days_seen: int
    """Distinct days with a session, over all runs (this one included)."""
    rejected_days: int
    """Days from its first to its latest HELO reject, inclusive (0 if never rejected)."""
    first_rejected: date | None
    first_suggested: datetime | None
    """When a helo_access line was first suggested for it (earlier runs)."""


@dataclass(frozen=True, slots=True)
class NowPassing:
    """A sender rejected on an earlier day whose mail gets through now."""

    client_ip: str
    helo: str
    client_name: str
    last_rejected: date | None
    why: str


@dataclass
class DailyReport:
    """Everything one run found, ready for a renderer."""

    since: datetime | None
    """Start of what this report covers (``--since``, or the first new session)."""
    until: datetime | None
    """End of what this report covers (``--until``, or the last new session)."""
    lines_read: int
    sessions: int
    rejects_by_check: dict[str, int]
    """Sessions rejected (or warned) by each HELO check, in Postfix's order."""
    rejects_by_hour: dict[datetime, dict[str, int]]
    """The same, per clock hour of the reject."""
    senders: list[SenderRow]
    now_passing: list[NowPassing]
    top_helos: list[tuple[str, int, int]]
    """(HELO, rejected sessions, distinct clients), most rejected first."""
    hosts: list[str]
    """Syslog host names seen."""
    generated: datetime
    warnings: list[str] = field(default_factory=list)
    """Lines that could not be read (rotation lost them), and the like."""
    first_report: bool = False
    """No earlier run in the state: everything is new, there is no history to tell."""
    held: int = 0
    """Sessions still open at the end of the logs: the next run counts them."""

    @property
    def suggestions(self) -> list[SenderRow]:
        """The senders with a helo_access line."""
        return [r for r in self.senders if r.finding.suggested]

    @property
    def has_news(self) -> bool:
        """Whether there is anything to tell (otherwise a cron report stays silent)."""
        return bool(self.senders or self.now_passing or self.warnings)


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
    :func:`add_session` and :func:`add_evidence` as ``analyze``), plus the
    report's own counters (rejects per check and hour, per-day counts)."""

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

    def evidence(self, record: LogRecord) -> None:
        """A postscreen, dnsblog or SPF-reject line: evidence about its client."""
        if self.window.holds(record.time):
            add_evidence(self.traffic, record)

    def reject_days(self) -> dict[tuple[str, str], list[date]]:
        """The days each (client, HELO) was rejected on, oldest first."""
        days: dict[tuple[str, str], list[date]] = defaultdict(list)
        for (ip, helo, day), count in sorted(self.days.items()):
            if count.rejected:
                days[(ip, helo)].append(day)
        return days

    def __call__(self, session: HeloSession) -> None:
        if not self.window.holds(session.start):
            return
        self.sessions += 1
        self.hosts.add(session.host)
        self.first = session.start if self.first is None else min(self.first, session.start)
        self.last = session.end if self.last is None else max(self.last, session.end)
        add_session(self.traffic, session)
        fired: dict[str, datetime] = {}
        for reject in session.helo_rejects:
            if reject.helo_check is not None:
                fired.setdefault(reject.helo_check.value, reject.time)
        no_helo = session.helo_required_reject
        if no_helo:
            fired[Check.HELO_REQUIRED.value] = session.end
        for check, when in fired.items():
            self.by_check[check] += 1
            self.by_hour[when.replace(minute=0, second=0, microsecond=0)][check] += 1
        if fired and session.helo:
            self.helo_sessions[session.helo] += 1
            self.helo_clients[session.helo].add(session.client_ip)
        if session.helo is None and not no_helo:
            return  # add_session keeps no sender for it either
        key = (session.client_ip, session.helo or "", session.start.date())
        old = self.days.get(key)
        self.days[key] = DayCount(
            (old.sessions if old else 0) + 1,
            (old.rejected if old else 0) + (1 if fired else 0),
            session.client_name,
            min(old.first, session.start) if old else session.start,
            max(old.last, session.end) if old else session.end,
        )


def _rejected_span(history: SenderHistory | None, days: list[date]) -> tuple[int, date | None]:
    firsts = [d for d in (history.first_rejected if history else None, *days) if d is not None]
    lasts = [d for d in (history.last_rejected if history else None, *days) if d is not None]
    if not firsts:
        return 0, None
    return (max(lasts) - min(firsts)).days + 1, min(firsts)


def _passing_reason(
    helo: str, options: AnalyzeOptions, last_rejected: date | None,
    lookups: dict[str, HostLookup],
) -> str:
    table = options.helo_access
    if helo and table is not None and table.permits(helo):
        hit = table.lookup(helo)
        return f"your helo_access entry {hit[0] if hit else helo!r} lets it in"
    since = f" since {last_rejected.isoformat()}" if last_rejected else ""
    query = dns_query_name(helo) if helo else None
    result = check_helo(helo, lookups.get(query) if query else None) if helo else None
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
    queries = sorted({q for (_, helo), *_ in pending if helo and (q := dns_query_name(helo))})
    lookups = options.resolver.lookup_hosts(queries) if queries else {}
    for (ip, helo), name, last, prefix in pending:
        out[(ip, helo)] = NowPassing(
            ip, helo, name, last, prefix + _passing_reason(helo, options, last, lookups))
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
            cursors: list[Cursor] = []
            # One cursor per log: naming a log twice must not read it twice.
            for name in {source_key(n): n for n in logs}.values():
                stored = state.load_cursor(source_key(name))
                cursor = Cursor.from_record(stored) if stored else None
                source = open_source(name, cursor, since=settings.since,
                                     journal_command=settings.journal_command)
                # The parser and evidence of analyze (ALL_KINDS): postscreen, dnsblog
                # and SPF rejects weigh in the verdicts here too.
                tokenizer = Tokenizer(year=options.year, now=options.now or now, tz=options.tz,
                                      input_format=options.input_format, kinds=ALL_KINDS)
                new_cursor, stats = read_sessions(
                    source, tokenizer, collector, on_evidence=collector.evidence,
                    until=settings.until, progress=options.on_line_block,
                )
                lines_read += stats.lines_read
                held += stats.held
                warnings += stats.warnings
                cursors.append(new_cursor)
            findings, _, _ = judge_traffic(collector.traffic, options)
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
                {c: collector.by_check[c] for c in _CHECK_ORDER if collector.by_check[c]},
                {h: dict(c) for h, c in sorted(collector.by_hour.items())},
                rows, passing,
                [(h, n, len(collector.helo_clients[h]))
                 for h, n in sorted(collector.helo_sessions.items(),
                                    key=lambda item: (-item[1], item[0]))[:10]],
                sorted(collector.hosts), now, warnings, first_report, held,
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


# -- text --------------------------------------------------------------------------------


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _title(report: DailyReport) -> str:
    hosts = f" on {', '.join(report.hosts)}" if report.hosts else ""
    if report.since is None and report.until is None:
        return f"Postfix HELO report{hosts}: nothing new since the last run"
    return (f"Postfix HELO report{hosts}: {_fmt_time(report.since)} to "
            f"{_fmt_time(report.until)}")


def _wrap(text: str, first: str, rest: str | None = None, width: int = WIDTH) -> list[str]:
    """Wrap escaped text to ``width``: long hostile tokens are broken, never overflow."""
    return textwrap.wrap(
        display_text(text), width=width, initial_indent=first,
        subsequent_indent=rest if rest is not None else " " * len(first),
        break_long_words=True, break_on_hyphens=False,
    ) or [first.rstrip()]


def _clip(text: str, size: int) -> str:
    text = display_text(text)
    return text if len(text) <= size else text[: size - 1] + "…"


def _checks_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{check} {n}" for check, n in counts.items())


def _when(finding: Finding) -> str:
    first, last = finding.first_seen, finding.last_seen
    if first.date() == last.date():
        span = f"{first:%m-%d %H:%M}" + (f"..{last:%H:%M}" if last != first else "")
    else:
        span = f"{first:%m-%d %H:%M}..{last:%m-%d %H:%M}"
    return span


def _history_bits(row: SenderRow, first_report: bool) -> list[str]:
    bits = []
    if row.new and not first_report:
        bits.append("new since the last report")
    elif row.finding.rejected and row.rejected_days > 1:
        bits.append(f"still rejected for {row.rejected_days} days")
    if row.days_seen > 1:
        bits.append(f"seen on {row.days_seen} days")
    if row.first_suggested is not None:
        bits.append(f"suggested since {row.first_suggested:%Y-%m-%d}")
    return bits


def _sender_block(row: SenderRow, first_report: bool) -> list[str]:
    f = row.finding
    helo = f.helo or "(no HELO)"
    out = _wrap(helo, "* ", "  ")
    out += _wrap(f"{f.client_name}[{f.client_ip}]", "  client    ", " " * 12)
    check = f.check.value + ("" if f.rejected else " (warn only)")
    spf = f", SPF {f.spf}" if f.spf else ""
    out += _wrap(f"{check}: {f.sessions} session(s), {_when(f)}{spf}", "  check     ", " " * 12)
    out += _wrap(f"{f.verdict.label.value} {f.verdict.score:+g}", "  verdict   ", " " * 12)
    bits = _history_bits(row, first_report)
    if bits:
        out += _wrap("; ".join(bits), "  history   ", " " * 12)
    for index, sentence in enumerate(f.verdict.summary[:6]):
        out += _wrap(sentence, "  evidence  - " if index == 0 else "            - ", " " * 14)
    if f.reply:
        out += _wrap(f.reply, "  reply     ", " " * 12)
    if f.not_suggested_because:
        out += _wrap(f.not_suggested_because, "  why not   ", " " * 12)
    return out


def _access_block(rows: Sequence[SenderRow]) -> list[str]:
    """The helo_access entries, comment lines wrapped (still one valid table)."""
    out: list[str] = []
    for row in rows:
        assert row.finding.access_line is not None
        if out:
            out.append("")
        for line in row.finding.access_line.split("\n"):
            if line.startswith("# "):
                out += textwrap.wrap(display_text(comment_text(line[2:])), width=WIDTH,
                                     initial_indent="# ", subsequent_indent="#   ",
                                     break_long_words=True, break_on_hyphens=False)
            else:
                out.append(display_text(line))
    return out


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def render_text(report: DailyReport) -> str:
    """The e-mail: plain text, at most 80 columns, every logged string escaped."""
    out = _wrap(_title(report), "")
    out.append("=" * min(WIDTH, max(len(line) for line in out)))
    for warning in report.warnings:
        out += _wrap(warning, "warning: ", "  ")
    rejected = len(report.senders)
    new = sum(1 for r in report.senders if r.new)
    total_rejects = sum(report.rejects_by_check.values())
    out += _heading("Summary")
    out.append(f"  new log lines        {report.lines_read:>7}")
    out.append(f"  smtpd sessions       {report.sessions:>7}")
    out += _wrap(f"{total_rejects:>7}" + (f"   ({_checks_line(report.rejects_by_check)})"
                                         if total_rejects else ""),
                 "  HELO rejects         ", " " * 32)
    out.append(f"  rejected senders     {rejected:>7}" + (f"   ({new} new)" if rejected else ""))
    out.append(f"  suggested            {len(report.suggestions):>7}")

    suggested = report.suggestions
    if suggested:
        out += _heading(f"Suggested helo_access entries ({len(suggested)})")
        for row in suggested:
            out.append("")
            out += _sender_block(row, report.first_report)
        out += _heading("Paste into /etc/postfix/helo_access, then: postmap "
                        "/etc/postfix/helo_access")
        out.append("")
        out += _access_block(suggested)

    others = [r for r in report.senders
              if not r.finding.suggested and r.finding.verdict.label is Label.LEGITIMATE]
    if others:
        out += _heading(f"Legitimate, but not suggested ({len(others)})")
        for row in others:
            out.append("")
            out += _sender_block(row, report.first_report)

    if report.top_helos:
        out += _heading("Top rejected HELO names")
        out.append(f"  {'sessions':>8}  {'clients':>7}  HELO")
        for helo, sessions, clients in report.top_helos:
            out.append(f"  {sessions:>8}  {clients:>7}  {_clip(helo, WIDTH - 23)}")

    notes = _history_notes(report)
    if notes:
        out += _heading("History")
        for note in notes:
            out += _wrap(note, "* ", "  ")
    return "\n".join(out) + "\n"


def _who(helo: str, client_name: str, client_ip: str) -> str:
    return f"{helo or '(no HELO)'} from {client_name}[{client_ip}]"


def _history_notes(report: DailyReport) -> list[str]:
    notes = []
    rejected = len(report.senders)
    new = sum(1 for r in report.senders if r.new)
    if report.first_report:
        notes.append("first report on this state: no history yet")
    elif rejected:
        notes.append(f"new since the last report: {new} of {rejected} rejected sender(s)")
    for row in report.senders:
        f = row.finding
        if (not row.new and f.rejected and row.rejected_days > 1
                and f.verdict.label is not Label.SPAM):
            since = f" (since {row.first_rejected:%Y-%m-%d})" if row.first_rejected else ""
            notes.append(f"still rejected for {row.rejected_days} days{since}: "
                         f"{_who(f.helo, f.client_name, f.client_ip)}")
    notes.extend(
        f"now passes: {_who(item.helo, item.client_name, item.client_ip)}: {item.why}"
        for item in report.now_passing
    )
    return notes


# -- JSON --------------------------------------------------------------------------------


def report_record(report: DailyReport) -> dict[str, Any]:
    """The JSON object: exactly since, until, lines_read, sessions, rejects_by_check, senders."""
    return {
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "lines_read": report.lines_read,
        "sessions": report.sessions,
        "rejects_by_check": dict(report.rejects_by_check),
        "senders": [
            {**finding_record(r.finding), "new": r.new, "days_seen": r.days_seen}
            for r in report.senders
        ],
    }


def render_json(report: DailyReport) -> str:
    """One JSON object (see :func:`report_record`)."""
    return json.dumps(report_record(report), indent=2, ensure_ascii=False) + "\n"


# -- HTML --------------------------------------------------------------------------------

_COLOURS = {"invalid": "#d62728", "non_fqdn": "#ff7f0e", "unknown": "#1f77b4",
            "helo_required": "#7f7f7f"}


def chart_png(report: DailyReport) -> bytes | None:
    """A small stacked bar chart of rejects per hour by check, or None without matplotlib."""
    if not report.rejects_by_hour:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    hours = sorted(report.rejects_by_hour)
    start, end = hours[0], hours[-1]
    slots = [start + timedelta(hours=i)
             for i in range(int((end - start).total_seconds() // 3600) + 1)]
    figure = Figure(figsize=(6.4, 2.4), dpi=100)
    axes = figure.add_subplot()
    bottom = [0] * len(slots)
    for check in _CHECK_ORDER:
        counts = [report.rejects_by_hour.get(slot, {}).get(check, 0) for slot in slots]
        if not any(counts):
            continue
        axes.bar(range(len(slots)), counts, bottom=bottom, label=check,
                 color=_COLOURS.get(check), width=0.8)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    step = max(1, len(slots) // 12)
    ticks = list(range(0, len(slots), step))
    label = "%H" if start.date() == end.date() else "%d %Hh"
    axes.set_xticks(ticks, [slots[i].strftime(label) for i in ticks], fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    axes.set_ylabel("rejects", fontsize=8)
    axes.set_ylim(0, max(bottom) * 1.3 + 0.5)  # room for the legend above the bars
    axes.legend(fontsize=7, frameon=False, ncols=4, loc="upper left")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _e(text: str) -> str:
    return html.escape(display_text(text))


def _html_sender(row: SenderRow, first_report: bool) -> str:
    f = row.finding
    evidence = "".join(f"<li>{_e(s)}</li>" for s in f.verdict.summary[:6])
    bits = _history_bits(row, first_report)
    why = (f"<br><i>not suggested: {_e(f.not_suggested_because)}</i>"
           if f.not_suggested_because else "")
    return (
        f"<tr><td><b>{_e(f.helo or '(no HELO)')}</b><br>{_e(f.client_name)}"
        f"[{_e(f.client_ip)}]</td><td>{_e(f.check.value)}"
        f"{'' if f.rejected else ' (warn only)'}<br>{f.sessions} session(s), {_e(_when(f))}"
        f"</td><td>{_e(f.verdict.label.value)} {f.verdict.score:+g}"
        f"{'<br>' + _e('; '.join(bits)) if bits else ''}</td>"
        f"<td><ul>{evidence}</ul>{why}</td></tr>"
    )


def render_html(report: DailyReport) -> str:
    """A self-contained HTML mail: summary, chart (embedded PNG), suggestions, history."""
    style = ("body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}"
             "pre{background:#f6f6f6;padding:8px}")
    title = _title(report)
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{style}</style></head><body><h2>{_e(title)}</h2>"]
    parts += [f"<p><b>warning:</b> {_e(w)}</p>" for w in report.warnings]
    total = sum(report.rejects_by_check.values())
    new = sum(1 for r in report.senders if r.new)
    parts.append(
        "<table><tr><th>new log lines</th><td>" + str(report.lines_read) + "</td></tr>"
        f"<tr><th>smtpd sessions</th><td>{report.sessions}</td></tr>"
        f"<tr><th>HELO rejects</th><td>{total}"
        f"{' (' + _e(_checks_line(report.rejects_by_check)) + ')' if total else ''}</td></tr>"
        f"<tr><th>rejected senders</th><td>{len(report.senders)} ({new} new)</td></tr>"
        f"<tr><th>suggested</th><td>{len(report.suggestions)}</td></tr></table>"
    )
    png = chart_png(report)
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<p><img alt="HELO rejects per hour by check" '
                     f'src="data:image/png;base64,{data}"></p>')
    elif report.rejects_by_hour:
        rows = "".join(
            f"<tr><td>{hour:%Y-%m-%d %H}:00</td><td>{_e(_checks_line(counts))}</td></tr>"
            for hour, counts in report.rejects_by_hour.items()
        )
        parts.append(f"<h3>HELO rejects per hour</h3><table>{rows}</table>")
    if report.suggestions:
        rows = "".join(_html_sender(r, report.first_report) for r in report.suggestions)
        parts.append(f"<h3>Suggested helo_access entries</h3><table>{rows}</table>")
        parts.append("<p>Paste into /etc/postfix/helo_access, then run "
                     "<code>postmap /etc/postfix/helo_access</code>:</p><pre>"
                     + html.escape("\n".join(_access_block(report.suggestions))) + "</pre>")
    others = [r for r in report.senders
              if not r.finding.suggested and r.finding.verdict.label is Label.LEGITIMATE]
    if others:
        rows = "".join(_html_sender(r, report.first_report) for r in others)
        parts.append(f"<h3>Legitimate, but not suggested</h3><table>{rows}</table>")
    if report.top_helos:
        parts.append("<h3>Top rejected HELO names</h3><table><tr><th>sessions</th>"
                     "<th>clients</th><th>HELO</th></tr>" + "".join(
                         f"<tr><td>{n}</td><td>{c}</td><td>{_e(h)}</td></tr>"
                         for h, n, c in report.top_helos) + "</table>")
    notes = _history_notes(report)
    if notes:
        parts.append("<h3>History</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render(report: DailyReport, output_format: ReportFormat) -> str:
    """Render in the chosen format."""
    if output_format is ReportFormat.JSON:
        return render_json(report)
    if output_format is ReportFormat.HTML:
        return render_html(report)
    return render_text(report)


def trace_entry(state_path: Path, helo: str) -> list[str]:
    """Lines telling when and why the helo_access key for ``helo`` was suggested."""
    with State.open(state_path) as state:
        traces = state.trace(access_key(helo))
    return [
        f"{t.suggested:%Y-%m-%d %H:%M} {t.client_name}[{t.client_ip}] {t.check} "
        f"{t.label} {t.score:+g}: " + "; ".join(t.evidence)
        for t in traces
    ]
