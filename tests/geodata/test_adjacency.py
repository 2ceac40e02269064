"""The county graph: shared borders, water links of at most 30 km, never across provinces."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from planner.geodata.adjacency import county_adjacency, county_centroids_km
from planner.spatial import CHINA_ALBERS


def counties(boxes_km: list[tuple[float, float, float, float]], provinces: list[str]) -> gpd.GeoDataFrame:
    """Squares given in China Albers km (x0, y0, x1, y1) near (3000, 2500) km, back in WGS-84."""
    geoms = [box(3000 + a, 2500 + b, 3000 + c, 2500 + d) for a, b, c, d in boxes_km]
    g = gpd.GeoDataFrame({"code": [f"3302{i:02d}" for i in range(len(geoms))], "province_code": provinces},
                         geometry=geoms, crs=CHINA_ALBERS)
    return g.to_crs("EPSG:4326")


def test_borders_water_links_and_provinces() -> None:
    # 0 | 1 share a border; 2 is an island 20 km off 1 (linked); 3 an island 40 km off 2 (too far);
    # 4 touches 0 but lies in another province (no edge)
    c = counties(
        [(0, 0, 10, 10), (10, 0, 20, 10), (40, 0, 50, 10), (90, 0, 100, 10), (-10, 0, 0, 10)],
        ["330000", "330000", "330000", "330000", "340000"],
    )
    adj = county_adjacency(c)
    pairs = {(int(a), int(b)): k for a, b, k in zip(adj["a"], adj["b"], adj["kind"], strict=True)}
    assert pairs == {(0, 1): "border", (1, 2): "water"}
    gap = adj.loc[adj["kind"] == "water", "gap_km"].iloc[0]
    assert abs(gap - 20.0) < 0.5


def test_centroids_in_km() -> None:
    c = counties([(0, 0, 10, 10), (10, 0, 20, 10)], ["330000", "330000"])
    xy = county_centroids_km(c)
    assert abs((xy[1, 0] - xy[0, 0]) - 10.0) < 0.1 and abs(xy[1, 1] - xy[0, 1]) < 0.1
