"""Shared fixtures: a real DNS server on 127.0.0.1 answering from a table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

try:  # tests/ as a plain directory on sys.path (pytest's default rootdir layout)
    from dnsserver import DnsServer, DnsServerFactory, Table
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.dnsserver import DnsServer, DnsServerFactory, Table


@pytest.fixture
def dns_server() -> Iterator[DnsServerFactory]:
    """Start DNS servers for a test: ``server = dns_server({"a.example": {"A": [...]}})``.

    Each server listens on UDP and TCP at ``server.address`` (``"127.0.0.1:PORT"``),
    counts ``server.queries`` per (name, type, transport) and stops at teardown.
    See ``tests/dnsserver.py`` for the table format.
    """
    servers: list[DnsServer] = []

    def start(table: Table | None = None, **options: Any) -> DnsServer:
        server = DnsServer(table or {}, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert not server.errors, f"the test DNS server failed: {server.errors!r}"


_SUGGESTION_METRICS: dict[str, str] = {}


@pytest.fixture
def suggestion_metrics() -> dict[str, str]:
    """Where ground-truth tests record the precision and recall of the suggestions."""
    return _SUGGESTION_METRICS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the suggestions' precision and recall at the end of the run."""
    if _SUGGESTION_METRICS:
        terminalreporter.section("helo_access suggestions vs. ground truth")
        for label, text in sorted(_SUGGESTION_METRICS.items()):
            terminalreporter.write_line(f"{label}: {text}")
