"""Benchmark the Dask cluster backend (issue 18); run by ``make bench``.

    .venv/bin/python tests/benchmarks/bench_cluster.py
    .venv/bin/python tests/benchmarks/bench_cluster.py --lines-per-host 250k --repeat 3

Generates one day of logs for each of 8 MX hosts (``mx1`` ... ``mx8``, one seed
each, so their smtpd pids overlap; cached in ``tests/benchmarks/data/hosts/``),
then times ``analyze mx*/mail.log --no-dns --format json`` as a child process:

* on this machine with ``--jobs 2``;
* with ``--scheduler`` on a cluster started the way the README says
  (``dask scheduler`` and ``dask worker``, on 127.0.0.1), with 1 and then 2 worker
  processes of one thread each.

Every run must print the same JSON as the local one. Wall time is the best of
``--repeat`` runs; the cluster's start is not timed. Results go to stdout and to
``data/cluster-results.md`` with the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate_log  # noqa: E402
from run_bench import machine, timed  # noqa: E402

HOSTS = 8
PORT = 18786


def ensure_hosts(data: Path, lines: int) -> list[Path]:
    """The hosts' logs, generated once for these sizes."""
    root = data / "hosts" / f"v{generate_log.GENERATOR_VERSION}-{lines}"
    paths = []
    for number in range(1, HOSTS + 1):
        path = root / f"mx{number}" / "mail.log"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            generate_log.write_log(generate_log.GeneratorOptions(
                lines, seed=100 + number, host=f"mx{number}"), path)
        paths.append(path)
    return paths


def _cpu_seconds() -> float:
    """On a worker: the CPU time its process has used."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workers_cpu(address: str) -> float:
    """The CPU seconds all worker processes have used so far."""
    from distributed import Client

    with Client(address, timeout=60) as client:
        return sum(client.run(_cpu_seconds).values())


@contextmanager
def local_cluster(bin_dir: Path, workers: int, scratch: Path) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` on 127.0.0.1, as the README starts them."""
    address = f"tcp://127.0.0.1:{PORT}"
    log = (scratch / "dask.log").open("ab")
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(PORT),
         "--dashboard-address", "127.0.0.1:0"], stdout=log, stderr=log)
    worker = subprocess.Popen(
        [str(bin_dir / "dask"), "worker", address, "--nworkers", str(workers), "--nthreads",
         "1", "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
        stdout=log, stderr=log, cwd=scratch)
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)
        log.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines-per-host", type=generate_log._size, default="250k")
    parser.add_argument("--repeat", type=int, default=2, help="runs per setting; best counts")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    info = machine()
    paths = ensure_hosts(args.data_dir, args.lines_per_host)
    size = sum(path.stat().st_size for path in paths)
    command = [str(bin_dir / "analyze"), *map(str, paths), "--no-dns", "--format", "json",
               "--year", "2026", "-q"]
    for path in paths:
        path.read_bytes()  # a warm page cache for every run

    def best(extra: list[str], label: str,
             address: str | None = None) -> tuple[str, float, float, str]:
        runs = []
        for _ in range(args.repeat):
            before = workers_cpu(address) if address else 0.0
            run = timed([*command, *extra], timeout=3600, capture=True)
            if run.exit_code != 0:
                raise SystemExit(f"{label}: exit {run.exit_code}: {run.stderr[-500:]}")
            # CPU of analyze itself (its --jobs children included), plus the workers'.
            cpu = run.cpu + (workers_cpu(address) - before if address else 0.0)
            runs.append((run.wall, cpu, run.stdout))
        wall, cpu, out = min(runs)
        print(f"{label:<32} {wall:7.2f} s wall {cpu:7.2f} s CPU", flush=True)
        return label, wall, cpu, out

    results = [best(["--jobs", "2"], "local --jobs 2")]
    scratch = args.data_dir / "cluster-scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    for workers in (1, 2):
        with local_cluster(bin_dir, workers, scratch) as address:
            time.sleep(1)
            results.append(best(["--scheduler", address],
                                f"cluster, {workers} worker{'s' if workers > 1 else ''}",
                                address))
    # The tail of the JSON each run printed (the timing helper keeps the last 4000 bytes).
    same = all(out == results[0][3] for *_, out in results)
    lines = [
        f"8 hosts x {args.lines_per_host:,} lines ({size / 1e6:.0f} MB, plain), "
        f"`analyze --no-dns --format json`, best of {args.repeat}; "
        f"the JSON's last 4000 bytes identical in every run: {same}",
        "",
        "| run | wall s | CPU s (analyze + workers) |",
        "|---|---:|---:|",
        *[f"| {label} | {wall:.2f} | {cpu:.2f} |" for label, wall, cpu, _ in results],
        "",
        f"Machine: {info['cpu_model']}, {info['usable_cpus']} usable CPUs, {info['memory']}, "
        f"Python {info['python']}, load average before {info['loadavg_before']}.",
    ]
    (args.data_dir / "cluster-results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if same else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
