"""The tables and GIS layers of a run folder, built from the plan and the KPIs.

A run's outputs for spreadsheets and GIS are frames, built here and written by
:mod:`planner.pipeline` (the only writer): ``plan.csv`` and ``kpis_<level>.csv``
(UTF-8 with a byte-order mark, so Excel on a Chinese Windows reads the names),
and ``plan.gpkg`` with one layer per entry of :attr:`RunOutputs.layers`:
``stores`` (every ``plan.csv`` column, point geometry, EPSG:4326) and
``provinces`` / ``cities`` / ``counties`` (unit polygons with the columns of
``kpis_<level>.csv``). Every layer is built from the same frame as its CSV, so a
column added to the plan reaches the GeoPackage too, and another layer is one
:meth:`RunOutputs.add_layer` call. Optional GCJ-02 / BD-09 coordinate columns
(``output.extra_crs``) come from :mod:`planner.spatial`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.report.kpis import ADMIN_LEVELS, admin_units, gb_codes, unit_kpi_table
from planner.spatial import wgs84_to_bd09, wgs84_to_gcj02

__all__ = [
    "CSV_ENCODING", "GPKG_NAME", "KPI_LEVELS", "LAYER_OF_LEVEL", "RunOutputs", "admin_layer", "kpi_tables",
    "nation_table", "plan_geodataframe", "run_outputs", "with_extra_crs",
]

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: Excel (also on a Chinese Windows) then reads UTF-8, pandas and QGIS too."""
GPKG_NAME = "plan.gpkg"
KPI_LEVELS: tuple[str, ...] = ("nation", "province", "city", "county", "tier")
"""Levels of :meth:`planner.RunResult.kpi_table` and of the ``kpis_<level>.csv`` files."""
LAYER_OF_LEVEL = {"province": "provinces", "city": "cities", "county": "counties"}
WGS84 = "EPSG:4326"

_CONVERTERS = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def with_extra_crs(plan: pd.DataFrame, extra_crs: Iterable[str]) -> pd.DataFrame:
    """The plan with ``lon_<crs>``, ``lat_<crs>`` columns for each of ``extra_crs`` (``gcj02``, ``bd09``).

    ``lat`` / ``lon`` stay WGS-84; the extra columns are rounded like them (6 decimals, ~0.1 m).
    """
    out = plan.copy()
    for crs in extra_crs:
        lon, lat = _CONVERTERS[crs](out["lon"].to_numpy(dtype=float), out["lat"].to_numpy(dtype=float))
        out[f"lon_{crs}"] = np.round(lon, 6)
        out[f"lat_{crs}"] = np.round(lat, 6)
    return out


def plan_geodataframe(plan: pd.DataFrame) -> gpd.GeoDataFrame:
    """The plan table as a GeoDataFrame: every column kept, Point geometry from ``lon``/``lat``, EPSG:4326."""
    if isinstance(plan, gpd.GeoDataFrame):
        return plan
    return gpd.GeoDataFrame(
        plan.copy(), geometry=gpd.points_from_xy(plan["lon"].astype(float), plan["lat"].astype(float)), crs=WGS84
    )


def nation_table(kpis: Mapping[str, Any]) -> pd.DataFrame:
    """One row of the national KPIs: every scalar of ``kpis.json``, nested mappings flattened with ``_``.

    Lists (``per_province``, ``per_tier``, per-quarter series) are left out:
    they are tables of their own.
    """
    row: dict[str, Any] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, Mapping):
                walk(key + "_", v)
            elif v is None or isinstance(v, str | bool | int | float | np.integer | np.floating):
                row[key] = v
    walk("", kpis)
    return pd.DataFrame([row])


def kpi_tables(kpis: Mapping[str, Any], units: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The KPI table of every level: nation, province and tier from ``kpis``, city and county from ``units``."""
    out = {"nation": nation_table(kpis), "province": pd.DataFrame(kpis.get("per_province") or [])}
    for level in ("city", "county"):
        if level in units:
            out[level] = units[level]
    out["tier"] = pd.DataFrame(kpis.get("per_tier") or [])
    return out


def admin_layer(units: gpd.GeoDataFrame, table: pd.DataFrame, level: str) -> gpd.GeoDataFrame:
    """Unit polygons with one level's KPI columns (the rows of ``kpis_<level>.csv``, in its order)."""
    geom = gpd.GeoSeries(units.geometry.to_numpy(), index=gb_codes(units["code"]).to_numpy(), crs=units.crs)
    codes = table[f"{level}_code"].astype(str).to_numpy()
    layer = gpd.GeoDataFrame(table.reset_index(drop=True).copy(), geometry=geom.reindex(codes).to_numpy(),
                             crs=units.crs or WGS84)
    return layer.to_crs(WGS84) if layer.crs is not None and not layer.crs.equals(WGS84) else layer


@dataclass
class RunOutputs:
    """What a run writes for spreadsheets and GIS, as frames (the pipeline writes them).

    plan   : the plan table, exactly ``plan.csv`` (also the ``stores`` layer)
    tables : KPI level -> table, written as ``kpis_<level>.csv``
    layers : GeoPackage layer name -> GeoDataFrame (EPSG:4326), written to ``plan.gpkg``
    """

    plan: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)

    def add_layer(self, name: str, frame: gpd.GeoDataFrame) -> None:
        """Add (or replace) a GeoPackage layer, e.g. ``outputs.add_layer("areas", areas_gdf)``."""
        if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
            raise ValueError(f"GeoPackage layer {name!r}: give a GeoDataFrame with a CRS")
        self.layers[name] = frame.to_crs(WGS84)

    def csv_files(self) -> dict[str, pd.DataFrame]:
        """File name -> frame of every CSV: ``plan.csv`` and ``kpis_<level>.csv``."""
        return {"plan.csv": self.plan, **{f"kpis_{level}.csv": t for level, t in self.tables.items()}}


def run_outputs(plan: pd.DataFrame, kpis: Mapping[str, Any], *, built: Any, sol: Any, layers: Any) -> RunOutputs:
    """The tables and layers of a solved run.

    Parameters
    ----------
    plan : pandas.DataFrame
        The plan table as it goes to ``plan.csv`` (extra CRS columns included).
    kpis : mapping
        ``kpis.json`` (``per_province`` and ``per_tier`` become their tables unchanged).
    built, sol, layers
        The instance, solution and geodata layers (city and county KPIs are computed from them).

    Returns
    -------
    RunOutputs
        ``layers`` holds ``stores``, ``provinces``, ``cities``, ``counties``.
    """
    units = {level: unit_kpi_table(level, built, sol, plan, layers) for level in ("city", "county")}
    tables = kpi_tables(kpis, units)
    out = RunOutputs(plan=plan, tables=tables)
    out.add_layer("stores", plan_geodataframe(plan))
    for level in ADMIN_LEVELS:
        if len(tables[level]):
            out.add_layer(LAYER_OF_LEVEL[level], admin_layer(admin_units(layers, level), tables[level], level))
    return out
