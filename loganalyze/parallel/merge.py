"""Adding up the workers' parts, in task order, exactly as one process would count."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import datetime
from sys import intern
from typing import Any

from ..aggregate import ClientStats, SenderStats, Traffic
from ..model import (
    TokenizerStats,
)
from ..parse.header import resumes
from ..sessions import SessionStats
from .worker import Part, RunSettings, SpfLine


class PartMerger:
    """Adds up the parts of the tasks, in task order (earliest range first).

    The first part's aggregates are taken over, the others merged into them: a
    part may come whole (``"part"``) or as its counts first and then chunks of
    its clients and senders (``"clients"``, ``"senders"``).
    """

    def __init__(self, settings: RunSettings) -> None:
        self._now = settings.now or datetime.now()
        self._explicit_year = settings.year is not None
        # Where a sequential read's year inference stands after the parts merged so far.
        self._clock: tuple[int | None, int] | None = (settings.year, 0)
        self.traffic: Traffic | None = None
        self.lines = TokenizerStats()
        self.sessions = SessionStats()
        self.merged = 0
        """Parts merged completely."""
        self._taken_past_end: Counter[SpfLine] = Counter()

    def add(self, what: str, item: Any) -> None:
        """Merge one message of the next part (``"end"``: it is complete)."""
        if what == "end":
            self.merged += 1
        elif what == "part":
            self._add_part(item)
        elif what == "clients":
            assert self.traffic is not None
            self.traffic.merge(Traffic(clients=_interned_clients(item)))
        elif what == "senders":
            assert self.traffic is not None
            self.traffic.merge(Traffic(senders=_interned_senders(item)))

    @property
    def years_agree(self) -> bool:
        """False if a part's worker dated its lines in another year than one
        process reading everything would (a log whose months jump around)."""
        return self._clock is not None

    def _follow_clock(self, part: Part) -> None:
        if self._clock is None or part.first_stamp is None:
            return  # already off, or no syslog stamp: the inference stands still
        if resumes(part.first_stamp, self._clock, self._now, self._explicit_year):
            self._clock = part.clock_end
        else:
            self._clock = None

    def _add_part(self, part: Part) -> None:
        self._follow_clock(part)
        if part.spf_unmatched_early:
            # Unmatched unless the lookahead of the range before gave it to a session.
            sessions_before = self._taken_past_end if self.merged else Counter()
            self.sessions.spf_unmatched += (part.spf_unmatched_early - sessions_before).total()
        self._taken_past_end = part.spf_taken_past_end
        if self.traffic is None:
            self.traffic = part.traffic
        else:
            self.traffic.merge(part.traffic)
        lines = self.lines
        for f in fields(TokenizerStats):
            if f.name == "samples":
                lines.samples.extend(part.lines.samples[: 20 - len(lines.samples)])
            else:
                setattr(lines, f.name, getattr(lines, f.name) + getattr(part.lines, f.name))
        for f in fields(SessionStats):
            setattr(self.sessions, f.name,
                    getattr(self.sessions, f.name) + getattr(part.sessions, f.name))

    def result(self) -> tuple[Traffic, TokenizerStats, SessionStats] | None:
        """The merged traffic and counts; None if the years disagree (:attr:`years_agree`)."""
        if not self.years_agree:
            return None
        return self.traffic or Traffic(), self.lines, self.sessions


# A chunk comes unpickled with strings of its own; interned again, a client's
# address and name are shared with its senders' as in a single process (senders.py).
def _interned_clients(chunk: dict[str, ClientStats]) -> dict[str, ClientStats]:
    for client in chunk.values():
        client.ip = intern(client.ip)
        client.intern_name()
    return {client.ip: client for client in chunk.values()}


def _interned_senders(
    chunk: dict[tuple[str, str], SenderStats],
) -> dict[tuple[str, str], SenderStats]:
    for sender in chunk.values():
        sender.client_ip = intern(sender.client_ip)
        sender.intern_name()
        sender.first_reply = intern(sender.first_reply)
    return {(sender.client_ip, helo): sender for (_, helo), sender in chunk.items()}
