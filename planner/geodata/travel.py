"""Reading a team's own travel costs (``data.travel_costs``) between grid cells and sites.

A travel-cost file is CSV (UTF-8, UTF-8 with BOM or GBK) or Parquet with one row
per (cell, site) pair: the cell as an H3 index (column ``cell``) or as a point
(``cell_lat``, ``cell_lon``, WGS-84, snapped to the scenario's grid cell), the
site (``site_id``: a candidate's ``site_id`` such as ``c-<h3>`` / ``seat-<county
code>``, or an own store's id) and the cost, either ``minutes`` or ``km`` (road
kilometres), never both. The instance uses these costs instead of straight-line
distances for the pairs given (:mod:`planner.instance`); this module only reads
and checks the file. Every problem is a :class:`~planner.errors.DataError`
naming the file, the column and the first few rows.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import h3
import numpy as np
import pandas as pd

from planner.errors import DataError

from .grid import cells_to_str, latlng_to_cells
from .layers import Layers, TravelCosts
from .stores import read_table, row_label

__all__ = ["read_travel_costs", "travel_costs_for_layers"]

log = logging.getLogger(__name__)

ROLE = "travel costs"
_ALIASES = {
    "cell": ("cell", "h3", "cell_h3", "cell_id"),
    "cell_lat": ("cell_lat", "lat"),
    "cell_lon": ("cell_lon", "lon", "lng"),
    "site_id": ("site_id", "site", "store_id"),
    "minutes": ("minutes", "min", "travel_min", "time_min"),
    "km": ("km", "road_km", "distance_km"),
}
_SHOW = 5


def _columns(df: pd.DataFrame) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in df.columns}
    found: dict[str, str] = {}
    for key, names in _ALIASES.items():
        for n in names:
            if n in lower:
                found[key] = lower[n]
                break
    return found


def _rows(kind: str, idx: Iterable[int], values: pd.Series | None = None) -> str:
    idx = list(idx)
    parts = [row_label(kind, i) + (f" ({values.iat[i]!r})" if values is not None else "") for i in idx[:_SHOW]]
    return ", ".join(parts) + (f" and {len(idx) - _SHOW} more" if len(idx) > _SHOW else "")


def _numbers(df: pd.DataFrame, col: str, path: Path, kind: str, what: str) -> np.ndarray:
    text = df[col].astype(str).str.strip()
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(num))
    if len(bad):
        raise DataError(
            f"{ROLE} file {path}: column {col!r} has missing or non-numeric values at {_rows(kind, bad, text)}. "
            f"Give {what} as a number on every row (drop the pairs you do not know: "
            "data.travel_costs_missing decides what they cost)."
        )
    return num


def read_travel_costs(
    path: str | Path, *, cells: Iterable[str], sites: Iterable[str], resolution: int
) -> TravelCosts:
    """Read and check a travel-cost file against the scenario's grid cells and sites.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet with ``cell`` (H3) or ``cell_lat``/``cell_lon``, ``site_id``
        and one of ``minutes`` / ``km``.
    cells : iterable of str
        The scenario's grid cells (H3 hex strings, ``layers.cells["h3"]``).
    sites : iterable of str
        Every site id a pair may name (candidate ``site_id`` and own ``store_id``).
    resolution : int
        H3 resolution of the grid (``grid.h3_resolution``); points are snapped to it.

    Returns
    -------
    TravelCosts
        ``table`` (``h3``, ``site_id``, ``cost``), ``unit`` (``'min'`` or ``'km'``), ``path``.

    Raises
    ------
    DataError
        Missing or unreadable file, no rows, missing columns, both or neither of
        minutes/km, invalid or unknown cells, unknown site ids, missing,
        non-numeric or negative costs, and duplicate (cell, site) pairs.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{ROLE} file {path}: not found. Check data.travel_costs (relative paths start at {Path.cwd()}).")
    df, kind = read_table(path, ROLE)
    if len(df) == 0:
        raise DataError(f"{ROLE} file {path}: the file has a header but no pairs. Add at least one row.")
    cols = _columns(df)
    found = list(map(str, df.columns))
    has_cell = "cell" in cols
    has_point = "cell_lat" in cols and "cell_lon" in cols
    if not (has_cell or has_point) or "site_id" not in cols:
        raise DataError(
            f"{ROLE} file {path}: missing column(s); found {found}. A travel-cost file needs a cell "
            "(column cell with the H3 index, or cell_lat and cell_lon), site_id, and minutes or km."
        )
    if ("minutes" in cols) == ("km" in cols):
        which = "both minutes and km" if "minutes" in cols else "neither minutes nor km"
        raise DataError(
            f"{ROLE} file {path}: the file has {which} (found {found}). Give exactly one cost column: "
            "minutes (travel time) or km (road distance)."
        )
    unit_key = "minutes" if "minutes" in cols else "km"

    grid = pd.Index(pd.Series(list(cells), dtype=object).astype(str))
    if has_cell:
        raw = df[cols["cell"]].astype(str).str.strip().str.lower()
        valid = np.array([bool(h3.is_valid_cell(c)) for c in raw], dtype=bool)
        bad = np.flatnonzero(~valid)
        if len(bad):
            raise DataError(
                f"{ROLE} file {path}: column {cols['cell']!r} has values that are not H3 cells at "
                f"{_rows(kind, bad, raw)}. Give the cell's H3 index (e.g. 8741a... at grid.h3_resolution) "
                "or use cell_lat and cell_lon columns instead."
            )
        res = np.array([h3.get_resolution(c) for c in raw])
        off = np.flatnonzero(res != resolution)
        if len(off):
            raise DataError(
                f"{ROLE} file {path}: column {cols['cell']!r} has H3 cells of resolution {int(res[off[0]])} at "
                f"{_rows(kind, off)}; the scenario's grid is resolution {resolution} (grid.h3_resolution). "
                "Re-export the costs at that resolution or set grid.h3_resolution to match."
            )
        cell = raw
    else:
        lat = _numbers(df, cols["cell_lat"], path, kind, "the cell's latitude (WGS-84 degrees)")
        lon = _numbers(df, cols["cell_lon"], path, kind, "the cell's longitude (WGS-84 degrees)")
        cell = pd.Series(cells_to_str(latlng_to_cells(lat, lon, resolution)), index=df.index)
    unknown_cell = np.flatnonzero(~cell.isin(grid).to_numpy())
    if len(unknown_cell):
        shown = cell if has_cell else None
        raise DataError(
            f"{ROLE} file {path}: {len(unknown_cell)} row(s) name a cell outside this scenario's grid at "
            f"{_rows(kind, unknown_cell, shown)}. Keep only the scenario's cells (grid.provinces, "
            "grid.min_cell_population decide which exist) or fix the cell column."
        )

    site = df[cols["site_id"]].astype(str).str.strip()
    known_sites = pd.Index(pd.Series(list(sites), dtype=object).astype(str))
    unknown_site = np.flatnonzero(~site.isin(known_sites).to_numpy())
    if len(unknown_site):
        first = site.iat[int(unknown_site[0])]
        hint = difflib.get_close_matches(first, list(known_sites[:50000]), n=1)
        raise DataError(
            f"{ROLE} file {path}: column {cols['site_id']!r} names unknown site(s) at "
            f"{_rows(kind, unknown_site, site)}" + (f"; did you mean {hint[0]!r}?" if hint else ".")
            + " Site ids are candidate ids (c-<h3 cell>, seat-<county code>) and own store ids, as in plan.csv."
        )

    what = "the travel time in minutes" if unit_key == "minutes" else "the road distance in km"
    cost = _numbers(df, cols[unit_key], path, kind, what)
    neg = np.flatnonzero(cost < 0)
    if len(neg):
        raise DataError(
            f"{ROLE} file {path}: column {cols[unit_key]!r} is negative at "
            f"{_rows(kind, neg, df[cols[unit_key]].astype(str))}. Costs are >= 0."
        )

    table = pd.DataFrame({"h3": cell.to_numpy(dtype=object), "site_id": site.to_numpy(dtype=object), "cost": cost})
    dup = table.duplicated(["h3", "site_id"], keep=False).to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        same = np.flatnonzero(
            ((table["h3"] == table["h3"].iat[first]) & (table["site_id"] == table["site_id"].iat[first])).to_numpy()
        )
        n_pairs = int(table[dup].drop_duplicates(["h3", "site_id"]).shape[0])
        raise DataError(
            f"{ROLE} file {path}: the pair (cell {table['h3'].iat[first]}, site {table['site_id'].iat[first]!r}) "
            f"appears more than once, at {_rows(kind, same)} ({n_pairs} duplicated pair(s) in all"
            + ("; points snapped to the same grid cell count as one cell" if not has_cell else "")
            + "). Keep one cost per pair."
        )
    unit: Literal["min", "km"] = "min" if unit_key == "minutes" else "km"
    log.info("travel costs: %d pairs in %s from %s", len(table), unit, path)
    return TravelCosts(table=table, unit=unit, path=str(path))


def travel_costs_for_layers(path: str | Path, layers: Layers, *, resolution: int) -> TravelCosts:
    """:func:`read_travel_costs` checked against a scenario's layers (its cells, candidates and own stores)."""
    sites = list(layers.candidates["site_id"].astype(str)) + list(layers.own_stores["store_id"].astype(str))
    return read_travel_costs(path, cells=layers.cells["h3"].astype(str), sites=sites, resolution=resolution)
