"""Measure a vectorised (polars) design of the session stage: how fast could it be?

A design experiment for issue 8, not part of loganalyze. It builds sessions,
clients and senders from a generated log the way a column engine would (no
per-line Python), and prints the time of each step. It approximates
loganalyze's rules, it does not reproduce them: traditional syslog only, no
year inference, no stale-session sweep, no pending SPF results, no unparsed-
line accounting, no streaming in bounded memory (the whole file is one
DataFrame). So its time is a lower bound for such a design, and its counts
only a sanity check: on the 1M-line benchmark log it finds loganalyze's
sessions and senders, and places all but a few dozen SPF results.

polars is not a dependency of loganalyze; use a separate virtual environment:

    python3 -m venv /tmp/plv && /tmp/plv/bin/pip install polars
    POLARS_MAX_THREADS=1 /tmp/plv/bin/python tests/benchmarks/spike_polars.py \\
        tests/benchmarks/data/mail-1M-s1-traditional.log
"""

from __future__ import annotations

import sys
import time

try:
    import polars as pl
except ImportError:
    sys.exit("spike_polars.py needs polars: python3 -m venv /tmp/plv && "
             "/tmp/plv/bin/pip install polars, then run it with /tmp/plv/bin/python")

SESSION_KEY = ["host", "service", "pid"]
CONNECT, DISCONNECT, REJECT, QUEUED, LOST = 1, 2, 3, 4, 5


def read_relevant(path: str) -> pl.DataFrame:
    """The smtpd, postscreen, dnsblog and policyd-spf lines, with their line numbers."""
    lines = pl.read_csv(path, has_header=False, separator="\x1f", quote_char=None,
                        new_columns=["line"], schema={"line": pl.String})
    return lines.with_row_index("n").filter(
        pl.col("line").str.contains_any(["smtpd[", "postscreen[", "spf[", "dnsblog["]))


def split_header(lines: pl.DataFrame) -> pl.DataFrame:
    """``Mon dd hh:mm:ss host service[pid]: message`` into columns (time in 2026)."""
    parts = pl.col("line").str.slice(16).str.splitn(" ", 3)
    columns = lines.select(
        "n",
        stamp=pl.col("line").str.slice(0, 15),
        host=parts.struct.field("field_0"),
        tag=parts.struct.field("field_1"),
        msg=parts.struct.field("field_2"),
    )
    return columns.with_columns(
        service=pl.col("tag").str.extract(r"^([^\[]+)\["),
        pid=pl.col("tag").str.extract(r"\[(\d+)\]:$").cast(pl.Int32, strict=False),
        time=("2026 " + pl.col("stamp")).str.strptime(
            pl.Datetime, "%Y %b %e %H:%M:%S", strict=False),
    ).drop("tag", "stamp")


def smtpd_events(lines: pl.DataFrame) -> pl.DataFrame:
    """smtpd lines that matter, with their kind, client and reject fields, and a session id."""
    msg = pl.col("msg")
    kind = (pl.when(msg.str.starts_with("connect from ")).then(CONNECT)
            .when(msg.str.starts_with("disconnect from ")).then(DISCONNECT)
            .when(msg.str.starts_with("NOQUEUE: reject")).then(REJECT)
            .when(msg.str.contains(r"^[0-9A-Za-z]+: client=")).then(QUEUED)
            .when(msg.str.starts_with("lost connection after ")
                  | msg.str.starts_with("timeout after ")).then(LOST)
            .otherwise(0))
    events = lines.filter(pl.col("service").str.ends_with("/smtpd")).with_columns(kind=kind)
    events = events.filter(pl.col("kind") > 0).with_columns(
        namaddr=msg.str.extract(r"(?:from|client=) ([^\[\s]*\[[^\]\s]*\])"),
        helo=msg.str.extract(r" helo=<([^>]*)>"),
        sender=msg.str.extract(r" from=<([^>]*)>"),
        recipient=msg.str.extract(r" to=<([^>]*)>"),
        reason=msg.str.extract(r"^NOQUEUE: reject\S*: \S+ from \S+: (.*?);"),
        counters=pl.when(pl.col("kind") == DISCONNECT).then(
            msg.str.extract(r"^disconnect from \S+( .*)$")),
    ).with_columns(
        ip=pl.col("namaddr").str.extract(r"\[([^\]]*)\]"),
        name=pl.col("namaddr").str.extract(r"^([^\[]*)"),
    )
    # A session starts at a connect, or where the process logs another client.
    previous_ip = pl.col("ip").forward_fill().shift(1).over(SESSION_KEY)
    events = events.with_columns(
        new_session=(pl.col("kind") == CONNECT) | (pl.col("ip") != previous_ip).fill_null(False))
    return events.with_columns(
        session=pl.col("new_session").cast(pl.Int32).cum_sum().over(SESSION_KEY))


def build_sessions(events: pl.DataFrame) -> pl.DataFrame:
    """One row per session."""
    return events.group_by([*SESSION_KEY, "session"]).agg(
        first_n=pl.col("n").first(), last_n=pl.col("n").last(),
        start=pl.col("time").first(), end=pl.col("time").last(),
        ip=pl.col("ip").first(), name=pl.col("name").first(),
        saw_connect=pl.col("kind").first() == CONNECT,
        saw_disconnect=pl.col("kind").last() == DISCONNECT,
        helo=pl.col("helo").drop_nulls().last(),
        reasons=pl.col("reason").drop_nulls(),
        queued=(pl.col("kind") == QUEUED).sum(),
        counters=pl.col("counters").drop_nulls().first(),
        senders=pl.col("sender").drop_nulls().unique(),
        recipients=pl.col("recipient").drop_nulls().unique(),
    )


def attach_spf(lines: pl.DataFrame, sessions: pl.DataFrame) -> tuple[pl.DataFrame, int, int]:
    """Each policyd-spf result to the latest session of its client open at that line."""
    msg = pl.col("msg")
    spf = lines.filter(pl.col("service").str.ends_with("spf")).with_columns(
        ip=msg.str.extract(r"client-ip=([^;]+);"), spf_helo=msg.str.extract(r"helo=([^;]+);"),
        result=msg.str.extract(r"Received-SPF: (\w+)"),
    ).filter(pl.col("ip").is_not_null()).drop("service", "pid").sort("n")
    opened = sessions.select("host", "ip", "first_n", "last_n", "session", "pid", "service")
    matched = spf.join_asof(opened.sort("first_n"), left_on="n", right_on="first_n",
                            by=["host", "ip"]).filter(pl.col("last_n") >= pl.col("n"))
    per_session = matched.group_by([*SESSION_KEY, "session"]).agg(
        spf_helo=pl.col("spf_helo").first(), spf=pl.col("result"))
    joined = sessions.join(per_session, on=[*SESSION_KEY, "session"], how="left")
    return joined.with_columns(helo=pl.coalesce("helo", "spf_helo")), len(matched), len(spf)


def aggregate(lines: pl.DataFrame, sessions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clients (with postscreen evidence) and senders (client address, HELO)."""
    msg = pl.col("msg")
    postscreen = lines.filter(pl.col("service").str.ends_with("/postscreen")).with_columns(
        ip=msg.str.extract(r"\[([^\]]*)\]:\d+"),
        passed=msg.str.starts_with("PASS "),
        rank=msg.str.extract(r"^DNSBL rank (\d+)").cast(pl.Int32),
    ).group_by("ip").agg(passes=pl.col("passed").sum(), rank=pl.col("rank").max())
    clients = sessions.group_by("ip").agg(
        sessions=pl.len(), queued=pl.col("queued").sum(), names=pl.col("name").unique(),
        rejects=pl.col("reasons").list.len().sum(),
    ).join(postscreen, on="ip", how="full", coalesce=True)
    senders = sessions.filter(pl.col("helo").is_not_null()).group_by(["ip", "helo"]).agg(
        sessions=pl.len(), first=pl.col("start").min(), last=pl.col("end").max(),
        days=pl.col("start").dt.date().n_unique(),
        rejected=(pl.col("reasons").list.len() > 0).sum(),
        senders=pl.col("senders").list.explode(keep_nulls=False, empty_as_null=False)
        .unique().head(10),
    )
    return clients, senders


def main() -> None:
    path = sys.argv[1]
    started = last = time.perf_counter()
    cpu = time.process_time()

    def step(label: str) -> None:
        nonlocal last
        now = time.perf_counter()
        print(f"  {label:22s} {now - last:5.2f} s")
        last = now

    lines = read_relevant(path)
    step("read + literal filter")
    lines = split_header(lines)
    step("header + time")
    events = smtpd_events(lines)
    step("smtpd events")
    sessions = build_sessions(events)
    step("sessions")
    sessions, matched, spf_lines = attach_spf(lines, sessions)
    step("SPF to sessions")
    clients, senders = aggregate(lines, sessions)
    step("clients + senders")
    senders.to_dicts()
    clients.to_dicts()
    step("rows to Python")
    print(f"total {time.perf_counter() - started:.2f} s wall, {time.process_time() - cpu:.2f} s "
          f"CPU; {len(sessions)} sessions, {len(clients)} clients, {len(senders)} senders, "
          f"SPF results matched {matched} of {spf_lines}")


if __name__ == "__main__":
    main()
