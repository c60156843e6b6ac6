"""Time (or profile) each stage of the single-core pipeline on one log.

    .venv/bin/python tests/benchmarks/profile_pipeline.py tests/benchmarks/data/mail-1M-s1-traditional.log
    .venv/bin/python tests/benchmarks/profile_pipeline.py LOG --repeat 3
    .venv/bin/python tests/benchmarks/profile_pipeline.py LOG --profile collect   # cProfile, top 30

Stages, each timed in CPU seconds (the best of ``--repeat`` runs), with the
resident memory after it:

* ``read``: the file to blocks of lines (:func:`loganalyze.input.timeline.read_timeline_blocks`);
* ``tokenize``: :meth:`Tokenizer.scan` into a sink that does nothing;
* ``collect``: :meth:`Tokenizer.scan` into a :class:`loganalyze.aggregate.TrafficCollector`
  (sessions, senders, clients), on the blocks already read;
* ``judge``: checks and verdicts without DNS (:func:`loganalyze.pipeline.judge_traffic`),
  with loganalyze's caches emptied first (a run pays for filling them, the public
  suffix list included);
* ``render``: the JSON report, written to /dev/null.

``collect`` minus ``tokenize`` is what sessions and aggregation cost. The
blocks are all held in memory here (to time the stages apart), so the memory
column is higher than ``analyze``'s peak.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from loganalyze.aggregate import TrafficCollector, collect_blocks
from loganalyze.input.timeline import read_timeline_blocks
from loganalyze.judge.dns import NoDnsResolver
from loganalyze.model import ALL_KINDS, LogRecord
from loganalyze.output import write_json
from loganalyze.parse import Tokenizer
from loganalyze.pipeline import AnalyzeOptions, judge_traffic


class NullSink:
    """A sink for Tokenizer.scan that keeps nothing: the tokenizer alone."""

    def record(self, record: LogRecord) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., None]:
        def ignore(*args: Any) -> None:
            pass

        setattr(self, name, ignore)
        return ignore


def _empty_caches() -> None:
    """Empty the functools caches of loganalyze's modules, as in a new process."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "loganalyze":
            continue
        for value in list(vars(module).values()):
            if getattr(value, "__module__", None) == name and hasattr(value, "cache_clear"):
                value.cache_clear()


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--year", type=int, default=None)
    parser.add_argument("--profile", choices=["tokenize", "collect", "judge"],
                        help="run this stage once more under cProfile and print the top 30")
    args = parser.parse_args()
    now = datetime.now()
    options = AnalyzeOptions(resolver=NoDnsResolver(), year=args.year, now=now)

    def tokenizer() -> Tokenizer:
        return Tokenizer(year=args.year, now=now, kinds=ALL_KINDS)

    results: dict[str, Any] = {}

    def read() -> None:
        results["blocks"] = list(read_timeline_blocks([args.log], now=now))

    def tokenize() -> None:
        tok, sink, lineno = tokenizer(), NullSink(), 1
        for block in results["blocks"]:
            tok.scan(block, lineno, sink)  # type: ignore[arg-type]
            lineno += len(block)
        results["lines"] = tok.stats

    def collect() -> None:
        collector = TrafficCollector()
        collect_blocks(results["blocks"], tokenizer(), collector)
        results["traffic"] = collector.traffic

    def judge() -> None:
        results["findings"] = judge_traffic(results["traffic"], options).findings

    def judge_cold() -> None:
        _empty_caches()
        judge()

    def render() -> None:
        with open(os.devnull, "w") as out:
            write_json(results["findings"], out)

    stages = {"read": read, "tokenize": tokenize, "collect": collect, "judge": judge_cold,
              "render": render}
    size = os.path.getsize(args.log) / 1e6
    print(f"{args.log}: {size:.0f} MB")
    total = 0.0
    for name, stage in stages.items():
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            gc.collect()
            start = time.process_time()
            stage()
            best = min(best, time.process_time() - start)
        if name != "tokenize":
            total += best
        print(f"  {name:9s} {best:7.2f} s CPU   {size / best if best else 0:8.1f} MB/s"
              f"   rss {_rss_mb():6.0f} MB")
    stats = results["lines"]
    print(f"  {'total':9s} {total:7.2f} s CPU   {size / total:8.1f} MB/s  (without tokenize; "
          f"plus start-up)")
    print(f"  lines {stats.lines}: {stats.matched} used, {stats.irrelevant} irrelevant, "
          f"{stats.unparsed} not understood; {len(results['findings'])} findings")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(stages[args.profile])
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
