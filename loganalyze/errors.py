"""Errors the library raises for problems the user can fix.

The CLI turns every :class:`LogAnalyzeError` into one line on stderr and exit
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LogAnalyzeError(Exception):
    """A problem with the user's input or settings, with a one-line message."""


class InputError(LogAnalyzeError):
    """A log file is missing, unreadable or not in a format we know."""


class ConfigError(LogAnalyzeError):
    """An option, a helo_access table or a Postfix setting is malformed."""


class StateError(LogAnalyzeError):
    """The state database cannot be opened, is damaged, or is too new."""


class StateLockedError(StateError):
    """Another report holds the lock on this state (the CLI exits 1, not 2)."""


class DeliveryError(LogAnalyzeError):
    """The mail system did not take the report (the CLI exits 1 and keeps the message)."""
