"""The notebooks in ``notebooks/``: stored without outputs, public API only, and they run.

Each notebook is executed with nbclient on the virtualenv's ``python3`` kernel from
the repository root, with its runs written under ``tmp_path`` (through
``PLANNER_NOTEBOOK_RESULTS``). Any cell error fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

import planner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_quickstart", "02_tune_constraints", "03_bring_your_own_data", "04_sweep", "05_sites_and_money"]
# folders each notebook leaves in its results folder
WRITES = {
    "01_quickstart": ["province-guangdong"],
    "02_tune_constraints": ["province-guangdong", "guangdong-budget-cut", "guangdong-city-quotas", "compare-02"],
    "03_bring_your_own_data": ["guangdong-own-data"],
    "04_sweep": ["province-guangdong", "province-guangdong__total_stores-40__kind-coverage", "compare-04"],
    "05_sites_and_money": ["guangdong-sites", "guangdong-sites-coverage", "compare-05"],
}


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_all_notebooks_present() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_public_api_only(path: Path) -> None:
    """Notebooks import only ``planner`` itself and use only names in ``planner.__all__``."""
    nb = nbformat.read(path, as_version=4)
    for source in _code(nb):
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("planner"), f"{path.name}: from {node.module} import ..."
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name == "planner" or not alias.name.startswith("planner"), alias.name
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "planner":
                assert node.attr in planner.__all__, f"{path.name}: planner.{node.attr} is not public API"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("PLANNER_NOTEBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    # the runs (and reports) landed in the temporary results folder
    written = {p.name for p in (tmp_path / "results").iterdir()}
    assert set(WRITES[path.stem]) <= written, f"expected {WRITES[path.stem]}, found {sorted(written)}"
