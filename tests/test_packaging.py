"""Packaging that installs quietly: what `make demo` shows is the admin's, not setuptools'."""

from __future__ import annotations

import re
from pathlib import Path

from loganalyze.compat import toml_module

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = toml_module().loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_license_is_an_spdx_string_and_setuptools_understands_it() -> None:
    # A {text = ...} table makes setuptools >= 77 print a page of deprecation warnings
    # on every install; an SPDX expression needs setuptools 77 (PEP 639), which pip's
    # isolated build pulls on Python 3.10-3.13. License classifiers are then an error.
    assert PYPROJECT["project"]["license"] == "MIT"
    assert not [c for c in PYPROJECT["project"].get("classifiers", []) if "License ::" in c]
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"]
                     if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert match and int(match.group(1)) >= 77


def test_make_demo_prints_only_errors_of_the_install() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    installs = [line.strip() for line in makefile.splitlines() if "pip install" in line]
    base = [line for line in installs if line.endswith("install -qq -e .")]
    assert base and all(line.startswith("@") for line in base), installs
    assert "@$(BIN)/python -m pip install -qq --upgrade pip" in installs
