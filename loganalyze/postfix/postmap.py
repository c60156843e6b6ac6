"""Whether Postfix sees what the admin's helo_access source says.

Postfix reads the table postmap compiled (``helo_access.db`` for ``hash:``,
``.lmdb``, ``.cdb``), not the source: an entry added without running postmap
lets nobody in. A sender the source permits but Postfix still rejected gets a
hint from the files' modification times.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

COMPILED_SUFFIXES = (".db", ".lmdb", ".cdb")
"""What postmap writes beside the source, by table type (hash/btree, lmdb, cdb)."""


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def rejected_despite_entry(source: Path | None, last_refused: datetime | None) -> str | None:
    """Why Postfix may have rejected a HELO that ``source`` permits; None when the
    compiled table is current and the rejects are older than it (fixed since)."""
    if source is None:
        return "did you run postmap on your helo_access?"
    written = _mtime(source)
    compiled = [(m, p) for p in (source.with_name(source.name + s) for s in COMPILED_SUFFIXES)
                if (m := _mtime(p)) is not None]
    if not compiled:
        return f"did you run postmap {source}? (there is no {source.name}.db beside it)"
    made, table = max(compiled)
    if written is not None and made < written:
        return (f"did you run postmap {source}? ({table.name} is older than {source.name}, "
                "so Postfix does not see the newer entries)")
    if last_refused is not None and last_refused > datetime.fromtimestamp(made):
        return (f"{table.name} is current: is check_helo_access listed in "
                "smtpd_helo_restrictions before the reject_*_helo_hostname checks?")
    return None
