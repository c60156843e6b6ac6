"""loganalyze: find the legitimate senders that Postfix's HELO restrictions reject.

The pipeline, one module per stage: :mod:`sources` (files) -> :mod:`parse`
(lines to records) -> :mod:`sessions` (records to SMTP sessions) ->
:mod:`senders` (sessions to senders) -> :mod:`checks` + :mod:`dns` (Postfix's
HELO checks) -> :mod:`verdict` (evidence) -> :mod:`report` /
:mod:`helo_access` (output). :func:`analyze_logs` runs it all.

The names below are imported on first use, so ``import loganalyze.parse``
(or a worker process that only reads logs) does not load the DNS library, the
public suffix list or pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis, AnalyzeOptions, Finding, analyze_lines, analyze_logs
    from .checks import Check, HeloCheckResult, check_helo
    from .dns import DnsStatus, HostLookup, NoDnsResolver, StaticResolver
    from .dns_resolver import DnsResolver
    from .errors import ConfigError, InputError, LogAnalyzeError
    from .model import InputFormat, LogRecord
    from .parse import Tokenizer, tokenize
    from .postfix_config import ServerIdentity, load_identity
    from .sessions import HeloSession, build_sessions
    from .timeline import read_timeline
    from .verdict import Label, Verdict, Weights

_EXPORTS = {
    "analysis": ["Analysis", "AnalyzeOptions", "Finding", "analyze_lines", "analyze_logs"],
    "checks": ["Check", "HeloCheckResult", "check_helo"],
    "dns": ["DnsStatus", "HostLookup", "NoDnsResolver", "StaticResolver"],
    "dns_resolver": ["DnsResolver"],
    "errors": ["ConfigError", "InputError", "LogAnalyzeError"],
    "postfix_config": ["ServerIdentity", "load_identity"],
    "sessions": ["HeloSession", "build_sessions"],
    "timeline": ["read_timeline"],
    "model": ["InputFormat", "LogRecord"],
    "parse": ["Tokenizer", "tokenize"],
    "verdict": ["Label", "Verdict", "Weights"],
    # The DataFrame API lives in frames.py, the only module that imports pandas.
    "frames": ["COLUMNS", "analyze", "check_frame", "findings_frame", "read_events",
               "senders_frame", "sessions_frame", "suggestions_frame"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Analysis",
    "AnalyzeOptions",
    "Check",
    "ConfigError",
    "DnsResolver",
    "DnsStatus",
    "Finding",
    "HeloCheckResult",
    "HeloSession",
    "HostLookup",
    "InputError",
    "InputFormat",
    "Label",
    "LogAnalyzeError",
    "LogRecord",
    "NoDnsResolver",
    "ServerIdentity",
    "StaticResolver",
    "Tokenizer",
    "Verdict",
    "Weights",
    "analyze_lines",
    "analyze_logs",
    "build_sessions",
    "check_helo",
    "load_identity",
    "read_timeline",
    "tokenize",
]
__version__ = "0.1.0"
__all__ += sorted(_EXPORTS["frames"])


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        if not name.startswith("_"):
            # A submodule not imported yet (``loganalyze.sources``), as before.
            try:
                return import_module(f".{name}", __name__)
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
        raise AttributeError(f"module 'loganalyze' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    if module != "frames":
        globals()[name] = value  # next time without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
