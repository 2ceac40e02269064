"""Which counties touch: the county graph the area territories are drawn on.

Two counties of the same province are neighbours when their boundaries share a
border (they intersect once each is grown by :data:`BORDER_TOLERANCE_KM`, which
absorbs the slivers and gaps of the boundary data) or, for a county cut off from
the rest of its province by the sea (Zhoushan's islands, Pingtan, Nan'ao), when
no more than :data:`WATER_LINK_KM` of water separates them. Everything is
measured in the project's China Albers CRS (kilometres). The graph costs about a
second for the whole country, so it is computed on demand rather than cached.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.spatial import CHINA_ALBERS

__all__ = ["BORDER_TOLERANCE_KM", "WATER_LINK_KM", "county_adjacency", "county_centroids_km"]

#: Buffer (km) under which two boundaries count as a shared border.
BORDER_TOLERANCE_KM = 0.2
#: Most water (km) an island county may be linked across.
WATER_LINK_KM = 30.0


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    return np.asarray(connected_components(g, directed=False)[1], dtype=np.int64)


def county_adjacency(counties: gpd.GeoDataFrame) -> pd.DataFrame:
    """Neighbouring county pairs inside each province.

    Parameters
    ----------
    counties
        The ``counties`` layer (``code``, ``province_code``, ``geometry`` in WGS-84).

    Returns
    -------
    DataFrame
        One row per unordered pair: ``a``, ``b`` (row positions in ``counties``,
        ``a < b``), ``code_a``, ``code_b``, ``kind`` (``border`` or ``water``) and
        ``gap_km`` (0 for a border, the water crossed for a water link).
    """
    c = counties[["code", "province_code", "geometry"]].reset_index(drop=True).to_crs(CHINA_ALBERS)
    c["pos"] = np.arange(len(c))
    grown = c.copy()
    grown["geometry"] = c.buffer(BORDER_TOLERANCE_KM)
    j = gpd.sjoin(grown, c, predicate="intersects")
    j = j[(j["pos_left"] < j["pos_right"]) & (j["province_code_left"] == j["province_code_right"])]
    a = j["pos_left"].to_numpy(dtype=np.int64)
    b = j["pos_right"].to_numpy(dtype=np.int64)
    rows = [pd.DataFrame({"a": a, "b": b, "kind": "border", "gap_km": 0.0})]
    comp = _components(len(c), a, b)
    # water links: a component of a province that is not its largest reaches across the sea
    for _prov, idx in c.groupby("province_code").groups.items():
        pos = c.loc[idx, "pos"].to_numpy()
        comps, sizes = np.unique(comp[pos], return_counts=True)
        if comps.size < 2:
            continue
        main = comps[np.argmax(sizes)]
        for k in comps[comps != main]:
            mine = c.iloc[pos[comp[pos] == k]]
            others = c.iloc[pos[comp[pos] != k]]
            near = gpd.sjoin_nearest(mine, others, max_distance=WATER_LINK_KM, distance_col="gap_km")
            if near.empty:
                continue
            lo = np.minimum(near["pos_left"], near["pos_right"]).to_numpy(dtype=np.int64)
            hi = np.maximum(near["pos_left"], near["pos_right"]).to_numpy(dtype=np.int64)
            rows.append(pd.DataFrame({"a": lo, "b": hi, "kind": "water", "gap_km": near["gap_km"].to_numpy()}))
    out = pd.concat(rows, ignore_index=True).drop_duplicates(["a", "b"]).sort_values(["a", "b"])
    out = out.reset_index(drop=True)
    codes = c["code"].astype(str).to_numpy()
    out.insert(2, "code_a", codes[out["a"].to_numpy()])
    out.insert(3, "code_b", codes[out["b"].to_numpy()])
    return out


def county_centroids_km(counties: gpd.GeoDataFrame) -> np.ndarray:
    """float[C, 2] each county's centroid in the China Albers CRS (km), in the layer's row order."""
    cent = counties.geometry.to_crs(CHINA_ALBERS).centroid
    return np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
