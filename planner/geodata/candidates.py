"""Candidate sites for new stores: populous grid cells and county seats.

A cell whose population reaches ``candidates.min_cell_population`` is a site
(``c-<h3>``, at the cell centre); with ``include_county_seats`` every county's
seat is one too (``seat-<county code>``, at the seat point), even when its cell
is already a site, because the seat is the natural place for a county's first
store. ``max_candidates`` keeps the most populous sites (a seat ranks by its
cell's population; ties by id, so the choice is stable).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config.models import CandidatesConfig

from ._sources import WGS84
from .grid import cells_to_str, latlng_to_cells

__all__ = ["build_candidates"]

COLUMNS = [
    "site_id", "h3", "kind", "county_code", "city_code", "province_code", "tier", "population", "lat", "lon",
]


def build_candidates(
    cells: pd.DataFrame, counties: pd.DataFrame, cfg: CandidatesConfig, *, resolution: int
) -> gpd.GeoDataFrame:
    """Candidate sites of a scenario.

    Parameters
    ----------
    cells : pandas.DataFrame
        The scenario's cells (``h3, county_code, city_code, province_code, tier,
        population, lat, lon``).
    counties : pandas.DataFrame
        The scenario's counties (``code, city_code, province_code, tier,
        seat_lat, seat_lon``).
    cfg : CandidatesConfig
        ``min_cell_population``, ``include_county_seats``, ``max_candidates``.
    resolution : int
        H3 resolution of the grid (for the seats' cells).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id, h3, kind, county_code, city_code, province_code, tier,
        population`` (people in the site's cell), ``lat, lon`` and Point geometry.
    """
    pick = cells[cells["population"] >= cfg.min_cell_population]
    parts = [
        pd.DataFrame(
            {
                "site_id": "c-" + pick["h3"].astype(str),
                "h3": pick["h3"].astype(str),
                "kind": "cell",
                **{c: pick[c].to_numpy() for c in ("county_code", "city_code", "province_code", "tier")},
                "population": pick["population"].to_numpy(dtype=float),
                "lat": pick["lat"].to_numpy(dtype=float),
                "lon": pick["lon"].to_numpy(dtype=float),
            }
        )
    ]
    if cfg.include_county_seats and len(counties):
        seat_h3 = cells_to_str(latlng_to_cells(counties["seat_lat"].to_numpy(), counties["seat_lon"].to_numpy(), resolution))
        seat_cells = cells[cells["h3"].isin(seat_h3)]
        cell_pop = pd.Series(seat_cells["population"].to_numpy(), index=seat_cells["h3"].to_numpy(dtype=object))
        parts.append(
            pd.DataFrame(
                {
                    "site_id": "seat-" + counties["code"].astype(str),
                    "h3": seat_h3,
                    "kind": "county_seat",
                    "county_code": counties["code"].to_numpy(),
                    **{c: counties[c].to_numpy() for c in ("city_code", "province_code", "tier")},
                    "population": cell_pop.reindex(seat_h3).fillna(0.0).to_numpy(dtype=float),
                    "lat": counties["seat_lat"].to_numpy(dtype=float),
                    "lon": counties["seat_lon"].to_numpy(dtype=float),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)[COLUMNS]
    if cfg.max_candidates is not None and len(out) > cfg.max_candidates:
        order = np.lexsort((out["site_id"].to_numpy(dtype=str), -out["population"].to_numpy()))
        out = out.iloc[order[: cfg.max_candidates]]
    out = out.sort_values("site_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs=WGS84)
