"""The expansion team's own candidate sites: a site file read, checked and tagged with geography.

A site file has the columns of a store file (``id``, ``name``, ``lat``, ``lon``; read
and checked by :func:`planner.geodata.stores.read_store_file`: encodings, duplicates,
missing or non-numeric coordinates, swapped lat/lon, points outside China) and
optionally ``formats`` (``;``-separated, e.g. ``flagship;standard``), ``capex_cny``,
``opex_cny_per_year`` (the site's own costs, which win over the defaults),
``available_from`` (a quarter label such as ``2027Q3``: the site cannot open
earlier) and ``status`` (``candidate``, or ``signed``: the lease is signed and the
site must open). Coordinates may be WGS-84, GCJ-02 (AMap, Tencent) or BD-09
(Baidu), converted on read. Every problem is a :class:`~planner.errors.DataError`
naming the file, the row and the column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import DataError
from planner.spatial import bd09_to_wgs84

from ._sources import WGS84
from .stores import read_store_file, read_table, row_label

__all__ = ["read_site_file", "SITE_COLUMNS", "STATUSES"]

#: Columns of the table :func:`read_site_file` returns (beside ``geometry``).
SITE_COLUMNS = ("site_id", "name", "lat", "lon", "formats", "capex_cny", "opex_cny_per_year",
                "available_from", "status")
STATUSES = ("candidate", "signed")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def _quarter_index(label: str, start_quarter: str) -> int:
    """Quarters from ``start_quarter`` to ``label`` (both ``YYYYQn``)."""
    y0, q0 = int(start_quarter[:4]), int(start_quarter[5])
    m = _QUARTER.match(label)
    assert m is not None
    return (int(m.group(1)) - y0) * 4 + int(m.group(2)) - q0


def read_site_file(
    path: str | Path,
    *,
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84",
    formats: list[str],
    start_quarter: str,
    quarters: int,
) -> gpd.GeoDataFrame:
    """Read and check the team's candidate-site file.

    Parameters
    ----------
    path
        CSV (UTF-8, BOM or GBK), GeoJSON, GeoPackage or Parquet.
    crs
        Coordinates of the file; GCJ-02 and BD-09 are converted to WGS-84.
    formats
        The scenario's format names (``formats`` entries must be among them).
    start_quarter, quarters
        The rollout horizon: ``available_from`` must fall inside it.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`SITE_COLUMNS` in file order: ``formats`` a ``;``-joined string ('' =
        every format), costs float (NaN = the scenario's default), ``available_from``
        the 0-based quarter index (0 = from the start), ``status``.

    Raises
    ------
    DataError
        Naming the file, the row and the column.
    """
    path = Path(path).expanduser()
    role = "candidate sites"
    base = read_store_file(path, crs="gcj02" if crs == "gcj02" else "wgs84", role=role)
    lon, lat = base["lon"].to_numpy(dtype=float), base["lat"].to_numpy(dtype=float)
    if crs == "bd09":
        lon, lat = bd09_to_wgs84(lon, lat)
    raw, kind = read_table(path, role)
    lower = {str(c).strip().lower(): c for c in raw.columns}

    def col(name: str) -> pd.Series | None:
        c = lower.get(name)
        return None if c is None else raw[c].astype(str).str.strip().replace({"nan": "", "None": ""})

    def fail(i: int, column: str, problem: str, fix: str) -> DataError:
        return DataError(f"{role} file {path}: {row_label(kind, i)}, column {column!r}: {problem}. {fix}")

    n = len(base)
    fmt_col = col("formats")
    fmt_out = np.full(n, "", dtype=object)
    if fmt_col is not None:
        known = set(formats)
        for i, text in enumerate(fmt_col):
            names = [f.strip() for f in text.split(";") if f.strip()]
            bad = [f for f in names if f not in known]
            if bad:
                raise fail(i, "formats", f"unknown format(s) {bad}",
                           f"Use formats of the scenario's formats.catalogue: {sorted(known)}, ';'-separated.")
            fmt_out[i] = ";".join(names)
    costs: dict[str, np.ndarray] = {}
    for name in ("capex_cny", "opex_cny_per_year"):
        c = col(name)
        vals = np.full(n, np.nan)
        if c is not None:
            for i, text in enumerate(c):
                if text == "":
                    continue
                try:
                    x = float(text.replace(",", ""))
                except ValueError:
                    raise fail(i, name, f"{text!r} is not a number", "Give CNY as a plain number, or leave it empty "
                               "for the scenario's default.") from None
                if not np.isfinite(x) or x < 0:
                    raise fail(i, name, f"{text!r} is negative or not finite", "Costs are CNY >= 0.")
                vals[i] = x
        costs[name] = vals
    avail = np.zeros(n, dtype=np.int64)
    a_col = col("available_from")
    if a_col is not None:
        for i, text in enumerate(a_col):
            if text == "":
                continue
            label = text.upper()
            if not _QUARTER.match(label):
                raise fail(i, "available_from", f"{text!r} is not a quarter label", "Write it as YYYYQn, e.g. 2027Q3.")
            q = _quarter_index(label, start_quarter)
            if q >= quarters:
                raise fail(i, "available_from", f"{label} is after the rollout's horizon "
                           f"({start_quarter} + {quarters} quarters)",
                           "Remove the site or lengthen rollout.quarters.")
            avail[i] = max(q, 0)  # available before the start: available from the start
    status = np.full(n, "candidate", dtype=object)
    s_col = col("status")
    if s_col is not None:
        for i, text in enumerate(s_col):
            if text == "":
                continue
            if text.lower() not in STATUSES:
                raise fail(i, "status", f"{text!r} is not a status", "Use 'candidate' or 'signed'.")
            status[i] = text.lower()
    out = gpd.GeoDataFrame(
        {
            "site_id": base["store_id"].to_numpy(dtype=object),
            "name": base["name"].to_numpy(dtype=object),
            "lat": lat,
            "lon": lon,
            "formats": fmt_out,
            "capex_cny": costs["capex_cny"],
            "opex_cny_per_year": costs["opex_cny_per_year"],
            "available_from": avail,
            "status": status,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )
    out.attrs["row_kind"] = kind
    return out
