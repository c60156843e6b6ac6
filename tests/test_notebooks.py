"""The notebooks run top to bottom on the bundled logs, and are committed without outputs.

Each notebook is executed with nbclient in an IPython kernel of this Python
(the venv of the test extras), from the repository root, with matplotlib's
Agg backend and without DNS (the notebooks default to ``NO_DNS = True``).
Any cell error fails the test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import loganalyze

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 60
"""Seconds one cell may take; each notebook runs in a few seconds."""


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == ["explore.ipynb", "what-if.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(REPO)
    notebook = nbformat.read(path, as_version=4)
    # First, make sure the kernel runs this interpreter and imports the loganalyze under test.
    guard = nbformat.v4.new_code_cell(
        "import sys, loganalyze\n"
        f"assert sys.prefix == {sys.prefix!r}, sys.prefix\n"
        f"assert loganalyze.__file__ == {loganalyze.__file__!r}, loganalyze.__file__"
    )
    guard.id = "test-guard"
    notebook.cells.insert(0, guard)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(REPO)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
