"""``--format table``: the findings as a plain-text table, and ``--suggest`` below it."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .access import render_helo_access
from .escape import display_text
from .width import clip, pad, terminal_width, text_width

if TYPE_CHECKING:
    from ..pipeline import Finding


def _when(finding: Finding) -> str:
    first = finding.first_seen.strftime("%m-%d %H:%M")
    if finding.last_seen.date() == finding.first_seen.date():
        last = finding.last_seen.strftime("%H:%M")
    else:
        last = finding.last_seen.strftime("%m-%d %H:%M")
    return first if first.endswith(last) else f"{first}..{last}"


def _check(finding: Finding) -> str:
    return finding.check.value + ("" if finding.rejected else " (would)")


def _verdict(finding: Finding) -> str:
    return f"{finding.verdict.label.value} {finding.verdict.score:+g}"


def _evidence(finding: Finding) -> str:
    return "; ".join(finding.verdict.summary[:3])


def _action(finding: Finding) -> str:
    if finding.access_line is not None:
        return "helo_access"
    return "client only" if finding.client_access else "-"


def _bans(finding: Finding) -> str:
    """``crowdsec 08-16 09:47, fail2ban 08-16 10:19``: who would ban the client, and when."""
    claims = finding.would_be_banned_by or ()
    short = []
    for claim in claims:
        tool = claim.partition(" ")[0]
        _, at, when = claim.rpartition(" at ")
        short.append(f"{tool} {when[5:16].replace('T', ' ')}" if at else f"{tool} ?")
    return ", ".join(short) or "-"


def render_table(findings: Sequence[Finding], width: int | None = None, *,
                 wide: bool = False) -> str:
    """A plain-text table for a terminal or an e-mail, ``width`` columns at most
    (default :func:`~.width.terminal_width`): long HELOs and client names are cut with
    a visible ellipsis, the evidence is on indented lines below each row. ``wide``:
    the old layout, one line per sender, nothing cut."""
    if not findings:
        return "No HELO rejects found.\n"
    if wide:
        return _wide_table(findings)
    return fitted_table(findings, width or terminal_width())


def _wide_table(findings: Sequence[Finding]) -> str:
    from tabulate import tabulate  # only the wide table needs it

    checked = any(f.would_be_banned_by is not None for f in findings)
    rows = [[
        display_text(f.helo) if f.helo else "(none)",
        _client(f),
        _check(f),
        f.sessions,
        _when(f),
        f.spf or "-",
        _verdict(f),
        _action(f),
        *([_bans(f)] if checked else []),
        display_text(_evidence(f)),
    ] for f in findings]
    headers = ["HELO", "client", "check", "sess", "seen", "SPF", "verdict", "suggest",
               *(["banned by"] if checked else []), "evidence"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True) + "\n"

# -- fitted to the terminal ----------------------------------------------------------------

_GAP = "  "
_INDENT = "    "
_MIN_NAME = 24
"""Columns below which a HELO or client column is not worth having: the client,
sessions, time and SPF move to the indented line instead (the compact layout)."""
_MIN_COMPACT = 16
_EVIDENCE_LINES = 3


def _share(natural: list[int], flexible: list[int], room: int,
           least: int) -> list[int] | None:
    """Column widths: the natural ones, the ``flexible`` columns cut to share ``room``
    fairly (none below ``least``, or None)."""
    widths = list(natural)
    if sum(natural[i] for i in flexible) <= room:
        return widths
    if room < least * len(flexible):
        return None
    left = room
    for k, i in enumerate(sorted(flexible, key=lambda i: natural[i])):
        widths[i] = min(natural[i], left // (len(flexible) - k))
        left -= widths[i]
    return widths


def _layout(findings: Sequence[Finding], width: int, checked: bool,
            compact: bool) -> tuple[list[str], list[list[str]], list[int]] | None:
    """Headers, rows (escaped cells) and widths of one layout, or None if it cannot fit."""
    headers = ["HELO", *([] if compact else ["client"]), "check",
               *([] if compact else ["sess", "seen", "SPF"]), "verdict", "suggest",
               *(["banned by"] if checked and not compact else [])]
    rows = [[
        display_text(f.helo) if f.helo else "(none)",
        *([] if compact else [_client(f)]),
        _check(f),
        *([] if compact else [str(f.sessions), _when(f), f.spf or "-"]),
        _verdict(f),
        _action(f),
        *([display_text(_bans(f))] if checked and not compact else []),
    ] for f in findings]
    natural = [max(text_width(cell) for cell in column)
               for column in zip(headers, *rows, strict=True)]
    flexible = [headers.index(h) for h in ("HELO", "client", "banned by") if h in headers]
    fixed = sum(w for i, w in enumerate(natural) if i not in flexible)
    widths = _share(natural, flexible, width - fixed - len(_GAP) * (len(headers) - 1),
                    _MIN_COMPACT if compact else _MIN_NAME)
    if widths is None:
        return None
    if not compact:  # cut the client's name, not its address
        at = headers.index("client")
        for f, row in zip(findings, rows, strict=True):
            row[at] = _client(f, widths[at])
    return headers, rows, widths


def _client(finding: Finding, columns: int | None = None) -> str:
    """``name[address]``; in ``columns``, the name is cut first: the address always shows."""
    address = f"[{finding.client_ip}]"
    name = display_text(finding.client_name)
    if columns is not None:
        name = clip(name, max(columns - len(address), 1))
    return name + address


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return _GAP.join(pad(clip(cell, w), w) for cell, w in zip(cells, widths, strict=True)).rstrip()


def fitted_table(findings: Sequence[Finding], width: int) -> str:
    """The table in ``width`` columns: one row per sender, then its details indented.

    Wide enough, the row has every column; narrower (80 columns), the client,
    sessions, time and SPF move to the first indented line (and the ban tools to
    the next). No line is longer
    than ``width``: escaped text is cut whole escapes at a time.
    """
    checked = any(f.would_be_banned_by is not None for f in findings)
    compact = False
    layout = _layout(findings, width, checked, compact=False)
    if layout is None:
        compact = True
        layout = _layout(findings, width, checked, compact=True)
    if layout is None:  # a very narrow terminal: cut whatever does not fit
        headers, rows, natural = _layout(findings, 10**6, checked, compact=True) or ([], [], [])
        layout = (headers, rows, [min(w, _MIN_COMPACT) for w in natural])
    headers, rows, widths = layout
    room = max(width - len(_INDENT), 1)
    out = [_line(headers, widths), _GAP.join("-" * w for w in widths)]
    for finding, row in zip(findings, rows, strict=True):
        out.append(_line(row, widths))
        if compact:
            plural = "s" if finding.sessions != 1 else ""
            seen = (f"{finding.sessions} session{plural} {_when(finding)}, "
                    f"SPF {finding.spf or '-'}, from ")
            out.append(_INDENT + seen + _client(finding, room - len(seen)))
            if checked:
                out.append(_INDENT + clip("banned by " + display_text(_bans(finding)), room))
        evidence = textwrap.wrap(display_text(_evidence(finding)), room,
                                 max_lines=_EVIDENCE_LINES, placeholder=" …",
                                 break_long_words=True, break_on_hyphens=False)
        out += [_INDENT + clip(line, room) for line in evidence]
    return "\n".join(clip(line, width) for line in out) + "\n"


def render_suggest(findings: Sequence[Finding], width: int | None = None, *,
                   wide: bool = False) -> str:
    """``--suggest`` in table form: the suggested senders, then the lines to add."""
    suggested = [f for f in findings if f.suggested]
    offered = [f for f in findings if f.access_option]
    if not suggested:
        return "No sender needs a helo_access entry.\n" + (
            "\n" + render_helo_access(offered) if offered else "")
    text = render_table(suggested, width, wide=wide)
    text += "\n# Add to /etc/postfix/helo_access, then run: postmap /etc/postfix/helo_access\n\n"
    text += render_helo_access([*suggested, *offered])
    return text
