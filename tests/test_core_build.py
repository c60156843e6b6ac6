"""Building the compiled core the way ``pip install`` does (setup.py's build hook calls
:func:`loganalyze.core.build.build_quietly`): with the machine's real compiler, with
none on PATH, and with one that fails. The install must never fail on it."""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import pytest

from loganalyze import core
from loganalyze.core import build


def test_the_system_compiler_builds_a_library_that_loads(tmp_path: Path) -> None:
    assert build.system_compiler() is not None, "make test needs a C compiler (gcc)"
    target = tmp_path / "lib" / "_loganalyze_core.so"
    message = build.build_quietly(target)
    assert message.startswith("loganalyze: built the compiled core with "), message
    assert ctypes.CDLL(str(target)).la_core_abi() == core.ABI
    assert not list(target.parent.glob("*.part"))


def test_no_compiler_on_path_installs_without_the_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no cc, gcc, clang
    monkeypatch.delenv("CC", raising=False)
    assert build.system_compiler() is None
    target = tmp_path / "_loganalyze_core.so"
    message = build.build_quietly(target)
    assert message == ("loganalyze: no C compiler (cc, gcc, clang or $CC); installed without "
                       "the compiled core: the Python core will be used")
    assert not target.exists()


@pytest.mark.parametrize("compiler", ["false", "true"])
def test_a_compiler_that_fails_or_writes_nothing_leaves_no_library(
        compiler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = shutil.which(compiler)
    assert found is not None
    monkeypatch.setenv("CC", found)
    target = tmp_path / "_loganalyze_core.so"
    message = build.build_quietly(target)
    assert message.startswith("loganalyze: building the compiled core failed; "
                              "the Python core will be used: "), message
    assert "\n" not in message
    assert not target.exists()
