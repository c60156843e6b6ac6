"""Benchmark DnsResolver against the test DNS server (run by hand; pytest does not collect it).

    .venv/bin/python tests/benchmarks/bench_dns.py [--names 10000] [--latency 0.02]
                                                   [--concurrency 50] [--same-process]

Starts tests/dnsserver.py with a fixed latency per answer, resolves that many
distinct names that each have an A record (one query per name) and prints the
wall time next to the ideal ``names x latency / concurrency``.  The server runs
in a child process so that its CPU time does not compete with the resolver's
for the GIL; ``--same-process`` runs it in a thread instead, as the tests do.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from dnsserver import DnsServer  # noqa: E402

from loganalyze.judge.dns import DnsStatus  # noqa: E402
from loganalyze.judge.dns_resolver import DnsResolver  # noqa: E402


def serve(table: dict[str, dict[str, list[str]]], latency: float, conn: Connection) -> None:
    """Run the test server in this (child) process until the parent says stop."""
    with DnsServer(table, latency=latency) as server:
        conn.send(server.address)
        conn.recv()
        conn.send(server.total_queries)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run the server in a thread of this process (it then competes for the GIL)",
    )
    args = parser.parse_args()

    names = [f"host{i}.bench.example" for i in range(args.names)]
    table = {name: {"A": ["192.0.2.1"]} for name in names}
    with contextlib.ExitStack() as stack:
        if args.same_process:
            server = stack.enter_context(DnsServer(table, latency=args.latency))
            address = server.address
        else:
            conn, child_conn = multiprocessing.Pipe()
            child = multiprocessing.Process(target=serve, args=(table, args.latency, child_conn))
            child.start()
            stack.callback(child.join)
            address = conn.recv()
        resolver = DnsResolver([address], concurrency=args.concurrency, timeout=5.0, deadline=600.0)
        start = time.perf_counter()
        result = resolver.lookup_hosts(names)
        wall = time.perf_counter() - start
        if args.same_process:
            queries = server.total_queries
        else:
            conn.send("stop")
            queries = conn.recv()
    found = sum(r.status is DnsStatus.FOUND for r in result.values())
    ideal = args.names * args.latency / args.concurrency
    where = "same process" if args.same_process else "separate process"
    print(f"server:       {where}")
    print(f"names:        {args.names:,} ({found:,} found, {queries:,} queries)")
    print(f"latency:      {args.latency * 1000:.0f} ms per answer")
    print(f"concurrency:  {args.concurrency}")
    print(f"wall time:    {wall:.2f} s")
    print(
        f"ideal:        {ideal:.2f} s  ({args.names:,} x {args.latency * 1000:.0f} ms"
        f" / {args.concurrency})"
    )
    print(f"overhead:     {wall / ideal:.2f}x ideal, {args.names / wall:,.0f} names/s")


if __name__ == "__main__":
    main()
