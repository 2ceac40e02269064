"""Offline retail store expansion planner.

The public API planners use from notebooks and scripts::

    import planner
    sc = planner.load_scenario("china-1000", overrides=["constraints.total_stores=800"])  # a file or a shipped name
    result = planner.run(sc)          # writes results/<scenario>/<run_id>/
    result.plan                       # GeoDataFrame of the open stores (EPSG:4326)
    result.kpi_table("province")      # nation / province / city / county / tier
    result.map                        # folium.Map (display it in a notebook)
    again = planner.load_run("results/china-1000/latest")  # the same object from a run folder
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner.config import Scenario, load_scenario
from planner.errors import ConfigError, DataError, InfeasibleError, OutputError, PlannerError

#: the one place the version is written (pyproject.toml reads it: [tool.setuptools.dynamic])
__version__ = "0.1.0"

__all__ = [
    "Scenario", "load_scenario", "run", "prepare", "load_run", "compare", "sweep",
    "PlannerError", "ConfigError", "DataError", "InfeasibleError", "OutputError", "__version__",
]

if TYPE_CHECKING:
    from planner.pipeline import Prepared
    from planner.result import RunResult


def run(scenario: Scenario, **kwargs: Any) -> RunResult:
    """Solve a scenario and write its run folder (see :func:`planner.pipeline.run`)."""
    from planner.pipeline import run as _run

    return _run(scenario, **kwargs)


def prepare(scenario: Scenario, **kwargs: Any) -> Prepared:
    """Build layers, demand and instance without solving (see :func:`planner.pipeline.prepare`)."""
    from planner.pipeline import prepare as _prepare

    return _prepare(scenario, **kwargs)


def load_run(path: Any) -> RunResult:
    """A finished run folder as a :class:`~planner.result.RunResult` (see :func:`planner.result.load_run`)."""
    from planner.result import load_run as _load_run

    return _load_run(path)


def compare(*run_folders: Any, **kwargs: Any) -> Any:
    """Compare run folders side by side (see :func:`planner.report.compare.compare_runs`)."""
    from planner.report.compare import compare_runs

    return compare_runs(list(run_folders), **kwargs)


def sweep(base: Any, grid: dict[str, list[Any]], **kwargs: Any) -> Any:
    """Run every combination of a grid of overrides on Dask (see :func:`planner.sweep.run_sweep`)."""
    from planner.sweep import run_sweep

    return run_sweep(base, grid, **kwargs)
