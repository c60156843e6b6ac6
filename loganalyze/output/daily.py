"""The daily report's formats: text (80 columns, for cron mail), JSON and HTML with a chart."""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ..daily.records import DailyReport, SenderRow
from ..judge.checks import Check
from ..judge.verdict import Label
from ..pipeline import Finding
from ..postfix.helo_access import comment_text
from . import ReportFormat
from .escape import display_text
from .records import finding_record, iso_seconds

WIDTH = 80
"""Line width of the text report."""



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


def clip_text(text: str, size: int) -> str:
    """Escaped, and at most ``size`` characters (an ellipsis marks a cut)."""
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
            out.append(f"  {sessions:>8}  {clients:>7}  {clip_text(helo, WIDTH - 23)}")

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
        "since": iso_seconds(report.since) if report.since else None,
        "until": iso_seconds(report.until) if report.until else None,
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
    for check in (c.value for c in Check):  # in Postfix's order
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
        f"<td>{'<ul>' + evidence + '</ul>' if evidence else ''}{why}</td></tr>"
    )


def _html_table(header: Sequence[str], rows: Sequence[str]) -> str:
    """A table with its header row; ``rows`` are finished ``<tr>`` elements."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_SENDER_HEADER = ("HELO and client", "check and sessions", "verdict", "evidence")

CHART_ALT = "HELO rejects per hour by check"


def chart_data_uri(png: bytes | None) -> str | None:
    """The chart as a ``data:`` URI, for an HTML file opened in a browser (mail clients
    block these: the mail refers to an inline part, see :mod:`.mime`)."""
    if png is None:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(report: DailyReport) -> str:
    """A self-contained HTML file: the chart embedded as a ``data:`` URI."""
    return html_report(report, chart_data_uri(chart_png(report)))


def html_report(report: DailyReport, chart_src: str | None) -> str:
    """The HTML report: summary, chart, suggestions, history.

    ``chart_src`` is the ``src`` of the chart's image (a ``data:`` URI, or a mail's
    ``cid:`` URL); None gives the rejects per hour as a table instead.
    """
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
    if chart_src:
        parts.append(f'<p><img alt="{CHART_ALT}" src="{html.escape(chart_src)}"></p>')
    elif report.rejects_by_hour:
        rows = [f"<tr><td>{hour:%Y-%m-%d %H}:00</td><td>{_e(_checks_line(counts))}</td></tr>"
                for hour, counts in report.rejects_by_hour.items()]
        parts.append("<h3>HELO rejects per hour</h3>"
                     + _html_table(("hour", "rejects by check"), rows))
    if report.suggestions:
        rows = [_html_sender(r, report.first_report) for r in report.suggestions]
        parts.append("<h3>Suggested helo_access entries</h3>"
                     + _html_table(_SENDER_HEADER, rows))
        parts.append("<p>Paste into /etc/postfix/helo_access, then run "
                     "<code>postmap /etc/postfix/helo_access</code>:</p><pre>"
                     + html.escape("\n".join(_access_block(report.suggestions))) + "</pre>")
    others = [r for r in report.senders
              if not r.finding.suggested and r.finding.verdict.label is Label.LEGITIMATE]
    if others:
        rows = [_html_sender(r, report.first_report) for r in others]
        parts.append("<h3>Legitimate, but not suggested</h3>"
                     + _html_table(_SENDER_HEADER, rows))
    if report.top_helos:
        rows = [f"<tr><td>{n}</td><td>{c}</td><td>{_e(h)}</td></tr>"
                for h, n, c in report.top_helos]
        parts.append("<h3>Top rejected HELO names</h3>"
                     + _html_table(("sessions", "clients", "HELO"), rows))
    notes = _history_notes(report)
    if notes:
        parts.append("<h3>History</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render(report: DailyReport, output_format: ReportFormat) -> str:
    """Render in the chosen format (not mime: that is a message, see :mod:`.mime`)."""
    if output_format is ReportFormat.MIME:
        raise ValueError("the mime format is built by loganalyze.output.mime.build_message")
    if output_format is ReportFormat.JSON:
        return render_json(report)
    if output_format is ReportFormat.HTML:
        return render_html(report)
    return render_text(report)
