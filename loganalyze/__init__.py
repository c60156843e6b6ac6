"""loganalyze: find the legitimate senders that Postfix's HELO restrictions reject.

The pipeline, one package or module per stage: :mod:`input` (files, journal,
rotation, cursors) -> :mod:`parse` (lines to records) -> :mod:`sessions` (records
to SMTP sessions) -> :mod:`aggregate` (sessions to senders and clients) ->
:mod:`judge` (Postfix's HELO checks, DNS, SPF, verdict) -> :mod:`output` (one
module per format). :mod:`pipeline` wires them (:func:`analyze_logs`); the records
between the stages are in :mod:`model`; :mod:`postfix` reads and writes
Postfix's own files.

The names below are imported on first use, so ``import loganalyze.parse``
(or a worker process that only reads logs) does not load the DNS library, the
public suffix list or pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import ConfigError, InputError, LogAnalyzeError
    from .input.timeline import read_timeline
    from .judge.checks import Check, HeloCheckResult, check_helo
    from .judge.dns import DnsStatus, HostLookup, NoDnsResolver, StaticResolver
    from .judge.dns_resolver import DnsResolver
    from .judge.verdict import Label, Verdict, Weights
    from .model import InputFormat, LogRecord
    from .parse import Tokenizer, tokenize
    from .pipeline import Analysis, AnalyzeOptions, Finding, analyze_lines, analyze_logs
    from .postfix.config import ServerIdentity, load_identity
    from .sessions import SmtpSession, build_sessions

_EXPORTS = {
    "pipeline": ["Analysis", "AnalyzeOptions", "Finding", "analyze_lines", "analyze_logs"],
    "judge.checks": ["Check", "HeloCheckResult", "check_helo"],
    "judge.dns": ["DnsStatus", "HostLookup", "NoDnsResolver", "StaticResolver"],
    "judge.dns_resolver": ["DnsResolver"],
    "errors": ["ConfigError", "InputError", "LogAnalyzeError"],
    "postfix.config": ["ServerIdentity", "load_identity"],
    "sessions": ["SmtpSession", "build_sessions"],
    "input.timeline": ["read_timeline"],
    "model": ["InputFormat", "LogRecord"],
    "parse": ["Tokenizer", "tokenize"],
    "judge.verdict": ["Label", "Verdict", "Weights"],
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
    "SmtpSession",
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
            # A submodule not imported yet (``loganalyze.input.files``), as before.
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
