"""What a run hands back: :class:`RunResult`, from a fresh solve or from a results folder.

:func:`planner.run` returns a :class:`RunResult` for the run it wrote;
:func:`load_run` builds the same object from a finished run folder (``plan.csv``,
``kpis.json``, ``kpis_<level>.csv``, ``plan.gpkg``, ``rollout.csv``,
``config.resolved.yaml``), so a notebook reads yesterday's run exactly as the
one it just solved. ``plan`` is a GeoDataFrame (points, EPSG:4326),
:meth:`RunResult.kpi_table` gives pandas tables per level and
:attr:`RunResult.map` the Folium map, built on first use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from planner.config.models import Scenario
from planner.errors import ConfigError, DataError
from planner.optimise.types import Solution
from planner.outputs import (
    CSV_ENCODING,
    GPKG_NAME,
    KPI_LEVELS,
    LAYER_OF_LEVEL,
    kpi_tables,
    plan_geodataframe,
)
from planner.report.runs import load_run as load_run_folder
from planner.report.runs import read_kpi_tables, read_rollout

if TYPE_CHECKING:
    import folium

__all__ = ["RunResult", "load_run"]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """A finished run: its folder, plan, KPIs and map.

    Attributes
    ----------
    path : pathlib.Path
        The run folder (``results/<scenario>/<run_id>/``).
    scenario : Scenario or None
        The resolved scenario (None for a loaded run whose config no longer validates).
    plan : geopandas.GeoDataFrame
        ``plan.csv`` with Point geometry (EPSG:4326): one row per open store.
    kpis : dict
        ``kpis.json``.
    solution : Solution or None
        The solver's solution (None for a run loaded from its folder).
    rollout : pandas.DataFrame or None
        ``rollout.csv`` when the scenario scheduled a rollout.
    map_path : pathlib.Path
        ``map.html`` (it exists when the run wrote maps).
    timings : dict
        Seconds per step.
    """

    path: Path
    scenario: Scenario | None
    plan: gpd.GeoDataFrame
    kpis: dict[str, Any]
    solution: Solution | None
    rollout: pd.DataFrame | None
    map_path: Path
    timings: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    map_factory: Callable[[], folium.Map] | None = field(default=None, repr=False)
    _map: Any = field(default=None, init=False, repr=False, compare=False)

    def kpi_table(self, level: str = "province") -> pd.DataFrame:
        """The KPIs of one level as a table (a copy; the same rows as ``kpis_<level>.csv``).

        Parameters
        ----------
        level : {'nation', 'province', 'city', 'county', 'tier'}
            ``nation`` is one row of every scalar KPI (nested ones flattened:
            ``market_share_own``); ``province`` and ``tier`` are ``kpis.json``'s
            ``per_province`` / ``per_tier``; ``city`` and ``county`` the same
            figures per prefecture and county. Shares are fractions (0-1).

        Returns
        -------
        pandas.DataFrame
        """
        if level not in KPI_LEVELS:
            raise ValueError(f"unknown KPI level {level!r}; expected one of {list(KPI_LEVELS)}")
        table = self.tables.get(level)
        if table is None:
            raise DataError(
                f"{self.path}: this run has no {level} KPI table (kpis_{level}.csv is missing: "
                "written by an older version). Re-run the scenario."
            )
        return table.copy()

    @property
    def map(self) -> folium.Map:
        """The run's Folium map (built on first use; display it in a notebook cell).

        A fresh run draws the map of ``map.html``; a loaded run draws it from
        ``plan.gpkg`` (stores and admin choropleths, without the grid and the rivals).
        """
        if self._map is None:
            if self.map_factory is None:
                raise DataError(f"{self.path}: no map can be drawn for this run (no plan.gpkg). Re-run the scenario.")
            self._map = self.map_factory()
        return self._map


_CODE_COLUMNS = {"store_id": str, "province_code": str, "city_code": str, "county_code": str, "tier": str,
                 "quarter": str, "format": str, "status": str}


def load_run(path: str | os.PathLike[str]) -> RunResult:
    """Load a finished run folder as a :class:`RunResult` (as :func:`planner.run` returned it).

    Parameters
    ----------
    path : str or path-like
        A run folder, ``results/<scenario>/latest`` or a scenario folder (its latest run).

    Returns
    -------
    RunResult
        ``solution`` is None (the solver's internals are not stored); ``scenario``
        is None when ``config.resolved.yaml`` no longer validates (a warning says why).

    Raises
    ------
    DataError
        The folder is missing, not a run folder, or a file in it cannot be read.
    """
    folder = load_run_folder(path)
    plan_path = folder.path / "plan.csv"
    if not plan_path.is_file():
        raise DataError(f"{folder.path}: no plan.csv in this run folder. Re-run the scenario.")
    try:
        plan = pd.read_csv(plan_path, dtype=_CODE_COLUMNS, encoding=CSV_ENCODING)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{plan_path}: cannot read the plan ({exc}). Re-run the scenario.") from None
    if "quarter" in plan:  # existing stores have no opening quarter: "" as in the fresh plan
        plan["quarter"] = plan["quarter"].fillna("")
    scenario: Scenario | None = None
    if folder.config:
        from planner.config.load import load_scenario

        try:
            scenario = load_scenario(data=folder.config)
        except ConfigError as exc:
            log.warning("%s: config.resolved.yaml does not validate with this version (%s)", folder.path, exc)
    tables = read_kpi_tables(folder.path)
    for level, table in kpi_tables(folder.kpis, {}).items():
        tables.setdefault(level, table)
    rollout = read_rollout(folder.path)
    gplan = plan_geodataframe(plan)
    result = RunResult(
        path=folder.path, scenario=scenario, plan=gplan, kpis=folder.kpis, solution=None, rollout=rollout,
        map_path=folder.path / "map.html", timings=dict((folder.info or {}).get("timings_s") or {}), tables=tables,
    )
    if (folder.path / GPKG_NAME).is_file():
        result.map_factory = lambda: _map_from_folder(folder.path, gplan, folder.kpis, scenario, rollout)
    return result


def _map_from_folder(
    path: Path, plan: pd.DataFrame, kpis: dict[str, Any], scenario: Scenario | None, rollout: pd.DataFrame | None
) -> folium.Map:
    """The map of a loaded run, drawn from ``plan.gpkg``'s admin layers (no grid, no rivals)."""
    import pyogrio

    from planner.geodata.layers import Layers
    from planner.report.leaflet import embed_layer_data
    from planner.report.maps import build_map

    units: dict[str, gpd.GeoDataFrame | None] = {}
    present = {name for name, _ in pyogrio.list_layers(path / GPKG_NAME)}
    for level, layer in LAYER_OF_LEVEL.items():
        if layer not in present:
            units[level] = None
            continue
        gdf = pyogrio.read_dataframe(path / GPKG_NAME, layer=layer)
        units[level] = gdf.rename(columns={f"{level}_code": "code", level: "name"})
    layers = Layers(
        provinces=units["province"], cities=units["city"], counties=units["county"],  # type: ignore[arg-type]
        cells=None, candidates=None, own_stores=None, competitors=None,  # type: ignore[arg-type]
    )
    return embed_layer_data(
        build_map(layers=layers, plan=plan, kpis=kpis, scenario=scenario or Scenario(), rollout=rollout)
    )
