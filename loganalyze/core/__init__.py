"""The compiled core (issue 17): a plain C library loaded with :mod:`ctypes`, lazily.

The Python implementation is complete and is the reference: the core only does
what it can prove gives the same result (see ``linefilter.c``), and every line it
does not handle goes to the Python path unchanged. ``LOGANALYZE_CORE=python``
forces the reference (``LOGANALYZE_CORE=/path/lib.so`` loads another build, e.g.
the tests' sanitized one); when the library is missing or does not load, the run uses
the Python core, and ``analyze`` says so in one line (:func:`fallback_note`).

The library is built by ``python -m loganalyze.core.build`` (``make demo`` and
``make test`` run it) into this directory.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes  # imported when the core is first used: start-up stays quick

    from ..aggregate.collector import TrafficCollector
    from .engine import CompiledSessions

ABI = 5
"""What ``la_core_abi()`` of a library this module can use returns."""
ENV = "LOGANALYZE_CORE"
LIBRARY = Path(__file__).resolve().parent / "_loganalyze_core.so"
"""Where the build puts the library."""
COMMAND = "python -m loganalyze.core.build"
HANDLED, NEED_TIME, PYTHON_LINE = 0, 1, 2
"""What the compiled scanner (``la_scan``) stopped for: the end of the block, a stamp
it has no time for, a line only Python reads."""


@dataclass(frozen=True)
class CoreState:
    """Which core runs, and why not the compiled one."""

    library: ctypes.CDLL | None
    why_not: str
    """Empty when the compiled core is in use, or forced off."""
    forced: bool = False


_state: CoreState | None = None


def _load() -> CoreState:
    import ctypes

    choice = os.environ.get(ENV, "").strip()
    if choice.lower() == "python":
        return CoreState(None, "", forced=True)
    path = Path(choice) if choice.endswith(".so") else LIBRARY
    if not path.exists():
        return CoreState(None, f"compiled core not built (run {COMMAND})")
    try:
        # PyDLL: its functions run with the GIL held, as the compiled aggregates
        # allocate with Python's allocator (core/aggregate.c la_set_allocator).
        library = ctypes.PyDLL(str(path))
        if library.la_core_abi() != ABI:
            return CoreState(None, f"compiled core out of date (run {COMMAND})")
    except (OSError, AttributeError) as exc:
        return CoreState(None, f"compiled core does not load ({exc}; run {COMMAND})")
    i64p = ctypes.POINTER(ctypes.c_int64)
    library.la_filter_lines.restype = ctypes.c_int64
    library.la_filter_lines.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.c_void_p, i64p,
                                        ctypes.c_void_p, i64p]
    library.la_line_ends.restype = ctypes.c_int64
    library.la_line_ends.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64,
                                     ctypes.c_void_p, ctypes.c_int64]
    from .engine import declare

    declare(library)
    return CoreState(library, "")


def state() -> CoreState:
    """The core of this process, loaded on first use."""
    global _state
    if _state is None:
        _state = _load()
    return _state


def library() -> ctypes.CDLL | None:
    """The compiled library, or None when the Python core runs."""
    return state().library


def describe() -> str:
    """Which core reads the lines, for ``--version`` and ``-v``."""
    current = state()
    if current.library is not None:
        name = Path(current.library._name).name
        return "compiled core" if name == LIBRARY.name else f"compiled core ({name})"
    if current.forced:
        return f"Python core ({ENV}=python)"
    return f"Python core: {current.why_not}"


def fallback_note() -> str:
    """The line a command prints (once, not with ``-q``) when the compiled core was
    wanted and is not in use; empty otherwise (also when it was forced off)."""
    current = state()
    if current.library is None and current.why_not:
        return f"note: the Python core was used: {current.why_not}\n"
    return ""


def reset() -> None:
    """Forget the loaded state (tests switch ``LOGANALYZE_CORE``)."""
    global _state
    _state = None


class LineFilter:
    """The compiled line filter over blocks of bytes (``la_filter_lines`` in ``linefilter.c``).

    Calling it with the bytes of complete lines gives the bytes of the lines it
    did not prove irrelevant (each with its newline), the number of each in the
    block (0-based), and the number of lines in the block.
    """

    def __init__(self, lib: ctypes.CDLL) -> None:
        import ctypes

        self._ctypes = ctypes
        self._lib = lib
        self._out = ctypes.create_string_buffer(1)
        self._index = (ctypes.c_int32 * 1)()

    def __call__(self, body: bytes) -> tuple[bytes, list[int], int]:
        ctypes = self._ctypes
        size, lines = len(body), body.count(b"\n") + 1
        if size + 1 > len(self._out):  # as large as the input: no logged string is cut
            self._out = ctypes.create_string_buffer(max(size + 1, 2 * len(self._out)))
        if lines > len(self._index):
            self._index = (ctypes.c_int32 * max(lines, 2 * len(self._index)))()
        out_len, kept = ctypes.c_int64(), ctypes.c_int64()
        total = self._lib.la_filter_lines(body, size, self._out, ctypes.byref(out_len),
                                          self._index, ctypes.byref(kept))
        return ctypes.string_at(self._out, out_len.value), self._index[:kept.value], total


def compiled_sessions(collector: TrafficCollector) -> CompiledSessions | None:
    """The compiled session builder for ``collector``, or None when the Python core runs."""
    lib = library()
    if lib is None:
        return None
    from .engine import CompiledSessions

    return CompiledSessions(lib, collector)


def line_filter() -> LineFilter | None:
    """A filter of this process's compiled core, or None when the Python core runs
    (:func:`fallback_note` says why)."""
    lib = library()
    return None if lib is None else LineFilter(lib)


class LineEnds:
    """Where each line of a block of bytes ends (``la_line_ends`` in ``linefilter.c``):
    called with the bytes of complete lines and the offset of their first byte, it gives
    the offset past each newline."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib

    def __call__(self, body: bytes, base: int) -> array[int]:
        room = len(body) // 64 + 1  # log lines are longer: one pass, usually
        while True:
            ends = array("q", bytes(8 * room))
            count = self._lib.la_line_ends(body, len(body), base, ends.buffer_info()[0], room)
            if count <= room:
                del ends[count:]
                return ends
            room = count


def line_ends() -> LineEnds | None:
    """The compiled line ends of this process's core, or None when the Python core runs."""
    lib = library()
    return None if lib is None else LineEnds(lib)
