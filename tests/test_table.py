"""The terminal table (issue 21, item 1): the real CLI under a real pty at 80 and 120
columns, compared with golden files; piped, a stable 80 columns (or COLUMNS);
``--wide`` for one line per sender. UPDATE_GOLDEN=1 rewrites
``fixtures/golden/table/`` after an intended change.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from loganalyze.output.width import ELLIPSIS, clip, text_width

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "fixtures" / "golden" / "table"
PEER_LOGS = REPO.parent / "shared" / "peer-logs"
if not PEER_LOGS.is_dir():  # the worktrees' copy
    PEER_LOGS = Path("/work/shared/peer-logs")
COMMON = ["--no-dns", "--postfix-config", str(REPO / "fixtures" / "postfix"), "--year", "2026",
          "-q"]
INPUTS = {
    "mail": REPO / "fixtures" / "mail.log",
    # Holds a 255-character HELO (Postfix's limit) from the lab.
    "peer": PEER_LOGS / "local_postfix-3.7.11_maillog_helo-checks-enforce-nodelay.log",
}


def _env(columns: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return env if columns is None else {**env, "COLUMNS": str(columns)}


def on_a_terminal(args: list[str], columns: int) -> str:
    """stdout of ``analyze args`` on a pty ``columns`` wide (no COLUMNS: the tty's size)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # the lines as written, not \r\n
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([str(BIN / "analyze"), *args], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, env=_env(None), cwd=REPO)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return b"".join(chunks).decode("utf-8")


def piped(args: list[str], columns: int | None = None) -> str:
    result = subprocess.run([str(BIN / "analyze"), *args], capture_output=True, text=True,
                            env=_env(columns), cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("log", sorted(INPUTS))
@pytest.mark.parametrize("columns", [80, 120])
def test_the_table_fits_a_real_terminal(log: str, columns: int) -> None:
    args = [str(INPUTS[log]), *COMMON]
    text = on_a_terminal(args, columns)
    assert text == _golden(f"{log}-{columns}.txt", text)
    lines = text.splitlines()
    assert max(text_width(line) for line in lines) <= columns
    assert max(text_width(line) for line in lines) >= columns - 12  # and uses the room
    # Piped, the same table with COLUMNS; without it, always 80 columns.
    assert piped(args, columns) == text
    if columns == 80:
        assert piped(args) == text


def test_a_255_character_helo_is_cut_visibly_and_whole_with_wide() -> None:
    args = [str(INPUTS["peer"]), *COMMON]
    rows = json.loads(piped([*args, "-f", "json"]))
    longest = max((r["helo"] for r in rows), key=len)
    assert len(longest) >= 255  # Postfix's limit, and one past it
    fitted = piped(args)
    assert longest not in fitted
    cut = [line for line in fitted.splitlines() if line.startswith(longest[:39] + ELLIPSIS)]
    assert cut and all(text_width(line) <= 80 for line in cut)
    # --wide: the old layout, one line per sender under two header lines, nothing cut.
    wide = piped([*args, "--wide"])
    assert longest in wide
    assert len(wide.splitlines()) == len(rows) + 2
    assert wide.splitlines()[0].split()[-1] == "evidence"


@pytest.mark.parametrize("text", [
    "mx\\x1b[31m.example\\x07.com",  # escapes as display_text writes them
    "\\u202eevil\\u202c.example.com",
    "メール.例え.日本",  # two columns a character
    "cafe\u0301.example",  # a combining accent takes none
])
def test_clip_never_cuts_an_escape_and_counts_columns(text: str) -> None:
    for columns in range(1, text_width(text) + 2):
        cut = clip(text, columns)
        assert text_width(cut) <= columns
        if cut == text:
            continue
        assert cut.endswith(ELLIPSIS)
        kept = cut[:-1]
        # The cut falls between whole escapes (\x1b, \u202e) and characters.
        whole = re.findall(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|.", text)
        assert kept in {"".join(whole[:n]) for n in range(len(whole) + 1)}, (columns, cut)


def test_hostile_helo_in_the_table_is_escaped_before_it_is_measured(tmp_path: Path) -> None:
    evil = "x\x1b]0;pwned\x07\x1b[2J" + "\u202e" + "メ" * 30 + ".example"
    log = tmp_path / "mail.log"
    log.write_text(
        "Aug 16 10:00:00 mail postfix/smtpd[1]: connect from unknown[192.0.2.66]\n"
        "Aug 16 10:00:01 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
        f"unknown[192.0.2.66]: 501 5.5.2 <{evil}>: Helo command rejected: Invalid name; "
        f"from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<{evil}>\n"
        "Aug 16 10:00:02 mail postfix/smtpd[1]: disconnect from unknown[192.0.2.66] ehlo=1 "
        "mail=1 rcpt=0/1 quit=1 commands=3/4\n", encoding="utf-8")
    text = on_a_terminal([str(log), "--no-dns", "--year", "2026", "-q"], 80)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "x\\x1b]0;pwned\\x07\\x1b[2J\\u202eメ" in text
    assert max(text_width(line) for line in text.splitlines()) <= 80
