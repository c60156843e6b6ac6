"""What Python 3.11 added and 3.10 (Ubuntu 22.04's python3) lacks, in one place.

The rest of the package imports these names from here, so it reads as 3.11 code and
behaves the same on 3.10 to 3.13.
"""

from __future__ import annotations

import enum
import sys
from datetime import datetime, timezone
from typing import Any

if sys.version_info >= (3, 11):
    from enum import StrEnum
    from typing import Unpack
else:  # pragma: no cover - exercised by the 3.10 CI run
    from typing_extensions import Unpack

    class StrEnum(str, enum.Enum):
        """3.11's StrEnum: members are strings, and ``str()``/``format()`` give the value."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return str(self.value).__format__(spec)


UTC = timezone.utc

__all__ = ["UTC", "StrEnum", "Unpack", "parse_iso", "toml_module"]


def toml_module() -> Any:
    """``tomllib`` (3.11+) or its backport ``tomli``, imported only when a TOML file is read."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # pragma: no cover - 3.10

    return tomli  # pragma: no cover


def parse_iso(text: str) -> datetime:
    """``datetime.fromisoformat`` as 3.11 reads it, on every supported Python.

    3.10 takes only what ``isoformat()`` writes: no ``Z``, no ``+0100``, no fraction of
    other than 3 or 6 digits. Those forms are normalised first; the result is the same
    as 3.11's for every string 3.11 accepts of the shapes logs and users write.
    """
    if sys.version_info >= (3, 11):
        return datetime.fromisoformat(text)
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Split off a numeric offset after the time part ("T" or " " at index 10).
    offset = ""
    if len(value) > 10:
        for sign in "+-":
            at = value.rfind(sign, 11)
            if at > 0:
                value, offset = value[:at], value[at:]
                break
    if len(offset) == 5 and offset[1:].isdigit():  # +0100 -> +01:00
        offset = f"{offset[:3]}:{offset[3:]}"
    dot = value.find(".", 11)
    if dot > 0:
        fraction = value[dot + 1:]
        if fraction.isdigit():
            value = value[:dot + 1] + fraction[:6].ljust(6, "0")
    return datetime.fromisoformat(value + offset)
