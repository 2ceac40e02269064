"""The command's tables: ``areas.csv``, the ``area_id`` of each store, ``kpis.json["command"]``, the map's area shapes.

Reads the territories and the rollout a run produced; never solves. An area's
``formed`` quarter is the quarter its first store opens (empty = before the
horizon), its ``manager`` ``existing`` (an area manager in post at the start),
``promoted`` (a store manager with ``command.promotion_after_quarters`` in the
job) or ``hired`` (from outside): each quarter's new area managers join the
spare ones, and the areas formed that quarter take them first in, first posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.optimise.command import territory_stats
from planner.optimise.command_types import CommandParams, Territories, TerritoryInstance

__all__ = ["CommandPlan", "area_ids", "areas_table", "command_kpis", "area_shapes"]


@dataclass
class CommandPlan:
    """The territories of a run and how they tie back to sites and counties."""

    tinst: TerritoryInstance
    territories: Territories
    params: CommandParams
    site_area: np.ndarray  # int[M] area index of every site of the instance (-1 = none)
    ids: list[str]  # area_id per area index
    seconds: float


def area_ids(terr: Territories, province_codes: list[str]) -> list[str]:
    """``<province code>-A<nn>``, numbered within each province in the territories' order."""
    out, seen = [], {}  # type: ignore[var-annotated]
    for p in terr.area_province.tolist():
        seen[p] = seen.get(p, 0) + 1
        out.append(f"{province_codes[p]}-A{seen[p]:02d}")
    return out


def _formation(cp: CommandPlan, open_sites: np.ndarray, quarter: np.ndarray | None) -> np.ndarray:
    """Per area, its formation quarter index (-1 = before the horizon or no rollout)."""
    formed = np.full(cp.territories.n_areas, 1 << 30, dtype=np.int64)
    a = cp.site_area[np.asarray(open_sites, dtype=np.int64)]
    q = np.full(a.size, -1) if quarter is None else np.asarray(quarter, dtype=np.int64)
    ok = a >= 0
    np.minimum.at(formed, a[ok], q[ok])
    return np.where(formed == 1 << 30, -1, formed)


def areas_table(
    cp: CommandPlan, open_sites: np.ndarray, quarter: np.ndarray | None, labels: list[str] | None,
    promotions: np.ndarray | None = None, area_hires: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per area: ``area_id``, ``province_code``, ``counties`` (``;``-separated GB codes), ``stores``,
    ``workload``, ``formed`` (quarter label, empty = before the horizon), ``manager``, ``exception``."""
    terr, tinst = cp.territories, cp.tinst
    codes = np.asarray(tinst.county_codes)
    ca = terr.county_area
    formed = _formation(cp, open_sites, quarter)
    managers = np.full(terr.n_areas, "existing", dtype=object)
    if promotions is not None and area_hires is not None:
        pre = int(np.sum(formed < 0))
        a0 = pre if cp.params.initial_area_managers is None else int(cp.params.initial_area_managers)
        pool: list[str] = ["existing"] * a0  # first in, first posted
        for a in np.flatnonzero(formed < 0).tolist():
            managers[a] = pool.pop(0) if pool else "existing"
        for t in range(len(promotions)):
            pool += ["promoted"] * int(promotions[t]) + ["hired"] * int(area_hires[t])
            for a in np.flatnonzero(formed == t).tolist():
                managers[a] = pool.pop(0) if pool else ""
    stores = np.bincount(ca[ca >= 0], weights=tinst.county_stores[ca >= 0], minlength=terr.n_areas)
    work = np.bincount(ca[ca >= 0], weights=tinst.county_workload[ca >= 0], minlength=terr.n_areas)
    prov_codes = [c.split("-A")[0] for c in cp.ids]
    return pd.DataFrame({
        "area_id": cp.ids,
        "province_code": prov_codes,
        "counties": [";".join(sorted(codes[ca == a].tolist())) for a in range(terr.n_areas)],
        "centre_county": [str(codes[c]) for c in terr.area_centre.tolist()],
        "stores": stores.astype(np.int64),
        "workload": np.round(work, 3),
        "formed": ["" if f < 0 or labels is None else labels[f] for f in formed.tolist()],
        "manager": managers,
        "exception": terr.area_exception,
    })


def command_kpis(cp: CommandPlan) -> dict[str, Any]:
    """``kpis["command"]``: areas, stores per area, workload balance, compactness, gap (its time is in run.json)."""
    terr = cp.territories
    stats = territory_stats(cp.tinst, terr)
    regular = np.array([e == "" for e in terr.area_exception], dtype=bool)
    out: dict[str, Any] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()}
    if regular.any() and not regular.all():
        sub = Territories(
            county_area=np.where(np.isin(terr.county_area, np.flatnonzero(regular)),
                                 np.cumsum(regular)[np.maximum(terr.county_area, 0)] - 1, -1),
            area_province=terr.area_province[regular], area_centre=terr.area_centre[regular],
            area_exception=[""] * int(regular.sum()), objective=terr.objective, bound=terr.bound, gap=terr.gap,
            seconds=terr.seconds, status=terr.status,
        )
        reg = territory_stats(cp.tinst, sub)
        out["without_exceptions"] = {k: round(float(reg[k]), 4) for k in
                                     ("areas", "workload_max_min_ratio", "workload_cv", "compactness_km")}
    out.update({
        "exceptions": {e: terr.area_exception.count(e) for e in sorted(set(terr.area_exception)) if e},
        "objective": None if np.isnan(terr.objective) else round(terr.objective, 3),
        "bound": None if terr.bound is None else round(terr.bound, 3),
        "gap": None if terr.gap is None else round(terr.gap, 5),
        "status": terr.status,
        "min_stores_per_area": cp.params.min_stores_per_area,
        "max_stores_per_area": cp.params.max_stores_per_area,
        "notes": terr.notes,
    })
    return out


def area_shapes(cp: CommandPlan, counties: gpd.GeoDataFrame, areas: pd.DataFrame) -> gpd.GeoDataFrame:
    """Each area's county union (WGS-84) with its ``areas.csv`` row."""
    ca = cp.territories.county_area
    c = counties.reset_index(drop=True)[["geometry"]].copy()
    c["area"] = ca
    c = c[c["area"] >= 0]
    shapes = c.dissolve(by="area").reset_index()
    shapes = shapes.merge(areas.reset_index(names="area"), on="area")
    return gpd.GeoDataFrame(shapes.drop(columns="area"), geometry="geometry", crs=counties.crs)
