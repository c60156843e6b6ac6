"""Log lines -> records: :mod:`.header` (time stamps, year inference), one module per
daemon (:mod:`.smtpd`, :mod:`.postscreen`, :mod:`.policyd_spf`, :mod:`.dnsblog`),
the dispatcher :class:`~.dispatch.LineParser` that only calls them, and
:class:`Tokenizer` (:mod:`.scan`), which adds the fast path for blocks of lines.

The record types themselves live in :mod:`loganalyze.model`.
"""

from .dispatch import LineParser
from .header import MAX_JSON_LINE, MAX_LINE, detect_format, line_format
from .scan import Tokenizer, tokenize

__all__ = ["MAX_JSON_LINE", "MAX_LINE", "LineParser", "Tokenizer", "detect_format",
           "line_format", "tokenize"]
