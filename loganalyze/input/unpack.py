"""Big compressed logs unpacked to temporary plain files, so that ``--jobs`` can split them.

A ``.gz`` cannot be read from an offset, so it used to be one task: on two cores
it took about twice as long as the same log uncompressed. Decompressing it once
(in the background thread of :func:`~loganalyze.input.files.decompressed_blocks`,
isal's igzip when installed) into a file beside the other temporary files costs
less than ``gzip -dc`` of it; then it is cut at line boundaries like any plain
file. A damaged file fails here, with the one-line error of a sequential read.

Only when it pays and fits: a regular file whose decompressed size (gzip's
trailer says it for one member; else a guess from the compressed size) is worth
two ranges, with twice that free in the temporary directory. A disk that fills
up anyway leaves that input compressed, read by one worker as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from .files import compression_of, decompressed_blocks, file_size, open_raw
from .timeline import TimelineInput
from .urls import is_url

# Mail logs compress about 7x (the bench's gzip -6: 148 MB to 21 MB).
_GUESSED_RATIO = 7


def estimated_size(name: str) -> int | None:
    """Decompressed size of a local compressed regular file (None: plain, or not a file).

    gzip's trailer holds the size (modulo 4 GiB) of the last member: right for a
    log gzip or logrotate wrote, a guess for concatenated members.
    """
    if name == "-" or is_url(name) or not os.path.isfile(name):
        return None
    size = file_size(name) or 0
    try:
        with open_raw(name) as handle:
            kind = compression_of(handle.read(6))
            if kind is None:
                return None
            if kind == "gzip" and size >= 18:
                handle.seek(size - 4)
                trailer = int.from_bytes(handle.read(4), "little")
                if trailer >= size:
                    return trailer
    except (OSError, InputError):
        return None  # reading it says what is wrong
    return size * _GUESSED_RATIO


def _unpack(name: str, target: Path) -> bool:
    """Write the decompressed bytes of ``name`` to ``target``; False if the disk is full
    (or another write error): the caller keeps the compressed input."""
    blocks = decompressed_blocks(name)
    try:
        with open(target, "wb") as out:
            for block in blocks:
                out.write(block)
    except OSError:
        target.unlink(missing_ok=True)
        return False
    finally:
        blocks.close()
    return True


@contextmanager
def unpacked(inputs: Sequence[TimelineInput], worth: int) -> Iterator[list[TimelineInput]]:
    """``inputs`` with each compressed file of at least ``worth`` bytes (decompressed)
    replaced by a temporary plain copy, removed on exit. Probed facts (format, first
    time, reference) stay those of the original."""
    sizes = [(i, estimated_size(item.name)) for i, item in enumerate(inputs)]
    todo = [(i, size) for i, size in sizes if size is not None and size >= worth]
    if not todo:
        yield list(inputs)
        return
    out = list(inputs)
    try:
        holder = tempfile.TemporaryDirectory(prefix="loganalyze-unpacked-")
    except OSError:  # no writable temporary directory: read them compressed, as before
        yield out
        return
    with holder as folder:
        free = shutil.disk_usage(folder).free
        for index, size in todo:
            if free < 2 * size:
                continue
            item = inputs[index]
            target = Path(folder) / f"{index}-{Path(item.name).name}"
            if _unpack(item.name, target):
                out[index] = replace(item, name=str(target))
                free -= target.stat().st_size
        yield out
