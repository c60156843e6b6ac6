"""The fast paths of the judge stage give the answers of the plain definitions (issue 8).

The checks, the domain helpers and the verdict take shortcuts (patterns instead
of character loops, tables, a public suffix list without punycode forms for
names without any); each is compared here with the straightforward version
over many generated inputs. Nothing here measures time.
"""

from __future__ import annotations

import gc
import ipaddress
import random
import statistics

import pytest

from loganalyze.aggregate import Traffic
from loganalyze.judge.checks import (
    check_helo,
    dns_query_name,
    invalid_reply,
    non_fqdn_reply,
    unknown_reply,
    valid_hostname,
    valid_ipv4_hostaddr,
)
from loganalyze.judge.dns import DnsStatus, HostLookup, NoDnsResolver
from loganalyze.judge.domains import _IPV4, _psl, registered_domain, same_organisation
from loganalyze.judge.verdict import _median
from loganalyze.pipeline import AnalyzeOptions, judge_traffic

# --- transcriptions of Postfix's loops (util/valid_hostname.c), the reference ---------

_DIGITS = frozenset("0123456789")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def loop_valid_hostname(name: str, *, wildcard: bool = False) -> bool:
    """valid_hostname() character by character, as the C code walks it."""
    if not name:
        return False
    label_len = labels = 0
    non_numeric = False
    for i, ch in enumerate(name):
        nxt = name[i + 1] if i < len(name) - 1 else ""
        if ch in _HOST_CHARS:
            if label_len == 0:
                labels += 1
            label_len += 1
            if label_len > 63:
                return False
            if ch not in _DIGITS:
                non_numeric = True
        elif wildcard and ch == "*":
            if label_len or labels or nxt not in ("", "."):
                return False
            labels += 1
            label_len += 1
            non_numeric = True
        elif ch == ".":
            if label_len == 0 or not nxt:
                return False
            label_len = 0
        elif ch == "-":
            non_numeric = True
            label_len += 1
            if label_len == 1 or nxt in ("", "."):
                return False
        else:
            return False
    return non_numeric and len(name) <= 255


def loop_valid_ipv4_hostaddr(addr: str) -> bool:
    """valid_ipv4_hostaddr() character by character."""
    in_field = False
    fields = value = 0
    for i, ch in enumerate(addr):
        if ch in _DIGITS:
            if not in_field:
                in_field, value = True, 0
                fields += 1
            value = value * 10 + int(ch)
            if value > 255:
                return False
        elif ch == ".":
            if not in_field or i == len(addr) - 1:
                return False
            if fields == 1 and value == 0 and addr.lstrip("0."):
                return False
            in_field = False
        else:
            return False
    return fields == 4


def names(seed: int, count: int) -> list[str]:
    """HELO-like strings around every rule: label lengths, dots, '-', '*', non-ASCII."""
    rng = random.Random(seed)
    pieces = ["a", "Z", "0", "9", "_", "-", ".", "*", "é", " ", "\x7f", "[", "]", ":"]
    edge = ["*", "*.", "**", "a.*", "*.a", ".", "..", "a..b", "1.2.3.4", "0.0.0.0",
            "0.1.2.3", "01.02.03.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4.",
            "0" * 500 + ".1.1.1", "[1.2.3.4]", "[IPv6:2001:db8::1]", "[1.2.3.4", "x" * 64,
            "a" * 63 + ".b", ("b" * 63 + ".") * 4, "xn--", "-a", "a-", "a-b", "123", "1-2"]
    out = list(edge)
    for _ in range(count):
        kind = rng.random()
        if kind < 0.4:
            out.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))))
        elif kind < 0.7:
            out.append(".".join(str(rng.choice([0, 1, 25, 255, 256, "00", "01", "000255"]))
                                for _ in range(rng.randint(1, 5))))
        else:
            labels = ["".join(rng.choice("ab-_9") for _ in range(rng.choice([1, 2, 62, 63, 64])))
                      for _ in range(rng.randint(1, 5))]
            out.append(rng.choice(["", "*."]) + ".".join(labels) + rng.choice(["", ".", ".."]))
    return out


# --- checks ----------------------------------------------------------------------------


def test_valid_hostname_pattern_matches_the_loop() -> None:
    for name in names(1, 20000):
        for wildcard in (False, True):
            assert valid_hostname(name, wildcard=wildcard) == loop_valid_hostname(
                name, wildcard=wildcard), (name, wildcard)


def test_valid_ipv4_hostaddr_pattern_matches_the_loop() -> None:
    for addr in names(2, 20000):
        assert valid_ipv4_hostaddr(addr) == loop_valid_ipv4_hostaddr(addr), addr


LOOKUPS = [None, *(HostLookup("x", status) for status in DnsStatus)]


def test_check_helo_in_one_pass_agrees_with_the_three_checks() -> None:
    for helo in names(3, 5000):
        for lookup in LOOKUPS:
            result = check_helo(helo, lookup)
            replies = [invalid_reply(helo), non_fqdn_reply(helo), unknown_reply(helo, lookup)]
            assert result.invalid == (replies[0] is not None), helo
            assert result.non_fqdn == (replies[1] is not None), helo
            assert result.reply == next((r for r in replies if r is not None), None), helo
            if result.dns == "not_queried":
                assert dns_query_name(helo) is None or helo.startswith("[")
                assert result.unknown == (replies[2] is not None)
            first = result.failed[0] if result.failed else None
            assert result.first_failed == first, helo


def test_dns_status_tables() -> None:
    passes = {DnsStatus.FOUND: True, DnsStatus.NULLMX: True, DnsStatus.NXDOMAIN: False,
              DnsStatus.NODATA: False, DnsStatus.MALFORMED: False}
    temporary = {DnsStatus.SERVFAIL, DnsStatus.TIMEOUT, DnsStatus.REFUSED}
    for status in DnsStatus:
        assert status.passes is passes.get(status)
        assert status.is_temporary is (status in temporary)


# --- domains -----------------------------------------------------------------------------


def test_punycode_forms_only_add_rules_with_an_xn_label() -> None:
    # Why a name without "xn--" may be looked up in the list without punycode forms.
    added = _psl(punycode=True)._publicsuffix - _psl(punycode=False)._publicsuffix
    assert added
    for rule in added:
        labels = rule.lstrip("!").split(".")
        assert any(label.startswith("xn--") for label in labels), rule


HOSTS = ["mail.example.co.uk", "MX1.Example.COM.", "a.b.city.kobe.jp", "www.ck", "x.блог.рф",
         "x.xn--90ae.xn--p1ai", "mail.xn--p1ai", "localhost", "ec2.internal", "", ".", "a..b",
         "foo.blogspot.com", "host.example", "shop.公司.hk", "x.xn--55qx5d.hk", "com", "co.uk"]


@pytest.mark.parametrize("name", HOSTS)
def test_registered_domain_as_with_the_full_list(name: str) -> None:
    full = _psl(punycode=True)
    bare = name.lower().rstrip(".")
    private = full.privatesuffix(bare) if bare else None
    labels = bare.split(".")
    expected = str(private) if private else (".".join(labels[-2:]) if len(labels) >= 2 else bare)
    assert registered_domain(name) == expected


def test_same_organisation_shortcut_agrees_with_registered_domains() -> None:
    for a in HOSTS:
        for b in HOSTS:
            da, db = registered_domain(a), registered_domain(b)
            full = _psl(punycode=True)
            expected = bool(a and b and da and da == db
                            and full.privatesuffix(da.lower().rstrip(".")) is not None)
            assert same_organisation(a, b) == expected, (a, b)


def test_ipv4_pattern_accepts_what_ipaddress_accepts() -> None:
    rng = random.Random(4)
    octets = ["0", "00", "1", "01", "9", "10", "99", "100", "199", "200", "249", "250", "255",
              "256", "300", "1000", "", "\u0663", " 1", "+1"]
    samples = ["::1", "2001:db8::1", "1.2.3.4/32", "unknown", ""]
    samples += [".".join(rng.choice(octets) for _ in range(rng.choice([3, 4, 4, 5])))
                for _ in range(20000)]
    for text in samples:
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            valid = False
        else:
            valid = True
        assert (_IPV4.fullmatch(text) is not None) == valid, text


# --- verdict and the stage ----------------------------------------------------------------


def test_median_is_statistics_median() -> None:
    rng = random.Random(5)
    for size in range(1, 12):
        values = [float(rng.randint(0, 5000)) for _ in range(size)]
        assert _median(values) == statistics.median(values)


def test_judge_traffic_restores_the_collector_thresholds() -> None:
    before = gc.get_threshold()
    judge_traffic(Traffic(), AnalyzeOptions(resolver=NoDnsResolver()))
    assert gc.get_threshold() == before
