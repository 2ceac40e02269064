"""Reading a user's store file (own stores or a competitor's) and tagging it with geography.

A store file is CSV, GeoJSON, GeoPackage or (Geo)Parquet with columns ``id``,
``name``, ``lat``, ``lon`` and optionally ``format``. CSV may be UTF-8, UTF-8
with BOM, or GBK/GB18030 (as Excel saves it on a Chinese Windows). A
geographic file without ``lat``/``lon`` columns gives them from its point
geometry. Coordinates declared GCJ-02 (AMap, Tencent) are converted to WGS-84
on read with the standard published inverse (``fast_geocn.coord``, iterative,
≈0.5 m). Every problem is a :class:`~planner.errors.DataError` naming the file,
the column or row, and what to do.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from planner.errors import DataError
from planner.spatial import CHINA_ALBERS_M, gcj02_to_wgs84

from ._sources import WGS84

log = logging.getLogger(__name__)

__all__ = ["read_store_file", "read_table", "row_label", "tag_stores", "CHINA_BBOX"]

#: (min lon, min lat, max lon, max lat) of China including the South China Sea islands
CHINA_BBOX = (73.4, 3.3, 135.1, 53.6)
#: the mainland without the far southern islands: where nearly every store is
_MAINLAND_LAT = (18.0, 53.6)
_MAINLAND_LON = (73.4, 135.1)
#: a store this close to a county polygon (coastline generalisation) still counts as inside
NEAREST_COUNTY_TOLERANCE_M = 2000.0

_ALIASES = {
    "id": ("id", "store_id", "code", "编号", "门店编号", "门店id"),
    "name": ("name", "store_name", "名称", "门店名称", "店名"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "lon": ("lon", "lng", "long", "longitude", "经度", "x"),
    "format": ("format", "store_format", "业态", "店型"),
}
_ENCODINGS = ("utf-8-sig", "gb18030")


def _decode_csv(path: Path, role: str) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{role} file {path}: the file is empty. Give at least a header line and one store.")
    if b"\x00" in raw:
        raise DataError(
            f"{role} file {path}: this is not a text CSV (it contains binary data). "
            "Export the store list as CSV (UTF-8 or GBK), GeoJSON, GeoPackage or Parquet."
        )
    for enc in _ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
        except pd.errors.ParserError as exc:
            raise DataError(f"{role} file {path}: not a valid CSV ({exc}). Check quoting and separators.") from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"{role} file {path}: the file is empty.") from exc
    raise DataError(
        f"{role} file {path}: cannot decode the text as UTF-8 or GBK/GB18030. Save it as UTF-8 CSV."
    )


def _read_table(path: Path, role: str) -> tuple[pd.DataFrame, str]:
    """The file as a string table, plus how rows are named in messages."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return _decode_csv(path, role), "csv"
    try:
        if suffix in (".parquet", ".geoparquet", ".pq"):
            try:
                df: pd.DataFrame = gpd.read_parquet(path)
            except ValueError:  # plain Parquet without geo metadata
                df = pd.read_parquet(path)
        elif suffix in (".geojson", ".json", ".gpkg", ".shp", ".fgb"):
            df = pyogrio.read_dataframe(path)
        else:
            raise DataError(
                f"{role} file {path}: unknown file type {suffix!r}. Use CSV, GeoJSON, GeoPackage or Parquet."
            )
    except DataError:
        raise
    except Exception as exc:  # pyogrio / pyarrow raise many kinds
        raise DataError(f"{role} file {path}: cannot read it ({type(exc).__name__}: {exc}).") from exc
    if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns and len(df):
        geom = df.geometry
        if df.crs is not None and not df.crs.equals(WGS84) and df.crs.is_projected:
            geom = geom.to_crs(WGS84)
        cols = {str(c).lower() for c in df.columns}
        has_latlon = bool(cols & set(_ALIASES["lat"])) and bool(cols & set(_ALIASES["lon"]))
        if not has_latlon:
            bad = np.flatnonzero((geom.isna() | geom.is_empty | (geom.geom_type != "Point")).to_numpy())
            if len(bad):
                raise DataError(
                    f"{role} file {path}: {_row_label('record', int(bad[0]))} has no point geometry "
                    f"({len(bad)} record(s) in all) and the file has no lat/lon columns. Give every store "
                    "a Point geometry or add lat and lon columns."
                )
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
            df["lat"], df["lon"] = geom.y.to_numpy(), geom.x.to_numpy()
        else:
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
    return df.astype(object), "record"


def _row_label(kind: str, i: int) -> str:
    # CSV: the line number a spreadsheet shows (header is line 1); else 1-based record
    return f"line {i + 2}" if kind == "csv" else f"record {i + 1}"


def _pick_columns(df: pd.DataFrame, path: Path, role: str) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in df.columns}
    found: dict[str, str] = {}
    for key, names in _ALIASES.items():
        for n in names:
            if n.lower() in lower:
                found[key] = lower[n.lower()]
                break
    missing = [k for k in ("id", "name", "lat", "lon") if k not in found]
    if missing:
        raise DataError(
            f"{role} file {path}: missing column(s) {missing}; found {list(map(str, df.columns))}. "
            "A store file needs columns id, name, lat, lon (optional format)."
        )
    return found


def _coords(df: pd.DataFrame, cols: dict[str, str], path: Path, role: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for key in ("lat", "lon"):
        raw = df[cols[key]]
        text = raw.astype(str).str.strip()
        num = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan)))
        if len(bad):
            rows = ", ".join(f"{_row_label(kind, i)} ({text.iat[i]!r})" for i in bad[:5])
            raise DataError(
                f"{role} file {path}: column {cols[key]!r} has missing or non-numeric values at {rows}"
                f"{' and more' if len(bad) > 5 else ''}. Give decimal degrees, e.g. 23.1291 / 113.2644."
            )
        out.append(num.to_numpy(dtype=float))
    lat, lon = out
    in_lat = (lat >= _MAINLAND_LAT[0]) & (lat <= _MAINLAND_LAT[1])
    in_lon = (lon >= _MAINLAND_LON[0]) & (lon <= _MAINLAND_LON[1])
    swapped = (~in_lat | ~in_lon) & (lon >= _MAINLAND_LAT[0]) & (lon <= _MAINLAND_LAT[1]) & (
        lat >= _MAINLAND_LON[0]
    ) & (lat <= _MAINLAND_LON[1])
    if swapped.any():
        i = np.flatnonzero(swapped)
        rows = ", ".join(f"{_row_label(kind, j)} (lat={lat[j]:g}, lon={lon[j]:g})" for j in i[:5])
        what = "all rows" if swapped.all() else f"{len(i)} row(s)"
        raise DataError(
            f"{role} file {path}: lat and lon look swapped in {what}: {rows}. In China latitude is 18–54 and "
            f"longitude 73–135: swap the {cols['lat']!r} and {cols['lon']!r} columns."
        )
    x0, y0, x1, y1 = CHINA_BBOX
    outside = ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
    if outside.any():
        i = np.flatnonzero(outside)
        rows = ", ".join(f"{_row_label(kind, j)} (lat={lat[j]:g}, lon={lon[j]:g})" for j in i[:5])
        raise DataError(
            f"{role} file {path}: {len(i)} store(s) lie outside China: {rows}. Fix the coordinates "
            "(WGS-84 or GCJ-02 decimal degrees) or remove the rows."
        )
    return lat, lon


def read_store_file(
    path: str | Path, *, crs: Literal["wgs84", "gcj02"] = "wgs84", role: str = "own stores"
) -> gpd.GeoDataFrame:
    """Read a user's store file.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, UTF-8-BOM or GBK), GeoJSON, GeoPackage or (Geo)Parquet with
        columns ``id``, ``name``, ``lat``, ``lon`` and optionally ``format``.
    crs : {'wgs84', 'gcj02'}
        Coordinate system of the numbers in the file; GCJ-02 is converted to WGS-84.
    role : str
        What the file is (``'own stores'``, ``'competitor huawei'``), for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        ``store_id`` (str), ``name`` (str), ``format`` (str, ``'standard'`` when
        absent), ``lat``, ``lon`` (WGS-84 degrees), ``geometry`` (Point, EPSG:4326),
        in file order.

    Raises
    ------
    DataError
        Missing or empty file, missing columns, duplicate ids, missing or
        non-numeric coordinates, lat/lon swapped, points outside China.
    """
    path = Path(path).expanduser()
    if crs not in ("wgs84", "gcj02"):
        raise DataError(f"{role} file {path}: unknown crs {crs!r}; use 'wgs84' or 'gcj02'.")
    if not path.is_file():
        raise DataError(
            f"{role} file {path}: not found. Check the path (relative paths start at {Path.cwd()})."
        )
    df, kind = _read_table(path, role)
    if len(df) == 0:
        raise DataError(f"{role} file {path}: the file has a header but no stores. Add at least one row.")
    cols = _pick_columns(df, path, role)
    ids = df[cols["id"]].astype(str).str.strip()
    blank = np.flatnonzero((ids == "") | ids.str.lower().isin(["nan", "none"]))
    if len(blank):
        rows = ", ".join(_row_label(kind, i) for i in blank[:5])
        raise DataError(f"{role} file {path}: column {cols['id']!r} is empty at {rows}. Give every store an id.")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        rows = ", ".join(_row_label(kind, int(i)) for i in np.flatnonzero((ids == first).to_numpy()))
        raise DataError(
            f"{role} file {path}: duplicate id {first!r} in column {cols['id']!r} at {rows}"
            f" ({dup.nunique()} duplicated id(s) in all). Make every id unique."
        )
    lat, lon = _coords(df, cols, path, role, kind)
    if crs == "gcj02":
        lon, lat = gcj02_to_wgs84(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    fmt = (
        df[cols["format"]].astype(str).str.strip().replace({"": "standard", "nan": "standard", "None": "standard"})
        if "format" in cols
        else pd.Series("standard", index=df.index)
    )
    out = gpd.GeoDataFrame(
        {
            "store_id": ids.to_numpy(dtype=object),
            "name": df[cols["name"]].astype(str).str.strip().to_numpy(dtype=object),
            "format": fmt.to_numpy(dtype=object),
            "lat": lat,
            "lon": lon,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )
    out.attrs["row_kind"] = kind  # how tag_stores names rows in its messages
    return out


def tag_stores(stores: gpd.GeoDataFrame, counties: gpd.GeoDataFrame, *, path: str | Path, role: str) -> pd.DataFrame:
    """County, city and province of each store, by the county polygon it lies in.

    Parameters
    ----------
    stores : geopandas.GeoDataFrame
        From :func:`read_store_file`.
    counties : geopandas.GeoDataFrame
        Every mainland county: ``code, city_code, province_code`` and polygons.
    path, role : str
        For messages.

    Returns
    -------
    pandas.DataFrame
        ``county_code, city_code, province_code`` aligned with ``stores``.

    Raises
    ------
    DataError
        Stores farther than ``NEAREST_COUNTY_TOLERANCE_M`` from every county.
    """
    pts = stores[["geometry"]].reset_index(drop=True)
    polys = counties[["code", "city_code", "province_code", "geometry"]].reset_index(drop=True)
    hit = gpd.sjoin(pts, polys, predicate="within", how="left")
    hit = hit[~hit.index.duplicated(keep="first")].sort_index()
    miss = hit["code"].isna().to_numpy()
    if miss.any():

        near = gpd.sjoin_nearest(
            pts[miss].to_crs(CHINA_ALBERS_M), polys.to_crs(CHINA_ALBERS_M),
            how="left", max_distance=NEAREST_COUNTY_TOLERANCE_M,
        )
        near = near[~near.index.duplicated(keep="first")]
        for col in ("code", "city_code", "province_code"):
            hit.loc[near.index, col] = near[col].to_numpy()
        still = hit["code"].isna().to_numpy()
        if still.any():
            kind = stores.attrs.get("row_kind", "record")
            rows = [
                f"{_row_label(kind, i)}: id {stores['store_id'].iat[i]!r} "
                f"(lat={stores['lat'].iat[i]:.5f}, lon={stores['lon'].iat[i]:.5f})"
                for i in np.flatnonzero(still)[:10]
            ]
            raise DataError(
                f"{role} file {path}: {int(still.sum())} store(s) lie in no mainland county (sea, Hong Kong, "
                "Macao, Taiwan or a wrong coordinate system). Fix or remove them; if the file is in AMap/Tencent "
                "coordinates set crs: gcj02.",
                problems=rows,
            )
    return pd.DataFrame(
        {
            "county_code": hit["code"].to_numpy(dtype=object),
            "city_code": hit["city_code"].to_numpy(dtype=object),
            "province_code": hit["province_code"].to_numpy(dtype=object),
        }
    )


def read_table(path: str | Path, role: str) -> tuple[pd.DataFrame, str]:
    """A user's file (CSV in UTF-8 / GBK, GeoJSON, GeoPackage, Parquet) as a table, and how its rows are named.

    The second value is ``'csv'`` (rows named by spreadsheet line) or ``'record'``;
    pass it to :func:`row_label`. Shared by the loaders of user files (stores, candidate
    sites, travel costs), so every file gets the same encodings and messages.
    """
    return _read_table(Path(path).expanduser(), role)


def row_label(kind: str, i: int) -> str:
    """How row ``i`` (0-based) of a table read by :func:`read_table` is named in messages."""
    return _row_label(kind, i)
