"""loganalyze: find the legitimate senders that Postfix's HELO restrictions reject.

The pipeline, one module per stage: :mod:`sources` (files) -> :mod:`tokenizer`
(lines to records) -> :mod:`sessions` (records to SMTP sessions) ->
:mod:`senders` (sessions to senders) -> :mod:`checks` + :mod:`dns` (Postfix's
HELO checks) -> :mod:`verdict` (evidence) -> :mod:`report` /
:mod:`helo_access` (output). :func:`analyze_logs` runs it all.
"""

from .analysis import Analysis, AnalyzeOptions, Finding, analyze_lines, analyze_logs
from .checks import Check, HeloCheckResult, check_helo
from .dns import DnsResolver, DnsStatus, HostLookup, NoDnsResolver, StaticResolver
from .errors import ConfigError, InputError, LogAnalyzeError
from .postfix_config import ServerIdentity, load_identity
from .sessions import HeloSession, build_sessions
from .timeline import read_timeline
from .tokenizer import InputFormat, LogRecord, Tokenizer, tokenize
from .verdict import Label, Verdict, Weights

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

# The DataFrame API lives in frames.py, the only module that imports pandas; it is
# loaded on first use so the command line starts without pandas.
_FRAMES = {"COLUMNS", "analyze", "check_frame", "findings_frame", "read_events",
           "senders_frame", "sessions_frame", "suggestions_frame"}
__all__ += sorted(_FRAMES)


def __getattr__(name: str) -> object:
    if name in _FRAMES:
        from . import frames

        return getattr(frames, name)
    raise AttributeError(f"module 'loganalyze' has no attribute {name!r}")
