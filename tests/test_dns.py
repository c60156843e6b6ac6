"""The DNS layer against a real DNS server on 127.0.0.1 (tests/dnsserver.py); nothing mocked."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from dnsserver import DnsServer, DnsServerFactory, load_table

from loganalyze.errors import ConfigError
from loganalyze.judge.dns import (
    DnsAnswer,
    DnsStatus,
    HostLookup,
    NoDnsResolver,
    StaticResolver,
    parse_nameserver,
)
from loganalyze.judge.dns_cache import DnsCache
from loganalyze.judge.dns_resolver import DnsResolver

QUICK = 0.3  # per-query timeout in these tests, seconds

TABLE: dict[str, dict[str, Any]] = {
    "a.example": {"A": ["192.0.2.1"], "ttl": 600},
    "six.example": {"AAAA": ["2001:db8::1"]},
    "mailonly.example": {"MX": [[10, "mx.example"]]},
    "nullmx.example": {"MX": [[0, "."]]},
    "nodata.example": {"TXT": ["v=spf1 -all"]},
    "servfail.example": {"rcode": "SERVFAIL"},
    "refused.example": {"rcode": "REFUSED"},
    "silent.example": {"rcode": "TIMEOUT"},
    "bad-space.example": {"MX": [[10, "bad name"]]},
    "bad-numeric.example": {"MX": [[10, "192.0.2.7"]]},
    "bad-hyphen.example": {"MX": [[10, "-mx.example"]]},
    "alias.example": {"CNAME": "hop.example", "ttl": 120},
    "hop.example": {"CNAME": "a.example", "ttl": 900},
    "dangling.example": {"CNAME": "gone.example"},
    "big.example": {"A": [f"192.0.2.{i}" for i in range(1, 61)]},
    "tc.example": {"A": ["192.0.2.9"], "truncate": True},
}


@pytest.fixture
def server(dns_server: DnsServerFactory) -> DnsServer:
    """A server with :data:`TABLE`."""
    return dns_server(TABLE)


def resolver_for(server: DnsServer, **options: Any) -> DnsResolver:
    """A resolver pointed at ``server`` with the quick test timeout."""
    options.setdefault("timeout", QUICK)
    return DnsResolver([server.address], **options)


def lookup(server: DnsServer, name: str, **options: Any) -> HostLookup:
    """Look up one name with a fresh resolver."""
    return resolver_for(server, **options).lookup_hosts([name])[name]


def closed_port() -> int:
    """A UDP/TCP port on 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- what Postfix asks, and how the answers combine ----------------------------------


@pytest.mark.parametrize(
    ("name", "status", "asked"),
    [
        pytest.param("a.example", DnsStatus.FOUND, ["A"], id="found-via-A"),
        pytest.param("six.example", DnsStatus.FOUND, ["A", "AAAA"], id="found-via-AAAA-only"),
        pytest.param("mailonly.example", DnsStatus.FOUND, ["A", "AAAA", "MX"], id="found-via-MX"),
        pytest.param("nullmx.example", DnsStatus.NULLMX, ["A", "AAAA", "MX"], id="null-MX"),
        pytest.param("nodata.example", DnsStatus.NODATA, ["A", "AAAA", "MX"], id="nodata"),
        pytest.param("missing.example", DnsStatus.NXDOMAIN, ["A"], id="nxdomain"),
        pytest.param("servfail.example", DnsStatus.SERVFAIL, ["A", "AAAA", "MX"], id="servfail"),
        pytest.param("refused.example", DnsStatus.REFUSED, ["A", "AAAA", "MX"], id="refused"),
        pytest.param("silent.example", DnsStatus.TIMEOUT, ["A", "AAAA", "MX"], id="timeout"),
        pytest.param("bad-space.example", DnsStatus.MALFORMED, ["A", "AAAA", "MX"], id="mx-space"),
        pytest.param("bad-numeric.example", DnsStatus.MALFORMED, ["A", "AAAA", "MX"], id="mx-ip"),
        pytest.param("bad-hyphen.example", DnsStatus.MALFORMED, ["A", "AAAA", "MX"], id="mx-hyph"),
        pytest.param("alias.example", DnsStatus.FOUND, ["A"], id="cname-chain"),
        pytest.param("dangling.example", DnsStatus.NXDOMAIN, ["A"], id="cname-to-nothing"),
    ],
)
def test_status_and_questions(
    server: DnsServer, name: str, status: DnsStatus, asked: list[str]
) -> None:
    result = lookup(server, name)
    assert result.status is status
    assert result.name == name
    for rdtype in ("A", "AAAA", "MX"):
        assert server.count(name, rdtype) == (1 if rdtype in asked else 0), rdtype


def test_found_records_are_reported(server: DnsServer) -> None:
    resolver = resolver_for(server)
    found = resolver.lookup_hosts(["a.example", "six.example", "mailonly.example", "alias.example"])
    assert found["a.example"] == HostLookup("a.example", DnsStatus.FOUND, ("192.0.2.1",))
    assert found["six.example"].addresses == ("2001:db8::1",)
    assert found["mailonly.example"].mx == ("mx.example",)
    assert found["alias.example"].addresses == ("192.0.2.1",)
    assert server.count("hop.example") == 0  # the chain came in one answer


def test_temporary_statuses_take_a_timeout_per_question(server: DnsServer) -> None:
    start = time.monotonic()
    assert lookup(server, "silent.example").status is DnsStatus.TIMEOUT
    assert 3 * QUICK <= time.monotonic() - start < 3 * QUICK + 1.0


@pytest.mark.parametrize("name", ["tc.example", "big.example"])
def test_truncated_answers_are_asked_again_over_tcp(server: DnsServer, name: str) -> None:
    result = lookup(server, name)
    assert result.status is DnsStatus.FOUND
    assert server.count(name, "A", "udp") == 1
    assert server.count(name, "A", "tcp") == 1
    if name == "big.example":
        assert len(result.addresses) == 60


def test_the_root_name_is_asked(dns_server: DnsServerFactory) -> None:
    server = dns_server({})  # "." is absent: NXDOMAIN from this server
    assert lookup(server, ".").status is DnsStatus.NXDOMAIN
    assert server.count(".", "A") == 1


def test_names_postfix_never_sends_are_not_found_without_a_query(server: DnsServer) -> None:
    names = ["a.example.", "", "x" * 64 + ".example", "bücher.example"]
    result = resolver_for(server).lookup_hosts(names)
    assert {r.status for r in result.values()} == {DnsStatus.NXDOMAIN}
    assert server.total_queries == 0


# -- asking once ---------------------------------------------------------------------


def test_each_distinct_name_is_asked_once(server: DnsServer) -> None:
    resolver = resolver_for(server)
    first = resolver.lookup_hosts(["a.example", "a.example", "missing.example"])
    second = resolver.lookup_hosts(["missing.example", "a.example", "six.example"])
    assert set(first) == {"a.example", "missing.example"}
    assert second["a.example"] == first["a.example"]
    assert server.count("a.example") == 1
    assert server.count("missing.example") == 1
    assert server.count("six.example") == 2  # A then AAAA, once each


def test_mixed_case_spellings_share_one_lookup(server: DnsServer) -> None:
    result = resolver_for(server).lookup_hosts(["A.Example", "a.example", "A.EXAMPLE"])
    assert list(result) == ["A.Example", "a.example", "A.EXAMPLE"]
    assert {r.status for r in result.values()} == {DnsStatus.FOUND}
    assert [r.name for r in result.values()] == list(result)
    assert server.count("a.example") == 1


def test_temporary_failures_are_remembered_for_the_run(server: DnsServer) -> None:
    resolver = resolver_for(server)
    resolver.lookup_hosts(["servfail.example"])
    assert resolver.lookup_hosts(["SERVFAIL.example"])["SERVFAIL.example"].status is (
        DnsStatus.SERVFAIL
    )
    assert server.count("servfail.example") == 3


def test_progress_is_reported(server: DnsServer) -> None:
    seen: list[tuple[int, int]] = []
    resolver = resolver_for(server, progress=lambda done, total: seen.append((done, total)))
    resolver.lookup_hosts(["a.example", "six.example", "missing.example", "a.example"])
    assert seen == [(1, 3), (2, 3), (3, 3)]


# -- time limits ---------------------------------------------------------------------


def test_deadline_bounds_the_batch(dns_server: DnsServerFactory) -> None:
    table = {f"quiet{i}.example": {"rcode": "TIMEOUT"} for i in range(20)}
    table |= {f"ok{i}.example": {"A": ["192.0.2.1"]} for i in range(20)}
    server = dns_server(table)
    resolver = DnsResolver([server.address], timeout=5.0, deadline=0.5, concurrency=50)
    start = time.monotonic()
    result = resolver.lookup_hosts(table)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5
    assert {result[f"quiet{i}.example"].status for i in range(20)} == {DnsStatus.DEADLINE}
    assert {result[f"ok{i}.example"].status for i in range(20)} == {DnsStatus.FOUND}
    assert resolver.missed == 20
    # One deadline for the resolver's whole life: a later batch and a single question
    # ask nothing more, and say why.
    later = resolver.lookup_hosts(["quiet0.example", "other.example"])
    assert {lk.status for lk in later.values()} == {DnsStatus.DEADLINE}
    assert resolver.query("other.example", "TXT").status is DnsStatus.DEADLINE
    assert server.count("quiet0.example", "A") == 1 and server.count("other.example") == 0
    assert time.monotonic() - start < 1.5


def test_single_questions_share_the_deadline_with_the_batches(dns_server: DnsServerFactory) -> None:
    server = dns_server({"quiet.example": {"rcode": "TIMEOUT"}, "ok.example": {"A": ["192.0.2.1"]}})
    resolver = DnsResolver([server.address], timeout=5.0, deadline=0.6)
    start = time.monotonic()
    assert resolver.lookup_hosts(["ok.example"])["ok.example"].status is DnsStatus.FOUND
    # The question outlives the deadline: cut at the deadline, DEADLINE rather than TIMEOUT.
    assert resolver.query("quiet.example", "TXT").status is DnsStatus.DEADLINE
    assert 0.5 < time.monotonic() - start < 1.2
    assert resolver.missed == 1


def test_no_reachable_server_finishes_with_temporary_statuses() -> None:
    resolver = DnsResolver([f"127.0.0.1:{closed_port()}"], timeout=QUICK, deadline=2.0)
    start = time.monotonic()
    result = resolver.lookup_hosts([f"host{i}.example" for i in range(30)])
    assert time.monotonic() - start < 2.5
    assert len(result) == 30
    assert all(r.status.is_temporary for r in result.values())


def test_a_dead_server_is_skipped_for_the_next(server: DnsServer) -> None:
    resolver = DnsResolver([f"127.0.0.1:{closed_port()}", server.address], timeout=QUICK)
    assert resolver.lookup_hosts(["a.example"])["a.example"].status is DnsStatus.FOUND


# -- inside an event loop --------------------------------------------------------------


def test_lookup_hosts_works_inside_a_running_event_loop(server: DnsServer) -> None:
    resolver = resolver_for(server)

    async def notebook_cell() -> tuple[HostLookup, HostLookup, DnsAnswer]:
        asyncio.get_running_loop()  # as in a Jupyter kernel
        sync = resolver.lookup_hosts(["a.example"])["a.example"]
        via_async = (await resolver.lookup_hosts_async(["six.example"]))["six.example"]
        return sync, via_async, resolver.query("a.example", "A")

    sync, via_async, answer = asyncio.run(notebook_cell())
    assert sync.status is via_async.status is answer.status is DnsStatus.FOUND


def test_lookup_hosts_from_several_threads(server: DnsServer) -> None:
    resolver = resolver_for(server)
    results: list[dict[str, HostLookup]] = []
    threads = [
        threading.Thread(target=lambda: results.append(resolver.lookup_hosts(["a.example"])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["a.example"].status for r in results] == [DnsStatus.FOUND] * 4


# -- one question at a time (for SPF and PTR checks) -----------------------------------


def test_query_answers_one_question(dns_server: DnsServerFactory) -> None:
    long_spf = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(20)) + " -all"
    server = dns_server(
        {
            "spf.example": {"TXT": [long_spf], "MX": [[10, "mx.spf.example"]], "ttl": 42},
            "1.2.0.192.in-addr.arpa": {"PTR": ["host.example"]},
            "www.example": {"CNAME": "spf.example", "ttl": 30},
        },
        soa_minimum=60,
    )
    resolver = resolver_for(server)
    assert resolver.query("spf.example", "TXT") == DnsAnswer(DnsStatus.FOUND, (long_spf,), 42)
    assert resolver.query("spf.example.", "MX").records == ("10 mx.spf.example",)
    assert resolver.query("1.2.0.192.in-addr.arpa", "PTR").records == ("host.example",)
    assert resolver.query("www.example", "TXT").ttl == 30
    assert resolver.query("spf.example", "AAAA") == DnsAnswer(DnsStatus.NODATA, (), 60)
    assert resolver.query("nope.example", "TXT") == DnsAnswer(DnsStatus.NXDOMAIN, (), 60)
    assert resolver.query("SPF.example", "TXT").records == (long_spf,)  # remembered
    assert server.count("spf.example", "TXT") == 1


# -- the persistent cache --------------------------------------------------------------


def cached_resolver(server: DnsServer, cache: DnsCache) -> DnsResolver:
    """A fresh resolver (empty memory) sharing ``cache``: the next cron run."""
    return resolver_for(server, cache=cache)


def test_cache_fresh_hit_asks_nothing_and_expiry_asks_again(
    server: DnsServer, tmp_path: Path
) -> None:
    clock = Clock()
    cache = DnsCache(tmp_path / "dns.sqlite", clock=clock)
    first = cached_resolver(server, cache).lookup_hosts(["a.example"])
    assert server.count("a.example") == 1
    clock.now += 599  # TTL 600
    assert cached_resolver(server, cache).lookup_hosts(["A.EXAMPLE"])["A.EXAMPLE"] == HostLookup(
        "A.EXAMPLE", DnsStatus.FOUND, first["a.example"].addresses
    )
    assert server.count("a.example") == 1
    clock.now += 2
    cached_resolver(server, cache).lookup_hosts(["a.example"])
    assert server.count("a.example") == 2


def test_cache_keeps_positive_answers_for_the_smallest_ttl_used(
    server: DnsServer, tmp_path: Path
) -> None:
    clock = Clock()
    cache = DnsCache(tmp_path / "dns.sqlite", clock=clock)
    cached_resolver(server, cache).lookup_hosts(["alias.example"])  # CNAME 120, 900, A 600
    clock.now += 119
    assert cache.get("alias.example") is not None
    clock.now += 2
    assert cache.get("alias.example") is None


@pytest.mark.parametrize("name", ["missing.example", "nodata.example"])
def test_cache_negative_answers_expire_by_soa_minimum(
    dns_server: DnsServerFactory, tmp_path: Path, name: str
) -> None:
    server = dns_server(TABLE, soa_minimum=45, soa_ttl=3600)
    clock = Clock()
    cache = DnsCache(tmp_path / "dns.sqlite", clock=clock)
    cached_resolver(server, cache).lookup_hosts([name])
    asked = server.count(name)
    clock.now += 44
    cached_resolver(server, cache).lookup_hosts([name])
    assert server.count(name) == asked
    clock.now += 2
    cached_resolver(server, cache).lookup_hosts([name])
    assert server.count(name) == 2 * asked


def test_cache_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum(
    dns_server: DnsServerFactory, tmp_path: Path
) -> None:
    server = dns_server({}, soa_minimum=3600, soa_ttl=30)
    clock = Clock()
    cache = DnsCache(tmp_path / "dns.sqlite", clock=clock)
    cached_resolver(server, cache).lookup_hosts(["missing.example"])
    clock.now += 31
    assert cache.get("missing.example") is None


def test_cache_skips_negative_answers_without_soa(
    dns_server: DnsServerFactory, tmp_path: Path
) -> None:
    server = dns_server({}, soa_minimum=None)
    cache = DnsCache(tmp_path / "dns.sqlite", clock=Clock())
    result = cached_resolver(server, cache).lookup_hosts(["missing.example"])
    assert result["missing.example"].status is DnsStatus.NXDOMAIN
    assert len(cache) == 0


def test_cache_never_keeps_temporary_failures(server: DnsServer, tmp_path: Path) -> None:
    cache = DnsCache(tmp_path / "dns.sqlite", clock=Clock())
    names = ["servfail.example", "refused.example", "silent.example"]
    resolver_for(server, cache=cache, timeout=0.1).lookup_hosts(names)
    assert len(cache) == 0
    resolver_for(server, cache=cache, timeout=0.1).lookup_hosts(names)
    assert [server.count(name, "A") for name in names] == [2, 2, 2]


def test_cache_caps_ttls(tmp_path: Path) -> None:
    clock = Clock()
    cache = DnsCache(tmp_path / "dns.sqlite", clock=clock, max_ttl=100, max_negative_ttl=10)
    assert cache.put(HostLookup("up.example", DnsStatus.FOUND, ("192.0.2.1",)), 86400)
    assert cache.put(HostLookup("down.example", DnsStatus.NXDOMAIN), 86400)
    assert not cache.put(HostLookup("skip.example", DnsStatus.SKIPPED), 86400)
    assert not cache.put(HostLookup("zero.example", DnsStatus.FOUND), 0)
    clock.now += 11
    assert cache.get("down.example") is None
    assert cache.get("up.example") == HostLookup("up.example", DnsStatus.FOUND, ("192.0.2.1",))
    clock.now += 90
    assert cache.get("up.example") is None
    assert cache.purge() == 2
    assert len(cache) == 0


def test_cache_is_shared_between_connections(tmp_path: Path) -> None:
    path = tmp_path / "dns.sqlite"
    with DnsCache(path) as writer, DnsCache(path) as reader:
        writer.put(HostLookup("mx.example", DnsStatus.FOUND, (), ("mail.example",)), 300)
        assert reader.get("MX.example") == HostLookup(
            "mx.example", DnsStatus.FOUND, (), ("mail.example",)
        )
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_corrupt_cache_degrades_to_no_cache(
    server: DnsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dns.sqlite"
    path.write_bytes(b"this is not an SQLite database, not even close" * 100)
    with caplog.at_level(logging.WARNING, logger="loganalyze.judge.dns_cache"):
        cache = DnsCache(path)
    assert not cache.enabled
    assert "disabled" in caplog.text
    result = cached_resolver(server, cache).lookup_hosts(["a.example"])
    assert result["a.example"].status is DnsStatus.FOUND
    assert cache.get("a.example") is None


def test_unwritable_cache_location_degrades_to_no_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="loganalyze.judge.dns_cache"):
        cache = DnsCache(blocker / "sub" / "dns.sqlite")
    assert not cache.enabled
    assert not cache.put(HostLookup("a.example", DnsStatus.FOUND), 60)
    assert cache.get_many(["a.example"]) == {}
    assert "disabled" in caplog.text


def test_cache_failing_later_turns_itself_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dns.sqlite"
    cache = DnsCache(path)
    with closing(sqlite3.connect(path)) as other:  # a Connection's own "with" does not close
        other.execute("DROP TABLE host")
    with caplog.at_level(logging.WARNING, logger="loganalyze.judge.dns_cache"):
        assert cache.get("a.example") is None
    assert not cache.enabled
    assert "disabled" in caplog.text


def test_default_cache_path_is_in_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with DnsCache() as cache:
        assert cache.path == tmp_path / "loganalyze" / "dns.sqlite"
        assert cache.enabled


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        (" 192.0.2.53:5353 ", ("192.0.2.53", 5353)),
        ("::1", ("::1", 53)),
        ("2001:DB8::53", ("2001:db8::53", 53)),
        ("[::1]:5300", ("::1", 5300)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
    ],
)
def test_parse_nameserver(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dns.example",
        "dns.example:53",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:dns",
        "[::1",
        "[::1]:x",
        "[127.0.0.1]:53",
        "999.1.1.1",
        "::1::2",
    ],
)
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="DNS server") as excinfo:
        parse_nameserver(text)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    "options",
    [{"timeout": 0}, {"deadline": -1}, {"concurrency": 0}],
)
def test_resolver_rejects_bad_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        DnsResolver(["127.0.0.1"], **options)


def test_resolver_needs_a_server() -> None:
    with pytest.raises(ConfigError, match="no DNS server"):
        DnsResolver([])


# -- resolvers without a network -----------------------------------------------------------


def test_static_resolver() -> None:
    resolver = StaticResolver(
        {
            "Mail.Example": HostLookup("mail.example", DnsStatus.FOUND, ("192.0.2.1",)),
            "flaky.example": DnsStatus.SERVFAIL,
        }
    )
    result = resolver.lookup_hosts(
        ["mail.example", "FLAKY.example", "other.example", "MAIL.EXAMPLE"]
    )
    assert result == {
        "mail.example": HostLookup("mail.example", DnsStatus.FOUND, ("192.0.2.1",)),
        "FLAKY.example": HostLookup("FLAKY.example", DnsStatus.SERVFAIL),
        "other.example": HostLookup("other.example", DnsStatus.NXDOMAIN),
        "MAIL.EXAMPLE": HostLookup("MAIL.EXAMPLE", DnsStatus.FOUND, ("192.0.2.1",)),
    }
    assert resolver.asked == list(result)


def test_no_dns_resolver_skips_everything() -> None:
    result = NoDnsResolver().lookup_hosts(["a.example", "a.example", "b.example"])
    assert result == {
        "a.example": HostLookup("a.example", DnsStatus.SKIPPED),
        "b.example": HostLookup("b.example", DnsStatus.SKIPPED),
    }


# -- the test server itself ------------------------------------------------------------


def test_server_table_loads_from_json(dns_server: DnsServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "zone.json"
    path.write_text(json.dumps({"Json.Example": {"A": ["192.0.2.77"], "ttl": 5}}))
    server = dns_server(load_table(path))
    assert resolver_for(server).query("json.example", "A") == DnsAnswer(
        DnsStatus.FOUND, ("192.0.2.77",), 5
    )
    assert server.queries == {("json.example", "A", "udp"): 1}


def test_server_latency_does_not_serialise_queries(dns_server: DnsServerFactory) -> None:
    table = {f"h{i}.example": {"A": ["192.0.2.1"]} for i in range(50)}
    server = dns_server(table, latency=0.2)
    start = time.monotonic()
    result = resolver_for(server, timeout=2.0).lookup_hosts(table)
    elapsed = time.monotonic() - start
    assert {r.status for r in result.values()} == {DnsStatus.FOUND}
    assert 0.2 <= elapsed < 1.0
