"""Aggregate sessions into senders (client address + HELO) and clients, as they stream.

:mod:`~loganalyze.aggregate.traffic` holds the aggregates and the rules that fold a
session or an evidence line into them; :mod:`~loganalyze.aggregate.collector` is the
sink the block scanner feeds.
"""

from .collector import TrafficCollector, collect, collect_blocks, rare_gc_passes
from .traffic import (
    KEEP_EXAMPLES,
    ClientStats,
    SenderStats,
    Traffic,
    add_dnsbl_list,
    add_evidence,
    add_session,
)

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
