"""Community grid cells (H3) and the modelled spread of each county's people over them.

Which land is settled: every H3 cell within ``RURAL_RADIUS_KM`` (as grid rings)
of a GeoNames settlement or a county seat. Each settled cell belongs to the one
county whose polygon contains its centre (a GeoPandas spatial join); a county
left without a cell (a tiny urban district, an island) takes the cell of its
seat, or the nearest free one. Sea and unsettled land (deserts, high plateau)
get no cell.

How people are spread, per census unit (a county, or a pool of counties whose
2020 census unit was split, see :mod:`planner.geodata.population`):

- *urban* people go to the unit's settlements in proportion to their GeoNames
  population (at least ``MIN_SETTLEMENT_WEIGHT``; the county seat at least
  ``SEAT_DOMINANCE`` times all other settlements of its county together, so it
  holds two thirds or more of the county's urban people, as county towns do), and each settlement
  spreads its share over the unit's cells with an exponential distance decay
  whose length grows with the square root of the people it receives
  (``KERNEL_KM_PER_SQRT_PERSON``, clipped to ``KERNEL_MIN_KM``–``KERNEL_MAX_KM``,
  cut off at ``KERNEL_CUTOFF`` lengths);
- *rural* people are spread evenly over the unit's settled cells.

Cells below ``grid.min_cell_population`` are dropped and their people
re-spread over the unit's other cells (every county keeps its anchor cell), so
the cells of each census unit always sum to its census total. Everything is
vectorised over cells (scipy cKDTree for the kernel); the only Python loops run
over settlements or counties.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from planner.spatial import CHINA_ALBERS_M

from ._sources import WGS84

log = logging.getLogger(__name__)

__all__ = ["build_grid", "cells_to_str", "cell_centres", "latlng_to_cells", "RURAL_RADIUS_KM"]

#: settled land: cells within this distance (as H3 grid rings) of a settlement or seat
RURAL_RADIUS_KM = 15.0
#: weight of a settlement with no or a tiny GeoNames population (people)
MIN_SETTLEMENT_WEIGHT = 1000.0
#: a county seat's weight is at least this × the other settlements of its county together
SEAT_DOMINANCE = 2.0
#: decay length of a settlement's kernel = this × sqrt(people it receives), in km; the
#: peak density of an unclipped kernel is then 1 / (2π × this²) ≈ 25,000 people per km²
KERNEL_KM_PER_SQRT_PERSON = 0.0025
KERNEL_MIN_KM = 0.5
KERNEL_MAX_KM = 10.0
#: kernel cut-off, in decay lengths
KERNEL_CUTOFF = 2.5
#: the settled-land search runs at most at this resolution (children are taken below it)
_SETTLED_MAX_RES = 7

# Albers equal-area for China (planner.spatial): metres for distances of a few tens of km
_TO_METRES = Transformer.from_crs(WGS84, CHINA_ALBERS_M, always_xy=True)


def cells_to_str(cells: np.ndarray) -> np.ndarray:
    """H3 cells (uint64) as their canonical hex strings."""
    return np.array([f"{c:x}" for c in cells.tolist()], dtype=object)


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of H3 cell centres."""
    if len(cells) == 0:
        return np.zeros(0), np.zeros(0)
    ll = np.array([h3n.cell_to_latlng(int(c)) for c in cells.tolist()], dtype=float)
    return ll[:, 0], ll[:, 1]


def latlng_to_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells (uint64) of points."""
    return np.array(
        [h3n.latlng_to_cell(float(a), float(b), resolution) for a, b in zip(lat, lon, strict=True)],
        dtype=np.uint64,
    )


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort + compare: much faster than ``np.unique`` on big uint64 arrays)."""
    if len(values) == 0:
        return values
    v = np.sort(values)
    return v[np.concatenate([[True], v[1:] != v[:-1]])]


def _metres(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = _TO_METRES.transform(lon, lat)
    return np.column_stack([x, y])


def _settled_cells(seed_lat: np.ndarray, seed_lon: np.ndarray, resolution: int) -> np.ndarray:
    """Cells within ``RURAL_RADIUS_KM`` (in grid rings) of any seed point."""
    res_s = min(resolution, _SETTLED_MAX_RES)
    spacing_km = math.sqrt(3.0) * h3.average_hexagon_edge_length(res_s, unit="km")
    k = max(1, math.ceil(RURAL_RADIUS_KM / spacing_km))
    seeds = _unique(latlng_to_cells(seed_lat, seed_lon, res_s))
    disks = _unique(np.concatenate([h3n.grid_disk(int(c), k) for c in seeds.tolist()]).astype(np.uint64))
    if resolution > res_s:
        disks = np.concatenate([h3n.cell_to_children(int(c), resolution) for c in disks.tolist()]).astype(np.uint64)
    return disks


def _assign_to_counties(lat: np.ndarray, lon: np.ndarray, counties: gpd.GeoDataFrame) -> np.ndarray:
    """Index into ``counties`` of the polygon containing each cell centre, or -1.

    A spatial join without building a Point per cell: centres are bucketed in
    1° tiles; for each county, the centres in the tiles its bounding box
    touches are tested with shapely's vectorised, prepared ``contains_xy``. A
    centre on a shared edge goes to the first (lowest-code) county, like a
    sorted sjoin.
    """
    owner = np.full(len(lat), -1, dtype=np.int64)
    row = np.floor(lat).astype(np.int64)
    col = np.floor(lon).astype(np.int64)
    tile = row * 1000 + col
    order = np.argsort(tile, kind="stable")
    tiles_sorted = tile[order]
    geoms = counties.geometry.to_numpy()
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    for i, (geom, (x0, y0, x1, y1)) in enumerate(zip(geoms, bounds, strict=True)):
        parts = []
        for r in range(int(math.floor(y0)), int(math.floor(y1)) + 1):
            a = np.searchsorted(tiles_sorted, r * 1000 + math.floor(x0), side="left")
            b = np.searchsorted(tiles_sorted, r * 1000 + math.floor(x1), side="right")
            parts.append(order[a:b])
        idx = np.concatenate(parts)
        idx = idx[(lat[idx] >= y0) & (lat[idx] <= y1) & (lon[idx] >= x0) & (lon[idx] <= x1) & (owner[idx] < 0)]
        if len(idx):
            owner[idx[shapely.contains_xy(geom, lon[idx], lat[idx])]] = i
    return owner


def _give_every_county_a_cell(
    cells: np.ndarray, owner: np.ndarray, counties: gpd.GeoDataFrame, resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counties without a cell take their seat's cell, or the nearest free (or spare) one."""
    counts = np.bincount(owner[owner >= 0], minlength=len(counties))
    empty = np.flatnonzero(counts == 0)
    if len(empty) == 0:
        return cells, owner
    index = {int(c): i for i, c in enumerate(cells.tolist())}
    new_cells: list[int] = []
    new_owner: list[int] = []
    taken: set[int] = set()  # cells added here (not in ``cells``)
    area = counties.geometry.area.to_numpy()
    province = counties["province_code"].to_numpy(dtype=object)
    for ci in sorted(empty.tolist(), key=lambda i: (area[i], i)):
        seat = int(h3n.latlng_to_cell(float(counties["seat_lat"].iat[ci]), float(counties["seat_lon"].iat[ci]), resolution))
        rep = counties.geometry.iat[ci].representative_point()
        start = [seat, int(h3n.latlng_to_cell(rep.y, rep.x, resolution))]
        placed = False
        for ring in range(0, 4):
            options = start if ring == 0 else [int(c) for s in start for c in h3n.grid_disk(s, ring).tolist()]
            for c in options:
                if c in index:
                    other = int(owner[index[c]])
                    # steal only within the province, so a province gridded alone matches the national grid
                    if other == -1 or (counts[other] >= 2 and province[other] == province[ci]):
                        if other >= 0:
                            counts[other] -= 1
                        owner[index[c]] = ci
                        counts[ci] += 1
                        placed = True
                        break
                elif c not in taken:
                    taken.add(c)
                    new_cells.append(c)
                    new_owner.append(ci)
                    counts[ci] += 1
                    placed = True
                    break
            if placed:
                break
        if not placed:
            log.warning(
                "county %s %s gets no grid cell at H3 resolution %d (too small); its people join the nearest cell",
                counties["code"].iat[ci], counties["name"].iat[ci], resolution,
            )
    if new_cells:
        cells = np.concatenate([cells, np.array(new_cells, dtype=np.uint64)])
        owner = np.concatenate([owner, np.array(new_owner, dtype=np.int64)])
    return cells, owner


def build_grid(
    counties: gpd.GeoDataFrame,
    units: pd.DataFrame,
    settlements: pd.DataFrame,
    seeds: pd.DataFrame,
    *,
    resolution: int,
    min_cell_population: float,
) -> pd.DataFrame:
    """Settled H3 cells of some counties with their modelled population.

    Parameters
    ----------
    counties : geopandas.GeoDataFrame
        The counties to grid (whole census units only): ``code, name, census_unit,
        seat_lat, seat_lon, seat_geonameid`` and polygons.
    units : pandas.DataFrame
        Index ``census_unit``; ``population``, ``urban_population``.
    settlements : pandas.DataFrame
        GeoNames points inside these counties (``geonameid, lat, lon, population,
        county_code``).
    seeds : pandas.DataFrame
        ``lat, lon`` of every point that makes land settled (settlements and
        seats, also beyond these counties, so a province built alone gets the
        same cells as in the national grid).
    resolution : int
        H3 resolution.
    min_cell_population : float
        Cells with fewer people are dropped and their people re-spread (people).

    Returns
    -------
    pandas.DataFrame
        ``cell`` (uint64), ``county_code``, ``population``, ``urban_population``,
        ``lat``, ``lon``; sorted by county code then cell.
    """
    counties = counties.reset_index(drop=True)
    if len(counties) == 0:
        return pd.DataFrame(columns=["cell", "county_code", "population", "urban_population", "lat", "lon"])
    minx, miny, maxx, maxy = counties.total_bounds
    pad = 0.5  # degrees: seeds just across the border still settle land inside
    near = seeds[(seeds["lon"].between(minx - pad, maxx + pad)) & (seeds["lat"].between(miny - pad, maxy + pad))]
    cells = _settled_cells(near["lat"].to_numpy(), near["lon"].to_numpy(), resolution)
    lat, lon = cell_centres(cells)
    owner = _assign_to_counties(lat, lon, counties)
    keep = owner >= 0
    cells, owner, lat, lon = cells[keep], owner[keep], lat[keep], lon[keep]
    n_before = len(cells)
    cells, owner = _give_every_county_a_cell(cells, owner, counties, resolution)
    extra_lat, extra_lon = cell_centres(cells[n_before:])
    lat, lon = np.concatenate([lat, extra_lat]), np.concatenate([lon, extra_lon])
    assigned = owner >= 0
    cells, owner, lat, lon = cells[assigned], owner[assigned], lat[assigned], lon[assigned]
    n = len(cells)
    xy = _metres(lon, lat)

    unit_codes = counties["census_unit"].to_numpy()
    unit_index = {u: i for i, u in enumerate(sorted(set(unit_codes)))}
    county_unit = np.array([unit_index[u] for u in unit_codes], dtype=np.int64)
    cell_unit = county_unit[owner]
    n_units = len(unit_index)
    u_table = units.reindex(sorted(unit_index))
    pop_u = u_table["population"].to_numpy(dtype=float)
    urban_u = np.minimum(u_table["urban_population"].to_numpy(dtype=float), pop_u)
    rural_u = pop_u - urban_u

    # anchor cell of each county: the cell of its seat if it owns it, else its cell nearest the seat
    seat_xy = _metres(counties["seat_lon"].to_numpy(), counties["seat_lat"].to_numpy())
    anchor = np.full(len(counties), -1, dtype=np.int64)
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(len(counties)))
    ends = np.searchsorted(owner[order], np.arange(len(counties)), side="right")
    for ci in range(len(counties)):
        own = order[starts[ci]:ends[ci]]
        if len(own):
            d = np.hypot(*(xy[own] - seat_xy[ci]).T)
            anchor[ci] = own[int(np.argmin(d))]

    # settlements: GeoNames points, plus seats that are not GeoNames points
    code_index = {c: i for i, c in enumerate(counties["code"])}
    s = settlements[settlements["county_code"].isin(code_index)]
    s_county = s["county_code"].map(code_index).to_numpy(dtype=np.int64)
    s_weight = np.maximum(s["population"].to_numpy(dtype=float), MIN_SETTLEMENT_WEIGHT)
    s_xy = _metres(s["lon"].to_numpy(), s["lat"].to_numpy())
    seat_gid = counties["seat_geonameid"].to_numpy()
    is_seat = s["geonameid"].to_numpy() == seat_gid[s_county]
    extra = np.flatnonzero(~pd.Series(seat_gid).isin(s["geonameid"].to_numpy()).to_numpy())
    s_county = np.concatenate([s_county, extra])
    s_weight = np.concatenate([s_weight, np.full(len(extra), MIN_SETTLEMENT_WEIGHT)])
    s_xy = np.vstack([s_xy, seat_xy[extra]]) if len(extra) else s_xy
    is_seat = np.concatenate([is_seat, np.ones(len(extra), dtype=bool)])
    # the seat holds at least SEAT_DOMINANCE × the county's other settlements together
    others = np.bincount(s_county, weights=np.where(is_seat, 0.0, s_weight), minlength=len(counties))
    s_weight = np.where(is_seat, np.maximum(s_weight, SEAT_DOMINANCE * others[s_county]), s_weight)
    s_unit = county_unit[s_county]
    unit_weight = np.bincount(s_unit, weights=s_weight, minlength=n_units)
    s_share = s_weight / unit_weight[s_unit]

    # the kernel grows with the people a settlement receives: a constant peak density
    s_people = urban_u[s_unit] * s_share
    length_m = 1000.0 * np.clip(KERNEL_KM_PER_SQRT_PERSON * np.sqrt(s_people), KERNEL_MIN_KM, KERNEL_MAX_KM)
    tree = cKDTree(xy)
    balls = tree.query_ball_point(s_xy, r=KERNEL_CUTOFF * length_m)
    lens = np.fromiter((len(b) for b in balls), dtype=np.int64, count=len(balls))
    pair_s = np.repeat(np.arange(len(balls)), lens)
    pair_c = np.fromiter((c for b in balls for c in b), dtype=np.int64, count=int(lens.sum()))
    same = cell_unit[pair_c] == s_unit[pair_s]
    pair_s, pair_c = pair_s[same], pair_c[same]
    # a settlement whose kernel reaches no cell of its unit falls back to its county's anchor
    reached = np.zeros(len(s_weight), dtype=bool)
    reached[pair_s] = True
    lonely = np.flatnonzero(~reached)
    fallback = anchor[s_county[lonely]]
    ok = fallback >= 0
    pair_s = np.concatenate([pair_s, lonely[ok]])
    pair_c = np.concatenate([pair_c, fallback[ok]])
    dist = np.hypot(*(xy[pair_c] - s_xy[pair_s]).T)
    k = np.exp(-dist / length_m[pair_s])
    k_sum = np.bincount(pair_s, weights=k, minlength=len(s_weight))
    urban_weight = np.bincount(pair_c, weights=s_share[pair_s] * k / k_sum[pair_s], minlength=n)

    rural_weight = np.ones(n)
    population = np.zeros(n)
    urban = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    protected = np.zeros(n, dtype=bool)
    protected[anchor[anchor >= 0]] = True
    for _ in range(5):
        uw = np.where(alive, urban_weight, 0.0)
        rw = np.where(alive, rural_weight, 0.0)
        uw_sum = np.bincount(cell_unit, weights=uw, minlength=n_units)
        rw_sum = np.bincount(cell_unit, weights=rw, minlength=n_units)
        # a unit whose settlements' kernels all fell on dropped cells spreads urban people like rural
        no_urban = uw_sum[cell_unit] <= 0
        uw = np.where(no_urban, rw, uw)
        uw_sum = np.bincount(cell_unit, weights=uw, minlength=n_units)
        urban = np.where(alive, urban_u[cell_unit] * uw / np.maximum(uw_sum[cell_unit], 1e-300), 0.0)
        rural = np.where(alive, rural_u[cell_unit] * rw / np.maximum(rw_sum[cell_unit], 1e-300), 0.0)
        population = urban + rural
        drop = alive & ~protected & (population < min_cell_population)
        if not drop.any():
            break
        alive &= ~drop
    # a unit left without any cell (only at coarse resolutions) joins the cell nearest its seat
    lost = np.flatnonzero(np.bincount(cell_unit, weights=alive.astype(float), minlength=n_units) == 0)
    for ui in lost.tolist():
        first = int(np.flatnonzero(county_unit == ui)[0])
        nearest = int(np.argmin(np.where(alive, np.hypot(*(xy - seat_xy[first]).T), np.inf)))
        population[nearest] += pop_u[ui]
        urban[nearest] += urban_u[ui]
        log.warning(
            "census unit %s has no grid cell at H3 resolution %d; its %d people join cell %x",
            sorted(unit_index)[ui], resolution, pop_u[ui], cells[nearest],
        )
    out = pd.DataFrame(
        {
            "cell": cells,
            "county_code": counties["code"].to_numpy()[owner],
            "population": population,
            "urban_population": urban,
            "lat": lat,
            "lon": lon,
        }
    )
    # counties come sorted by code, so (owner, cell) order is (county code, cell) order
    order = np.lexsort((cells, owner))
    order = order[(alive & (population > 0))[order]]
    return out.iloc[order].reset_index(drop=True)
