"""``report --mail-to``: the MIME message, sent over real SMTP and through a real pipe.

The SMTP listener is aiosmtpd's, on 127.0.0.1 at a free port; the sendmail is a
stand-in script that stores its argv and stdin. The stored message is parsed
with the email package: a text part (the text report's golden file) and an
HTML part whose chart is an inline PNG referred to by ``cid:``. Failures to
mail exit 1 with one line, keep the message and roll the state back.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from PIL import Image
from test_daily_report import FIXTURES, GOLDEN, GOLDEN_ARGS, day_lines, report, session

LOGANALYZE = str(Path(sys.executable).parent / "loganalyze")
FROM = "loganalyze@mail.example.com"  # myorigin of fixtures/postfix/main.cf is its myhostname


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# -- a real SMTP listener ----------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: stores each message; refuses the recipients in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued as 4F2A1B"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(getattr(request, "param", ()))
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# -- a sendmail stand-in -----------------------------------------------------------------

STAND_IN = """#!{python}
import json, sys
from pathlib import Path
here = Path(sys.argv[0]).parent
(here / "argv.json").write_text(json.dumps(sys.argv[1:]))
(here / "stdin.eml").write_bytes(sys.stdin.buffer.read())
sys.stderr.write({stderr!r})
sys.exit({status})
"""


def stand_in(directory: Path, status: int = 0, stderr: str = "") -> Path:
    directory.mkdir(exist_ok=True)
    script = directory / "sendmail"
    script.write_text(STAND_IN.format(python=sys.executable, status=status, stderr=stderr))
    script.chmod(0o755)
    return script


# -- what the message must be ------------------------------------------------------------


class StrictHtml(HTMLParser):
    """Every element closed in order (void elements excepted), and each table's rows."""

    VOID = {"br", "img", "meta", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tables: list[dict[str, list[list[str]]]] = []
        self.cells: list[str] | None = None
        self.section = ""
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "table":
            self.tables.append({"thead": [], "tbody": [], "": []})
            self.section = ""
        elif tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr":
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.cells.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "tr" and self.cells is not None:
            self.tables[-1][self.section].append(self.cells)
            self.cells = None
        elif tag in ("thead", "tbody"):
            self.section = ""

    def handle_data(self, data: str) -> None:
        self.text += data


def check_html(html: str) -> StrictHtml:
    assert html.startswith("<!DOCTYPE html>")
    parser = StrictHtml()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    summary, *lists = parser.tables
    assert all(row == ["th", "td"] for row in summary[""])  # row headers
    for table in lists:  # a header row, and every row as wide as it
        assert len(table["thead"]) == 1 and set(table["thead"][0]) == {"th"}
        assert table["tbody"] and table[""] == []
        assert all(row == ["td"] * len(table["thead"][0]) for row in table["tbody"])
    return parser


def check_message(message: EmailMessage, *, chart: bool = True) -> tuple[str, str]:
    """The structure every report mail has; returns (text part, HTML part), with
    SMTP's CRLF line ends read as LF."""
    assert message.defects == []
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_side = message.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(">")
    assert message["Auto-Submitted"] == "auto-generated"
    if not chart:
        assert html_side.get_content_type() == "text/html"
        html = html_side.get_content()
        assert "<img" not in html and "cid:" not in html
        check_html(html)
        return text_part.get_content().replace("\r\n", "\n"), html
    assert html_side.get_content_type() == "multipart/related"
    html_part, image = html_side.iter_parts()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content().replace("\r\n", "\n")
    check_html(html)
    assert "data:" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 1 and sources[0].startswith("cid:")
    cid = sources[0][4:]
    assert image["Content-ID"] == f"<{cid}>"
    assert image.get_content_type() == "image/png"
    png = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as decoded:
        decoded.verify()  # the whole PNG: chunks and checksums
        assert decoded.format == "PNG" and decoded.size == (640, 240)
    return text_part.get_content().replace("\r\n", "\n"), html


def golden_cli(*args: str, state: Path, env: dict[str, str] | None = None) \
        -> subprocess.CompletedProcess[bytes]:
    """The installed ``loganalyze report`` on the bundled day (a fresh state)."""
    return subprocess.run(
        [LOGANALYZE, "report", str(FIXTURES / "mail.log"), "--state", str(state),
         *GOLDEN_ARGS, *args],
        capture_output=True, timeout=120, env=env, check=False)


# -- the two transports ------------------------------------------------------------------


def test_mail_over_smtp_is_text_and_html_with_an_inline_chart(
        tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    done = golden_cli("--mail-to", "postmaster@example.com, Anna <anna@example.com>",
                      "--mail-to", "hostmaster", "--smtp", f"127.0.0.1:{port}",
                      state=tmp_path / "state.sqlite")
    # Under cron: silent on success.
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == FROM
    assert envelope.rcpt_tos == ["postmaster@example.com", "anna@example.com",
                                 "hostmaster@mail.example.com"]
    assert isinstance(envelope.original_content, bytes)
    message = parse(envelope.original_content)
    assert message["From"] == f"loganalyze <{FROM}>"
    assert message["To"] == ("postmaster@example.com, Anna <anna@example.com>, "
                             "hostmaster@mail.example.com")
    assert message["Subject"] == "Postfix HELO report for mail: 2026-08-16, 5 suggestions"
    assert message["Message-ID"].endswith("@mail.example.com>")
    text, html = check_message(message)
    assert text == (GOLDEN / "report.txt").read_text()
    assert "va-massmail-02.rakutenmarketing.com OK" in html
    assert "<th>HELO and client</th><th>check and sessions</th>" in html
    # The same run's state was committed: a second run has nothing new, and mails nothing.
    again = golden_cli("--mail-to", "postmaster@example.com", "--smtp", f"127.0.0.1:{port}",
                       state=tmp_path / "state.sqlite")
    assert (again.returncode, again.stdout, again.stderr) == (0, b"", b"")
    assert len(mailbox.envelopes) == 1


def test_mail_through_sendmail_t_i(tmp_path: Path) -> None:
    sendmail = stand_in(tmp_path / "bin")
    done = golden_cli("--mail-to", "postmaster", "--sendmail", str(sendmail),
                      state=tmp_path / "state.sqlite")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert json.loads((tmp_path / "bin" / "argv.json").read_text()) == ["-t", "-i"]
    raw = (tmp_path / "bin" / "stdin.eml").read_bytes()
    assert b"\r\n" not in raw  # a local pipe: lines end in LF, as sendmail expects
    message = parse(raw)
    assert message["To"] == "postmaster@mail.example.com"
    text, _ = check_message(message)
    assert text == (GOLDEN / "report.txt").read_text()


def test_format_mime_prints_the_message(tmp_path: Path) -> None:
    result = report(str(FIXTURES / "mail.log"), "--state", str(tmp_path / "state.sqlite"),
                    *GOLDEN_ARGS, "--format", "mime", "--mail-to", "postmaster@example.com")
    assert result.exit_code == 0, result.output
    text, _ = check_message(parse(result.stdout_bytes))
    assert text == (GOLDEN / "report.txt").read_text()


def test_without_matplotlib_the_html_part_has_no_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    result = report(str(log), "--state", str(tmp_path / "state.sqlite"), *GOLDEN_ARGS,
                    "-f", "mime", "--mail-to", "postmaster@example.com")
    assert result.exit_code == 0, result.output
    _, html = check_message(parse(result.stdout_bytes), chart=False)
    assert "<h3>HELO rejects per hour</h3><table><thead><tr><th>hour</th>" in html


# -- hostile strings ---------------------------------------------------------------------

EVIL_HELO = '<script>alert(1)</script>"\x1b[2J\u202e\rBcc: victim@example.net'
EVIL_HOST = "mx\x1b]0;pwned\x07<b>\u202e"


def test_hostile_strings_reach_no_header_and_are_escaped_in_html(
        tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    lines = [line.replace(" mx postfix/", f" {EVIL_HOST} postfix/")
             for line in session(14, "09:00:00", 100, "mx.example.org[192.0.2.10]", EVIL_HELO,
                                 "unknown", sender="a\x1b]0;x\x07@example.org")]
    log = tmp_path / "mail.log"
    log.write_bytes(("\n".join(lines) + "\n").encode())
    result = report(str(log), "--state", str(tmp_path / "state.sqlite"), *GOLDEN_ARGS,
                    "--mail-to", "postmaster@example.com", "--smtp", f"127.0.0.1:{port}")
    assert result.exit_code == 0, result.output
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["postmaster@example.com"]
    raw = envelope.original_content
    assert isinstance(raw, bytes)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in header_block and b"\x1b" not in raw and b"\r\r" not in raw
    message = parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == ("Postfix HELO report for mx\\x1b]0;pwned\\x07<b>\\u202e: "
                                  "2026-08-14, no suggestions")
    text, html = check_message(message)
    assert "\x1b" not in text + html and "\u202e" not in text + html
    assert "<script" not in html and "<b>\\u202e" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;\\x1b[2J\\u202e\\x0dBcc" in html
    assert "mx\\x1b]0;pwned\\x07&lt;b&gt;\\u202e" in html


@pytest.mark.parametrize("args,message", [
    (["--mail-to", "anna example.com"], "--mail-to 'anna example.com': not an e-mail address"),
    (["--mail-to", "a@example.com\r\nBcc: b@example.net"], "control characters"),
    (["--mail-to", "a@example.com", "--mail-from", "a@b, c@d"], "give one address"),
    (["--smtp", "localhost"], "go with --mail-to ADDRESS"),
    (["--mail-to", "a@example.com", "--smtp", "localhost:http"], "give HOST or HOST:PORT"),
    (["--mail-to", "a@example.com", "-f", "json"], "leave out --format json"),
])
def test_bad_mail_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = report(str(FIXTURES / "mail.log"), "--state", str(tmp_path / "s.sqlite"),
                    "--no-dns", *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "s.sqlite").exists()


def test_from_is_at_myorigin_read_from_etc_mailname(tmp_path: Path) -> None:
    (tmp_path / "mailname").write_text("example.net\n")
    (tmp_path / "main.cf").write_text(
        (FIXTURES / "postfix" / "main.cf").read_text().replace(
            "myorigin = /etc/mailname", f"myorigin = {tmp_path / 'mailname'}"))
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    result = report(str(log), "--state", str(tmp_path / "state.sqlite"), "--no-dns",
                    "--postfix-config", str(tmp_path), "--year", "2026", "--now", GOLDEN_ARGS[-1],
                    "-f", "mime", "--mail-to", "postmaster")
    assert result.exit_code == 0, result.output
    message = parse(result.stdout_bytes)
    assert (message["From"], message["To"]) == ("loganalyze <loganalyze@example.net>",
                                                "postmaster@example.net")
    assert message["Message-ID"].endswith("@example.net>")


# -- when the mail system says no --------------------------------------------------------


def mail_fails(tmp_path: Path, *args: str) -> tuple[str, EmailMessage]:
    """A report whose mail is refused: one line on stderr, exit 1, the message kept, and
    the state rolled back (the next run reports the same lines). Returns the line and
    the kept message."""
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    state = tmp_path / "state" / "state.sqlite"
    result = report(str(log), "--state", str(state), *GOLDEN_ARGS, *args)
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    saved = line.split("the report is saved in ")[1].split(", and the next run")[0]
    assert Path(saved).parent == state.parent / "unsent"
    kept = parse(Path(saved).read_bytes())
    check_message(kept)
    again = report(str(log), "--state", str(state), *GOLDEN_ARGS, "-f", "json")
    assert json.loads(again.stdout)["lines_read"] == 12
    return line, kept


def test_sendmail_missing(tmp_path: Path) -> None:
    line, kept = mail_fails(tmp_path, "--mail-to", "postmaster@example.com", "--sendmail",
                            str(tmp_path / "no-sendmail"))
    assert line.split(": error: ", 1)[1].startswith(
        f"mail not sent: {tmp_path}/no-sendmail: not found (install Postfix's sendmail, or "
        "give --sendmail PATH or --smtp HOST); the report is saved in ")
    assert kept["To"] == "postmaster@example.com"


def test_sendmail_failing(tmp_path: Path) -> None:
    # What Postfix's sendmail says when the mail system is down, and its status.
    said = ("sendmail: fatal: open /etc/postfix/main.cf: No such file or directory\n"
            "postdrop: warning: more\n")
    sendmail = stand_in(tmp_path / "bin", status=75, stderr=said)
    line, _ = mail_fails(tmp_path, "--mail-to", "postmaster@example.com", "--sendmail",
                         str(sendmail))
    assert (f"mail not sent: {sendmail} -t -i exited with status 75: sendmail: fatal: open "
            "/etc/postfix/main.cf: No such file or directory; the report is saved in") in line


def test_sendmail_warnings_reach_stderr(tmp_path: Path) -> None:
    # Postfix 3.7's postdrop with Postfix stopped: the message waits in the maildrop queue,
    # sendmail exits 0, and the admin should hear why no mail arrives.
    said = "postdrop: warning: unable to look up public/pickup: No such file or directory\n"
    sendmail = stand_in(tmp_path / "bin", status=0, stderr=said)
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    result = report(str(log), "--state", str(tmp_path / "state.sqlite"), *GOLDEN_ARGS,
                    "--mail-to", "postmaster@example.com", "--sendmail", str(sendmail))
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"{sendmail}: {said}"
    check_message(parse((tmp_path / "bin" / "stdin.eml").read_bytes()))


@pytest.mark.parametrize("smtp_server", [("nobody@example.com",)], indirect=True)
def test_smtp_refuses_the_recipient(tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    line, _ = mail_fails(tmp_path, "--mail-to", "nobody@example.com", "--smtp",
                         f"127.0.0.1:{port}")
    assert (f"mail not sent: SMTP 127.0.0.1:{port} refused every recipient: nobody@example.com:"
            " 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown") in line
    assert mailbox.envelopes == []


def test_smtp_connection_refused(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    line, _ = mail_fails(tmp_path, "--mail-to", "postmaster@example.com", "--smtp",
                         f"127.0.0.1:{port}")
    assert f"mail not sent: SMTP 127.0.0.1:{port}: Connection refused; the report is saved" \
        in line


def test_unsent_report_is_printed_when_it_cannot_be_saved(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(day_lines(14, "unknown")) + "\n")
    state = tmp_path / "state" / "state.sqlite"
    state.parent.mkdir()
    (state.parent / "unsent").write_text("a file where the directory would go\n")
    result = report(str(log), "--state", str(state), *GOLDEN_ARGS,
                    "--mail-to", "postmaster@example.com", "--sendmail",
                    str(tmp_path / "no-sendmail"))
    assert result.exit_code == 1
    assert result.stderr.endswith("not found (install Postfix's sendmail, or give --sendmail "
                                  "PATH or --smtp HOST); the report is on stdout, and the "
                                  "next run reports these lines again\n")
    check_message(parse(result.stdout_bytes))
