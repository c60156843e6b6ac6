"""setuptools' build hook: ``pip install .`` and ``pip install -e .`` build the compiled
core (:mod:`loganalyze.core.build`) with the system C compiler, and install without it
(the tool then runs on its Python core and says so) when there is none or it fails.

Everything else is in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Command, setup
from setuptools.command.build import build
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
LIBRARY = Path("loganalyze", "core", "_loganalyze_core.so")


def _core_build() -> object:
    """loganalyze/core/build.py alone: importing the package would need its dependencies."""
    spec = importlib.util.spec_from_file_location("_loganalyze_core_build",
                                                  HERE / "loganalyze" / "core" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class build_core(Command):
    """Compile loganalyze/core/*.c into the library, beside the package's modules."""

    description = "build the compiled core (a plain C library loaded with ctypes)"
    user_options: list[tuple[str, str | None, str]] = []
    editable_mode = False  # set by setuptools for pip install -e: build in the source tree

    def initialize_options(self) -> None:
        self.build_lib: str | None = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build", ("build_lib", "build_lib"))

    def _target(self) -> Path:
        if self.editable_mode or self.build_lib is None:
            return HERE / LIBRARY
        return Path(self.build_lib) / LIBRARY

    def run(self) -> None:
        target = self._target()
        if not self.editable_mode and target.exists():
            target.unlink()  # never ship a library left in build/ by an earlier run
        try:
            message = _core_build().build_quietly(target)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - pip install must never fail on this
            message = f"loganalyze: the compiled core was not built ({exc})"
        print(message, file=sys.stderr)

    def get_outputs(self) -> list[str]:
        target = self._target()
        return [os.fspath(target)] if target.exists() else []

    def get_output_mapping(self) -> dict[str, str]:
        return {}

    def get_source_files(self) -> list[str]:
        return sorted(os.fspath(p.relative_to(HERE))
                      for p in (HERE / "loganalyze" / "core").glob("*.[ch]"))


class build_with_core(build):
    sub_commands = [*build.sub_commands, ("build_core", None)]


class BinaryDistribution(Distribution):
    """The wheel holds a machine-specific library: tag it for this platform."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build": build_with_core, "build_core": build_core},
      distclass=BinaryDistribution)
