"""Aggregate sessions into senders (client address + HELO) and clients, as they stream.

:mod:`~loganalyze.aggregate.traffic` holds the aggregates, :mod:`~loganalyze.aggregate.fold`
the rules that fold a session or an evidence line into them (with
:mod:`~loganalyze.aggregate.samples` and :mod:`~loganalyze.aggregate.tally`, the compact
containers they fill); :mod:`~loganalyze.aggregate.collector` is the sink the block
scanner feeds.
"""

from .collector import TrafficCollector, collect, collect_blocks, rare_gc_passes
from .fold import add_dnsbl_list, add_evidence, add_session
from .traffic import KEEP_EXAMPLES, ClientStats, SenderStats, Traffic

__all__ = [
    "KEEP_EXAMPLES",
    "ClientStats",
    "SenderStats",
    "Traffic",
    "TrafficCollector",
    "add_dnsbl_list",
    "add_evidence",
    "add_session",
    "collect",
    "collect_blocks",
    "rare_gc_passes",
]
