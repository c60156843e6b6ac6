"""The compiled session builder (``sessions.c``, ``scan.c``) standing in for a
:class:`~loganalyze.aggregate.TrafficCollector`'s own, for the sequential run and the
daily report's (which asks for each session's first line:
:func:`~loganalyze.daily.resume.read_sessions`).

The C scanner reads the frequent lines of a block of bytes straight into the C
builder; :meth:`~loganalyze.parse.scan.Tokenizer.scan` reads the other lines in
Python and gives their events to the same builder through :attr:`CompiledSessions.lines`.
When the collector folds its sessions with
:func:`~loganalyze.aggregate.fold.add_session` (the sequential run, a split run's
range workers), finished sessions and evidence are folded into aggregates in C
(``aggregate.c``), evidence Python reads going there too, and at the end the records
come back in bulk as the very ``ClientStats`` and ``SenderStats`` ``add_session`` makes
(:meth:`CompiledSessions.close`). Otherwise finished sessions and postscreen/dnsblog
evidence come back in bulk, as JSON, in log order, and go to the collector exactly as
its Python builder would have given them (:meth:`CompiledSessions.drain`). Either way
the aggregates do not depend on the core.
"""

from __future__ import annotations

import ctypes
import json
import struct
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from sys import intern
from typing import TYPE_CHECKING, Any

from ..aggregate.fold import _DAYS, DNSBL_LISTED, DNSBL_RANK, SEEN
from ..aggregate.samples import Sample
from ..aggregate.tally import Tally, tallied
from ..aggregate.traffic import (
    KEEP_ATTEMPTS,
    KEEP_BAN_LINES,
    KEEP_CLIENT_SENDERS,
    KEEP_ENVELOPES,
    KEEP_EXAMPLES,
    KEEP_LISTS,
    KEEP_REPLIES,
    ClientStats,
    SenderStats,
    Traffic,
)
from ..judge.bans import crowdsec_counts
from ..judge.checks import Check
from ..model import EVIDENCE_KINDS, LogRecord
from ..sessions import Reject, SessionBuilder, SmtpSession, SpfResult, helo_check

if TYPE_CHECKING:
    from ..aggregate.collector import TrafficCollector

EPOCH = datetime(1, 1, 1)
"""Times cross as microseconds since this (naive wall-clock time, as Python compares it)."""
_MICROSECOND = timedelta(microseconds=1)
_INT64_MAX, _INT64_MIN = (1 << 63) - 1, -(1 << 63)
_NONE_FIELD = struct.pack("<q", -1)
_LENGTH = struct.Struct("<q").pack

(_CONNECT, _DISCONNECT, _REJECT, _CLIENT, _LOST, _MISMATCH, _SPF) = range(1, 8)


_CLASSIFY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int64)
"""aggregate.c's classify_fn: Python's verdict on a reject's reply text."""


def declare(lib: ctypes.CDLL) -> None:
    """The argument types of the builder's functions (ctypes would guess them wrong)."""
    i64, i64p, vp = ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p
    functions: dict[str, tuple[Any, list[Any]]] = {
        "la_engine_new": (vp, [ctypes.c_int]),
        "la_engine_free": (None, [vp]),
        "la_scan": (ctypes.c_int, [vp, ctypes.c_char_p, i64, i64p, ctypes.c_int, i64]),
        "la_set_time": (None, [vp, ctypes.c_char_p, i64]),
        "la_set_clock": (None, [vp, i64, ctypes.c_int]),
        "la_scan_counts": (None, [vp, i64p]),
        "la_take_output": (vp, [vp, i64p]),
        "la_close": (None, [vp]),
        "la_session_stats": (None, [vp, i64p]),
        "la_feed": (ctypes.c_int, [vp, ctypes.c_int, i64, i64, ctypes.c_char_p, i64]),
        "la_open_lines": (i64, [vp, ctypes.c_int, ctypes.c_double, i64p, i64]),
        "la_set_evidence": (None, [vp, ctypes.c_int]),
        "la_set_range": (None, [vp, ctypes.c_int, ctypes.c_int, i64]),
        "la_set_past": (None, [vp]),
        "la_open_sessions": (None, [vp, i64p]),
        "la_set_aggregate": (None, [vp, _CLASSIFY, ctypes.c_int]),
        "la_agg_evidence": (None, [vp, ctypes.c_int, ctypes.c_char_p, i64, i64,
                                   ctypes.c_char_p, i64]),
        "la_agg_take": (vp, [vp, i64p]),
        "la_agg_keeps": (None, [i64p]),
    }
    # The aggregates folded in C take Python's allocator (aggregate.c la_set_allocator):
    # the library is loaded with the GIL held in its calls (core._load, ctypes.PyDLL).
    lib.la_set_allocator.restype = None
    lib.la_set_allocator.argtypes = [vp, vp, vp]
    lib.la_set_allocator(*(ctypes.cast(getattr(ctypes.pythonapi, name), vp)
                           for name in ("PyObject_Malloc", "PyObject_Realloc", "PyObject_Free")))
    for name, (restype, argtypes) in functions.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


_KEEPS = (KEEP_EXAMPLES, KEEP_CLIENT_SENDERS, KEEP_LISTS, KEEP_ATTEMPTS, KEEP_BAN_LINES,
          KEEP_REPLIES, KEEP_ENVELOPES)


def _keeps_agree(lib: ctypes.CDLL) -> bool:
    """Whether aggregate.c caps the samples and lists as traffic.py does."""
    keeps = (ctypes.c_int64 * len(_KEEPS))()
    lib.la_agg_keeps(keeps)
    return tuple(keeps) == _KEEPS


def microseconds(when: datetime) -> int:
    return (when - EPOCH) // _MICROSECOND


def _pack(fields: Iterable[str | None]) -> bytes:
    parts = []
    for field in fields:
        if field is None:
            parts.append(_NONE_FIELD)
        else:
            data = field.encode("utf-8", "replace")
            parts.append(_LENGTH(len(data)))
            parts.append(data)
    return b"".join(parts)


# The numbers aggregate.c knows the HELO checks and reject categories by.
_CHECKS: tuple[Check | None, ...] = (None, *Check)
_CHECK_NUMBERS = {check: number for number, check in enumerate(_CHECKS) if check is not None}
_CATEGORIES: list[str] = []
_CATEGORY_NUMBERS: dict[str, int] = {}
_CLASSIFY_ERRORS: list[BaseException] = []


def _classify(address: int | None, size: int) -> int:
    """What the Python rules say of a reject's reply text (sessions.helo_check,
    Reject.category, judge.bans.crowdsec_counts), for aggregate.c: the category's
    number, the HELO check's number << 8, and whether CrowdSec counts it << 12 (for a
    reject, not a warning, of an smtpd service: aggregate.c checks those)."""
    try:
        reason = (ctypes.string_at(address, size).decode("utf-8", "replace")
                  if address and size else "")
        check = helo_check(reason)
        category = Reject(EPOCH, "", 0, "", reason, None, False, check).category
        number = _CATEGORY_NUMBERS.get(category)
        if number is None:
            number = _CATEGORY_NUMBERS[category] = len(_CATEGORIES)
            _CATEGORIES.append(category)
            if number > 0xFF:
                raise ValueError("too many reject categories for the compiled aggregates")
        return (number | (_CHECK_NUMBERS[check] << 8 if check is not None else 0)
                | (crowdsec_counts(reason, False, "smtpd") << 12))
    except BaseException as error:  # noqa: BLE001 - raised again by CompiledSessions.close
        _CLASSIFY_ERRORS.append(error)
        return 0


_classify_fn = _CLASSIFY(_classify)


def _empty(traffic: Traffic) -> bool:
    return not (traffic.clients or traffic.senders or traffic.sessions or traffic.hosts
                or traffic.unknown_check_since)


class CompiledSessions:
    """The C builder of one collector. Made by :func:`loganalyze.core.compiled_sessions`."""

    def __init__(self, lib: ctypes.CDLL, collector: TrafficCollector) -> None:
        self._lib = lib
        self._engine = lib.la_engine_new(collector.sessions_make_clients)
        self._collector = collector
        self._emit = collector._emit
        self._pos = ctypes.c_int64()
        self._size = ctypes.c_int64()
        self._counts = (ctypes.c_int64 * 4)()
        self._times: dict[int, datetime] = {}
        self.aggregates = (collector.sessions_make_clients and _empty(collector.traffic)
                           and _keeps_agree(lib))
        """Whether the finished sessions and the evidence fold into aggregates in C
        (``aggregate.c``), given to the collector's traffic at :meth:`close`; else the
        sessions come back one by one (:meth:`drain`)."""
        self._big_ranks: dict[str, int] = {}
        """DNSBL ranks of the aggregates' clients too large for C, by address."""
        self.folds = self.aggregates
        """Whether this builder folded (or folds) the aggregates in C."""
        if self.aggregates:
            lib.la_set_aggregate(self._engine, _classify_fn, _CHECK_NUMBERS[Check.UNKNOWN])
        self.lines = PythonLines(self, collector)
        """The sink for the lines Python reads: their events go to the C builder."""
        self._counter = collector._lines
        """What tells the numbers of the lines Python reads (the tokenizer), when the
        collector's sessions know their first lines (the daily report)."""
        self._open = (ctypes.c_int64 * 64)()
        if not collector._evidence:
            self.count_evidence(False)

    def __del__(self) -> None:
        engine, self._engine = getattr(self, "_engine", None), None
        if engine:
            self._lib.la_engine_free(engine)

    # -- the scanner ----------------------------------------------------------------

    def scan(self, body: bytes, pos: int, postscreen: bool, lineno: int) -> tuple[int, int]:
        """Read ``body`` from byte ``pos``, the start of line ``lineno``: (why it stopped,
        where), as ``la_scan``."""
        self._pos.value = pos
        status = self._lib.la_scan(self._engine, body, len(body), ctypes.byref(self._pos),
                                   postscreen, lineno if self._counter is not None else 0)
        return status, self._pos.value

    def counts(self) -> tuple[int, int, int]:
        """Lines read, matched and irrelevant by the scanner since the last call."""
        counts = self._counts
        self._lib.la_scan_counts(self._engine, counts)
        return counts[0], counts[1], counts[2]

    def set_time(self, stamp: str, when: datetime) -> None:
        self._lib.la_set_time(self._engine, stamp.encode("ascii"), microseconds(when))

    def set_clock(self, state: tuple[int | None, int]) -> None:
        """Python's clock state (:attr:`~loganalyze.parse.header.Clock.state`): the
        scanner dates the stamps of its month itself."""
        year, month = state
        self._lib.la_set_clock(self._engine, 0 if year is None else year, month)

    # -- the builder ------------------------------------------------------------------

    def set_range(self, first: bool, early_until: datetime | None) -> None:
        """Build as a split run's range worker does (``parallel/worker.py``): past the
        first range only sessions that open in it, and SPF lines until ``early_until``
        that no session of it takes set aside."""
        self._lib.la_set_range(self._engine, first, early_until is not None,
                               0 if early_until is None else microseconds(early_until))

    def set_past(self) -> None:
        """The lines from now on are past the range: they only finish its sessions."""
        self._lib.la_set_past(self._engine)

    def open_sessions(self) -> tuple[int, datetime | None]:
        """How many sessions are open, and the latest time of any line of theirs."""
        counts = self._counts
        self._lib.la_open_sessions(self._engine, counts)
        return counts[0], self._time(counts[1]) if counts[0] else None

    def feed(self, kind: int, when: datetime, fields: Iterable[str | None]) -> None:
        packed = _pack(fields)
        counter = self._counter
        line = counter.line_number if counter is not None else 0
        if self._lib.la_feed(self._engine, kind, microseconds(when), line, packed, len(packed)):
            raise ValueError(f"the compiled core refused an event of kind {kind}")

    def count_evidence(self, on: bool) -> None:
        """Whether the evidence of the lines from now on counts
        (:meth:`~loganalyze.aggregate.TrafficCollector.count_evidence`): what the C
        builder finished before goes to the collector first."""
        self.drain()
        self._lib.la_set_evidence(self._engine, on)

    def open_lines(self, within: float | None = None) -> list[int]:
        """The first lines of the open sessions, then the lines of the hostname warnings
        waiting for their connect (:meth:`~loganalyze.sessions.SessionBuilder.pending_warnings`
        with ``within``), as ``la_open_lines`` finds them."""
        lib, engine = self._lib, self._engine
        has_within, seconds = within is not None, 0.0 if within is None else within
        while True:
            room = len(self._open)
            count = lib.la_open_lines(engine, has_within, seconds, self._open, room)
            if count <= room:
                return self._open[:count]
            self._open = (ctypes.c_int64 * (2 * count))()

    def evidence(self, ip: str, op: int, value: int | str | None) -> None:
        """An evidence operation (:func:`~loganalyze.aggregate.fold.fold_evidence`) for
        the aggregates in C."""
        address = ip.encode("utf-8", "replace")
        domain = value.encode("utf-8", "replace") if op == DNSBL_LISTED and isinstance(
            value, str) else b""
        rank = value if op == DNSBL_RANK and isinstance(value, int) else 0
        if rank > _INT64_MAX and ip:  # beyond C's integers: kept here, the client made there
            self._big_ranks[ip] = max(self._big_ranks.get(ip, 0), rank)
            op, rank = SEEN, 0
        rank = max(rank, _INT64_MIN)  # a rank below 0 changes nothing (the rank starts at 0)
        self._lib.la_agg_evidence(self._engine, op, address, len(address), rank, domain,
                                  len(domain))

    def drain(self) -> None:
        """Give the collector what the C builder finished, in order."""
        size = self._size
        address = self._lib.la_take_output(self._engine, ctypes.byref(size))
        if not size.value:
            return
        items = json.loads(b"[" + ctypes.string_at(address, size.value) + b"]")
        collector, emit, session_of = self._collector, self._emit, self._session
        for item in items:
            kind = item[0]
            if kind == 0:
                emit(session_of(item))
            elif kind == 1:
                collector.postscreen_seen(EPOCH, item[1])
            elif kind == 2:
                collector.postscreen_pass(EPOCH, item[1])
            elif kind == 3:
                collector.postscreen_dnsbl(EPOCH, item[1], item[2])
            elif kind == 5:
                collector.postscreen_reject(EPOCH, item[1])
            elif kind in (7, 8):  # a range worker's SPF lines set aside
                line = (self._time(item[1]), *item[2:])
                range_collector: Any = collector
                if kind == 7:
                    range_collector.spf_unmatched_early[line] += 1
                else:
                    range_collector.spf_taken_past_end[line] += 1
            else:
                collector.dnsbl_listed(EPOCH, item[1], item[2])

    def _time(self, value: int) -> datetime:
        times = self._times
        when = times.get(value)
        if when is None:
            if len(times) >= 65536:
                times.clear()
            when = times[value] = EPOCH + timedelta(microseconds=value)
        return when

    def _session(self, item: list[Any]) -> SmtpSession:
        (_, host, service, pid, name, ip, start, end, helo, senders, recipients, rejects, spf,
         counters, queued, ended_by, warning, saw_connect, saw_disconnect, first_line) = item
        time = self._time
        return SmtpSession(
            host, service, pid, name, ip, time(start), time(end), helo,
            [intern(s) for s in senders], [intern(r) for r in recipients],
            [Reject(time(t), stage, code, dsn, reason, recipient, bool(warned),
                    helo_check(reason))
             for t, stage, code, dsn, reason, recipient, warned in rejects],
            [SpfResult(*result) for result in spf],
            None if counters is None else {n: (ok, total) for n, ok, total in counters},
            queued, ended_by, warning, bool(saw_connect), bool(saw_disconnect), first_line)

    def close(self) -> None:
        """End of input: the sessions still open are cut off; the counts go to the
        collector's :attr:`~loganalyze.sessions.SessionBuilder.stats`."""
        self._lib.la_close(self._engine)
        self.drain()
        counts = self._counts
        self._lib.la_session_stats(self._engine, counts)
        stats = self._collector.stats
        stats.sessions += counts[0]
        stats.without_connect += counts[1]
        stats.without_disconnect += counts[2]
        stats.spf_unmatched += counts[3]
        if self.aggregates:
            self.aggregates = False
            self._take_aggregates(self._collector.traffic)
        if _CLASSIFY_ERRORS:
            error = _CLASSIFY_ERRORS[0]
            _CLASSIFY_ERRORS.clear()
            raise RuntimeError("the compiled aggregates could not classify a reply") from error

    def _take_aggregates(self, traffic: Traffic) -> None:
        """The aggregates folded in C, into ``traffic`` (empty until now): the records
        :func:`~loganalyze.aggregate.fold.add_session` and the evidence rules would have
        made, slot for slot, in the same order."""
        lib, engine, size = self._lib, self._engine, self._size
        strings: list[str] = []
        while True:
            address = lib.la_agg_take(engine, ctypes.byref(size))
            if not size.value:
                break
            new, stage, records = json.loads(ctypes.string_at(address, size.value))
            strings.extend(map(intern, new))
            if stage == 0:
                sessions, with_helo, hosts, since = records
                traffic.sessions += sessions
                traffic.sessions_with_helo += with_helo
                for host, count in hosts:
                    traffic.hosts[strings[host]] += count
                for service, when in since:
                    traffic.unknown_check_since[strings[service]] = self._time(when)
            elif stage == 1:
                clients = traffic.clients
                for record in records:
                    client = self._client(record, strings)
                    clients[client.ip] = client
            else:
                senders = traffic.senders
                for record in records:
                    sender = self._sender(record, strings)
                    senders[sender.client_ip, sender.helo] = sender

    def _client(self, record: list[Any], strings: list[str]) -> ClientStats:
        (ip, sessions, queued, warnings, temporary, passed, rank, postscreen_rejects,
         spf_rejects, reject_lines, names, rejects, recipients, senders, lists,
         reject_times) = record
        client = ClientStats(strings[ip])
        client.sessions = sessions
        client.queued = queued
        client.hostname_warnings = warnings
        client.temporary_hostname_warnings = temporary
        client.postscreen_pass = passed
        client.dnsbl_rank = max(rank, self._big_ranks.get(client.ip, rank))
        client.postscreen_rejects = postscreen_rejects
        client.spf_rejects = spf_rejects
        client.helo_reject_lines = reject_lines
        _names(client, names, strings)
        client._rejects = _tally([(_CATEGORIES[key], count) for key, count in rejects])
        client._recipients = _sample(recipients, strings)
        client._senders = _sample(senders, strings)
        client._dnsbl_lists = _sample(lists, strings)
        if reject_times is not None:
            time = self._time
            client._helo_reject_times = [time(when) for when in reject_times]
        return client

    def _sender(self, record: list[Any], strings: list[str]) -> SenderStats:
        (ip, helo, sessions, first_seen, last_seen, enforced, temporary, helo_required,
         queued, envelope_sessions, attempts, first_reply, first_reply_at, first_refused,
         last_refused, names, days, reject_days, checks, spf, senders, recipients, replies,
         envelopes, accepted) = record
        time = self._time
        sender = SenderStats(strings[ip], strings[helo])
        sender.sessions = sessions
        if attempts is not None:
            sender._attempts = [time(when) for when in attempts]
        sender.first_seen = time(first_seen)
        sender.last_seen = time(last_seen)
        sender.enforced_rejects = enforced
        sender.temporary_rejects = temporary
        if first_reply is not None:
            sender.first_reply = strings[first_reply]
        if first_reply_at is not None:
            sender._first_reply_at = time(first_reply_at)
        sender.helo_required_rejects = helo_required
        sender.queued = queued
        _names(sender, names, strings)
        sender._day, sender._days = _days(days)
        sender._logged_checks = _tally([(_CHECKS[key], count) for key, count in checks])
        results: Tally[tuple[str, str]] = None
        for result, domain, count in spf:
            text = strings[domain]  # lowered in C where ASCII; str.lower() does the rest
            results = tallied(results, (strings[result], text if text.isascii()
                                        else text.lower()), count)
        sender._spf = results
        sender._senders = _sample(senders, strings)
        sender._recipients = _sample(recipients, strings)
        sender._reject_day, sender._reject_days = _days(reject_days)
        sender._replies = _sample(replies, strings)
        sender.envelope_sessions = envelope_sessions
        if envelopes:
            sender._envelopes = envelopes[0] if len(envelopes) == 1 else tuple(envelopes)
        if first_refused is not None:
            sender.first_refused = time(first_refused)
        if last_refused is not None:
            sender.last_refused = time(last_refused)
        if accepted is not None:
            sender._accepted = {strings[service]: time(when) for service, when in accepted}
        return sender


def _names(record: ClientStats | SenderStats, names: list[Any], strings: list[str]) -> None:
    """traffic._Names from aggregate.c: [] | [name, count] | [name, its count when the
    second came, [[name, count], ...]]."""
    if names:
        record._name = strings[names[0]]
        record._name_count = names[1]
        if len(names) == 3:
            record._names = Counter({strings[name]: count for name, count in names[2]})


def _tally(pairs: list[Any]) -> Any:
    """A tally.Tally of distinct keys in first-seen order."""
    if not pairs:
        return None
    if len(pairs) == 1:
        return tuple(pairs[0])
    return Counter(dict(pairs))


def _sample(numbers: list[int], strings: list[str]) -> Sample[str] | None:
    """A samples.Sample of strings, sorted (as aggregate.c keeps it)."""
    if not numbers:
        return None
    if len(numbers) == 1:
        return strings[numbers[0]]
    return tuple([strings[number] for number in numbers])


def _day(number: int) -> date:
    day = date.fromordinal(number + 1)
    return _DAYS.setdefault(day, day)


def _days(numbers: list[int]) -> tuple[date | None, set[date] | None]:
    """traffic._with_day's (one, many) of days numbered from 0001-01-01."""
    if not numbers:
        return None, None
    if len(numbers) == 1:
        return _day(numbers[0]), None
    return None, {_day(number) for number in numbers}


class PythonLines(SessionBuilder):
    """The sink of the lines only Python reads, while the C builder holds the sessions.

    Session events go to the C builder; evidence goes to the collector after what
    the C builder finished before it (the order of the aggregates is the log's).
    """

    def __init__(self, compiled: CompiledSessions, collector: TrafficCollector) -> None:
        super().__init__()
        self._compiled = compiled
        self._collector = collector

    def record(self, record: LogRecord) -> None:
        if record.kind in EVIDENCE_KINDS:
            self._compiled.drain()
            self._collector.record(record)
        else:
            self.apply(record)

    def connect(self, time: datetime, host: str, service: str, pid: int, name: str,
                ip: str) -> None:
        self._compiled.feed(_CONNECT, time, (host, service, str(pid), name, ip))

    def disconnect(self, time: datetime, host: str, service: str, pid: int, name: str,
                   ip: str, counters: dict[str, tuple[int, int]]) -> None:
        fields: list[str | None] = [host, service, str(pid), name, ip]
        for counter, (ok, total) in counters.items():
            fields += (counter, str(ok), str(total))
        self._compiled.feed(_DISCONNECT, time, fields)

    def reject(
        self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
        helo: str | None, sender: str | None, recipient: str | None, stage: str, code: int,
        dsn: str, reason: str, warning: bool,
    ) -> None:
        self._compiled.feed(_REJECT, time, (host, service, str(pid), name, ip, helo, sender,
                                            recipient, stage, str(code), dsn, reason,
                                            "1" if warning else "0"))

    def client(self, time: datetime, host: str, service: str, pid: int, name: str,
               ip: str) -> None:
        self._compiled.feed(_CLIENT, time, (host, service, str(pid), name, ip))

    def lost(self, time: datetime, host: str, service: str, pid: int, name: str, ip: str,
             stage: str, what: str) -> None:
        self._compiled.feed(_LOST, time, (host, service, str(pid), name, ip, stage, what))

    def mismatch(self, time: datetime, host: str, service: str, pid: int, reason: str) -> None:
        self._compiled.feed(_MISMATCH, time, (host, service, str(pid), reason))

    def spf(self, time: datetime, host: str, ip: str, helo: str | None, sender: str | None,
            result: str, identity: str) -> None:
        self._compiled.feed(_SPF, time, (host, ip, helo, sender, result, identity))

    def postscreen_seen(self, time: datetime, ip: str) -> None:
        self._compiled.drain()
        self._collector.postscreen_seen(time, ip)

    def postscreen_pass(self, time: datetime, ip: str) -> None:
        self._compiled.drain()
        self._collector.postscreen_pass(time, ip)

    def postscreen_dnsbl(self, time: datetime, ip: str, rank: int) -> None:
        self._compiled.drain()
        self._collector.postscreen_dnsbl(time, ip, rank)

    def dnsbl_listed(self, time: datetime, ip: str, domain: str) -> None:
        self._compiled.drain()
        self._collector.dnsbl_listed(time, ip, domain)
