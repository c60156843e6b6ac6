"""What logrotate does to a log directory, for the tests of the daily report's cursors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path


def gzip_to(path: Path, target: Path) -> None:
    """Compress ``path`` into ``target`` and remove it (logrotate's ``compress``)."""
    with open(path, "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()


def shift_numbered(log: Path) -> None:
    """``log``.N -> N+1 for every numbered sibling, compressing from .2 on
    (``delaycompress``); other siblings are left alone."""
    numbered = []
    for path in log.parent.glob(log.name + ".*"):
        number = path.name[len(log.name) + 1:].split(".")[0]
        if number.isdigit():
            numbered.append((int(number), path))
    for n, path in sorted(numbered, reverse=True):
        target = log.parent / f"{log.name}.{n + 1}.gz"
        if path.suffix == ".gz":
            path.rename(target)
        else:
            gzip_to(path, target)
