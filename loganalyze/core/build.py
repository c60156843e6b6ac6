"""Build the compiled core: ``python -m loganalyze.core.build`` (``make demo``/``make test``).

A plain shared library (no Python headers needed), compiled with the system C
compiler (``$CC``, ``cc``, ``gcc`` or ``clang``), else with the ``ziglang``
package's clang when it is installed (``--fetch-toolchain`` installs it from the
package index first). Shipped builds target baseline x86-64 and glibc 2.17 with
zig, so they run on any machine of the architecture. The exit status is 0 even
when no compiler is found: the tool then runs on its Python core and says so.

``pip install`` builds it too (``setup.py`` calls :func:`build_quietly`), with the
system compiler only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = tuple(sorted(HERE.glob("*.c")))
"""Every C file here makes one library (its functions are ``la_*``)."""
CFLAGS = ("-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror")
OPTIMIZE = ("-O2",)
SANITIZE = ("-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer")


def system_compiler() -> list[str] | None:
    """The command of this machine's C compiler, or None."""
    wanted = os.environ.get("CC")
    for name in ([wanted] if wanted else []) + ["cc", "gcc", "clang"]:
        found = shutil.which(name)
        if found:
            return [found]
    return None


def zig_compiler() -> list[str] | None:
    """clang inside the ``ziglang`` package, if it is installed in this Python."""
    try:
        import ziglang  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-gnu.2.17",
            "-mcpu=x86_64"]


def compile_library(compiler: Sequence[str], output: Path,
                    extra: Sequence[str] = OPTIMIZE) -> None:
    """Compile the sources into ``output`` (raises CalledProcessError with the compiler's
    message)."""
    env = dict(os.environ)
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(Path(tempfile.gettempdir()) / "loganalyze-zig"))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    subprocess.run([*compiler, *CFLAGS, *extra, "-o", str(partial), *map(str, SOURCES)],
                   check=True, capture_output=True, text=True, env=env)
    partial.replace(output)  # atomic: a running process keeps the old file


def build_quietly(output: Path) -> str:
    """Build the library into ``output`` with the system compiler, for ``pip install``.

    Never raises: the package installs without the library when there is no
    compiler or the build fails. Returns the line saying what happened.
    """
    compiler = system_compiler()
    if compiler is None:
        return ("loganalyze: no C compiler (cc, gcc, clang or $CC); installed without the "
                "compiled core: the Python core will be used")
    try:
        compile_library(compiler, output)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        return ("loganalyze: building the compiled core failed; the Python core will be "
                f"used: {detail[0] if detail else type(exc).__name__}")
    return f"loganalyze: built the compiled core with {compiler[0]}"


def fetch_toolchain() -> bool:
    """Install ``ziglang`` from the package index into this Python (about 100 MB)."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "ziglang>=0.11"],
                            check=False)
    return result.returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    # Here, not at the top: setup.py loads this file alone, without the package.
    from . import COMMAND, LIBRARY

    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--fetch-toolchain", action="store_true",
                        help="install the ziglang package when there is no C compiler")
    parser.add_argument("-o", "--output", type=Path, default=LIBRARY)
    parser.add_argument("--sanitize", action="store_true",
                        help="build with AddressSanitizer and UBSan (gcc, for the tests)")
    parser.add_argument("--zig", action="store_true",
                        help="use the ziglang package even when there is a system compiler")
    args = parser.parse_args(argv)
    compiler = zig_compiler() if args.zig else system_compiler() or zig_compiler()
    if compiler is None and args.fetch_toolchain and fetch_toolchain():
        compiler = zig_compiler()
    if compiler is None:
        print("loganalyze: no C compiler (cc, or the ziglang package); "
              "the Python core will be used", file=sys.stderr)
        return 0
    try:
        compile_library(compiler, args.output, SANITIZE if args.sanitize else OPTIMIZE)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"loganalyze: building the compiled core failed; the Python core will be used\n"
              f"{detail.strip()}", file=sys.stderr)
        return 0 if not args.sanitize else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
