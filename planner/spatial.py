"""Distances and projections shared by every layer (WGS-84 in, kilometres out).

Inside the planner coordinates are WGS-84 longitude/latitude. Metric work uses
a named Albers equal-area projection for China (standard parallels 25°N and
47°N, central meridian 105°E) through pyproj, and exact great-circle distances
(haversine on the WGS-84 mean radius) for the kilometres reported to users.
GCJ-02 (the datum of AMap and Tencent maps) exists only at the edges: files
declared GCJ-02 are converted on read and AMap maps on write, both through
:func:`wgs84_to_gcj02` / :func:`gcj02_to_wgs84` (``fast_geocn.coord``), and so
do BD-09 output columns (:func:`wgs84_to_bd09`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from fast_geocn import coord as _geocn
from pyproj import Transformer
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088

_CHINA_ALBERS_PROJ = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +no_defs"
CHINA_ALBERS = _CHINA_ALBERS_PROJ + " +units=km"
"""The China Albers equal-area CRS (PROJ string), x/y in kilometres: the one definition."""
CHINA_ALBERS_M = _CHINA_ALBERS_PROJ + " +units=m"
"""The same projection with x/y in metres (areas and buffers in ``geodata``)."""


@lru_cache(maxsize=1)
def _albers() -> Transformer:
    return Transformer.from_crs("EPSG:4326", CHINA_ALBERS, always_xy=True)


def project_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """WGS-84 lon/lat → China Albers equal-area x/y in km, as an (n, 2) array."""
    x, y = _albers().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([x, y])


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between paired points (vectorised)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def km_to_minutes(km: np.ndarray | float, speed_kmh: float) -> np.ndarray:
    """Travel minutes for a distance at a constant speed: ``km / speed_kmh * 60``.

    The one conversion used where a straight-line distance stands in for a
    travel time (pairs missing from ``data.travel_costs``, the competitors' pull).
    """
    return np.asarray(km, dtype=float) / float(speed_kmh) * 60.0


def minutes_to_km(minutes: np.ndarray | float, speed_kmh: float) -> np.ndarray:
    """The straight-line km covered in ``minutes`` at ``speed_kmh`` (inverse of :func:`km_to_minutes`)."""
    return np.asarray(minutes, dtype=float) * float(speed_kmh) / 60.0


def pairs_within(
    src_lon: np.ndarray,
    src_lat: np.ndarray,
    dst_lon: np.ndarray,
    dst_lat: np.ndarray,
    radius_km: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (src, dst) pairs with great-circle distance ≤ the src's radius.

    The search runs on k-d trees in the Albers projection with a 2 % margin
    (its scale error inside China stays well below that), one
    ``sparse_distance_matrix`` call per distinct radius (radii come from a few
    tiers and formats), then keeps pairs by their exact haversine distance.
    Returns ``(src_idx, dst_idx, km)`` sorted by src then dst.
    """
    src_lon = np.asarray(src_lon, dtype=float)
    src_lat = np.asarray(src_lat, dtype=float)
    dst_lon = np.asarray(dst_lon, dtype=float)
    dst_lat = np.asarray(dst_lat, dtype=float)
    radius = np.broadcast_to(np.asarray(radius_km, dtype=float), src_lon.shape)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    if src_lon.size == 0 or dst_lon.size == 0:
        return empty
    dst_tree = cKDTree(project_km(dst_lon, dst_lat))
    src_xy = project_km(src_lon, src_lat)
    # many distinct radii (e.g. continuous user input): search by rounded-up buckets
    levels = np.unique(radius)
    if levels.size > 64:
        levels = np.unique(np.ceil(radius * 4) / 4)
    bucket = np.searchsorted(levels, radius)
    parts_s, parts_d = [], []
    for b, r in enumerate(levels):
        members = np.flatnonzero(bucket == b)
        if members.size == 0 or not r > 0:
            continue
        hits = cKDTree(src_xy[members]).sparse_distance_matrix(
            dst_tree, r * 1.02 + 0.05, output_type="ndarray"
        )
        parts_s.append(members[hits["i"]])
        parts_d.append(hits["j"].astype(np.int64))
    if not parts_s:
        return empty
    src = np.concatenate(parts_s)
    dst = np.concatenate(parts_d)
    km = haversine_km(src_lon[src], src_lat[src], dst_lon[dst], dst_lat[dst])
    keep = km <= radius[src]
    src, dst, km = src[keep], dst[keep], km[keep]
    order = np.lexsort((dst, src))
    return src[order], dst[order], km[order]


def nearest_km(
    src_lon: np.ndarray, src_lat: np.ndarray, dst_lon: np.ndarray, dst_lat: np.ndarray, *, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km) and index of the nearest dst point for every src point (NaN/-1 if none)."""
    n = len(src_lon)
    if len(dst_lon) == 0 or n == 0 or (exclude_self and len(dst_lon) < 2):
        return np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    tree = cKDTree(project_km(dst_lon, dst_lat))
    k = 2 if exclude_self else 1
    _, idx = tree.query(project_km(src_lon, src_lat), k=k)
    idx = idx[:, 1] if exclude_self else idx
    km = haversine_km(src_lon, src_lat, np.asarray(dst_lon)[idx], np.asarray(dst_lat)[idx])
    return km, idx.astype(np.int64)


def _convert_points(fn: Callable[[float, float], tuple[float, float]], lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.size == 0:
        return lon.copy(), lat.copy()
    conv = np.frompyfunc(fn, 2, 1)(lon, lat)
    pairs = np.array(np.asarray(conv).ravel().tolist(), dtype=float).reshape(-1, 2)
    return pairs[:, 0].reshape(lon.shape), pairs[:, 1].reshape(lat.shape)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 longitudes / latitudes (degrees) to GCJ-02 (the AMap datum).

    Uses :func:`fast_geocn.coord.wgs84_to_gcj02` (points outside China are
    returned unchanged). The shift is about 100–700 m inside mainland China.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 coordinates in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes in degrees, in the input's shape.
    """
    return _convert_points(_geocn.wgs84_to_gcj02, lon, lat)


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 longitudes / latitudes (degrees) to BD-09 (the Baidu Maps datum).

    Uses :func:`fast_geocn.coord.wgs84_to_bd09` (GCJ-02 plus Baidu's offset);
    parameters and returns as :func:`wgs84_to_gcj02`. For outputs a Baidu map reads
    (``output.extra_crs``); inputs in BD-09 come back through :func:`bd09_to_wgs84`.
    """
    return _convert_points(_geocn.wgs84_to_bd09, lon, lat)


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 longitudes / latitudes (degrees) back to WGS-84.

    Uses :func:`fast_geocn.coord.gcj02_to_wgs84` (the published iterative
    inverse, well below a metre off). Parameters and returns as :func:`wgs84_to_gcj02`.
    """
    return _convert_points(_geocn.gcj02_to_wgs84, lon, lat)


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 (Baidu Maps) longitudes / latitudes (degrees) to WGS-84.

    Uses :func:`fast_geocn.coord.bd09_to_wgs84`. Parameters and returns as :func:`wgs84_to_gcj02`.
    """
    return _convert_points(_geocn.bd09_to_wgs84, lon, lat)
