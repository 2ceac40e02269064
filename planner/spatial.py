"""Distances and projections shared by every layer (WGS-84 in, kilometres out).

Inside the planner coordinates are WGS-84 longitude/latitude. Metric work uses
a named Albers equal-area projection for China (standard parallels 25°N and
47°N, central meridian 105°E) through pyproj, and exact great-circle distances
(haversine on the WGS-84 mean radius) for the kilometres reported to users.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088
CHINA_ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=km"


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


def pairs_within(
    src_lon: np.ndarray,
    src_lat: np.ndarray,
    dst_lon: np.ndarray,
    dst_lat: np.ndarray,
    radius_km: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (src, dst) pairs with great-circle distance ≤ the src's radius.

    The search runs on a k-d tree in the Albers projection with a 2 % margin
    (its scale error inside China stays well below that), then keeps pairs by
    their exact haversine distance. Returns ``(src_idx, dst_idx, km)`` sorted by
    src then dst.
    """
    src_lon = np.asarray(src_lon, dtype=float)
    radius = np.broadcast_to(np.asarray(radius_km, dtype=float), src_lon.shape)
    if src_lon.size == 0 or len(dst_lon) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    tree = cKDTree(project_km(dst_lon, dst_lat))
    hits = tree.query_ball_point(project_km(src_lon, src_lat), r=radius * 1.02 + 0.05)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    src = np.repeat(np.arange(len(hits), dtype=np.int64), counts)
    dst = np.fromiter((j for h in hits for j in h), dtype=np.int64, count=int(counts.sum()))
    km = haversine_km(src_lon[src], np.asarray(src_lat)[src], np.asarray(dst_lon)[dst], np.asarray(dst_lat)[dst])
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
