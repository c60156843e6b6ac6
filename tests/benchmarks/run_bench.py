"""Benchmark loganalyze end to end on generated mail logs (issue 8); run by ``make bench``.

    .venv/bin/python tests/benchmarks/run_bench.py
    .venv/bin/python tests/benchmarks/run_bench.py --sizes 1M --repeat 3 --no-pflogsumm

For each size (default 1M and 5M lines) it generates a log once with
``generate_log.py`` (cached in ``tests/benchmarks/data/``, regenerated when the
generator changes), then times, each as a child process with its output
going to /dev/null:

* ``analyze LOG --format json --no-dns`` pinned to one core (``taskset -c 0``), with
  the compiled core (issue 17) and with ``LOGANALYZE_CORE=python`` (the reference);
* the same on all cores (with ``--jobs N`` when ``analyze --help`` offers it);
* the first ``loganalyze report LOG --always --format json --no-dns`` on a fresh
  state, pinned to one core (issue 20: it should cost what ``analyze`` costs);
* the gzip-compressed log through analyze, pinned to one core and on all cores
  (where ``--jobs`` unpacks it and cuts it like the plain file), and ``gzip -dc`` alone;
* ``LC_ALL=C grep -c -E`` selecting the lines the analysis needs, and
  ``pflogsumm``, when installed, for the ratios.

``--mixes default,botnet`` (the default) also generates the same sizes of a
botnet day (``generate_log.py --mix botnet``: about ten times the distinct
client addresses and HELOs) and times only ``analyze`` on it, on one core and
on all: the memory bound is measured on both mixes.

Wall time is measured around the child; CPU time and peak RSS come from
``os.wait4`` for that child alone.  MB are 10^6 bytes.  The file is read once
before timing so every run sees a warm page cache.  With ``--repeat N`` the
best wall time of N runs counts.  Results go to stdout as a table, and to
``data/results.json`` and ``data/results.md`` (for the README), with the
machine they came from.  ``--check`` makes the exit status 1 when a target
of the issue is missed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import generate_log  # noqa: E402

# Lines the analysis reads: smtpd session events, rejects, SPF results.
GREP_PATTERN = (
    r"smtpd\[[0-9]+\]: (connect from|disconnect from|NOQUEUE: |[0-9A-Za-z]+: (client=|reject)"
    r"|(lost connection|timeout|too many errors) after|warning: hostname)"
    r"|policyd-spf\[[0-9]+\]: .*Received-SPF"
)

# The targets.
TARGET_MBPS_ONE_CORE = 100.0
TARGET_MBPS_TWO_CORES = 150.0
TARGET_RSS_MB = 250.0
TARGET_LINEARITY = 5.5
TARGET_RSS_GROWTH = 1.2
"""Peak RSS at the largest size within this factor of the smallest's (issue 17)."""
TARGET_X_PFLOGSUMM_ONE = 7.0
TARGET_X_PFLOGSUMM_TWO = 10.0
TARGET_X_GREP = 2.0
"""analyze on one core within this factor of grep's time on the lines it needs."""


@dataclass
class Run:
    """One timed child process."""

    name: str
    """What ran: analyze-1core, analyze-2cores, analyze-gz-1core, analyze-gz, zcat, grep,
    pflogsumm."""
    lines: int
    """Lines of the log (its size class)."""
    path: str
    command: list[str]
    bytes: int
    """Uncompressed size of the log."""
    wall: float = 0.0
    """Best wall time, seconds."""
    cpu: float = 0.0
    """User + system CPU time of that run, seconds."""
    rss_mb: float = 0.0
    """Peak resident set size, MB (largest over the repeats)."""
    exit_code: int = 0
    error: str = ""
    output: str = ""
    """Captured standard output (only for grep: its count)."""
    walls: list[float] = field(default_factory=list)
    mix: str = "default"
    """The generator's traffic mix (``--mix``)."""

    @property
    def log(self) -> str:
        """The log's label: its size, and its mix unless the default."""
        return _log_label(self.lines, self.mix)

    @property
    def mb_per_s(self) -> float:
        """Uncompressed megabytes of log per wall-clock second."""
        return self.bytes / 1e6 / self.wall if self.wall else 0.0

    @property
    def cpu_mb_per_s(self) -> float:
        """Megabytes per CPU second: what the code does, whatever the neighbours do."""
        return self.bytes / 1e6 / self.cpu if self.cpu else 0.0

    @property
    def lines_per_s(self) -> float:
        """Log lines per wall-clock second."""
        return self.lines / self.wall if self.wall else 0.0


@dataclass
class Check:
    """One target of the issue, met or not."""

    what: str
    value: str
    target: str
    ok: bool | None
    """None when it could not be measured."""


# --- machine -------------------------------------------------------------------------


def _run_text(cmd: Sequence[str]) -> str:
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, object]:
    """Where the numbers come from."""
    cpu_model = ""
    mhz = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu_model:
                cpu_model = value.strip()
            if key.strip() == "cpu MHz" and not mhz:
                mhz = value.strip()
    except OSError:
        pass
    mem_total = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    commit = _run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _run_text(["git", "-C", str(REPO), "status", "--porcelain", "--", "loganalyze"])
    pflogsumm = shutil.which("pflogsumm")
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "cpu_mhz": mhz,
        "memory": mem_total,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "loganalyze_commit": commit + ("+dirty" if dirty else ""),
        "grep": _run_text(["grep", "--version"]).splitlines()[0] if shutil.which("grep") else "",
        "pflogsumm": (
            _run_text(["dpkg-query", "-W", "-f=${Version}", "pflogsumm"]) or "installed"
        ) if pflogsumm else "not installed",
        "taskset": bool(shutil.which("taskset")),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


# --- data ----------------------------------------------------------------------------


def _generator_digest() -> str:
    source = (HERE / "generate_log.py").read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def ensure_log(data: Path, lines: int, seed: int, fmt: str,
               mix: str = "default") -> tuple[Path, dict[str, object]]:
    """The cached log for these options, generated if missing or stale."""
    data.mkdir(parents=True, exist_ok=True)
    tail = "" if mix == "default" else f"-{mix}"
    path = data / f"mail-{_label(lines)}-s{seed}-{fmt}{tail}.log"
    meta_path = path.with_suffix(".json")
    digest = _generator_digest()
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == digest and path.stat().st_size == meta["stats"]["bytes"]:
            return path, meta
    print(f"generating {path.name} ...", file=sys.stderr, flush=True)
    options = generate_log.GeneratorOptions(lines, seed, generate_log.LogFormat(fmt),
                                            mix=generate_log.TrafficMix(mix))
    stats = generate_log.write_log(options, path)
    meta = {"generator": digest, "stats": stats.as_dict()}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"  {stats.lines} lines, {stats.bytes / 1e6:.0f} MB in {stats.seconds:.1f} s",
          file=sys.stderr)
    gz = path.with_name(path.name + ".gz")
    gz.unlink(missing_ok=True)
    return path, meta


def ensure_gzip(path: Path) -> Path:
    """``path.gz`` (gzip -6), made from the plain log when missing or older."""
    gz = path.with_name(path.name + ".gz")
    if gz.exists() and gz.stat().st_mtime >= path.stat().st_mtime:
        return gz
    print(f"compressing {path.name} ...", file=sys.stderr, flush=True)
    tmp = gz.with_name(gz.name + ".part")
    if shutil.which("gzip"):
        with open(tmp, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", str(path)], stdout=out, check=True)
    else:
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(gz)
    return gz


def _warm(path: Path) -> None:
    """Read the file once so that timings do not depend on the disk."""
    with open(path, "rb") as fh:
        while fh.read(1 << 23):
            pass


def _log_label(lines: int, mix: str) -> str:
    return _label(lines) + ("" if mix == "default" else f" {mix}")


def _label(lines: int) -> str:
    if lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines % 1000 == 0:
        return f"{lines // 1000}k"
    return str(lines)


# --- timing --------------------------------------------------------------------------


@dataclass
class Timing:
    """What one child process cost."""

    wall: float
    cpu: float
    """User + system seconds."""
    rss_mb: float
    exit_code: int
    stdout: str
    """The last 4000 bytes of standard output (when captured)."""
    stderr: str
    """The last 4000 bytes of standard error."""


def timed(
    cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None,
    capture: bool = False,
) -> Timing:
    """Run ``cmd`` as a child with stdout to /dev/null (or a pipe, if ``capture``).

    ``os.wait4`` gives the resources of this child alone (``RUSAGE_CHILDREN``
    would report the largest child so far); threads drain the pipes so that a
    chatty child cannot block.  GNU grep must write to a pipe: when its
    output is /dev/null it stops at the first match, even with ``-c``.
    """
    tails = {"stdout": bytearray(), "stderr": bytearray()}

    def drain(stream: IO[bytes], tail: bytearray) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            tail.extend(chunk)
            del tail[:-4000]

    with open(os.devnull, "wb") as devnull:
        began = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE if capture else devnull, stderr=subprocess.PIPE,
            env=env,
        )
        readers = [
            threading.Thread(target=drain, args=(stream, tails[name]), daemon=True)
            for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
            if stream is not None
        ]
        for reader in readers:
            reader.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        killer.cancel()
        for reader in readers:
            reader.join()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Timing(
        wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e6,  # KiB on Linux
        proc.returncode, tails["stdout"].decode("utf-8", "replace"),
        tails["stderr"].decode("utf-8", "replace"),
    )


def measure(
    run: Run, repeat: int, timeout: float, env: dict[str, str] | None = None,
    capture: bool = False,
) -> Run:
    """Time ``run.command`` ``repeat`` times; keep the best wall time."""
    best = float("inf")
    label = f"{run.name} {Path(run.path).name}"
    print(f"  {label} ...", end="", file=sys.stderr, flush=True)
    for _ in range(repeat):
        t = timed(run.command, timeout, env, capture)
        run.walls.append(round(t.wall, 3))
        run.rss_mb = max(run.rss_mb, t.rss_mb)
        if t.exit_code != 0:
            run.exit_code = t.exit_code
            err = t.stderr.strip()
            run.error = err.splitlines()[-1] if err else f"exit {t.exit_code}"
            break
        run.output = t.stdout.strip()[-200:]
        if t.wall < best:
            best = t.wall
            run.wall, run.cpu = t.wall, t.cpu
    print(f" {run.wall:.2f} s" if not run.error else f" FAILED: {run.error}",
          file=sys.stderr, flush=True)
    return run


def _analyze_command(analyze: str) -> list[str]:
    path = Path(analyze)
    return [str(path)] if path.exists() else [analyze]


def _shown(path: str) -> str:
    """A path as the README shows it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return path


def _jobs_option(analyze_cmd: list[str]) -> bool:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    try:
        text = subprocess.run(analyze_cmd + ["--help"], capture_output=True, text=True,
                              env=env, timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--jobs" in text


# --- report --------------------------------------------------------------------------


def _find(runs: list[Run], name: str, lines: int, mix: str = "default") -> Run | None:
    for run in runs:
        if (run.name == name and run.lines == lines and run.mix == mix and not run.error
                and run.wall):
            return run
    return None


def checks(runs: list[Run], sizes: list[int]) -> list[Check]:
    """The issue's targets against the measurements."""
    out: list[Check] = []
    largest, smallest = max(sizes), min(sizes)
    for lines in sizes:
        one = _find(runs, "analyze-1core", lines)
        two = _find(runs, "analyze-2cores", lines)
        label = _label(lines)
        if one:
            out.append(Check(f"throughput, 1 core, {label}", f"{one.mb_per_s:.1f} MB/s",
                             f">= {TARGET_MBPS_ONE_CORE:.0f} MB/s",
                             one.mb_per_s >= TARGET_MBPS_ONE_CORE))
        if two:
            out.append(Check(f"throughput, 2 cores, {label}", f"{two.mb_per_s:.1f} MB/s",
                             f">= {TARGET_MBPS_TWO_CORES:.0f} MB/s",
                             two.mb_per_s >= TARGET_MBPS_TWO_CORES))
        for mix in sorted({r.mix for r in runs}):
            peak = max((r.rss_mb for r in runs if r.lines == lines and r.mix == mix
                        and r.name.startswith("analyze") and not r.error), default=0.0)
            if peak:
                out.append(Check(f"peak RSS, {_log_label(lines, mix)}", f"{peak:.0f} MB",
                                 f"< {TARGET_RSS_MB:.0f} MB", peak < TARGET_RSS_MB))
        python = _find(runs, "analyze-1core-python", lines)
        if python and one:
            out.append(Check(f"compiled core vs Python core, 1 core, {label}",
                             f"{python.wall / one.wall:.2f}x faster "
                             f"(CPU {python.cpu / one.cpu:.2f}x)" if one.cpu else "",
                             "informative", None))
        grep_run = _find(runs, "grep", lines)
        if grep_run and one:
            ratio = one.wall / grep_run.wall
            out.append(Check(f"vs grep -cE, 1 core, {label}", f"{ratio:.1f}x grep's time",
                             f"<= {TARGET_X_GREP:.0f}x", ratio <= TARGET_X_GREP))
        pfl = _find(runs, "pflogsumm", lines)
        if pfl and one:
            ratio = pfl.wall / one.wall
            out.append(Check(f"vs pflogsumm, 1 core, {label}", f"{ratio:.1f}x",
                             f">= {TARGET_X_PFLOGSUMM_ONE:.0f}x",
                             ratio >= TARGET_X_PFLOGSUMM_ONE))
        if pfl and two:
            ratio = pfl.wall / two.wall
            out.append(Check(f"vs pflogsumm, 2 cores, {label}", f"{ratio:.1f}x",
                             f">= {TARGET_X_PFLOGSUMM_TWO:.0f}x",
                             ratio >= TARGET_X_PFLOGSUMM_TWO))
        zcat = _find(runs, "zcat", lines)
        # Like for like: the .gz against the plain file with the same cores (on all
        # cores --jobs unpacks it first, then cuts it as the plain file).
        for gz_name, plain, cores in (("analyze-gz-1core", one, "1 core"),
                                      ("analyze-gz", two, "all cores")):
            gz = _find(runs, gz_name, lines)
            if gz and plain and zcat:
                extra = gz.wall - plain.wall
                out.append(Check(f".gz input cost, {cores}, {label}",
                                 f"{extra:+.2f} s (zcat {zcat.wall:.2f} s)",
                                 "<= zcat alone", extra <= zcat.wall))
    if largest != smallest:
        for name in ("analyze-1core", "analyze-2cores"):
            small, large = _find(runs, name, smallest), _find(runs, name, largest)
            if small and large:
                factor = largest / smallest
                ratio = large.wall / small.wall
                cpu_ratio = large.cpu / small.cpu if small.cpu else 0.0
                limit = TARGET_LINEARITY * factor / 5
                out.append(Check(
                    f"linearity {name[8:]}, {_label(largest)}/{_label(smallest)} time",
                    f"{ratio:.2f} (CPU time {cpu_ratio:.2f})", f"<= {limit:.2f}", ratio <= limit))
        for mix in sorted({r.mix for r in runs}):
            small = _find(runs, "analyze-1core", smallest, mix)
            large = _find(runs, "analyze-1core", largest, mix)
            if small and large:
                growth = large.rss_mb / small.rss_mb
                out.append(Check(
                    f"RSS growth, {_log_label(largest, mix)}/{_label(smallest)}",
                    f"{growth:.2f}x", f"<= {TARGET_RSS_GROWTH:.1f}x",
                    growth <= TARGET_RSS_GROWTH))
    return out


def table(runs: list[Run]) -> str:
    """The measurements as a compact fixed-width table."""
    head = (f"{'run':<20} {'log':>12} {'wall s':>8} {'MB/s':>8} {'lines/s':>10} "
            f"{'CPU s':>7} {'MB/CPU s':>8} {'RSS MB':>7}  note")
    rows = [head, "-" * len(head)]
    for r in runs:
        note = r.error or ""
        if r.name == "grep" and not r.error:
            note = f"{int(r.output or 0):,} lines selected"
        rows.append(
            f"{r.name:<20} {r.log:>12} {r.wall:8.2f} {r.mb_per_s:8.1f} "
            f"{r.lines_per_s:10,.0f} {r.cpu:7.2f} {r.cpu_mb_per_s:8.1f} {r.rss_mb:7.0f}  {note}"
        )
    return "\n".join(rows)


def markdown(info: dict[str, object], runs: list[Run], results: list[Check],
             logs: dict[tuple[int, str], dict[str, object]], commands: dict[str, str],
             notes: list[str]) -> str:
    """A section for the README: machine, method, table, targets."""
    lines = [
        "### Benchmark results",
        "",
        f"Measured {info['date']} on {info['nproc']} × {info['cpu_model']} "
        f"({info['memory']} RAM), Linux {info['kernel']}, {info['python_impl']} "
        f"{info['python']}, loganalyze {info['loganalyze_commit']}; load average before "
        f"the run {info['loadavg_before']}.",
        "",
        "Method: `make bench` (`tests/benchmarks/run_bench.py`) generates deterministic "
        "synthetic logs (`tests/benchmarks/generate_log.py`, seed "
        f"{next(iter(logs.values()))['seed'] if logs else '?'}), reads each file once to "
        "warm the page cache, then times each command as a child process with output to "
        "/dev/null: wall time around the child, CPU time and peak RSS from `wait4`. "
        "MB = 10^6 bytes of uncompressed log.",
        "",
        "| log | lines | size | distinct clients | distinct senders |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (n, mix), meta in logs.items():
        stats = meta["stats"]
        assert isinstance(stats, dict)
        lines.append(
            f"| {_log_label(n, mix)} | {stats['lines']:,} | {stats['bytes'] / 1e6:.0f} MB | "
            f"{stats['distinct_clients']:,} | {stats['distinct_senders']:,} |"
        )
    lines += [
        "",
        "| run | log | wall s | MB/s | lines/s | CPU s | MB per CPU s | peak RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        wall = f"{r.wall:.2f}" if not r.error else f"failed: {r.error}"
        lines.append(
            f"| {r.name} | {r.log} | {wall} | {r.mb_per_s:.1f} | "
            f"{r.lines_per_s:,.0f} | {r.cpu:.2f} | {r.cpu_mb_per_s:.1f} | {r.rss_mb:.0f} |"
        )
    grep_runs = [r for r in runs if r.name == "grep" and r.output]
    if grep_runs:
        lines += ["", "grep selected " + ", ".join(
            f"{int(r.output):,} of {r.lines:,} lines ({_label(r.lines)})" for r in grep_runs
        ) + "."]
    lines += ["", "| target | measured | wanted | met |", "| --- | --- | --- | --- |"]
    for c in results:
        mark = "—" if c.ok is None else ("yes" if c.ok else "**no**")
        lines.append(f"| {c.what} | {c.value} | {c.target} | {mark} |")
    lines += ["", "Commands (LOG is the generated file):", ""]
    lines += [f"- {name}: `{cmd}`" for name, cmd in commands.items()]
    if notes:
        lines += ["", *[f"Note: {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def _other_mix(args: argparse.Namespace, lines: int, mix: str,
               logs: dict[tuple[int, str], dict[str, object]], pinned: list[str],
               analyze: list[str], jobs: list[str]) -> list[Run]:
    """analyze on one core and on all, on the ``mix`` log of this size."""
    path, meta = ensure_log(args.data_dir, lines, args.seed, args.fmt, mix)
    logs[lines, mix] = {"path": str(path), "seed": args.seed, "format": args.fmt, **meta}
    size = path.stat().st_size
    _warm(path)
    print(f"{path.name}: {size / 1e6:.0f} MB", file=sys.stderr)
    base = [str(path), "--format", "json", "--no-dns"]
    return [
        measure(Run("analyze-1core", lines, str(path), pinned + base, size, mix=mix),
                args.repeat, args.timeout),
        measure(Run("analyze-2cores", lines, str(path), analyze + base + jobs, size, mix=mix),
                args.repeat, args.timeout),
    ]


# --- main ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Generate or reuse the logs, run everything, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1M,5M",
                        help="comma-separated line counts (default 1M,5M)")
    parser.add_argument("--mixes", default="default,botnet",
                        help="traffic mixes of the generator (default: default,botnet; "
                        "only analyze is timed on the others)")
    parser.add_argument("--gz-sizes", default=None,
                        help="sizes to time as .gz too (default: the smallest)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", dest="fmt", default="traditional",
                        choices=[f.value for f in generate_log.LogFormat])
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; best counts")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--analyze", default=str(Path(sys.executable).parent / "analyze"),
                        help="the analyze command (default: next to this Python)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where results.json/.md go (default: the data dir)")
    parser.add_argument("--no-pflogsumm", action="store_true", help="skip pflogsumm")
    parser.add_argument("--no-grep", action="store_true", help="skip grep")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target of the issue is missed")
    args = parser.parse_args(argv)

    sizes = sorted({generate_log._size(s) for s in args.sizes.split(",") if s.strip()})
    gz_sizes = (sorted({generate_log._size(s) for s in args.gz_sizes.split(",") if s.strip()})
                if args.gz_sizes else sizes[:1])
    out_dir = args.out_dir or args.data_dir
    began = time.perf_counter()
    info = machine()
    analyze = _analyze_command(args.analyze)
    cores = info["usable_cpus"]
    assert isinstance(cores, int)
    jobs = ["--jobs", str(cores)] if _jobs_option(analyze) else []
    pin = ["taskset", "-c", "0"] if info["taskset"] else []
    pflogsumm = None if args.no_pflogsumm else shutil.which("pflogsumm")
    grep = None if args.no_grep else shutil.which("grep")
    zcat = shutil.which("gzip")
    exe = _shown(analyze[0])
    report_exe = Path(analyze[0]).with_name("loganalyze")
    state_dir = Path(tempfile.mkdtemp(prefix="loganalyze-bench-"))
    cmd_text = {
        "analyze-1core": " ".join(pin + [exe, "LOG", "--format", "json", "--no-dns"]),
        "analyze-1core-python": " ".join(["LOGANALYZE_CORE=python"] + pin + [
            exe, "LOG", "--format", "json", "--no-dns"]),
        "analyze-2cores": " ".join([exe, "LOG", "--format", "json", "--no-dns"] + jobs),
        "report-1core": " ".join(pin + [_shown(str(report_exe)), "report", "LOG", "--state",
                                        "NEW.sqlite", "--always", "--format", "json",
                                        "--no-dns"]),
        "analyze-gz-1core": " ".join(pin + [exe, "LOG.gz", "--format", "json", "--no-dns"]),
        "analyze-gz": " ".join([exe, "LOG.gz", "--format", "json", "--no-dns"] + jobs),
        "zcat": "gzip -dc LOG.gz",
        "grep": f"LC_ALL=C grep -c -E '{GREP_PATTERN}' LOG",
        "pflogsumm": "pflogsumm LOG",
    }
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), file=sys.stderr)
    notes = []
    if not pin:
        notes.append("taskset not found; the 1-core runs are not pinned.")
    if not jobs:
        notes.append(f"analyze has no --jobs option; the {cores}-core runs use its default "
                     "(whatever parallelism it does by itself).")
    if not pflogsumm and not args.no_pflogsumm:
        notes.append("pflogsumm is not installed (Debian: apt-get install pflogsumm).")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    runs: list[Run] = []
    logs: dict[tuple[int, str], dict[str, object]] = {}
    mixes = [m.strip() for m in args.mixes.split(",") if m.strip()]
    for lines in sizes:
        path, meta = ensure_log(args.data_dir, lines, args.seed, args.fmt)
        logs[lines, "default"] = {"path": str(path), "seed": args.seed, "format": args.fmt,
                                  **meta}
        size = path.stat().st_size
        gz = ensure_gzip(path) if lines in gz_sizes else None
        _warm(path)
        print(f"{path.name}: {size / 1e6:.0f} MB", file=sys.stderr)
        base = [str(path), "--format", "json", "--no-dns"]
        runs.append(measure(Run("analyze-1core", lines, str(path), pin + analyze + base, size),
                            args.repeat, args.timeout))
        runs.append(measure(Run("analyze-1core-python", lines, str(path),
                                pin + analyze + base, size),
                            args.repeat, args.timeout, dict(os.environ, LOGANALYZE_CORE="python")))
        runs.append(measure(Run("analyze-2cores", lines, str(path), analyze + base + jobs, size),
                            args.repeat, args.timeout))
        if report_exe.exists():
            # A fresh state for every run: the first report reads the whole log.
            state = state_dir / "state.sqlite"
            report = ["sh", "-c", 'rm -f "$1"*; shift; exec "$@"', "sh", str(state)]
            report += pin + [str(report_exe), "report", str(path), "--state", str(state),
                             "--always", "--format", "json", "--no-dns"]
            runs.append(measure(Run("report-1core", lines, str(path), report, size),
                                args.repeat, args.timeout))
        if gz is not None:
            _warm(gz)
            gz_cmd = analyze + [str(gz), "--format", "json", "--no-dns"]
            runs.append(measure(Run("analyze-gz-1core", lines, str(gz), pin + gz_cmd, size),
                                args.repeat, args.timeout))
            runs.append(measure(Run("analyze-gz", lines, str(gz), gz_cmd + jobs, size),
                                args.repeat, args.timeout))
            if zcat:
                runs.append(measure(Run("zcat", lines, str(gz), [zcat, "-dc", str(gz)], size),
                                    args.repeat, args.timeout))
        if grep:
            env = dict(os.environ, LC_ALL="C")
            runs.append(measure(Run("grep", lines, str(path),
                                    [grep, "-c", "-E", GREP_PATTERN, str(path)], size),
                                args.repeat, args.timeout, env, capture=True))
        if pflogsumm:
            runs.append(measure(Run("pflogsumm", lines, str(path), [pflogsumm, str(path)], size),
                                args.repeat, args.timeout))
        for mix in mixes:
            if mix != "default":
                runs += _other_mix(args, lines, mix, logs, pin + analyze, analyze, jobs)

    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    info["bench_seconds"] = round(time.perf_counter() - began, 1)
    results = checks(runs, sizes)

    print()
    print(table(runs))
    print()
    for c in results:
        mark = "  -  " if c.ok is None else (" ok  " if c.ok else " MISS")
        print(f"[{mark}] {c.what}: {c.value} (target {c.target})")
    print(f"\nload average before {info['loadavg_before']}, after {info['loadavg_after']}; "
          f"benchmark took {info['bench_seconds']} s")

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "machine": info,
        "logs": {_log_label(n, mix): v for (n, mix), v in logs.items()},
        "commands": cmd_text,
        "runs": [
            {**asdict(r), "mb_per_s": round(r.mb_per_s, 2),
             "cpu_mb_per_s": round(r.cpu_mb_per_s, 2), "lines_per_s": round(r.lines_per_s)}
            for r in runs
        ],
        "targets": [asdict(c) for c in results],
        "notes": notes,
    }
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(info, runs, results, logs, cmd_text, notes))
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")
    failed = any(r.error for r in runs) or any(c.ok is False for c in results)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
