"""Logs named by fsspec URLs (``s3://bucket/mx1/mail.log.2.gz``, ``file:///srv/logs/...``),
and globs over many hosts' logs.

fsspec is an optional dependency (the ``cluster`` extra); it is imported only when a
name is a URL. A URL's file is opened as a seekable binary file, so byte ranges and
compression detection work on it as on a local file. The protocols other than
``file://`` need their own package (``s3fs`` for ``s3://``) where the logs are read.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

from ..errors import InputError

_GLOB_CHARS = frozenset("*?[")


def is_url(name: str) -> bool:
    """True for ``protocol://...`` names (never a path Postfix's syslog writes)."""
    head, sep, _ = name.partition("://")
    return bool(sep) and head.isascii() and head.replace("+", "").isalnum()


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path on it."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise InputError(f"{url}: reading URLs needs fsspec: "
                         "pip install 'loganalyze[cluster]'") from None
    try:
        return cast(tuple[Any, str], url_to_fs(url))
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its package missing
        raise InputError(f"{url}: cannot read this URL: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_url(url: str) -> BinaryIO:
    """The file at ``url``, open for reading bytes (seekable)."""
    fs, path = _filesystem(url)
    try:
        return cast(BinaryIO, fs.open(path, "rb"))
    except FileNotFoundError:
        raise InputError(f"{url}: no such file; check the URL of the mail log") from None
    except IsADirectoryError:
        raise InputError(f"{url}: is a directory; give the mail log file itself") from None
    except PermissionError:
        raise InputError(f"{url}: permission denied; check the credentials for it") from None
    except OSError as exc:
        raise InputError(f"{url}: cannot open: {_first_line(exc)}") from None


@dataclass(frozen=True, slots=True)
class UrlInfo:
    """What a URL's file system says of the file."""

    size: int
    mtime: float | None
    """Last modification, epoch seconds, when the file system keeps it."""
    is_file: bool


def url_info(url: str) -> UrlInfo | None:
    """Size, modification time and kind of the file at ``url``; None if it cannot be asked."""
    try:
        fs, path = _filesystem(url)
        info = fs.info(path)
    except (InputError, OSError):
        return None
    when = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(when, datetime):
        when = when.timestamp()
    return UrlInfo(int(info.get("size") or 0), float(when) if when is not None else None,
                   info.get("type") == "file")


def expand(names: list[str]) -> list[str]:
    """``names`` with each glob (``/srv/logs/mx*/mail.log*``, ``s3://b/mx*/mail.log*.gz``)
    replaced by the files it matches, sorted; a name that exists as given stays.

    A glob that matches nothing is an error: a run over none of the hosts' logs
    must not look like a quiet week.
    """
    out: list[str] = []
    for name in names:
        if not _GLOB_CHARS & set(name) or (not is_url(name) and os.path.lexists(name)):
            out.append(name)
            continue
        if is_url(name):
            fs, path = _filesystem(name)
            protocol = name.partition("://")[0]
            found = [fs.unstrip_protocol(p) if protocol != "file" else f"file://{p}"
                     for p in sorted(fs.glob(path)) if fs.isfile(p)]
        else:
            found = sorted(p for p in glob.glob(name) if os.path.isfile(p))
        if not found:
            raise InputError(f"{name}: no file matches; check the pattern (quote it, so the "
                             "shell does not expand it first)")
        out.extend(found)
    return out
