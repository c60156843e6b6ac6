"""A real DNS server for the tests: answers from a table on 127.0.0.1, UDP and TCP.

The server is built on dnspython's message API (``from_wire`` / ``make_response`` /
``to_wire``) and runs an asyncio loop in a background thread, so queries are
answered concurrently even with added latency.  It never talks to anything but
its clients on 127.0.0.1.

Table format (a dict, loadable from JSON; shared with other fixtures, keep it so)::

    {
      "name.example": {
        "A": ["192.0.2.1"], "AAAA": ["2001:db8::1"],
        "MX": [[10, "mx.example"]],             # [[0, "."]] is a null MX
        "TXT": ["v=spf1 ip4:192.0.2.0/24 -all"],
        "PTR": ["host.example"],
        "CNAME": "target.example",
        "SOA": ["ns.example", "hostmaster.example", 1, 3600, 600, 86400, 300],
        "rcode": "NXDOMAIN" | "SERVFAIL" | "REFUSED" | "TIMEOUT",
        "ttl": 300,
        "truncate": true,                        # TC bit on UDP, full answer on TCP
        "soa_minimum": 60                        # negative answers at or below this name
      }
    }

Names are case-insensitive and written without the trailing dot; reverse names
look like ``1.2.0.192.in-addr.arpa``.  A name absent from the table is NXDOMAIN;
a name present without a record of the asked type is NODATA.  Negative answers
carry an SOA in the authority section: the zone is the longest suffix of the
name whose entry has ``SOA`` or ``soa_minimum``, otherwise the last two labels
with the server's ``soa_minimum`` (``None`` there means no SOA).  ``TIMEOUT``
means the server never answers.  CNAME chains are followed inside the server,
as a recursive resolver would, and the whole chain is returned.
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rrset

Table = Mapping[str, Mapping[str, Any]]
"""Name -> entry, as described in the module docstring."""

DnsServerFactory = Callable[..., "DnsServer"]
"""The ``dns_server`` fixture: ``dns_server(table, *, latency=0.0, soa_minimum=300, ...)``."""

_RCODES = {
    "NXDOMAIN": dns.rcode.NXDOMAIN,
    "SERVFAIL": dns.rcode.SERVFAIL,
    "REFUSED": dns.rcode.REFUSED,
}
_MAX_CHAIN = 16
_IN = dns.rdataclass.IN


def load_table(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a table from a JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a DNS table must be a JSON object")
    return data


def bind_udp_and_tcp(host: str) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same free port on ``host``."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:  # the TCP side of that port is taken: try another
            tcp.close()
            udp.close()
            continue
        return udp, tcp
    raise RuntimeError("no free port for both UDP and TCP")  # pragma: no cover


def _key(name: str) -> str:
    return name.rstrip(".").lower()


def _name(text: str) -> dns.name.Name:
    return dns.name.root if text in ("", ".") else dns.name.from_text(text)


class DnsServer:
    """A DNS server on 127.0.0.1 (UDP and TCP, same OS-chosen port) answering from a table.

    Use as a context manager or call :meth:`start` and :meth:`stop`.
    ``latency`` delays every answer by that many seconds without blocking
    other queries.  :attr:`queries` counts queries per ``(name, type, transport)``
    with the name lower-cased and without the trailing dot, the type as text
    (``"A"``) and the transport ``"udp"`` or ``"tcp"``.
    """

    def __init__(
        self,
        table: Table,
        *,
        latency: float = 0.0,
        soa_minimum: int | None = 300,
        soa_ttl: int = 3600,
        default_ttl: int = 300,
    ) -> None:
        self.table: dict[str, Mapping[str, Any]] = {}
        self.latency = latency
        self.soa_minimum = soa_minimum
        self.soa_ttl = soa_ttl
        self.default_ttl = default_ttl
        self.errors: list[Exception] = []
        """Exceptions raised while building answers (each was answered SERVFAIL)."""
        self.queries: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.update(table)

    # -- table and counters -------------------------------------------------

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, the form ``DnsResolver`` accepts."""
        return f"{self.host}:{self.port}"

    def update(self, table: Table) -> None:
        """Add or replace entries (names are case-insensitive)."""
        with self._lock:
            for name, entry in table.items():
                self.table[_key(name)] = entry

    def count(self, name: str, rdtype: str | None = None, transport: str | None = None) -> int:
        """How many queries for ``name`` arrived, optionally of one type and transport."""
        key = _key(name)
        with self._lock:
            return sum(
                n
                for (qname, qtype, qtransport), n in self.queries.items()
                if qname == key
                and (rdtype is None or qtype == rdtype.upper())
                and (transport is None or qtransport == transport)
            )

    @property
    def total_queries(self) -> int:
        """All queries received so far."""
        with self._lock:
            return sum(self.queries.values())

    def reset_queries(self) -> None:
        """Forget the query counts."""
        with self._lock:
            self.queries.clear()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> DnsServer:
        """Bind UDP and TCP on one free port and start answering in a background thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(loop, ready), name="test-dns-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(self._bind(), loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Close the sockets, cancel queries in progress and end the thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> DnsServer:
        """Start the server for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        udp_sock, tcp_sock = bind_udp_and_tcp(self.host)
        self.port = udp_sock.getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), sock=udp_sock
        )
        self._udp = transport
        self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp_sock)

    async def _close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()

    def _spawn(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- transports ---------------------------------------------------------

    async def _answer_udp(self, wire: bytes, addr: tuple[str, int]) -> None:
        reply = await self._reply(wire, "udp")
        if reply is not None and self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(reply, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(2), "big")
                wire = await reader.readexactly(length)
                self._spawn(self._answer_tcp(wire, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer_tcp(self, wire: bytes, writer: asyncio.StreamWriter) -> None:
        reply = await self._reply(wire, "tcp")
        if reply is not None and not writer.is_closing():
            writer.write(len(reply).to_bytes(2, "big") + reply)

    # -- answering ----------------------------------------------------------

    async def _reply(self, wire: bytes, transport: str) -> bytes | None:
        try:
            request = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not request.question:
            return None
        question = request.question[0]
        qname = _key(question.name.to_text())
        qtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries[(qname, qtype, transport)] += 1
        try:
            response = self._build(request, qname, question.rdtype)
        except Exception as exc:  # a bad table entry: answer SERVFAIL, keep the error
            self.errors.append(exc)
            response = dns.message.make_response(request, recursion_available=True)
            response.set_rcode(dns.rcode.SERVFAIL)
        if response is None:  # TIMEOUT: never answer
            return None
        if self.latency:
            await asyncio.sleep(self.latency)
        if transport == "tcp":
            return response.to_wire(max_size=65535)
        if self._wants_truncation(qname):
            return self._truncated(request)
        try:
            return response.to_wire(max_size=request.payload if request.edns >= 0 else 512)
        except dns.exception.TooBig:
            return self._truncated(request)

    @staticmethod
    def _truncated(request: dns.message.Message) -> bytes:
        response = dns.message.make_response(request, recursion_available=True)
        response.flags |= dns.flags.TC
        return response.to_wire()

    def _wants_truncation(self, qname: str) -> bool:
        with self._lock:
            entry = self.table.get(qname)
        return bool(entry and entry.get("truncate"))

    def _build(
        self, request: dns.message.Message, qname: str, rdtype: dns.rdatatype.RdataType
    ) -> dns.message.Message | None:
        response = dns.message.make_response(request, recursion_available=True)
        current = qname
        for _ in range(_MAX_CHAIN):
            with self._lock:
                entry = self.table.get(current)
            if entry is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, current)
                return response
            rcode = entry.get("rcode")
            if rcode == "TIMEOUT":
                return None
            if rcode is not None:
                response.set_rcode(_RCODES[rcode])
                if rcode == "NXDOMAIN":
                    self._add_soa(response, current)
                return response
            ttl = int(entry.get("ttl", self.default_ttl))
            if "CNAME" in entry and rdtype != dns.rdatatype.CNAME:
                target = _key(entry["CNAME"])
                cname = dns.rrset.RRset(_name(current), _IN, dns.rdatatype.CNAME)
                cname.add(_rdata(dns.rdatatype.CNAME, target), ttl)
                response.answer.append(cname)
                current = target
                continue
            rrset = self._rrset(current, entry, rdtype, ttl)
            if rrset is None:  # NODATA
                self._add_soa(response, current)
            else:
                response.answer.append(rrset)
            return response
        response.answer.clear()
        response.set_rcode(dns.rcode.SERVFAIL)  # CNAME loop
        return response

    @staticmethod
    def _rrset(
        owner: str, entry: Mapping[str, Any], rdtype: dns.rdatatype.RdataType, ttl: int
    ) -> dns.rrset.RRset | None:
        key = dns.rdatatype.to_text(rdtype)
        values = entry.get(key)
        if not values:
            return None
        if key == "CNAME":
            values = [values]
        rrset = dns.rrset.RRset(_name(owner), _IN, rdtype)
        for value in values:
            rrset.add(_rdata(rdtype, value), ttl)
        return rrset

    def _add_soa(self, response: dns.message.Message, name: str) -> None:
        """Put the zone's SOA in the authority section of a negative answer."""
        zone, minimum = self._zone(name)
        if minimum is None:
            return
        rrset = dns.rrset.RRset(_name(zone), _IN, dns.rdatatype.SOA)
        rrset.add(self._soa_for(zone, minimum), self.soa_ttl)
        response.authority.append(rrset)

    def _zone(self, name: str) -> tuple[str, int | None]:
        """The zone a negative answer for ``name`` comes from, and its SOA minimum."""
        labels = name.split(".") if name else []
        with self._lock:
            for i in range(len(labels)):
                suffix = ".".join(labels[i:])
                entry = self.table.get(suffix)
                if entry and "SOA" in entry:
                    return suffix, int(entry["SOA"][6])
                if entry and "soa_minimum" in entry:
                    return suffix, int(entry["soa_minimum"])
        return ".".join(labels[-2:]), self.soa_minimum

    def _soa_for(self, zone: str, minimum: int) -> dns.rdata.Rdata:
        with self._lock:
            entry = self.table.get(zone)
        if entry and "SOA" in entry:
            return _rdata(dns.rdatatype.SOA, entry["SOA"])
        return _rdata(
            dns.rdatatype.SOA,
            [f"ns.{zone}", f"hostmaster.{zone}", 1, 3600, 600, 86400, minimum],
        )


def _rdata(rdtype: dns.rdatatype.RdataType, value: Any) -> dns.rdata.Rdata:
    """One record from its table form."""
    if rdtype == dns.rdatatype.MX:
        preference, exchange = value
        return dns.rdtypes.ANY.MX.MX(_IN, rdtype, int(preference), _name(str(exchange)))
    if rdtype == dns.rdatatype.TXT:
        data = value.encode() if isinstance(value, str) else bytes(value)
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(_IN, rdtype, chunks)
    if rdtype == dns.rdatatype.SOA:
        mname, rname, *numbers = value
        return dns.rdtypes.ANY.SOA.SOA(
            _IN, rdtype, _name(mname), _name(rname), *(int(n) for n in numbers)
        )
    if rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.NS):
        return dns.rdata.from_text(_IN, rdtype, _key(str(value)) + ".")
    return dns.rdata.from_text(_IN, rdtype, str(value), origin=dns.name.root)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server._spawn(self.server._answer_udp(data, addr))

    def error_received(self, exc: Exception) -> None:  # a client went away
        pass


class SilentDnsServer:
    """A DNS server on 127.0.0.1 that never answers: the unreachable resolver of a bad day.

    UDP queries are read and dropped (or, with ``truncate``, answered with an empty
    truncated reply, which sends the client to TCP); TCP connections are accepted
    and left hanging, never read nor answered.  Both listen on one OS-chosen port,
    like :class:`DnsServer`.
    :attr:`queries` counts the datagrams received and :attr:`connections` the TCP
    connections accepted.  Use as a context manager or call :meth:`start` and
    :meth:`stop`.
    """

    def __init__(self, *, truncate: bool = False) -> None:
        self.truncate = truncate
        self.host = "127.0.0.1"
        self.port = 0
        self.queries = 0
        self.connections = 0
        self.arrivals: list[float] = []
        """``time.monotonic()`` of every datagram and connection, to time the client's
        DNS work apart from its start-up."""
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, the form ``DnsResolver`` and ``--nameserver`` accept."""
        return f"{self.host}:{self.port}"

    def start(self) -> SilentDnsServer:
        """Bind UDP and TCP on one free port and start swallowing queries."""
        udp, tcp = bind_udp_and_tcp(self.host)
        tcp.listen(64)
        udp.settimeout(0.2)
        tcp.settimeout(0.2)
        self._udp, self._tcp, self.port = udp, tcp, udp.getsockname()[1]
        for target in (self._drop_udp, self._hold_tcp):
            thread = threading.Thread(target=target, name="test-silent-dns", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Close every socket and end the threads."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for sock in [self._udp, self._tcp, *self._held]:
            if sock is not None:
                sock.close()

    def __enter__(self) -> SilentDnsServer:
        """Start the server for a ``with`` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    def _drop_udp(self) -> None:
        assert self._udp is not None
        while not self._stopping.is_set():
            try:
                wire, client = self._udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.queries += 1
            self.arrivals.append(time.monotonic())
            if self.truncate:
                try:
                    self._udp.sendto(DnsServer._truncated(dns.message.from_wire(wire)), client)
                except (dns.exception.DNSException, OSError):
                    pass

    def _hold_tcp(self) -> None:
        assert self._tcp is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.arrivals.append(time.monotonic())
            self._held.append(conn)  # never read from, never answered, closed at stop()
