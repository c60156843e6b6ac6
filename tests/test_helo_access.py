"""helo_access safety: hostile names never become a door, and table lines cannot be injected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loganalyze.errors import ConfigError
from loganalyze.judge.hostname import utf8_hostname_ace, valid_hostname
from loganalyze.postfix.config import identity_from_params, parse_main_cf
from loganalyze.postfix.helo_access import (
    client_access_line,
    format_entry,
    parse_helo_access,
    unsafe_reason,
)

SERVER = identity_from_params(
    parse_main_cf(
        "myhostname = mail.example.com\n"
        "mydomain = example.com\n"
        "mydestination = $myhostname, localhost.$mydomain, localhost,\n"
        "    example.net\n"
        "mynetworks = 127.0.0.0/8 [::1]/128\n"
    )
)

UNSAFE = [
    ("", "no HELO"),
    ("localhost", "localhost"),
    ("LOCALHOST.localdomain", "localhost"),
    ("localhost.", "localhost"),
    ("mail.example.com", "own name"),
    ("example.com", "own name"),
    ("smtp.example.com", "own name"),
    ("example.net", "own name"),
    ("relay.example.net.", "own name"),
    ("192.0.2.1", "address"),
    ("[192.0.2.1]", "token"),
    ("[IPv6:2001:db8::1]", "token"),
    ("2001:db8::1", "token"),
    ("123456", "address"),
    ("gmail.com", "claims"),
    ("mail-ej1-f54.google.com", "claims"),
    ("smtp.outlook.com", "claims"),
    ("Mail?Server", "token"),
    ("foo bar", "token"),
    ("name\nfake OK", "token"),
    ("name OK", "token"),
    ("#comment", "token"),
    ("a\x1b[31mred", "token"),
    ("evil.example\tOK", "token"),
    ("ylmf-pc", "generic"),
    ("mail", "generic"),
]


@pytest.mark.parametrize("helo,why", UNSAFE)
def test_forger_names_are_never_suggested(helo: str, why: str) -> None:
    reason = unsafe_reason(helo, SERVER, "unknown")
    assert reason is not None and why in reason


def test_provider_name_is_safe_only_from_the_provider() -> None:
    assert unsafe_reason("mail-ej1-f54.google.com", SERVER, "mail-ej1-f54.google.com") is None
    assert unsafe_reason("mail-ej1-f54.google.com", SERVER, "mx.spammer.example") is not None


SAFE = ["va-massmail-02.rakutenmarketing.com", "optimus-webapi-prod-2.localdomain",
        "mailer01.smithlaw.co.uk", "mail.fjordline-travel.no.", "EXCH01", "mail..lawfirm.example"]


@pytest.mark.parametrize("helo", SAFE)
def test_real_broken_names_are_allowed(helo: str) -> None:
    assert unsafe_reason(helo, SERVER, "mta.somewhere.example") is None


def test_entry_is_lowercase_with_comment_and_keeps_trailing_dot() -> None:
    text = format_entry("Mail.Fjordline-Travel.no.", ["mx[192.0.2.1]: SPF pass\nfake OK"])
    assert text == "# mx[192.0.2.1]: SPF pass?fake OK\nmail.fjordline-travel.no. OK"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_no_string_can_inject_into_a_table_line(helo: str, evidence: str) -> None:
    try:
        text = format_entry(helo, [evidence])
    except ValueError:
        # Refused: empty, a leading "." or "-" (".name" keys mean something else to
        # Postfix), or a character no host-name token has.
        assert (not helo or helo[0] in ".-" or len(helo) > 255
                or any(not (c.isascii() and (c.isalnum() or c in "._-")) for c in helo))
        assert utf8_hostname_ace(helo.lower()) is None
        return
    lines = text.split("\n")
    assert len(lines) == 2
    assert lines[0].startswith("# ")
    key, action = lines[1].split(" ")
    assert action == "OK" and key == helo.lower()
    if not key.isascii():  # a raw UTF-8 key: a valid IDN, whose ACE form is a host name
        ace = utf8_hostname_ace(key)
        assert ace is not None and valid_hostname(ace.rstrip("."))
    # Parsing our own output gives back exactly one entry.
    assert parse_helo_access(text).entries == {key: "OK"}


# Raw UTF-8 HELOs as smtpd 3.7.11 logged them in fixtures/lab/recorded/utf8-smtputf8-*.
SMTPUTF8_ON = identity_from_params({"myhostname": "mx.example.net", "compatibility_level": "3.6"})
SMTPUTF8_OFF = identity_from_params({"myhostname": "mx.example.net", "compatibility_level": "3.6",
                                     "smtputf8_enable": "no"})


@pytest.mark.parametrize("helo,key", [
    ("mail.müller-bau.de", "mail.müller-bau.de"),
    ("MAIL.Gärtner-GmbH.de", "mail.gärtner-gmbh.de"),
    ("smtp.bäckerei-schmidt.de.", "smtp.bäckerei-schmidt.de."),
])
def test_utf8_helo_is_suggested_as_utf8_key_when_smtputf8_is_on(helo: str, key: str) -> None:
    assert unsafe_reason(helo, SMTPUTF8_ON, "mail.xn--mller-bau-q9a.de") is None
    assert format_entry(helo, ["why"]).split("\n")[1] == f"{key} OK"
    reason = unsafe_reason(helo, SMTPUTF8_OFF, "mail.xn--mller-bau-q9a.de")
    assert reason is not None and "smtputf8_enable = no" in reason


@pytest.mark.parametrize("helo", [
    "mail.wei??-druck.de",  # smtputf8_enable = no: logged with ? for each byte
    "mail.müller bau.de", "mail.müller-bau.de\nevil OK", "mail.müller-bau.de#", "mail.ü\u200b.de",
    "paypa\u202el.de", "mail\u3002müller.de", "mail.müller-bau.de\u2028x", "-müller.de",
    "mail.\u00fcller\x00.de", "ü" * 64 + ".de",
])
def test_utf8_names_that_are_no_host_name_are_refused(helo: str) -> None:
    reason = unsafe_reason(helo, SMTPUTF8_ON, "unknown")
    assert reason is not None and "token" in reason
    with pytest.raises(ValueError):
        format_entry(helo, [])


def test_smtputf8_enable_from_main_cf() -> None:
    def smtputf8(text: str) -> bool | None:
        return identity_from_params(parse_main_cf("myhostname = mx.example.net\n" + text)).smtputf8
    assert smtputf8("compatibility_level = 3.6\n") is True  # Debian 12's main.cf
    assert smtputf8("") is False  # compatibility_level 0: smtputf8_enable defaults to no
    assert smtputf8("compatibility_level = 2\nsmtputf8_enable = no\n") is False
    assert smtputf8("smtputf8_enable = yes\n") is True
    assert smtputf8("smtputf8_enable = $other\nother = no\n") is False
    assert identity_from_params({}, main_cf=False).smtputf8 is None


def test_client_access_alternative() -> None:
    assert client_access_line("192.0.2.7") == "192.0.2.7/32 OK"
    assert client_access_line("2001:DB8::7", "x\ny") == "# x?y\n2001:db8::7/128 OK"


TABLE = """\
# helo_access - managed by hand
# legitimate senders with broken HELO

optimus-webapi-prod-2.localdomain   OK
va-massmail-02.rakutenmarketing.com OK
Partner.Example   OK
ylmf-pc           REJECT
    spam bot
example.org       OK
"""


def test_parse_table_with_comments_and_continuation() -> None:
    table = parse_helo_access(TABLE)
    assert table.entries["ylmf-pc"] == "REJECT    spam bot"  # as postmap joins it
    assert table.permits("partner.example")
    assert table.permits("OPTIMUS-WEBAPI-PROD-2.localdomain")
    assert not table.permits("ylmf-pc")
    # Parent-domain match (parent_domain_matches_subdomains includes smtpd_access_maps).
    assert table.lookup("mx1.example.org") == ("example.org", "OK")
    # A trailing dot is part of the key.
    assert not table.permits("partner.example.")
    assert not table.permits("other.example")


@pytest.mark.parametrize(
    "text,where",
    [("  leading continuation OK\n", ":1:"), ("# c\nlonely\n", ":2:")],
)
def test_malformed_table_is_a_clear_error(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        parse_helo_access(text, "helo_access")


def test_main_cf_identity() -> None:
    assert SERVER.hostnames == {"mail.example.com"}
    assert SERVER.domains == {
        "example.com", "mail.example.com", "localhost.example.com", "example.net"}
    assert SERVER.owns("MAIL.EXAMPLE.COM.")
    assert not SERVER.owns("example.com.evil.test")


def test_identity_from_postconf_n_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from loganalyze.postfix.config import load_identity

    # `postconf -n > file` writes one "name = value" line per setting, no continuations.
    saved = tmp_path / "postconf-n.txt"
    saved.write_text(
        "alias_maps = hash:/etc/aliases\n"
        "mydestination = $myhostname, mail.$mydomain, localhost\n"
        "mydomain = example.org\n"
        "myhostname = mx1.example.org\n"
        "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128\n"
        "smtpd_helo_restrictions = permit_mynetworks, check_helo_access "
        "hash:/etc/postfix/helo_access, reject_invalid_helo_hostname\n"
    )
    identity = load_identity(saved)
    assert identity.owns("mx1.example.org") and identity.owns("www.example.org")
    assert "check_helo_access" in identity.helo_restrictions
    assert unsafe_reason("mx1.example.org", identity) is not None


def test_restriction_order_advice() -> None:
    from loganalyze.postfix.config import restriction_advice

    def advice(value: str) -> str | None:
        return restriction_advice(identity_from_params({
            "myhostname": "mx.example.org", "smtpd_helo_restrictions": value}))

    tutorial = ("permit_mynetworks, permit_sasl_authenticated, check_helo_access "
                "hash:/etc/postfix/helo_access, reject_invalid_helo_hostname, "
                "reject_non_fqdn_helo_hostname, reject_unknown_helo_hostname")
    assert advice(tutorial) is None
    late = ("permit_mynetworks, reject_unknown_helo_hostname, "
            "check_helo_access hash:/etc/postfix/helo_access")
    assert "comes after reject_unknown_helo_hostname" in (advice(late) or "")
    assert "has no check_helo_access" in (advice("reject_invalid_helo_hostname") or "")
    assert advice("") is None
